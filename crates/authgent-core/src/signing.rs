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
    signer: Box<dyn JwsSigner>,
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

impl SigningKey {
    /// Generates a fresh key for `alg` (RSA keys are 2048 bits).
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
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
        let parsed =
            Jwk::from_map(jwk.clone()).map_err(|_| KeyError::Invalid("bad JWK members"))?;
        let signer = build_signer(alg, &parsed)?;
        let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
        public.remove("key_ops");
        Ok(SigningKey {
            alg,
            kid,
            signer,
            private_jwk: jwk.clone(),
            public_jwk: public,
        })
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
        // Signing with a validated key and a supported algorithm does not fail in OpenSSL;
        // an empty signature would simply never verify.
        let sig = self.signer.sign(input.as_bytes()).unwrap_or_default();
        format!("{input}.{}", b64::encode(sig))
    }
}

fn build_signer(alg: Algorithm, jwk: &Jwk) -> Result<Box<dyn JwsSigner>, KeyError> {
    let invalid = |_| KeyError::Invalid("the key material is not a valid private key");
    Ok(match alg {
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
    })
}
