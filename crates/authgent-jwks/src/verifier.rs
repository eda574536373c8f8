//! `Verifier`: the async front of authgent-core — keys from the issuer, tokens cached.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use authgent_core::challenge::{ChallengeConfig, ErrorResponse};
use authgent_core::credentials::{Credentials, Scheme};
use authgent_core::dpop::{CheckedProof, DpopVerifier, NonceIssuer, ReplayGuard, ReplayVerdict};
use authgent_core::request::{DpopMode, RequestParts, RequestVerifier};
use authgent_core::{
    AgentIdentity, Algorithm, AuthgentError, ChainPolicy, ConfigError, TokenValidator, TypPolicy,
};
use tracing::{Instrument, debug_span};

use crate::HeaderSource;
use crate::fetch::{Fetcher, JwksError};
use crate::keys::{KeyCache, KeySetInfo, KeySettings};
use crate::opaque::OpaqueTokens;
use crate::replay::{GuardStore, MemoryReplayStore, ReplayStore};
use crate::revocation::{RevocationCheck, SharedRevocation};
use crate::stats::{Stats, VerifierStats};
use crate::token_cache::TokenCache;
use authgent_core::txn::{TransactionToken, TxnTokenValidator};

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;
type SharedReplayStore = Arc<dyn ReplayStore>;

/// Verifies requests and tokens for one issuer, fetching and caching its keys.
///
/// Cheap to clone (one `Arc`); build it once at start-up.
///
/// ```no_run
/// # async fn demo(parts: http::request::Parts) -> Result<(), Box<dyn std::error::Error>> {
/// use authgent_jwks::Verifier;
/// let verifier = Verifier::builder()
///     .issuer("http://127.0.0.1:8000")
///     .audience("https://tools.example.com")     // required: this service's identifier
///     .external_url("https://tools.example.com") // required with DPoP: the htu base
///     .build()?;
/// match verifier.verify(&parts).await {
///     Ok(Some(identity)) => println!("{} via {:?}", identity.subject(),
///         identity.delegation_chain().current_actor().map(|a| a.subject())),
///     Ok(None) => println!("no credentials"),
///     Err(e) => println!("refused: {} {}", e.status(), e.code()),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    request: RequestVerifier,
    keys: Arc<KeyCache>,
    tokens: Option<TokenCache>,
    replay: SharedReplayStore,
    chain_policy: Option<ChainPolicy>,
    revocation: Option<SharedRevocation>,
    opaque: Option<crate::opaque::Opaque>,
    external_url: Option<String>,
    htu_from_host: bool,
    trust_forwarded: bool,
    clock: Clock,
    stats: Arc<Stats>,
    background: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.background.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("dpop_mode", &self.inner.request.dpop_mode())
            .field("token_cache", &self.inner.tokens.is_some())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Starts a builder. `issuer` is required.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    /// The issuer this verifier trusts.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The clock leeway for `exp`, `nbf` and `iat` (default 60 s).
    pub fn leeway(&self) -> Duration {
        self.inner.request.validator().leeway()
    }

    /// The DPoP mode.
    pub fn dpop_mode(&self) -> DpopMode {
        self.inner.request.dpop_mode()
    }

    /// Counters since the verifier was built.
    pub fn stats(&self) -> VerifierStats {
        self.inner.stats.snapshot()
    }

    /// The cached key set, if keys were fetched.
    pub fn key_info(&self) -> Option<KeySetInfo> {
        self.inner.keys.info()
    }

    /// Fetches the keys now (e.g. at start-up, to fail fast), waiting for a refresh already
    /// under way rather than starting a second one.
    pub async fn refresh(&self) -> Result<(), JwksError> {
        self.inner.keys.refresh().await
    }

    /// The absolute URI a request was addressed to, as DPoP `htu` is compared with: the
    /// configured external URL + path. Only after the explicit
    /// [`htu_from_host_header`](VerifierBuilder::htu_from_host_header) opt-in, the request's
    /// own absolute URI or `Host` (and `X-Forwarded-Proto`/`-Host` only when trusted); without
    /// either, just the path, which no proof's `htu` matches.
    pub fn request_uri(&self, parts: &http::request::Parts) -> String {
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let absolute = parts
            .uri
            .scheme_str()
            .zip(parts.uri.authority().map(|a| a.as_str()));
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        self.uri_for(
            path,
            absolute,
            header("host"),
            header("x-forwarded-proto"),
            header("x-forwarded-host"),
        )
    }

    /// [`request_uri`](Self::request_uri) from plain parts: the path (and query), the
    /// request's own `(scheme, authority)` if it was absolute, and the `Host`,
    /// `X-Forwarded-Proto` and `X-Forwarded-Host` header values. Adapters go through
    /// [`AgentAuth::authenticate`](crate::AgentAuth::authenticate), which decides this once.
    pub(crate) fn uri_for(
        &self,
        path_and_query: &str,
        absolute: Option<(&str, &str)>,
        host: Option<&str>,
        forwarded_proto: Option<&str>,
        forwarded_host: Option<&str>,
    ) -> String {
        let path = if path_and_query.is_empty() {
            "/"
        } else {
            path_and_query
        };
        if let Some(base) = &self.inner.external_url {
            return format!("{}{path}", base.trim_end_matches('/'));
        }
        if !self.inner.htu_from_host {
            // No trusted origin: a relative URI, which fails every htu comparison.
            return path.to_owned();
        }
        if let Some((scheme, authority)) = absolute {
            return format!("{scheme}://{authority}{path}");
        }
        let (mut scheme, mut host) = ("http", host.unwrap_or("localhost"));
        if self.inner.trust_forwarded {
            scheme = forwarded_proto.unwrap_or(scheme);
            host = forwarded_host.unwrap_or(host);
        }
        format!("{scheme}://{host}{path}")
    }

    /// Verifies an HTTP request: `Ok(None)` when it carries no credentials, the caller's
    /// identity when its token (and DPoP proof, when bound) are valid and the default chain
    /// policy passes.
    pub async fn verify(
        &self,
        parts: &http::request::Parts,
    ) -> Result<Option<Arc<AgentIdentity>>, AuthgentError> {
        let uri = self.request_uri(parts);
        let authorization = parts.headers.header_values("authorization");
        let dpop = parts.headers.header_values("dpop");
        let request = RequestParts::new(parts.method.as_str(), &uri, &authorization, &dpop);
        self.verify_request(&request).await
    }

    /// Verifies a request given as plain parts (for servers not built on `http`).
    pub async fn verify_request(
        &self,
        request: &RequestParts<'_>,
    ) -> Result<Option<Arc<AgentIdentity>>, AuthgentError> {
        self.traced(request, None).await
    }

    /// [`verify_request`](Self::verify_request) with the credentials already read from the
    /// request's headers (by [`AgentAuth`](crate::AgentAuth), which needs them first), so the
    /// headers are not scanned twice.
    pub(crate) async fn verify_credentials(
        &self,
        request: &RequestParts<'_>,
        credentials: Credentials<'_>,
    ) -> Result<Option<Arc<AgentIdentity>>, AuthgentError> {
        self.traced(request, Some(credentials)).await
    }

    /// The `authgent.verify` span around [`verify_inner`](Self::verify_inner) (its fields are
    /// recorded only when a subscriber listens), and the verification metrics.
    async fn traced(
        &self,
        request: &RequestParts<'_>,
        given: Option<Credentials<'_>>,
    ) -> Result<Option<Arc<AgentIdentity>>, AuthgentError> {
        let span = debug_span!(target: "authgent_jwks", "authgent.verify",
            "authgent.token.issuer" = %self.inner.issuer,
            "enduser.id" = tracing::field::Empty,
            "authgent.delegation.depth" = tracing::field::Empty,
            "authgent.outcome" = tracing::field::Empty,
            "error.type" = tracing::field::Empty,
            "authgent.reason" = tracing::field::Empty,
            "otel.status_code" = tracing::field::Empty);
        let started = std::time::Instant::now();
        let result = self
            .verify_inner(request, given)
            .instrument(span.clone())
            .await;
        let took = started.elapsed();
        let series = &self.inner.stats.series;
        match &result {
            Ok(identity) => crate::metrics::verified(series, identity.is_some(), took),
            Err(e) => crate::metrics::verification_refused(e.code(), took),
        }
        if span.is_disabled() {
            return result;
        }
        match &result {
            Ok(Some(identity)) => {
                span.record("enduser.id", identity.subject());
                span.record(
                    "authgent.delegation.depth",
                    identity.delegation_chain().depth(),
                );
                span.record("authgent.outcome", "ok");
            }
            Ok(None) => {
                span.record("authgent.outcome", "anonymous");
            }
            Err(e) => {
                // Why, in words (never the token): `token has expired`, `… kid names no key …`.
                span.record("authgent.outcome", e.code());
                span.record("error.type", e.code());
                span.record("authgent.reason", tracing::field::display(e));
                span.record("otel.status_code", "error");
            }
        }
        result
    }

    /// `given`: credentials already read (a bare token for [`verify_token`](Self::verify_token),
    /// or the headers as `AgentAuth` read them); otherwise they are read from `request`.
    async fn verify_inner(
        &self,
        request: &RequestParts<'_>,
        given: Option<Credentials<'_>>,
    ) -> Result<Option<Arc<AgentIdentity>>, AuthgentError> {
        let inner = &self.inner;
        let now = (inner.clock)();
        let credentials = match given {
            Some(credentials) => credentials,
            None => match Credentials::from_headers(request.authorization, request.dpop)? {
                Some(credentials) => credentials,
                None => return Ok(None),
            },
        };
        let token = credentials.token();
        if let Some(opaque) = &inner.opaque
            && !crate::opaque::is_jwt(token)
        {
            // Introspection is the whole verdict (revocation included); the DPoP binding is
            // checked as for a cached JWT.
            let validator = inner.request.validator();
            let identity = opaque
                .identity(&inner.keys, validator, token, now, self.retry_after())
                .await?;
            let proof =
                inner
                    .request
                    .cached_binding_unrecorded(&credentials, request, &identity, now)?;
            self.record_proof(proof, now).await?;
            self.check_policy(&identity)?;
            return Ok(Some(identity));
        }
        let revocation = inner.revocation.as_ref().filter(|r| r.every_request());
        // The token cache is consulted before the token is even parsed: a hit costs the
        // lookup and a comparison of the token.
        let hit = inner.tokens.as_ref().and_then(|tokens| {
            let keys = &inner.keys;
            let hit = tokens.get(token, now, |kid, thumbprint| {
                keys.cached_key(kid)
                    .is_some_and(|k| k.thumbprint() == thumbprint)
            });
            match hit {
                Some(_) => inner.stats.token_cache_hit(),
                None => inner.stats.token_cache_miss(),
            }
            hit
        });
        let identity = match hit {
            Some(hit) => {
                // The proof is never cached: binding is checked on every request (against
                // the `ath` kept with the token).
                let request = match &hit.access_token_hash {
                    Some(ath) => request.with_access_token_hash(ath),
                    None => *request,
                };
                let proof = inner.request.cached_binding_unrecorded(
                    &credentials,
                    &request,
                    &hit.identity,
                    now,
                )?;
                self.record_proof(proof, now).await?;
                Arc::clone(&hit.identity)
            }
            None => {
                let pending = inner.request.parse(credentials, request)?;
                let key = inner.keys.key(pending.kid()).await?;
                let (identity, proof) =
                    inner.request.finish_unrecorded(&pending, Some(&key), now)?;
                let identity = Arc::new(identity);
                if let Some(tokens) = &inner.tokens {
                    let leeway = inner.request.validator().leeway();
                    tokens.insert(
                        token,
                        Arc::clone(&identity),
                        pending.kid(),
                        key.thumbprint(),
                        now,
                        leeway,
                    );
                }
                // Recorded last, once everything else about the request passed, so refused
                // requests never fill the (possibly shared) replay store.
                self.record_proof(proof, now).await?;
                identity
            }
        };
        if let Some(r) = revocation {
            r.check(&inner.keys, token, &identity, now, self.retry_after())
                .await?;
        }
        self.check_policy(&identity)?;
        Ok(Some(identity))
    }

    fn retry_after(&self) -> Duration {
        self.inner.keys.failure_backoff()
    }

    /// Records a checked DPoP proof in the replay store (the one await of a proof).
    async fn record_proof(
        &self,
        proof: Option<CheckedProof>,
        now: SystemTime,
    ) -> Result<(), AuthgentError> {
        let Some(proof) = proof else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let verdict = self
            .inner
            .replay
            .check_and_record(proof.id(), now, proof.expires_at())
            .await;
        let outcome = match verdict {
            ReplayVerdict::Fresh => "fresh",
            ReplayVerdict::Replayed => "replayed",
            _ => "unavailable",
        };
        crate::metrics::replay(outcome, started.elapsed());
        proof.record(verdict)?;
        Ok(())
    }

    /// Checks that `token` (already verified into `identity`) is still active at its issuer,
    /// with the [`RevocationCheck`] this verifier was built with — for routes that check
    /// revocation when the verifier does not check it on every request
    /// ([`RevocationCheck::every_request`]`(false)`). Revoked → 401 `invalid_token`;
    /// introspection down → 503 (fail-closed) unless the check is fail-open.
    ///
    /// Without a configured check this is a configuration error (500), never a silent pass.
    pub async fn check_revocation(
        &self,
        token: &str,
        identity: &AgentIdentity,
    ) -> Result<(), AuthgentError> {
        let Some(r) = &self.inner.revocation else {
            return Err(ConfigError::Required {
                setting: "revocation_check",
                fix: "build the verifier with .revocation_check(RevocationCheck::new()) to check revocation on a route",
            }
            .into());
        };
        let now = (self.inner.clock)();
        r.check(&self.inner.keys, token, identity, now, self.retry_after())
            .await
    }

    fn check_policy(&self, identity: &AgentIdentity) -> Result<(), AuthgentError> {
        match &self.inner.chain_policy {
            Some(policy) => Ok(policy.check(identity.delegation_chain())?),
            None => Ok(()),
        }
    }

    /// Verifies a bare token as if sent with `Authorization: Bearer` (no DPoP proof, so a
    /// DPoP-bound token is refused, and so is every token under [`DpopMode::Required`]).
    pub async fn verify_token(&self, token: &str) -> Result<Arc<AgentIdentity>, AuthgentError> {
        let request = RequestParts::new("GET", "", &[], &[]);
        self.traced(&request, Some(Credentials::bearer(token)?))
            .await?
            .ok_or(AuthgentError::MissingCredentials)
    }

    /// The challenge configuration for this verifier's DPoP settings.
    pub fn challenge_config(&self, resource_metadata: Option<String>) -> ChallengeConfig {
        self.inner.request.challenge_config(resource_metadata)
    }

    /// The status, body and challenges for a refusal of `parts`.
    pub fn error_response(
        &self,
        error: &AuthgentError,
        parts: &http::request::Parts,
        config: &ChallengeConfig,
    ) -> ErrorResponse {
        let scheme = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(Scheme::from_authorization);
        ErrorResponse::new(error, scheme, config)
    }

    /// A fresh DPoP nonce, when this verifier requires them (for `DPoP-Nonce` on successes).
    pub fn issue_dpop_nonce(&self) -> Option<String> {
        self.inner
            .request
            .dpop()
            .nonces()
            .map(|n| n.issue((self.inner.clock)()))
    }

    /// A fresh nonce for a successful response, when nonces are on and the current bucket is
    /// in its last quarter (RFC 9449 §8.2): the client gets the next nonce before its current
    /// one stops being accepted, instead of a `use_dpop_nonce` round trip.
    pub fn dpop_nonce_for_success(&self) -> Option<String> {
        let nonces = self.inner.request.dpop().nonces()?;
        let now = (self.inner.clock)();
        (nonces.remaining_in_bucket(now) * 4 <= nonces.bucket_length()).then(|| nonces.issue(now))
    }

    /// Whether opaque tokens are accepted ([`VerifierBuilder::opaque_tokens`]).
    pub fn accepts_opaque_tokens(&self) -> bool {
        self.inner.opaque.is_some()
    }

    /// The configured external URL (the DPoP `htu` base), if any.
    pub fn external_url(&self) -> Option<&str> {
        self.inner.external_url.as_deref()
    }

    /// The one configured audience, when it is an `http(s)` URL (a resource identifier).
    pub(crate) fn resource_audience(&self) -> Option<&str> {
        match self.inner.request.validator().audiences() {
            [one] if one.starts_with("https://") || one.starts_with("http://") => Some(one),
            _ => None,
        }
    }

    /// The DPoP algorithms accepted, when DPoP is.
    pub fn dpop_algorithms(&self) -> Option<Vec<authgent_core::Algorithm>> {
        self.challenge_config(None).dpop_algs
    }

    /// Verifies a transaction token (the `Txn-Token` header) with `validator`, using this
    /// verifier's keys (same cache, same discovery): for trust domains whose transaction
    /// tokens are signed by this verifier's issuer.
    pub async fn verify_transaction_token(
        &self,
        token: &str,
        validator: &TxnTokenValidator,
    ) -> Result<TransactionToken, AuthgentError> {
        let kid = validator.unverified_kid(token)?;
        let key = self.inner.keys.key(&kid).await?;
        let one = OneKey { kid, key };
        Ok(validator.verify(token, &one, (self.inner.clock)())?)
    }
}

/// One key, for the key resolver a transaction token is verified against.
struct OneKey {
    kid: String,
    key: Arc<authgent_core::VerificationKey>,
}

impl authgent_core::KeyResolver for OneKey {
    fn resolve(&self, kid: &str) -> Option<&authgent_core::VerificationKey> {
        (kid == self.kid).then_some(&*self.key)
    }
}

/// Builds a [`Verifier`]; every setting is checked in [`build`](Self::build).
#[must_use]
pub struct VerifierBuilder {
    issuer: Option<String>,
    jwks_uri: Option<String>,
    audiences: Vec<String>,
    any_audience: bool,
    algorithms: Option<Vec<Algorithm>>,
    leeway: Duration,
    typ: TypPolicy,
    profile: authgent_core::ClaimsProfile,
    max_token_bytes: usize,
    max_act_depth: usize,
    dpop_mode: DpopMode,
    dpop_nonces: Option<NonceIssuer>,
    dpop_iat_window: Duration,
    chain_policy: Option<ChainPolicy>,
    revocation: Option<RevocationCheck>,
    opaque: Option<OpaqueTokens>,
    external_url: Option<String>,
    htu_from_host: bool,
    trust_forwarded: bool,
    max_age: Duration,
    unknown_kid_cooldown: Duration,
    failure_backoff: Duration,
    stale_if_error: Duration,
    fetch_timeout: Duration,
    proxy: Option<String>,
    max_jwks_bytes: usize,
    token_cache_capacity: Option<u64>,
    token_cache_max_ttl: Duration,
    replay: Option<SharedReplayStore>,
    background_refresh: bool,
    clock: Option<Clock>,
}

impl fmt::Debug for VerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierBuilder")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        VerifierBuilder {
            issuer: None,
            jwks_uri: None,
            audiences: Vec::new(),
            any_audience: false,
            algorithms: None,
            leeway: authgent_core::validator::DEFAULT_LEEWAY,
            typ: TypPolicy::default(),
            profile: authgent_core::ClaimsProfile::default(),
            max_token_bytes: authgent_core::validator::DEFAULT_MAX_TOKEN_BYTES,
            max_act_depth: authgent_core::validator::DEFAULT_MAX_ACT_DEPTH,
            dpop_mode: DpopMode::Allowed,
            dpop_nonces: None,
            dpop_iat_window: authgent_core::dpop::DEFAULT_IAT_WINDOW,
            chain_policy: None,
            revocation: None,
            opaque: None,
            external_url: None,
            htu_from_host: false,
            trust_forwarded: false,
            max_age: Duration::from_secs(600),
            unknown_kid_cooldown: Duration::from_secs(30),
            failure_backoff: Duration::from_secs(5),
            stale_if_error: Duration::from_secs(3600),
            fetch_timeout: Duration::from_secs(5),
            proxy: None,
            max_jwks_bytes: 256 * 1024,
            token_cache_capacity: Some(10_000),
            token_cache_max_ttl: Duration::from_secs(3600),
            replay: None,
            background_refresh: false,
            clock: None,
        }
    }
}

impl VerifierBuilder {
    /// The issuer (`iss`, compared exactly). Required.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Use this JWKS URL instead of discovering it from the issuer's metadata.
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// Require `aud` to contain `audience`, this resource's identifier (repeatable; any one
    /// matches). **Required**: `build()` fails without one unless
    /// [`any_audience`](Self::any_audience) opts out (RFC 9068 §4, MCP authorization).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// **Opt out of the audience check**: accept tokens this issuer made for *any* resource.
    /// Only for a service with no identifier of its own; with it, a token meant for another
    /// service (or stolen from one) is accepted here.
    pub fn any_audience(mut self) -> Self {
        self.any_audience = true;
        self
    }

    /// The strict preset, for issuers that can mint unbound tokens a resource server cannot
    /// tell from access tokens (authgent-server 0.3.4's identity-chaining grant, see
    /// docs/security.md): DPoP required ([`DpopMode::Required`]: an unbound token is refused
    /// whatever its claims) and revocation checked on every request ([`RevocationCheck`]
    /// defaults: the discovered introspection endpoint, 30 s, fail-closed). Later setters
    /// still apply; add `.typ_policy(TypPolicy::Strict)` where the issuer sends `at+jwt`.
    ///
    /// ```
    /// use authgent_jwks::Verifier;
    /// let verifier = Verifier::builder()
    ///     .issuer("https://as.example")
    ///     .audience("https://tools.example")
    ///     .external_url("https://tools.example")
    ///     .strict()
    ///     .build()?;
    /// assert_eq!(verifier.dpop_mode(), authgent_core::request::DpopMode::Required);
    /// # Ok::<(), authgent_core::ConfigError>(())
    /// ```
    pub fn strict(mut self) -> Self {
        self.dpop_mode = DpopMode::Required;
        self.revocation = Some(RevocationCheck::new());
        self
    }

    /// Check revocation by RFC 7662 introspection (CONFORMANCE 32); off by default.
    pub fn revocation_check(mut self, check: RevocationCheck) -> Self {
        self.revocation = Some(check);
        self
    }

    /// Accept opaque (non-JWT) access tokens by RFC 7662 introspection at the issuer (see
    /// [`OpaqueTokens`]); off by default, when only JWTs are accepted.
    pub fn opaque_tokens(mut self, opaque: OpaqueTokens) -> Self {
        self.opaque = Some(opaque);
        self
    }

    /// Allowed token algorithms (default: all asymmetric; each key binds its own).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Clock leeway for `exp`/`nbf`/`iat` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Access-token `typ` policy (default compatible with authgent-server's `JWT`).
    pub fn typ_policy(mut self, typ: TypPolicy) -> Self {
        self.typ = typ;
        self
    }

    /// Where the issuer puts scopes, the client id and the mark of a human (default
    /// [`ClaimsProfile::authgent_server`](authgent_core::ClaimsProfile::authgent_server)).
    /// A token with scopes in a claim the profile does not read is refused, naming the claim.
    ///
    /// ```
    /// use authgent_core::ClaimsProfile;
    /// let verifier = authgent_jwks::Verifier::builder()
    ///     .issuer("https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0")
    ///     .audience("api://orders")
    ///     .external_url("https://orders.example")
    ///     .claims_profile(ClaimsProfile::entra_id())
    ///     .build()?;
    /// # let _ = verifier;
    /// # Ok::<(), authgent_core::ConfigError>(())
    /// ```
    pub fn claims_profile(mut self, profile: authgent_core::ClaimsProfile) -> Self {
        self.profile = profile;
        self
    }

    /// Token size cap (default 16 KiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// `act` nesting cap (default 32).
    pub fn max_act_depth(mut self, depth: usize) -> Self {
        self.max_act_depth = depth;
        self
    }

    /// DPoP mode (default [`DpopMode::Allowed`]).
    pub fn dpop_mode(mut self, mode: DpopMode) -> Self {
        self.dpop_mode = mode;
        self
    }

    /// Require server-issued DPoP nonces made by `nonces`.
    pub fn dpop_nonces(mut self, nonces: NonceIssuer) -> Self {
        self.dpop_nonces = Some(nonces);
        self
    }

    /// DPoP proof `iat` window (default ±60 s).
    pub fn dpop_iat_window(mut self, window: Duration) -> Self {
        self.dpop_iat_window = window;
        self
    }

    /// A chain policy every request must pass (routes may add stricter ones).
    pub fn chain_policy(mut self, policy: ChainPolicy) -> Self {
        self.chain_policy = Some(policy);
        self
    }

    /// The resource's external base URL (`https://api.example.com`): the DPoP `htu` base.
    /// Required whenever DPoP is accepted (the default [`DpopMode::Allowed`] included), since
    /// the request's own `Host` is chosen by the client.
    pub fn external_url(mut self, url: impl Into<String>) -> Self {
        self.external_url = Some(url.into());
        self
    }

    /// **Opt in** to building the DPoP `htu` base from the request itself (absolute-form
    /// request line, HTTP/2 `:authority`, or `Host`) when no external URL is set. These are
    /// chosen by the client, so a proof made for another server that shares this issuer and
    /// DPoP key verifies here too; use only where every host name reaching this process is
    /// yours (a proxy that rewrites `Host`), and prefer [`external_url`](Self::external_url).
    pub fn htu_from_host_header(mut self) -> Self {
        self.htu_from_host = true;
        self
    }

    /// Trust `X-Forwarded-Proto` / `X-Forwarded-Host` for the `htu` base; only with
    /// [`htu_from_host_header`](Self::htu_from_host_header), only behind a proxy that
    /// overwrites them.
    pub fn trust_forwarded_headers(mut self, trust: bool) -> Self {
        self.trust_forwarded = trust;
        self
    }

    /// How long fetched keys are fresh when the issuer sends no `Cache-Control` (default
    /// 10 min; at least 1 s).
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// After a refresh for an unknown `kid`, how long further unknown kids are refused without
    /// fetching (default 30 s).
    pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
        self.unknown_kid_cooldown = cooldown;
        self
    }

    /// After a failed fetch, how long to wait before trying again; also the `Retry-After` of a
    /// cold outage (default 5 s).
    pub fn failure_backoff(mut self, backoff: Duration) -> Self {
        self.failure_backoff = backoff;
        self
    }

    /// How long past their max age keys keep serving while refreshes fail (default 1 h).
    pub fn stale_if_error(mut self, bound: Duration) -> Self {
        self.stale_if_error = bound;
        self
    }

    /// Timeout of each JWKS or metadata request (default 5 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Sends discovery, JWKS and introspection requests through this HTTP proxy (a URL such
    /// as `http://proxy.internal:3128`). Without it they use **no** proxy, whatever
    /// `HTTP_PROXY` or `HTTPS_PROXY` say: introspection carries client credentials and the
    /// token, and an environment proxy would receive them in clear from a loopback issuer.
    ///
    /// ```
    /// let verifier = authgent_jwks::Verifier::builder()
    ///     .issuer("https://as.example")
    ///     .audience("https://tools.example")
    ///     .external_url("https://tools.example")
    ///     .proxy("http://proxy.internal:3128")
    ///     .build()?;
    /// # let _ = verifier; Ok::<(), authgent_core::ConfigError>(())
    /// ```
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Cap on a JWKS or metadata body (default 256 KiB).
    pub fn max_jwks_bytes(mut self, bytes: usize) -> Self {
        self.max_jwks_bytes = bytes;
        self
    }

    /// Verified-token cache capacity (default 10 000 tokens); `0` turns the cache off.
    pub fn token_cache_capacity(mut self, capacity: u64) -> Self {
        self.token_cache_capacity = (capacity > 0).then_some(capacity);
        self
    }

    /// Longest a verified token stays cached, whatever its `exp` (default 1 h).
    pub fn token_cache_max_ttl(mut self, ttl: Duration) -> Self {
        self.token_cache_max_ttl = ttl;
        self
    }

    /// Record DPoP proof ids in `store` (default: a [`MemoryReplayStore`] of 100 000 ids,
    /// right for one process). Several replicas of a service must share one store — a
    /// `RedisReplayStore` (feature `redis`) — or a proof accepted by one replica is accepted
    /// again by the others.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use authgent_jwks::{MemoryReplayStore, Verifier};
    /// let store = Arc::new(MemoryReplayStore::new(1_000_000));
    /// let verifier = Verifier::builder()
    ///     .issuer("https://as.example.com")
    ///     .audience("https://tools.example.com")
    ///     .external_url("https://tools.example.com")
    ///     .replay_store(Arc::clone(&store))
    ///     .build()?;
    /// # let _ = verifier; Ok::<(), authgent_core::ConfigError>(())
    /// ```
    pub fn replay_store(mut self, store: impl ReplayStore + 'static) -> Self {
        self.replay = Some(Arc::new(store));
        self
    }

    /// Record DPoP proof ids in a synchronous authgent-core [`ReplayGuard`] (one that answers
    /// without I/O); see [`replay_store`](Self::replay_store).
    pub fn replay_guard(mut self, guard: Arc<dyn ReplayGuard + Send + Sync>) -> Self {
        self.replay = Some(Arc::new(GuardStore(guard)));
        self
    }

    /// Refresh keys in a background task shortly before they expire, so no request ever sees
    /// stale keys. The task stops when the last clone of the verifier is dropped. Needs a
    /// tokio runtime at `build()`.
    pub fn background_refresh(mut self, enabled: bool) -> Self {
        self.background_refresh = enabled;
        self
    }

    /// Replace the wall clock used for token and proof times (tests pin it).
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Checks every setting and builds the verifier.
    pub fn build(self) -> Result<Verifier, ConfigError> {
        let issuer = self.issuer.ok_or(ConfigError::Missing("issuer"))?;
        let absolute = |url: &str| authgent_core::request::check_external_url(url).is_ok();
        if !absolute(&issuer) {
            return Err(ConfigError::Invalid {
                setting: "issuer",
                reason: "an absolute http(s) URL",
            });
        }
        if let Some(uri) = &self.jwks_uri
            && !absolute(uri)
        {
            return Err(ConfigError::Invalid {
                setting: "jwks_uri",
                reason: "an absolute http(s) URL",
            });
        }
        if let Some(url) = &self.external_url {
            authgent_core::request::check_external_url(url)?;
        }
        if self.dpop_mode != DpopMode::Disabled
            && self.external_url.is_none()
            && !self.htu_from_host
        {
            return Err(ConfigError::Required {
                setting: "external_url",
                fix: "DPoP is accepted, so set .external_url(\"https://<this service's public origin>\") as the htu base; or refuse DPoP with .dpop_mode(DpopMode::Disabled); or opt in to the client-chosen Host with .htu_from_host_header()",
            });
        }
        let invalid = |setting, reason| Err(ConfigError::Invalid { setting, reason });
        if self.max_age < Duration::from_secs(1) {
            return invalid("jwks_max_age", "at least 1 s");
        }
        if self.fetch_timeout.is_zero() {
            return invalid("fetch_timeout", "greater than zero");
        }
        if self.max_jwks_bytes < 1024 {
            return invalid("max_jwks_bytes", "at least 1 KiB");
        }
        let mut validator = TokenValidator::builder(issuer.clone());
        if !self.audiences.is_empty() {
            validator = validator.audiences(self.audiences);
        }
        if self.any_audience {
            validator = validator.any_audience();
        }
        let mut validator = validator
            .leeway(self.leeway)
            .typ_policy(self.typ)
            .claims_profile(self.profile)
            .max_token_bytes(self.max_token_bytes)
            .max_act_depth(self.max_act_depth);
        if let Some(algs) = self.algorithms {
            validator = validator.algorithms(algs);
        }
        let mut dpop = DpopVerifier::builder().iat_window(self.dpop_iat_window);
        if let Some(nonces) = self.dpop_nonces {
            dpop = dpop.require_nonce(nonces);
        }
        let request =
            RequestVerifier::new(validator.build()?, dpop.build()?).with_dpop_mode(self.dpop_mode);
        let revocation = match self.revocation {
            Some(check) => Some(Arc::new(check.build()?)),
            None => None,
        };
        let opaque = self.opaque.map(OpaqueTokens::build).transpose()?;
        let fetcher = Fetcher::new(
            self.fetch_timeout,
            self.max_jwks_bytes,
            self.proxy.as_deref(),
        )
        .map_err(|e| ConfigError::Invalid {
            setting: e.setting(),
            reason: e.reason(),
        })?;
        let stats = Arc::new(Stats::default());
        let settings = KeySettings {
            max_age: self.max_age,
            unknown_kid_cooldown: self.unknown_kid_cooldown,
            failure_backoff: self.failure_backoff,
            stale_if_error: self.stale_if_error,
        };
        let keys = Arc::new(KeyCache::new(
            issuer.clone(),
            self.jwks_uri,
            fetcher,
            settings,
            Arc::clone(&stats),
        ));
        let background = if self.background_refresh {
            let runtime =
                tokio::runtime::Handle::try_current().map_err(|_| ConfigError::Invalid {
                    setting: "background_refresh",
                    reason: "build the verifier inside a tokio runtime",
                })?;
            Some(runtime.spawn(background_refresh(Arc::downgrade(&keys))))
        } else {
            None
        };
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuer,
                request,
                keys,
                tokens: self
                    .token_cache_capacity
                    .map(|c| TokenCache::new(c, self.token_cache_max_ttl)),
                replay: self
                    .replay
                    .unwrap_or_else(|| Arc::new(MemoryReplayStore::default())),
                chain_policy: self.chain_policy,
                revocation,
                opaque,
                external_url: self.external_url,
                htu_from_host: self.htu_from_host,
                trust_forwarded: self.trust_forwarded,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemTime::now)),
                stats,
                background,
            }),
        })
    }
}

/// The futures of every public async method are `Send`, so they run on multi-threaded servers.
#[allow(dead_code, clippy::let_underscore_future)]
fn assert_futures_are_send(v: &Verifier, parts: &http::request::Parts) {
    fn send<T: Send>(_: T) {}
    send(v.verify(parts));
    send(v.verify_token(""));
    send(v.refresh());
}

/// Refreshes keys a little before they go stale; holds only a weak reference, so it ends
/// when the verifier is dropped (and is aborted then, too).
async fn background_refresh(keys: std::sync::Weak<KeyCache>) {
    loop {
        let Some(cache) = keys.upgrade() else { return };
        let fresh_for = cache.fresh_for();
        // Refresh at 90 % of the max age; after a failure retry no faster than every second.
        let wait = if fresh_for.is_zero() {
            let _ = cache.refresh().await;
            let next = cache.fresh_for();
            if next.is_zero() {
                Duration::from_secs(1)
            } else {
                next.mul_f64(0.9)
            }
        } else {
            fresh_for.mul_f64(0.9).max(Duration::from_millis(200))
        };
        drop(cache);
        tokio::time::sleep(wait).await;
    }
}
