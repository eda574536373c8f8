//! No token passthrough, against the real authgent-server: a tool that calls a downstream
//! service on its caller's behalf exchanges the caller's token (RFC 8693) through
//! `TokenManager::send_on_behalf`; the downstream service sees the whole chain — the caller as
//! subject, the MCP server as current actor — and never receives the caller's token, which it
//! would refuse anyway (wrong audience).

use std::sync::{Arc, Mutex};

use authgent_client::{AgentAuthClient, TokenManager};
use authgent_harness::mcp::McpClient;
use authgent_harness::real_server::RealServer;
use authgent_jwks::{AgentAuth, Verifier};
use authgent_rmcp::{AgentIdentity, McpAuth};
use rmcp::model::{CallToolResult, ServerCapabilities, ServerConfig};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use serde_json::{Value, json};

#[derive(Clone)]
struct Tools {
    tokens: TokenManager,
    downstream: String,
}

#[tool_router]
impl Tools {
    #[tool(description = "reads records downstream, on the caller's behalf")]
    async fn records(
        &self,
        _caller: AgentIdentity,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let subject = authgent_rmcp::auth_context(&context)
            .and_then(|c| c.subject_token())
            .ok_or_else(|| ErrorData::invalid_request("authentication required", None))?;
        let response = self
            .tokens
            .send_on_behalf(
                subject.expose(),
                &self.downstream,
                Some("read"),
                reqwest::Client::new().get(format!("{}/records", self.downstream)),
            )
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let status = response.status().as_u16();
        let body: Value =
            serde_json::from_str(&response.text().await.unwrap_or_default()).unwrap_or_default();
        Ok(CallToolResult::structured(
            json!({"status": status, "downstream": body}),
        ))
    }
}

#[tool_handler]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

async fn bind() -> (String, tokio::net::TcpListener) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    (
        format!("http://{}", listener.local_addr().unwrap()),
        listener,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_a_tool_calls_downstream_with_an_exchanged_token_never_the_callers() {
    let real = RealServer::default_instance();

    // The downstream service: trusts the real server, audience = its own URL; records every
    // Authorization header it receives.
    let (downstream, listener) = bind().await;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let auth = AgentAuth::builder(
        Verifier::builder()
            .issuer(&real.url)
            .audience(&downstream)
            .external_url(&downstream)
            .build()
            .unwrap(),
    )
    .build()
    .unwrap();
    let record = Arc::clone(&seen);
    let app = axum::Router::new()
        .route(
            "/records",
            axum::routing::get(move |id: authgent_axum::AgentIdentity| async move {
                let chain = id.delegation_chain();
                axum::Json(json!({
                    "subject": id.subject(),
                    "current_actor": chain.current_actor().map(|a| a.subject()),
                    "depth": chain.depth(),
                }))
            }),
        )
        .layer(authgent_axum::AgentAuthLayer::new(auth))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let record = Arc::clone(&record);
                async move {
                    if let Some(v) = request.headers().get("authorization") {
                        record
                            .lock()
                            .unwrap()
                            .push(v.to_str().unwrap_or_default().to_owned());
                    }
                    next.run(request).await
                }
            },
        ));
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The MCP server, an agent of the real server itself.
    let (base, listener) = bind().await;
    let endpoint = format!("{base}/mcp");
    let client = AgentAuthClient::new(&real.url).unwrap();
    let server_agent = real.register(&["read"]).await;
    let creds = authgent_client::ClientCredentials::new(
        &server_agent.client_id,
        server_agent.client_secret.clone(),
    );
    let tokens = TokenManager::builder(client, creds)
        .allow_origin(&downstream)
        .allow_insecure_http()
        .build()
        .unwrap();
    let mcp = McpAuth::builder(
        AgentAuth::builder(
            Verifier::builder()
                .issuer(&real.url)
                .audience(&endpoint)
                .external_url(&base)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap(),
    )
    .tool("records", ["read"])
    .build()
    .unwrap();
    let tools = Tools {
        tokens,
        downstream: downstream.clone(),
    };
    let service = StreamableHttpService::new(
        move || Ok(tools.clone()),
        LocalSessionManager::default().into(),
        mcp.server_config(),
    );
    let app = mcp.router(service);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The caller: another agent, with a token for the MCP endpoint.
    let caller = real.register(&["read"]).await;
    let token = real
        .token_request(
            &caller,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "read"),
                ("resource", &endpoint),
            ],
            None,
        )
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut mcp_client = McpClient::bearer(&endpoint, Some(&token));
    assert_eq!(mcp_client.initialize().await.unwrap().status, 200);
    let r = mcp_client.call("records", json!({})).await.unwrap();
    let result = r
        .structured()
        .unwrap_or_else(|| panic!("{}", r.text))
        .clone();
    assert_eq!(result["status"], 200, "{result}");
    let downstream_saw = &result["downstream"];
    assert_eq!(downstream_saw["subject"], caller.subject(), "{result}");
    assert_eq!(
        downstream_saw["current_actor"],
        server_agent.subject(),
        "{result}"
    );
    assert_eq!(downstream_saw["depth"], 1, "{result}");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        !seen[0].contains(&token),
        "the caller's token reached downstream"
    );

    // The caller's own token is no good downstream (audience), which is why it is exchanged.
    let direct = reqwest::Client::new()
        .get(format!("{downstream}/records"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 401);
}
