//! Resource-server verification of DPoP proofs: every check of RFC 9449 §4.3, plus `ath` and
//! `cnf.jkt` binding (§4.3 (12), §6.1, §7.1).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::NonceIssuer;
use crate::algorithm::Algorithm;
use crate::error::{ConfigError, DpopError, TokenError};
use crate::jws::{self, CompactJws};
use crate::key::{KeyError, PRIVATE_MEMBERS, VerificationKey};
use crate::time::{from_unix_seconds, secs, unix_seconds};

/// Default acceptance window for a proof's `iat`, either side of now.
pub const DEFAULT_IAT_WINDOW: Duration = Duration::from_secs(60);
/// Default cap on `jti` length in bytes.
pub const DEFAULT_MAX_JTI_BYTES: usize = 256;
const MAX_PROOF_BYTES: usize = 8 * 1024;
/// Prepared proof keys kept; a client reuses one DPoP key, so preparing it (parsing the JWK into
/// an OpenSSL key, the costliest step of a proof) happens once per client, not per request.
const PROOF_KEY_CACHE_CAPACITY: usize = 1024;

/// Prepared proof keys with their thumbprints, by the member that carries the key material
/// (`x` for EC and OKP keys, `n` for RSA); a hit needs the whole header `jwk` to be equal (all
/// members, so `kty`, `alg`, `use` and `key_ops` are part of the identity), so neither the key
/// nor its thumbprint is computed again for a client's next proof. Bounded: cleared when full.
/// A key is inserted only after a signature made with it verified, so junk keys cannot churn
/// the cache. The lock is only held for a lookup or an insert, never while verifying.
#[derive(Default)]
struct ProofKeyCache(Mutex<HashMap<String, Arc<CachedProofKey>>>);

struct CachedProofKey {
    jwk: serde_json::Map<String, Value>,
    key: Arc<VerificationKey>,
    jkt: String,
}

impl ProofKeyCache {
    fn material(jwk: &serde_json::Map<String, Value>) -> Option<&str> {
        jwk.get("x")
            .or_else(|| jwk.get("n"))
            .and_then(Value::as_str)
    }

    fn get(&self, jwk: &serde_json::Map<String, Value>) -> Option<Arc<CachedProofKey>> {
        let material = Self::material(jwk)?;
        let map = self.0.lock().ok()?;
        map.get(material)
            .filter(|cached| cached.jwk == *jwk)
            .map(Arc::clone)
    }

    fn insert(&self, jwk: &serde_json::Map<String, Value>, key: &Arc<VerificationKey>, jkt: &str) {
        let Some(material) = Self::material(jwk) else {
            return;
        };
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= PROOF_KEY_CACHE_CAPACITY {
                map.clear();
            }
            let cached = CachedProofKey {
                jwk: jwk.clone(),
                key: Arc::clone(key),
                jkt: jkt.to_owned(),
            };
            map.insert(material.to_owned(), Arc::new(cached));
        }
    }
}

/// Identifies a proof for replay detection: SHA-256 over the key thumbprint and the `jti`,
/// so stores hold 32 bytes per proof whatever the client sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ProofId(pub [u8; 32]);

impl ProofId {
    /// A proof id from its 32 bytes (for replay stores that keep ids elsewhere).
    pub const fn new(bytes: [u8; 32]) -> Self {
        ProofId(bytes)
    }

    /// The 32 bytes in base64url (43 characters), e.g. as a key in an external store.
    ///
    /// ```
    /// let id = authgent_core::dpop::ProofId::new([0xff; 32]);
    /// assert_eq!(id.to_base64url(), "_".repeat(42) + "8");
    /// ```
    pub fn to_base64url(&self) -> String {
        crate::b64::encode(self.0)
    }
}

/// What a [`ReplayGuard`] says about a proof id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayVerdict {
    /// First use: the id is now recorded.
    Fresh,
    /// The id was recorded before: the proof is a replay.
    Replayed,
    /// The id could not be recorded (store full, unreachable, too slow). The proof is refused
    /// with `503` and `Retry-After`: a guard that cannot record must never admit.
    Unavailable {
        /// When the store expects to accept ids again.
        retry_after: Duration,
    },
}

/// Remembers proof ids for as long as their proofs could be accepted (RFC 9449 §11.1).
///
/// Contract (CONFORMANCE 16): every id recorded stays recorded until its `expires_at`; an
/// implementation that cannot record an id answers [`ReplayVerdict::Unavailable`], never
/// [`ReplayVerdict::Fresh`] — so a cache whose admission policy may drop new entries (TinyLFU,
/// LRU under pressure) is not a replay guard. `authgent-jwks` has an exact in-memory one.
pub trait ReplayGuard {
    /// Records `id` until `expires_at` (both on the verifier's clock, `now` being its current
    /// time). [`ReplayVerdict::Fresh`] the first time, [`ReplayVerdict::Replayed`] after.
    fn check_and_record(
        &self,
        id: ProofId,
        now: SystemTime,
        expires_at: SystemTime,
    ) -> ReplayVerdict;
}

impl<T: ReplayGuard + ?Sized> ReplayGuard for &T {
    fn check_and_record(
        &self,
        id: ProofId,
        now: SystemTime,
        expires_at: SystemTime,
    ) -> ReplayVerdict {
        (**self).check_and_record(id, now, expires_at)
    }
}

impl<T: ReplayGuard + ?Sized> ReplayGuard for std::sync::Arc<T> {
    fn check_and_record(
        &self,
        id: ProofId,
        now: SystemTime,
        expires_at: SystemTime,
    ) -> ReplayVerdict {
        (**self).check_and_record(id, now, expires_at)
    }
}

/// The request a proof must match.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct DpopRequest<'a> {
    /// HTTP method, compared exactly with `htm`.
    pub method: &'a str,
    /// The absolute request URI as the client addressed it (configured external base URL +
    /// path); query and fragment are ignored.
    pub uri: &'a str,
    /// The access token sent with the proof; when set, `ath` is required and checked.
    pub access_token: Option<&'a str>,
    /// The token's `cnf.jkt`; when set, the proof key's thumbprint must equal it.
    pub expected_jkt: Option<&'a str>,
    /// `access_token_hash(access_token)`, when the caller already has it (a verified-token
    /// cache keeps it with the token); otherwise it is computed from `access_token`.
    pub access_token_hash: Option<&'a str>,
}

impl fmt::Debug for DpopRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopRequest")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("access_token", &self.access_token.map(|_| "<redacted>"))
            .field("expected_jkt", &self.expected_jkt)
            .finish()
    }
}

impl<'a> DpopRequest<'a> {
    /// A proof for `method` on `uri`, without an access token (as at a token endpoint).
    pub fn new(method: &'a str, uri: &'a str) -> Self {
        DpopRequest {
            method,
            uri,
            access_token: None,
            expected_jkt: None,
            access_token_hash: None,
        }
    }

    /// The proof accompanies `access_token` bound to `jkt` (resource access, §7.1).
    #[must_use]
    pub fn with_access_token(mut self, access_token: &'a str, jkt: &'a str) -> Self {
        self.access_token = Some(access_token);
        self.expected_jkt = Some(jkt);
        self
    }

    /// The access token's `ath` ([`access_token_hash`](super::access_token_hash) of the token
    /// given to [`with_access_token`](Self::with_access_token)), computed earlier: a server
    /// that caches verified tokens keeps it with the token instead of hashing the token on
    /// every request. It must be that token's hash; the proof's `ath` is compared with it.
    ///
    /// ```
    /// use authgent_core::dpop::{DpopRequest, access_token_hash};
    /// let ath = access_token_hash("tok");
    /// let request = DpopRequest::new("GET", "https://api.example/data")
    ///     .with_access_token("tok", "jkt")
    ///     .with_access_token_hash(&ath);
    /// assert_eq!(request.access_token_hash, Some(ath.as_str()));
    /// ```
    #[must_use]
    pub fn with_access_token_hash(mut self, ath: &'a str) -> Self {
        self.access_token_hash = Some(ath);
        self
    }
}

/// What a valid proof established.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedProof {
    /// RFC 7638 thumbprint of the proof key.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`.
    pub issued_at: SystemTime,
}

/// Verifies DPoP proofs. Built once; shared across requests.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use authgent_core::dpop::{DpopKey, DpopRequest, DpopVerifier, ProofId, ReplayGuard, ReplayVerdict};
/// # struct NoReplay(std::sync::Mutex<std::collections::HashSet<ProofId>>);
/// # impl ReplayGuard for NoReplay {
/// #     fn check_and_record(&self, id: ProofId, _: std::time::SystemTime, _: std::time::SystemTime) -> ReplayVerdict {
/// #         if self.0.lock().unwrap().insert(id) { ReplayVerdict::Fresh } else { ReplayVerdict::Replayed }
/// #     }
/// # }
/// # let replay = NoReplay(Default::default());
/// let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let key = DpopKey::generate_es256()?;
/// let proof = key.proof("GET", "https://api.example/data?q=1", Some("the-token"), None, now)?;
///
/// let verifier = DpopVerifier::builder().build()?;
/// let request = DpopRequest::new("GET", "https://API.example:443/data")
///     .with_access_token("the-token", key.jkt());
/// let verified = verifier.verify(&proof, &request, &replay, now)?;
/// assert_eq!(verified.jkt, key.jkt());
/// // the same proof again is a replay
/// assert!(verifier.verify(&proof, &request, &replay, now).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct DpopVerifier {
    algorithms: Vec<Algorithm>,
    iat_window: Duration,
    max_jti_bytes: usize,
    nonces: Option<NonceIssuer>,
    keys: Arc<ProofKeyCache>,
}

impl fmt::Debug for DpopVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopVerifier")
            .field("algorithms", &self.algorithms)
            .field("iat_window", &self.iat_window)
            .field("max_jti_bytes", &self.max_jti_bytes)
            .field("nonces", &self.nonces)
            .finish_non_exhaustive()
    }
}

impl DpopVerifier {
    /// Starts a verifier: all asymmetric algorithms, ±60 s `iat` window, no nonces.
    pub fn builder() -> DpopVerifierBuilder {
        DpopVerifierBuilder(DpopVerifier {
            algorithms: Algorithm::ALL.to_vec(),
            iat_window: DEFAULT_IAT_WINDOW,
            max_jti_bytes: DEFAULT_MAX_JTI_BYTES,
            nonces: None,
            keys: Arc::default(),
        })
    }

    /// Accepted proof algorithms (for `DPoP algs="…"` challenges).
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The nonce issuer, when server nonces are required.
    pub fn nonces(&self) -> Option<&NonceIssuer> {
        self.nonces.as_ref()
    }

    /// Verifies one proof (the value of the single `DPoP` header) for `request`.
    ///
    /// The `jti` is recorded in `replay` only after every other check passed, so invalid proofs
    /// cannot fill the store. With a replay store that does I/O (a network store shared by
    /// several replicas), call [`check`](Self::check), record [`CheckedProof::id`]
    /// asynchronously, and finish with [`CheckedProof::record`]: that is all this does.
    pub fn verify(
        &self,
        proof: &str,
        request: &DpopRequest<'_>,
        replay: &dyn ReplayGuard,
        now: SystemTime,
    ) -> Result<VerifiedProof, DpopError> {
        let checked = self.check(proof, request, now)?;
        let verdict = replay.check_and_record(checked.id, now, checked.expires_at);
        checked.record(verdict)
    }

    /// Every check of [`verify`](Self::verify) but the replay check: the proof is well formed,
    /// signed by its key, for this request, fresh and bound to the token. The result still
    /// has to be recorded in a replay store ([`CheckedProof::record`]) before it is accepted.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use authgent_core::dpop::{DpopKey, DpopRequest, DpopVerifier, ReplayVerdict};
    /// let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// let key = DpopKey::generate_es256()?;
    /// let proof = key.proof("GET", "https://api.example/data", None, None, now)?;
    /// let verifier = DpopVerifier::builder().build()?;
    /// let checked = verifier.check(&proof, &DpopRequest::new("GET", "https://api.example/data"), now)?;
    /// // ... ask the (async) replay store about checked.id() until checked.expires_at() ...
    /// let verdict = ReplayVerdict::Replayed;
    /// assert!(checked.record(verdict).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(
        &self,
        proof: &str,
        request: &DpopRequest<'_>,
        now: SystemTime,
    ) -> Result<CheckedProof, DpopError> {
        // §4.3 (2): one well-formed JWS.
        let jws = CompactJws::parse(proof, MAX_PROOF_BYTES).map_err(|e| match e {
            TokenError::TooLarge { .. } => DpopError::Malformed("proof is too large"),
            _ => DpopError::Malformed("not a compact JWS"),
        })?;
        // §4.3 (4): typ.
        match jws.header.get("typ") {
            Some(Value::String(t)) if jws::typ_is(t, "dpop+jwt") => {}
            _ => return Err(DpopError::InvalidType),
        }
        // §4.3 (5): asymmetric, allowed alg.
        let alg = jws
            .algorithm(&self.algorithms)
            .map_err(|_| DpopError::AlgorithmNotAllowed)?;
        if jws.header.contains_key("crit") {
            return Err(DpopError::Malformed("crit is not supported"));
        }
        // §4.3 (7): the jwk is a public key, never private material.
        let Some(Value::Object(jwk)) = jws.header.get("jwk") else {
            return Err(DpopError::InvalidJwk("header jwk must be a JSON object"));
        };
        if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
            return Err(DpopError::PrivateKeyInJwk);
        }
        // §7.1, CONFORMANCE 17: the key must be the token's, compared before any key is built
        // or signature checked, so a foreign key costs a hash, not a public-key operation.
        // A client's next proof finds its key and thumbprint prepared (an identical `jwk`).
        let cached = self.keys.get(jwk);
        let jkt = match &cached {
            Some(cached) => cached.jkt.clone(),
            None => crate::thumbprint::jwk_thumbprint(jwk)
                .map_err(|_| DpopError::InvalidJwk("not a usable public signing key"))?,
        };
        if let Some(expected) = request.expected_jkt
            && !constant_time_eq(jkt.as_bytes(), expected.as_bytes())
        {
            return Err(DpopError::KeyMismatch);
        }
        let (key, cached) = match cached {
            Some(cached) => (Arc::clone(&cached.key), true),
            None => {
                let key = VerificationKey::from_jwk(jwk).map_err(|e| match e {
                    KeyError::PrivateMaterial | KeyError::Symmetric => DpopError::PrivateKeyInJwk,
                    KeyError::RsaKeySize => {
                        DpopError::InvalidJwk("RSA key is too small or too large")
                    }
                    KeyError::RsaExponent => DpopError::InvalidJwk("RSA exponent out of bounds"),
                    _ => DpopError::InvalidJwk("not a usable public signing key"),
                })?;
                (Arc::new(key), false)
            }
        };
        // §4.3 (6): signature with the header key.
        key.verify(alg, jws.signing_input.as_bytes(), &jws.signature)
            .map_err(|e| match e {
                TokenError::KeyAlgorithmMismatch => DpopError::InvalidJwk("key does not fit alg"),
                _ => DpopError::InvalidSignature,
            })?;
        if !cached {
            self.keys.insert(jwk, &key, &jkt);
        }
        let claims = crate::json::parse_object(&jws.payload)
            .map_err(|_| DpopError::Malformed("payload is not a JSON object"))?;
        let string = |name: &'static str| match claims.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
            _ => Err(DpopError::InvalidClaim(name)),
        };
        // §4.3 (3): required claims.
        let jti = string("jti")?;
        let htm = string("htm")?;
        let htu = string("htu")?;
        let iat = crate::claims::numeric_date(claims.get("iat"), "iat")
            .map_err(|_| DpopError::InvalidClaim("iat"))?
            .ok_or(DpopError::InvalidClaim("iat"))?;
        if jti.len() > self.max_jti_bytes {
            return Err(DpopError::JtiTooLong);
        }
        // §4.3 (8): method, exact.
        if htm != request.method {
            return Err(DpopError::MethodMismatch);
        }
        // §4.3 (9): URI, normalised, without query and fragment.
        let expected = crate::uri::normalize_htu(request.uri).ok_or(DpopError::UriMismatch)?;
        if crate::uri::normalize_htu(htu).as_deref() != Some(expected.as_str()) {
            return Err(DpopError::UriMismatch);
        }
        // §4.3 (10), §9: server nonce.
        if let Some(nonces) = &self.nonces {
            let valid =
                matches!(claims.get("nonce"), Some(Value::String(n)) if nonces.is_valid(n, now));
            if !valid {
                return Err(DpopError::UseNonce {
                    nonce: nonces.issue(now),
                });
            }
        }
        // §4.3 (11): iat window, both directions.
        let now_s = unix_seconds(now);
        let window = secs(self.iat_window);
        if iat < now_s.saturating_sub(window) || iat > now_s.saturating_add(window) {
            return Err(DpopError::IatOutOfWindow);
        }
        // §4.3 (12), §7.1: ath and key binding.
        if let Some(token) = request.access_token {
            let ath = match claims.get("ath") {
                Some(Value::String(a)) => a.as_str(),
                _ => return Err(DpopError::AthMismatch),
            };
            let expected = match request.access_token_hash {
                Some(known) => std::borrow::Cow::Borrowed(known),
                None => std::borrow::Cow::Owned(super::access_token_hash(token)),
            };
            if !constant_time_eq(ath.as_bytes(), expected.as_bytes()) {
                return Err(DpopError::AthMismatch);
            }
        }
        // §11.1: replay, recorded for as long as the iat check would still pass.
        let mut input = Vec::with_capacity(jkt.len() + 1 + jti.len());
        input.extend_from_slice(jkt.as_bytes());
        input.push(b'.');
        input.extend_from_slice(jti.as_bytes());
        let id = ProofId(crate::crypto::sha256(&input));
        let expires_at = from_unix_seconds(iat.saturating_add(window).saturating_add(1));
        Ok(CheckedProof {
            proof: VerifiedProof {
                jkt,
                jti: jti.to_owned(),
                issued_at: from_unix_seconds(iat),
            },
            id,
            expires_at,
        })
    }
}

/// A proof that passed every check but the replay check ([`DpopVerifier::check`]): record
/// [`id`](Self::id) in a replay store until [`expires_at`](Self::expires_at), then hand the
/// store's verdict to [`record`](Self::record). Not `Clone`: one check, one verdict.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a checked proof is not accepted until its replay verdict is recorded"]
pub struct CheckedProof {
    proof: VerifiedProof,
    id: ProofId,
    expires_at: SystemTime,
}

impl CheckedProof {
    /// The proof id to record: SHA-256 over the key thumbprint and the `jti`.
    pub fn id(&self) -> ProofId {
        self.id
    }

    /// Until when the id must be remembered: the last moment the proof's `iat` is accepted,
    /// plus one second.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The proof, accepted only when the replay store recorded it for the first time:
    /// [`ReplayVerdict::Replayed`] is [`DpopError::Replayed`] (401) and
    /// [`ReplayVerdict::Unavailable`] is [`DpopError::ReplayCheckUnavailable`] (503).
    pub fn record(self, verdict: ReplayVerdict) -> Result<VerifiedProof, DpopError> {
        match verdict {
            ReplayVerdict::Fresh => Ok(self.proof),
            ReplayVerdict::Replayed => Err(DpopError::Replayed),
            ReplayVerdict::Unavailable { retry_after } => {
                Err(DpopError::ReplayCheckUnavailable { retry_after })
            }
        }
    }
}

/// Constant-time equality that is false (not a panic) for different lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    crate::crypto::constant_time_eq(a, b)
}

/// Builds a [`DpopVerifier`].
#[derive(Debug)]
#[must_use]
pub struct DpopVerifierBuilder(DpopVerifier);

impl DpopVerifierBuilder {
    /// Accepted proof algorithms (default: every asymmetric algorithm).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.0.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Acceptance window for `iat` either side of now (default 60 s).
    pub fn iat_window(mut self, window: Duration) -> Self {
        self.0.iat_window = window;
        self
    }

    /// Cap on `jti` length (default 256 bytes).
    pub fn max_jti_bytes(mut self, bytes: usize) -> Self {
        self.0.max_jti_bytes = bytes;
        self
    }

    /// Require server nonces issued by `nonces` (RFC 9449 §9).
    pub fn require_nonce(mut self, nonces: NonceIssuer) -> Self {
        self.0.nonces = Some(nonces);
        self
    }

    /// Checks the settings and builds the verifier.
    pub fn build(self) -> Result<DpopVerifier, ConfigError> {
        let v = self.0;
        if v.algorithms.is_empty() {
            return Err(ConfigError::Invalid {
                setting: "dpop algorithms",
                reason: "allow at least one algorithm",
            });
        }
        if v.iat_window.is_zero() || v.iat_window > Duration::from_secs(600) {
            return Err(ConfigError::Invalid {
                setting: "dpop iat_window",
                reason: "between 1 s and 10 min",
            });
        }
        if v.max_jti_bytes < 16 {
            return Err(ConfigError::Invalid {
                setting: "dpop max_jti_bytes",
                reason: "at least 16",
            });
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpop::DpopKey;
    use std::time::UNIX_EPOCH;

    /// A precomputed `ath` (a verified-token cache's) is what the proof is compared with.
    #[test]
    fn a_known_access_token_hash_is_honoured() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let key = DpopKey::generate_es256().unwrap();
        let uri = "https://api.example/data";
        let verifier = DpopVerifier::builder().build().unwrap();
        let ath = crate::dpop::access_token_hash("tok");
        let other = crate::dpop::access_token_hash("other");
        let request = |known: &str, proof_for: &str| {
            let proof = key.proof("GET", uri, Some(proof_for), None, now).unwrap();
            let request = DpopRequest::new("GET", uri)
                .with_access_token("tok", key.jkt())
                .with_access_token_hash(known);
            verifier.check(&proof, &request, now).map(|_| ())
        };
        assert_eq!(request(&ath, "tok"), Ok(()));
        assert_eq!(request(&ath, "other"), Err(DpopError::AthMismatch));
        // The known hash decides, not a re-computation from the token.
        assert_eq!(request(&other, "tok"), Err(DpopError::AthMismatch));
    }

    /// The proof-key cache is keyed by the key material, but a hit needs the whole header `jwk`
    /// to be equal: the same key with an `alg`, `use` or `key_ops` that makes it unusable is
    /// refused even right after the plain key was cached.
    #[test]
    fn a_cached_proof_key_is_reused_only_for_an_identical_jwk() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let key = DpopKey::generate_es256().unwrap();
        let signer = crate::SigningKey::from_private_jwk(key.private_jwk(), None).unwrap();
        let uri = "https://api.example/data";
        let verifier = DpopVerifier::builder().build().unwrap();
        let request = DpopRequest::new("GET", uri).with_access_token("tok", key.jkt());
        let proof_with = |extra: Option<(&str, Value)>| {
            let mut jwk = key.public_jwk().clone();
            if let Some((name, value)) = extra {
                jwk.insert(name.into(), value);
            }
            let header = serde_json::json!({"typ": "dpop+jwt", "jwk": jwk});
            let claims = serde_json::json!({"jti": jwk.len().to_string(),
                "htm": "GET", "htu": uri, "iat": 1_800_000_000u64,
                "ath": crate::dpop::access_token_hash("tok")});
            signer
                .sign(header.as_object().unwrap(), claims.as_object().unwrap())
                .unwrap()
        };
        let _cached = verifier.check(&proof_with(None), &request, now).unwrap();
        for (name, value) in [
            ("alg", serde_json::json!("ES384")),
            ("use", serde_json::json!("enc")),
            ("key_ops", serde_json::json!(["sign"])),
        ] {
            assert!(
                matches!(
                    verifier.check(&proof_with(Some((name, value))), &request, now),
                    Err(DpopError::InvalidJwk(_))
                ),
                "{name}: the cached key must not be reused"
            );
        }
        // The identical JWK still hits and verifies.
        let _again = verifier.check(&proof_with(None), &request, now).unwrap();
    }

    /// Issue 14: the two-step check (for asynchronous, shared replay stores) checks everything
    /// but the replay, records nothing itself, and maps every verdict the way `verify` does.
    #[test]
    fn check_then_record_is_verify_in_two_steps() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let key = DpopKey::generate_es256().unwrap();
        let uri = "https://api.example/data";
        let proof = key.proof("GET", uri, Some("tok"), None, now).unwrap();
        let verifier = DpopVerifier::builder().build().unwrap();
        let request = DpopRequest::new("GET", uri).with_access_token("tok", key.jkt());
        let first = verifier.check(&proof, &request, now).unwrap();
        let second = verifier.check(&proof, &request, now).unwrap();
        assert_eq!(first, second, "check alone records nothing");
        assert_eq!(
            first.expires_at(),
            now + DEFAULT_IAT_WINDOW + Duration::from_secs(1)
        );
        let accepted = first.record(ReplayVerdict::Fresh).unwrap();
        assert_eq!(accepted.jkt, key.jkt());
        let retry_after = Duration::from_secs(3);
        assert_eq!(
            second.record(ReplayVerdict::Unavailable { retry_after }),
            Err(DpopError::ReplayCheckUnavailable { retry_after })
        );
        let third = verifier.check(&proof, &request, now).unwrap();
        assert_eq!(
            third.record(ReplayVerdict::Replayed),
            Err(DpopError::Replayed)
        );
        // Refusals happen before any store is asked: a wrong method is no CheckedProof.
        assert!(
            verifier
                .check(&proof, &DpopRequest::new("POST", uri), now)
                .is_err()
        );
    }
}
