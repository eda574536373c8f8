//! Stateless DPoP nonces (RFC 9449 §8, §9): HMAC over a time bucket and a random salt.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::crypto::Sha256;

use crate::error::ConfigError;
use crate::time::unix_seconds;

const SALT_LEN: usize = 8;
const TAG_LEN: usize = 16;
const RAW_LEN: usize = 8 + SALT_LEN + TAG_LEN;
const DOMAIN: &[u8] = b"authgent-dpop-nonce-v1";
/// Shortest nonce key accepted (current and previous alike): 256 bits.
pub const MIN_NONCE_KEY_BYTES: usize = 32;

/// Issues and checks server nonces without storing them.
///
/// A nonce is `base64url(bucket ‖ salt ‖ HMAC-SHA256(key, bucket ‖ salt)[..16])`; it is valid
/// in its time bucket and the next one, so its lifetime is one to two periods. Keys rotate by
/// adding the new key first and keeping the old one as a previous key for one period. Every
/// key is at least [`MIN_NONCE_KEY_BYTES`], checked when it is added; the MAC cannot fail at
/// request time (its key schedule is computed once, here), so no nonce is ever checked against
/// a default tag.
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
    keys: Vec<HmacKey>,
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
        let mut key = vec![0u8; MIN_NONCE_KEY_BYTES];
        crate::crypto::fill_random(&mut key).map_err(|_| ConfigError::Invalid {
            setting: "nonce key",
            reason: "no system randomness",
        })?;
        Self::with_key(key)
    }

    /// A nonce issuer with `key` (at least 32 bytes), e.g. shared by several instances.
    pub fn with_key(key: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Ok(NonceIssuer {
            keys: vec![HmacKey::new(key.as_ref())?],
            period: Self::DEFAULT_PERIOD.as_secs(),
        })
    }

    /// Also accept nonces made with `key` (the key before a rotation; at least 32 bytes like
    /// the current one: an empty or short key is refused here, not at request time).
    pub fn with_previous_key(mut self, key: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        self.keys.push(HmacKey::new(key.as_ref())?);
        Ok(self)
    }

    /// A nonce issuer from secrets as configuration carries them: base64, standard or
    /// URL-safe alphabet, padding optional, surrounding whitespace ignored (e.g. the output of
    /// `openssl rand -base64 32`). `current` makes new nonces; nonces made with `previous`
    /// are still accepted, so a secret can be rotated on every replica without refusing the
    /// nonces already handed out. Each decodes to at least 32 bytes.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use authgent_core::dpop::NonceIssuer;
    /// let old = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
    /// let new = "ESIzRFVmd4iZqrvM3e7/ABEiM0RVZneImaq7zN3u/wA=";
    /// let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// let before = NonceIssuer::from_base64_secrets(old, None)?.issue(now);
    /// let rotated = NonceIssuer::from_base64_secrets(new, Some(old))?;
    /// assert!(rotated.is_valid(&before, now));
    /// assert!(NonceIssuer::from_base64_secrets("c2hvcnQ=", None).is_err()); // "short"
    /// # Ok::<(), authgent_core::ConfigError>(())
    /// ```
    pub fn from_base64_secrets(current: &str, previous: Option<&str>) -> Result<Self, ConfigError> {
        let mut issuer = Self::with_key(decode_secret(current)?)?;
        if let Some(previous) = previous {
            issuer = issuer.with_previous_key(decode_secret(previous)?)?;
        }
        Ok(issuer)
    }

    /// The bucket period (default 60 s; at least 1 s).
    #[must_use]
    pub fn period(mut self, period: Duration) -> Self {
        self.period = period.as_secs().max(1);
        self
    }

    /// The length of one nonce time bucket (see [`period`](Self::period)).
    pub fn bucket_length(&self) -> Duration {
        Duration::from_secs(self.period)
    }

    /// How long the nonce issued at `now` stays in its first bucket: when it is short, a
    /// server sends a fresh `DPoP-Nonce` ahead of the roll (RFC 9449 §8.2).
    pub fn remaining_in_bucket(&self, now: SystemTime) -> Duration {
        let now = u64::try_from(unix_seconds(now)).unwrap_or(0);
        Duration::from_secs(self.period - now % self.period)
    }

    /// A fresh, unpredictable nonce for `now`.
    pub fn issue(&self, now: SystemTime) -> String {
        let bucket = self.bucket(now);
        let mut salt = [0u8; SALT_LEN];
        // Without randomness the salt is zero; the HMAC still makes the nonce unforgeable.
        let _ = crate::crypto::fill_random(&mut salt);
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.extend_from_slice(&bucket.to_be_bytes());
        raw.extend_from_slice(&salt);
        let tag = self.keys[0].tag(&raw);
        raw.extend_from_slice(&tag);
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
            .any(|k| crate::crypto::constant_time_eq(&k.tag(message), given))
    }

    fn bucket(&self, now: SystemTime) -> u64 {
        u64::try_from(unix_seconds(now)).unwrap_or(0) / self.period
    }
}

/// Base64 in either alphabet, padded or not; a secret too short for a nonce key is refused by
/// [`HmacKey::new`].
fn decode_secret(text: &str) -> Result<Vec<u8>, ConfigError> {
    let url_safe: String = text
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    crate::b64::decode(&url_safe).ok_or(ConfigError::Invalid {
        setting: "nonce secret",
        reason: "base64 of at least 32 random bytes, e.g. `openssl rand -base64 32`",
    })
}

/// HMAC-SHA256 (RFC 2104) with its key schedule computed once: the inner and outer hash
/// states after the padded key. OpenSSL's SHA-256 here cannot fail, so neither can the tag.
#[derive(Clone)]
struct HmacKey {
    inner: Sha256,
    outer: Sha256,
}

impl HmacKey {
    const BLOCK: usize = 64;

    fn new(key: &[u8]) -> Result<Self, ConfigError> {
        if key.len() < MIN_NONCE_KEY_BYTES {
            return Err(ConfigError::Invalid {
                setting: "nonce key",
                reason: "use at least 32 bytes",
            });
        }
        Ok(Self::schedule(key))
    }

    fn schedule(key: &[u8]) -> Self {
        let mut block = [0u8; Self::BLOCK];
        if key.len() > Self::BLOCK {
            block[..32].copy_from_slice(&crate::crypto::sha256(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| {
            let mut h = Sha256::new();
            h.update(&block.map(|b| b ^ byte));
            h
        };
        HmacKey {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner = self.inner.clone();
        for part in parts {
            inner.update(part);
        }
        let mut outer = self.outer.clone();
        outer.update(&inner.finish());
        outer.finish()
    }

    fn tag(&self, message: &[u8]) -> [u8; TAG_LEN] {
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&self.mac(&[DOMAIN, message])[..TAG_LEN]);
        out
    }
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
            .with_previous_key([1u8; 32])
            .unwrap();
        assert!(rotated.is_valid(&a, t));
        let mut tampered = crate::b64::decode(&a).unwrap();
        tampered[10] ^= 1;
        assert!(!old.is_valid(&crate::b64::encode(tampered), t));
        assert!(!old.is_valid("", t));
        assert!(!old.is_valid("!!!", t));
        assert!(NonceIssuer::with_key([0u8; 8]).is_err());
        assert_eq!(
            old.remaining_in_bucket(t + Duration::from_secs(1)),
            Duration::from_secs(59) // 1_800_000_000 is a multiple of 60
        );
        assert!(!format!("{old:?}").contains('1'.to_string().repeat(3).as_str()));
    }

    /// Issue 9 finding 9: an empty (or short) previous key was accepted and, with a MAC that
    /// failed to a default value, let an all-zero tag through.
    #[test]
    fn nonce_previous_key_too_short_is_refused() {
        let current = NonceIssuer::with_key([2u8; 32]).unwrap();
        assert!(current.clone().with_previous_key([]).is_err());
        assert!(current.clone().with_previous_key([1u8; 31]).is_err());
        let t = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut forged = (t.duration_since(UNIX_EPOCH).unwrap().as_secs() / 60)
            .to_be_bytes()
            .to_vec();
        forged.extend_from_slice(&[0u8; SALT_LEN + TAG_LEN]);
        assert!(!current.is_valid(&crate::b64::encode(forged), t));
    }

    /// RFC 4231 test cases 1, 2 and 6: the HMAC construction is HMAC-SHA256.
    #[test]
    fn hmac_sha256_rfc4231() {
        let hex = |s: &str| {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect::<Vec<u8>>()
        };
        let cases: [(&[u8], &[u8], &str); 3] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, data, expected) in cases {
            assert_eq!(HmacKey::schedule(key).mac(&[data]).to_vec(), hex(expected));
        }
    }
}
