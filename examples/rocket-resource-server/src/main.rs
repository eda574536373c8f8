//! A Rocket resource server protected by authgent, following `EXAMPLES.md`.
//!
//! ```sh
//! cargo run -p rocket-resource-server -- --embedded          # with a built-in test issuer
//! AUTHGENT_ISSUER=http://127.0.0.1:8000 cargo run -p rocket-resource-server
//! ```

use authgent_core::ScopeRequirement;
use authgent_rocket::{AgentAuthFairing, AgentIdentity, AuthRejection, OptionalAgentIdentity};
use example_support::{Settings, anonymous_json, health_json, identity_json};
use rocket::http::ContentType;
use rocket::{get, post, routes};

type Json = (ContentType, String);

fn json(value: serde_json::Value) -> Json {
    (ContentType::JSON, value.to_string())
}

#[get("/health")]
fn health() -> Json {
    json(health_json())
}

#[post("/tools/search")]
fn search(id: AgentIdentity) -> Result<Json, AuthRejection> {
    id.require_scopes(&ScopeRequirement::all(["search:execute"]))?;
    Ok(json(identity_json(&id)))
}

#[post("/tools/delete")]
fn delete(id: AgentIdentity) -> Result<Json, AuthRejection> {
    id.require_scopes(&ScopeRequirement::all(["db:delete"]))?;
    Ok(json(identity_json(&id)))
}

#[get("/chain/strict")]
fn strict(id: AgentIdentity) -> Result<Json, AuthRejection> {
    id.require_chain(&example_support::strict_chain())?;
    Ok(json(identity_json(&id)))
}

#[get("/chain/human")]
fn human(id: AgentIdentity) -> Result<Json, AuthRejection> {
    id.require_chain(&example_support::human_chain())?;
    Ok(json(identity_json(&id)))
}

#[get("/me")]
fn me(id: OptionalAgentIdentity) -> Json {
    json(id.0.map_or_else(anonymous_json, |id| identity_json(&id)))
}

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    // Rocket binds by itself; resolve port 0 to a free port first so PUBLIC_URL is known.
    let bound = std::net::TcpListener::bind(&settings.bind)?.local_addr()?;
    let resource = example_support::prepare(&settings, bound).await?;
    let auth = resource.auth.clone();
    let config = rocket::Config {
        address: bound.ip(),
        port: bound.port(),
        log_level: rocket::config::LogLevel::Critical,
        cli_colors: false,
        ..rocket::Config::release_default()
    };
    let rocket = rocket::custom(config)
        .attach(AgentAuthFairing::new(auth.clone()).with_catchers())
        .attach(rocket::fairing::AdHoc::on_liftoff("announce", move |_| {
            Box::pin(async move { example_support::announce(bound) })
        }))
        .mount("/", routes![health, search, delete, strict, human, me])
        .mount("/", authgent_rocket::resource_metadata_routes(&auth));
    // Rocket shuts down gracefully on Ctrl-C and SIGTERM by default.
    rocket.launch().await?;
    drop(resource);
    Ok(())
}
