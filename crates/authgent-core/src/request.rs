//! One request end to end: credentials, token, DPoP binding — shared by every adapter.

use std::time::SystemTime;

use crate::challenge::ChallengeConfig;
use crate::credentials::{Credentials, Scheme};
use crate::dpop::{CheckedProof, DpopRequest, DpopVerifier, ReplayGuard};
use crate::error::{AuthgentError, ConfigError, DpopError, TokenError};
use crate::identity::AgentIdentity;
use crate::key::{KeyResolver, VerificationKey};
use crate::validator::{TokenValidator, UntrustedToken};

/// Whether and how a resource accepts DPoP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopMode {
    /// Bearer and DPoP both accepted; DPoP-bound tokens need their proof (default).
    #[default]
    Allowed,
    /// Only DPoP-bound tokens with a valid proof.
    Required,
    /// DPoP not accepted (bound tokens therefore rejected).
    Disabled,
}

/// The parts of an HTTP request verification needs, as plain strings and bytes.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct RequestParts<'a> {
    /// The method (`GET`, `POST`, …).
    pub method: &'a str,
    /// The absolute URI as the client addressed it: configured external base URL + path
    /// (+ query, which DPoP ignores). Never built from `X-Forwarded-*` unless trusted.
    pub uri: &'a str,
    /// Raw values of every `Authorization` header.
    pub authorization: &'a [&'a [u8]],
    /// Raw values of every `DPoP` header.
    pub dpop: &'a [&'a [u8]],
    /// The access token's DPoP `ath`, when already known ([`DpopRequest::access_token_hash`]).
    pub access_token_hash: Option<&'a str>,
}

impl std::fmt::Debug for RequestParts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestParts")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field(
                "authorization",
                &format_args!("<{} redacted>", self.authorization.len()),
            )
            .field("dpop", &format_args!("<{} redacted>", self.dpop.len()))
            .finish()
    }
}

impl<'a> RequestParts<'a> {
    /// Request parts from their pieces.
    pub fn new(
        method: &'a str,
        uri: &'a str,
        authorization: &'a [&'a [u8]],
        dpop: &'a [&'a [u8]],
    ) -> Self {
        RequestParts {
            method,
            uri,
            authorization,
            dpop,
            access_token_hash: None,
        }
    }

    /// The same parts with the access token's DPoP `ath` already computed (kept by a
    /// verified-token cache): a DPoP proof's `ath` is compared with it instead of hashing the
    /// token again. It must be [`access_token_hash`](crate::dpop::access_token_hash) of the
    /// token in `authorization`.
    #[must_use]
    pub fn with_access_token_hash(mut self, ath: &'a str) -> Self {
        self.access_token_hash = Some(ath);
        self
    }
}

/// A request whose credentials were read and whose token parsed, awaiting its key.
#[derive(Debug)]
pub struct PendingRequest<'a> {
    credentials: Credentials<'a>,
    token: UntrustedToken<'a>,
    method: &'a str,
    uri: &'a str,
}

impl PendingRequest<'_> {
    /// The `kid` to resolve.
    pub fn kid(&self) -> &str {
        self.token.kid()
    }

    /// The unverified `iss`, for routing among pre-configured issuers only.
    pub fn unverified_issuer(&self) -> Option<String> {
        self.token.unverified_issuer()
    }

    /// The scheme the request used.
    pub fn scheme(&self) -> Scheme {
        self.credentials.scheme()
    }

    /// The access token (for cache keys; never log it).
    pub fn token(&self) -> &str {
        self.credentials.token()
    }
}

/// Verifies requests to a protected resource: token, DPoP proof and binding.
///
/// Synchronous and I/O-free: [`verify`](Self::verify) takes a [`KeyResolver`]; an async key
/// source splits the work with [`begin`](Self::begin) and [`finish`](Self::finish).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use authgent_core::*;
/// use authgent_core::dpop::{DpopKey, DpopVerifier, ProofId, ReplayGuard, ReplayVerdict};
/// use authgent_core::request::{RequestParts, RequestVerifier};
/// # struct Store(std::sync::Mutex<std::collections::HashSet<ProofId>>);
/// # impl ReplayGuard for Store {
/// #     fn check_and_record(&self, id: ProofId, _: std::time::SystemTime, _: std::time::SystemTime) -> ReplayVerdict {
/// #         if self.0.lock().unwrap().insert(id) { ReplayVerdict::Fresh } else { ReplayVerdict::Replayed }
/// #     }
/// # }
/// # let replay = Store(Default::default());
/// let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let issuer_key = SigningKey::generate(Algorithm::Es256)?.with_kid("k1");
/// let keys = KeySet::from_keys([issuer_key.verification_key()?]);
/// let dpop_key = DpopKey::generate_es256()?;
/// let claims = serde_json::json!({"iss": "https://as.example", "sub": "client:a",
///     "aud": "https://api.example", "exp": 1_800_000_300, "cnf": {"jkt": dpop_key.jkt()}});
/// let token = issuer_key.sign(&Default::default(), claims.as_object().unwrap())?;
///
/// let verifier = RequestVerifier::new(
///     TokenValidator::builder("https://as.example").audience("https://api.example").build()?,
///     DpopVerifier::builder().build()?,
/// );
/// let uri = "https://api.example/tools/search";
/// let proof = dpop_key.proof("POST", uri, Some(&token), None, now)?;
/// let auth = format!("DPoP {token}");
/// let authorization: [&[u8]; 1] = [auth.as_bytes()];
/// let dpop: [&[u8]; 1] = [proof.as_bytes()];
/// let identity = verifier
///     .verify(&RequestParts::new("POST", uri, &authorization, &dpop), &keys, &replay, now)?
///     .expect("credentials were sent");
/// assert_eq!(identity.dpop_jkt(), Some(dpop_key.jkt()));
///
/// // The same bound token as Bearer is refused (RFC 9449 §7.2).
/// let bearer = format!("Bearer {token}");
/// let authorization: [&[u8]; 1] = [bearer.as_bytes()];
/// assert!(verifier.verify(&RequestParts::new("POST", uri, &authorization, &[]), &keys, &replay, now).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RequestVerifier {
    validator: TokenValidator,
    dpop: DpopVerifier,
    mode: DpopMode,
}

impl RequestVerifier {
    /// A verifier with DPoP [`DpopMode::Allowed`].
    pub fn new(validator: TokenValidator, dpop: DpopVerifier) -> Self {
        RequestVerifier {
            validator,
            dpop,
            mode: DpopMode::Allowed,
        }
    }

    /// Sets the DPoP mode.
    #[must_use]
    pub fn with_dpop_mode(mut self, mode: DpopMode) -> Self {
        self.mode = mode;
        self
    }

    /// The token validator.
    pub fn validator(&self) -> &TokenValidator {
        &self.validator
    }

    /// The DPoP verifier.
    pub fn dpop(&self) -> &DpopVerifier {
        &self.dpop
    }

    /// The DPoP mode.
    pub fn dpop_mode(&self) -> DpopMode {
        self.mode
    }

    /// The challenge configuration matching this verifier (DPoP algorithms when accepted).
    pub fn challenge_config(&self, resource_metadata: Option<String>) -> ChallengeConfig {
        let algs = (self.mode != DpopMode::Disabled).then(|| self.dpop.algorithms().to_vec());
        ChallengeConfig::new(resource_metadata, algs)
    }

    /// Reads credentials and parses the token. `Ok(None)` when the request has none.
    pub fn begin<'a>(
        &self,
        request: &RequestParts<'a>,
    ) -> Result<Option<PendingRequest<'a>>, AuthgentError> {
        match Credentials::from_headers(request.authorization, request.dpop)? {
            Some(credentials) => self.parse(credentials, request).map(Some),
            None => Ok(None),
        }
    }

    /// [`begin`](Self::begin) in two steps: `credentials` (read with
    /// [`Credentials::from_headers`]) are parsed only now — so a cache of verified tokens can
    /// be consulted with [`Credentials::token`] first, and a hit checked with
    /// [`check_cached_binding`](Self::check_cached_binding) without parsing anything.
    pub fn parse<'a>(
        &self,
        credentials: Credentials<'a>,
        request: &RequestParts<'a>,
    ) -> Result<PendingRequest<'a>, AuthgentError> {
        let token = self.validator.parse(credentials.token())?;
        Ok(PendingRequest {
            credentials,
            token,
            method: request.method,
            uri: request.uri,
        })
    }

    /// Verifies the token with its resolved key (`None`: the kid is unknown), then the DPoP
    /// proof and binding.
    pub fn finish(
        &self,
        pending: &PendingRequest<'_>,
        key: Option<&VerificationKey>,
        replay: &dyn ReplayGuard,
        now: SystemTime,
    ) -> Result<AgentIdentity, AuthgentError> {
        let (identity, proof) = self.finish_unrecorded(pending, key, now)?;
        record(proof, replay, now)?;
        Ok(identity)
    }

    /// [`finish`](Self::finish) without the replay check: the DPoP proof, when one was
    /// checked, is returned for the caller to record in its (possibly asynchronous) replay
    /// store with [`CheckedProof::record`]. The request is accepted only after that.
    pub fn finish_unrecorded(
        &self,
        pending: &PendingRequest<'_>,
        key: Option<&VerificationKey>,
        now: SystemTime,
    ) -> Result<(AgentIdentity, Option<CheckedProof>), AuthgentError> {
        let key = key.ok_or(TokenError::UnknownKeyId)?;
        let identity = self.validator.verify_with_key(&pending.token, key, now)?;
        let proof = self.binding(
            &pending.credentials,
            pending.method,
            pending.uri,
            None,
            &identity,
            now,
        )?;
        Ok((identity, proof))
    }

    /// Checks DPoP binding for an identity already verified (e.g. served from a cache): the
    /// proof is never cached, so this runs on every request.
    pub fn check_binding(
        &self,
        pending: &PendingRequest<'_>,
        identity: &AgentIdentity,
        replay: &dyn ReplayGuard,
        now: SystemTime,
    ) -> Result<(), AuthgentError> {
        let proof = self.binding(
            &pending.credentials,
            pending.method,
            pending.uri,
            None,
            identity,
            now,
        )?;
        record(proof, replay, now)
    }

    /// [`check_binding`](Self::check_binding) for a token served from a cache of verified
    /// tokens, from the request's credentials alone (the token is not parsed again).
    pub fn check_cached_binding(
        &self,
        credentials: &Credentials<'_>,
        request: &RequestParts<'_>,
        identity: &AgentIdentity,
        replay: &dyn ReplayGuard,
        now: SystemTime,
    ) -> Result<(), AuthgentError> {
        let proof = self.cached_binding_unrecorded(credentials, request, identity, now)?;
        record(proof, replay, now)
    }

    /// [`check_cached_binding`](Self::check_cached_binding) without the replay check: the
    /// checked DPoP proof, if any, is the caller's to record ([`CheckedProof::record`]).
    pub fn cached_binding_unrecorded(
        &self,
        credentials: &Credentials<'_>,
        request: &RequestParts<'_>,
        identity: &AgentIdentity,
        now: SystemTime,
    ) -> Result<Option<CheckedProof>, AuthgentError> {
        self.binding(
            credentials,
            request.method,
            request.uri,
            request.access_token_hash,
            identity,
            now,
        )
    }

    fn binding(
        &self,
        credentials: &Credentials<'_>,
        method: &str,
        uri: &str,
        access_token_hash: Option<&str>,
        identity: &AgentIdentity,
        now: SystemTime,
    ) -> Result<Option<CheckedProof>, AuthgentError> {
        let jkt = identity.dpop_jkt();
        match (credentials.scheme(), self.mode) {
            (Scheme::Dpop, DpopMode::Disabled) => Err(TokenError::DpopDisabled.into()),
            (Scheme::Bearer, DpopMode::Disabled) if jkt.is_some() => {
                Err(TokenError::DpopDisabled.into())
            }
            (Scheme::Bearer, DpopMode::Required) => Err(TokenError::DpopRequired.into()),
            // RFC 9449 §7.2: a bound token as Bearer is an attack or a bug, never accepted.
            (Scheme::Bearer, _) if jkt.is_some() => Err(TokenError::DpopBoundAsBearer.into()),
            (Scheme::Bearer, _) => Ok(None),
            (Scheme::Dpop, _) => {
                let jkt = jkt.ok_or(TokenError::NotDpopBound)?;
                let proof = credentials.proof().ok_or(DpopError::Missing)?;
                let mut request =
                    DpopRequest::new(method, uri).with_access_token(credentials.token(), jkt);
                if let Some(ath) = access_token_hash {
                    request = request.with_access_token_hash(ath);
                }
                Ok(Some(self.dpop.check(proof, &request, now)?))
            }
        }
    }

    /// Verifies a request against a fixed key set. `Ok(None)`: no credentials were sent.
    pub fn verify(
        &self,
        request: &RequestParts<'_>,
        keys: &impl KeyResolver,
        replay: &dyn ReplayGuard,
        now: SystemTime,
    ) -> Result<Option<AgentIdentity>, AuthgentError> {
        let Some(pending) = self.begin(request)? else {
            return Ok(None);
        };
        let key = keys.resolve(pending.kid());
        self.finish(&pending, key, replay, now).map(Some)
    }
}

/// Records a checked proof (if any) in a synchronous replay guard.
fn record(
    proof: Option<CheckedProof>,
    replay: &dyn ReplayGuard,
    now: SystemTime,
) -> Result<(), AuthgentError> {
    if let Some(proof) = proof {
        let verdict = replay.check_and_record(proof.id(), now, proof.expires_at());
        proof.record(verdict)?;
    }
    Ok(())
}

/// Checks that `url` is usable as a resource's external base URL (absolute `http(s)`), the
/// base every DPoP `htu` is compared with. Adapters call it when they are built.
pub fn check_external_url(url: &str) -> Result<(), ConfigError> {
    crate::uri::normalize_htu(url)
        .map(|_| ())
        .ok_or(ConfigError::Invalid {
            setting: "external URL",
            reason: "an absolute http(s) URL",
        })
}
