//! Private signing keys: the issuer side of tests and demos, and the DPoP client key.

use std::fmt;

use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::b64;
use crate::key::{KeyError, PRIVATE_MEMBERS, VerificationKey};

/// A private key that signs compact JWS with one algorithm.
///
/// `Debug` never shows key material.
///
/// ```
/// use authgent_core::{Algorithm, SigningKey};
/// let key = SigningKey::generate(Algorithm::Es256)?.with_kid("k1");
/// let claims = serde_json::json!({"sub": "agent"});
/// let jws = key.sign(&serde_json::Map::new(), claims.as_object().unwrap())?;
/// assert_eq!(jws.split('.').count(), 3);
/// assert!(!format!("{key:?}").contains("\"d\""));
/// # Ok::<(), authgent_core::KeyError>(())
/// ```
pub struct SigningKey {
    alg: Algorithm,
    kid: Option<String>,
    signer: Signer,
    private_jwk: Map<String, Value>,
    public_jwk: Map<String, Value>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

// One backend makes, imports and uses private keys, the one that verifies: aws-lc-rs with the
// default `aws-lc-rs` feature, josekit (OpenSSL) with the `openssl` feature. Both offer
// `generate(alg) -> private JWK`, `Signer::new(alg, private JWK)` and `Signer::sign(input)`.
#[cfg(not(feature = "openssl"))]
mod aws_lc;
#[cfg(feature = "openssl")]
mod jose;

#[cfg(not(feature = "openssl"))]
use aws_lc as backend;
use backend::Signer;
#[cfg(feature = "openssl")]
use jose as backend;

/// The members of an RSA private JWK besides `n`, `e` and `d` (RFC 7518 §6.3.2): both backends
/// need the primes and CRT values; multi-prime keys (`oth`) are not supported.
const RSA_PRIVATE_MEMBERS: [&str; 5] = ["p", "q", "dp", "dq", "qi"];

impl SigningKey {
    /// Generates a fresh key for `alg` (RSA keys are 2048 bits).
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        Self::from_private_jwk(&backend::generate(alg)?, Some(alg))
    }

    /// Imports a private JWK. `alg` defaults to the JWK's `alg`, else ES256/ES384/ES512 by
    /// curve, EdDSA for Ed25519, RS256 for RSA.
    pub fn from_private_jwk(
        jwk: &Map<String, Value>,
        alg: Option<Algorithm>,
    ) -> Result<Self, KeyError> {
        if !jwk.contains_key("d") {
            return Err(KeyError::NotPrivate);
        }
        let mut public: Map<String, Value> = jwk
            .iter()
            .filter(|(k, _)| !PRIVATE_MEMBERS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // Checks type, curve, size and `alg` binding exactly as verification would.
        let verification = VerificationKey::from_jwk(&public)?;
        let jwk_alg = jwk.get("alg").and_then(Value::as_str);
        let alg = match (alg, jwk_alg) {
            (Some(a), _) => a,
            (None, Some(name)) => name.parse().map_err(|_| KeyError::AlgorithmMismatch)?,
            (None, None) => verification
                .algorithms()
                .find(|a| {
                    matches!(
                        a,
                        Algorithm::Rs256
                            | Algorithm::Es256
                            | Algorithm::Es384
                            | Algorithm::Es512
                            | Algorithm::EdDsa
                    )
                })
                .ok_or(KeyError::UnsupportedKeyType)?,
        };
        if !verification.supports(alg) {
            return Err(KeyError::AlgorithmMismatch);
        }
        if jwk.get("kty").and_then(Value::as_str) == Some("RSA") {
            if jwk.contains_key("oth") {
                return Err(KeyError::Invalid(
                    "multi-prime RSA keys (`oth`) are not supported",
                ));
            }
            if RSA_PRIVATE_MEMBERS.iter().any(|m| !jwk.contains_key(*m)) {
                return Err(KeyError::Invalid(
                    "an RSA private JWK needs `p`, `q`, `dp`, `dq` and `qi` besides `d`",
                ));
            }
        }
        let signer = Signer::new(alg, jwk)?;
        let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
        public.remove("key_ops");
        let key = SigningKey {
            alg,
            kid,
            signer,
            private_jwk: jwk.clone(),
            public_jwk: public,
        };
        // The private part must belong to the public one the key publishes: a signature its
        // own verification key refuses means every token it signs would be refused.
        let probe = key.sign_raw(b"{}", b"{}");
        let (input, sig) = probe.rsplit_once('.').unwrap_or_default();
        let sig = b64::decode(sig).unwrap_or_default();
        if verification.verify(alg, input.as_bytes(), &sig).is_err() {
            return Err(KeyError::Invalid(
                "the private key does not belong to the JWK's public members",
            ));
        }
        Ok(key)
    }

    /// Sets the `kid` written into headers and the public JWK.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        let kid = kid.into();
        self.public_jwk
            .insert("kid".into(), Value::String(kid.clone()));
        self.private_jwk
            .insert("kid".into(), Value::String(kid.clone()));
        self.kid = Some(kid);
        self
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The `kid`, if set.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The public JWK (no private members), with `kid` when set.
    pub fn public_jwk(&self) -> &Map<String, Value> {
        &self.public_jwk
    }

    /// The public JWK as it belongs in a JWKS: with `alg` and `use: sig`.
    pub fn jwks_entry(&self) -> Map<String, Value> {
        let mut jwk = self.public_jwk.clone();
        jwk.insert("alg".into(), Value::String(self.alg.as_str().into()));
        jwk.insert("use".into(), Value::String("sig".into()));
        jwk
    }

    /// The private JWK. Secret: store it like a password.
    pub fn private_jwk(&self) -> &Map<String, Value> {
        &self.private_jwk
    }

    /// The RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> String {
        crate::thumbprint::jwk_thumbprint(&self.public_jwk).unwrap_or_default()
    }

    /// The matching prepared verification key.
    pub fn verification_key(&self) -> Result<VerificationKey, KeyError> {
        VerificationKey::from_jwk(&self.jwks_entry())
    }

    /// Signs `claims` as a compact JWS. The header gets `alg` and (when set) `kid`; members of
    /// `header` (such as `typ` or `jwk`) are added, and may override `kid`.
    pub fn sign(
        &self,
        header: &Map<String, Value>,
        claims: &Map<String, Value>,
    ) -> Result<String, KeyError> {
        let mut h = Map::new();
        h.insert("alg".into(), Value::String(self.alg.as_str().into()));
        if let Some(kid) = &self.kid {
            h.insert("kid".into(), Value::String(kid.clone()));
        }
        h.extend(header.iter().map(|(k, v)| (k.clone(), v.clone())));
        let h = serde_json::to_vec(&h).map_err(|_| KeyError::Crypto)?;
        let c = serde_json::to_vec(claims).map_err(|_| KeyError::Crypto)?;
        Ok(self.sign_raw(&h, &c))
    }

    /// Signs raw header and payload bytes as given (for tests that need exact or odd JSON).
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let input = format!("{}.{}", b64::encode(header), b64::encode(payload));
        // Signing with a validated key and a supported algorithm does not fail; an empty
        // signature would simply never verify.
        let sig = self.signer.sign(input.as_bytes());
        format!("{input}.{}", b64::encode(sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every algorithm: a generated key signs what its verification key accepts, its private
    /// JWK imports again to the same public key, and a private JWK whose private part belongs
    /// to another key is refused (both backends; josekit/OpenSSL alone accepted such a key).
    #[test]
    fn generated_keys_round_trip_and_mismatched_private_parts_are_refused() {
        for alg in Algorithm::ALL {
            let key = SigningKey::generate(alg).unwrap().with_kid("k");
            let claims = serde_json::json!({"sub": "s"});
            let token = key.sign(&Map::new(), claims.as_object().unwrap()).unwrap();
            let (input, sig) = token.rsplit_once('.').unwrap();
            let verification = key.verification_key().unwrap();
            let sig = b64::decode(sig).unwrap();
            assert!(
                verification.verify(alg, input.as_bytes(), &sig).is_ok(),
                "{alg}"
            );
            let again = SigningKey::from_private_jwk(key.private_jwk(), Some(alg)).unwrap();
            assert_eq!(again.public_jwk(), key.public_jwk(), "{alg}");
            // This key's private members with another key's public ones.
            let other = SigningKey::generate(alg).unwrap();
            let mut mixed = key.private_jwk().clone();
            for (name, value) in other.public_jwk() {
                mixed.insert(name.clone(), value.clone());
            }
            assert!(
                SigningKey::from_private_jwk(&mixed, Some(alg)).is_err(),
                "{alg}: a private key with another key's public part"
            );
        }
    }
}
