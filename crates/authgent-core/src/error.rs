//! Errors, each with a stable machine code and the HTTP status it maps to.
//!
//! Messages name what failed and what to do; they never contain a token, a proof or a key.
//! [`crate::challenge::ErrorResponse`] turns any of them into a status, body and challenge.

use std::time::Duration;

/// Why an access token (or transaction token) was rejected. Always `401 invalid_token`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a well-formed compact JWS/JWT; the reason names the part.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// Larger than the configured cap, rejected before any parsing.
    #[error("token is larger than the {limit}-byte limit")]
    TooLarge {
        /// The configured cap in bytes.
        limit: usize,
    },
    /// `alg` is absent, symmetric, `none`, or not in the configured allow-list.
    #[error("token algorithm is not allowed here")]
    AlgorithmNotAllowed,
    /// `typ` names a type that is not acceptable for this kind of token.
    #[error("token type (typ) is not acceptable for this kind of token")]
    UnacceptableType,
    /// The header carries `crit` parameters this library does not understand (RFC 7515 §4.1.11).
    #[error("token header lists critical parameters (crit) that are not understood")]
    UnsupportedCritical,
    /// No `kid` in the header; keys are looked up by `kid` only.
    #[error("token header has no key id (kid)")]
    MissingKeyId,
    /// The `kid` names no key of the issuer (after at most one rate-limited refresh).
    #[error("token key id (kid) names no key of the issuer")]
    UnknownKeyId,
    /// The key found for `kid` cannot verify this `alg` (key type, curve or the JWK's `alg`).
    #[error("the issuer's key for this kid does not match the token algorithm")]
    KeyAlgorithmMismatch,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    InvalidSignature,
    /// A required claim is absent.
    #[error("token claim `{0}` is required")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or an unusable value.
    #[error("token claim `{claim}` is invalid: {reason}")]
    InvalidClaim {
        /// The claim name.
        claim: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `exp` (plus leeway) has passed.
    #[error("token has expired")]
    Expired,
    /// `nbf` (minus leeway) is still in the future.
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    /// `iat` is further in the future than the leeway allows.
    #[error("token was issued in the future (iat)")]
    IssuedInFuture,
    /// `iss` is not exactly the configured issuer.
    #[error("token issuer (iss) is not the configured issuer")]
    IssuerMismatch,
    /// `aud` does not contain a configured audience.
    #[error("token audience (aud) does not include this resource")]
    AudienceMismatch,
    /// More nested `act` claims than the configured cap.
    #[error("token delegation (act) nesting is deeper than the {limit}-level limit")]
    ActTooDeep {
        /// The configured cap.
        limit: usize,
    },
    /// Sent with the `DPoP` scheme but not DPoP-bound (no `cnf.jkt`).
    #[error("token sent with the DPoP scheme is not DPoP-bound (no cnf.jkt)")]
    NotDpopBound,
    /// A DPoP-bound token (`cnf.jkt`) sent with the `Bearer` scheme (RFC 9449 §7.2).
    #[error("DPoP-bound token must be sent with the DPoP scheme and a DPoP proof")]
    DpopBoundAsBearer,
    /// DPoP is required by this resource and the token is not DPoP-bound.
    #[error("this resource requires DPoP-bound tokens")]
    DpopRequired,
    /// DPoP is disabled at this resource, so a DPoP-bound token cannot be accepted.
    #[error("this resource does not accept DPoP")]
    DpopDisabled,
    /// `cnf` names a confirmation method this library cannot check (`x5t#S256`, `jwk`, …):
    /// such a token is refused rather than treated as unbound (RFC 7800, RFC 8705).
    #[error(
        "token is bound by a confirmation method (cnf) this resource cannot check; only cnf.jkt (DPoP) is supported"
    )]
    UnsupportedConfirmation,
    /// The issuer reports the token inactive (revoked) through RFC 7662 introspection.
    #[error("token is no longer active at its issuer (revoked)")]
    Revoked,
}

/// Why a delegation chain failed a [`crate::ChainPolicy`]. Always 403.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DelegationError {
    /// More actors than `max_depth`.
    #[error("delegation chain depth {depth} exceeds the maximum {max}")]
    DepthExceeded {
        /// The chain's depth.
        depth: usize,
        /// The policy's maximum.
        max: usize,
    },
    /// An actor is not allowed (all actors, or the current actor, depending on the rule).
    #[error("actor `{actor}` is not allowed by the delegation policy")]
    UnauthorizedActor {
        /// The refused actor's subject.
        actor: String,
    },
    /// The chain does not start at a human (see [`crate::HumanRootRule`]).
    #[error("delegation chain must have a human root")]
    NoHumanRoot,
}

/// Why a DPoP proof was rejected. `401 invalid_dpop_proof`, or `401 use_dpop_nonce`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// The request uses the DPoP scheme but has no `DPoP` header.
    #[error("DPoP proof is missing (send a DPoP header)")]
    Missing,
    /// Not one well-formed compact JWS.
    #[error("DPoP proof is malformed: {0}")]
    Malformed(&'static str),
    /// `typ` is not `dpop+jwt`.
    #[error("DPoP proof typ must be dpop+jwt")]
    InvalidType,
    /// `alg` is not an allowed asymmetric algorithm.
    #[error("DPoP proof algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// `jwk` is missing, not a public key usable with `alg`, or otherwise invalid.
    #[error("DPoP proof jwk is invalid: {0}")]
    InvalidJwk(&'static str),
    /// `jwk` contains private key members.
    #[error("DPoP proof jwk must not contain private key members")]
    PrivateKeyInJwk,
    /// The signature does not verify with the header `jwk`.
    #[error("DPoP proof signature is invalid")]
    InvalidSignature,
    /// A required claim is absent or of the wrong type.
    #[error("DPoP proof claim `{0}` is missing or invalid")]
    InvalidClaim(&'static str),
    /// `htm` does not equal the request method.
    #[error("DPoP proof htm does not match the request method")]
    MethodMismatch,
    /// `htu` does not equal the request URI (normalised, query and fragment ignored).
    #[error("DPoP proof htu does not match the request URI")]
    UriMismatch,
    /// `iat` is outside the acceptance window.
    #[error("DPoP proof iat is outside the acceptance window")]
    IatOutOfWindow,
    /// The `jti` was already used within the window.
    #[error("DPoP proof was replayed (jti already seen)")]
    Replayed,
    /// The `jti` is longer than the configured cap.
    #[error("DPoP proof jti is too long")]
    JtiTooLong,
    /// An access token was sent but the proof has no `ath`, or `ath` is of another token.
    #[error("DPoP proof ath does not match the access token")]
    AthMismatch,
    /// The proof key's thumbprint is not the token's `cnf.jkt`.
    #[error("DPoP proof key does not match the token's cnf.jkt")]
    KeyMismatch,
    /// The replay store could not record the proof id (full, or unreachable), so the proof
    /// cannot be checked for replay and is refused: `503` with `Retry-After`, never admitted.
    #[error("the DPoP replay check is unavailable; retry later")]
    ReplayCheckUnavailable {
        /// How long the client should wait (`Retry-After`).
        retry_after: Duration,
    },
    /// A server nonce is required and was missing, stale or not ours: retry with `nonce`.
    #[error("a DPoP nonce is required: retry with the nonce from the DPoP-Nonce header")]
    UseNonce {
        /// A fresh nonce for the client's retry (sent as `DPoP-Nonce`).
        nonce: String,
    },
}

/// A required scope is missing. `403 insufficient_scope`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("insufficient scope: requires {}", required.join(" "))]
#[non_exhaustive]
pub struct ScopeError {
    /// The scopes the route requires (the challenge's `scope` parameter).
    pub required: Vec<String>,
}

/// A malformed request, independent of any token. `400 invalid_request`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// More than one `Authorization` header (or both schemes).
    #[error("send exactly one Authorization header")]
    MultipleAuthorization,
    /// More than one `DPoP` header (RFC 9449 §4.3 (1)).
    #[error("send at most one DPoP header")]
    MultipleDpop,
    /// More than one `Txn-Token` header.
    #[error("send at most one Txn-Token header")]
    MultipleTxnToken,
    /// An MCP request body that is not JSON-RPC this resource can decide on (malformed JSON,
    /// duplicate member names, a `tools/call` without a string `name`, too large).
    #[error("the MCP request is malformed: {0}")]
    InvalidMcpRequest(&'static str),
    /// An `Mcp-Method` or `Mcp-Name` header that disagrees with the JSON-RPC body.
    #[error("the {0} header disagrees with the JSON-RPC body")]
    McpHeaderMismatch(&'static str),
    /// No `Txn-Token` header where the resource requires one.
    #[error("send a Txn-Token header: this resource requires a transaction token")]
    MissingTxnToken,
    /// A header value is not visible ASCII.
    #[error("the {0} header is not valid visible ASCII")]
    InvalidHeader(&'static str),
}

/// Any failure of the SDK, mirroring the Python SDK's hierarchy
/// (InvalidToken / Delegation / DPoP / InsufficientScope / Server).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthgentError {
    /// The request carries no credentials at all (401, challenge without `error`).
    #[error("authentication required: send an access token in the Authorization header")]
    MissingCredentials,
    /// The access token was rejected.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The delegation chain failed policy.
    #[error(transparent)]
    Delegation(#[from] DelegationError),
    /// The DPoP proof was rejected.
    #[error(transparent)]
    Dpop(#[from] DpopError),
    /// A required scope is missing.
    #[error(transparent)]
    Scope(#[from] ScopeError),
    /// The request itself is malformed.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The verifier is misconfigured (500): a deployment bug, not the caller's fault.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The issuer's keys are unreachable and none are cached: retry later (503).
    #[error("the issuer's signing keys are unavailable; retry later")]
    KeysUnavailable {
        /// How long the client should wait (`Retry-After`).
        retry_after: Duration,
    },
    /// Revocation checking is on and the issuer's introspection endpoint could not answer;
    /// the token is refused rather than accepted unchecked (fail-closed): retry later (503).
    #[error("the token's revocation status cannot be checked right now; retry later")]
    RevocationCheckUnavailable {
        /// How long the client should wait (`Retry-After`).
        retry_after: Duration,
    },
}

impl TokenError {
    /// The stable OAuth error code: `invalid_token`.
    pub fn code(&self) -> &'static str {
        "invalid_token"
    }
}

impl DelegationError {
    /// The stable code (the Python SDK's): `delegation_depth_exceeded`, `unauthorized_actor`,
    /// or `no_human_root`.
    pub fn code(&self) -> &'static str {
        match self {
            DelegationError::DepthExceeded { .. } => "delegation_depth_exceeded",
            DelegationError::UnauthorizedActor { .. } => "unauthorized_actor",
            DelegationError::NoHumanRoot => "no_human_root",
        }
    }
}

impl DpopError {
    /// The stable code: `use_dpop_nonce` for [`DpopError::UseNonce`],
    /// `temporarily_unavailable` for [`DpopError::ReplayCheckUnavailable`], else
    /// `invalid_dpop_proof`.
    pub fn code(&self) -> &'static str {
        match self {
            DpopError::UseNonce { .. } => "use_dpop_nonce",
            DpopError::ReplayCheckUnavailable { .. } => "temporarily_unavailable",
            _ => "invalid_dpop_proof",
        }
    }
}

impl ScopeError {
    /// The error for a route requiring `required`.
    pub fn new<I, S>(required: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ScopeError {
            required: required.into_iter().map(Into::into).collect(),
        }
    }

    /// The stable code: `insufficient_scope`.
    pub fn code(&self) -> &'static str {
        "insufficient_scope"
    }
}

impl RequestError {
    /// The stable code: `invalid_request`.
    pub fn code(&self) -> &'static str {
        "invalid_request"
    }
}

impl AuthgentError {
    /// The stable machine code sent as the body's `error`.
    ///
    /// ```
    /// use authgent_core::{AuthgentError, TokenError};
    /// assert_eq!(AuthgentError::from(TokenError::Expired).code(), "invalid_token");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            AuthgentError::MissingCredentials => "missing_credentials",
            AuthgentError::Token(e) => e.code(),
            AuthgentError::Delegation(e) => e.code(),
            AuthgentError::Dpop(e) => e.code(),
            AuthgentError::Scope(e) => e.code(),
            AuthgentError::Request(e) => e.code(),
            AuthgentError::KeysUnavailable { .. }
            | AuthgentError::RevocationCheckUnavailable { .. } => "temporarily_unavailable",
            AuthgentError::Config(_) => "server_error",
        }
    }

    /// The HTTP status per CONFORMANCE.md: 401, 403, 400 or 503 (500 for misconfiguration).
    pub fn status(&self) -> u16 {
        match self {
            AuthgentError::Dpop(DpopError::ReplayCheckUnavailable { .. })
            | AuthgentError::KeysUnavailable { .. }
            | AuthgentError::RevocationCheckUnavailable { .. } => 503,
            AuthgentError::MissingCredentials
            | AuthgentError::Token(_)
            | AuthgentError::Dpop(_) => 401,
            AuthgentError::Delegation(_) | AuthgentError::Scope(_) => 403,
            AuthgentError::Request(_) => 400,
            AuthgentError::Config(_) => 500,
        }
    }

    /// How long a client should wait before retrying a `503` refusal (`Retry-After`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use authgent_core::AuthgentError;
    /// let e = AuthgentError::KeysUnavailable { retry_after: Duration::from_secs(5) };
    /// assert_eq!(e.retry_after(), Some(Duration::from_secs(5)));
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AuthgentError::Dpop(DpopError::ReplayCheckUnavailable { retry_after })
            | AuthgentError::KeysUnavailable { retry_after }
            | AuthgentError::RevocationCheckUnavailable { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// A configuration mistake, reported by `build()` at start-up rather than per request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting is missing.
    #[error("configuration: `{0}` is required")]
    Missing(&'static str),
    /// A setting with no safe default was not made: `fix` says how (or how to opt out).
    #[error("configuration: `{setting}` is required: {fix}")]
    Required {
        /// The setting.
        setting: &'static str,
        /// What to call to set it, or to opt out explicitly.
        fix: &'static str,
    },
    /// A setting has an unusable value.
    #[error("configuration: `{setting}` is invalid: {reason}")]
    Invalid {
        /// The setting.
        setting: &'static str,
        /// Why.
        reason: &'static str,
    },
}
