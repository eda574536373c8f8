//! OpenSSL: the backend of the `openssl` feature.
//!
//! Keys are built from their components (`RSA_set0_key`, `EC_KEY_set_public_key_affine_coordinates`,
//! `EVP_PKEY_new_raw_public_key`), never by encoding a SubjectPublicKeyInfo and decoding it
//! again. OpenSSL 3.0's DER decoder (`d2i_PUBKEY`, which josekit's `verifier_from_jwk` goes
//! through) intermittently fails when several threads decode at once, so a JWKS prepared
//! while other threads used OpenSSL could refuse a valid key; building from components takes
//! no decoder at all (issue 23, `openssl_prepares_every_vector_key_from_eight_threads`).

use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::{MessageDigest, hash};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Verifier as OsslVerifier};
use serde_json::{Map, Value};

use super::{PreparedVerifier, PublicKeyMaterial};
use crate::{Algorithm, KeyError};

/// A key prepared for one algorithm.
pub(crate) struct Verifier {
    alg: Algorithm,
    key: Prepared,
}

enum Prepared {
    /// RSA (PKCS #1 v1.5 or PSS) and Ed25519: an `EVP_PKEY` for `EVP_DigestVerify`.
    PKey(PKey<Public>),
    /// ECDSA: the key, and the size of each of `r` and `s` in a JWS signature.
    Ec(EcKey<Public>, usize),
}

const INVALID: KeyError = KeyError::Invalid("the key material is not a valid public key");

impl PreparedVerifier for Verifier {
    fn prepare(
        alg: Algorithm,
        material: &PublicKeyMaterial,
        _jwk: &Map<String, Value>,
    ) -> Result<Self, KeyError> {
        let invalid = |_| INVALID;
        let key = match (alg, material) {
            (
                Algorithm::Rs256
                | Algorithm::Rs384
                | Algorithm::Rs512
                | Algorithm::Ps256
                | Algorithm::Ps384
                | Algorithm::Ps512,
                PublicKeyMaterial::Rsa { n, e },
            ) => {
                let n = BigNum::from_slice(n).map_err(invalid)?;
                let e = BigNum::from_slice(e).map_err(invalid)?;
                let rsa = Rsa::from_public_components(n, e).map_err(invalid)?;
                Prepared::PKey(PKey::from_rsa(rsa).map_err(invalid)?)
            }
            (
                Algorithm::Es256 | Algorithm::Es384 | Algorithm::Es512,
                PublicKeyMaterial::Ec { x, y },
            ) => {
                let (nid, size) = match alg {
                    Algorithm::Es256 => (Nid::X9_62_PRIME256V1, 32),
                    Algorithm::Es384 => (Nid::SECP384R1, 48),
                    _ => (Nid::SECP521R1, 66),
                };
                let group = EcGroup::from_curve_name(nid).map_err(invalid)?;
                let x = BigNum::from_slice(x).map_err(invalid)?;
                let y = BigNum::from_slice(y).map_err(invalid)?;
                // Refuses a point that is not on the curve.
                let key =
                    EcKey::from_public_key_affine_coordinates(&group, &x, &y).map_err(invalid)?;
                key.check_key().map_err(invalid)?;
                Prepared::Ec(key, size)
            }
            (Algorithm::EdDsa, PublicKeyMaterial::Ed25519 { x }) => {
                Prepared::PKey(PKey::public_key_from_raw_bytes(x, Id::ED25519).map_err(invalid)?)
            }
            _ => {
                return Err(KeyError::Invalid(
                    "the key type does not match the algorithm",
                ));
            }
        };
        Ok(Verifier { alg, key })
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.key {
            Prepared::PKey(key) => verify_pkey(self.alg, key, message, signature),
            Prepared::Ec(key, size) => verify_ecdsa(self.alg, key, *size, message, signature),
        }
    }
}

fn digest(alg: Algorithm) -> MessageDigest {
    match alg {
        Algorithm::Rs256 | Algorithm::Ps256 | Algorithm::Es256 => MessageDigest::sha256(),
        Algorithm::Rs384 | Algorithm::Ps384 | Algorithm::Es384 => MessageDigest::sha384(),
        _ => MessageDigest::sha512(),
    }
}

fn verify_pkey(alg: Algorithm, key: &PKey<Public>, message: &[u8], signature: &[u8]) -> bool {
    let verifier = if alg == Algorithm::EdDsa {
        OsslVerifier::new_without_digest(key)
    } else {
        OsslVerifier::new(digest(alg), key)
    };
    let Ok(mut verifier) = verifier else {
        return false;
    };
    if matches!(alg, Algorithm::Ps256 | Algorithm::Ps384 | Algorithm::Ps512) {
        // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
        let pss = verifier
            .set_rsa_padding(Padding::PKCS1_PSS)
            .and_then(|()| verifier.set_rsa_mgf1_md(digest(alg)))
            .and_then(|()| verifier.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH));
        if pss.is_err() {
            return false;
        }
    }
    verifier.verify_oneshot(signature, message).unwrap_or(false)
}

/// A JWS ECDSA signature is `r || s`, each of the curve's size (RFC 7518 §3.4).
fn verify_ecdsa(
    alg: Algorithm,
    key: &EcKey<Public>,
    size: usize,
    message: &[u8],
    signature: &[u8],
) -> bool {
    if signature.len() != 2 * size {
        return false;
    }
    let (r, s) = signature.split_at(size);
    let (Ok(r), Ok(s)) = (BigNum::from_slice(r), BigNum::from_slice(s)) else {
        return false;
    };
    let Ok(sig) = EcdsaSig::from_private_components(r, s) else {
        return false;
    };
    let Ok(digest) = hash(digest(alg), message) else {
        return false;
    };
    sig.verify(&digest, key).unwrap_or(false)
}
