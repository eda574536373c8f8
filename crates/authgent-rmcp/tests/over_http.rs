//! authgent-rmcp over loopback HTTP: an rmcp server behind `McpAuth`, driven as an MCP
//! client drives it (the harness's `McpClient`), tokens from the testkit issuer — and, for the
//! tests named `interop`, from the real authgent-server.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use authgent_harness::mcp::{McpClient, request};
use authgent_jwks::{AgentAuth, Verifier};
use authgent_rmcp::{AgentIdentity, McpAuth};
use authgent_testkit::TestIssuer;
use rmcp::handler::server::tool::{ToolCallContext, ToolRouter};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, CreateTaskResult,
    GetTaskParams, GetTaskResult, ServerCapabilities, ServerConfig, UpdateTaskParams,
};
use rmcp::schemars;
use rmcp::service::{RequestContext, RoleServer};
use rmcp::task_manager::{TaskExit, TaskOptions};
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use serde_json::json;
use tracing::Instrument;

/// Everything the tests' tools log, for the audit assertions (one global subscriber: tool
/// handlers run on rmcp's session tasks, on any thread).
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&buffer);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || Capture(Arc::clone(&writer)))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Clone)]
struct Tools {
    tool_router: ToolRouter<Self>,
    tasks: authgent_rmcp::CallerTasks,
}

#[tool_router]
impl Tools {
    fn new(tasks: authgent_rmcp::CallerTasks) -> Self {
        Tools {
            tool_router: Self::tool_router(),
            tasks,
        }
    }

    #[tool(description = "the caller")]
    async fn whoami(&self, caller: AgentIdentity) -> CallToolResult {
        tracing::info!("inside the tool");
        let chain = caller.delegation_chain();
        CallToolResult::structured(json!({
            "subject": caller.subject(),
            "depth": chain.depth(),
            "current_actor": chain.current_actor().map(|a| a.subject()),
            "scopes": caller.scopes(),
        }))
    }

    #[tool(description = "needs no identity")]
    async fn ping(&self) -> CallToolResult {
        CallToolResult::structured(json!({"pong": true}))
    }

    #[tool(description = "a regional lookup; its region is mirrored in Mcp-Param-Region")]
    async fn regional(&self, Parameters(args): Parameters<RegionArgs>) -> CallToolResult {
        CallToolResult::structured(json!({"region": args.region}))
    }

    #[tool(description = "two steps: the first seals state for its caller, the second opens it")]
    async fn step(
        &self,
        caller: AgentIdentity,
        Parameters(args): Parameters<StepArgs>,
    ) -> CallToolResult {
        let states = caller_states();
        CallToolResult::structured(match args.state {
            None => json!({"state": states.seal(&caller, b"step-1 done")}),
            Some(sealed) => match states.open(&caller, &sealed) {
                Ok(payload) => json!({"opened": String::from_utf8_lossy(&payload)}),
                Err(e) => json!({"refused": e.to_string()}),
            },
        })
    }
}

/// A tool argument promoted to a header (SEP-2243 `x-mcp-header`: `Mcp-Param-Region`).
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct RegionArgs {
    #[schemars(extend("x-mcp-header" = "Region"))]
    region: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct StepArgs {
    state: Option<String>,
}

/// One sealer for every server of this test binary, with a TTL short enough to test expiry
/// and long enough for a loaded machine to open a state it just sealed.
fn caller_states() -> &'static authgent_rmcp::CallerState {
    static STATES: OnceLock<authgent_rmcp::CallerState> = OnceLock::new();
    STATES.get_or_init(|| {
        authgent_rmcp::CallerState::new(*b"over_http test key, 32 bytes or more")
            .unwrap()
            .ttl(std::time::Duration::from_secs(5))
    })
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tasks()
                .build(),
        )
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name == "report" {
            // A task (SEP-2663) that runs until cancelled, reporting for its creator.
            let subject = authgent_rmcp::caller(&context)?.subject().to_owned();
            let options = TaskOptions::new()
                .with_poll_interval_ms(10)
                .with_status_message(format!("report for {subject}"));
            let task = self.tasks.spawn(&context, options, move |ctx| {
                Box::pin(async move {
                    ctx.cancelled().await;
                    Err(TaskExit::Cancelled)
                })
            })?;
            return Ok(CallToolResponse::Task(CreateTaskResult::new(task)));
        }
        let span = authgent_rmcp::tool_span(&request.name, &context);
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).instrument(span).await
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let task = self.tasks.get_task(&context, &request.task_id)?;
        Ok(GetTaskResult::new(task))
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let (id, responses) = (&request.task_id, request.input_responses);
        self.tasks.update_task(&context, id, responses)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.tasks.cancel_task(&context, &request.task_id)
    }
}

fn service(mcp: &McpAuth) -> StreamableHttpService<Tools, LocalSessionManager> {
    let tasks = authgent_rmcp::CallerTasks::new();
    StreamableHttpService::new(
        move || Ok(Tools::new(tasks.clone())),
        LocalSessionManager::default().into(),
        mcp.server_config(),
    )
}

async fn bind() -> (String, tokio::net::TcpListener) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    (base, listener)
}

/// Binds first (the endpoint URL is the audience), then builds the server for it.
async fn start(
    issuer: &TestIssuer,
    configure: impl FnOnce(authgent_jwks::AgentAuthBuilder) -> authgent_jwks::AgentAuthBuilder,
) -> (String, McpAuth) {
    start_with(issuer, |v| v, configure).await
}

/// [`start`] with the verifier configured too.
async fn start_with(
    issuer: &TestIssuer,
    verifier: impl FnOnce(authgent_jwks::VerifierBuilder) -> authgent_jwks::VerifierBuilder,
    configure: impl FnOnce(authgent_jwks::AgentAuthBuilder) -> authgent_jwks::AgentAuthBuilder,
) -> (String, McpAuth) {
    let (base, listener) = bind().await;
    let endpoint = format!("{base}/mcp");
    let verifier = verifier(
        Verifier::builder()
            .issuer(issuer.issuer())
            .audience(&endpoint)
            .external_url(&base),
    )
    .build()
    .unwrap();
    let auth = configure(AgentAuth::builder(verifier)).build().unwrap();
    let mcp = McpAuth::builder(auth)
        .tool("whoami", ["tools:read"])
        .build()
        .unwrap();
    let app = mcp.router(service(&mcp));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (endpoint, mcp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_sees_the_chain_and_the_audit_names_it_but_never_the_token() {
    let logs = logs();
    let issuer = TestIssuer::start().await.unwrap();
    let (endpoint, mcp) = start(&issuer, |b| b).await;
    assert_eq!(mcp.endpoint(), endpoint);
    assert_eq!(mcp.path(), "/mcp");
    let token = issuer
        .token()
        .audience(&endpoint)
        .scopes(["tools:read"])
        .subject("user:alice")
        .human_root(true)
        .actors(["client:agnt_tool", "client:agnt_orchestrator"])
        .sign();
    let mut client = McpClient::bearer(&endpoint, Some(&token));
    assert_eq!(client.initialize().await.unwrap().status, 200);
    let r = client.call("whoami", json!({})).await.unwrap();
    let s = r.structured().unwrap_or_else(|| panic!("{}", r.text));
    assert_eq!(s["subject"], "user:alice");
    assert_eq!(s["depth"], 2);
    assert_eq!(s["current_actor"], "client:agnt_tool");

    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let audit = text
        .lines()
        .find(|l| {
            l.contains("authgent::audit") && l.contains("tools/call") && l.contains("user:alice")
        })
        .unwrap_or_else(|| panic!("no audit line in {text}"));
    for field in [
        "request allowed",
        "outcome=\"allowed\"",
        "status=200",
        "tools=[\"whoami\"]",
        "subject=\"user:alice\"",
        "chain=[\"user:alice\", \"client:agnt_orchestrator\", \"client:agnt_tool\"]",
        "human_root=true",
        "scheme=\"bearer\"",
    ] {
        assert!(audit.contains(field), "{field} not in {audit}");
    }
    let inside = text
        .lines()
        .find(|l| l.contains("inside the tool") && l.contains("user:alice"))
        .unwrap_or_else(|| panic!("no tool log line in {text}"));
    assert!(inside.contains("mcp.tool_call"), "{inside}");
    assert!(inside.contains("gen_ai.tool.name=whoami"), "{inside}");
    assert!(
        inside.contains("authgent.delegation.actor=\"client:agnt_tool\""),
        "{inside}"
    );
    assert!(inside.contains("authgent.delegation.depth=2"), "{inside}");
    assert!(!text.contains(&token), "the token is in the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_callers_get_no_identity_and_no_scoped_tool() {
    let issuer = TestIssuer::start().await.unwrap();
    let (endpoint, _) = start(&issuer, |b| b.optional()).await;
    let mut anonymous = McpClient::bearer(&endpoint, None);
    assert_eq!(anonymous.initialize().await.unwrap().status, 200);
    // An unscoped tool runs; a scoped one is the 401 challenge, before dispatch.
    let r = anonymous.call("ping", json!({})).await.unwrap();
    assert_eq!(r.structured().unwrap()["pong"], true, "{}", r.text);
    let r = anonymous.call("whoami", json!({})).await.unwrap();
    assert_eq!(r.status, 401);
    assert!(
        !r.challenges().join(" ").contains("error="),
        "{:?}",
        r.challenges()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_on_a_service_not_mounted_by_mcp_auth_refuses_naming_the_fix() {
    let issuer = TestIssuer::start().await.unwrap();
    let (_, mcp) = start(&issuer, |b| b).await;
    // The same service mounted bare: the tool asking for the caller must not run.
    let app = axum::Router::new().route_service("/mcp", service(&mcp));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut client = McpClient::bearer(&endpoint, None);
    assert_eq!(client.initialize().await.unwrap().status, 200);
    let r = client.call("whoami", json!({})).await.unwrap();
    let error = &r.message.as_ref().unwrap()["error"];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("McpAuth::router"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_the_endpoint_is_the_resource() {
    let issuer = TestIssuer::start().await.unwrap();
    let verifier = |aud: &str| {
        let origin = aud.trim_end_matches("/mcp").trim_end_matches('/');
        Verifier::builder()
            .issuer(issuer.issuer())
            .audience(aud)
            .external_url(origin)
            .build()
            .unwrap()
    };
    // No RFC 9728 document: clients could not find the authorization server.
    let auth = AgentAuth::builder(verifier("https://tools.example.com/mcp"))
        .without_resource_metadata()
        .build()
        .unwrap();
    let err = McpAuth::builder(auth).build().unwrap_err();
    assert!(err.to_string().contains("resource"), "{err}");
    // The endpoint's host is allowed by rmcp's Host check, next to loopback.
    let mcp = McpAuth::builder(
        AgentAuth::builder(verifier("https://tools.example.com:8443/mcp"))
            .build()
            .unwrap(),
    )
    .build()
    .unwrap();
    assert_eq!(mcp.path(), "/mcp");
    let hosts = mcp.server_config().allowed_hosts;
    assert!(hosts.contains(&"tools.example.com".to_owned()), "{hosts:?}");
    assert!(
        hosts.contains(&"tools.example.com:8443".to_owned()),
        "{hosts:?}"
    );
    assert!(hosts.contains(&"127.0.0.1".to_owned()), "{hosts:?}");
    // An endpoint at the root of its origin.
    let root = McpAuth::builder(
        AgentAuth::builder(verifier("https://tools.example.com/"))
            .build()
            .unwrap(),
    )
    .build()
    .unwrap();
    assert_eq!(root.path(), "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_session_is_forgotten_and_cannot_be_reused() {
    let issuer = TestIssuer::start().await.unwrap();
    let (endpoint, _) = start(&issuer, |b| b).await;
    let token = issuer
        .token()
        .audience(&endpoint)
        .scopes(["tools:read"])
        .sign();
    let mut client = McpClient::bearer(&endpoint, Some(&token));
    client.initialize().await.unwrap();
    let session = client.session.clone().unwrap();
    let deleted = reqwest::Client::new()
        .delete(&endpoint)
        .bearer_auth(&token)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let r = client
        .post(&request(3, "tools/list", json!({})), &[])
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    // An id that was never created here.
    client.session = Some("made-up".into());
    let r = client
        .post(&request(4, "tools/list", json!({})), &[])
        .await
        .unwrap();
    assert_eq!(r.status, 404);
}

/// Issue 23, item 7: every 401 and 403 of an MCP endpoint names `resource_metadata` and the
/// realm, DPoP-scheme ones (`invalid_dpop_proof`, `use_dpop_nonce`, a bound token as Bearer)
/// and a tool's missing scope included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_names_the_metadata_and_the_realm() {
    let issuer = TestIssuer::start().await.unwrap();
    let nonces = authgent_core::dpop::NonceIssuer::generate().unwrap();
    let (endpoint, _mcp) =
        start_with(&issuer, |v| v.dpop_nonces(nonces), |a| a.realm("tools")).await;
    let base = endpoint.trim_end_matches("/mcp").to_owned();
    let initialize = request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "probe", "version": "1"}}),
    );
    let whoami = authgent_harness::mcp::tool_call(2, "whoami", json!({}));
    let metadata = format!("{base}/.well-known/oauth-protected-resource/mcp");
    authgent_harness::challenges::Probe {
        base: &base,
        public_url: &base,
        audience: &endpoint,
        issuer: &issuer,
        open_route: "/mcp",
        scoped_route: "/mcp",
        method: "POST",
        bodies: Some((&initialize, &whoami)),
        realm: "tools",
        metadata_url: &metadata,
    }
    .run()
    .await
    .unwrap();
}

/// Issue 24, item 6b: the audit line logged tool names with `Display`, so a name with a
/// newline forged a whole log line ("… authorised … subject=user:admin"); and it said
/// "authorised" for calls the MCP server never took. Names are escaped, and the audit event of
/// a request the server refuses carries the server's status (issue 27: one event per request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_line_cannot_be_forged_and_says_authorised_only_for_dispatched_calls() {
    let logs = logs();
    let issuer = TestIssuer::start().await.unwrap();
    let (endpoint, _) = start(&issuer, |b| b).await;
    let token = issuer
        .token()
        .audience(&endpoint)
        .subject("user:mallory")
        .sign();
    let forged =
        "ping\nINFO authgent::mcp: MCP tool call authorised tool=whoami subject=user:admin";
    // No session: rmcp refuses the call (4xx), after authgent allowed it.
    let body = authgent_harness::mcp::tool_call(7, forged, json!({}));
    let r = authgent_harness::contract::try_send_body(
        "POST",
        &endpoint,
        &[("authorization", &format!("Bearer {token}"))],
        Some(&body),
    )
    .await
    .unwrap();
    assert!(r.status >= 400, "{} {}", r.status, r.body);
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        !text.lines().any(|l| l.starts_with("INFO authgent::mcp")
            || l.contains("subject=user:admin") && !l.contains("\\n")),
        "a forged line: {text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("authgent::audit") && l.contains("user:mallory"))
        .unwrap_or_else(|| panic!("no audit line in {text}"));
    assert!(line.contains(&format!("status={}", r.status)), "{line}");
    assert!(
        line.contains(r#"tools=["ping\nINFO authgent::mcp: MCP tool call authorised"#),
        "the name is escaped: {line}"
    );
}

/// Issue 24, item 5: SEP-2322 `requestState` sealed for the verified caller, over HTTP: the
/// caller that got it opens it; another user, the same user through another agent, and a
/// replay after the TTL do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_state_opens_only_for_the_caller_it_was_sealed_for() {
    let issuer = TestIssuer::start().await.unwrap();
    let (endpoint, _) = start(&issuer, |b| b).await;
    let session = |subject: &str, actor: Option<&str>| {
        let mut token = issuer.token().audience(&endpoint).subject(subject);
        if let Some(actor) = actor {
            token = token.actors([actor]);
        }
        McpClient::bearer(&endpoint, Some(&token.sign()))
    };
    let mut carol = session("user:carol", Some("client:agnt_a"));
    carol.initialize().await.unwrap();
    let r = carol.call("step", json!({})).await.unwrap();
    let sealed = r.structured().unwrap_or_else(|| panic!("{}", r.text))["state"]
        .as_str()
        .unwrap()
        .to_owned();
    let opened = |r: authgent_harness::mcp::McpResponse| r.structured().cloned().unwrap();
    let again = opened(carol.call("step", json!({"state": sealed})).await.unwrap());
    assert_eq!(again["opened"], "step-1 done");
    for (subject, actor) in [
        ("user:bob", Some("client:agnt_a")),
        ("user:carol", Some("client:agnt_b")),
        ("user:carol", None),
    ] {
        let mut other = session(subject, actor);
        other.initialize().await.unwrap();
        let r = opened(other.call("step", json!({"state": sealed})).await.unwrap());
        assert!(
            r["refused"].as_str().unwrap().contains("integrity"),
            "{subject} {actor:?}: {r}"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(5_300)).await;
    let r = opened(carol.call("step", json!({"state": sealed})).await.unwrap());
    assert!(r["refused"].as_str().unwrap().contains("expired"), "{r}");
}

/// Issue 24, item 6c: a `GET` event stream was authenticated once, when it opened, and then
/// outlived its token. It ends at the token's `exp` plus the verifier's leeway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_ends_when_its_token_expires() {
    let issuer = TestIssuer::start().await.unwrap();
    let (endpoint, _) = start_with(
        &issuer,
        |v| v.leeway(std::time::Duration::from_secs(1)),
        |a| a,
    )
    .await;
    // exp is in whole seconds: at least 1 s from now, so exp + leeway is at least 2 s away.
    let issued = std::time::Instant::now();
    let token = issuer
        .token()
        .audience(&endpoint)
        .subject("user:dave")
        .expires_in(std::time::Duration::from_secs(2))
        .sign();
    let mut client = McpClient::bearer(&endpoint, Some(&token));
    let init = client.initialize().await.unwrap();
    let session = init.header("mcp-session-id").unwrap().to_owned();
    let mut stream = reqwest::Client::new()
        .get(&endpoint)
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its token by 17 s");
    assert!(
        issued.elapsed() >= std::time::Duration::from_secs(2),
        "ended before its token expired: {:?}",
        issued.elapsed()
    );
}

/// Issue 24, items 3 and 6e: a task (SEP-2663) belongs to the caller who created it. Its id
/// in another caller's `tasks/get`, `tasks/update` or `tasks/cancel` — another user, the same
/// user through another agent, an anonymous caller — gets exactly the answer an unknown id
/// gets, on the 2026-07-28 revision (each request alone, no session) and on a 2025-11-25
/// session; the creator reads and cancels it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_is_served_only_to_the_caller_who_created_it() {
    let issuer = TestIssuer::start().await.unwrap();
    let (endpoint, _) = start(&issuer, |b| b.optional()).await;
    let client = |subject: Option<&str>, actor: Option<&str>| {
        let token = subject.map(|subject| {
            let mut token = issuer.token().audience(&endpoint).subject(subject);
            if let Some(actor) = actor {
                token = token.actors([actor]);
            }
            token.sign()
        });
        McpClient::bearer(&endpoint, token.as_deref())
    };
    // A self-contained 2026-07-28 request declaring the tasks extension.
    let send = |client: &McpClient, method: &'static str, mut params: serde_json::Value| {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities":
                {"extensions": {"io.modelcontextprotocol/tasks": {}}},
        });
        let name = ["name", "taskId"]
            .iter()
            .find_map(|k| params[*k].as_str())
            .unwrap_or_default()
            .to_owned();
        let client = client.clone();
        async move {
            let headers = [
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", method),
                ("mcp-name", name.as_str()),
            ];
            let r = client.post(&request(3, method, params), &headers).await;
            let r = r.unwrap();
            assert_eq!(r.status, 200, "{method}: {}", r.text);
            r.message.unwrap_or_else(|| panic!("{method}: {}", r.text))
        }
    };
    let alice = client(Some("user:alice"), Some("client:agnt_a"));
    let created = send(
        &alice,
        "tools/call",
        json!({"name": "report", "arguments": {}}),
    )
    .await;
    let task_id = created["result"]["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("no task created: {created}"))
        .to_owned();
    let get = json!({"taskId": task_id});
    let mine = send(&alice, "tasks/get", get.clone()).await;
    assert_eq!(
        mine["result"]["statusMessage"], "report for user:alice",
        "{mine}"
    );

    // What anyone gets for an id that does not exist.
    let unknown = send(&alice, "tasks/get", json!({"taskId": "no-such-task"})).await;
    let unknown = unknown["error"]["message"]
        .as_str()
        .unwrap()
        .replace("no-such-task", &task_id);
    let others = [
        (
            "another user",
            client(Some("user:bob"), Some("client:agnt_a")),
        ),
        (
            "another agent",
            client(Some("user:alice"), Some("client:agnt_b")),
        ),
        ("no agent", client(Some("user:alice"), None)),
        ("anonymous", client(None, None)),
    ];
    for (who, other) in &others {
        for (method, params) in [
            ("tasks/get", get.clone()),
            (
                "tasks/update",
                json!({"taskId": task_id, "inputResponses": {}}),
            ),
            ("tasks/cancel", get.clone()),
        ] {
            let r = send(other, method, params).await;
            assert_eq!(r["error"]["code"], -32602, "{method}, {who}: {r}");
            assert_eq!(r["error"]["message"], unknown.as_str(), "{method}: {r}");
            assert!(r.get("result").is_none(), "{method}: {r}");
        }
    }
    // On a 2025-11-25 session the task is just as much someone else's.
    let mut bob = client(Some("user:bob"), None);
    let body = request(
        0,
        "initialize",
        json!({"protocolVersion": "2025-11-25",
               "capabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}},
               "clientInfo": {"name": "bob", "version": "1"}}),
    );
    let r = bob
        .post(&body, &[("mcp-protocol-version", "2025-11-25")])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    bob.session = r.header("mcp-session-id").map(str::to_owned);
    let r = bob
        .post(
            &request(4, "tasks/get", get.clone()),
            &[("mcp-protocol-version", "2025-11-25")],
        )
        .await
        .unwrap();
    let error = &r.message.as_ref().unwrap_or_else(|| panic!("{}", r.text))["error"];
    assert_eq!(error["message"], unknown.as_str(), "{}", r.text);

    // Nothing the others sent reached the task: still working; the creator cancels it.
    let still = send(&alice, "tasks/get", get.clone()).await;
    assert_eq!(still["result"]["status"], "working", "{still}");
    let cancelled = send(&alice, "tasks/cancel", get.clone()).await;
    assert!(cancelled.get("error").is_none(), "{cancelled}");
    let settled = loop {
        let r = send(&alice, "tasks/get", get.clone()).await;
        if r["result"]["status"] != "working" {
            break r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(settled["result"]["status"], "cancelled", "{settled}");
}

/// Issue 24, item 2: `Mcp-Param-*` headers (SEP-2243 custom headers, from a tool's
/// `x-mcp-header` schema annotations) are passed to rmcp untouched: authorization reads the
/// body, never these headers, and rmcp — which knows the tool's schema — checks them against
/// the body. A matching header reaches the tool; a mismatching one gets rmcp's own -32020,
/// which it could not give had authgent changed or dropped the header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_param_headers_reach_rmcp_untouched_and_rmcp_checks_them() {
    let issuer = TestIssuer::start().await.unwrap();
    let (endpoint, _) = start(&issuer, |b| b).await;
    let token = issuer
        .token()
        .audience(&endpoint)
        .subject("user:dana")
        .sign();
    let client = McpClient::bearer(&endpoint, Some(&token));
    let call = |region: &str| {
        let mut params = json!({"name": "regional", "arguments": {"region": region}});
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        });
        request(5, "tools/call", params)
    };
    let headers = |region: &'static str| {
        [
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "regional"),
            ("mcp-param-region", region),
        ]
    };
    let r = client
        .post(&call("eu-west"), &headers("eu-west"))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.structured().unwrap()["region"], "eu-west", "{}", r.text);
    // The base64 form, decoded by rmcp.
    let r = client
        .post(&call("eu-west"), &headers("=?base64?ZXUtd2VzdA==?="))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);

    let r = client
        .post(&call("eu-west"), &headers("us-east"))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text);
    let error = &r.message.as_ref().unwrap_or_else(|| panic!("{}", r.text))["error"];
    assert_eq!(error["code"], -32020, "{error}");
    let said = error["message"].as_str().unwrap();
    assert!(
        said.contains("Mcp-Param-Region"),
        "rmcp's check of the header: {said}"
    );
}
