//! An actix-web resource server protected by authgent, following `EXAMPLES.md`.
//!
//! ```sh
//! cargo run -p actix-resource-server -- --embedded          # with a built-in test issuer
//! AUTHGENT_ISSUER=http://127.0.0.1:8000 cargo run -p actix-resource-server
//! ```

use actix_web::{App, HttpResponse, HttpServer, web};
use authgent_actix::{AgentAuthMiddleware, AgentIdentity, OptionalAgentIdentity, Require};
use example_support::{Settings, anonymous_json, health_json, identity_json};

async fn identity(id: AgentIdentity) -> HttpResponse {
    HttpResponse::Ok().json(identity_json(&id))
}

async fn me(id: OptionalAgentIdentity) -> HttpResponse {
    HttpResponse::Ok().json(id.0.map_or_else(anonymous_json, |id| identity_json(&id)))
}

fn guarded(
    path: &str,
    require: Require,
    route: actix_web::Route,
) -> impl actix_web::dev::HttpServiceFactory + use<> {
    web::resource(path).wrap(require).route(route.to(identity))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::from_env()?;
    let listener = std::net::TcpListener::bind(&settings.bind)?;
    let bound = listener.local_addr()?;
    let resource = example_support::prepare(&settings, bound).await?;

    // Verified once per request; anonymous requests reach `OptionalAgentIdentity` as None.
    let auth = resource.auth.clone();
    let server = HttpServer::new(move || {
        App::new()
            .route(
                "/health",
                web::get().to(|| async { HttpResponse::Ok().json(health_json()) }),
            )
            .configure(authgent_actix::resource_metadata(&auth))
            .service(
                web::scope("")
                    .wrap(AgentAuthMiddleware::new(auth.clone()))
                    .service(guarded(
                        "/tools/search",
                        Require::all(["search:execute"]),
                        web::post(),
                    ))
                    .service(guarded(
                        "/tools/delete",
                        Require::all(["db:delete"]),
                        web::post(),
                    ))
                    .service(guarded(
                        "/chain/strict",
                        Require::chain(example_support::strict_chain()),
                        web::get(),
                    ))
                    .service(guarded(
                        "/chain/human",
                        Require::chain(example_support::human_chain()),
                        web::get(),
                    ))
                    .route("/me", web::get().to(me)),
            )
    })
    .listen(listener)?
    .run();

    // actix-web shuts down gracefully on SIGTERM and Ctrl-C by itself.
    example_support::announce(bound);
    server.await?;
    drop(resource);
    Ok(())
}
