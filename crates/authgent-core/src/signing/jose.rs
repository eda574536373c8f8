//! Private keys on josekit (OpenSSL): the `openssl` backend.

use josekit::jwk::Jwk;
use josekit::jwk::alg::ec::EcCurve;
use josekit::jwk::alg::ed::EdCurve;
use josekit::jws::{self, JwsSigner};
use serde_json::{Map, Value};

use crate::algorithm::{Algorithm, KeyFamily};
use crate::key::KeyError;

/// A fresh private JWK for `alg` (RSA keys are 2048 bits).
pub(super) fn generate(alg: Algorithm) -> Result<Map<String, Value>, KeyError> {
    let jwk = match alg.family() {
        KeyFamily::Rsa => Jwk::generate_rsa_key(2048),
        KeyFamily::Ec("P-256") => Jwk::generate_ec_key(EcCurve::P256),
        KeyFamily::Ec("P-384") => Jwk::generate_ec_key(EcCurve::P384),
        KeyFamily::Ec(_) => Jwk::generate_ec_key(EcCurve::P521),
        KeyFamily::Ed25519 => Jwk::generate_ed_key(EdCurve::Ed25519),
    }
    .map_err(|_| KeyError::Crypto)?;
    Ok(jwk.as_ref().clone())
}

/// josekit's signer for one algorithm.
pub(super) struct Signer(Box<dyn JwsSigner>);

impl Signer {
    /// The signer of a private JWK whose public part is already checked.
    pub(super) fn new(alg: Algorithm, jwk: &Map<String, Value>) -> Result<Self, KeyError> {
        let jwk = Jwk::from_map(jwk.clone()).map_err(|_| KeyError::Invalid("bad JWK members"))?;
        let jwk = &jwk;
        let invalid = |_| KeyError::Invalid("the key material is not a valid private key");
        Ok(Signer(match alg {
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

    /// The signature of `input` (empty if OpenSSL fails, which then never verifies).
    pub(super) fn sign(&self, input: &[u8]) -> Vec<u8> {
        self.0.sign(input).unwrap_or_default()
    }
}
