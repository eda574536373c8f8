//! Strict base64url (RFC 4648 §5, no padding, canonical trailing bits) as JOSE requires.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Decodes unpadded base64url; padding, other alphabets and non-canonical trailing bits fail.
pub(crate) fn decode(input: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(input).ok()
}

/// Encodes as unpadded base64url.
pub(crate) fn encode(input: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(input)
}

/// base64url(SHA-256(input)), the shape of `ath`, `jkt` and similar hashes.
pub(crate) fn sha256(input: impl AsRef<[u8]>) -> String {
    encode(crate::crypto::sha256(input.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_padding_and_foreign_alphabets() {
        assert_eq!(decode("YQ").unwrap(), b"a");
        assert!(decode("YQ==").is_none());
        assert!(decode("Y+8").is_none());
        assert!(decode("Y/8").is_none());
        assert!(decode("YR").is_none(), "non-canonical trailing bits");
        assert!(decode("Y Q").is_none());
    }
}
