//! [`AgentAuth`]: the one authentication configuration every framework adapter takes.
//!
//! Everything an adapter used to decide for itself lives here, once: which verifier (or which
//! of several issuers' verifiers), whether credentials are required, how refusals are
//! described (realm, RFC 9728 `resource_metadata`, verbosity, body hook), which request URI a
//! DPoP proof is compared with, transaction tokens, `DPoP-Nonce` on successes, and the RFC 9728
//! metadata document. An adapter reads the method, the request target and the headers of its
//! framework's request, calls [`AgentAuth::authenticate`], stores the [`AuthContext`] where its
//! handlers find it, and renders a [`Rejection`] by looping over
//! [`ErrorResponse::headers`].

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use authgent_core::challenge::{ChallengeConfig, ErrorBodyHook, ErrorResponse};
use authgent_core::credentials::{Credentials, Scheme};
use authgent_core::metadata::ProtectedResourceMetadata;
use authgent_core::request::RequestParts;
use authgent_core::txn::{TransactionToken, TxnTokenValidator};
use authgent_core::{
    AgentIdentity, AuthgentError, ChainPolicy, ConfigError, RequestError, ScopeRequirement,
};

use authgent_core::audit::{AuditEvent, Outcome};
use authgent_core::mcp::McpRequest;
use tracing::Instrument;

use crate::audit::{self, AuditSink, RequestAudit};
use crate::{MultiIssuerVerifier, Verifier};

/// The scheme as audit events and spans name it.
fn scheme_name(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Dpop => "dpop",
        _ => "bearer",
    }
}

/// Whether requests without credentials are refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMode {
    /// No credentials → 401 with a challenge (default).
    #[default]
    Required,
    /// No credentials → passed on as anonymous. Invalid credentials are still refused: a bad
    /// token is never silently treated as no token.
    Optional,
}

/// The verifier(s) an [`AgentAuth`] verifies with: one issuer's, or several issuers' routed by
/// each token's `iss` ([`MultiIssuerVerifier`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Verifiers {
    /// One issuer.
    One(Verifier),
    /// Several issuers, each token routed to the verifier of exactly its issuer.
    Many(MultiIssuerVerifier),
}

impl From<Verifier> for Verifiers {
    fn from(v: Verifier) -> Self {
        Verifiers::One(v)
    }
}

impl From<MultiIssuerVerifier> for Verifiers {
    fn from(v: MultiIssuerVerifier) -> Self {
        Verifiers::Many(v)
    }
}

impl Verifiers {
    /// The verifier whose settings describe the resource (challenges, metadata): the one, or
    /// the first issuer's in order.
    fn primary(&self) -> Option<&Verifier> {
        match self {
            Verifiers::One(v) => Some(v),
            Verifiers::Many(m) => m.first(),
        }
    }

    fn issuers(&self) -> Vec<String> {
        match self {
            Verifiers::One(v) => vec![v.issuer().to_owned()],
            Verifiers::Many(m) => m.issuers().map(str::to_owned).collect(),
        }
    }
}

/// The header values of a request, for [`AgentAuth::authenticate`]: implement it over your
/// framework's header map (the adapters do for theirs).
///
/// ```
/// use authgent_jwks::HeaderSource;
/// let mut headers = http::HeaderMap::new();
/// headers.append("dpop", "a".parse().unwrap());
/// headers.append("dpop", "b".parse().unwrap());
/// assert_eq!(headers.header_values("dpop"), [b"a", b"b"]);
/// ```
pub trait HeaderSource {
    /// Every value of the header `name` (given lower-case), in order.
    fn header_values(&self, name: &str) -> Vec<&[u8]>;

    /// The first value of `name` as text, if it is text.
    fn header_str(&self, name: &str) -> Option<&str> {
        self.header_values(name)
            .into_iter()
            .next()
            .and_then(|v| std::str::from_utf8(v).ok())
    }
}

impl HeaderSource for http::HeaderMap {
    fn header_values(&self, name: &str) -> Vec<&[u8]> {
        // The names read on every request as prepared `HeaderName`s: a `&str` is parsed and
        // validated as a header name on each lookup.
        let known = match name {
            "authorization" => Some(http::header::AUTHORIZATION),
            "host" => Some(http::header::HOST),
            "dpop" => Some(http::HeaderName::from_static("dpop")),
            "txn-token" => Some(http::HeaderName::from_static("txn-token")),
            _ => None,
        };
        match known {
            Some(name) => self.get_all(name),
            None => self.get_all(name),
        }
        .iter()
        .map(http::HeaderValue::as_bytes)
        .collect()
    }
}

/// The RFC 9728 document an [`AgentAuth`] serves, pre-rendered.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MetadataDocument {
    /// The document.
    pub document: ProtectedResourceMetadata,
    /// Where it is served (`/.well-known/oauth-protected-resource` + the resource's path).
    pub path: String,
    /// Its JSON.
    pub json: Arc<str>,
}

struct Inner {
    verifiers: Verifiers,
    mode: AuthMode,
    challenge: ChallengeConfig,
    transaction_tokens: Option<TransactionTokens>,
    metadata: Option<MetadataDocument>,
    audit_sink: Option<Arc<dyn AuditSink>>,
    /// The series an allowed request updates, bound to the current metrics recorder.
    series: crate::metrics::Bound<crate::metrics::DecisionSeries>,
}

struct TransactionTokens {
    validator: TxnTokenValidator,
    required: bool,
}

/// One authentication configuration, built once and shared by every adapter: the verifier(s),
/// the mode, the challenge configuration, transaction-token acceptance and the request-URI
/// policy. Cheap to clone.
///
/// ```no_run
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use authgent_jwks::{AgentAuth, Verifier};
/// let verifier = Verifier::builder()
///     .issuer("http://127.0.0.1:8000")
///     .audience("https://tools.example.com")
///     .external_url("https://tools.example.com")
///     .build()?;
/// let auth = AgentAuth::builder(verifier).optional().build()?;
/// // The challenge names the metadata document, derived from the resource:
/// assert_eq!(
///     auth.challenge().resource_metadata.as_deref(),
///     Some("https://tools.example.com/.well-known/oauth-protected-resource")
/// );
/// // axum/tower: .layer(AgentAuthLayer::new(auth.clone()))
/// // actix-web:  .wrap(AgentAuthMiddleware::new(auth.clone()))
/// // Rocket:     .attach(AgentAuthFairing::new(auth))
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AgentAuth {
    inner: Arc<Inner>,
}

impl fmt::Debug for AgentAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentAuth")
            .field("verifiers", &self.inner.verifiers)
            .field("mode", &self.inner.mode)
            .field("resource_metadata", &self.inner.challenge.resource_metadata)
            .field(
                "transaction_tokens",
                &self.inner.transaction_tokens.as_ref().map(|t| t.required),
            )
            .finish_non_exhaustive()
    }
}

/// Builds an [`AgentAuth`].
#[must_use]
pub struct AgentAuthBuilder {
    verifiers: Verifiers,
    mode: AuthMode,
    resource: Option<String>,
    resource_metadata: Option<Option<String>>,
    scopes_supported: Vec<String>,
    realm: Option<String>,
    verbose: bool,
    body: Option<ErrorBodyHook>,
    transaction_tokens: Option<TransactionTokens>,
    audit_sink: Option<Arc<dyn AuditSink>>,
}

impl fmt::Debug for AgentAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentAuthBuilder")
            .field("mode", &self.mode)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl AgentAuthBuilder {
    /// Lets requests without credentials through as anonymous (invalid credentials are still
    /// refused).
    pub fn optional(mut self) -> Self {
        self.mode = AuthMode::Optional;
        self
    }

    /// Sets the mode.
    pub fn mode(mut self, mode: AuthMode) -> Self {
        self.mode = mode;
        self
    }

    /// The RFC 9728 resource identifier (this service's URL). Default: the verifier's one
    /// audience when it is a URL on the external URL's origin, else the external URL.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// The `resource_metadata` URL sent in challenges. Default: the well-known URL of the
    /// resource's metadata document (RFC 9728 §3.1), which this configuration serves.
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(Some(url.into()));
        self
    }

    /// Sends no `resource_metadata` in challenges and serves no metadata document.
    pub fn without_resource_metadata(mut self) -> Self {
        self.resource_metadata = Some(None);
        self
    }

    /// `scopes_supported` of the metadata document.
    pub fn scopes_supported<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        scopes: I,
    ) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// `realm` in challenges.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Puts each error's own message in `error_description` (default: fixed terse texts that
    /// reveal nothing about why a token failed; the reason is logged at DEBUG either way).
    pub fn verbose_errors(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// Builds error bodies with `hook` instead of the default JSON.
    pub fn error_body(
        mut self,
        hook: impl Fn(&ErrorResponse) -> String + Send + Sync + 'static,
    ) -> Self {
        self.body = Some(Arc::new(hook));
        self
    }

    /// Verifies a `Txn-Token` header when a request carries one (draft-ietf-oauth-
    /// transaction-tokens), with the verifier's keys; an invalid one is refused (401). The
    /// verified token reaches handlers through [`AuthContext::transaction_token`].
    pub fn transaction_tokens(mut self, validator: TxnTokenValidator) -> Self {
        self.transaction_tokens = Some(TransactionTokens {
            validator,
            required: false,
        });
        self
    }

    /// [`Self::transaction_tokens`], and a request without a `Txn-Token` is refused (401).
    pub fn require_transaction_tokens(mut self, validator: TxnTokenValidator) -> Self {
        self.transaction_tokens = Some(TransactionTokens {
            validator,
            required: true,
        });
        self
    }

    /// Also hands every audit event to `sink` (besides the `tracing` event with target
    /// `authgent::audit`): [`JsonLines`](crate::audit::JsonLines) for JSON lines on stderr
    /// or a file, or any `Fn(&AuditEvent)`. See [`crate::audit`].
    ///
    /// ```no_run
    /// # fn demo(verifier: authgent_jwks::Verifier) -> Result<(), Box<dyn std::error::Error>> {
    /// use authgent_jwks::{AgentAuth, audit::JsonLines};
    /// let auth = AgentAuth::builder(verifier).audit_sink(JsonLines::stderr()).build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn audit_sink(mut self, sink: impl AuditSink) -> Self {
        self.audit_sink = Some(Arc::new(sink));
        self
    }

    /// The configuration.
    pub fn build(self) -> Result<AgentAuth, ConfigError> {
        let primary = self.verifiers.primary().ok_or(ConfigError::Required {
            setting: "verifier",
            fix: "give MultiIssuerVerifier at least one Verifier",
        })?;
        let resource = self
            .resource
            .or_else(|| derived_resource(primary).map(str::to_owned));
        let document = match (&self.resource_metadata, &resource) {
            (Some(None), _) | (_, None) => None,
            (_, Some(resource)) => {
                let mut doc = ProtectedResourceMetadata::builder(resource.clone())
                    .scopes_supported(self.scopes_supported.iter().cloned());
                for issuer in self.verifiers.issuers() {
                    doc = doc.authorization_server(issuer);
                }
                if let Some(algs) = primary.dpop_algorithms() {
                    doc = doc.dpop_signing_algs(algs);
                }
                Some(doc.build()?)
            }
        };
        let metadata = document
            .map(|document| -> Result<MetadataDocument, ConfigError> {
                let json = serde_json::to_string(&document)
                    .map_err(|_| ConfigError::Invalid {
                        setting: "resource",
                        reason: "a metadata document that serialises",
                    })?
                    .into();
                Ok(MetadataDocument {
                    path: document.well_known_path(),
                    json,
                    document,
                })
            })
            .transpose()?;
        let metadata_url = match self.resource_metadata {
            Some(explicit) => explicit,
            None => metadata
                .as_ref()
                .and_then(|m| m.document.well_known_url().ok()),
        };
        let mut challenge = primary.challenge_config(metadata_url);
        challenge.realm = self.realm;
        challenge.verbose = self.verbose;
        challenge.body = self.body;
        Ok(AgentAuth {
            inner: Arc::new(Inner {
                verifiers: self.verifiers,
                mode: self.mode,
                challenge,
                transaction_tokens: self.transaction_tokens,
                metadata,
                audit_sink: self.audit_sink,
                series: Default::default(),
            }),
        })
    }
}

/// The resource identifier a verifier implies: its one URL audience when that is on the
/// external URL's origin (or there is no external URL), else the external URL.
fn derived_resource(verifier: &Verifier) -> Option<&str> {
    let external = verifier.external_url();
    let audience = verifier.resource_audience();
    match (audience, external) {
        (Some(aud), Some(ext)) if same_origin(aud, ext) => Some(aud),
        (Some(aud), None) => Some(aud),
        (_, ext) => ext,
    }
}

fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

impl AgentAuth {
    /// Starts a configuration over `verifiers` (a [`Verifier`] or a [`MultiIssuerVerifier`]):
    /// credentials required, terse errors, `resource_metadata` derived from the resource.
    pub fn builder(verifiers: impl Into<Verifiers>) -> AgentAuthBuilder {
        AgentAuthBuilder {
            verifiers: verifiers.into(),
            mode: AuthMode::Required,
            resource: None,
            resource_metadata: None,
            scopes_supported: Vec::new(),
            realm: None,
            verbose: false,
            body: None,
            transaction_tokens: None,
            audit_sink: None,
        }
    }

    /// The mode.
    pub fn mode(&self) -> AuthMode {
        self.inner.mode
    }

    /// The verifier(s).
    pub fn verifiers(&self) -> &Verifiers {
        &self.inner.verifiers
    }

    /// How refusals are described.
    pub fn challenge(&self) -> &ChallengeConfig {
        &self.inner.challenge
    }

    /// The RFC 9728 document this resource serves, when its resource is known.
    pub fn metadata(&self) -> Option<&MetadataDocument> {
        self.inner.metadata.as_ref()
    }

    /// The refusal of a request that used `scheme` for `error`.
    pub fn reject(&self, error: AuthgentError, scheme: Option<Scheme>) -> Rejection {
        Rejection::new(self, error, scheme)
    }

    /// Authenticates one request: `method`, its `target` (path and query, or an absolute URI
    /// for an absolute-form request) and its headers. The request URI a DPoP proof is compared
    /// with, duplicate-header rules and forwarded-header trust are decided here, from the
    /// verifier's settings, for every framework alike.
    ///
    /// `Ok` carries the [`AuthContext`] (anonymous in optional mode); `Err` the refusal to
    /// send, already audited (an `authgent::audit` event). An adapter calls
    /// [`AuthContext::record_response`] once the service answered an accepted request.
    ///
    /// Runs in an `authgent.authenticate` span (OpenTelemetry attribute names: see
    /// docs/operations.md).
    pub async fn authenticate(
        &self,
        method: &str,
        target: &str,
        headers: &(impl HeaderSource + ?Sized),
    ) -> Result<AuthContext, Rejection> {
        let span = tracing::info_span!(target: "authgent_jwks", "authgent.authenticate",
            "http.request.method" = method,
            "authgent.scheme" = tracing::field::Empty,
            "enduser.id" = tracing::field::Empty,
            "authgent.client_id" = tracing::field::Empty,
            "authgent.delegation.depth" = tracing::field::Empty,
            "authgent.delegation.actor" = tracing::field::Empty,
            "authgent.delegation.chain" = tracing::field::Empty,
            "authgent.delegation.human_root" = tracing::field::Empty,
            "authgent.dpop.jkt" = tracing::field::Empty,
            "authgent.token.issuer" = tracing::field::Empty,
            "error.type" = tracing::field::Empty,
            "otel.status_code" = tracing::field::Empty);
        let request_span = tracing::Span::current();
        let audit = Arc::new(RequestAudit::new(
            audit::listening(self.inner.audit_sink.as_ref()),
            method,
            target,
        ));
        let result = self
            .authenticate_inner(method, target, headers, (Arc::clone(&audit), request_span))
            .instrument(span.clone())
            .await;
        match &result {
            Ok(context) if !span.is_disabled() => {
                if let Some(scheme) = context.scheme {
                    span.record("authgent.scheme", scheme_name(scheme));
                }
                if let Some(identity) = &context.identity {
                    audit::record_identity(&span, identity);
                }
            }
            Ok(_) => {}
            Err(rejection) => {
                span.record("error.type", rejection.code());
                span.record("otel.status_code", "error");
                crate::metrics::refused(rejection.code());
                if audit.enabled() && audit.claim() {
                    let mut event = audit.event(Outcome::Refused, rejection.status());
                    if let Some(error) = &rejection.error {
                        event = event.with_error(rejection.code(), error.to_string());
                    }
                    if let Some(scheme) = rejection.scheme {
                        event = event.with_scheme(scheme_name(scheme));
                    }
                    audit::record(&event, self.inner.audit_sink.as_ref());
                }
            }
        }
        result
    }

    async fn authenticate_inner(
        &self,
        method: &str,
        target: &str,
        headers: &(impl HeaderSource + ?Sized),
        (audit, request_span): (Arc<RequestAudit>, tracing::Span),
    ) -> Result<AuthContext, Rejection> {
        let authorization = headers.header_values("authorization");
        let dpop = headers.header_values("dpop");
        let scheme = authorization
            .first()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(Scheme::from_authorization);
        let fail = |e: AuthgentError| Rejection::new(self, e, scheme);
        let credentials = Credentials::from_headers(&authorization, &dpop).map_err(&fail)?;
        let verified = match credentials {
            None if self.inner.mode == AuthMode::Optional => None,
            None => return Err(fail(AuthgentError::MissingCredentials)),
            Some(credentials) => {
                let verifier = match &self.inner.verifiers {
                    Verifiers::One(v) => v,
                    Verifiers::Many(m) => m.route(credentials.token()).map_err(&fail)?,
                };
                // Only a DPoP proof's `htu` is compared with the request's URI.
                let uri = match credentials.scheme() {
                    Scheme::Dpop => request_uri(verifier, target, headers),
                    _ => String::new(),
                };
                let request = RequestParts::new(method, &uri, &authorization, &dpop);
                let identity = verifier
                    .verify_credentials(&request, credentials)
                    .await
                    .map_err(&fail)?
                    .ok_or_else(|| fail(AuthgentError::MissingCredentials))?;
                Some((
                    identity,
                    verifier.clone(),
                    Arc::<str>::from(credentials.token()),
                ))
            }
        };
        let transaction = self
            .transaction_token(headers, verified.as_ref().map(|v| &v.1))
            .await
            .map_err(&fail)?;
        let dpop_nonce = match (&verified, scheme) {
            (Some((_, verifier, _)), Some(Scheme::Dpop)) => verifier.dpop_nonce_for_success(),
            _ => None,
        };
        let (identity, verifier, token) = match verified {
            Some((i, v, t)) => (Some(i), Some(v), Some(t)),
            None => (None, None, None),
        };
        Ok(AuthContext {
            identity,
            scheme,
            verifier,
            token,
            transaction,
            dpop_nonce,
            auth: self.clone(),
            audit,
            request_span,
        })
    }

    /// [`Self::authenticate`] for an `http` request (tower, hyper, axum).
    pub async fn authenticate_parts(
        &self,
        parts: &http::request::Parts,
    ) -> Result<AuthContext, Rejection> {
        let target = if parts.uri.scheme().is_some() {
            std::borrow::Cow::Owned(parts.uri.to_string())
        } else {
            std::borrow::Cow::Borrowed(parts.uri.path_and_query().map_or("/", |p| p.as_str()))
        };
        self.authenticate(parts.method.as_str(), &target, &parts.headers)
            .await
    }

    async fn transaction_token(
        &self,
        headers: &(impl HeaderSource + ?Sized),
        verifier: Option<&Verifier>,
    ) -> Result<Option<Arc<TransactionToken>>, AuthgentError> {
        let Some(config) = &self.inner.transaction_tokens else {
            return Ok(None);
        };
        let values = headers.header_values("txn-token");
        let Some(token) = TxnTokenValidator::from_headers(&values)? else {
            return if config.required {
                Err(RequestError::MissingTxnToken.into())
            } else {
                Ok(None)
            };
        };
        let verifier = verifier
            .or_else(|| self.inner.verifiers.primary())
            .ok_or(AuthgentError::MissingCredentials)?;
        verifier
            .verify_transaction_token(token, &config.validator)
            .await
            .map(|t| Some(Arc::new(t)))
    }
}

/// The URI a DPoP proof's `htu` is compared with, by `verifier`'s policy.
fn request_uri(
    verifier: &Verifier,
    target: &str,
    headers: &(impl HeaderSource + ?Sized),
) -> String {
    let absolute: Option<http::Uri> = (!target.starts_with('/'))
        .then(|| target.parse().ok())
        .flatten();
    let (path, origin) = match &absolute {
        Some(uri) => (
            uri.path_and_query().map_or("/", |p| p.as_str()),
            uri.scheme_str().zip(uri.authority().map(|a| a.as_str())),
        ),
        None => (target, None),
    };
    verifier.uri_for(
        path,
        origin,
        headers.header_str("host"),
        headers.header_str("x-forwarded-proto"),
        headers.header_str("x-forwarded-host"),
    )
}

/// What authentication established for one request: the verified identity (or anonymous in
/// optional mode), the scheme, the transaction token, and the configuration that decided.
/// Adapters store it in the request; its presence proves authentication ran.
#[derive(Clone)]
pub struct AuthContext {
    identity: Option<Arc<AgentIdentity>>,
    scheme: Option<Scheme>,
    verifier: Option<Verifier>,
    token: Option<Arc<str>>,
    transaction: Option<Arc<TransactionToken>>,
    dpop_nonce: Option<String>,
    auth: AgentAuth,
    audit: Arc<RequestAudit>,
    request_span: tracing::Span,
}

impl fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthContext")
            .field("subject", &self.identity.as_ref().map(|i| i.subject()))
            .field("scheme", &self.scheme)
            .field("transaction", &self.transaction.as_ref().map(|t| &t.txn))
            .finish_non_exhaustive()
    }
}

impl AuthContext {
    /// The verified identity; `None` for an anonymous request in optional mode.
    pub fn identity(&self) -> Option<&Arc<AgentIdentity>> {
        self.identity.as_ref()
    }

    /// The scheme the request authenticated with.
    pub fn scheme(&self) -> Option<Scheme> {
        self.scheme
    }

    /// The verified `Txn-Token`, when transaction tokens are configured and one came.
    pub fn transaction_token(&self) -> Option<&Arc<TransactionToken>> {
        self.transaction.as_ref()
    }

    /// A `DPoP-Nonce` for the success response (nonces on, bucket about to roll).
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop_nonce.as_deref()
    }

    /// The configuration.
    pub fn auth(&self) -> &AgentAuth {
        &self.auth
    }

    /// The span the request was authenticated in: the framework's request span (tower-http's
    /// `TraceLayer`, an OpenTelemetry HTTP layer), or a disabled span when there was none.
    /// Work done for this request on another task — an MCP tool on rmcp's session task —
    /// parents its spans on it, so the trace stays one tree
    /// (`authgent_rmcp::tool_span` does).
    pub fn request_span(&self) -> &tracing::Span {
        &self.request_span
    }

    /// The verifier that verified the token (for several issuers, the token's issuer's).
    pub fn verifier(&self) -> Option<&Verifier> {
        self.verifier.as_ref()
    }

    /// The caller's access token, as the `subject_token` of an RFC 8693 exchange — the only
    /// way a service should act downstream on the caller's behalf (MCP authorization forbids
    /// token passthrough: never forward it; exchange it for a token of the downstream
    /// audience, e.g. with `authgent_client::TokenManager::send_on_behalf`). `None` for an
    /// anonymous request. Its `Debug` is redacted.
    pub fn subject_token(&self) -> Option<SubjectToken> {
        self.token.clone().map(SubjectToken)
    }

    /// The refusal of this request for `error`. It is noted on the request and becomes its
    /// audit event (refused, with the caller's identity and the reason) when the response
    /// carries its status ([`record_response`](Self::record_response)).
    pub fn reject(&self, error: AuthgentError) -> Rejection {
        let rejection = Rejection::new(&self.auth, error, self.scheme);
        self.audit
            .note_refusal(rejection.status(), rejection.code(), || {
                rejection.error.as_ref().map(ToString::to_string)
            });
        rejection
    }

    /// Notes a refusal this request got outside [`reject`](Self::reject) (an MCP envelope
    /// error answered in JSON-RPC): its `status`, `code` and `reason` (never a token). Like a
    /// rejection, it becomes the request's audit event when the response carries `status`.
    pub fn record_refusal(&self, status: u16, code: &'static str, reason: Option<String>) {
        self.audit.note_refusal(status, code, || reason);
    }

    /// The request's audit event, once the response is known: refused with the refusal noted
    /// on it when the response carries that refusal's status, else allowed with `status`.
    /// Only the first call emits. Every adapter calls it when its inner service answered;
    /// call it yourself when you drive [`AgentAuth::authenticate`] from your own integration.
    pub fn record_response(&self, status: u16) {
        if !self.audit.claim() {
            return;
        }
        let refusal = self.audit.refusal_answered_with(status);
        match &refusal {
            Some(refusal) => crate::metrics::refused(refusal.code),
            None => crate::metrics::allowed(&self.auth.inner.series),
        }
        if !self.audit.enabled() {
            return;
        }
        let event = match refusal {
            Some(refusal) => {
                let mut event = self.audit.event(Outcome::Refused, status);
                event.error = Some(Cow::Borrowed(refusal.code));
                event.reason = refusal.reason.map(Cow::Owned);
                event
            }
            None => self.audit.event(Outcome::Allowed, status),
        };
        self.emit(event);
    }

    /// Records the MCP messages this request carries (what `RequireTools` read from its body),
    /// so that its audit event names the tools, prompts and resources.
    pub fn record_mcp(&self, request: &McpRequest) {
        self.audit.set_mcp(request);
    }

    /// Adds what this request's authentication established and emits `event`.
    fn emit<'a>(&'a self, mut event: AuditEvent<'a>) {
        if let Some(scheme) = self.scheme {
            event = event.with_scheme(scheme_name(scheme));
        }
        if let Some(identity) = &self.identity {
            event = event.with_identity(identity);
        }
        audit::record(&event, self.auth.inner.audit_sink.as_ref());
    }

    /// The caller, or `None` for an anonymous request. Adapters that keep the context in a
    /// request's extensions (tower, axum, actix-web) put this [`Caller`] there too, so that
    /// `extensions().get::<Caller>()` finds the verified caller.
    pub fn verified_caller(&self) -> Option<Caller> {
        self.identity.as_ref().map(|identity| Caller {
            identity: Arc::clone(identity),
            context: self.clone(),
        })
    }

    /// The caller, or the 401 of a request without credentials.
    pub fn caller(&self) -> Result<Caller, Rejection> {
        match &self.identity {
            Some(identity) => Ok(Caller {
                identity: Arc::clone(identity),
                context: self.clone(),
            }),
            None => Err(self.reject(AuthgentError::MissingCredentials)),
        }
    }

    /// Runs `guard` for this request.
    pub async fn check(&self, guard: &Guard) -> Result<(), Rejection> {
        let caller = self.caller()?;
        match &guard.kind {
            GuardKind::Check(check) => check(&caller.identity).map_err(|e| self.reject(e)),
            GuardKind::ActiveToken => {
                let (Some(verifier), Some(token)) = (&self.verifier, &self.token) else {
                    return Err(self.reject(AuthgentError::MissingCredentials));
                };
                verifier
                    .check_revocation(token, &caller.identity)
                    .await
                    .map_err(|e| self.reject(e))
            }
        }
    }
}

/// A caller's access token kept for an RFC 8693 exchange ([`AuthContext::subject_token`]).
/// Redacted in `Debug`; [`expose`](Self::expose) is for the exchange request only.
#[derive(Clone)]
pub struct SubjectToken(Arc<str>);

impl SubjectToken {
    /// The token, for the `subject_token` of a token exchange. Never send it anywhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SubjectToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectToken(<redacted>)")
    }
}

/// The verified caller, as handlers see it in every adapter (each wraps it in its framework's
/// extractor). Derefs to [`AgentIdentity`]: `subject()`, `scopes()`, `delegation_chain()`, …
#[derive(Clone)]
pub struct Caller {
    identity: Arc<AgentIdentity>,
    context: AuthContext,
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.identity, f)
    }
}

impl Deref for Caller {
    type Target = AgentIdentity;

    fn deref(&self) -> &AgentIdentity {
        &self.identity
    }
}

impl Caller {
    /// The shared identity.
    pub fn shared(&self) -> &Arc<AgentIdentity> {
        &self.identity
    }

    /// What authentication established for the request.
    pub fn context(&self) -> &AuthContext {
        &self.context
    }

    /// The verified `Txn-Token`, if any.
    pub fn transaction_token(&self) -> Option<&Arc<TransactionToken>> {
        self.context.transaction_token()
    }

    /// Refuses (403 `insufficient_scope` with the scopes needed) unless `requirement` is met.
    pub fn require_scopes(&self, requirement: &ScopeRequirement) -> Result<(), Rejection> {
        requirement
            .check(self.identity.scopes())
            .map_err(|e| self.context.reject(e.into()))
    }

    /// Refuses (403 with the delegation code) unless the chain satisfies `policy`.
    pub fn require_chain(&self, policy: &ChainPolicy) -> Result<(), Rejection> {
        policy
            .check(self.identity.delegation_chain())
            .map_err(|e| self.context.reject(e.into()))
    }

    /// Refuses with `check`'s error (its status and challenge) unless it passes.
    pub fn require(
        &self,
        check: impl FnOnce(&AgentIdentity) -> Result<(), AuthgentError>,
    ) -> Result<(), Rejection> {
        check(&self.identity).map_err(|e| self.context.reject(e))
    }
}

type Check = Arc<dyn Fn(&AgentIdentity) -> Result<(), AuthgentError> + Send + Sync>;

#[derive(Clone)]
enum GuardKind {
    Check(Check),
    ActiveToken,
}

/// A per-route requirement, the same in every adapter (each turns it into its framework's
/// guard: a tower layer, an actix middleware): scopes, a chain policy, a closure, or that the
/// token is still active at its issuer.
///
/// ```
/// use authgent_core::{AuthgentError, ChainPolicy, ScopeError};
/// use authgent_jwks::Guard;
/// let delete = Guard::all(["db:delete"]);
/// let human = Guard::chain(ChainPolicy::builder().require_human_root(true).build());
/// let alice = Guard::check(|id| match id.subject() {
///     "user:alice" => Ok(()),
///     _ => Err(ScopeError::new(["alice-only"]).into()),
/// });
/// # let _ = (delete, human, alice, Guard::active_token());
/// ```
#[derive(Clone)]
pub struct Guard {
    kind: GuardKind,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            GuardKind::Check(_) => "Guard(check)",
            GuardKind::ActiveToken => "Guard(active_token)",
        })
    }
}

impl Guard {
    /// Every scope is required: 403 `insufficient_scope` naming them.
    pub fn all<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        Self::scopes(ScopeRequirement::all(scopes))
    }

    /// One of the scopes suffices.
    pub fn any<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        Self::scopes(ScopeRequirement::any(scopes))
    }

    /// A [`ScopeRequirement`].
    pub fn scopes(requirement: ScopeRequirement) -> Self {
        Self::check(move |id| Ok(requirement.check(id.scopes())?))
    }

    /// A [`ChainPolicy`]: 403 with `delegation_depth_exceeded`, `unauthorized_actor` or
    /// `no_human_root`.
    pub fn chain(policy: ChainPolicy) -> Self {
        Self::check(move |id| Ok(policy.check(id.delegation_chain())?))
    }

    /// Any check of the identity; its error decides the status and challenge.
    pub fn check(
        check: impl Fn(&AgentIdentity) -> Result<(), AuthgentError> + Send + Sync + 'static,
    ) -> Self {
        Guard {
            kind: GuardKind::Check(Arc::new(check)),
        }
    }

    /// The token must still be active at its issuer (RFC 7662, the verifier's
    /// [`RevocationCheck`](crate::RevocationCheck)): revoked → 401, introspection down → 503
    /// (unless fail-open), no revocation check configured → 500.
    pub fn active_token() -> Self {
        Guard {
            kind: GuardKind::ActiveToken,
        }
    }
}

/// A refusal: the response to send (status, every header, body) and the error that caused it
/// (its [`source`](std::error::Error::source)). Every adapter's rejection wraps one.
#[derive(Clone)]
pub struct Rejection {
    response: Box<ErrorResponse>,
    error: Option<AuthgentError>,
    scheme: Option<Scheme>,
}

impl Rejection {
    /// Every refusal of every adapter is made here, so this one event explains each of them:
    /// at debug level, target `authgent_jwks::refusal`, with the status, the code and the
    /// precise reason (`token has expired`, `token audience (aud) does not include this
    /// resource`, `DPoP proof was replayed`, …). The reason never contains the token or the
    /// proof; the response body carries only the code unless `verbose_errors` is on.
    fn new(auth: &AgentAuth, error: AuthgentError, scheme: Option<Scheme>) -> Self {
        let response = ErrorResponse::new(&error, scheme, &auth.inner.challenge);
        tracing::debug!(
            target: "authgent_jwks::refusal",
            status = response.status,
            code = response.code,
            reason = %error,
            "request refused"
        );
        Rejection {
            response: Box::new(response),
            error: Some(error),
            scheme,
        }
    }

    /// The 500 of a guard or extractor that runs without authentication in front of it: a
    /// configuration bug, never a silent pass. `fix` says what to add.
    pub fn missing_authentication(what: &str, fix: &str) -> Self {
        Rejection {
            response: Box::new(ErrorResponse::server_error(format!("{what} needs {fix}"))),
            error: None,
            scheme: None,
        }
    }

    /// The response to send.
    pub fn response(&self) -> &ErrorResponse {
        &self.response
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.response.status
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        self.response.code
    }

    /// The error that caused the refusal (`None` for a missing-authentication 500).
    pub fn error(&self) -> Option<&AuthgentError> {
        self.error.as_ref()
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("status", &self.status())
            .field("code", &self.code())
            .finish()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Some(error) => write!(f, "{} {}: {error}", self.status(), self.code()),
            None => write!(
                f,
                "{} {}: {}",
                self.status(),
                self.code(),
                self.response.description
            ),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.as_ref().map(|e| e as _)
    }
}
