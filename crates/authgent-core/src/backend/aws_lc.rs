//! aws-lc-rs: each key parsed once into a `ParsedPublicKey`.

use aws_lc_rs::signature::{
    self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents, VerificationAlgorithm,
};
use serde_json::{Map, Value};

use super::{PreparedVerifier, PublicKeyMaterial};
use crate::{Algorithm, KeyError};

/// A key prepared for one algorithm.
pub(crate) struct Verifier {
    key: ParsedPublicKey,
}

/// The aws-lc-rs algorithm of `alg`; RSA ones separately, as RSA keys are built from their
/// components.
fn algorithm(alg: Algorithm) -> Result<&'static RsaParameters, &'static dyn VerificationAlgorithm> {
    match alg {
        Algorithm::Rs256 => Ok(&signature::RSA_PKCS1_2048_8192_SHA256),
        Algorithm::Rs384 => Ok(&signature::RSA_PKCS1_2048_8192_SHA384),
        Algorithm::Rs512 => Ok(&signature::RSA_PKCS1_2048_8192_SHA512),
        Algorithm::Ps256 => Ok(&signature::RSA_PSS_2048_8192_SHA256),
        Algorithm::Ps384 => Ok(&signature::RSA_PSS_2048_8192_SHA384),
        Algorithm::Ps512 => Ok(&signature::RSA_PSS_2048_8192_SHA512),
        Algorithm::Es256 => Err(&signature::ECDSA_P256_SHA256_FIXED),
        Algorithm::Es384 => Err(&signature::ECDSA_P384_SHA384_FIXED),
        Algorithm::Es512 => Err(&signature::ECDSA_P521_SHA512_FIXED),
        Algorithm::EdDsa => Err(&signature::ED25519),
    }
}

impl PreparedVerifier for Verifier {
    fn prepare(
        alg: Algorithm,
        material: &PublicKeyMaterial,
        _jwk: &Map<String, Value>,
    ) -> Result<Self, KeyError> {
        let parsed = match (algorithm(alg), material) {
            (Ok(rsa), PublicKeyMaterial::Rsa { n, e }) => {
                RsaPublicKeyComponents { n, e }.to_parsed_public_key(rsa)
            }
            (Err(other), PublicKeyMaterial::Ec { x, y }) => {
                let mut point = Vec::with_capacity(1 + x.len() + y.len());
                point.push(0x04);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                ParsedPublicKey::new(other, point)
            }
            (Err(other), PublicKeyMaterial::Ed25519 { x }) => ParsedPublicKey::new(other, x),
            _ => return Err(KeyError::AlgorithmMismatch),
        };
        let key =
            parsed.map_err(|_| KeyError::Invalid("the key material is not a valid public key"))?;
        Ok(Verifier { key })
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}
