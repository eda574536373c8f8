//! Audit events: one per request authgent decided, on every adapter and on MCP.
//!
//! Each decision is an [`AuditEvent`] (in `authgent-core`), emitted as an `info` event with
//! target [`TARGET`] (`authgent::audit`) and, when one is configured, handed to the
//! [`AuditSink`] of the [`AgentAuth`](crate::AgentAuth). A refusal of authentication is
//! emitted at once. Any later refusal (a guard, an extractor, an MCP tool policy) is noted on
//! the request, and the adapter emits the one event when the response is known
//! ([`AuthContext::record_response`](crate::AuthContext::record_response)): "refused" with the
//! noted code when the response carries that refusal's status, "allowed" otherwise — an
//! extractor's refusal that the application turned into "anonymous" (axum's
//! `Option<AgentIdentity>`) is not a refusal of the request. So each request gets exactly one
//! event, and its status is the one the client got.
//!
//! A request refused before its token was verified carries no claim from that token — not
//! even an "unverified" `sub`: an attacker chooses those, and an audit trail is where people
//! go for facts.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use authgent_core::AgentIdentity;
pub use authgent_core::audit::{AuditEvent, Outcome, TARGET};
use authgent_core::mcp::McpRequest;

/// Where audit events go besides the `tracing` event: a SIEM client, a channel, a file.
/// Called synchronously on the request path, once per decision: hand slow work to a channel.
///
/// Any `Fn(&AuditEvent) + Send + Sync` is a sink:
///
/// ```
/// use authgent_jwks::audit::{AuditEvent, AuditSink};
/// let (tx, _rx) = std::sync::mpsc::channel::<AuditEvent<'static>>();
/// let tx = std::sync::Mutex::new(tx);
/// let sink = move |event: &AuditEvent<'_>| {
///     let _ = tx.lock().map(|tx| tx.send(event.clone().into_owned()));
/// };
/// # fn takes(_: impl AuditSink) {}
/// takes(sink);
/// ```
pub trait AuditSink: Send + Sync + 'static {
    /// Records one event (its strings borrow from the request: `into_owned` to keep it).
    fn record(&self, event: &AuditEvent<'_>);
}

impl<F: Fn(&AuditEvent<'_>) + Send + Sync + 'static> AuditSink for F {
    fn record(&self, event: &AuditEvent<'_>) {
        self(event)
    }
}

/// A sink writing one JSON object per line (JSON Lines) to a writer — stderr for a container's
/// log collector, or a file. A line that cannot be written is counted
/// (`authgent_audit_write_failures_total`) and reported once as a `warn` event.
///
/// ```
/// use authgent_jwks::audit::JsonLines;
/// let sink = JsonLines::stderr();
/// // AgentAuth::builder(verifier).audit_sink(sink)
/// # let _ = sink;
/// ```
pub struct JsonLines<W> {
    /// The writer, and the line buffer each event is serialised into (kept: no allocation
    /// per event).
    writer: Mutex<(W, Vec<u8>)>,
    warned: AtomicBool,
}

impl JsonLines<std::io::Stderr> {
    /// JSON lines on standard error.
    pub fn stderr() -> Self {
        JsonLines::new(std::io::stderr())
    }
}

impl<W: Write + Send + 'static> JsonLines<W> {
    /// JSON lines on `writer`.
    pub fn new(writer: W) -> Self {
        JsonLines {
            writer: Mutex::new((writer, Vec::with_capacity(1024))),
            warned: AtomicBool::new(false),
        }
    }
}

impl<W> fmt::Debug for JsonLines<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsonLines")
    }
}

impl<W: Write + Send + 'static> AuditSink for JsonLines<W> {
    fn record(&self, event: &AuditEvent<'_>) {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let (writer, line) = &mut *guard;
        line.clear();
        if serde_json::to_writer(&mut *line, event).is_err() {
            drop(guard);
            return self.failed("the event did not serialise");
        }
        line.push(b'\n');
        if writer
            .write_all(line)
            .and_then(|()| writer.flush())
            .is_err()
        {
            drop(guard);
            self.failed("the writer refused it");
        }
    }
}

impl<W> JsonLines<W> {
    fn failed(&self, why: &'static str) {
        crate::metrics::audit_failure();
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(target: "authgent_jwks", why,
                "an audit event could not be written (counted in authgent_audit_write_failures_total)");
        }
    }
}

/// The audit state of one request, shared by every clone of its `AuthContext`.
pub(crate) struct RequestAudit {
    /// Whether anyone listens (a sink, or a subscriber for [`TARGET`]): when not, no event is
    /// built, only the decision counted.
    enabled: bool,
    method: Box<str>,
    path: Box<str>,
    mcp: OnceLock<McpRequest>,
    /// The latest refusal made for this request, not yet emitted.
    pending: Mutex<Option<Refusal>>,
    /// Set by the request's one event.
    done: AtomicBool,
}

/// A refusal noted on a request: its status, code and (when auditing) reason.
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) reason: Option<String>,
}

impl RequestAudit {
    pub(crate) fn new(enabled: bool, method: &str, target: &str) -> Self {
        let (method, path) = if enabled {
            (method.into(), AuditEvent::path_of(target).into())
        } else {
            (Box::default(), Box::default())
        };
        RequestAudit {
            enabled,
            method,
            path,
            mcp: OnceLock::new(),
            pending: Mutex::new(None),
            done: AtomicBool::new(false),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    pub(crate) fn set_mcp(&self, request: &McpRequest) {
        if self.enabled {
            let _ = self.mcp.set(request.clone());
        }
    }

    /// Claims the request's one event: `false` when it was already emitted.
    pub(crate) fn claim(&self) -> bool {
        !self.done.swap(true, Ordering::AcqRel)
    }

    /// Notes a refusal (the latest one counts); `reason` is only built when auditing.
    pub(crate) fn note_refusal(
        &self,
        status: u16,
        code: &'static str,
        reason: impl FnOnce() -> Option<String>,
    ) {
        let reason = if self.enabled { reason() } else { None };
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(Refusal {
            status,
            code,
            reason,
        });
    }

    /// The noted refusal, when the response carries its status.
    pub(crate) fn refusal_answered_with(&self, status: u16) -> Option<Refusal> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .filter(|r| r.status == status)
    }

    /// A new event for this request, with its method, path and MCP messages.
    pub(crate) fn event(&self, outcome: Outcome, status: u16) -> AuditEvent<'_> {
        let mut event = AuditEvent::new(outcome, status, SystemTime::now())
            .with_request(&self.method, &self.path);
        if let Some(mcp) = self.mcp.get() {
            event = event.with_mcp(mcp);
        }
        event
    }
}

/// Whether an event would reach anyone: a configured sink or a `tracing` subscriber that
/// wants [`TARGET`] at `info`.
pub(crate) fn listening(sink: Option<&Arc<dyn AuditSink>>) -> bool {
    sink.is_some() || tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

/// `Debug` of a string that may be absent: quoted and escaped when present, no field when not.
fn quoted<'a>(value: &'a Option<Cow<'_, str>>) -> Option<tracing::field::DebugValue<&'a str>> {
    value.as_deref().map(tracing::field::debug)
}

/// Emits `event` as every authgent audit event is emitted: the `info` event with target
/// [`TARGET`], then `sink`. Caller-chosen strings are recorded with `Debug` (quoted, escaped)
/// so a newline in a name cannot forge a log line. The adapters emit their own; this is for
/// events made elsewhere (an agent's tool calls, `authgent-rig`).
///
/// ```
/// use authgent_jwks::audit::{AuditEvent, Outcome, record};
/// let event = AuditEvent::new(Outcome::Allowed, 200, std::time::SystemTime::now())
///     .with_tool("search_tickets");
/// record(&event, None);
/// ```
pub fn record(event: &AuditEvent<'_>, sink: Option<&Arc<dyn AuditSink>>) {
    let mcp = event.mcp.as_ref();
    let list = |pick: fn(&McpRequest) -> &Vec<String>| {
        mcp.map(|m| pick(m))
            .filter(|v| !v.is_empty())
            .map(tracing::field::debug)
    };
    tracing::info!(
        target: TARGET,
        outcome = event.outcome.as_str(),
        status = event.status,
        error = event.error.as_deref(),
        reason = quoted(&event.reason),
        method = quoted(&event.method),
        path = quoted(&event.path),
        mcp_methods = list(|m| &m.methods),
        tools = list(|m| &m.tools),
        prompts = list(|m| &m.prompts),
        resources = list(|m| &m.resources),
        tasks = list(|m| &m.tasks),
        tool = quoted(&event.tool),
        resource = quoted(&event.resource),
        scheme = event.scheme.as_deref(),
        issuer = quoted(&event.issuer),
        subject = quoted(&event.subject),
        client_id = quoted(&event.client_id),
        chain = (!event.chain.is_empty()).then_some(tracing::field::debug(&event.chain)),
        human_root = event.human_root,
        dpop_jkt = quoted(&event.dpop_jkt),
        jti = quoted(&event.jti),
        "{}",
        match event.outcome {
            Outcome::Refused => "request refused",
            _ => "request allowed",
        }
    );
    if let Some(sink) = sink {
        sink.record(event);
    }
}

/// Records what a verified identity says about the caller on `span`, with the attribute names
/// of docs/operations.md: `enduser.id` (the subject), `authgent.client_id`,
/// `authgent.delegation.depth`, `authgent.delegation.actor` (the current actor),
/// `authgent.delegation.chain` (root first), `authgent.delegation.human_root`,
/// `authgent.dpop.jkt` and `authgent.token.issuer`. Only the fields `span` declares (as
/// `tracing::field::Empty`) are recorded: `authgent.authenticate` declares them all, a tool
/// span some.
///
/// ```
/// # fn demo(identity: &authgent_core::AgentIdentity) {
/// let span = tracing::info_span!("my.operation", "enduser.id" = tracing::field::Empty);
/// authgent_jwks::audit::record_identity(&span, identity);
/// # }
/// ```
pub fn record_identity(span: &tracing::Span, identity: &AgentIdentity) {
    let chain = identity.delegation_chain();
    span.record("enduser.id", identity.subject());
    span.record("authgent.delegation.depth", chain.depth());
    span.record("authgent.delegation.human_root", chain.human_root());
    span.record("authgent.token.issuer", identity.issuer());
    if let Some(client) = identity.client_id() {
        span.record("authgent.client_id", client);
    }
    if let Some(actor) = chain.current_actor() {
        span.record("authgent.delegation.actor", actor.subject());
    }
    if chain.is_delegated() {
        let root_first: Vec<&str> = chain.root_first().collect();
        span.record(
            "authgent.delegation.chain",
            tracing::field::debug(&root_first),
        );
    }
    if let Some(jkt) = identity.dpop_jkt() {
        span.record("authgent.dpop.jkt", jkt);
    }
}
