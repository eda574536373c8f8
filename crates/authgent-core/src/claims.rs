//! Typed JWT claims with strict JSON types: a claim of the wrong type is an error, never a
//! silently skipped check (CONFORMANCE 7).

use serde_json::{Map, Value};

use crate::chain::Actor;
use crate::error::TokenError;

/// Claims whose meaning this library knows; everything else is in [`TokenClaims::extra`].
pub const REGISTERED_CLAIMS: [&str; 20] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "scope",
    "client_id",
    "act",
    "may_act",
    "cnf",
    "human_root",
    "idp_iss",
    "idp_sub",
    "agent_type",
    "agent_model",
    "agent_version",
    "agent_provider",
    "agent_instance_id",
];

/// OIDC-A agent claims (`agent_type`, `agent_model`, …) when the issuer sets them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentMetadata {
    /// `agent_type`, e.g. `autonomous`.
    pub agent_type: Option<String>,
    /// `agent_model`, e.g. the LLM behind the agent.
    pub agent_model: Option<String>,
    /// `agent_version`.
    pub agent_version: Option<String>,
    /// `agent_provider`.
    pub agent_provider: Option<String>,
    /// `agent_instance_id`.
    pub agent_instance_id: Option<String>,
}

/// The `may_act` claim (RFC 8693 §4.4): who may act for the subject. Exposed to callers;
/// enforcing it is the issuer's job at exchange time.
#[derive(Clone, Debug, PartialEq)]
pub struct MayAct {
    raw: Map<String, Value>,
}

impl MayAct {
    /// The permitted actor subjects: `sub` as a string or (authgent's form) an array.
    pub fn subjects(&self) -> Vec<&str> {
        match self.raw.get("sub") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether `subject` is named in `sub`.
    pub fn permits(&self, subject: &str) -> bool {
        self.subjects().contains(&subject)
    }

    /// The claim as sent.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }
}

/// The claims of a verified token: registered ones typed, all of them kept.
///
/// ```
/// use authgent_core::TokenClaims;
/// let json = serde_json::json!({
///     "iss": "https://as.example", "sub": "user:alice", "aud": ["a", "b"], "exp": 2000000000,
///     "scope": "read write", "act": {"sub": "client:tool", "act": {"sub": "client:worker"}},
///     "team": "blue"
/// });
/// let claims = TokenClaims::from_json(json.as_object().unwrap().clone(), 32)?;
/// assert_eq!(claims.audience(), ["a", "b"]);
/// assert_eq!(claims.actors()[0].subject(), "client:tool"); // newest first
/// assert_eq!(claims.extra().count(), 1);
/// let bad = serde_json::json!({"exp": "2000000000"});
/// assert!(TokenClaims::from_json(bad.as_object().unwrap().clone(), 32).is_err());
/// # Ok::<(), authgent_core::TokenError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TokenClaims {
    raw: Map<String, Value>,
    iss: Option<String>,
    sub: Option<String>,
    aud: Vec<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    cnf_jkt: Option<String>,
    human_root: Option<bool>,
    idp_iss: Option<String>,
    idp_sub: Option<String>,
    agent: AgentMetadata,
    actors: Vec<Actor>,
    may_act: Option<MayAct>,
}

impl TokenClaims {
    /// Types the registered claims of a claims object; `max_act_depth` caps `act` nesting
    /// before any recursion (CONFORMANCE 9).
    pub fn from_json(raw: Map<String, Value>, max_act_depth: usize) -> Result<Self, TokenError> {
        let cnf_jkt = confirmation_jkt(object_claim(&raw, "cnf")?)?;
        let human_root = match raw.get("human_root") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(invalid("human_root", "must be a boolean")),
        };
        let agent = AgentMetadata {
            agent_type: string_claim(&raw, "agent_type")?,
            agent_model: string_claim(&raw, "agent_model")?,
            agent_version: string_claim(&raw, "agent_version")?,
            agent_provider: string_claim(&raw, "agent_provider")?,
            agent_instance_id: string_claim(&raw, "agent_instance_id")?,
        };
        Ok(TokenClaims {
            iss: string_claim(&raw, "iss")?,
            sub: string_claim(&raw, "sub")?,
            aud: audience_claim(&raw)?,
            exp: numeric_date(&raw, "exp")?,
            nbf: numeric_date(&raw, "nbf")?,
            iat: numeric_date(&raw, "iat")?,
            jti: string_claim(&raw, "jti")?,
            scope: string_claim(&raw, "scope")?,
            client_id: string_claim(&raw, "client_id")?,
            cnf_jkt,
            human_root,
            idp_iss: string_claim(&raw, "idp_iss")?,
            idp_sub: string_claim(&raw, "idp_sub")?,
            agent,
            actors: actor_chain(&raw, max_act_depth)?,
            may_act: object_claim(&raw, "may_act")?.map(|m| MayAct { raw: m.clone() }),
            raw,
        })
    }

    /// `iss`.
    pub fn issuer(&self) -> Option<&str> {
        self.iss.as_deref()
    }
    /// `sub`.
    pub fn subject(&self) -> Option<&str> {
        self.sub.as_deref()
    }
    /// `aud`, one or many (empty when absent).
    pub fn audience(&self) -> &[String] {
        &self.aud
    }
    /// `exp` in seconds since the epoch.
    pub fn expires_at(&self) -> Option<i64> {
        self.exp
    }
    /// `nbf` in seconds since the epoch.
    pub fn not_before(&self) -> Option<i64> {
        self.nbf
    }
    /// `iat` in seconds since the epoch.
    pub fn issued_at(&self) -> Option<i64> {
        self.iat
    }
    /// `jti`.
    pub fn jwt_id(&self) -> Option<&str> {
        self.jti.as_deref()
    }
    /// `scope` as sent (space-delimited, RFC 6749 §3.3).
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }
    /// The scopes, split on spaces.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }
    /// `client_id`.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }
    /// `cnf.jkt`: the thumbprint of the DPoP key this token is bound to (RFC 9449 §6.1).
    pub fn confirmation_jkt(&self) -> Option<&str> {
        self.cnf_jkt.as_deref()
    }
    /// The `human_root` claim authgent-server sets on id_token-rooted chains.
    pub fn human_root(&self) -> Option<bool> {
        self.human_root
    }
    /// `idp_iss`: the external identity provider of a human-rooted chain.
    pub fn idp_issuer(&self) -> Option<&str> {
        self.idp_iss.as_deref()
    }
    /// `idp_sub`: the human's subject at that identity provider.
    pub fn idp_subject(&self) -> Option<&str> {
        self.idp_sub.as_deref()
    }
    /// OIDC-A agent claims.
    pub fn agent(&self) -> &AgentMetadata {
        &self.agent
    }
    /// The `act` chain, newest (current) actor first (RFC 8693 §4.1).
    pub fn actors(&self) -> &[Actor] {
        &self.actors
    }
    /// `may_act`, if present.
    pub fn may_act(&self) -> Option<&MayAct> {
        self.may_act.as_ref()
    }
    /// Any claim by name, as sent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.raw.get(name)
    }
    /// All claims as sent.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }
    /// Claims this library does not interpret.
    pub fn extra(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.raw
            .iter()
            .filter(|(k, _)| !REGISTERED_CLAIMS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v))
    }
}

fn invalid(claim: &'static str, reason: &'static str) -> TokenError {
    TokenError::InvalidClaim { claim, reason }
}

fn string_claim(
    raw: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, TokenError> {
    match raw.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(name, "must be a string")),
    }
}

fn object_claim<'a>(
    raw: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a Map<String, Value>>, TokenError> {
    match raw.get(name) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(invalid(name, "must be a JSON object")),
    }
}

/// RFC 7519 §2 NumericDate: a JSON number of seconds, possibly fractional (floored here).
pub(crate) fn numeric_date(
    raw: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, TokenError> {
    match raw.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                // Before 1970 is no time a token of this century was issued or expires.
                if i < 0 {
                    return Err(invalid(name, "must be a NumericDate within range"));
                }
                Ok(Some(i))
            } else {
                match n.as_f64() {
                    // f64 → i64 `as` saturates; the range check keeps the value meaningful.
                    Some(f) if f.is_finite() && (0.0..1e15).contains(&f) => {
                        Ok(Some(f.floor() as i64))
                    }
                    _ => Err(invalid(name, "must be a NumericDate within range")),
                }
            }
        }
        Some(_) => Err(invalid(name, "must be a NumericDate (a JSON number)")),
    }
}

/// `cnf` (RFC 7800): only `jkt` (RFC 9449 §6.1) can be checked here. A `cnf` naming any
/// other method (`x5t#S256` of RFC 8705, `jwk`, `jku`, …), or none, is refused: treating such
/// a token as unbound would accept it from whoever holds it (CONFORMANCE 17a).
fn confirmation_jkt(cnf: Option<&Map<String, Value>>) -> Result<Option<String>, TokenError> {
    let Some(cnf) = cnf else { return Ok(None) };
    if cnf.keys().any(|k| k != "jkt") {
        return Err(TokenError::UnsupportedConfirmation);
    }
    match cnf.get("jkt") {
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(invalid("cnf", "cnf.jkt must be a non-empty string")),
        None => Err(TokenError::UnsupportedConfirmation),
    }
}

fn audience_claim(raw: &Map<String, Value>) -> Result<Vec<String>, TokenError> {
    match raw.get("aud") {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(invalid("aud", "must be a string or an array of strings")),
        Some(_) => Err(invalid("aud", "must be a string or an array of strings")),
    }
}

/// Walks nested `act` iteratively, outermost (newest) first, refusing more than `max_depth`.
fn actor_chain(raw: &Map<String, Value>, max_depth: usize) -> Result<Vec<Actor>, TokenError> {
    let mut actors = Vec::new();
    let mut next = raw.get("act");
    while let Some(value) = next {
        if actors.len() >= max_depth {
            return Err(TokenError::ActTooDeep { limit: max_depth });
        }
        let Value::Object(obj) = value else {
            return Err(invalid("act", "each act must be a JSON object"));
        };
        let sub = match obj.get("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub,
            _ => {
                return Err(invalid(
                    "act",
                    "each act must name its actor in a non-empty string sub",
                ));
            }
        };
        let claims = obj
            .iter()
            .filter(|(k, _)| k.as_str() != "act")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        actors.push(Actor::new(sub.clone(), claims));
        next = obj.get("act");
    }
    Ok(actors)
}
