//! What the rig tests share: the user whose request starts the agent's run.

use authgent_harness::real_server::RealServer;
use authgent_jwks::{AgentAuth, Caller, Verifier};

/// The agent's own service: the user's token is for it.
pub(crate) const AGENT_SERVICE: &str = "https://agent.example";

/// alice signs in at a front agent (a human-rooted token for the agent's service), and the
/// agent's service verifies it: her token and the run's caller.
pub(crate) async fn alice_calls_the_agent_service(real: &RealServer) -> (String, Caller) {
    let token = real
        .human_token("alice", AGENT_SERVICE, "search:execute db:delete")
        .await;
    let auth = AgentAuth::builder(
        Verifier::builder()
            .issuer(&real.url)
            .audience(AGENT_SERVICE)
            .external_url(AGENT_SERVICE)
            .build()
            .unwrap(),
    )
    .build()
    .unwrap();
    let headers = http::HeaderMap::from_iter([(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    )]);
    let context = auth.authenticate("POST", "/run", &headers).await.unwrap();
    (token, context.caller().unwrap())
}
