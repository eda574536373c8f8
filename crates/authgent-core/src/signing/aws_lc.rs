//! Private keys on aws-lc-rs: generated there, imported from a private JWK's components (its
//! public part already checked like a verification key's), and signing.

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPairComponents, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING,
    ECDSA_P521_SHA512_FIXED_SIGNING, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair,
    RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RSA_PSS_SHA256, RSA_PSS_SHA384,
    RSA_PSS_SHA512, RsaEncoding, RsaKeyPair,
};
use serde_json::{Map, Value};

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

/// The padding and hash of an RSA JWS algorithm (PSS with a salt as long as the hash, RFC
/// 7518 §3.5).
fn rsa(alg: Algorithm) -> Option<&'static dyn RsaEncoding> {
    match alg {
        Algorithm::Rs256 => Some(&RSA_PKCS1_SHA256),
        Algorithm::Rs384 => Some(&RSA_PKCS1_SHA384),
        Algorithm::Rs512 => Some(&RSA_PKCS1_SHA512),
        Algorithm::Ps256 => Some(&RSA_PSS_SHA256),
        Algorithm::Ps384 => Some(&RSA_PSS_SHA384),
        Algorithm::Ps512 => Some(&RSA_PSS_SHA512),
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

/// A big-endian unsigned integer without leading zero octets (JWK's Base64urlUInt).
fn unsigned(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// A fresh private JWK for `alg` (RSA keys are 2048 bits).
pub(super) fn generate(alg: Algorithm) -> Result<Map<String, Value>, KeyError> {
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
    } else if alg == Algorithm::EdDsa {
        let pair = Ed25519KeyPair::generate().map_err(|_| KeyError::Crypto)?;
        let seed = pair.seed().map_err(|_| KeyError::Crypto)?;
        let seed = seed.as_be_bytes().map_err(|_| KeyError::Crypto)?;
        jwk.insert("kty".into(), text("OKP"));
        jwk.insert("crv".into(), text("Ed25519"));
        jwk.insert("x".into(), text(&b64::encode(pair.public_key().as_ref())));
        jwk.insert("d".into(), text(&b64::encode(seed.as_ref())));
    } else {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Crypto)?;
        let pkcs8 = pair.as_der().map_err(|_| KeyError::Crypto)?;
        let integers = der::rsa_private_key_integers(pkcs8.as_ref()).ok_or(KeyError::Crypto)?;
        jwk.insert("kty".into(), text("RSA"));
        for (name, value) in ["n", "e", "d", "p", "q", "dp", "dq", "qi"]
            .into_iter()
            .zip(integers)
        {
            jwk.insert(name.into(), text(&b64::encode(unsigned(value))));
        }
    }
    Ok(jwk)
}

/// What signs with one key and algorithm.
pub(super) enum Signer {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair, &'static dyn RsaEncoding),
}

impl Signer {
    /// The signer of a private JWK for `alg`, whose public part is already checked.
    pub(super) fn new(alg: Algorithm, jwk: &Map<String, Value>) -> Result<Self, KeyError> {
        let invalid = |_| KeyError::Invalid("the key material is not a valid private key");
        if let Some((_, signing)) = ecdsa(alg) {
            let mut point = vec![0x04];
            point.extend(member(jwk, "x")?);
            point.extend(member(jwk, "y")?);
            let d = member(jwk, "d")?;
            let pair = EcdsaKeyPair::from_private_key_and_public_key(signing, &d, &point)
                .map_err(invalid)?;
            return Ok(Signer::Ecdsa(pair));
        }
        if alg == Algorithm::EdDsa {
            let (d, x) = (member(jwk, "d")?, member(jwk, "x")?);
            let pair = Ed25519KeyPair::from_seed_and_public_key(&d, &x).map_err(invalid)?;
            return Ok(Signer::Ed25519(pair));
        }
        let encoding = rsa(alg).ok_or(KeyError::UnsupportedKeyType)?;
        let [n, e, d, p, q, dp, dq, qi] =
            ["n", "e", "d", "p", "q", "dp", "dq", "qi"].map(|name| member(jwk, name));
        // aws-lc checks that the components are consistent (n = pq, the CRT values), which
        // also refuses a `d` that is not `n`'s.
        let components = KeyPairComponents {
            public_key: PublicKeyComponents {
                n: unsigned(&n?).to_vec(),
                e: unsigned(&e?).to_vec(),
            },
            d: d?,
            p: p?,
            q: q?,
            dP: dp?,
            dQ: dq?,
            qInv: qi?,
        };
        let pair = RsaKeyPair::from_components(&components).map_err(invalid)?;
        Ok(Signer::Rsa(pair, encoding))
    }

    /// The signature of `input` (empty if aws-lc fails, which then never verifies).
    pub(super) fn sign(&self, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Signer::Ecdsa(pair) => pair
                .sign(&rng, input)
                .map(|s| s.as_ref().to_vec())
                .unwrap_or_default(),
            Signer::Ed25519(pair) => pair.sign(input).as_ref().to_vec(),
            Signer::Rsa(pair, encoding) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                match pair.sign(*encoding, &rng, input, &mut sig) {
                    Ok(()) => sig,
                    Err(_) => Vec::new(),
                }
            }
        }
    }
}

/// Just enough DER to read back the RSA key aws-lc generated: its PKCS#8 `PrivateKeyInfo`
/// (RFC 5208) wraps a PKCS#1 `RSAPrivateKey` (RFC 8017 §A.1.2).
mod der {
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    const SEQUENCE: u8 = 0x30;

    /// Splits one definite-length TLV of type `tag` off the front of `input`.
    fn take(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        let (&t, rest) = input.split_first()?;
        if t != tag {
            return None;
        }
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, &rest[n..])
        };
        (rest.len() >= len).then(|| rest.split_at(len))
    }

    /// `n, e, d, p, q, dP, dQ, qInv` (big-endian, possibly with a leading zero octet) of a
    /// two-prime RSA key in a PKCS#8 document.
    pub(super) fn rsa_private_key_integers(pkcs8: &[u8]) -> Option<[&[u8]; 8]> {
        let (info, _) = take(pkcs8, SEQUENCE)?;
        let (_version, rest) = take(info, INTEGER)?;
        let (_algorithm, rest) = take(rest, SEQUENCE)?;
        let (key, _) = take(rest, OCTET_STRING)?;
        let (key, _) = take(key, SEQUENCE)?;
        let (version, mut rest) = take(key, INTEGER)?;
        if version != [0] {
            return None; // multi-prime
        }
        let mut integers = [&[][..]; 8];
        for slot in &mut integers {
            let (value, next) = take(rest, INTEGER)?;
            *slot = value;
            rest = next;
        }
        Some(integers)
    }
}
