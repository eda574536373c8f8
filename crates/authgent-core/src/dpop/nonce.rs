//! Stateless DPoP nonces (RFC 9449 §8, §9): HMAC over a time bucket and a random salt.

use std::fmt;
use std::time::{Duration, SystemTime};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

use crate::error::ConfigError;
use crate::time::unix_seconds;

const SALT_LEN: usize = 8;
const TAG_LEN: usize = 16;
const RAW_LEN: usize = 8 + SALT_LEN + TAG_LEN;
const DOMAIN: &[u8] = b"authgent-dpop-nonce-v1";

/// Issues and checks server nonces without storing them.
///
/// A nonce is `base64url(bucket ‖ salt ‖ HMAC-SHA256(key, bucket ‖ salt)[..16])`; it is valid
/// in its time bucket and the next one, so its lifetime is one to two periods. Keys rotate by
/// adding the new key first and keeping the old one as a previous key for one period.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use authgent_core::dpop::NonceIssuer;
/// let nonces = NonceIssuer::generate()?;
/// let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
/// let nonce = nonces.issue(now);
/// assert!(nonces.is_valid(&nonce, now + Duration::from_secs(30)));
/// assert!(!nonces.is_valid(&nonce, now + Duration::from_secs(3600)));
/// # Ok::<(), authgent_core::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct NonceIssuer {
    keys: Vec<Vec<u8>>,
    period: u64,
}

impl fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceIssuer")
            .field("keys", &format_args!("<{} redacted>", self.keys.len()))
            .field("period_secs", &self.period)
            .finish()
    }
}

impl NonceIssuer {
    /// Default bucket period.
    pub const DEFAULT_PERIOD: Duration = Duration::from_secs(60);

    /// A nonce issuer with a fresh random 256-bit key.
    pub fn generate() -> Result<Self, ConfigError> {
        let mut key = vec![0u8; 32];
        openssl::rand::rand_bytes(&mut key).map_err(|_| ConfigError::Invalid {
            setting: "nonce key",
            reason: "no system randomness",
        })?;
        Self::with_key(key)
    }

    /// A nonce issuer with `key` (at least 32 bytes), e.g. shared by several instances.
    pub fn with_key(key: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        let key = key.into();
        if key.len() < 32 {
            return Err(ConfigError::Invalid {
                setting: "nonce key",
                reason: "use at least 32 bytes",
            });
        }
        Ok(NonceIssuer {
            keys: vec![key],
            period: Self::DEFAULT_PERIOD.as_secs(),
        })
    }

    /// Also accept nonces made with `key` (the key before a rotation).
    pub fn with_previous_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.keys.push(key.into());
        self
    }

    /// The bucket period (default 60 s; at least 1 s).
    #[must_use]
    pub fn period(mut self, period: Duration) -> Self {
        self.period = period.as_secs().max(1);
        self
    }

    /// A fresh, unpredictable nonce for `now`.
    pub fn issue(&self, now: SystemTime) -> String {
        let bucket = self.bucket(now);
        let mut salt = [0u8; SALT_LEN];
        // Without randomness the salt is zero; the HMAC still makes the nonce unforgeable.
        let _ = openssl::rand::rand_bytes(&mut salt);
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.extend_from_slice(&bucket.to_be_bytes());
        raw.extend_from_slice(&salt);
        raw.extend_from_slice(&tag(&self.keys[0], &raw));
        crate::b64::encode(raw)
    }

    /// Whether `nonce` was issued by this issuer (any configured key) in the current or the
    /// previous bucket.
    pub fn is_valid(&self, nonce: &str, now: SystemTime) -> bool {
        if nonce.len() > 64 {
            return false;
        }
        let Some(raw) = crate::b64::decode(nonce) else {
            return false;
        };
        if raw.len() != RAW_LEN {
            return false;
        }
        let (message, given) = raw.split_at(8 + SALT_LEN);
        let mut bucket = [0u8; 8];
        bucket.copy_from_slice(&message[..8]);
        let bucket = u64::from_be_bytes(bucket);
        let current = self.bucket(now);
        if bucket != current && bucket.checked_add(1) != Some(current) {
            return false;
        }
        self.keys
            .iter()
            .any(|k| openssl::memcmp::eq(&tag(k, message), given))
    }

    fn bucket(&self, now: SystemTime) -> u64 {
        u64::try_from(unix_seconds(now)).unwrap_or(0) / self.period
    }
}

fn tag(key: &[u8], message: &[u8]) -> [u8; TAG_LEN] {
    let mut out = [0u8; TAG_LEN];
    let mac = PKey::hmac(key)
        .and_then(|pkey| {
            let mut signer = Signer::new(MessageDigest::sha256(), &pkey)?;
            signer.update(DOMAIN)?;
            signer.update(message)?;
            signer.sign_to_vec()
        })
        .unwrap_or_default();
    if mac.len() >= TAG_LEN {
        out.copy_from_slice(&mac[..TAG_LEN]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn nonces_are_unique_bound_to_key_and_rotate() {
        let t = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let old = NonceIssuer::with_key([1u8; 32]).unwrap();
        let a = old.issue(t);
        assert_ne!(a, old.issue(t), "salted: every nonce differs");
        assert!(old.is_valid(&a, t + Duration::from_secs(60)));
        assert!(!old.is_valid(&a, t + Duration::from_secs(180)));
        let other = NonceIssuer::with_key([2u8; 32]).unwrap();
        assert!(!other.is_valid(&a, t));
        let rotated = NonceIssuer::with_key([2u8; 32])
            .unwrap()
            .with_previous_key([1u8; 32]);
        assert!(rotated.is_valid(&a, t));
        let mut tampered = crate::b64::decode(&a).unwrap();
        tampered[10] ^= 1;
        assert!(!old.is_valid(&crate::b64::encode(tampered), t));
        assert!(!old.is_valid("", t));
        assert!(!old.is_valid("!!!", t));
        assert!(NonceIssuer::with_key([0u8; 8]).is_err());
        assert!(!format!("{old:?}").contains('1'.to_string().repeat(3).as_str()));
    }
}
