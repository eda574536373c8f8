//! OpenSSL through josekit: the backend without the `aws-lc-rs` feature.

use josekit::jwk::Jwk;
use josekit::jws::{self, JwsVerifier};
use serde_json::{Map, Value};

use super::{PreparedVerifier, PublicKeyMaterial};
use crate::{Algorithm, KeyError};

/// A key prepared for one algorithm.
pub(crate) struct Verifier {
    inner: Box<dyn JwsVerifier>,
}

impl PreparedVerifier for Verifier {
    fn prepare(
        alg: Algorithm,
        _material: &PublicKeyMaterial,
        jwk: &Map<String, Value>,
    ) -> Result<Self, KeyError> {
        let invalid = |_| KeyError::Invalid("the key material is not a valid public key");
        let jwk = Jwk::from_map(jwk.clone()).map_err(|_| KeyError::Invalid("bad JWK members"))?;
        let inner: Box<dyn JwsVerifier> = match alg {
            Algorithm::Rs256 => Box::new(jws::RS256.verifier_from_jwk(&jwk).map_err(invalid)?),
            Algorithm::Rs384 => Box::new(jws::RS384.verifier_from_jwk(&jwk).map_err(invalid)?),
            Algorithm::Rs512 => Box::new(jws::RS512.verifier_from_jwk(&jwk).map_err(invalid)?),
            Algorithm::Ps256 => Box::new(jws::PS256.verifier_from_jwk(&jwk).map_err(invalid)?),
            Algorithm::Ps384 => Box::new(jws::PS384.verifier_from_jwk(&jwk).map_err(invalid)?),
            Algorithm::Ps512 => Box::new(jws::PS512.verifier_from_jwk(&jwk).map_err(invalid)?),
            Algorithm::Es256 => Box::new(jws::ES256.verifier_from_jwk(&jwk).map_err(invalid)?),
            Algorithm::Es384 => Box::new(jws::ES384.verifier_from_jwk(&jwk).map_err(invalid)?),
            Algorithm::Es512 => Box::new(jws::ES512.verifier_from_jwk(&jwk).map_err(invalid)?),
            Algorithm::EdDsa => Box::new(jws::EdDSA.verifier_from_jwk(&jwk).map_err(invalid)?),
        };
        Ok(Verifier { inner })
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.inner.verify(message, signature).is_ok()
    }
}
