//! One handler served twice, for `loadgen`'s like-for-like HTTP comparison: `GET /open` without
//! authgent's layer and `GET /auth` behind it, configured exactly as the axum example is
//! (`example_support`: the same settings, verifier and optional mode). The handler answers the
//! same small JSON on both routes and extracts nothing (without the layer, authgent's extractor
//! answers 500 by design: a missing layer is a configuration error), so the difference in
//! requests/s between the routes is the layer: credentials parsed, the verified-token cache
//! looked up (or a full verification), the identity stored in the request.

use authgent_axum::AgentAuthLayer;
use axum::routing::get;
use axum::{Json, Router};
use example_support::Settings;
use serde_json::{Value, json};

async fn handler() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    let listener = tokio::net::TcpListener::bind(&settings.bind).await?;
    let bound = listener.local_addr()?;
    let resource = example_support::prepare(&settings, bound).await?;
    let app = Router::new()
        .route("/auth", get(handler))
        .layer(AgentAuthLayer::new(resource.auth.clone()))
        .route("/open", get(handler));
    example_support::announce(bound);
    axum::serve(listener, app)
        .with_graceful_shutdown(example_support::shutdown_signal())
        .await?;
    Ok(())
}
