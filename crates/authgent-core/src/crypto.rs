//! The hash, randomness and comparison primitives the SDK uses — DPoP `ath` and thumbprints,
//! proof ids, nonces, PKCE, `state`, token digests — from one library: aws-lc-rs with the
//! default `aws-lc-rs` feature, OpenSSL with `openssl` (the same library the signatures use).

use std::fmt;

/// The system's random generator could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RandomUnavailable;

impl fmt::Display for RandomUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the system random number generator is unavailable")
    }
}

impl std::error::Error for RandomUnavailable {}

/// SHA-256 of `data`.
///
/// ```
/// let digest = authgent_core::crypto::sha256(b"abc");
/// assert_eq!(digest[..4], [0xba, 0x78, 0x16, 0xbf]);
/// ```
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(data);
    hasher.finish()
}

/// Fills `buf` from the cryptographically secure random generator.
///
/// ```
/// let mut key = [0u8; 32];
/// authgent_core::crypto::fill_random(&mut key)?;
/// assert_ne!(key, [0u8; 32]);
/// # Ok::<(), authgent_core::crypto::RandomUnavailable>(())
/// ```
pub fn fill_random(buf: &mut [u8]) -> Result<(), RandomUnavailable> {
    #[cfg(not(feature = "openssl"))]
    {
        aws_lc_rs::rand::fill(buf).map_err(|_| RandomUnavailable)
    }
    #[cfg(feature = "openssl")]
    {
        openssl::rand::rand_bytes(buf).map_err(|_| RandomUnavailable)
    }
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths (for secrets:
/// MAC tags, `state` values).
///
/// ```
/// use authgent_core::crypto::constant_time_eq;
/// assert!(constant_time_eq(b"tag", b"tag"));
/// assert!(!constant_time_eq(b"tag", b"tab"));
/// assert!(!constant_time_eq(b"tag", b"tags"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    #[cfg(not(feature = "openssl"))]
    {
        aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
    }
    #[cfg(feature = "openssl")]
    {
        openssl::memcmp::eq(a, b)
    }
}

/// An incremental SHA-256 whose state can be cloned (HMAC keeps its padded-key states).
#[derive(Clone)]
pub(crate) struct Sha256 {
    #[cfg(not(feature = "openssl"))]
    inner: aws_lc_rs::digest::Context,
    #[cfg(feature = "openssl")]
    inner: openssl::sha::Sha256,
}

impl Sha256 {
    pub(crate) fn new() -> Self {
        Sha256 {
            #[cfg(not(feature = "openssl"))]
            inner: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
            #[cfg(feature = "openssl")]
            inner: openssl::sha::Sha256::new(),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    pub(crate) fn finish(self) -> [u8; 32] {
        #[cfg(not(feature = "openssl"))]
        {
            let mut out = [0u8; 32];
            out.copy_from_slice(self.inner.finish().as_ref());
            out
        }
        #[cfg(feature = "openssl")]
        {
            self.inner.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS 180-2 test vectors, and a long input split across updates.
    #[test]
    fn sha256_matches_the_standard_vectors() {
        let hex = |d: [u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(sha256(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        let mut split = Sha256::new();
        for _ in 0..1000 {
            split.update(&[b'a'; 1000]);
        }
        assert_eq!(
            hex(split.finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }
}
