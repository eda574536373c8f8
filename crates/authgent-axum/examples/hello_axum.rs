//! The smallest correct use: one protected route that greets the calling agent.
//!
//! `AUTHGENT_ISSUER=http://127.0.0.1:8000 cargo run -p authgent-axum --example hello_axum`

use authgent_axum::{AgentAuth, AgentAuthLayer, AgentIdentity, resource_metadata_router};
use axum::{Router, routing::get};

async fn hello(identity: AgentIdentity) -> String {
    format!("hello {}\n", identity.subject())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = std::env::var("AUTHGENT_ISSUER").map_err(|_| "set AUTHGENT_ISSUER")?;
    let verifier = authgent_jwks::Verifier::builder()
        .issuer(issuer)
        .audience("http://127.0.0.1:3000")
        .external_url("http://127.0.0.1:3000")
        .build()?;
    let auth = AgentAuth::builder(verifier).build()?;
    let app = Router::new()
        .route("/hello", get(hello))
        .layer(AgentAuthLayer::new(auth.clone()))
        .merge(resource_metadata_router(&auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
