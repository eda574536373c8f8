//! The client's DPoP key: makes proofs (RFC 9449 §4.2).

use std::fmt;
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::key::KeyError;
use crate::signing::SigningKey;
use crate::time::unix_seconds;

/// A DPoP key pair held by a client. `Debug` never shows key material.
///
/// ```
/// use std::time::SystemTime;
/// use authgent_core::dpop::DpopKey;
/// let key = DpopKey::generate_es256()?;
/// let proof = key.proof("POST", "https://as.example/token", None, None, SystemTime::now())?;
/// assert_eq!(proof.split('.').count(), 3);
/// assert_eq!(key.jkt().len(), 43);
/// # Ok::<(), authgent_core::KeyError>(())
/// ```
pub struct DpopKey {
    key: SigningKey,
    jkt: String,
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.key.algorithm())
            .field("jkt", &self.jkt)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl DpopKey {
    /// A fresh P-256 key (ES256), the algorithm every DPoP server supports.
    pub fn generate_es256() -> Result<Self, KeyError> {
        Self::generate(Algorithm::Es256)
    }

    /// A fresh Ed25519 key (EdDSA).
    pub fn generate_ed25519() -> Result<Self, KeyError> {
        Self::generate(Algorithm::EdDsa)
    }

    /// A fresh key for `alg`.
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        Self::from_signing_key(SigningKey::generate(alg)?)
    }

    /// Imports a private JWK (EC, OKP Ed25519 or RSA).
    pub fn from_jwk(jwk: &Map<String, Value>) -> Result<Self, KeyError> {
        Self::from_signing_key(SigningKey::from_private_jwk(jwk, None)?)
    }

    /// Imports a private JWK given as JSON text.
    pub fn from_jwk_json(json: &str) -> Result<Self, KeyError> {
        let map = crate::json::parse_object(json.as_bytes())
            .map_err(|_| KeyError::Invalid("not a JSON object"))?;
        Self::from_jwk(&map)
    }

    fn from_signing_key(key: SigningKey) -> Result<Self, KeyError> {
        let jkt = crate::thumbprint::jwk_thumbprint(key.public_jwk())
            .map_err(|_| KeyError::Invalid("cannot compute the thumbprint"))?;
        Ok(DpopKey { key, jkt })
    }

    /// The RFC 7638 thumbprint: the `cnf.jkt` tokens bound to this key carry.
    pub fn jkt(&self) -> &str {
        &self.jkt
    }

    /// The proof algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// The public JWK sent in every proof header.
    pub fn public_jwk(&self) -> &Map<String, Value> {
        self.key.public_jwk()
    }

    /// The private JWK, to persist the key. Secret.
    pub fn private_jwk(&self) -> &Map<String, Value> {
        self.key.private_jwk()
    }

    /// A proof for one request (RFC 9449 §4.2): `htm` = `method`, `htu` = `url` without query
    /// and fragment, `iat` = `now`, a fresh 128-bit `jti`, `ath` when `access_token` is sent,
    /// and the server's `nonce` when it gave one.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
        now: SystemTime,
    ) -> Result<String, KeyError> {
        let htu = url.split(['?', '#']).next().unwrap_or(url);
        let mut jti = [0u8; 16];
        crate::crypto::fill_random(&mut jti).map_err(|_| KeyError::Crypto)?;
        let mut claims = Map::new();
        claims.insert("jti".into(), Value::String(crate::b64::encode(jti)));
        claims.insert("htm".into(), Value::String(method.to_owned()));
        claims.insert("htu".into(), Value::String(htu.to_owned()));
        claims.insert("iat".into(), Value::from(unix_seconds(now)));
        if let Some(token) = access_token {
            claims.insert("ath".into(), Value::String(super::access_token_hash(token)));
        }
        if let Some(nonce) = nonce {
            claims.insert("nonce".into(), Value::String(nonce.to_owned()));
        }
        let mut header = Map::new();
        header.insert("typ".into(), Value::String("dpop+jwt".into()));
        header.insert("jwk".into(), Value::Object(self.key.public_jwk().clone()));
        self.key.sign(&header, &claims)
    }
}
