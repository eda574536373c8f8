//! The smallest correct use: one protected route that greets the calling agent.
//!
//! `AUTHGENT_ISSUER=http://127.0.0.1:8000 cargo run -p authgent-actix --example hello_actix`

use actix_web::{App, HttpServer, web};
use authgent_actix::{AgentAuth, AgentAuthMiddleware, AgentIdentity};

async fn hello(identity: AgentIdentity) -> String {
    format!("hello {}\n", identity.subject())
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer = std::env::var("AUTHGENT_ISSUER").map_err(|_| "set AUTHGENT_ISSUER")?;
    let verifier = authgent_jwks::Verifier::builder()
        .issuer(issuer)
        .audience("http://127.0.0.1:3000")
        .external_url("http://127.0.0.1:3000")
        .build()?;
    let auth = AgentAuth::builder(verifier).build()?;
    HttpServer::new(move || {
        App::new()
            .wrap(AgentAuthMiddleware::new(auth.clone()))
            .route("/hello", web::get().to(hello))
            .configure(authgent_actix::resource_metadata(&auth))
    })
    .bind("127.0.0.1:3000")?
    .run()
    .await?;
    Ok(())
}
