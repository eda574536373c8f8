//! An axum resource server protected by authgent, following `EXAMPLES.md`.
//!
//! ```sh
//! cargo run -p axum-resource-server -- --embedded          # with a built-in test issuer
//! AUTHGENT_ISSUER=http://127.0.0.1:8000 cargo run -p axum-resource-server
//! ```

use authgent_axum::{AgentAuthLayer, AgentIdentity, Require, resource_metadata_router};
use axum::routing::{get, post};
use axum::{Json, Router};
use example_support::{Settings, anonymous_json, health_json, identity_json};
use serde_json::Value;

async fn identity(id: AgentIdentity) -> Json<Value> {
    Json(identity_json(&id))
}

async fn me(id: Option<AgentIdentity>) -> Json<Value> {
    Json(id.map_or_else(anonymous_json, |id| identity_json(&id)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    let listener = tokio::net::TcpListener::bind(&settings.bind).await?;
    let bound = listener.local_addr()?;
    let resource = example_support::prepare(&settings, bound).await?;

    // Verified once per request (one `AgentAuth`, built by example_support); anonymous
    // requests pass through to `Option<AgentIdentity>`.
    let auth = resource.auth.clone();
    let app = Router::new()
        .route(
            "/tools/search",
            post(identity).route_layer(Require::all(["search:execute"])),
        )
        .route(
            "/tools/delete",
            post(identity).route_layer(Require::all(["db:delete"])),
        )
        .route(
            "/chain/strict",
            get(identity).route_layer(Require::chain(example_support::strict_chain())),
        )
        .route(
            "/chain/human",
            get(identity).route_layer(Require::chain(example_support::human_chain())),
        )
        .route("/me", get(me))
        .layer(AgentAuthLayer::new(auth.clone()))
        .route("/health", get(|| async { Json(health_json()) }))
        .merge(resource_metadata_router(&auth));

    example_support::announce(bound);
    axum::serve(listener, app)
        .with_graceful_shutdown(example_support::shutdown_signal())
        .await?;
    Ok(())
}
