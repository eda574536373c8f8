//! The audit record of one access decision: who was behind a request (the whole delegation
//! chain, root first), what it asked for, and whether it was allowed — the answer to "which
//! human and which agents were behind this call, and what was refused and why".
//!
//! [`AuditEvent`] is built here from what a decision knows (no I/O, time is an argument);
//! `authgent-jwks` emits one per request on every adapter (as a `tracing` event with target
//! [`TARGET`], and to any sink configured on `AgentAuth`).
//!
//! It never holds a token, a proof or a key. A request refused before its token was verified
//! carries no claim from that token at all — its `sub`, `act` and `client_id` are what an
//! attacker chose, and logging them as if they were facts would let anyone write names into an
//! audit trail — only the request, the scheme and the reason.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use authgent_core::audit::{AuditEvent, Outcome};
//!
//! let at = UNIX_EPOCH + Duration::from_millis(1_796_000_000_250);
//! let event = AuditEvent::new(Outcome::Refused, 401, at)
//!     .with_error("invalid_token", "token has expired")
//!     .with_request("POST", "/tools/search?q=1");
//! assert_eq!(event.path.as_deref(), Some("/tools/search"));
//! assert_eq!(event.time, "2026-11-30T00:53:20.250Z");
//! let line = serde_json::to_string(&event)?;
//! assert!(line.contains(r#""outcome":"refused""#) && line.contains(r#""error":"invalid_token""#));
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::borrow::Cow;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::AgentIdentity;
use crate::mcp::McpRequest;

/// The `tracing` target of audit events (one `info` event per decision).
pub const TARGET: &str = "authgent::audit";

/// Whether authgent let the request through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// Authenticated (or anonymous where allowed) and every check passed; the status is what
    /// the service then answered.
    Allowed,
    /// Refused by authgent; the status and error are its answer.
    Refused,
}

impl Outcome {
    /// `"allowed"` or `"refused"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Refused => "refused",
        }
    }
}

/// One access decision. Serialised, a member that is not known (`None`, an empty chain) is
/// left out. Every string is data, never markup: serialised it is JSON-escaped,
/// and `Debug` quotes and escapes it, so a caller-chosen name with a newline cannot forge a log
/// line. Holds no token, proof or key.
///
/// Its strings borrow from the request and the verified identity (`'a`), so emitting one on
/// the request path copies nothing; [`into_owned`](Self::into_owned) keeps one beyond it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEvent<'a> {
    /// When the decision was made: RFC 3339, UTC, milliseconds.
    pub time: String,
    /// Allowed or refused.
    pub outcome: Outcome,
    /// The HTTP status: authgent's refusal, or what the service answered an allowed request.
    pub status: u16,
    /// The refusal's stable error code (`invalid_token`, `insufficient_scope`,
    /// `delegation_depth_exceeded`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Cow<'a, str>>,
    /// The precise reason of a refusal (`token has expired`, …): never the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Cow<'a, str>>,
    /// The request's HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Cow<'a, str>>,
    /// The request's path, without its query string (which is never logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Cow<'a, str>>,
    /// For an MCP request: its JSON-RPC methods and the tools, prompts, resources and tasks it
    /// names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<Cow<'a, McpRequest>>,
    /// On the agent side (`authgent-rig`): the agent's tool that sent the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<Cow<'a, str>>,
    /// On the agent side: the service the tool called (the token's audience).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Cow<'a, str>>,
    /// The scheme the credentials came with: `bearer` or `dpop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<Cow<'a, str>>,
    /// The verified token's issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Cow<'a, str>>,
    /// The verified `sub`: on whose behalf the request was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Cow<'a, str>>,
    /// The OAuth client holding the token (the current actor when delegated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Cow<'a, str>>,
    /// The whole delegation chain, root first: the subject, then every actor from the first
    /// delegate to the current actor. Empty when no token was verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<Cow<'a, str>>,
    /// Whether the chain starts at a human.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human_root: Option<bool>,
    /// The DPoP key thumbprint (`cnf.jkt`) the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<Cow<'a, str>>,
    /// The token's `jti`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<Cow<'a, str>>,
}

impl<'a> AuditEvent<'a> {
    /// An event with its outcome, status and time, and nothing else known yet.
    pub fn new(outcome: Outcome, status: u16, time: SystemTime) -> Self {
        AuditEvent {
            time: rfc3339_millis(time),
            outcome,
            status,
            error: None,
            reason: None,
            method: None,
            path: None,
            mcp: None,
            tool: None,
            resource: None,
            scheme: None,
            issuer: None,
            subject: None,
            client_id: None,
            chain: Vec::new(),
            human_root: None,
            dpop_jkt: None,
            jti: None,
        }
    }

    /// The refusal's code and reason.
    #[must_use]
    pub fn with_error(mut self, code: &'a str, reason: impl Into<Cow<'a, str>>) -> Self {
        self.error = Some(Cow::Borrowed(code));
        self.reason = Some(reason.into());
        self
    }

    /// The request: its method and its target (path and query, or an absolute URI); only the
    /// path is kept.
    #[must_use]
    pub fn with_request(mut self, method: &'a str, target: &'a str) -> Self {
        self.method = Some(Cow::Borrowed(method));
        self.path = Some(Cow::Borrowed(Self::path_of(target)));
        self
    }

    /// The MCP messages the request carried.
    #[must_use]
    pub fn with_mcp(mut self, request: &'a McpRequest) -> Self {
        self.mcp = Some(Cow::Borrowed(request));
        self
    }

    /// The agent's tool that sent the request (agent-side events).
    #[must_use]
    pub fn with_tool(mut self, tool: &'a str) -> Self {
        self.tool = Some(Cow::Borrowed(tool));
        self
    }

    /// The scheme (`bearer`, `dpop`).
    #[must_use]
    pub fn with_scheme(mut self, scheme: &'a str) -> Self {
        self.scheme = Some(Cow::Borrowed(scheme));
        self
    }

    /// Everything the verified `identity` says about who is behind the request.
    #[must_use]
    pub fn with_identity(mut self, identity: &'a AgentIdentity) -> Self {
        let chain = identity.delegation_chain();
        self.issuer = Some(Cow::Borrowed(identity.issuer()));
        self.subject = Some(Cow::Borrowed(identity.subject()));
        self.client_id = identity.client_id().map(Cow::Borrowed);
        self.chain = chain.root_first().map(Cow::Borrowed).collect();
        self.human_root = Some(chain.human_root());
        self.dpop_jkt = identity.dpop_jkt().map(Cow::Borrowed);
        self.jti = identity.token_id().map(Cow::Borrowed);
        self
    }

    /// The current actor (the agent that sent the request), when delegated.
    pub fn current_actor(&self) -> Option<&str> {
        self.chain.get(1..).and_then(<[_]>::last).map(AsRef::as_ref)
    }

    /// The path of a request target, as events record it: an origin-form target without its
    /// query (never logged: tokens are sent there by mistake), or an absolute URI's path.
    ///
    /// ```
    /// # use authgent_core::audit::AuditEvent;
    /// assert_eq!(AuditEvent::path_of("/tools/search?access_token=x"), "/tools/search");
    /// assert_eq!(AuditEvent::path_of("https://api.example/mcp?x=1"), "/mcp");
    /// ```
    pub fn path_of(target: &str) -> &str {
        let without_query = target.split(['?', '#']).next().unwrap_or_default();
        if without_query.starts_with('/') {
            return without_query;
        }
        match without_query.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => without_query,
        }
    }

    /// The same event owning its strings, to keep beyond the request (a queue, a channel).
    pub fn into_owned(self) -> AuditEvent<'static> {
        fn own(s: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            s.map(|s| Cow::Owned(s.into_owned()))
        }
        AuditEvent {
            time: self.time,
            outcome: self.outcome,
            status: self.status,
            error: own(self.error),
            reason: own(self.reason),
            method: own(self.method),
            path: own(self.path),
            mcp: self.mcp.map(|m| Cow::Owned(m.into_owned())),
            tool: own(self.tool),
            resource: own(self.resource),
            scheme: own(self.scheme),
            issuer: own(self.issuer),
            subject: own(self.subject),
            client_id: own(self.client_id),
            chain: self
                .chain
                .into_iter()
                .map(|s| Cow::Owned(s.into_owned()))
                .collect(),
            human_root: self.human_root,
            dpop_jkt: own(self.dpop_jkt),
            jti: own(self.jti),
        }
    }
}

/// `time` as RFC 3339 in UTC with milliseconds (`2026-12-04T13:05:09.123Z`); before 1970, the
/// epoch.
fn rfc3339_millis(time: SystemTime) -> String {
    let since = time
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    // Digit by digit, without the formatting machinery: this runs once per request.
    let mut out = String::with_capacity(24);
    let mut digits = |value: u64, width: u32, then: char| {
        for place in (0..width).rev() {
            let digit = (value / 10u64.pow(place) % 10) as u8;
            out.push(char::from(b'0' + digit));
        }
        out.push(then);
    };
    digits(year, 4, '-');
    digits(month, 2, '-');
    digits(day, 2, 'T');
    digits(rem / 3600, 2, ':');
    digits(rem % 3600 / 60, 2, ':');
    digits(rem % 60, 2, '.');
    digits(u64::from(since.subsec_millis()), 3, 'Z');
    out
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        let at = |ms: u64| rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms));
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(at(1_796_000_000_250), "2026-11-30T00:53:20.250Z");
        assert_eq!(at(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
        assert_eq!(
            rfc3339_millis(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn only_the_path_of_a_target_is_kept() {
        assert_eq!(
            AuditEvent::path_of("/tools/search?access_token=x"),
            "/tools/search"
        );
        assert_eq!(AuditEvent::path_of("/a#frag"), "/a");
        assert_eq!(AuditEvent::path_of("https://api.example/mcp?x=1"), "/mcp");
        assert_eq!(AuditEvent::path_of("https://api.example"), "/");
        assert_eq!(AuditEvent::path_of("*"), "*");
        assert_eq!(AuditEvent::path_of("/go/http://x/y?z"), "/go/http://x/y");
    }
}
