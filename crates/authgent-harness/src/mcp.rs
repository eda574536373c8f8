//! The black-box contract of the MCP server example (`EXAMPLES.md`, "The MCP server
//! example"), spoken over HTTP the way an MCP client speaks streamable HTTP: `initialize`,
//! `notifications/initialized`, `tools/list`, `tools/call`, answers as JSON or as an SSE
//! stream. Tokens come from a [`Tokens`] source, so the same cases run with the testkit issuer
//! and with the real authgent-server.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use authgent_core::dpop::DpopKey;
use serde_json::{Value, json};

use crate::contract::Report;

/// The protocol revision the contract speaks (sessions, JSON-RPC bodies).
pub const PROTOCOL: &str = "2025-06-18";

/// What a test needs from an issuer: tokens for the MCP endpoint.
pub trait Tokens: Sync {
    /// An agent-rooted token (no delegation) with `scopes`, for `audience`; DPoP-bound to
    /// `dpop` when given.
    fn agent<'a>(
        &'a self,
        scopes: &'a [&'a str],
        audience: &'a str,
        dpop: Option<&'a DpopKey>,
    ) -> Pin<Box<dyn Future<Output = String> + Send + 'a>>;

    /// A human-rooted, delegated token (`human_root: true`, at least one `act`) with `scopes`.
    fn human_rooted<'a>(
        &'a self,
        scopes: &'a [&'a str],
        audience: &'a str,
    ) -> Pin<Box<dyn Future<Output = String> + Send + 'a>>;
}

/// An MCP answer: status, headers, and the JSON-RPC message (from a JSON body or the SSE
/// event carrying the response).
#[derive(Debug)]
#[non_exhaustive]
pub struct McpResponse {
    /// HTTP status.
    pub status: u16,
    /// Every header, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The JSON-RPC response, if the body held one.
    pub message: Option<Value>,
    /// The body as text.
    pub text: String,
}

impl McpResponse {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every `WWW-Authenticate` value.
    pub fn challenges(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "www-authenticate")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The tool result's `structuredContent`.
    pub fn structured(&self) -> Option<&Value> {
        self.message
            .as_ref()?
            .get("result")?
            .get("structuredContent")
    }
}

/// One MCP client connection: the endpoint, the credentials, the session.
#[derive(Debug, Clone)]
pub struct McpClient {
    /// The endpoint URL requests go to.
    pub endpoint: String,
    /// `Authorization` value.
    pub authorization: Option<String>,
    /// DPoP key for proofs (then `authorization` is `DPoP …`), and the `htu` to put in them.
    pub dpop: Option<(Arc<DpopKey>, String)>,
    /// `Mcp-Session-Id`, once initialized.
    pub session: Option<String>,
    client: reqwest::Client,
}

/// A JSON-RPC request body.
pub fn request(id: u64, method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

/// A `tools/call` body.
pub fn tool_call(id: u64, tool: &str, arguments: Value) -> String {
    request(
        id,
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
    )
}

impl McpClient {
    /// A client of `endpoint` with a bearer token (or none).
    pub fn bearer(endpoint: &str, token: Option<&str>) -> Self {
        McpClient {
            endpoint: endpoint.to_owned(),
            authorization: token.map(|t| format!("Bearer {t}")),
            dpop: None,
            session: None,
            client: reqwest::Client::new(),
        }
    }

    /// A client of `endpoint` with a DPoP-bound token, making proofs with `key` for `htu`.
    pub fn dpop(endpoint: &str, token: &str, key: Arc<DpopKey>, htu: &str) -> Self {
        McpClient {
            endpoint: endpoint.to_owned(),
            authorization: Some(format!("DPoP {token}")),
            dpop: Some((key, htu.to_owned())),
            session: None,
            client: reqwest::Client::new(),
        }
    }

    /// POSTs `body` with the client's credentials, session and `extra` headers (an
    /// `mcp-protocol-version` among them replaces the client's own).
    pub async fn post(&self, body: &str, extra: &[(&str, &str)]) -> Result<McpResponse, String> {
        let mut req = self
            .client
            .post(&self.endpoint)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_owned());
        if !extra
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("mcp-protocol-version"))
        {
            req = req.header("mcp-protocol-version", PROTOCOL);
        }
        if let Some(a) = &self.authorization {
            req = req.header("authorization", a);
        }
        if let Some((key, htu)) = &self.dpop {
            let token = self
                .authorization
                .as_deref()
                .and_then(|a| a.strip_prefix("DPoP "));
            let proof = key
                .proof("POST", htu, token, None, SystemTime::now())
                .map_err(|e| e.to_string())?;
            req = req.header("dpop", proof);
        }
        if let Some(s) = &self.session {
            req = req.header("mcp-session-id", s);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let r = req
            .send()
            .await
            .map_err(|e| format!("POST {}: {e}", self.endpoint))?;
        let status = r.status().as_u16();
        let headers: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let sse = headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("text/event-stream"));
        let text = r.text().await.map_err(|e| e.to_string())?;
        let message = if sse {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
                .find(|m| m.get("id").is_some())
        } else {
            serde_json::from_str(&text).ok()
        };
        Ok(McpResponse {
            status,
            headers,
            message,
            text,
        })
    }

    /// `initialize` then `notifications/initialized`; keeps the session id.
    pub async fn initialize(&mut self) -> Result<McpResponse, String> {
        let body = request(
            0,
            "initialize",
            json!({"protocolVersion": PROTOCOL, "capabilities": {},
                   "clientInfo": {"name": "authgent-harness", "version": "1"}}),
        );
        let r = self.post(&body, &[]).await?;
        if r.status != 200 {
            return Ok(r);
        }
        self.session = r.header("mcp-session-id").map(str::to_owned);
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
        let n = self.post(&note, &[]).await?;
        if n.status != 202 {
            return Err(format!(
                "notifications/initialized: {} {}",
                n.status, n.text
            ));
        }
        Ok(r)
    }

    /// `tools/call` of `tool` with `arguments`.
    pub async fn call(&self, tool: &str, arguments: Value) -> Result<McpResponse, String> {
        self.post(&tool_call(7, tool, arguments), &[]).await
    }
}

type Check = Result<(), String>;

fn expect(cond: bool, what: impl Into<String>) -> Check {
    if cond { Ok(()) } else { Err(what.into()) }
}

/// The MCP example at `base` (its `PUBLIC_URL`), trusting `issuer`, tokens from `tokens`.
#[derive(Debug)]
pub struct McpContract<'a, T> {
    base: String,
    issuer: String,
    tokens: &'a T,
}

impl<'a, T: Tokens> McpContract<'a, T> {
    /// The contract for the server at `base`, whose issuer is `issuer`.
    pub fn new(base: &str, issuer: &str, tokens: &'a T) -> Self {
        McpContract {
            base: base.trim_end_matches('/').to_owned(),
            issuer: issuer.to_owned(),
            tokens,
        }
    }

    fn endpoint(&self) -> String {
        format!("{}/mcp", self.base)
    }

    async fn session(&self, scopes: &[&str]) -> Result<McpClient, String> {
        let token = self.tokens.agent(scopes, &self.endpoint(), None).await;
        let mut client = McpClient::bearer(&self.endpoint(), Some(&token));
        let r = client.initialize().await?;
        expect(
            r.status == 200,
            format!("initialize: {} {}", r.status, r.text),
        )?;
        expect(
            client.session.is_some(),
            "initialize gave no Mcp-Session-Id",
        )?;
        Ok(client)
    }

    /// Runs every case; never panics.
    pub async fn run(&self) -> Report {
        let mut report = Report::default();
        macro_rules! case {
            ($name:literal, $body:expr) => {
                match $body.await {
                    Ok(()) => report.passed.push($name.to_owned()),
                    Err(why) => report.failures.push(($name.to_owned(), why)),
                }
            };
        }
        case!("health", self.health());
        case!("RFC 9728 metadata, path-inserted and root", self.metadata());
        case!(
            "no credentials: 401 with resource_metadata, no error",
            self.no_credentials()
        );
        case!("session and tools/list", self.tools_list());
        case!(
            "whoami: identity as structuredContent and text",
            self.whoami()
        );
        case!(
            "per-tool scopes: 403 insufficient_scope before dispatch",
            self.scopes()
        );
        case!("chain policy: human_only", self.human_only());
        case!(
            "a prompt and a resource under the same policy, SEP-2243 names",
            self.prompt_and_resource()
        );
        case!(
            "2026-07-28: self-contained requests, no session, same policy",
            self.revision_2026_07_28()
        );
        case!(
            "headers must agree with the body; batches",
            self.smuggling()
        );
        case!("audience: the endpoint URL exactly", self.audience());
        case!("no token in the query string", self.query_token());
        case!("DPoP: bound, replay, wrong htu", self.dpop());
        case!("sessions are bound to their caller", self.session_binding());
        report
    }

    async fn health(&self) -> Check {
        let r = crate::contract::try_send("GET", &format!("{}/health", self.base), &[]).await?;
        expect(
            r.status == 200 && r.body == json!({"status": "ok"}),
            format!("health: {} {}", r.status, r.body),
        )
    }

    async fn metadata(&self) -> Check {
        for path in [
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource",
        ] {
            let r = crate::contract::try_send("GET", &format!("{}{path}", self.base), &[]).await?;
            expect(r.status == 200, format!("{path}: {}", r.status))?;
            crate::contract::check_metadata(&r.body, &self.endpoint(), &self.issuer)
                .map_err(|e| format!("{path}: {e}"))?;
        }
        Ok(())
    }

    async fn no_credentials(&self) -> Check {
        let r = McpClient::bearer(&self.endpoint(), None)
            .post(&request(1, "tools/list", json!({})), &[])
            .await?;
        expect(r.status == 401, format!("status {}", r.status))?;
        let challenges = r.challenges();
        let bearer = challenges
            .iter()
            .find(|c| c.starts_with("Bearer"))
            .ok_or("no Bearer challenge")?;
        let metadata = format!(
            r#"resource_metadata="{}/.well-known/oauth-protected-resource/mcp""#,
            self.base
        );
        expect(
            bearer.contains(&metadata),
            format!("{bearer} lacks {metadata}"),
        )?;
        expect(
            !bearer.contains("error="),
            format!("{bearer}: error= without credentials"),
        )?;
        expect(
            challenges
                .iter()
                .any(|c| c.starts_with("DPoP") && c.contains("algs=")),
            "no DPoP algs challenge",
        )
    }

    async fn tools_list(&self) -> Check {
        let client = self.session(&[]).await?;
        let r = client
            .post(&request(2, "tools/list", json!({})), &[])
            .await?;
        expect(r.status == 200, format!("tools/list: {}", r.status))?;
        let names: Vec<&str> = r
            .message
            .as_ref()
            .and_then(|m| m["result"]["tools"].as_array())
            .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
            .unwrap_or_default();
        for tool in ["whoami", "search", "delete_records", "human_only"] {
            expect(
                names.contains(&tool),
                format!("tools/list lacks {tool}: {names:?}"),
            )?;
        }
        Ok(())
    }

    async fn whoami(&self) -> Check {
        let client = self.session(&["search:execute"]).await?;
        let r = client.call("whoami", json!({})).await?;
        expect(r.status == 200, format!("whoami: {} {}", r.status, r.text))?;
        let s = r
            .structured()
            .ok_or(format!("no structuredContent: {}", r.text))?;
        expect(s["authenticated"] == true, format!("identity: {s}"))?;
        expect(
            s["scopes"] == json!(["search:execute"]),
            format!("scopes: {s}"),
        )?;
        expect(s["delegation_depth"] == 0, format!("depth: {s}"))?;
        let text = r
            .message
            .as_ref()
            .and_then(|m| m["result"]["content"][0]["text"].as_str());
        let parsed: Option<Value> = text.and_then(|t| serde_json::from_str(t).ok());
        expect(
            parsed.as_ref() == Some(s),
            "text content is the identity JSON",
        )
    }

    async fn scopes(&self) -> Check {
        let client = self.session(&["search:execute"]).await?;
        let r = client.call("search", json!({"query": "q1"})).await?;
        let s = r
            .structured()
            .ok_or(format!("search: {} {}", r.status, r.text))?;
        expect(s["query"] == "q1", format!("search result {s}"))?;
        let r = client.call("delete_records", json!({"table": "t"})).await?;
        expect(
            r.status == 403,
            format!("delete without db:delete: {} {}", r.status, r.text),
        )?;
        let challenge = r.challenges().join(", ");
        expect(
            challenge.contains(r#"error="insufficient_scope""#)
                && challenge.contains(r#"scope="db:delete""#)
                && challenge.contains("resource_metadata="),
            format!("403 challenge: {challenge}"),
        )?;
        let deleter = self.session(&["db:delete"]).await?;
        let r = deleter
            .call("delete_records", json!({"table": "t"}))
            .await?;
        let s = r
            .structured()
            .ok_or(format!("delete: {} {}", r.status, r.text))?;
        expect(s["deleted"] == "t", format!("delete result {s}"))
    }

    async fn prompt_and_resource(&self) -> Check {
        let searcher = self.session(&["search:execute"]).await?;
        let get = request(2, "prompts/get", json!({"name": "summary"}));
        let headers = [("mcp-method", "prompts/get"), ("mcp-name", "summary")];
        let r = searcher.post(&get, &headers).await?;
        let messages = r
            .message
            .as_ref()
            .map(|m| m["result"]["messages"].to_string())
            .unwrap_or_default();
        expect(
            r.status == 200 && messages.contains("Summarise"),
            format!("prompts/get summary: {} {}", r.status, r.text),
        )?;
        let read = request(3, "resources/read", json!({"uri": "notes://private"}));
        // The name in SEP-2243's base64 form ("notes://private").
        let headers = [
            ("mcp-method", "resources/read"),
            ("mcp-name", "=?base64?bm90ZXM6Ly9wcml2YXRl?="),
        ];
        let r = searcher.post(&read, &headers).await?;
        let challenge = r.challenges().join(", ");
        expect(
            r.status == 403
                && challenge.contains(r#"error="insufficient_scope""#)
                && challenge.contains(r#"scope="db:delete""#),
            format!("resources/read without db:delete: {} {challenge}", r.status),
        )?;
        let deleter = self.session(&["db:delete"]).await?;
        let r = deleter.post(&read, &headers).await?;
        expect(
            r.status == 200 && r.text.contains("the private notes"),
            format!("resources/read with db:delete: {} {}", r.status, r.text),
        )?;
        let r = deleter.post(&get, &[]).await?;
        let challenge = r.challenges().join(", ");
        expect(
            r.status == 403 && challenge.contains(r#"scope="search:execute""#),
            format!(
                "prompts/get without search:execute: {} {challenge}",
                r.status
            ),
        )
    }

    /// Protocol revision 2026-07-28 (SEP-2567: no `initialize`, no session): every POST
    /// carries its version and the SEP-2243 headers, and is authenticated and decided alone.
    async fn revision_2026_07_28(&self) -> Check {
        let searcher = self
            .tokens
            .agent(&["search:execute"], &self.endpoint(), None)
            .await;
        let client = McpClient::bearer(&self.endpoint(), Some(&searcher));
        let meta = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        let call = |id: u64, method: &str, mut params: Value| {
            params["_meta"] = meta.clone();
            request(id, method, params)
        };
        let headers = |method: &'static str, name: &'static str| {
            [
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", method),
                ("mcp-name", name),
            ]
        };
        // "search" in the base64 form.
        let body = call(
            1,
            "tools/call",
            json!({"name": "search", "arguments": {"query": "q26"}}),
        );
        let r = client
            .post(&body, &headers("tools/call", "=?base64?c2VhcmNo?="))
            .await?;
        let s = r
            .structured()
            .ok_or(format!("2026-07-28 search: {} {}", r.status, r.text))?;
        expect(
            s["query"] == "q26" && s["authenticated"] == true,
            format!("2026-07-28 search result {s}"),
        )?;
        expect(
            r.header("mcp-session-id").is_none(),
            "a 2026-07-28 request got a session",
        )?;
        let body = call(
            2,
            "tools/call",
            json!({"name": "delete_records", "arguments": {"table": "t"}}),
        );
        let r = client
            .post(&body, &headers("tools/call", "delete_records"))
            .await?;
        let challenge = r.challenges().join(", ");
        expect(
            r.status == 403 && challenge.contains(r#"scope="db:delete""#),
            format!(
                "2026-07-28 delete without db:delete: {} {challenge}",
                r.status
            ),
        )?;
        let body = call(3, "prompts/get", json!({"name": "summary"}));
        let r = client
            .post(&body, &headers("prompts/get", "summary"))
            .await?;
        expect(
            r.status == 200 && r.text.contains("Summarise"),
            format!("2026-07-28 prompts/get: {} {}", r.status, r.text),
        )?;
        let body = call(4, "resources/read", json!({"uri": "notes://private"}));
        let r = client
            .post(&body, &headers("resources/read", "notes://private"))
            .await?;
        expect(
            r.status == 403,
            format!("2026-07-28 resources/read without db:delete: {}", r.status),
        )?;
        // The headers never authorize alone: naming a harmless tool for a scoped call is 400,
        // with the JSON-RPC error -32020 (HeaderMismatch) the revision requires.
        let body = call(
            5,
            "tools/call",
            json!({"name": "delete_records", "arguments": {"table": "t"}}),
        );
        let r = client.post(&body, &headers("tools/call", "whoami")).await?;
        let code = r.message.as_ref().map(|m| m["error"]["code"].clone());
        expect(
            r.status == 400 && code == Some(json!(-32020)),
            format!(
                "2026-07-28 Mcp-Name for another tool: {} {}",
                r.status, r.text
            ),
        )
    }

    async fn human_only(&self) -> Check {
        let agent = self.session(&["search:execute"]).await?;
        let r = agent.call("human_only", json!({})).await?;
        expect(
            r.status == 403,
            format!("agent-rooted human_only: {} {}", r.status, r.text),
        )?;
        expect(
            r.text.contains("no_human_root"),
            format!("code: {}", r.text),
        )?;
        let token = self
            .tokens
            .human_rooted(&["search:execute"], &self.endpoint())
            .await;
        let mut human = McpClient::bearer(&self.endpoint(), Some(&token));
        human.initialize().await?;
        let r = human.call("human_only", json!({})).await?;
        let s = r
            .structured()
            .ok_or(format!("human_only: {} {}", r.status, r.text))?;
        expect(
            s["human_root"] == true && s["delegation_depth"].as_u64() >= Some(1),
            format!("human-rooted identity {s}"),
        )?;
        expect(
            s["current_actor"].is_string(),
            format!("current actor in {s}"),
        )
    }

    async fn smuggling(&self) -> Check {
        let client = self.session(&["search:execute"]).await?;
        let body = tool_call(3, "delete_records", json!({"table": "t"}));
        let r = client
            .post(
                &body,
                &[("mcp-method", "tools/call"), ("mcp-name", "search")],
            )
            .await?;
        expect(
            r.status == 400,
            format!("Mcp-Name disagreeing with the body: {}", r.status),
        )?;
        let batch = format!(
            "[{},{}]",
            request(4, "tools/list", json!({})),
            tool_call(5, "delete_records", json!({"table": "t"}))
        );
        let r = client.post(&batch, &[]).await?;
        expect(
            r.status == 403 || r.status == 400,
            format!("a batch smuggling delete_records: {}", r.status),
        )?;
        let dup = r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"search","name":"delete_records","arguments":{}}}"#;
        let r = client.post(dup, &[]).await?;
        expect(
            r.status == 400,
            format!("duplicate member names: {}", r.status),
        )
    }

    async fn audience(&self) -> Check {
        for audience in [
            self.base.clone(),
            format!("{}/", self.endpoint()),
            "https://other.example/mcp".to_owned(),
        ] {
            let token = self
                .tokens
                .agent(&["search:execute"], &audience, None)
                .await;
            let r = McpClient::bearer(&self.endpoint(), Some(&token))
                .post(&request(1, "tools/list", json!({})), &[])
                .await?;
            expect(
                r.status == 401,
                format!("token for {audience}: {}", r.status),
            )?;
        }
        Ok(())
    }

    async fn query_token(&self) -> Check {
        let token = self
            .tokens
            .agent(&["search:execute"], &self.endpoint(), None)
            .await;
        let url = format!("{}?access_token={token}", self.endpoint());
        let r = McpClient::bearer(&url, None)
            .post(&request(1, "tools/list", json!({})), &[])
            .await?;
        expect(
            r.status == 401 || r.status == 400,
            format!("token in the query: {}", r.status),
        )
    }

    async fn dpop(&self) -> Check {
        let key = Arc::new(DpopKey::generate_es256().map_err(|e| e.to_string())?);
        let token = self
            .tokens
            .agent(&["search:execute"], &self.endpoint(), Some(&key))
            .await;
        let mut client =
            McpClient::dpop(&self.endpoint(), &token, Arc::clone(&key), &self.endpoint());
        let r = client.initialize().await?;
        expect(
            r.status == 200,
            format!("DPoP initialize: {} {}", r.status, r.text),
        )?;
        let r = client.call("whoami", json!({})).await?;
        let s = r
            .structured()
            .ok_or(format!("DPoP whoami: {} {}", r.status, r.text))?;
        expect(s["dpop_jkt"] == key.jkt(), format!("dpop_jkt in {s}"))?;
        // The same proof twice: the replay is refused.
        let proof = key
            .proof(
                "POST",
                &self.endpoint(),
                Some(&token),
                None,
                SystemTime::now(),
            )
            .map_err(|e| e.to_string())?;
        let mut plain = client.clone();
        plain.dpop = None;
        let body = request(9, "tools/list", json!({}));
        let first = plain.post(&body, &[("dpop", &proof)]).await?;
        expect(
            first.status == 200,
            format!("fresh proof: {}", first.status),
        )?;
        let again = plain.post(&body, &[("dpop", &proof)]).await?;
        expect(
            again.status == 401,
            format!("replayed proof: {}", again.status),
        )?;
        // A proof for another URL (the bare origin, not the endpoint).
        let mut elsewhere = client.clone();
        elsewhere.dpop = Some((key, self.base.clone()));
        let r = elsewhere.post(&body, &[]).await?;
        expect(
            r.status == 401,
            format!("proof for {}: {}", self.base, r.status),
        )?;
        // The bound token as a bearer token.
        let r = McpClient::bearer(&self.endpoint(), Some(&token))
            .post(&body, &[])
            .await?;
        expect(
            r.status == 401,
            format!("DPoP-bound token as Bearer: {}", r.status),
        )
    }

    async fn session_binding(&self) -> Check {
        let owner = self.session(&["search:execute"]).await?;
        let r = owner.call("whoami", json!({})).await?;
        expect(r.status == 200, format!("owner: {}", r.status))?;
        // Another caller (a human-rooted chain: another subject) naming the owner's session.
        let token = self
            .tokens
            .human_rooted(&["search:execute"], &self.endpoint())
            .await;
        let mut other = McpClient::bearer(&self.endpoint(), Some(&token));
        other.session.clone_from(&owner.session);
        let r = other.call("whoami", json!({})).await?;
        expect(
            r.status == 404,
            format!("someone else's session: {} {}", r.status, r.text),
        )?;
        // Nor can it resume the owner's event stream with a replayed Last-Event-ID (issue 24,
        // 6e): the same 404, no stream.
        let session = owner.session.clone().unwrap_or_default();
        let resumed = reqwest::Client::new()
            .get(self.endpoint())
            .bearer_auth(&token)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &session)
            .header("last-event-id", "0")
            .send()
            .await
            .map_err(|e| format!("GET with Last-Event-ID: {e}"))?;
        expect(
            resumed.status() == 404,
            format!("someone else's stream resumed: {}", resumed.status()),
        )?;
        let r = owner.call("whoami", json!({})).await?;
        expect(r.status == 200, format!("owner afterwards: {}", r.status))
    }
}

impl Tokens for authgent_testkit::TestIssuer {
    fn agent<'a>(
        &'a self,
        scopes: &'a [&'a str],
        audience: &'a str,
        dpop: Option<&'a DpopKey>,
    ) -> Pin<Box<dyn Future<Output = String> + Send + 'a>> {
        let mut token = self
            .token()
            .audience(audience)
            .scopes(scopes.iter().copied());
        if let Some(key) = dpop {
            token = token.dpop_jkt(key.jkt());
        }
        let token = token.sign();
        Box::pin(async move { token })
    }

    fn human_rooted<'a>(
        &'a self,
        scopes: &'a [&'a str],
        audience: &'a str,
    ) -> Pin<Box<dyn Future<Output = String> + Send + 'a>> {
        let token = self
            .token()
            .audience(audience)
            .scopes(scopes.iter().copied())
            .subject("user:alice")
            .human_root(true)
            .actors(["client:agnt_tool", "client:agnt_orchestrator"])
            .sign();
        Box::pin(async move { token })
    }
}

/// Tokens from the real authgent-server: one registered agent allowed the example's scopes;
/// `resource=` names the audience (RFC 8707), DPoP proofs go to its `/token`; human-rooted
/// tokens come from exchanging an id_token of the test IdP it trusts.
#[derive(Debug)]
pub struct RealTokens {
    /// The server.
    pub server: crate::real_server::RealServer,
    /// The agent the tokens are for.
    pub agent: crate::real_server::Agent,
}

impl RealTokens {
    /// Registers an agent on `server`.
    pub async fn register(server: crate::real_server::RealServer) -> Self {
        let agent = server.register(&["search:execute", "db:delete"]).await;
        RealTokens { server, agent }
    }
}

impl Tokens for RealTokens {
    fn agent<'a>(
        &'a self,
        scopes: &'a [&'a str],
        audience: &'a str,
        dpop: Option<&'a DpopKey>,
    ) -> Pin<Box<dyn Future<Output = String> + Send + 'a>> {
        Box::pin(async move {
            let scope = scopes.join(" ");
            let proof = dpop.map(|key| {
                key.proof(
                    "POST",
                    &format!("{}/token", self.server.url),
                    None,
                    None,
                    SystemTime::now(),
                )
                .unwrap_or_default()
            });
            let mut fields = vec![("grant_type", "client_credentials"), ("resource", audience)];
            if !scope.is_empty() {
                fields.push(("scope", &scope));
            }
            let r = self
                .server
                .token_request(&self.agent, &fields, proof.as_deref())
                .await;
            assert_eq!(
                r.status, 200,
                "client_credentials for {audience}: {}",
                r.body
            );
            r.body["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
    }

    fn human_rooted<'a>(
        &'a self,
        scopes: &'a [&'a str],
        audience: &'a str,
    ) -> Pin<Box<dyn Future<Output = String> + Send + 'a>> {
        Box::pin(async move {
            let id_token = self.server.id_token("alice");
            let r = self
                .server
                .exchange_id_token(&self.agent, &id_token, audience, &scopes.join(" "))
                .await;
            assert_eq!(r.status, 200, "id_token exchange: {}", r.body);
            r.body["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
    }
}

/// Starts the MCP example `binary` against a fresh test issuer, runs the whole contract, and
/// checks that SIGTERM stops it cleanly. Panics with every failed case.
pub async fn mcp_example_follows_the_contract(binary: &str) {
    let issuer = authgent_testkit::TestIssuer::start()
        .await
        .expect("test issuer");
    run_against(binary, issuer.issuer(), &issuer, &[]).await;
}

/// The MCP example with the **real** authgent-server as its issuer and its tokens (Bearer,
/// DPoP-bound, human-rooted), through the whole contract.
pub async fn mcp_example_against_the_real_server(binary: &str) {
    let tokens = RealTokens::register(crate::real_server::RealServer::default_instance()).await;
    let issuer = tokens.server.url.clone();
    run_against(binary, &issuer, &tokens, &[]).await;
}

/// The MCP example with panva's **oidc-provider** as its issuer (`AUTHGENT_CLAIMS_PROFILE=
/// rfc9068`) and its tokens (client credentials for the endpoint, DPoP-bound, a signed-in
/// user's token exchanged by an agent), through the whole contract.
pub async fn mcp_example_against_oidc_provider(binary: &str) {
    let provider = crate::oidc::OidcProvider::start(false).await;
    let tokens = crate::oidc::OidcTokens::new(&provider);
    let profile = [("AUTHGENT_CLAIMS_PROFILE", "rfc9068")];
    run_against(binary, &provider.url, &tokens, &profile).await;
}

async fn run_against(binary: &str, issuer: &str, tokens: &impl Tokens, env: &[(&str, &str)]) {
    let server = crate::contract::ServerProcess::trusting_with(binary, issuer, env).await;
    let base = format!("http://{}", server.addr);
    let report = McpContract::new(&base, issuer, tokens).run().await;
    assert!(
        report.failures.is_empty(),
        "{binary}: {:#?}",
        report.failures
    );
    assert!(report.passed.len() >= 12, "{binary}: {:?}", report.passed);
    assert!(
        server.terminate().await,
        "{binary}: SIGTERM shuts it down cleanly"
    );
}

/// The MCP example `binary` started with the real authgent-server as its issuer, an agent
/// registered there with the example's scopes, and that agent's Bearer token for the endpoint
/// with `scope`.
#[derive(Debug)]
#[non_exhaustive]
pub struct RealMcpExample {
    /// The example process.
    pub server: crate::contract::ServerProcess,
    /// `http://` + its address (its `PUBLIC_URL`).
    pub base: String,
    /// The MCP endpoint, `base/mcp`.
    pub endpoint: String,
    /// The real server.
    pub real: crate::real_server::RealServer,
    /// The registered agent.
    pub agent: crate::real_server::Agent,
    /// Its token for the endpoint.
    pub token: String,
}

impl RealMcpExample {
    /// Starts it (panics on failure: this is for tests).
    pub async fn start(binary: &str, scope: &str) -> Self {
        let tokens = RealTokens::register(crate::real_server::RealServer::default_instance()).await;
        let server = crate::contract::ServerProcess::trusting(binary, &tokens.server.url).await;
        let base = format!("http://{}", server.addr);
        let endpoint = format!("{base}/mcp");
        let scopes: Vec<&str> = scope.split(' ').collect();
        let token = tokens.agent(&scopes, &endpoint, None).await;
        RealMcpExample {
            server,
            base,
            endpoint,
            real: tokens.server,
            agent: tokens.agent,
            token,
        }
    }
}
