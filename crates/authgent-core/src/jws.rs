//! Compact JWS parsing that trusts nothing: caps first, then structure, then header.

use serde_json::Value;

use crate::algorithm::Algorithm;
use crate::error::TokenError;
use crate::{b64, json};

/// Largest accepted JOSE header, in bytes of JSON. Headers carry a handful of short members.
pub(crate) const MAX_HEADER_BYTES: usize = 4 * 1024;

/// Largest accepted `kid`, in bytes.
pub(crate) const MAX_KID_BYTES: usize = 256;

/// The header members this library reads; every other member is checked (strict JSON, no
/// duplicate names) and ignored.
const HEADER_MEMBERS: [&str; 5] = ["alg", "kid", "typ", "crit", "jwk"];

/// A JOSE header: the members of [`HEADER_MEMBERS`], as sent.
pub(crate) struct Header {
    values: Vec<Option<Value>>,
}

impl Header {
    fn parse(bytes: &[u8]) -> Result<Header, String> {
        let index = |name: &str| HEADER_MEMBERS.iter().position(|m| *m == name);
        json::parse_registered(bytes, HEADER_MEMBERS.len(), index).map(|values| Header { values })
    }

    /// The member `name` (one of [`HEADER_MEMBERS`]).
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        let i = HEADER_MEMBERS.iter().position(|m| *m == name)?;
        self.values[i].as_ref()
    }

    pub(crate) fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// A compact JWS split and decoded, with its signature not yet checked.
pub(crate) struct CompactJws<'a> {
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`, the bytes the signature covers.
    pub(crate) signing_input: &'a str,
    pub(crate) header: Header,
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: Vec<u8>,
}

/// Header names only: the signing input and signature rebuild the token (CONFORMANCE 31).
impl std::fmt::Debug for CompactJws<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompactJws")
            .field("alg", &self.header.get("alg").and_then(Value::as_str))
            .field("kid", &self.header.get("kid").and_then(Value::as_str))
            .field("typ", &self.header.get("typ").and_then(Value::as_str))
            .field("signing_input", &"<redacted>")
            .field("signature", &"<redacted>")
            .finish()
    }
}

impl<'a> CompactJws<'a> {
    /// Splits and decodes; `max_len` is checked before anything else (CONFORMANCE 9).
    pub(crate) fn parse(token: &'a str, max_len: usize) -> Result<Self, TokenError> {
        if token.len() > max_len {
            return Err(TokenError::TooLarge { limit: max_len });
        }
        if token.is_empty() {
            return Err(TokenError::Malformed("empty token"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed(
                "a JWS has exactly three dot-separated parts",
            ));
        };
        if h.is_empty() || s.is_empty() {
            return Err(TokenError::Malformed("empty header or signature part"));
        }
        if h.len() > MAX_HEADER_BYTES * 4 / 3 + 4 {
            return Err(TokenError::Malformed("header is too large"));
        }
        let header_bytes =
            b64::decode(h).ok_or(TokenError::Malformed("header is not base64url"))?;
        let header = Header::parse(&header_bytes)
            .map_err(|_| TokenError::Malformed("header is not a JSON object"))?;
        let payload = b64::decode(p).ok_or(TokenError::Malformed("payload is not base64url"))?;
        let signature =
            b64::decode(s).ok_or(TokenError::Malformed("signature is not base64url"))?;
        Ok(CompactJws {
            signing_input: &token[..h.len() + 1 + p.len()],
            header,
            payload,
            signature,
        })
    }

    /// The header `alg`, checked against `allowed`.
    pub(crate) fn algorithm(&self, allowed: &[Algorithm]) -> Result<Algorithm, TokenError> {
        let alg = self
            .header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(|a| a.parse::<Algorithm>().ok())
            .ok_or(TokenError::AlgorithmNotAllowed)?;
        if allowed.contains(&alg) {
            Ok(alg)
        } else {
            Err(TokenError::AlgorithmNotAllowed)
        }
    }

    /// RFC 7515 §4.1.11: this library implements no extension, so any `crit` is refused
    /// (an empty list is itself invalid).
    pub(crate) fn check_crit(&self) -> Result<(), TokenError> {
        if self.header.contains_key("crit") {
            Err(TokenError::UnsupportedCritical)
        } else {
            Ok(())
        }
    }

    /// The `kid`, required, a string of at most [`MAX_KID_BYTES`].
    pub(crate) fn kid(&self) -> Result<&str, TokenError> {
        match self.header.get("kid") {
            None => Err(TokenError::MissingKeyId),
            Some(Value::String(k)) if !k.is_empty() && k.len() <= MAX_KID_BYTES => Ok(k),
            Some(_) => Err(TokenError::Malformed(
                "kid must be a short non-empty string",
            )),
        }
    }

    /// The `typ` header, if present, which must be a string.
    pub(crate) fn typ(&self) -> Result<Option<&str>, TokenError> {
        match self.header.get("typ") {
            None => Ok(None),
            Some(Value::String(t)) => Ok(Some(t)),
            Some(_) => Err(TokenError::Malformed("typ must be a string")),
        }
    }
}

/// Compares a `typ` value with a media type, ignoring case and an `application/` prefix
/// (RFC 7515 §4.1.9).
pub(crate) fn typ_is(typ: &str, media_type: &str) -> bool {
    let t = typ
        .get(..12)
        .filter(|p| p.eq_ignore_ascii_case("application/"))
        .map_or(typ, |_| &typ[12..]);
    t.eq_ignore_ascii_case(media_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_comparison() {
        assert!(typ_is("at+jwt", "at+jwt"));
        assert!(typ_is("application/AT+JWT", "at+jwt"));
        assert!(typ_is("JWT", "jwt"));
        assert!(!typ_is("dpop+jwt", "jwt"));
        assert!(!typ_is("application/", "jwt"));
        assert!(!typ_is("é", "jwt"));
    }

    #[test]
    fn structure() {
        let max = 16 * 1024;
        assert!(matches!(
            CompactJws::parse("a.b", max),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            CompactJws::parse("a.b.c.d", max),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            CompactJws::parse("..", max),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            CompactJws::parse(&"a".repeat(max + 1), max),
            Err(TokenError::TooLarge { .. })
        ));
    }
}
