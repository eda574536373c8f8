//! MCP authorization, decided from the JSON-RPC body before dispatch (no I/O).
//!
//! An MCP server receives every call at one endpoint, so "which scopes does this request
//! need?" is a question about its body: [`ToolPolicy::inspect_request`] reads the JSON-RPC
//! message (or batch) — only the members a decision needs (`method`, and `params.name`,
//! `params.uri` or `params.taskId`), everything else skipped without being built — strictly
//! (duplicate `method`, `params` or name members refused: two parsers must not disagree on
//! what is called), checks the `Mcp-Method` / `Mcp-Name` headers of the 2026-07-28 revision
//! (SEP-2243) against it, and [`ToolPolicy::check`] answers with the scopes every called tool,
//! prompt and resource needs — all of them in one [`ScopeError`], so the 403 challenge lists
//! what to step up to. A batch needs the union of its calls' scopes: it cannot smuggle a
//! scoped call behind an unscoped one.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};

use crate::{RequestError, ScopeError};

/// Largest body [`ToolPolicy::inspect`] reads by default (1 MiB).
pub const DEFAULT_MAX_MCP_BODY: usize = 1 << 20;

/// Most messages in one JSON-RPC batch by default (protocol revisions before 2025-06-18; later
/// ones have no batches and refuse any).
pub const DEFAULT_MAX_MCP_BATCH: usize = 32;

/// The first protocol revision without JSON-RPC batches.
const NO_BATCHES_FROM: &str = "2025-06-18";

/// The messages of one MCP HTTP request, as far as authorization cares (and as audit events
/// record them).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
#[non_exhaustive]
pub struct McpRequest {
    /// Every JSON-RPC method in the body, in order (notifications included).
    pub methods: Vec<String>,
    /// The tools the body calls (`tools/call` `params.name`), in order.
    pub tools: Vec<String>,
    /// The prompts the body gets (`prompts/get` `params.name`), in order.
    pub prompts: Vec<String>,
    /// The resources the body reads or (un)subscribes to (`params.uri`), in order.
    pub resources: Vec<String>,
    /// The tasks the body asks about (`tasks/get|update|cancel` `params.taskId`), in order.
    pub tasks: Vec<String>,
}

/// The SEP-2243 and version headers of one request, each sent at most once. Build it with
/// [`McpHeaders::from_values`], which refuses a header sent twice or not ASCII.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct McpHeaders {
    /// `Mcp-Method`.
    pub method: Option<String>,
    /// `Mcp-Name`, as sent (possibly `=?base64?…?=`).
    pub name: Option<String>,
    /// `MCP-Protocol-Version`.
    pub protocol_version: Option<String>,
}

impl McpHeaders {
    /// The headers from every value sent of `Mcp-Method`, `Mcp-Name` and
    /// `MCP-Protocol-Version`: each at most once, visible ASCII (SEP-2243 wraps anything else
    /// in `=?base64?…?=`), else `400 invalid_request`.
    ///
    /// ```
    /// use authgent_core::mcp::McpHeaders;
    /// let h = McpHeaders::from_values(&[b"tools/call"], &[b"=?base64?ZGVwbG95?="], &[])?;
    /// assert_eq!(h.name.as_deref(), Some("=?base64?ZGVwbG95?="));
    /// assert!(McpHeaders::from_values(&[b"tools/call", b"tools/list"], &[], &[]).is_err());
    /// assert!(McpHeaders::from_values(&[], &["d\u{e9}ploy".as_bytes()], &[]).is_err());
    /// # Ok::<(), authgent_core::RequestError>(())
    /// ```
    pub fn from_values(
        method: &[&[u8]],
        name: &[&[u8]],
        protocol_version: &[&[u8]],
    ) -> Result<Self, RequestError> {
        fn one(values: &[&[u8]], header: &'static str) -> Result<Option<String>, RequestError> {
            match values {
                [] => Ok(None),
                [value] if value.iter().all(|b| (0x20..0x7f).contains(b)) => {
                    Ok(Some(String::from_utf8_lossy(value).into_owned()))
                }
                [_] => Err(RequestError::InvalidHeader(header)),
                _ => Err(RequestError::McpHeaderMismatch(header)),
            }
        }
        Ok(McpHeaders {
            method: one(method, "Mcp-Method")?,
            name: one(name, "Mcp-Name")?,
            protocol_version: one(protocol_version, "MCP-Protocol-Version")?,
        })
    }
}

/// Per-tool, per-prompt and per-resource scope requirements and the scope hierarchy, declared
/// next to the tools.
///
/// ```
/// use authgent_core::mcp::ToolPolicy;
/// let policy = ToolPolicy::builder()
///     .tool("delete_records", ["db:delete"])
///     .tool("search", ["search:execute"])
///     .prompt("incident_report", ["reports:read"])
///     .resource("file:///payroll/*", ["payroll:read"])  // a trailing * matches a prefix
///     .covers("db:admin", ["db:delete", "db:read"])  // a broader scope covers narrower ones
///     .build();
/// let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_records"}}"#;
/// let request = policy.inspect(body, Some("tools/call"), Some("delete_records"))?;
/// assert_eq!(policy.check(&request, &["db:admin"]), Ok(()));
/// let refused = policy.check(&request, &["search:execute"]).unwrap_err();
/// assert_eq!(refused.required, ["db:delete"]);
/// let read = br#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///payroll/2026.csv"}}"#;
/// let request = policy.inspect(read, None, None)?;
/// assert_eq!(policy.check(&request, &["db:admin"]).unwrap_err().required, ["payroll:read"]);
/// # Ok::<(), authgent_core::RequestError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ToolPolicy {
    tools: BTreeMap<String, Vec<String>>,
    prompts: BTreeMap<String, Vec<String>>,
    /// (pattern, scopes): exact URIs, or prefixes when the pattern ends in `*`.
    resources: Vec<(String, Vec<String>)>,
    covers: BTreeMap<String, BTreeSet<String>>,
    max_body: usize,
    max_batch: usize,
}

/// Builds a [`ToolPolicy`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ToolPolicyBuilder(ToolPolicy);

fn strings<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Vec<String> {
    scopes.into_iter().map(Into::into).collect()
}

impl ToolPolicyBuilder {
    /// `tool` needs every scope in `scopes`. Tools not named need no scope (any authenticated
    /// caller).
    pub fn tool<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        tool: impl Into<String>,
        scopes: I,
    ) -> Self {
        self.0.tools.insert(tool.into(), strings(scopes));
        self
    }

    /// The prompt `name` (`prompts/get`) needs every scope in `scopes`. Prompts not named need
    /// no scope.
    pub fn prompt<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        name: impl Into<String>,
        scopes: I,
    ) -> Self {
        self.0.prompts.insert(name.into(), strings(scopes));
        self
    }

    /// Resources whose URI matches `pattern` (`resources/read`, `/subscribe`, `/unsubscribe`)
    /// need every scope in `scopes`: the exact URI, or every URI starting with the pattern
    /// before a trailing `*` (`file:///payroll/*`). A URI matched by several patterns needs
    /// the scopes of all of them. Resources matched by none need no scope.
    pub fn resource<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        pattern: impl Into<String>,
        scopes: I,
    ) -> Self {
        self.0.resources.push((pattern.into(), strings(scopes)));
        self
    }

    /// A granted `broad` scope also satisfies each of `narrower` (one level: declare every
    /// scope a broad one covers).
    pub fn covers<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        broad: impl Into<String>,
        narrower: I,
    ) -> Self {
        self.0
            .covers
            .entry(broad.into())
            .or_default()
            .extend(narrower.into_iter().map(Into::into));
        self
    }

    /// The largest body read (default [`DEFAULT_MAX_MCP_BODY`]).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.0.max_body = bytes;
        self
    }

    /// The most messages in one JSON-RPC batch (default [`DEFAULT_MAX_MCP_BATCH`]); revisions
    /// from 2025-06-18 on have no batches, whatever this says.
    pub fn max_batch(mut self, messages: usize) -> Self {
        self.0.max_batch = messages;
        self
    }

    /// The policy.
    pub fn build(self) -> ToolPolicy {
        self.0
    }
}

fn invalid(reason: &'static str) -> RequestError {
    RequestError::InvalidMcpRequest(reason)
}

/// A member the decision reads only when it is a string (`params.name`, `.uri`, `.taskId`):
/// any other JSON value is skipped, not built.
#[derive(Debug, Default)]
struct MaybeStr<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for MaybeStr<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Owned(v))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(MaybeStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
struct Params<'a> {
    #[serde(borrow, default)]
    name: Option<MaybeStr<'a>>,
    #[serde(borrow, default)]
    uri: Option<MaybeStr<'a>>,
    #[serde(borrow, default, rename = "taskId")]
    task_id: Option<MaybeStr<'a>>,
}

#[derive(Debug, Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<Params<'a>>,
}

/// A JSON-RPC request id, kept only to answer with it: a string or an integer (anything else
/// is skipped, not built, and answered as `null`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum RequestId {
    Str(String),
    Int(serde_json::Number),
    Other,
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RequestId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC id")
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RequestId::Str(v.to_owned()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RequestId::Int(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RequestId::Int(v.into()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(RequestId::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(RequestId::Other)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(RequestId::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RequestId::Other)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RequestId::Other)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// The JSON-RPC error code of a header that disagrees with the body, or is missing or
/// malformed: `HeaderMismatch` (MCP 2026-07-28, SEP-2243).
pub const HEADER_MISMATCH: i64 = -32020;

/// The answer MCP 2026-07-28 prescribes when `error` is about the MCP request headers
/// (`Mcp-Method`, `Mcp-Name`, `MCP-Protocol-Version`: disagreeing with the body, sent twice,
/// not visible ASCII): HTTP `400` with a JSON-RPC error response, code [`HEADER_MISMATCH`]
/// (streamable HTTP, "Server Validation": both MUST), the request's `id` when `body` is one
/// request that has one, else `null`. `None` for any other error, which stays an OAuth-shaped
/// `400 invalid_request` of the authorization layer.
///
/// ```
/// use authgent_core::RequestError;
/// use authgent_core::mcp::{HEADER_MISMATCH, header_error_body};
/// let body = br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"deploy"}}"#;
/// let answer = header_error_body(&RequestError::McpHeaderMismatch("Mcp-Name"), body).unwrap();
/// let answer: serde_json::Value = serde_json::from_slice(&answer)?;
/// assert_eq!(answer["id"], 7);
/// assert_eq!(answer["error"]["code"], HEADER_MISMATCH);
/// assert!(header_error_body(&RequestError::MultipleDpop, body).is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn header_error_body(error: &RequestError, body: &[u8]) -> Option<Vec<u8>> {
    let header = match error {
        RequestError::McpHeaderMismatch(header) | RequestError::InvalidHeader(header) => header,
        _ => return None,
    };
    if !MCP_HEADERS.contains(header) {
        return None;
    }
    let id = match serde_json::from_slice::<IdOnly>(body) {
        Ok(IdOnly {
            id: Some(RequestId::Str(id)),
        }) => serde_json::Value::from(id),
        Ok(IdOnly {
            id: Some(RequestId::Int(id)),
        }) => serde_json::Value::Number(id),
        _ => serde_json::Value::Null,
    };
    let answer = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": HEADER_MISMATCH, "message": format!("Header mismatch: {error}")},
    });
    serde_json::to_vec(&answer).ok()
}

/// The request headers [`header_error_body`] answers for.
const MCP_HEADERS: [&str; 3] = ["Mcp-Method", "Mcp-Name", "MCP-Protocol-Version"];

/// Only the id of one JSON-RPC message.
#[derive(Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Option<RequestId>,
}

/// A batch, refused past `max` messages before they are all read.
struct Batch<'a> {
    max: usize,
    messages: Vec<Message<'a>>,
    /// Set when the batch had more than `max` messages (the error that stopped reading).
    too_long: bool,
}

impl<'de: 'a, 'a> de::DeserializeSeed<'de> for &mut Batch<'a> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for &mut Batch<'a> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-RPC batch")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(message) = seq.next_element::<Message<'de>>()? {
            if self.messages.len() == self.max {
                self.too_long = true;
                return Err(de::Error::custom("batch too long"));
            }
            self.messages.push(message);
        }
        Ok(())
    }
}

/// Whether the resource `uri` matches `pattern`: equal to it, or, for a pattern ending in
/// `*`, starting with what comes before the `*`.
///
/// ```
/// use authgent_core::mcp::resource_matches;
/// assert!(resource_matches("file:///payroll/*", "file:///payroll/q4.csv"));
/// assert!(resource_matches("file:///a.txt", "file:///a.txt"));
/// assert!(!resource_matches("file:///payroll/*", "file:///payrolls"));
/// ```
pub fn resource_matches(pattern: &str, uri: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => uri.starts_with(prefix),
        None => uri == pattern,
    }
}

/// Which `params` member names a method's target (SEP-2243's `Mcp-Name` source).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Tool,
    Prompt,
    Resource,
    Task,
}

fn target(method: &str) -> Option<Target> {
    match method {
        "tools/call" => Some(Target::Tool),
        "prompts/get" => Some(Target::Prompt),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
            Some(Target::Resource)
        }
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some(Target::Task),
        _ => None,
    }
}

/// An `Mcp-Name` value as the body would have it: `=?base64?…?=` (standard base64 of UTF-8)
/// decoded, anything else as sent.
fn decoded_name(raw: &str) -> Result<Cow<'_, str>, RequestError> {
    use base64::Engine as _;
    match raw
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        None => Ok(Cow::Borrowed(raw)),
        Some(inner) => base64::engine::general_purpose::STANDARD
            .decode(inner)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Cow::Owned)
            .ok_or(RequestError::InvalidHeader("Mcp-Name")),
    }
}

impl ToolPolicy {
    /// An empty policy (nothing needs a scope) to add to.
    pub fn builder() -> ToolPolicyBuilder {
        ToolPolicyBuilder(ToolPolicy {
            max_body: DEFAULT_MAX_MCP_BODY,
            max_batch: DEFAULT_MAX_MCP_BATCH,
            ..ToolPolicy::default()
        })
    }

    /// The largest body [`Self::inspect`] reads.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// The scopes `tool` needs (empty when it needs none).
    pub fn scopes_for(&self, tool: &str) -> &[String] {
        self.tools.get(tool).map_or(&[], Vec::as_slice)
    }

    /// The scopes the prompt `name` needs (empty when it needs none).
    pub fn scopes_for_prompt(&self, name: &str) -> &[String] {
        self.prompts.get(name).map_or(&[], Vec::as_slice)
    }

    /// The scopes reading `uri` needs: those of every pattern it matches.
    pub fn scopes_for_resource(&self, uri: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (pattern, scopes) in &self.resources {
            if resource_matches(pattern, uri) {
                out.extend(scopes.iter().cloned());
            }
        }
        out
    }

    /// [`inspect_request`](Self::inspect_request) with only `Mcp-Method` and `Mcp-Name`.
    pub fn inspect(
        &self,
        body: &[u8],
        mcp_method: Option<&str>,
        mcp_name: Option<&str>,
    ) -> Result<McpRequest, RequestError> {
        let headers = McpHeaders {
            method: mcp_method.map(str::to_owned),
            name: mcp_name.map(str::to_owned),
            protocol_version: None,
        };
        self.inspect_request(body, &headers)
    }

    /// Reads a JSON-RPC body (one message, or a batch where the protocol revision has them)
    /// and checks the SEP-2243 headers against it: when sent, `Mcp-Method` must be the one
    /// message's method, and `Mcp-Name` (base64 form decoded) the name, URI or task id that
    /// method's target is named by — `params.name` for `tools/call` and `prompts/get`,
    /// `params.uri` for `resources/read|subscribe|unsubscribe`, `params.taskId` for
    /// `tasks/get|update|cancel` — and absent for other methods, else
    /// [`RequestError::McpHeaderMismatch`] (answer it with [`header_error_body`]: the JSON-RPC
    /// `-32020` the revision requires). A body it cannot decide on is
    /// [`RequestError::InvalidMcpRequest`]. A target member that is absent or `null` names
    /// nothing (no scope is needed for it; the MCP server refuses the call); one that is not a
    /// string is refused, not guessed.
    pub fn inspect_request(
        &self,
        body: &[u8],
        headers: &McpHeaders,
    ) -> Result<McpRequest, RequestError> {
        if body.len() > self.max_body {
            return Err(invalid("the body is larger than this server reads"));
        }
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        let messages = match first {
            Some(b'[') => {
                let batches_allowed = headers
                    .protocol_version
                    .as_deref()
                    .is_none_or(|v| v < NO_BATCHES_FROM);
                if !batches_allowed {
                    return Err(invalid(
                        "JSON-RPC batches are not part of this protocol revision",
                    ));
                }
                let mut batch = Batch {
                    max: self.max_batch,
                    messages: Vec::new(),
                    too_long: false,
                };
                let mut de = serde_json::Deserializer::from_slice(body);
                de::DeserializeSeed::deserialize(&mut batch, &mut de)
                    .and_then(|()| de.end())
                    .map_err(|_| {
                        if batch.too_long {
                            invalid("the batch has more messages than this server reads")
                        } else {
                            invalid("the body is not a JSON-RPC message or batch")
                        }
                    })?;
                if batch.messages.is_empty() {
                    return Err(invalid("an empty batch"));
                }
                batch.messages
            }
            Some(b'{') => vec![
                serde_json::from_slice::<Message<'_>>(body)
                    .map_err(|_| invalid("the body is not a JSON-RPC message"))?,
            ],
            _ => return Err(invalid("the body is not a JSON-RPC message")),
        };
        let mut request = McpRequest::default();
        // The target of the last message; compared with `Mcp-Name` only when it is the one.
        let mut named: Option<String> = None;
        for message in messages {
            let Some(method) = message.method else {
                continue; // a response to the server's request: calls nothing
            };
            let params = message.params.unwrap_or_default();
            // A target member that is absent (or null) names nothing: there is no tool, prompt,
            // resource or task for a scope to be needed for, and the MCP server refuses the
            // call itself (-32602, or 404 -32601 for a method the revision removed). One that
            // is present but not a string is refused here: not guessed.
            let (member, list, not_a_string) = match target(&method) {
                None => (None, None, ""),
                Some(Target::Tool) => (
                    params.name,
                    Some(&mut request.tools),
                    "tools/call with a params.name that is not a string",
                ),
                Some(Target::Prompt) => (
                    params.name,
                    Some(&mut request.prompts),
                    "prompts/get with a params.name that is not a string",
                ),
                Some(Target::Resource) => (
                    params.uri,
                    Some(&mut request.resources),
                    "a resources request with a params.uri that is not a string",
                ),
                Some(Target::Task) => (
                    params.task_id,
                    Some(&mut request.tasks),
                    "a tasks request with a params.taskId that is not a string",
                ),
            };
            named = match (member, list) {
                (Some(MaybeStr(Some(value))), Some(list)) => {
                    let value = value.into_owned();
                    list.push(value.clone());
                    Some(value)
                }
                (Some(MaybeStr(None)), Some(_)) => return Err(invalid(not_a_string)),
                _ => None,
            };
            request.methods.push(method.into_owned());
        }
        if let Some(header) = &headers.method
            && (request.methods.len() != 1 || request.methods[0] != *header)
        {
            return Err(RequestError::McpHeaderMismatch("Mcp-Method"));
        }
        if let Some(raw) = &headers.name {
            let sent = decoded_name(raw)?;
            if request.methods.len() != 1 || named.as_deref() != Some(&*sent) {
                return Err(RequestError::McpHeaderMismatch("Mcp-Name"));
            }
        }
        Ok(request)
    }

    /// Whether `granted` (a token's scopes, widened by the hierarchy) covers every scope every
    /// called tool, prompt and resource needs. The refusal lists all of them (deduplicated, in
    /// order), for one `403 insufficient_scope` challenge naming everything to step up to.
    pub fn check<S: AsRef<str>>(
        &self,
        request: &McpRequest,
        granted: &[S],
    ) -> Result<(), ScopeError> {
        let mut required: Vec<String> = Vec::new();
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let resource_scopes: Vec<Vec<String>> = request
            .resources
            .iter()
            .map(|uri| self.scopes_for_resource(uri))
            .collect();
        let all = request
            .tools
            .iter()
            .flat_map(|t| self.scopes_for(t))
            .chain(
                request
                    .prompts
                    .iter()
                    .flat_map(|p| self.scopes_for_prompt(p)),
            )
            .chain(resource_scopes.iter().flatten());
        for scope in all {
            if seen.insert(scope.as_str()) {
                required.push(scope.clone());
            }
        }
        let has = |scope: &str| {
            granted.iter().any(|g| {
                let g = g.as_ref();
                g == scope || self.covers.get(g).is_some_and(|c| c.contains(scope))
            })
        };
        if required.iter().all(|s| has(s)) {
            Ok(())
        } else {
            Err(ScopeError::new(required))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ToolPolicy {
        ToolPolicy::builder()
            .tool("delete_records", ["db:delete"])
            .tool("transfer", ["bank:transfer", "bank:read"])
            .covers("db:admin", ["db:delete"])
            .max_body(4096)
            .build()
    }

    fn call(name: &str) -> String {
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{name}"}}}}"#)
    }

    #[test]
    fn a_tool_call_needs_its_scopes_and_the_refusal_lists_them_all() {
        let p = policy();
        let r = p.inspect(call("transfer").as_bytes(), None, None).unwrap();
        assert_eq!(r.tools, ["transfer"]);
        assert_eq!(
            p.check(&r, &["bank:read"]).unwrap_err().required,
            ["bank:transfer", "bank:read"]
        );
        assert!(p.check(&r, &["bank:read", "bank:transfer"]).is_ok());
        let r = p
            .inspect(call("delete_records").as_bytes(), None, None)
            .unwrap();
        assert!(p.check(&r, &["db:admin"]).is_ok(), "hierarchy");
        assert!(p.check(&r, &["db:delete:extra"]).is_err());
        let r = p.inspect(call("whoami").as_bytes(), None, None).unwrap();
        assert!(
            p.check(&r, &[] as &[&str]).is_ok(),
            "undeclared tools need no scope"
        );
        let list = br#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
        let r = p.inspect(list, None, None).unwrap();
        assert!(r.tools.is_empty() && p.check(&r, &[] as &[&str]).is_ok());
    }

    #[test]
    fn batches_cannot_smuggle_a_scoped_call() {
        let p = policy();
        let batch = format!(
            r#"[{{"jsonrpc":"2.0","id":1,"method":"tools/list"}},{}]"#,
            call("delete_records")
        );
        let r = p.inspect(batch.as_bytes(), None, None).unwrap();
        assert_eq!(
            p.check(&r, &["bank:read"]).unwrap_err().required,
            ["db:delete"]
        );
        // And a header naming the harmless one cannot cover the batch.
        assert_eq!(
            p.inspect(batch.as_bytes(), Some("tools/list"), None),
            Err(RequestError::McpHeaderMismatch("Mcp-Method"))
        );
    }

    #[test]
    fn headers_must_agree_with_the_body() {
        let p = policy();
        let body = call("delete_records");
        assert!(
            p.inspect(body.as_bytes(), Some("tools/call"), Some("delete_records"))
                .is_ok()
        );
        assert_eq!(
            p.inspect(body.as_bytes(), Some("tools/call"), Some("whoami")),
            Err(RequestError::McpHeaderMismatch("Mcp-Name"))
        );
        assert_eq!(
            p.inspect(body.as_bytes(), Some("tools/list"), None),
            Err(RequestError::McpHeaderMismatch("Mcp-Method"))
        );
    }

    #[test]
    fn malformed_bodies_are_refused_not_guessed() {
        let p = policy();
        for bad in [
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"delete_records"}}"#.as_slice(),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":["a"]}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"taskId":{"a":1}}}"#,
            br#"[]"#,
            br#"[1]"#,
            br#""tools/call""#,
            b"{not json",
        ] {
            assert!(
                matches!(p.inspect(bad, None, None), Err(RequestError::InvalidMcpRequest(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let big = format!(r#"{{"method":"ping","pad":"{}"}}"#, "x".repeat(5000));
        assert!(p.inspect(big.as_bytes(), None, None).is_err());
        // A call naming no target (no member, or null) names nothing to authorize: the MCP
        // server refuses it (-32602, or 404 -32601 where the revision removed the method),
        // and `Mcp-Name` cannot agree with it.
        for nothing in [
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#.as_slice(),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":null}}"#,
            br#"{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"_meta":{}}}"#,
        ] {
            let r = p.inspect(nothing, None, None).unwrap();
            assert!(r.tools.is_empty() && r.resources.is_empty(), "{r:?}");
            assert_eq!(r.methods.len(), 1);
            assert_eq!(
                p.inspect(nothing, None, Some("delete_records")),
                Err(RequestError::McpHeaderMismatch("Mcp-Name"))
            );
        }
        // A response from the client (no method) calls nothing.
        let r = p
            .inspect(br#"{"jsonrpc":"2.0","id":9,"result":{}}"#, None, None)
            .unwrap();
        assert!(r.methods.is_empty());
    }

    fn named(method: &str, member: &str, value: &str) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{{"{member}":"{value}","arguments":{{"x":[1,{{"y":2}}]}}}}}}"#
        )
    }

    fn full_policy() -> ToolPolicy {
        ToolPolicy::builder()
            .tool("deploy", ["deploy:run"])
            .prompt("incident_report", ["reports:read"])
            .resource("file:///payroll/*", ["payroll:read"])
            .resource("file:///payroll/ceo.csv", ["payroll:admin"])
            .build()
    }

    #[test]
    fn sep_2243_names_come_from_the_member_of_each_method_and_base64_is_decoded() {
        let p = full_policy();
        let h = |m: &str, n: &str| McpHeaders {
            method: Some(m.into()),
            name: Some(n.into()),
            protocol_version: Some("2026-07-28".into()),
        };
        for (method, member, value) in [
            ("tools/call", "name", "deploy"),
            ("prompts/get", "name", "incident_report"),
            ("resources/read", "uri", "file:///payroll/2026.csv"),
            ("resources/subscribe", "uri", "file:///payroll/2026.csv"),
            ("resources/unsubscribe", "uri", "file:///payroll/2026.csv"),
            ("tasks/get", "taskId", "t-1"),
            ("tasks/update", "taskId", "t-1"),
            ("tasks/cancel", "taskId", "t-1"),
        ] {
            let body = named(method, member, value);
            assert!(
                p.inspect_request(body.as_bytes(), &h(method, value))
                    .is_ok(),
                "{method}"
            );
            use base64::Engine as _;
            let b64 = format!(
                "=?base64?{}?=",
                base64::engine::general_purpose::STANDARD.encode(value)
            );
            assert!(
                p.inspect_request(body.as_bytes(), &h(method, &b64)).is_ok(),
                "{method} b64"
            );
            assert_eq!(
                p.inspect_request(body.as_bytes(), &h(method, "other")),
                Err(RequestError::McpHeaderMismatch("Mcp-Name")),
                "{method}"
            );
        }
        // Non-ASCII names travel in base64 only.
        let body = named("tools/call", "name", "d\u{e9}ploy");
        use base64::Engine as _;
        let b64 = format!(
            "=?base64?{}?=",
            base64::engine::general_purpose::STANDARD.encode("d\u{e9}ploy")
        );
        assert!(
            p.inspect_request(body.as_bytes(), &h("tools/call", &b64))
                .is_ok()
        );
        assert_eq!(
            p.inspect_request(body.as_bytes(), &h("tools/call", "=?base64?!!?=")),
            Err(RequestError::InvalidHeader("Mcp-Name"))
        );
        // A method without a target takes no Mcp-Name.
        let list = br#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
        assert_eq!(
            p.inspect_request(list, &h("tools/list", "deploy")),
            Err(RequestError::McpHeaderMismatch("Mcp-Name"))
        );
        // Headers sent twice or not ASCII.
        assert_eq!(
            McpHeaders::from_values(&[], &[b"a", b"b"], &[]),
            Err(RequestError::McpHeaderMismatch("Mcp-Name"))
        );
        assert_eq!(
            McpHeaders::from_values(&[], &["d\u{e9}ploy".as_bytes()], &[]),
            Err(RequestError::InvalidHeader("Mcp-Name"))
        );
    }

    #[test]
    fn prompts_and_resources_need_their_scopes_and_a_refusal_names_them_all() {
        let p = full_policy();
        let r = p
            .inspect(
                named("prompts/get", "name", "incident_report").as_bytes(),
                None,
                None,
            )
            .unwrap();
        assert_eq!(r.prompts, ["incident_report"]);
        assert_eq!(p.check(&r, &["x"]).unwrap_err().required, ["reports:read"]);
        assert!(p.check(&r, &["reports:read"]).is_ok());
        let r = p
            .inspect(
                named("resources/read", "uri", "file:///payroll/ceo.csv").as_bytes(),
                None,
                None,
            )
            .unwrap();
        assert_eq!(
            p.check(&r, &["payroll:read"]).unwrap_err().required,
            ["payroll:read", "payroll:admin"],
            "every matching pattern"
        );
        let r = p
            .inspect(
                named("resources/read", "uri", "file:///public/a").as_bytes(),
                None,
                None,
            )
            .unwrap();
        assert!(p.check(&r, &[] as &[&str]).is_ok());
        // A batch's refusal names the union, each scope once.
        let batch = format!(
            "[{},{},{}]",
            named("tools/call", "name", "deploy"),
            named("prompts/get", "name", "incident_report"),
            named("tools/call", "name", "deploy")
        );
        let r = p.inspect(batch.as_bytes(), None, None).unwrap();
        assert_eq!(
            p.check(&r, &[] as &[&str]).unwrap_err().required,
            ["deploy:run", "reports:read"]
        );
    }

    #[test]
    fn batches_are_capped_and_refused_on_revisions_without_them() {
        let p = ToolPolicy::builder().max_batch(3).build();
        let batch = |n: usize| {
            let one = r#"{"jsonrpc":"2.0","method":"notifications/x"}"#;
            format!("[{}]", vec![one; n].join(","))
        };
        assert!(p.inspect(batch(3).as_bytes(), None, None).is_ok());
        assert_eq!(
            p.inspect(batch(4).as_bytes(), None, None),
            Err(RequestError::InvalidMcpRequest(
                "the batch has more messages than this server reads"
            ))
        );
        for version in ["2025-06-18", "2025-11-25", "2026-07-28"] {
            let h = McpHeaders {
                protocol_version: Some(version.into()),
                ..McpHeaders::default()
            };
            assert!(
                p.inspect_request(batch(1).as_bytes(), &h).is_err(),
                "{version}"
            );
        }
        let old = McpHeaders {
            protocol_version: Some("2025-03-26".into()),
            ..McpHeaders::default()
        };
        assert!(p.inspect_request(batch(2).as_bytes(), &old).is_ok());
    }
}
