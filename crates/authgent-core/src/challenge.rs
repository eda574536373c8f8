//! `WWW-Authenticate` challenges (RFC 6750 §3, RFC 9449 §7.1, RFC 9728 §5.1): building them,
//! parsing them, and mapping every error to its status, code and challenge.

use std::fmt;

use crate::algorithm::Algorithm;
use crate::credentials::Scheme;
use crate::error::{AuthgentError, TokenError};

/// One authentication challenge: a scheme and its auth-params, each at most once.
///
/// ```
/// use authgent_core::challenge::Challenge;
/// let c = Challenge::new("Bearer")
///     .param("realm", "api")
///     .param("error", "insufficient_scope")
///     .param("scope", "db:delete");
/// assert_eq!(c.to_string(), r#"Bearer realm="api", error="insufficient_scope", scope="db:delete""#);
/// let parsed = Challenge::parse_all(&c.to_string()).unwrap();
/// assert_eq!(parsed[0].get("scope"), Some("db:delete"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    scheme: String,
    token68: Option<String>,
    params: Vec<(String, String)>,
}

/// A `WWW-Authenticate` value that does not follow RFC 9110 §11.6.1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed WWW-Authenticate value at byte {position}")]
#[non_exhaustive]
pub struct ChallengeParseError {
    /// Where parsing stopped.
    pub position: usize,
}

impl Challenge {
    /// A challenge for `scheme` with no parameters.
    pub fn new(scheme: impl Into<String>) -> Self {
        Challenge {
            scheme: scheme.into(),
            token68: None,
            params: Vec::new(),
        }
    }

    /// Sets `name` to `value`, replacing an earlier value of the same name (names compare
    /// case-insensitively). Control characters in `value` become spaces, so a challenge can
    /// never split a header.
    #[must_use]
    pub fn param(mut self, name: &str, value: impl AsRef<str>) -> Self {
        let value: String = value
            .as_ref()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let name = name.to_ascii_lowercase();
        match self.params.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.params.push((name, value)),
        }
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// A parameter's value by (case-insensitive) name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All parameters, names lower-cased, in order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The token68 form, for schemes that use it instead of parameters.
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }

    /// Parses a `WWW-Authenticate` field value holding one or more challenges.
    pub fn parse_all(value: &str) -> Result<Vec<Challenge>, ChallengeParseError> {
        Parser {
            s: value.as_bytes(),
            i: 0,
        }
        .challenges()
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        if let Some(t) = &self.token68 {
            return write!(f, " {t}");
        }
        for (i, (name, value)) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            write!(f, "{name}=\"")?;
            for c in value.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\"")?;
        }
        Ok(())
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

impl Parser<'_> {
    fn err(&self) -> ChallengeParseError {
        ChallengeParseError { position: self.i }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn skip_commas(&mut self) {
        loop {
            self.skip_ws();
            if self.peek() == Some(b',') {
                self.i += 1;
            } else {
                break;
            }
        }
    }
    fn token(&mut self) -> &str {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        // tchars are ASCII, so this slice is valid UTF-8.
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default()
    }
    fn quoted(&mut self) -> Result<String, ChallengeParseError> {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err()),
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| self.err());
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = self.peek().ok_or_else(|| self.err())?;
                    out.push(c);
                    self.i += 1;
                }
                Some(c) if c == b'\t' || c >= 0x20 && c != 0x7f => {
                    out.push(c);
                    self.i += 1;
                }
                Some(_) => return Err(self.err()),
            }
        }
    }

    /// Whether the input at the cursor is `token BWS "="` followed by a value (an auth-param),
    /// as opposed to the start of the next challenge.
    fn at_param(&self) -> bool {
        let mut j = self.i;
        while self.s.get(j).copied().is_some_and(is_tchar) {
            j += 1;
        }
        if j == self.i {
            return false;
        }
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        if self.s.get(j) != Some(&b'=') {
            return false;
        }
        j += 1;
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        matches!(self.s.get(j), Some(b) if *b == b'"' || is_tchar(*b))
    }

    fn challenges(mut self) -> Result<Vec<Challenge>, ChallengeParseError> {
        let mut out = Vec::new();
        self.skip_commas();
        while self.i < self.s.len() {
            let scheme = self.token().to_owned();
            if scheme.is_empty() {
                return Err(self.err());
            }
            let mut challenge = Challenge::new(scheme);
            self.skip_ws();
            if self.at_param() {
                loop {
                    let name = self.token().to_ascii_lowercase();
                    self.skip_ws();
                    self.i += 1; // '=' (checked by at_param)
                    self.skip_ws();
                    let value = if self.peek() == Some(b'"') {
                        self.quoted()?
                    } else {
                        self.token().to_owned()
                    };
                    if challenge.params.iter().any(|(n, _)| *n == name) {
                        return Err(self.err()); // each auth-param at most once
                    }
                    challenge.params.push((name, value));
                    self.skip_commas();
                    if !self.at_param() {
                        break;
                    }
                }
            } else if self.peek().is_some_and(is_token68_char) {
                let start = self.i;
                while self.peek().is_some_and(is_token68_char) {
                    self.i += 1;
                }
                while self.peek() == Some(b'=') {
                    self.i += 1;
                }
                challenge.token68 = std::str::from_utf8(&self.s[start..self.i])
                    .ok()
                    .map(str::to_owned);
                self.skip_commas();
            } else {
                self.skip_commas();
            }
            out.push(challenge);
        }
        Ok(out)
    }
}

/// How a resource describes itself in challenges.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct ChallengeConfig {
    /// `realm`, when set.
    pub realm: Option<String>,
    /// URL of the resource's RFC 9728 metadata document (`resource_metadata`).
    pub resource_metadata: Option<String>,
    /// Algorithms for `DPoP algs="…"`; `None` when the resource does not accept DPoP.
    pub dpop_algs: Option<Vec<Algorithm>>,
    /// Put each error's own message in `error_description` instead of a fixed terse text.
    pub verbose: bool,
    /// Builds the response body instead of the default `{"error", "error_description"}` JSON.
    pub body: Option<ErrorBodyHook>,
}

/// Builds an error response's body from the response (status, code, description, …).
pub type ErrorBodyHook = std::sync::Arc<dyn Fn(&ErrorResponse) -> String + Send + Sync>;

impl fmt::Debug for ChallengeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChallengeConfig")
            .field("realm", &self.realm)
            .field("resource_metadata", &self.resource_metadata)
            .field("dpop_algs", &self.dpop_algs)
            .field("verbose", &self.verbose)
            .field("body", &self.body.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl ChallengeConfig {
    /// A configuration with a metadata URL and the DPoP algorithms accepted.
    pub fn new(resource_metadata: Option<String>, dpop_algs: Option<Vec<Algorithm>>) -> Self {
        ChallengeConfig {
            realm: None,
            resource_metadata,
            dpop_algs,
            verbose: false,
            body: None,
        }
    }
}

/// Everything an adapter needs to answer a failed request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// HTTP status.
    pub status: u16,
    /// The body's `error`.
    pub code: &'static str,
    /// The body's `error_description`.
    pub description: String,
    /// `WWW-Authenticate` values, one header each.
    pub challenges: Vec<String>,
    /// `DPoP-Nonce` to send (with `use_dpop_nonce`).
    pub dpop_nonce: Option<String>,
    /// `Retry-After` seconds (with 503).
    pub retry_after: Option<u64>,
    /// The body to send: [`body_json`](Self::body_json), or what the configured hook built.
    pub body: String,
}

impl ErrorResponse {
    /// Maps an error to status, code and challenges per CONFORMANCE.md's table. `scheme` is
    /// the scheme the request used, if any.
    ///
    /// ```
    /// use authgent_core::{AuthgentError, ScopeError};
    /// use authgent_core::challenge::{ChallengeConfig, ErrorResponse};
    /// use authgent_core::credentials::Scheme;
    /// let cfg = ChallengeConfig::new(Some("https://api.example/.well-known/oauth-protected-resource".into()), None);
    /// let err: AuthgentError = ScopeError::new(["db:delete"]).into();
    /// let r = ErrorResponse::new(&err, Some(Scheme::Bearer), &cfg);
    /// assert_eq!(r.status, 403);
    /// assert!(r.challenges[0].contains(r#"scope="db:delete""#));
    /// ```
    pub fn new(error: &AuthgentError, scheme: Option<Scheme>, config: &ChallengeConfig) -> Self {
        let code = error.code();
        let description = match error {
            // About the request the client itself sent, never about a token: say what to fix.
            AuthgentError::Request(request) => request.to_string(),
            _ if config.verbose => error.to_string(),
            _ => terse(error).to_owned(),
        };
        let mut response = ErrorResponse {
            status: error.status(),
            code,
            description: description.clone(),
            challenges: Vec::new(),
            dpop_nonce: None,
            retry_after: None,
            body: String::new(),
        };
        // Every challenge names the metadata document when one is configured (RFC 9728 §5.1),
        // whatever the scheme and error: a client that meets a DPoP error first must still
        // find the authorization server.
        let base = |scheme: Scheme| {
            let mut c = Challenge::new(scheme.as_str());
            if let Some(realm) = &config.realm {
                c = c.param("realm", realm);
            }
            if let Some(url) = &config.resource_metadata {
                c = c.param("resource_metadata", url);
            }
            c
        };
        let with_algs = |c: Challenge| match &config.dpop_algs {
            Some(algs) => c.param(
                "algs",
                algs.iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            None => c,
        };
        let used = scheme.unwrap_or(Scheme::Bearer);
        if let Some(retry_after) = error.retry_after() {
            // 503s: the request may be fine; say when to retry, challenge nothing.
            response.retry_after = Some(retry_after.as_secs().max(1));
        }
        let challenge = match error {
            _ if error.status() == 503 => None,
            AuthgentError::MissingCredentials => {
                response.challenges.push((base(Scheme::Bearer)).to_string());
                if config.dpop_algs.is_some() {
                    response
                        .challenges
                        .push(with_algs(base(Scheme::Dpop)).to_string());
                }
                None
            }
            AuthgentError::Token(TokenError::DpopBoundAsBearer | TokenError::DpopRequired) => {
                Some(with_algs(base(Scheme::Dpop)).param("error", code))
            }
            AuthgentError::Token(_) => {
                let c = (base(used)).param("error", code);
                Some(if used == Scheme::Dpop {
                    with_algs(c)
                } else {
                    c
                })
            }
            AuthgentError::Dpop(e) => {
                if let crate::DpopError::UseNonce { nonce } = e {
                    response.dpop_nonce = Some(nonce.clone());
                }
                Some(with_algs(base(Scheme::Dpop)).param("error", code))
            }
            AuthgentError::Scope(e) => Some(
                (base(used))
                    .param("error", "insufficient_scope")
                    .param("scope", e.required.join(" ")),
            ),
            AuthgentError::Delegation(_) => Some((base(used)).param("error", "insufficient_scope")),
            AuthgentError::Request(_) => Some(base(used).param("error", code)),
            AuthgentError::KeysUnavailable { .. }
            | AuthgentError::RevocationCheckUnavailable { .. }
            | AuthgentError::Config(_) => None,
        };
        if let Some(c) = challenge {
            response
                .challenges
                .push(c.param("error_description", &description).to_string());
        }
        response.body = match &config.body {
            Some(hook) => hook(&response),
            None => response.body_json(),
        };
        response
    }

    /// The JSON body `{"error": …, "error_description": …}`.
    pub fn body_json(&self) -> String {
        serde_json::json!({"error": self.code, "error_description": self.description}).to_string()
    }

    /// A 500 `server_error` for a misconfigured server (a guard or extractor without the
    /// authentication in front of it), with `description` saying what to fix. No challenge:
    /// the client can do nothing about it.
    ///
    /// ```
    /// let r = authgent_core::challenge::ErrorResponse::server_error("Require needs AgentAuthLayer");
    /// assert_eq!((r.status, r.code), (500, "server_error"));
    /// assert!(r.body.contains("needs AgentAuthLayer"));
    /// ```
    pub fn server_error(description: impl Into<String>) -> Self {
        let mut response = ErrorResponse {
            status: 500,
            code: "server_error",
            description: description.into(),
            challenges: Vec::new(),
            dpop_nonce: None,
            retry_after: None,
            body: String::new(),
        };
        response.body = response.body_json();
        response
    }

    /// Every header of the response, in order: `content-type: application/json`,
    /// `cache-control: no-store` (refusals are never cached), one `www-authenticate` per
    /// challenge, `dpop-nonce` and `retry-after` when set. An adapter's renderer is a loop over
    /// these plus [`status`](Self::status) and [`body`](Self::body).
    ///
    /// ```
    /// use authgent_core::AuthgentError;
    /// use authgent_core::challenge::{ChallengeConfig, ErrorResponse};
    /// let r = ErrorResponse::new(&AuthgentError::MissingCredentials, None, &ChallengeConfig::default());
    /// let names: Vec<_> = r.headers().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["content-type", "cache-control", "www-authenticate"]);
    /// ```
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, std::borrow::Cow<'_, str>)> {
        use std::borrow::Cow;
        [
            ("content-type", Cow::Borrowed("application/json")),
            ("cache-control", Cow::Borrowed("no-store")),
        ]
        .into_iter()
        .chain(
            self.challenges
                .iter()
                .map(|c| ("www-authenticate", Cow::Borrowed(c.as_str()))),
        )
        .chain(
            self.dpop_nonce
                .iter()
                .map(|n| ("dpop-nonce", Cow::Borrowed(n.as_str()))),
        )
        .chain(
            self.retry_after
                .map(|s| ("retry-after", Cow::Owned(s.to_string()))),
        )
    }
}

/// Fixed descriptions that reveal nothing about why a token failed.
fn terse(error: &AuthgentError) -> &'static str {
    match error {
        AuthgentError::MissingCredentials => "authentication required",
        AuthgentError::Token(_) => "the access token is invalid",
        AuthgentError::Dpop(crate::DpopError::UseNonce { .. }) => "a DPoP nonce is required",
        AuthgentError::Dpop(crate::DpopError::ReplayCheckUnavailable { .. }) => {
            "the DPoP replay check is temporarily unavailable"
        }
        AuthgentError::Dpop(_) => "the DPoP proof is invalid",
        AuthgentError::Scope(_) => "the access token lacks a required scope",
        AuthgentError::Delegation(_) => "the delegation chain is not allowed here",
        AuthgentError::Request(_) => "the request is malformed", // said in full above
        AuthgentError::KeysUnavailable { .. } => "the issuer's keys are temporarily unavailable",
        AuthgentError::RevocationCheckUnavailable { .. } => {
            "the token's revocation status is temporarily unavailable"
        }
        AuthgentError::Config(_) => "the server is misconfigured",
    }
}
