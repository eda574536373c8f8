//! Signature verification backends: the signature math behind [`VerificationKey`].
//!
//! Each JWKS key is prepared once into a backend verifier; a request only runs the signature
//! check. With the default `aws-lc-rs` feature, verification uses [aws-lc-rs] on keys parsed
//! once (`ParsedPublicKey`); with the `openssl` feature, OpenSSL (keys built from their
//! components). The same choice holds for signing, key generation, hashing and randomness:
//! one library does all the cryptography. `openssl` is the explicit opt-in, so it wins when
//! both features are on (aws-lc-rs then stays linked only where rustls uses it); with
//! neither, the crate does not compile.
//!
//! Everything both backends must agree on — which JWK members are valid, coordinate and
//! modulus lengths, signature lengths, zero ECDSA scalars, RSA exponents and sizes — is
//! decided before a backend sees the key or the signature, when the JWK is read and in
//! [`VerificationKey::verify`].
//!
//! [aws-lc-rs]: https://docs.rs/aws-lc-rs
//! [`VerificationKey`]: crate::VerificationKey
//! [`VerificationKey::verify`]: crate::VerificationKey::verify

#[cfg(not(any(feature = "aws-lc-rs", feature = "openssl")))]
compile_error!(
    "authgent-core needs a crypto backend: the `aws-lc-rs` feature (the default) or `openssl`"
);

#[cfg(all(feature = "aws-lc-rs", any(not(feature = "openssl"), test)))]
mod aws_lc;
#[cfg(any(feature = "openssl", test))]
mod openssl;

#[cfg(feature = "openssl")]
pub(crate) use self::openssl::Verifier;
#[cfg(not(feature = "openssl"))]
pub(crate) use aws_lc::Verifier;

/// The library that checks signatures in this build.
///
/// ```
/// use authgent_core::SignatureBackend;
/// // aws-lc-rs in the default build, OpenSSL with the `openssl` feature.
/// let expected = if cfg!(feature = "openssl") { "openssl" } else { "aws-lc-rs" };
/// assert_eq!(SignatureBackend::ACTIVE.to_string(), expected);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureBackend {
    /// aws-lc-rs (the `aws-lc-rs` feature, on by default).
    AwsLcRs,
    /// OpenSSL (the `openssl` feature).
    OpenSsl,
}

impl SignatureBackend {
    /// The backend of this build.
    #[cfg(not(feature = "openssl"))]
    pub const ACTIVE: SignatureBackend = SignatureBackend::AwsLcRs;
    /// The backend of this build.
    #[cfg(feature = "openssl")]
    pub const ACTIVE: SignatureBackend = SignatureBackend::OpenSsl;

    /// The backend's name: `"aws-lc-rs"` or `"openssl"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureBackend::AwsLcRs => "aws-lc-rs",
            SignatureBackend::OpenSsl => "openssl",
        }
    }
}

impl std::fmt::Display for SignatureBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A public key's material, taken from a JWK and checked for what both backends must agree
/// on: exact coordinate lengths, a modulus and exponent without leading zeros.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PublicKeyMaterial {
    /// RSA modulus and public exponent, big-endian, without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An EC point, coordinates of its curve's size (the curve is the algorithm's).
    Ec { x: Vec<u8>, y: Vec<u8> },
    /// An Ed25519 public key (32 bytes).
    Ed25519 { x: Vec<u8> },
}

impl PublicKeyMaterial {
    /// The RSA modulus length in bytes: every RSA signature has exactly this length
    /// (RFC 8017 §8.2.2 step 1).
    pub(crate) fn rsa_modulus_len(&self) -> Option<usize> {
        match self {
            PublicKeyMaterial::Rsa { n, .. } => Some(n.len()),
            _ => None,
        }
    }
}

/// What a backend verifier does: built once per key and algorithm, then checks signatures.
pub(crate) trait PreparedVerifier: Sized + Send + Sync {
    /// Prepares `material` for `alg`; `jwk` is the (already checked) JWK it came from.
    fn prepare(
        alg: crate::Algorithm,
        material: &PublicKeyMaterial,
        jwk: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, crate::KeyError>;

    /// Whether `signature` is valid over `message`. Shapes are checked by the caller.
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool;
}

#[cfg(all(test, feature = "aws-lc-rs"))]
mod differential {
    //! Both backends, one verdict: the same keys, messages and (mutated) signatures.

    use super::PreparedVerifier;
    use super::aws_lc::Verifier as AwsLc;
    use super::openssl::Verifier as OpenSsl;
    use crate::{Algorithm, SigningKey, VerificationKey};

    fn verdicts(alg: Algorithm) {
        let key = SigningKey::generate(alg).unwrap();
        let public = key.public_jwk().clone();
        let material = VerificationKey::material(&public).unwrap().1;
        let aws = AwsLc::prepare(alg, &material, &public).unwrap();
        let ossl = OpenSsl::prepare(alg, &material, &public).unwrap();
        let claims = serde_json::json!({"sub": "client:agent", "n": 1});
        let token = key
            .sign(&Default::default(), claims.as_object().unwrap())
            .unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = crate::b64::decode(sig).unwrap();
        assert!(aws.verify(input.as_bytes(), &sig), "{alg}: aws-lc-rs");
        assert!(ossl.verify(input.as_bytes(), &sig), "{alg}: openssl");
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..200 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut s = sig.clone();
            let mut m = input.as_bytes().to_vec();
            let pos = (seed as usize) % s.len();
            match round % 4 {
                0 => s[pos] ^= 1 << (seed % 8),
                1 => {
                    let at = pos % m.len();
                    m[at] ^= 1 << (seed % 8);
                }
                2 => s.truncate(pos),
                _ => s.push((seed >> 8) as u8),
            }
            assert_eq!(
                aws.verify(&m, &s),
                ossl.verify(&m, &s),
                "{alg}: backends disagree on round {round}"
            );
        }
    }

    #[test]
    fn both_backends_agree_on_every_algorithm() {
        for alg in Algorithm::ALL {
            verdicts(alg);
        }
    }
}
