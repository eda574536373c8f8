//! Issue 27: the spans an operator's OpenTelemetry pipeline receives, through
//! `tracing-opentelemetry` and the SDK's in-memory exporter, for a delegated DPoP request to a
//! REST route and a delegated MCP tool call, both over loopback HTTP: one tree per request, the
//! semantic-convention attributes (`enduser.id`, `http.request.method`, `error.type`,
//! `mcp.method.name`, `gen_ai.tool.name`, …) and the documented `authgent.*` ones.
//!
//! One test in this binary: it installs the global subscriber (rmcp runs tools on its own
//! tasks, on any thread).

use std::sync::Arc;
use std::time::SystemTime;

use authgent_axum::{AgentAuthLayer, AgentIdentity};
use authgent_core::dpop::DpopKey;
use authgent_harness::mcp::McpClient;
use authgent_jwks::{AgentAuth, Verifier};
use authgent_rmcp::McpAuth;
use authgent_testkit::TestIssuer;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry::{Key, Value as OtelValue};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use rmcp::handler::server::tool::{ToolCallContext, ToolRouter};
use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, ServerCapabilities};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use serde_json::json;
use tracing::Instrument;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;

#[derive(Clone)]
struct Tools {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Tools {
    #[tool(description = "the caller")]
    async fn whoami(&self, caller: authgent_rmcp::AgentIdentity) -> CallToolResult {
        CallToolResult::structured(json!({"subject": caller.subject()}))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> rmcp::model::ServerConfig {
        rmcp::model::ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let span = authgent_rmcp::tool_span(&request.name, &context);
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).instrument(span).await
    }
}

/// The framework's HTTP server span (what tower-http's `TraceLayer` or an OpenTelemetry HTTP
/// layer makes), around everything authgent does for the request.
async fn http_span(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        target: "http",
        "HTTP request",
        "otel.name" = %format_args!("{} {}", request.method(), request.uri().path()),
        "otel.kind" = "server",
        "http.request.method" = %request.method(),
        "url.path" = %request.uri().path(),
    );
    next.run(request).instrument(span).await
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a OtelValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == Key::new(key.to_owned()))
        .map(|kv| &kv.value)
}

fn text(span: &SpanData, key: &str) -> String {
    attribute(span, key).map_or_else(
        || panic!("{} has no {key}: {:?}", span.name, span.attributes),
        ToString::to_string,
    )
}

fn children<'a>(spans: &'a [SpanData], parent: &SpanData) -> Vec<&'a SpanData> {
    spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_context.span_id())
        .collect()
}

fn child<'a>(spans: &'a [SpanData], parent: &SpanData, name: &str) -> &'a SpanData {
    let found: Vec<_> = children(spans, parent)
        .into_iter()
        .filter(|s| s.name == name)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {name} under {}: {:#?}",
        parent.name,
        children(spans, parent)
            .iter()
            .map(|s| &s.name)
            .collect::<Vec<_>>()
    );
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegated_dpop_request_and_an_mcp_tool_call_are_one_span_tree_each() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("authgent-test"))
        .with_filter(
            Targets::new()
                .with_target("authgent", tracing::Level::DEBUG)
                .with_target("authgent_jwks", tracing::Level::DEBUG)
                .with_target("http", tracing::Level::INFO),
        );
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(otel)).unwrap();

    let issuer = TestIssuer::start().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let endpoint = format!("{base}/mcp");
    let verifier = Verifier::builder()
        .issuer(issuer.issuer())
        .audience(&endpoint)
        .external_url(&base)
        .build()
        .unwrap();
    let auth = AgentAuth::builder(verifier).build().unwrap();
    let mcp = McpAuth::builder(auth.clone())
        .tool("whoami", ["tools:read"])
        .build()
        .unwrap();
    let service = StreamableHttpService::new(
        || {
            Ok(Tools {
                tool_router: Tools::tool_router(),
            })
        },
        LocalSessionManager::default().into(),
        mcp.server_config(),
    );
    let api = axum::Router::new()
        .route(
            "/api/data",
            axum::routing::get(|id: AgentIdentity| async move { id.subject().to_owned() }),
        )
        .layer(AgentAuthLayer::new(auth));
    let app = mcp
        .router(service)
        .merge(api)
        .layer(axum::middleware::from_fn(http_span));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let key = Arc::new(DpopKey::generate_es256().unwrap());
    let token = issuer
        .token()
        .audience(&endpoint)
        .scopes(["tools:read"])
        .subject("user:alice")
        .human_root(true)
        .actors(["client:agnt_tool", "client:agnt_orchestrator"])
        .dpop_jkt(key.jkt())
        .sign();

    // 1. A delegated DPoP request to a REST route.
    let url = format!("{base}/api/data");
    let proof = key
        .proof("GET", &url, Some(&token), None, SystemTime::now())
        .unwrap();
    let auth_header = format!("DPoP {token}");
    let r = authgent_harness::contract::send(
        "GET",
        &url,
        &[("authorization", &auth_header), ("dpop", &proof)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // 2. The same caller's MCP tool call (a session: initialize, then tools/call).
    let mut client = McpClient::dpop(&endpoint, &token, Arc::clone(&key), &endpoint);
    assert_eq!(client.initialize().await.unwrap().status, 200);
    let r = client.call("whoami", json!({})).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    // 3. A refusal: the span says why.
    let expired = issuer.token().audience(&endpoint).expired().sign();
    let bearer = format!("Bearer {expired}");
    let r = authgent_harness::contract::send("GET", &url, &[("authorization", &bearer)]).await;
    assert_eq!(r.status, 401);

    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();

    // The DPoP request: HTTP span → authgent.authenticate → authgent.verify.
    let roots: Vec<&SpanData> = spans.iter().filter(|s| s.name == "GET /api/data").collect();
    assert_eq!(roots.len(), 2, "{names:?}");
    let (ok, refused) = (roots[0], roots[1]);
    let authn = child(&spans, ok, "authgent.authenticate");
    assert_eq!(text(authn, "http.request.method"), "GET");
    assert_eq!(text(authn, "enduser.id"), "user:alice");
    assert_eq!(text(authn, "authgent.scheme"), "dpop");
    assert_eq!(text(authn, "authgent.dpop.jkt"), key.jkt());
    assert_eq!(text(authn, "authgent.delegation.depth"), "2");
    assert_eq!(text(authn, "authgent.delegation.actor"), "client:agnt_tool");
    assert_eq!(text(authn, "authgent.delegation.human_root"), "true");
    assert_eq!(
        text(authn, "authgent.delegation.chain"),
        r#"["user:alice", "client:agnt_orchestrator", "client:agnt_tool"]"#
    );
    assert_eq!(text(authn, "authgent.token.issuer"), issuer.issuer());
    assert!(attribute(authn, "error.type").is_none());
    let verify = child(&spans, authn, "authgent.verify");
    assert_eq!(text(verify, "authgent.outcome"), "ok");
    assert_eq!(text(verify, "enduser.id"), "user:alice");
    // Never the token or the proof, in any attribute of any span.
    for span in &spans {
        for kv in &span.attributes {
            let value = kv.value.to_string();
            assert!(
                !value.contains(&token) && !value.contains(&proof),
                "{}: {}",
                span.name,
                kv.key
            );
        }
    }

    // The refusal: error.type and an error status, on the authenticate and verify spans.
    let authn = child(&spans, refused, "authgent.authenticate");
    assert_eq!(text(authn, "error.type"), "invalid_token");
    assert!(
        matches!(authn.status, Status::Error { .. }),
        "{:?}",
        authn.status
    );
    assert!(attribute(authn, "enduser.id").is_none());
    let verify = child(&spans, authn, "authgent.verify");
    assert_eq!(text(verify, "error.type"), "invalid_token");

    // The tool call: its HTTP span holds authentication, the MCP authorisation and the tool
    // span (MCP server span conventions), though rmcp ran the tool on its session task.
    let authorize = spans
        .iter()
        .find(|s| {
            s.name == "authgent.mcp.authorize"
                && attribute(s, "gen_ai.tool.name").map(ToString::to_string)
                    == Some("whoami".into())
        })
        .unwrap_or_else(|| panic!("no MCP authorisation span: {names:?}"));
    assert_eq!(text(authorize, "mcp.method.name"), "tools/call");
    let request = spans
        .iter()
        .find(|s| s.span_context.span_id() == authorize.parent_span_id)
        .unwrap_or_else(|| panic!("the authorisation span has no parent: {names:?}"));
    assert_eq!(request.name, "POST /mcp");
    let authn = child(&spans, request, "authgent.authenticate");
    assert_eq!(text(authn, "enduser.id"), "user:alice");
    assert_eq!(text(authn, "authgent.scheme"), "dpop");
    let tool = child(&spans, request, "tools/call whoami");
    assert_eq!(tool.span_kind, SpanKind::Server);
    assert_eq!(text(tool, "mcp.method.name"), "tools/call");
    assert_eq!(text(tool, "gen_ai.tool.name"), "whoami");
    assert_eq!(text(tool, "jsonrpc.request.id"), "7");
    assert_eq!(text(tool, "enduser.id"), "user:alice");
    assert_eq!(text(tool, "authgent.delegation.actor"), "client:agnt_tool");
    assert_eq!(
        request.span_context.trace_id(),
        tool.span_context.trace_id(),
        "one trace"
    );
}
