//! `TokenValidator`: verifies an access token over a key set and returns an `AgentIdentity`.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::algorithm::Algorithm;
use crate::claims::TokenClaims;
use crate::error::{ConfigError, TokenError};
use crate::identity::AgentIdentity;
use crate::jws::{self, CompactJws};
use crate::key::{KeyResolver, VerificationKey};
use crate::profile::ClaimsProfile;
use crate::time::{secs, unix_seconds};

/// Default clock leeway for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// Default cap on a token's size, checked before any parsing.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Default cap on `act` nesting.
pub const DEFAULT_MAX_ACT_DEPTH: usize = 32;

/// Which JOSE `typ` values an access token may carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypPolicy {
    /// `at+jwt` (RFC 9068), `application/at+jwt`, `JWT` (what authgent-server sends) or no
    /// `typ`. Every other explicit type — `dpop+jwt`, `txntoken+jwt`, … — is refused.
    #[default]
    Compatible,
    /// Only `at+jwt` / `application/at+jwt` (RFC 9068 §4 strictly).
    Strict,
}

impl TypPolicy {
    pub(crate) fn accepts(self, typ: Option<&str>) -> bool {
        match (self, typ) {
            (_, Some(t)) if jws::typ_is(t, "at+jwt") => true,
            (TypPolicy::Compatible, None) => true,
            (TypPolicy::Compatible, Some(t)) => jws::typ_is(t, "jwt"),
            (TypPolicy::Strict, _) => false,
        }
    }
}

/// Which `aud` a token must carry. There is no default: a resource names itself, or opts out
/// visibly with [`TokenValidatorBuilder::any_audience`] (RFC 9068 §4, CONFORMANCE 6).
#[derive(Clone, Debug, PartialEq, Eq)]
enum AudiencePolicy {
    /// Not configured yet: `build()` refuses.
    Unset,
    /// `aud` must contain one of these.
    OneOf(Vec<String>),
    /// `aud` is not checked (explicit opt-out).
    Any,
}

/// A token that passed structural checks but whose signature is not verified yet.
///
/// Split out so that an async key source can look up [`kid`](Self::kid) between parsing and
/// verifying without parsing twice.
pub struct UntrustedToken<'t> {
    jws: CompactJws<'t>,
    alg: Algorithm,
}

/// Shows `alg` and `kid` only: the token's bytes are a credential (CONFORMANCE 31).
impl std::fmt::Debug for UntrustedToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UntrustedToken")
            .field("alg", &self.alg)
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

impl UntrustedToken<'_> {
    /// The header `kid` (present and short, already checked).
    pub fn kid(&self) -> &str {
        self.jws
            .header
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The header `alg` (already in the allow-list).
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The payload's `iss`, **unverified**: only for routing to a pre-configured issuer.
    pub fn unverified_issuer(&self) -> Option<String> {
        crate::json::parse_object(&self.jws.payload)
            .ok()?
            .get("iss")?
            .as_str()
            .map(str::to_owned)
    }
}

/// Verifies access tokens: structure, algorithm, signature, then claims.
///
/// Built once at start-up; cheap to share (`Arc`) across requests.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use authgent_core::{Algorithm, KeySet, SigningKey, TokenValidator};
///
/// let key = SigningKey::generate(Algorithm::Es256)?.with_kid("k1");
/// let keys = KeySet::from_keys([key.verification_key()?]);
/// let validator = TokenValidator::builder("https://as.example")
///     .audience("https://tools.example")
///     .build()?;
///
/// let claims = serde_json::json!({
///     "iss": "https://as.example", "sub": "client:agent", "aud": "https://tools.example",
///     "exp": 1_700_000_600, "iat": 1_700_000_000, "scope": "read"
/// });
/// let token = key.sign(&Default::default(), claims.as_object().unwrap())?;
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_100);
/// let identity = validator.verify(&token, &keys, now)?;
/// assert_eq!(identity.subject(), "client:agent");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TokenValidator {
    issuer: String,
    audiences: AudiencePolicy,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    typ: TypPolicy,
    max_token_bytes: usize,
    max_act_depth: usize,
    profile: ClaimsProfile,
}

impl TokenValidator {
    /// Starts a validator for tokens issued by `issuer` (compared exactly, code point by code
    /// point: no trailing-slash or case normalisation).
    pub fn builder(issuer: impl Into<String>) -> TokenValidatorBuilder {
        TokenValidatorBuilder {
            inner: TokenValidator {
                issuer: issuer.into(),
                audiences: AudiencePolicy::Unset,
                algorithms: Algorithm::ALL.to_vec(),
                leeway: DEFAULT_LEEWAY,
                typ: TypPolicy::default(),
                max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
                max_act_depth: DEFAULT_MAX_ACT_DEPTH,
                profile: ClaimsProfile::default(),
            },
        }
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The configured audiences (empty only after [`TokenValidatorBuilder::any_audience`]).
    pub fn audiences(&self) -> &[String] {
        match &self.audiences {
            AudiencePolicy::OneOf(a) => a,
            AudiencePolicy::Unset | AudiencePolicy::Any => &[],
        }
    }

    /// Whether `aud` goes unchecked (the builder's explicit [`any_audience`] opt-out).
    ///
    /// [`any_audience`]: TokenValidatorBuilder::any_audience
    pub fn accepts_any_audience(&self) -> bool {
        self.audiences == AudiencePolicy::Any
    }

    /// The allowed algorithms.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The claims profile identities are read with.
    pub fn claims_profile(&self) -> &ClaimsProfile {
        &self.profile
    }

    /// The clock leeway.
    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    /// Structural checks without a key: size cap, three base64url parts, header JSON, `alg`
    /// allowed, no `crit`, `kid` present, `typ` acceptable.
    pub fn parse<'t>(&self, token: &'t str) -> Result<UntrustedToken<'t>, TokenError> {
        let jws = CompactJws::parse(token, self.max_token_bytes)?;
        let alg = jws.algorithm(&self.algorithms)?;
        jws.check_crit()?;
        if !self.typ.accepts(jws.typ()?) {
            return Err(TokenError::UnacceptableType);
        }
        jws.kid()?;
        Ok(UntrustedToken { jws, alg })
    }

    /// Verifies a parsed token with the key its `kid` resolved to, then its claims.
    pub fn verify_with_key(
        &self,
        token: &UntrustedToken<'_>,
        key: &VerificationKey,
        now: SystemTime,
    ) -> Result<AgentIdentity, TokenError> {
        let claims = verify_signature_and_claims(&token.jws, token.alg, key, self.max_act_depth)?;
        self.accept(claims, now)
    }

    /// The identity of an **opaque** access token from its issuer's RFC 7662 introspection
    /// response (the JSON object, `active` included): the same checks a JWT's claims pass —
    /// `active` must be `true`, `exp` present and not passed, `iss` this validator's issuer,
    /// `sub` present (or, for a client's own token, `client_id`: RFC 9068 §2.2), `aud` one of
    /// the configured audiences — and the same claims profile.
    /// Only for a response fetched from the issuer's own introspection endpoint over an
    /// authenticated channel: nothing here is signed.
    ///
    /// ```
    /// use authgent_core::TokenValidator;
    /// let v = TokenValidator::builder("https://as.example").audience("https://api.example").build()?;
    /// let response = serde_json::json!({"active": true, "iss": "https://as.example",
    ///     "sub": "agent-a", "client_id": "agent-a", "aud": "https://api.example",
    ///     "scope": "orders:read", "exp": 2000000000, "token_type": "Bearer"});
    /// let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_900_000_000);
    /// let id = v.verify_introspected(response.as_object().unwrap(), now)?;
    /// assert_eq!(id.scopes(), ["orders:read"]);
    /// let inactive = serde_json::json!({"active": false});
    /// assert!(v.verify_introspected(inactive.as_object().unwrap(), now).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_introspected(
        &self,
        response: &serde_json::Map<String, Value>,
        now: SystemTime,
    ) -> Result<AgentIdentity, TokenError> {
        match response.get("active") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Err(TokenError::Revoked),
            _ => {
                return Err(TokenError::InvalidClaim {
                    claim: "active",
                    reason: "must be a boolean",
                });
            }
        }
        let mut claims = response.clone();
        claims.remove("active");
        // RFC 7662 makes `sub` optional; a client's own token (client credentials) names only
        // its `client_id`, which RFC 9068 §2.2 makes the subject of such a token.
        if !claims.contains_key("sub")
            && let Some(client) = claims.get("client_id").cloned()
        {
            claims.insert("sub".into(), client);
        }
        let claims = TokenClaims::from_json(claims, self.max_act_depth)?;
        self.accept(claims, now)
    }

    /// The checks every token's claims pass, signed or introspected.
    fn accept(&self, claims: TokenClaims, now: SystemTime) -> Result<AgentIdentity, TokenError> {
        check_time(&claims, now, self.leeway, true)?;
        if claims.issuer() != Some(self.issuer.as_str()) {
            return Err(match claims.issuer() {
                None => TokenError::MissingClaim("iss"),
                Some(_) => TokenError::IssuerMismatch,
            });
        }
        match claims.subject() {
            None => return Err(TokenError::MissingClaim("sub")),
            Some("") => {
                return Err(TokenError::InvalidClaim {
                    claim: "sub",
                    reason: "must not be empty",
                });
            }
            Some(_) => {}
        }
        if let AudiencePolicy::OneOf(audiences) = &self.audiences
            && !claims.audience().iter().any(|a| audiences.contains(a))
        {
            return Err(TokenError::AudienceMismatch);
        }
        self.profile.identity(claims)
    }

    /// Parses, resolves the key by `kid` (no fallback key), and verifies.
    pub fn verify(
        &self,
        token: &str,
        keys: &impl KeyResolver,
        now: SystemTime,
    ) -> Result<AgentIdentity, TokenError> {
        let untrusted = self.parse(token)?;
        let key = keys
            .resolve(untrusted.kid())
            .ok_or(TokenError::UnknownKeyId)?;
        self.verify_with_key(&untrusted, key, now)
    }
}

/// The `iss` of a token **without verifying anything** (size-capped, strict parsing), for
/// routing a request to one of several issuers configured in advance — never for trust.
///
/// ```
/// # use authgent_core::{Algorithm, SigningKey};
/// # let key = SigningKey::generate(Algorithm::Es256)?;
/// # let claims = serde_json::json!({"iss": "https://as.example"});
/// let token = key.sign(&Default::default(), claims.as_object().unwrap())?;
/// assert_eq!(authgent_core::validator::unverified_issuer(&token).as_deref(), Some("https://as.example"));
/// # Ok::<(), authgent_core::KeyError>(())
/// ```
pub fn unverified_issuer(token: &str) -> Option<String> {
    let jws = CompactJws::parse(token, DEFAULT_MAX_TOKEN_BYTES).ok()?;
    crate::json::parse_object(&jws.payload)
        .ok()?
        .get("iss")?
        .as_str()
        .map(str::to_owned)
}

/// Signature first, then the payload is parsed as strict JSON and typed.
pub(crate) fn verify_signature_and_claims(
    jws: &CompactJws<'_>,
    alg: Algorithm,
    key: &VerificationKey,
    max_act_depth: usize,
) -> Result<TokenClaims, TokenError> {
    if !key.supports(alg) {
        return Err(TokenError::KeyAlgorithmMismatch);
    }
    key.verify(alg, jws.signing_input.as_bytes(), &jws.signature)?;
    TokenClaims::from_payload(jws.payload.clone(), max_act_depth)
}

/// `exp` (required when `require_exp`), `nbf`, `iat`, each with leeway (RFC 7519 §4.1.4–6).
pub(crate) fn check_time(
    claims: &TokenClaims,
    now: SystemTime,
    leeway: Duration,
    require_exp: bool,
) -> Result<(), TokenError> {
    let now = unix_seconds(now);
    let leeway = secs(leeway);
    match claims.expires_at() {
        Some(exp) if now >= exp.saturating_add(leeway) => return Err(TokenError::Expired),
        None if require_exp => return Err(TokenError::MissingClaim("exp")),
        _ => {}
    }
    if claims
        .not_before()
        .is_some_and(|nbf| now < nbf.saturating_sub(leeway))
    {
        return Err(TokenError::NotYetValid);
    }
    if claims
        .issued_at()
        .is_some_and(|iat| iat > now.saturating_add(leeway))
    {
        return Err(TokenError::IssuedInFuture);
    }
    Ok(())
}

/// Builds a [`TokenValidator`]; settings are checked in [`build`](Self::build).
#[derive(Debug)]
#[must_use]
pub struct TokenValidatorBuilder {
    inner: TokenValidator,
}

impl TokenValidatorBuilder {
    /// Require `aud` to contain `audience`, this resource's identifier (may be called several
    /// times: any one matches). Required, unless [`any_audience`](Self::any_audience).
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.audiences([audience])
    }

    /// Require `aud` to contain one of `audiences`.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut list = match std::mem::replace(&mut self.inner.audiences, AudiencePolicy::Unset) {
            AudiencePolicy::OneOf(list) => list,
            AudiencePolicy::Unset | AudiencePolicy::Any => Vec::new(),
        };
        list.extend(audiences.into_iter().map(Into::into));
        self.inner.audiences = AudiencePolicy::OneOf(list);
        self
    }

    /// **Opt out of the audience check**: accept a token issued for *any* resource of this
    /// issuer. Only for a service that truly has no identifier of its own; every other service
    /// sets [`audience`](Self::audience), or a token stolen from (or meant for) another
    /// resource is accepted here (RFC 9068 §4 makes the check a MUST).
    pub fn any_audience(mut self) -> Self {
        self.inner.audiences = AudiencePolicy::Any;
        self
    }

    /// Allowed algorithms (default: all asymmetric ones; each key still binds its own).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.inner.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Clock leeway for `exp`/`nbf`/`iat` (default 60 s, at most 10 min).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.inner.leeway = leeway;
        self
    }

    /// `typ` policy (default [`TypPolicy::Compatible`]).
    pub fn typ_policy(mut self, typ: TypPolicy) -> Self {
        self.inner.typ = typ;
        self
    }

    /// Where scopes, the client id and the human root come from (default
    /// [`ClaimsProfile::authgent_server`]; presets for RFC 9068, Keycloak, Auth0, Okta and
    /// Microsoft Entra ID).
    pub fn claims_profile(mut self, profile: ClaimsProfile) -> Self {
        self.inner.profile = profile;
        self
    }

    /// Token size cap in bytes (default 16 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.inner.max_token_bytes = bytes;
        self
    }

    /// `act` nesting cap (default 32).
    pub fn max_act_depth(mut self, depth: usize) -> Self {
        self.inner.max_act_depth = depth;
        self
    }

    /// Checks the settings and builds the validator.
    pub fn build(self) -> Result<TokenValidator, ConfigError> {
        let v = self.inner;
        if v.issuer.is_empty() {
            return Err(ConfigError::Missing("issuer"));
        }
        if v.algorithms.is_empty() {
            return Err(ConfigError::Invalid {
                setting: "algorithms",
                reason: "allow at least one algorithm",
            });
        }
        if v.leeway > Duration::from_secs(600) {
            return Err(ConfigError::Invalid {
                setting: "leeway",
                reason: "at most 10 minutes",
            });
        }
        if v.max_token_bytes < 256 {
            return Err(ConfigError::Invalid {
                setting: "max_token_bytes",
                reason: "at least 256 bytes",
            });
        }
        match &v.audiences {
            AudiencePolicy::Unset => {
                return Err(ConfigError::Required {
                    setting: "audience",
                    fix: "set .audience(\"<this resource's identifier>\"), or opt out explicitly with .any_audience()",
                });
            }
            AudiencePolicy::OneOf(list) if list.is_empty() || list.iter().any(String::is_empty) => {
                return Err(ConfigError::Invalid {
                    setting: "audience",
                    reason: "must not be empty",
                });
            }
            _ => {}
        }
        Ok(v)
    }
}
