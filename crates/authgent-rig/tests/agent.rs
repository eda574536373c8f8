//! Issue 28: a rig agent driven by a scripted completion model (rig's own test double: fixed
//! tool calls, no network) calls a protected HTTP service for its user, against the real
//! authgent-server: the service sees the user as the subject and the agent as the current
//! actor, never the user's token; a `403 insufficient_scope` within the agent's policy steps up
//! once, outside it the call stops with a clear error; each call is one audit event.

mod common;

use std::sync::{Arc, Mutex};

use authgent_client::{AgentAuthClient, ClientCredentials, ScopeStepUp, TokenManager};
use authgent_harness::real_server::{Agent, RealServer};
use authgent_jwks::audit::AuditEvent;
use authgent_jwks::{AgentAuth, Verifier};
use authgent_rig::{AgentTools, HttpTool, RunContext, ToolError, ToolHttp, authorize};
use common::alice_calls_the_agent_service;
use rig_agent::AgentBuilder;
use rig_core::test_utils::{MockCompletionModel, MockTurn};
use serde_json::{Value, json};

/// Every request the downstream service received: path, status, Authorization header.
type Seen = Arc<Mutex<Vec<(String, u16, String)>>>;

/// The downstream service: trusts the real server (audience: its own URL), `/search` needs
/// `search:execute` and `/delete` `db:delete`; each answers who called. Records what it got.
async fn downstream(real: &RealServer) -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let auth = AgentAuth::builder(
        Verifier::builder()
            .issuer(&real.url)
            .audience(&base)
            .external_url(&base)
            .build()
            .unwrap(),
    )
    .build()
    .unwrap();
    let who = |id: authgent_axum::AgentIdentity| async move {
        let chain = id.delegation_chain();
        axum::Json(json!({
            "subject": id.subject(),
            "current_actor": chain.current_actor().map(|a| a.subject()),
            "human_root": chain.human_root(),
            "scopes": id.scopes(),
        }))
    };
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    let app = axum::Router::new()
        .route(
            "/search",
            axum::routing::post(who).route_layer(authgent_axum::Require::all(["search:execute"])),
        )
        .route(
            "/delete",
            axum::routing::post(who).route_layer(authgent_axum::Require::all(["db:delete"])),
        )
        .layer(authgent_axum::AgentAuthLayer::new(auth))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let record = Arc::clone(&record);
                async move {
                    let path = request.uri().path().to_owned();
                    let authorization = request
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let response = next.run(request).await;
                    let status = response.status().as_u16();
                    record.lock().unwrap().push((path, status, authorization));
                    response
                }
            },
        ));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, seen)
}

/// A tool calling one route of the downstream service, keeping what it answered.
struct Call {
    route: &'static str,
    answers: Arc<Mutex<Vec<Value>>>,
}

struct Search(Call);
struct Delete(Call);

impl Call {
    async fn post(&self, http: &ToolHttp<'_>) -> Result<Value, ToolError> {
        let url = format!("{}{}", http.resource(), self.route);
        let response = http.send(http.client().post(url)).await?;
        let answer: Value = response
            .json()
            .await
            .map_err(|e| ToolError::tool(e.to_string()))?;
        self.answers.lock().unwrap().push(answer.clone());
        Ok(answer)
    }
}

fn no_arguments() -> Value {
    json!({"type": "object", "properties": {}})
}

impl HttpTool for Search {
    const NAME: &'static str = "search";
    type Args = Value;
    type Output = Value;
    fn description(&self) -> String {
        "Search the records".into()
    }
    fn parameters(&self) -> Value {
        no_arguments()
    }
    async fn call(&self, http: &ToolHttp<'_>, _: Value) -> Result<Value, ToolError> {
        self.0.post(http).await
    }
}

impl HttpTool for Delete {
    const NAME: &'static str = "delete";
    type Args = Value;
    type Output = Value;
    fn description(&self) -> String {
        "Delete the records".into()
    }
    fn parameters(&self) -> Value {
        no_arguments()
    }
    async fn call(&self, http: &ToolHttp<'_>, _: Value) -> Result<Value, ToolError> {
        self.0.post(http).await
    }
}

fn tokens(real: &RealServer, agent: &Agent, downstream: &str) -> TokenManager {
    let client = AgentAuthClient::new(&real.url).unwrap();
    let creds = ClientCredentials::new(&agent.client_id, agent.client_secret.clone());
    TokenManager::builder(client, creds)
        .allow_origin(downstream)
        .allow_insecure_http()
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_a_rig_agent_calls_for_its_user_with_exchanged_tokens_and_steps_up_in_policy() {
    let real = RealServer::default_instance();
    let (service, seen) = downstream(&real).await;
    let (user_token, caller) = alice_calls_the_agent_service(&real).await;
    assert_eq!(caller.subject(), "user:alice");

    let agent = real.register(&["search:execute", "db:delete"]).await;
    let tools =
        AgentTools::new(tokens(&real, &agent, &service)).step_up(ScopeStepUp::new(["db:delete"]));
    let answers: Arc<Mutex<Vec<Value>>> = Arc::default();
    let call = |route| Call {
        route,
        answers: Arc::clone(&answers),
    };
    let search = authorize(
        Search(call("/search")),
        &tools,
        &service,
        Some("search:execute"),
    );
    let delete = authorize(
        Delete(call("/delete")),
        &tools,
        &service,
        Some("search:execute"),
    );

    let events: Arc<Mutex<Vec<AuditEvent<'static>>>> = Arc::default();
    let sink = Arc::clone(&events);
    let run = RunContext::on_behalf_of(&caller, agent.subject()).audit_sink(
        move |event: &AuditEvent<'_>| sink.lock().unwrap().push(event.clone().into_owned()),
    );
    assert_eq!(run.human(), Some("user:alice"));

    // The model asks for both tools, then answers.
    let model = MockCompletionModel::from_turns([
        MockTurn::tool_call("call_1", "search", json!({})),
        MockTurn::tool_call("call_2", "delete", json!({})),
        MockTurn::text("done"),
    ]);
    let rig_agent = AgentBuilder::new(model).tool(search).tool(delete).build();
    let response = rig_agent
        .prompt("tidy up my records")
        .tool_context(run.tool_context())
        .max_turns(5)
        .await
        .unwrap();
    let _ = response;

    // The service saw alice as the subject and this agent as the current actor, both times.
    let answers = answers.lock().unwrap().clone();
    assert_eq!(answers.len(), 2, "{answers:?}");
    for answer in &answers {
        assert_eq!(answer["subject"], "user:alice", "{answer}");
        assert_eq!(answer["current_actor"], agent.subject(), "{answer}");
        assert_eq!(answer["human_root"], true, "{answer}");
    }
    // The delete stepped up once: 403 with the token for search:execute, then 200 with one for
    // both, exchanged from alice's token (which never reached the service).
    let seen = seen.lock().unwrap().clone();
    let statuses: Vec<(&str, u16)> = seen.iter().map(|(p, s, _)| (p.as_str(), *s)).collect();
    assert_eq!(
        statuses,
        [("/search", 200), ("/delete", 403), ("/delete", 200)],
        "{seen:?}"
    );
    assert_eq!(
        answers[1]["scopes"],
        json!(["search:execute", "db:delete"]),
        "{answers:?}"
    );
    for (_, _, authorization) in &seen {
        assert!(
            !authorization.contains(&user_token),
            "the user's token was forwarded"
        );
    }
    // One audit event per tool call: the tool, the answer, the chain the service saw.
    let events = events.lock().unwrap().clone();
    let tools_called: Vec<_> = events
        .iter()
        .map(|e| (e.tool.as_deref(), e.status))
        .collect();
    assert_eq!(
        tools_called,
        [(Some("search"), 200), (Some("delete"), 200)],
        "{events:?}"
    );
    let chain: Vec<&str> = events[0].chain.iter().map(AsRef::as_ref).collect();
    assert_eq!(chain.first(), Some(&"user:alice"));
    assert_eq!(chain.last(), Some(&agent.subject().as_str()));
    assert_eq!(events[0].resource.as_deref(), Some(service.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_a_scope_outside_the_agents_policy_stops_the_call_with_a_clear_error() {
    let real = RealServer::default_instance();
    let (service, seen) = downstream(&real).await;
    let (_, caller) = alice_calls_the_agent_service(&real).await;
    let agent = real.register(&["search:execute", "db:delete"]).await;
    // No step-up allowed.
    let tools = AgentTools::new(tokens(&real, &agent, &service));
    let delete = authorize(
        Delete(Call {
            route: "/delete",
            answers: Arc::default(),
        }),
        &tools,
        &service,
        Some("search:execute"),
    );
    let run = RunContext::on_behalf_of(&caller, agent.subject());
    let mut context = run.tool_context();
    let error = rig_core::tool::Tool::call(&delete, &mut context, json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ToolError::ScopeNotAllowed { tool: "delete", needed } if needed == "db:delete"),
        "{error:?}"
    );
    assert!(error.to_string().contains("AgentTools::step_up"), "{error}");
    // Asked once, not again.
    let statuses: Vec<u16> = seen.lock().unwrap().iter().map(|(_, s, _)| *s).collect();
    assert_eq!(statuses, [403]);
}
