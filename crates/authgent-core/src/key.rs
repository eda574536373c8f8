//! Verification keys, prepared once from a JWK, and key sets looked up by `kid`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::algorithm::{Algorithm, KeyFamily};
use crate::backend::{PreparedVerifier, PublicKeyMaterial, Verifier};
use crate::error::TokenError;
use crate::thumbprint;

/// JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4;
/// RFC 8037 §2).
pub(crate) const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits; larger keys only cost verification time.
pub const MAX_RSA_BITS: usize = 8192;

/// Why a JWK cannot be used as a verification key. JWKS loading skips such keys.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A symmetric (`oct`) key: HMAC keys never verify tokens here.
    #[error("symmetric (oct) keys are not accepted")]
    Symmetric,
    /// `kty`/`crv` is not one of RSA, EC P-256/384/521, OKP Ed25519.
    #[error("unsupported key type or curve; use RSA, EC P-256/P-384/P-521 or OKP Ed25519")]
    UnsupportedKeyType,
    /// RSA modulus outside [2048, 8192] bits.
    #[error("RSA key size must be between {MIN_RSA_BITS} and {MAX_RSA_BITS} bits")]
    RsaKeySize,
    /// RSA public exponent not odd, below 3 or above 2^32.
    #[error("RSA public exponent must be odd, at least 3 and at most 2^32")]
    RsaExponent,
    /// The JWK's `alg` is not an accepted algorithm, or does not fit the key type.
    #[error("the JWK's alg is not an accepted algorithm for this key type")]
    AlgorithmMismatch,
    /// `use` is not `sig`, or `key_ops` lacks `verify`.
    #[error("the JWK is not for signature verification (use/key_ops)")]
    NotForSignatures,
    /// The JWK holds private members where a public key was expected.
    #[error("a public JWK must not contain private key members")]
    PrivateMaterial,
    /// A private key was expected and the JWK has none.
    #[error("the JWK holds no private key")]
    NotPrivate,
    /// The JWK is malformed (bad members, point not on curve, …).
    #[error("invalid JWK: {0}")]
    Invalid(&'static str),
    /// Key generation or signing failed in the crypto library.
    #[error("cryptographic operation failed")]
    Crypto,
}

/// A public key, parsed and prepared once, ready to verify signatures for its algorithms.
///
/// Build these when a JWKS is loaded, never per request.
///
/// ```
/// use authgent_core::{Algorithm, VerificationKey};
/// let jwk = serde_json::json!({
///     "kty": "OKP", "crv": "Ed25519", "kid": "k1",
///     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
/// });
/// let key = VerificationKey::from_jwk(jwk.as_object().unwrap())?;
/// assert_eq!(key.kid(), Some("k1"));
/// assert!(key.supports(Algorithm::EdDsa));
/// assert!(!key.supports(Algorithm::Es256));
/// # Ok::<(), authgent_core::KeyError>(())
/// ```
pub struct VerificationKey {
    kid: Option<String>,
    thumbprint: String,
    /// The modulus length of an RSA key: its signatures have exactly this many bytes.
    rsa_modulus_len: Option<usize>,
    verifiers: Vec<(Algorithm, Verifier)>,
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("thumbprint", &self.thumbprint)
            .field("algorithms", &self.algorithms().collect::<Vec<_>>())
            .finish()
    }
}

impl VerificationKey {
    /// Prepares a public JWK. Its `kty`/`crv` (and `alg`, when present) fix which algorithms it
    /// verifies (RFC 8725 §3.1); `use` must be `sig` if present.
    pub fn from_jwk(jwk: &Map<String, Value>) -> Result<Self, KeyError> {
        let (candidates, material) = Self::material(jwk)?;
        let mut verifiers = Vec::with_capacity(candidates.len());
        for alg in candidates {
            verifiers.push((alg, Verifier::prepare(alg, &material, jwk)?));
        }
        let thumbprint =
            thumbprint::jwk_thumbprint(jwk).map_err(|_| KeyError::Invalid("bad JWK members"))?;
        Ok(VerificationKey {
            kid: jwk.get("kid").and_then(Value::as_str).map(str::to_owned),
            thumbprint,
            rsa_modulus_len: material.rsa_modulus_len(),
            verifiers,
        })
    }

    /// Every check on a public JWK that does not need a crypto library, and its material.
    pub(crate) fn material(
        jwk: &Map<String, Value>,
    ) -> Result<(Vec<Algorithm>, PublicKeyMaterial), KeyError> {
        if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
            return Err(if jwk.get("kty").and_then(Value::as_str) == Some("oct") {
                KeyError::Symmetric
            } else {
                KeyError::PrivateMaterial
            });
        }
        check_members(jwk)?;
        let (candidates, material) = candidate_algorithms(jwk)?;
        let for_signatures = match jwk.get("use") {
            None => true,
            Some(u) => u == "sig",
        } && match jwk.get("key_ops") {
            None => true,
            Some(Value::Array(ops)) => ops.iter().any(|op| op == "verify"),
            Some(_) => false,
        };
        if !for_signatures {
            return Err(KeyError::NotForSignatures);
        }
        Ok((candidates, material))
    }

    /// The JWK's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The RFC 7638 thumbprint of the key.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// Whether this key verifies `alg`.
    pub fn supports(&self, alg: Algorithm) -> bool {
        self.verifiers.iter().any(|(a, _)| *a == alg)
    }

    /// The algorithms this key verifies.
    pub fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.verifiers.iter().map(|(a, _)| *a)
    }

    /// Verifies `signature` over `message` with `alg`.
    ///
    /// ECDSA and EdDSA signatures must have the exact length of their algorithm, and an ECDSA
    /// `r` or `s` of zero is refused before the crypto library sees it (CVE-2022-21449).
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), TokenError> {
        let verifier = self
            .verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, v)| v)
            .ok_or(TokenError::KeyAlgorithmMismatch)?;
        check_signature_shape(alg, signature)?;
        if self
            .rsa_modulus_len
            .is_some_and(|len| signature.len() != len)
        {
            return Err(TokenError::InvalidSignature);
        }
        if verifier.verify(message, signature) {
            Ok(())
        } else {
            Err(TokenError::InvalidSignature)
        }
    }
}

/// Length and zero checks that do not depend on the key.
pub(crate) fn check_signature_shape(alg: Algorithm, signature: &[u8]) -> Result<(), TokenError> {
    if let Some(len) = alg.fixed_signature_len() {
        if signature.len() != len {
            return Err(TokenError::InvalidSignature);
        }
        if alg.is_ecdsa() {
            let (r, s) = signature.split_at(len / 2);
            if r.iter().all(|b| *b == 0) || s.iter().all(|b| *b == 0) {
                return Err(TokenError::InvalidSignature);
            }
        }
    } else if signature.is_empty() {
        return Err(TokenError::InvalidSignature);
    }
    Ok(())
}

/// JWK members of a fixed JSON type (RFC 7517 §4, RFC 7518 §6): a wrong type makes the key
/// invalid, whichever backend would verify with it.
fn check_members(jwk: &Map<String, Value>) -> Result<(), KeyError> {
    if !jwk.contains_key("kty") {
        return Err(KeyError::Invalid("a JWK needs kty"));
    }
    for (name, value) in jwk {
        let valid = match name.as_str() {
            "kty" | "use" | "alg" | "kid" | "x5u" | "crv" => value.is_string(),
            "x5t" | "x5t#S256" | "x" | "y" | "n" | "e" => value.as_str().is_some_and(|v| {
                v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }),
            "key_ops" | "x5c" => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            _ => true,
        };
        if !valid {
            return Err(KeyError::Invalid("bad JWK members"));
        }
    }
    Ok(())
}

/// The algorithms a JWK may verify, from `kty`/`crv`/`alg`, and its key material: RSA size
/// and exponent checks, exact EC and Ed25519 coordinate lengths (RFC 7518 §6.2.1.2,
/// RFC 8037 §2).
fn candidate_algorithms(
    jwk: &Map<String, Value>,
) -> Result<(Vec<Algorithm>, PublicKeyMaterial), KeyError> {
    let str_member = |m: &str| match jwk.get(m) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(KeyError::Invalid("JWK members must be strings")),
    };
    let bytes_member = |m: &str, missing: &'static str, bad: &'static str| {
        crate::b64::decode(str_member(m)?.ok_or(KeyError::Invalid(missing))?)
            .ok_or(KeyError::Invalid(bad))
    };
    let coordinate = |m: &str, len: usize| {
        let v = bytes_member(
            m,
            "the JWK lacks a coordinate",
            "coordinates must be base64url",
        )?;
        if v.len() == len {
            Ok(v)
        } else {
            Err(KeyError::Invalid(
                "a coordinate has the wrong length for its curve",
            ))
        }
    };
    let ec = |crv: &'static str, len: usize| -> Result<_, KeyError> {
        Ok((
            KeyFamily::Ec(crv),
            PublicKeyMaterial::Ec {
                x: coordinate("x", len)?,
                y: coordinate("y", len)?,
            },
        ))
    };
    let (family, material) = match (str_member("kty")?, str_member("crv")?) {
        (Some("RSA"), _) => {
            let n = bytes_member("n", "RSA JWK needs n", "RSA n is not base64url")?;
            let n = n[n.iter().take_while(|b| **b == 0).count()..].to_vec();
            // Leading zero bits of the first byte do not count.
            let bits =
                (n.len() * 8).saturating_sub(n.first().map_or(0, |b| b.leading_zeros() as usize));
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                return Err(KeyError::RsaKeySize);
            }
            let e = bytes_member("e", "RSA JWK needs e", "RSA e is not base64url")?;
            let e = check_rsa_exponent(&e)?.to_vec();
            (KeyFamily::Rsa, PublicKeyMaterial::Rsa { n, e })
        }
        (Some("EC"), Some("P-256")) => ec("P-256", 32)?,
        (Some("EC"), Some("P-384")) => ec("P-384", 48)?,
        (Some("EC"), Some("P-521")) => ec("P-521", 66)?,
        (Some("OKP"), Some("Ed25519")) => (
            KeyFamily::Ed25519,
            PublicKeyMaterial::Ed25519 {
                x: coordinate("x", 32)?,
            },
        ),
        (Some("oct"), _) => return Err(KeyError::Symmetric),
        _ => return Err(KeyError::UnsupportedKeyType),
    };
    let fitting = Algorithm::ALL.into_iter().filter(|a| a.family() == family);
    let algorithms = match str_member("alg")? {
        None => fitting.collect(),
        Some(name) => {
            let alg: Algorithm = name.parse().map_err(|_| KeyError::AlgorithmMismatch)?;
            if alg.family() != family {
                return Err(KeyError::AlgorithmMismatch);
            }
            vec![alg]
        }
    };
    Ok((algorithms, material))
}

/// RSA public exponents: odd, at least 3, at most 2^32 (CONFORMANCE 17). Verification time
/// grows with the exponent's size, so an unbounded `e` lets one key cost milliseconds per
/// signature check; every real key uses 65537.
fn check_rsa_exponent(e: &[u8]) -> Result<&[u8], KeyError> {
    let e = &e[e.iter().take_while(|b| **b == 0).count()..];
    if e.len() > 5 {
        return Err(KeyError::RsaExponent);
    }
    let value = e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    if value < 3 || value % 2 == 0 || value > 1 << 32 {
        return Err(KeyError::RsaExponent);
    }
    Ok(e)
}

/// Looks up an issuer's prepared key by `kid`.
///
/// The jwks crate implements this over its cache; [`KeySet`] implements it for a fixed set.
/// A `kid` is an opaque lookup key: implementations must not fall back to another key.
pub trait KeyResolver {
    /// The key whose `kid` is exactly `kid`, if any.
    fn resolve(&self, kid: &str) -> Option<&VerificationKey>;
}

/// A key that a JWKS held but that cannot be used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedKey {
    /// The key's `kid`, if it had one.
    pub kid: Option<String>,
    /// Why it was skipped.
    pub reason: KeyError,
}

/// An immutable set of prepared keys, looked up by `kid` (a parsed JWKS).
///
/// ```
/// use authgent_core::{KeyResolver, KeySet};
/// let jwks = br#"{"keys":[
///   {"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
///   {"kty":"oct","kid":"hmac","k":"c2VjcmV0"}
/// ]}"#;
/// let set = KeySet::from_jwks_json(jwks)?;
/// assert!(set.resolve("k1").is_some());
/// assert!(set.resolve("hmac").is_none());       // symmetric keys are skipped…
/// assert_eq!(set.skipped().len(), 1);           // …and reported
/// # Ok::<(), authgent_core::KeyError>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct KeySet {
    keys: HashMap<String, Arc<VerificationKey>>,
    skipped: Vec<SkippedKey>,
}

impl KeySet {
    /// Parses a JWKS document (`{"keys":[…]}`, RFC 7517 §5). Unusable keys (symmetric, weak
    /// RSA, unknown type, no `kid`, duplicate `kid`, not for signatures) are skipped and
    /// listed in [`KeySet::skipped`]; the others are prepared. A document that is not a JWKS
    /// at all is an error.
    pub fn from_jwks_json(bytes: &[u8]) -> Result<Self, KeyError> {
        let doc = crate::json::parse_object(bytes)
            .map_err(|_| KeyError::Invalid("JWKS is not a JSON object"))?;
        let Some(Value::Array(keys)) = doc.get("keys") else {
            return Err(KeyError::Invalid("JWKS has no keys array"));
        };
        let mut set = KeySet::default();
        for key in keys {
            let Value::Object(jwk) = key else {
                set.skipped.push(SkippedKey {
                    kid: None,
                    reason: KeyError::Invalid("key is not an object"),
                });
                continue;
            };
            set.insert_jwk(jwk);
        }
        Ok(set)
    }

    /// Builds a set from prepared keys; keys without a `kid` or with a duplicate one are skipped.
    pub fn from_keys(keys: impl IntoIterator<Item = VerificationKey>) -> Self {
        let mut set = KeySet::default();
        for key in keys {
            set.insert(key);
        }
        set
    }

    fn insert_jwk(&mut self, jwk: &Map<String, Value>) {
        let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
        match VerificationKey::from_jwk(jwk) {
            Ok(key) => self.insert(key),
            Err(reason) => self.skipped.push(SkippedKey { kid, reason }),
        }
    }

    fn insert(&mut self, key: VerificationKey) {
        match key.kid.clone() {
            None => self.skipped.push(SkippedKey {
                kid: None,
                reason: KeyError::Invalid("key has no kid"),
            }),
            Some(kid) if self.keys.contains_key(&kid) => self.skipped.push(SkippedKey {
                kid: Some(kid),
                reason: KeyError::Invalid("duplicate kid"),
            }),
            Some(kid) => {
                self.keys.insert(kid, Arc::new(key));
            }
        }
    }

    /// The key for `kid`, shared.
    pub fn get(&self, kid: &str) -> Option<&Arc<VerificationKey>> {
        self.keys.get(kid)
    }

    /// The usable keys' ids.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys the document held that could not be used, with the reason.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }
}

impl KeyResolver for KeySet {
    fn resolve(&self, kid: &str) -> Option<&VerificationKey> {
        self.keys.get(kid).map(|k| &**k)
    }
}

impl<T: KeyResolver + ?Sized> KeyResolver for &T {
    fn resolve(&self, kid: &str) -> Option<&VerificationKey> {
        (**self).resolve(kid)
    }
}

impl<T: KeyResolver + ?Sized> KeyResolver for Arc<T> {
    fn resolve(&self, kid: &str) -> Option<&VerificationKey> {
        (**self).resolve(kid)
    }
}
