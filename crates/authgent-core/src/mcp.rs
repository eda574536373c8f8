//! MCP tool authorization, decided from the JSON-RPC body before dispatch (no I/O).
//!
//! An MCP server receives every tool call at one endpoint, so "which scopes does this request
//! need?" is a question about its body: [`ToolPolicy::inspect`] reads the JSON-RPC message (or
//! batch) strictly (duplicate member names refused: two parsers must not disagree on which tool
//! is called), checks the `Mcp-Method` / `Mcp-Name` headers of the 2026-07-28 revision against
//! it, and [`ToolPolicy::check`] answers with the scopes every called tool needs — all of them
//! in one [`ScopeError`], so the 403 challenge lists what to step up to. A batch needs the
//! union of its calls' scopes: it cannot smuggle a scoped call behind an unscoped one.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::{RequestError, ScopeError};

/// Largest body [`ToolPolicy::inspect`] reads by default (1 MiB).
pub const DEFAULT_MAX_MCP_BODY: usize = 1 << 20;

/// The messages of one MCP HTTP request, as far as authorization cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct McpRequest {
    /// Every JSON-RPC method in the body, in order (notifications included).
    pub methods: Vec<String>,
    /// The tools the body calls (`tools/call` `params.name`), in order.
    pub tools: Vec<String>,
}

/// Per-tool scope requirements and the scope hierarchy, declared next to the tools.
///
/// ```
/// use authgent_core::mcp::ToolPolicy;
/// let policy = ToolPolicy::builder()
///     .tool("delete_records", ["db:delete"])
///     .tool("search", ["search:execute"])
///     .covers("db:admin", ["db:delete", "db:read"])  // a broader scope covers narrower ones
///     .build();
/// let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_records"}}"#;
/// let request = policy.inspect(body, Some("tools/call"), Some("delete_records"))?;
/// assert_eq!(policy.check(&request, &["db:admin"]), Ok(()));
/// let refused = policy.check(&request, &["search:execute"]).unwrap_err();
/// assert_eq!(refused.required, ["db:delete"]);
/// # Ok::<(), authgent_core::RequestError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ToolPolicy {
    tools: BTreeMap<String, Vec<String>>,
    covers: BTreeMap<String, BTreeSet<String>>,
    max_body: usize,
}

/// Builds a [`ToolPolicy`].
#[derive(Clone, Debug)]
#[must_use]
pub struct ToolPolicyBuilder(ToolPolicy);

impl ToolPolicyBuilder {
    /// `tool` needs every scope in `scopes`. Tools not named need no scope (any authenticated
    /// caller).
    pub fn tool<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        tool: impl Into<String>,
        scopes: I,
    ) -> Self {
        self.0
            .tools
            .insert(tool.into(), scopes.into_iter().map(Into::into).collect());
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

    /// The policy.
    pub fn build(self) -> ToolPolicy {
        self.0
    }
}

fn invalid(reason: &'static str) -> RequestError {
    RequestError::InvalidMcpRequest(reason)
}

impl ToolPolicy {
    /// An empty policy (no tool needs a scope) to add to.
    pub fn builder() -> ToolPolicyBuilder {
        ToolPolicyBuilder(ToolPolicy {
            max_body: DEFAULT_MAX_MCP_BODY,
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

    /// Reads a JSON-RPC body (one message or a batch) and checks the `Mcp-Method` /
    /// `Mcp-Name` headers against it: when sent, the body must be one message with that
    /// method, and, for `tools/call`, that tool `name`. 400 (`invalid_request`) otherwise.
    pub fn inspect(
        &self,
        body: &[u8],
        mcp_method: Option<&str>,
        mcp_name: Option<&str>,
    ) -> Result<McpRequest, RequestError> {
        if body.len() > self.max_body {
            return Err(invalid("the body is larger than this server reads"));
        }
        let value =
            crate::json::parse_value(body).map_err(|_| invalid("the body is not strict JSON"))?;
        let messages = match value {
            Value::Array(items) if items.is_empty() => return Err(invalid("an empty batch")),
            Value::Array(items) => items,
            object @ Value::Object(_) => vec![object],
            _ => return Err(invalid("the body is not a JSON-RPC message")),
        };
        let mut request = McpRequest::default();
        let mut names = Vec::new();
        for message in &messages {
            let Value::Object(message) = message else {
                return Err(invalid("a batch element is not a JSON-RPC message"));
            };
            let Some(method) = message.get("method") else {
                continue; // a response to the server's request: calls nothing
            };
            let method = method.as_str().ok_or(invalid("method is not a string"))?;
            let name = match method {
                "tools/call" => Some(
                    message
                        .get("params")
                        .and_then(|p| p.get("name"))
                        .and_then(Value::as_str)
                        .ok_or(invalid("tools/call without a string params.name"))?,
                ),
                _ => None,
            };
            if let Some(name) = name {
                request.tools.push(name.to_owned());
            }
            names.push(name);
            request.methods.push(method.to_owned());
        }
        if let Some(header) = mcp_method
            && (request.methods.len() != 1 || request.methods[0] != header)
        {
            return Err(RequestError::McpHeaderMismatch("Mcp-Method"));
        }
        if let Some(header) = mcp_name
            && (names.len() != 1 || names[0] != Some(header))
        {
            return Err(RequestError::McpHeaderMismatch("Mcp-Name"));
        }
        Ok(request)
    }

    /// Whether `granted` (a token's scopes, widened by the hierarchy) covers every scope every
    /// called tool needs. The refusal lists all of them (deduplicated, in order), for one
    /// `403 insufficient_scope` challenge naming everything to step up to.
    pub fn check<S: AsRef<str>>(
        &self,
        request: &McpRequest,
        granted: &[S],
    ) -> Result<(), ScopeError> {
        let mut required: Vec<String> = Vec::new();
        for tool in &request.tools {
            for scope in self.scopes_for(tool) {
                if !required.contains(scope) {
                    required.push(scope.clone());
                }
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
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
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
        // A response from the client (no method) calls nothing.
        let r = p
            .inspect(br#"{"jsonrpc":"2.0","id":9,"result":{}}"#, None, None)
            .unwrap();
        assert!(r.methods.is_empty());
    }
}
