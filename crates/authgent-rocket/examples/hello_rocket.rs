//! The smallest correct use: one protected route that greets the calling agent.
//!
//! `AUTHGENT_ISSUER=http://127.0.0.1:8000 cargo run -p authgent-rocket --example hello_rocket`

use authgent_rocket::{AgentAuth, AgentAuthFairing, AgentIdentity};
use rocket::{get, routes};

#[get("/hello")]
fn hello(identity: AgentIdentity) -> String {
    format!("hello {}\n", identity.subject())
}

#[rocket::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = std::env::var("AUTHGENT_ISSUER").map_err(|_| "set AUTHGENT_ISSUER")?;
    let verifier = authgent_jwks::Verifier::builder()
        .issuer(issuer)
        .audience("http://127.0.0.1:3000")
        .external_url("http://127.0.0.1:3000")
        .build()?;
    // Port 3000 like the other examples (Rocket's default, 8000, is authgent-server's).
    let config = rocket::Config {
        port: 3000,
        ..rocket::Config::default()
    };
    let _ = rocket::custom(config)
        .attach(AgentAuthFairing::new(AgentAuth::builder(verifier).build()?).with_catchers())
        .mount("/", routes![hello])
        .launch()
        .await?;
    Ok(())
}
