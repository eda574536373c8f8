//! Typed JWT claims with strict JSON types: a claim of the wrong type is an error, never a
//! silently skipped check (CONFORMANCE 7).

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

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

/// Claims other providers put scopes and client ids in (`scp`, `permissions`, `roles`, `azp`,
/// `cid`, `appid`), and `auth_time` (RFC 9068 §2.2.1: the token results from a user's
/// authentication): kept while the token is parsed, read when a
/// [`ClaimsProfile`](crate::ClaimsProfile) says so, and still reported by
/// [`TokenClaims::extra`].
pub(crate) const PROFILE_CLAIMS: [&str; 7] = [
    "scp",
    "permissions",
    "roles",
    "azp",
    "cid",
    "appid",
    "auth_time",
];

/// The values of [`PROFILE_CLAIMS`] as sent, in that order.
pub(crate) type ProfileValues = [Option<Value>; 7];

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
    raw: RawClaims,
    iss: Option<String>,
    sub: Option<String>,
    aud: Vec<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
    scope: Option<String>,
    scopes: Arc<[String]>,
    client_id: Option<String>,
    cnf_jkt: Option<String>,
    human_root: Option<bool>,
    idp_iss: Option<String>,
    idp_sub: Option<String>,
    agent: AgentMetadata,
    actors: Arc<[Actor]>,
    may_act: Option<MayAct>,
    profile: Box<ProfileValues>,
}

/// All claims as sent: a map already built, or the verified payload, parsed into a map only
/// when someone asks for a claim this library does not type.
#[derive(Clone)]
enum RawClaims {
    Map(Map<String, Value>),
    Json {
        payload: Vec<u8>,
        map: OnceLock<Map<String, Value>>,
    },
}

impl RawClaims {
    fn map(&self) -> &Map<String, Value> {
        match self {
            RawClaims::Map(map) => map,
            // The payload passed the strict parse when the token was verified.
            RawClaims::Json { payload, map } => {
                map.get_or_init(|| crate::json::parse_object(payload).unwrap_or_default())
            }
        }
    }
}

impl PartialEq for RawClaims {
    fn eq(&self, other: &Self) -> bool {
        self.map() == other.map()
    }
}

impl std::fmt::Debug for RawClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.map().fmt(f)
    }
}

/// The registered claims' values, by their index in [`REGISTERED_CLAIMS`]: borrowed from a
/// map, or owned (and moved into the typed fields) when parsed from a payload.
type Registered<'a> = Vec<Option<Cow<'a, Value>>>;

/// The index of `name` in [`REGISTERED_CLAIMS`] (a `match`: one comparison tree, run for
/// every member of every verified payload).
fn registered_index(name: &str) -> Option<usize> {
    match name {
        "iss" => Some(0),
        "sub" => Some(1),
        "aud" => Some(2),
        "exp" => Some(3),
        "nbf" => Some(4),
        "iat" => Some(5),
        "jti" => Some(6),
        "scope" => Some(7),
        "client_id" => Some(8),
        "act" => Some(9),
        "may_act" => Some(10),
        "cnf" => Some(11),
        "human_root" => Some(12),
        "idp_iss" => Some(13),
        "idp_sub" => Some(14),
        "agent_type" => Some(15),
        "agent_model" => Some(16),
        "agent_version" => Some(17),
        "agent_provider" => Some(18),
        "agent_instance_id" => Some(19),
        "scp" => Some(20),
        "permissions" => Some(21),
        "roles" => Some(22),
        "azp" => Some(23),
        "cid" => Some(24),
        "appid" => Some(25),
        "auth_time" => Some(26),
        _ => None,
    }
}

/// How many claims [`registered_index`] captures: [`REGISTERED_CLAIMS`], then
/// [`PROFILE_CLAIMS`].
const CAPTURED: usize = REGISTERED_CLAIMS.len() + PROFILE_CLAIMS.len();

impl TokenClaims {
    /// Types the registered claims of a claims object; `max_act_depth` caps `act` nesting
    /// before any recursion (CONFORMANCE 9).
    pub fn from_json(raw: Map<String, Value>, max_act_depth: usize) -> Result<Self, TokenError> {
        let registered = REGISTERED_CLAIMS
            .iter()
            .chain(&PROFILE_CLAIMS)
            .map(|name| raw.get(*name).map(Cow::Borrowed))
            .collect();
        let claims = Self::typed(registered, max_act_depth)?;
        Ok(TokenClaims {
            raw: RawClaims::Map(raw),
            ..claims
        })
    }

    /// Types the claims of a verified JWS payload in one pass: the registered claims are
    /// read, every other member is checked (strict JSON, no duplicate names at any depth) but
    /// not built; [`raw`](Self::raw) parses them only when asked.
    pub(crate) fn from_payload(payload: Vec<u8>, max_act_depth: usize) -> Result<Self, TokenError> {
        let values = crate::json::parse_registered(&payload, CAPTURED, registered_index)
            .map_err(|_| TokenError::Malformed("payload is not a JSON object"))?;
        let registered = values.into_iter().map(|v| v.map(Cow::Owned)).collect();
        let claims = Self::typed(registered, max_act_depth)?;
        Ok(TokenClaims {
            raw: RawClaims::Json {
                payload,
                map: OnceLock::new(),
            },
            ..claims
        })
    }

    fn typed(mut r: Registered<'_>, max_act_depth: usize) -> Result<Self, TokenError> {
        let profile: ProfileValues = std::array::from_fn(|i| {
            r.get_mut(REGISTERED_CLAIMS.len() + i)
                .and_then(Option::take)
                .map(Cow::into_owned)
        });
        let mut take = |name: &str| registered_index(name).and_then(|i| r[i].take());
        let cnf_jkt = confirmation_jkt(object_claim(take("cnf").as_deref(), "cnf")?)?;
        let human_root = match take("human_root").as_deref() {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err(invalid("human_root", "must be a boolean")),
        };
        let mut string = |name: &'static str| string_claim(take(name), name);
        let agent = AgentMetadata {
            agent_type: string("agent_type")?,
            agent_model: string("agent_model")?,
            agent_version: string("agent_version")?,
            agent_provider: string("agent_provider")?,
            agent_instance_id: string("agent_instance_id")?,
        };
        let scope = string("scope")?;
        let (iss, sub, jti) = (string("iss")?, string("sub")?, string("jti")?);
        let (client_id, idp_iss, idp_sub) =
            (string("client_id")?, string("idp_iss")?, string("idp_sub")?);
        let scopes = scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(TokenClaims {
            raw: RawClaims::Map(Map::new()),
            iss,
            sub,
            aud: audience_claim(take("aud").as_deref())?,
            exp: numeric_date(take("exp").as_deref(), "exp")?,
            nbf: numeric_date(take("nbf").as_deref(), "nbf")?,
            iat: numeric_date(take("iat").as_deref(), "iat")?,
            jti,
            scope,
            scopes,
            client_id,
            cnf_jkt,
            human_root,
            idp_iss,
            idp_sub,
            agent,
            actors: actor_chain(take("act"), max_act_depth)?.into(),
            may_act: object_claim(take("may_act").as_deref(), "may_act")?
                .map(|m| MayAct { raw: m.clone() }),
            profile: Box::new(profile),
        })
    }

    /// The value of a [`PROFILE_CLAIMS`] member as sent.
    pub(crate) fn profile_claim(&self, index: usize) -> Option<&Value> {
        self.profile.get(index).and_then(Option::as_ref)
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
        self.scopes.iter().map(String::as_str)
    }

    /// The scopes, split once when the token was verified (shared with the identity).
    pub(crate) fn scope_list(&self) -> &Arc<[String]> {
        &self.scopes
    }

    /// The actors, shared with the identity's delegation chain.
    pub(crate) fn actor_list(&self) -> &Arc<[Actor]> {
        &self.actors
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
        self.raw.map().get(name)
    }
    /// All claims as sent.
    pub fn raw(&self) -> &Map<String, Value> {
        self.raw.map()
    }
    /// Claims this library does not interpret.
    pub fn extra(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.raw
            .map()
            .iter()
            .filter(|(k, _)| !REGISTERED_CLAIMS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v))
    }
}

fn invalid(claim: &'static str, reason: &'static str) -> TokenError {
    TokenError::InvalidClaim { claim, reason }
}

fn string_claim(
    value: Option<Cow<'_, Value>>,
    name: &'static str,
) -> Result<Option<String>, TokenError> {
    match value {
        None => Ok(None),
        Some(Cow::Owned(Value::String(s))) => Ok(Some(s)),
        Some(Cow::Borrowed(Value::String(s))) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(name, "must be a string")),
    }
}

fn object_claim<'a>(
    value: Option<&'a Value>,
    name: &'static str,
) -> Result<Option<&'a Map<String, Value>>, TokenError> {
    match value {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(invalid(name, "must be a JSON object")),
    }
}

/// RFC 7519 §2 NumericDate: a JSON number of seconds, possibly fractional (floored here).
pub(crate) fn numeric_date(
    value: Option<&Value>,
    name: &'static str,
) -> Result<Option<i64>, TokenError> {
    match value {
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

fn audience_claim(value: Option<&Value>) -> Result<Vec<String>, TokenError> {
    match value {
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
/// An owned claim (parsed from a payload) is taken apart without copying its members.
fn actor_chain(act: Option<Cow<'_, Value>>, max_depth: usize) -> Result<Vec<Actor>, TokenError> {
    let mut actors = Vec::new();
    let mut next = act;
    while let Some(value) = next {
        if actors.len() >= max_depth {
            return Err(TokenError::ActTooDeep { limit: max_depth });
        }
        let members = match value {
            Cow::Owned(Value::Object(mut obj)) => {
                next = obj.remove("act").map(Cow::Owned);
                obj
            }
            Cow::Borrowed(Value::Object(obj)) => {
                next = obj.get("act").map(Cow::Borrowed);
                obj.iter()
                    .filter(|(k, _)| k.as_str() != "act")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }
            _ => return Err(invalid("act", "each act must be a JSON object")),
        };
        let sub = match members.get("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
            _ => {
                return Err(invalid(
                    "act",
                    "each act must name its actor in a non-empty string sub",
                ));
            }
        };
        actors.push(Actor::new(sub, members));
    }
    Ok(actors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_index_is_the_position_in_registered_claims() {
        for (i, name) in REGISTERED_CLAIMS.iter().enumerate() {
            assert_eq!(registered_index(name), Some(i), "{name}");
        }
        assert_eq!(registered_index("team"), None);
    }
}
