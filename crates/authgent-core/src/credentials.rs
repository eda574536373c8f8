//! Reading credentials from request headers: one `Authorization`, at most one `DPoP`.

use std::fmt;

use crate::error::{AuthgentError, RequestError, TokenError};

/// The authentication scheme a request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// `Authorization: Bearer` (RFC 6750).
    Bearer,
    /// `Authorization: DPoP` (RFC 9449 §7.1).
    Dpop,
}

impl Scheme {
    /// The scheme of an `Authorization` value (`Bearer …` / `DPoP …`, any case), if supported.
    ///
    /// ```
    /// use authgent_core::credentials::Scheme;
    /// assert_eq!(Scheme::from_authorization("dpop eyJ…"), Some(Scheme::Dpop));
    /// assert_eq!(Scheme::from_authorization("Basic dXNlcg=="), None);
    /// ```
    pub fn from_authorization(value: &str) -> Option<Scheme> {
        let name = value.trim_start().split(' ').next()?;
        if name.eq_ignore_ascii_case("bearer") {
            Some(Scheme::Bearer)
        } else if name.eq_ignore_ascii_case("dpop") {
            Some(Scheme::Dpop)
        } else {
            None
        }
    }

    /// The scheme name as written in headers and challenges.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::Dpop => "DPoP",
        }
    }
}

/// An access token and, with the DPoP scheme, its proof — borrowed from the request headers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    scheme: Scheme,
    token: &'a str,
    proof: Option<&'a str>,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("scheme", &self.scheme)
            .field("token", &"<redacted>")
            .field("proof", &self.proof.map(|_| "<redacted>"))
            .finish()
    }
}

impl<'a> Credentials<'a> {
    /// Reads the raw values of every `Authorization` and every `DPoP` header.
    ///
    /// - no `Authorization`, or a scheme other than Bearer/DPoP → `Ok(None)` (no credentials);
    /// - several `Authorization` headers, both schemes in one, or several `DPoP` headers →
    ///   [`RequestError`] (400 `invalid_request`, RFC 6750 §3.1, RFC 9449 §4.3 (1));
    /// - a value that is not visible ASCII → [`RequestError::InvalidHeader`];
    /// - an empty or syntactically bad token → [`TokenError::Malformed`] (401 `invalid_token`).
    ///
    /// ```
    /// use authgent_core::credentials::{Credentials, Scheme};
    /// let c = Credentials::from_headers(&[b"DPoP eyJ.eyJ.sig"], &[b"proof"])?.unwrap();
    /// assert_eq!(c.scheme(), Scheme::Dpop);
    /// assert_eq!(c.token(), "eyJ.eyJ.sig");
    /// assert_eq!(c.proof(), Some("proof"));
    /// assert!(Credentials::from_headers(&[b"Bearer a", b"Bearer b"], &[]).is_err());
    /// # Ok::<(), authgent_core::AuthgentError>(())
    /// ```
    pub fn from_headers(
        authorization: &[&'a [u8]],
        dpop: &[&'a [u8]],
    ) -> Result<Option<Self>, AuthgentError> {
        if authorization.len() > 1 {
            return Err(RequestError::MultipleAuthorization.into());
        }
        if dpop.len() > 1 {
            return Err(RequestError::MultipleDpop.into());
        }
        let Some(value) = authorization.first() else {
            return Ok(None);
        };
        let value = visible_ascii(value).ok_or(RequestError::InvalidHeader("Authorization"))?;
        let proof = match dpop.first() {
            Some(p) => Some(
                visible_ascii(p)
                    .ok_or(RequestError::InvalidHeader("DPoP"))?
                    .trim(),
            ),
            None => None,
        };
        let value = value.trim_matches([' ', '\t']);
        // The scheme ends at the first space or tab: `Bearer<TAB>token` names the Bearer
        // scheme with a bad separator, a malformed credential, never "no credentials".
        let (scheme_name, separator, rest) = match value.find([' ', '\t']) {
            Some(i) => (&value[..i], &value[i..i + 1], &value[i + 1..]),
            None => (value, "", ""),
        };
        let scheme = if scheme_name.eq_ignore_ascii_case("bearer") {
            Scheme::Bearer
        } else if scheme_name.eq_ignore_ascii_case("dpop") {
            Scheme::Dpop
        } else {
            return Ok(None);
        };
        // RFC 7235 §2.1: `auth-scheme 1*SP token68`.
        if separator == "\t" || rest.contains('\t') {
            return Err(TokenError::Malformed("separate the scheme and token with a space").into());
        }
        let token = rest.trim_start_matches(' ');
        check_token(token)?;
        Ok(Some(Credentials {
            scheme,
            token,
            proof,
        }))
    }

    /// A bare token, as if sent in `Authorization: Bearer <token>`, with the same checks
    /// (non-empty, RFC 6750 §2.1 `b64token`) and no header to scan.
    ///
    /// ```
    /// use authgent_core::credentials::{Credentials, Scheme};
    /// let c = Credentials::bearer("eyJ.eyJ.sig")?;
    /// assert_eq!((c.scheme(), c.token(), c.proof()), (Scheme::Bearer, "eyJ.eyJ.sig", None));
    /// assert!(Credentials::bearer("").is_err());
    /// assert!(Credentials::bearer("a b").is_err());
    /// // Two credentials glued together are refused as in a header (400, not 401).
    /// use authgent_core::{AuthgentError, RequestError};
    /// assert!(matches!(
    ///     Credentials::bearer("a, DPoP b"),
    ///     Err(AuthgentError::Request(RequestError::MultipleAuthorization))
    /// ));
    /// # Ok::<(), authgent_core::AuthgentError>(())
    /// ```
    pub fn bearer(token: &'a str) -> Result<Self, AuthgentError> {
        check_token(token)?;
        Ok(Credentials {
            scheme: Scheme::Bearer,
            token,
            proof: None,
        })
    }

    /// The scheme used.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The access token.
    pub fn token(&self) -> &'a str {
        self.token
    }

    /// The `DPoP` header value, if one was sent.
    pub fn proof(&self) -> Option<&'a str> {
        self.proof
    }
}

/// The checks on a token, from a header or bare: non-empty, RFC 6750 §2.1 `b64token`.
fn check_token(token: &str) -> Result<(), AuthgentError> {
    if token.is_empty() {
        return Err(TokenError::Malformed("empty token").into());
    }
    if !is_b64token(token) {
        // "Bearer a, DPoP b": two credentials in one header.
        if token.contains(',') {
            return Err(RequestError::MultipleAuthorization.into());
        }
        return Err(TokenError::Malformed("token has characters outside b64token").into());
    }
    Ok(())
}

/// RFC 9110 field values here must be visible ASCII plus spaces and tabs.
fn visible_ascii(value: &[u8]) -> Option<&str> {
    // A fold without early exit: the compiler checks many bytes per instruction (a token is
    // most of a request's headers, and this runs on every request, cache hits included).
    let visible = value.iter().fold(true, |ok, b| {
        ok & (matches!(b, 0x20..=0x7e) | (*b == b'\t'))
    });
    if visible {
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

/// RFC 6750 §2.1 b64token: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().fold(true, |ok, b| {
            ok & (b.is_ascii_alphanumeric()
                | (b == b'-')
                | (b == b'.')
                | (b == b'_')
                | (b == b'~')
                | (b == b'+')
                | (b == b'/'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extraction_rules() {
        let none: &[&[u8]] = &[];
        assert_eq!(Credentials::from_headers(none, none).unwrap(), None);
        assert_eq!(
            Credentials::from_headers(&[b"Basic dXNlcjpwYXNz"], none).unwrap(),
            None
        );
        let c = Credentials::from_headers(&[b"bearer  abc"], none)
            .unwrap()
            .unwrap();
        assert_eq!((c.scheme(), c.token()), (Scheme::Bearer, "abc"));
        assert!(matches!(
            Credentials::from_headers(&[b"Bearer"], none),
            Err(AuthgentError::Token(TokenError::Malformed(_)))
        ));
        assert!(matches!(
            Credentials::from_headers(&[b"Bearer a, DPoP b"], none),
            Err(AuthgentError::Request(RequestError::MultipleAuthorization))
        ));
        assert!(matches!(
            Credentials::from_headers(&[b"Bearer \xc3\xa9"], none),
            Err(AuthgentError::Request(RequestError::InvalidHeader(_)))
        ));
        assert!(matches!(
            Credentials::from_headers(&[b"DPoP a"], &[b"p1", b"p2"]),
            Err(AuthgentError::Request(RequestError::MultipleDpop))
        ));
        assert!(!format!("{c:?}").contains("abc"));
        for tabbed in [&b"Bearer\tabc"[..], b"DPoP\tabc", b"Bearer \tabc"] {
            assert!(
                matches!(
                    Credentials::from_headers(&[tabbed], none),
                    Err(AuthgentError::Token(TokenError::Malformed(_)))
                ),
                "{tabbed:?}"
            );
        }
    }
}
