//! Issue 25, item 4: one `AgentAuth` trusting two real, independent authorization servers —
//! authgent-server 0.3.4 and panva's oidc-provider — each with its own claims profile, every
//! token routed by its `iss` to that issuer's keys only (an opaque token to the one verifier
//! that introspects), over loopback HTTP.

use authgent_axum::{AgentAuth, AgentAuthLayer, AgentIdentity};
use authgent_core::ClaimsProfile;
use authgent_harness::contract::send;
use authgent_harness::oidc::{AGENT_A, OidcProvider, RESOURCE_SERVER, secret};
use authgent_harness::real_server::RealServer;
use authgent_jwks::{MultiIssuerVerifier, OpaqueTokens, Verifier};
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

async fn me(id: AgentIdentity) -> axum::Json<Value> {
    axum::Json(json!({
        "subject": id.subject(),
        "issuer": id.issuer(),
        "client_id": id.client_id(),
        "scopes": id.scopes(),
        "human_root": id.delegation_chain().human_root(),
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_one_agent_auth_over_authgent_server_and_oidc_provider() {
    let real = RealServer::default_instance();
    let provider = OidcProvider::start(false).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let opaque_resource = format!("{base}/opaque");
    let verifier = |issuer: &str, profile: ClaimsProfile| {
        Verifier::builder()
            .issuer(issuer)
            .audience(&base)
            .external_url(&base)
            .claims_profile(profile)
    };
    let both = MultiIssuerVerifier::new([
        verifier(&real.url, ClaimsProfile::authgent_server())
            .build()
            .unwrap(),
        // oidc-provider's opaque tokens too (its `/opaque` resources get them).
        verifier(&provider.url, ClaimsProfile::rfc9068())
            .audience(&opaque_resource)
            .opaque_tokens(
                OpaqueTokens::new().client_credentials(RESOURCE_SERVER, secret(RESOURCE_SERVER)),
            )
            .build()
            .unwrap(),
    ]);
    let auth = AgentAuth::builder(both).build().unwrap();
    let app = Router::new()
        .route("/me", get(me))
        .layer(AgentAuthLayer::new(auth));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let call = |token: String| {
        let base = base.clone();
        async move {
            let bearer = format!("Bearer {token}");
            send("GET", &format!("{base}/me"), &[("authorization", &bearer)]).await
        }
    };

    // authgent-server: an agent's client-credentials token for this resource.
    let agent = real.register(&["search:execute"]).await;
    let reply = real
        .token_request(
            &agent,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "search:execute"),
                ("resource", &base),
            ],
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let from_authgent = reply.body["access_token"].as_str().unwrap().to_owned();
    let r = call(from_authgent.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["issuer"], real.url.as_str());
    assert_eq!(r.body["scopes"], json!(["search:execute"]));

    // oidc-provider: an RFC 9068 token for the same resource.
    let answer = provider
        .client_credentials(AGENT_A, "search:execute", Some(&base))
        .await;
    let from_oidc = answer["access_token"].as_str().unwrap().to_owned();
    let r = call(from_oidc.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["issuer"], provider.url.as_str());
    assert_eq!(r.body["subject"], AGENT_A);
    assert_eq!(r.body["client_id"], AGENT_A);
    assert_eq!(r.body["human_root"], false);

    // An opaque token names no issuer: it goes to the one verifier that introspects.
    let answer = provider
        .client_credentials(AGENT_A, "search:execute", Some(&opaque_resource))
        .await;
    let r = call(answer["access_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["issuer"], provider.url.as_str());

    // Routed by `iss` to that issuer's keys only: a token naming authgent-server as its
    // issuer but signed by oidc-provider's key is refused.
    let parts: Vec<&str> = from_oidc.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&base64url_decode(parts[1])).unwrap();
    payload["iss"] = json!(real.url);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64url_encode(payload.to_string().as_bytes()),
        parts[2]
    );
    let r = call(forged).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    // A third issuer nobody configured: refused.
    let stranger = authgent_testkit::TestIssuer::start().await.unwrap();
    let r = call(stranger.token().audience(&base).sign()).await;
    assert_eq!(r.status, 401);
}

fn base64url_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn base64url_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
