//! Private signing keys: the issuer side of tests and demos, and the DPoP client key.

use std::fmt;

use josekit::jwk::Jwk;
use josekit::jwk::alg::ec::EcCurve;
use josekit::jwk::alg::ed::EdCurve;
use josekit::jws::{self, JwsSigner};
use serde_json::{Map, Value};

use crate::algorithm::{Algorithm, KeyFamily};
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

/// What signs: aws-lc-rs for ECDSA and Ed25519 keys with the `aws-lc-rs` feature, josekit
/// (OpenSSL) for RSA keys and without the feature.
enum Signer {
    Jose(Box<dyn JwsSigner>),
    #[cfg(feature = "aws-lc-rs")]
    Ecdsa(aws_lc_rs::signature::EcdsaKeyPair),
    #[cfg(feature = "aws-lc-rs")]
    Ed25519(aws_lc_rs::signature::Ed25519KeyPair),
}

impl SigningKey {
    /// Generates a fresh key for `alg` (RSA keys are 2048 bits).
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        #[cfg(feature = "aws-lc-rs")]
        if let Some(jwk) = aws_lc::generate(alg)? {
            return Self::from_private_jwk(&jwk, Some(alg));
        }
        let jwk = match alg.family() {
            KeyFamily::Rsa => Jwk::generate_rsa_key(2048),
            KeyFamily::Ec("P-256") => Jwk::generate_ec_key(EcCurve::P256),
            KeyFamily::Ec("P-384") => Jwk::generate_ec_key(EcCurve::P384),
            KeyFamily::Ec(_) => Jwk::generate_ec_key(EcCurve::P521),
            KeyFamily::Ed25519 => Jwk::generate_ed_key(EdCurve::Ed25519),
        }
        .map_err(|_| KeyError::Crypto)?;
        Self::from_private_jwk(jwk.as_ref(), Some(alg))
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
        let signer = build_signer(alg, jwk)?;
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
        let sig = match &self.signer {
            Signer::Jose(signer) => signer.sign(input.as_bytes()).unwrap_or_default(),
            #[cfg(feature = "aws-lc-rs")]
            Signer::Ecdsa(pair) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                pair.sign(&rng, input.as_bytes())
                    .map(|s| s.as_ref().to_vec())
                    .unwrap_or_default()
            }
            #[cfg(feature = "aws-lc-rs")]
            Signer::Ed25519(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", b64::encode(sig))
    }
}

fn build_signer(alg: Algorithm, jwk: &Map<String, Value>) -> Result<Signer, KeyError> {
    #[cfg(feature = "aws-lc-rs")]
    if let Some(signer) = aws_lc::signer(alg, jwk)? {
        return Ok(signer);
    }
    let jwk = Jwk::from_map(jwk.clone()).map_err(|_| KeyError::Invalid("bad JWK members"))?;
    let jwk = &jwk;
    let invalid = |_| KeyError::Invalid("the key material is not a valid private key");
    Ok(Signer::Jose(match alg {
        Algorithm::Rs256 => Box::new(jws::RS256.signer_from_jwk(jwk).map_err(invalid)?),
        Algorithm::Rs384 => Box::new(jws::RS384.signer_from_jwk(jwk).map_err(invalid)?),
        Algorithm::Rs512 => Box::new(jws::RS512.signer_from_jwk(jwk).map_err(invalid)?),
        Algorithm::Ps256 => Box::new(jws::PS256.signer_from_jwk(jwk).map_err(invalid)?),
        Algorithm::Ps384 => Box::new(jws::PS384.signer_from_jwk(jwk).map_err(invalid)?),
        Algorithm::Ps512 => Box::new(jws::PS512.signer_from_jwk(jwk).map_err(invalid)?),
        Algorithm::Es256 => Box::new(jws::ES256.signer_from_jwk(jwk).map_err(invalid)?),
        Algorithm::Es384 => Box::new(jws::ES384.signer_from_jwk(jwk).map_err(invalid)?),
        Algorithm::Es512 => Box::new(jws::ES512.signer_from_jwk(jwk).map_err(invalid)?),
        Algorithm::EdDsa => Box::new(jws::EdDSA.signer_from_jwk(jwk).map_err(invalid)?),
    }))
}

/// ECDSA and Ed25519 keys on aws-lc-rs: generated there, and imported from a private JWK's
/// components (its public part already checked like a verification key's).
#[cfg(feature = "aws-lc-rs")]
mod aws_lc {
    use aws_lc_rs::encoding::AsBigEndian;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING,
        ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair,
        KeyPair,
    };
    use serde_json::{Map, Value};

    use super::Signer;
    use crate::algorithm::Algorithm;
    use crate::b64;
    use crate::key::KeyError;

    /// The curve name and signing algorithm of an ECDSA JWS algorithm.
    fn ecdsa(alg: Algorithm) -> Option<(&'static str, &'static EcdsaSigningAlgorithm)> {
        match alg {
            Algorithm::Es256 => Some(("P-256", &ECDSA_P256_SHA256_FIXED_SIGNING)),
            Algorithm::Es384 => Some(("P-384", &ECDSA_P384_SHA384_FIXED_SIGNING)),
            Algorithm::Es512 => Some(("P-521", &ECDSA_P521_SHA512_FIXED_SIGNING)),
            _ => None,
        }
    }

    fn member(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, KeyError> {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(b64::decode)
            .ok_or(KeyError::Invalid(
                "a key member is missing or not base64url",
            ))
    }

    fn text(value: &str) -> Value {
        Value::String(value.to_owned())
    }

    /// A fresh private JWK for `alg`; `None` for RSA (josekit makes those).
    pub(super) fn generate(alg: Algorithm) -> Result<Option<Map<String, Value>>, KeyError> {
        let mut jwk = Map::new();
        if let Some((crv, signing)) = ecdsa(alg) {
            let pair = EcdsaKeyPair::generate(signing).map_err(|_| KeyError::Crypto)?;
            let d = pair
                .private_key()
                .as_be_bytes()
                .map_err(|_| KeyError::Crypto)?;
            // The public key is the uncompressed point: 0x04 || x || y.
            let point = pair.public_key().as_ref();
            let (x, y) = point[1..].split_at((point.len() - 1) / 2);
            jwk.insert("kty".into(), text("EC"));
            jwk.insert("crv".into(), text(crv));
            jwk.insert("x".into(), text(&b64::encode(x)));
            jwk.insert("y".into(), text(&b64::encode(y)));
            jwk.insert("d".into(), text(&b64::encode(d.as_ref())));
            return Ok(Some(jwk));
        }
        if alg == Algorithm::EdDsa {
            let pair = Ed25519KeyPair::generate().map_err(|_| KeyError::Crypto)?;
            let seed = pair.seed().map_err(|_| KeyError::Crypto)?;
            let seed = seed.as_be_bytes().map_err(|_| KeyError::Crypto)?;
            jwk.insert("kty".into(), text("OKP"));
            jwk.insert("crv".into(), text("Ed25519"));
            jwk.insert("x".into(), text(&b64::encode(pair.public_key().as_ref())));
            jwk.insert("d".into(), text(&b64::encode(seed.as_ref())));
            return Ok(Some(jwk));
        }
        Ok(None)
    }

    /// The signer of a private JWK for `alg`; `None` for RSA (josekit signs those).
    pub(super) fn signer(
        alg: Algorithm,
        jwk: &Map<String, Value>,
    ) -> Result<Option<Signer>, KeyError> {
        let invalid = |_| KeyError::Invalid("the key material is not a valid private key");
        if let Some((_, signing)) = ecdsa(alg) {
            let mut point = vec![0x04];
            point.extend(member(jwk, "x")?);
            point.extend(member(jwk, "y")?);
            let d = member(jwk, "d")?;
            let pair = EcdsaKeyPair::from_private_key_and_public_key(signing, &d, &point)
                .map_err(invalid)?;
            return Ok(Some(Signer::Ecdsa(pair)));
        }
        if alg == Algorithm::EdDsa {
            let (d, x) = (member(jwk, "d")?, member(jwk, "x")?);
            let pair = Ed25519KeyPair::from_seed_and_public_key(&d, &x).map_err(invalid)?;
            return Ok(Some(Signer::Ed25519(pair)));
        }
        Ok(None)
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
