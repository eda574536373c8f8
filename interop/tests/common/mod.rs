//! Shared by the interop test binaries: clients of the real servers and a resource server.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use authgent_axum::{AgentAuth, AgentAuthLayer, AgentIdentity, AuthRejection};
use authgent_client::{
    AgentAuthClient, AgentRegistration, ClientError, RegisteredAgent, TokenManager,
};
use authgent_core::ScopeRequirement;
use authgent_core::dpop::DpopKey;
use authgent_harness::real_server::required_env;
use authgent_jwks::Verifier;
use axum::Router;
use axum::routing::get;

/// The default server's URL.
pub fn default_url() -> String {
    required_env("AUTHGENT_INTEROP_URL")
}

/// A client of the default server.
pub fn client() -> AgentAuthClient {
    AgentAuthClient::new(default_url()).expect("client")
}

/// A unique agent name.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}-{nanos:x}")
}

/// A client of `url` binding every token to a fresh ES256 DPoP key.
pub fn dpop_client(url: &str) -> AgentAuthClient {
    AgentAuthClient::builder(url)
        .dpop_key(DpopKey::generate_es256().expect("key"))
        .build()
        .expect("client")
}

/// A token manager for `agent`'s tokens with `scope`, sent to `origin` only. The real server
/// issues tokens without `resource` for its own URL (`aud` = issuer), so the binding is the
/// explicit "this origin" one.
pub fn manager(
    auth: &AgentAuthClient,
    agent: &RegisteredAgent,
    scope: &str,
    origin: &str,
) -> TokenManager {
    TokenManager::builder(auth.clone(), agent.credentials())
        .scope(scope)
        .allow_origin(origin)
        .build()
        .expect("token manager")
}

/// Registers an agent allowed `scopes`. authgent-server 0.3.4 on SQLite answers concurrent
/// registrations with 500 (a server defect, INTEROP.md): those are retried here, not in the SDK.
pub async fn agent(auth: &AgentAuthClient, scopes: &[&str]) -> RegisteredAgent {
    let mut last = None;
    for _ in 0..5 {
        let reg = AgentRegistration::new(unique("rust-client")).scopes(scopes.iter().copied());
        match auth.register_agent(&reg).await {
            Ok(agent) => return agent,
            Err(ClientError::Server(e)) if e.status >= 500 => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("register agent: {e}"),
        }
    }
    panic!("register agent: {last:?}")
}

/// A verifier of `issuer`'s tokens with keys discovered from it.
pub fn verifier(issuer: &str) -> Verifier {
    Verifier::builder()
        .issuer(issuer)
        .audience(issuer)
        .external_url("https://tools.example")
        .build()
        .expect("verifier")
}

async fn whoami(identity: AgentIdentity) -> String {
    identity.subject().to_owned()
}

async fn delete(identity: AgentIdentity) -> Result<String, AuthRejection> {
    identity.require_scopes(&ScopeRequirement::all(["db:delete"]))?;
    Ok(format!("deleted for {}", identity.subject()))
}

/// [`resource_server`] trusting the default server, DPoP allowed.
pub async fn default_resource_server() -> String {
    resource_server(|base| {
        Verifier::builder()
            .issuer(default_url())
            .audience(default_url())
            .external_url(base)
            .build()
            .expect("verifier")
    })
    .await
}

/// An axum resource server on 127.0.0.1 protected by the verifier `build` makes for its base
/// URL: `GET /whoami` answers the caller's subject, `GET /delete` also needs scope
/// `db:delete`. Returns its base URL.
pub async fn resource_server(build: impl FnOnce(&str) -> Verifier) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let verifier = build(&format!("http://{addr}"));
    let app = Router::new()
        .route("/whoami", get(whoami))
        .route("/delete", get(delete))
        .layer(AgentAuthLayer::new(
            AgentAuth::builder(verifier).build().expect("auth"),
        ));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}
