//! Issue 25: the agent side against a second, independent authorization server — panva's
//! oidc-provider (OpenID Certified), one per test (`authgent_harness::oidc`). It wants
//! `resource` for JWT access tokens and can require its DPoP nonces; the tokens are checked
//! with the verifier (RFC 9068 profile).

use std::sync::Arc;

use authgent_client::{AgentAuthClient, ClientCredentials, ExchangeRequest, TokenManager};
use authgent_core::dpop::DpopKey;
use authgent_core::{ClaimsProfile, TypPolicy};
use authgent_harness::oidc::{AGENT_A, AGENT_B, OidcProvider, secret};
use authgent_jwks::Verifier;

const RESOURCE: &str = "http://127.0.0.1:9/orders";

fn verifier(provider: &OidcProvider) -> Verifier {
    Verifier::builder()
        .issuer(&provider.url)
        .audience(RESOURCE)
        .external_url("http://127.0.0.1:9")
        .typ_policy(TypPolicy::Strict)
        .claims_profile(ClaimsProfile::rfc9068())
        .build()
        .unwrap()
}

fn client(provider: &OidcProvider, key: Option<Arc<DpopKey>>) -> AgentAuthClient {
    let mut builder = AgentAuthClient::builder(&provider.url).allow_insecure_http();
    if let Some(key) = key {
        builder = builder.dpop_key(key);
    }
    builder.build().unwrap()
}

fn creds(id: &str) -> ClientCredentials {
    ClientCredentials::new(id, secret(id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_oidc_provider_discovery() {
    let provider = OidcProvider::start(false).await;
    let auth = client(&provider, None);
    let metadata = auth.discover().await.unwrap();
    assert_eq!(metadata.issuer, provider.url);
    assert_eq!(auth.token_endpoint(), provider.token_endpoint());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_oidc_provider_token_manager_gets_jwt_tokens_for_a_resource() {
    let provider = OidcProvider::start(false).await;
    let auth = client(&provider, None);
    auth.discover().await.unwrap();
    let tokens = TokenManager::builder(auth, creds(AGENT_A))
        .scope("search:execute db:read")
        .resource(RESOURCE)
        .allow_insecure_http()
        .build()
        .unwrap();
    let token = tokens.token().await.unwrap();
    assert!(!token.is_dpop());
    let id = verifier(&provider)
        .verify_token(token.access_token.expose())
        .await
        .unwrap();
    assert_eq!(id.subject(), AGENT_A);
    assert_eq!(id.scopes(), ["search:execute", "db:read"]);
    // Cached: the same token again.
    let again = tokens.token().await.unwrap();
    assert_eq!(again.access_token.expose(), token.access_token.expose());
}

/// DPoP-bound tokens, without and with the provider's nonces (the client retries once with
/// the nonce it is given, RFC 9449 §8).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_oidc_provider_dpop_bound_tokens_with_and_without_nonces() {
    for nonce in [false, true] {
        let provider = OidcProvider::start(nonce).await;
        let key = Arc::new(DpopKey::generate_es256().unwrap());
        let auth = client(&provider, Some(Arc::clone(&key)));
        auth.discover().await.unwrap();
        let token = auth
            .get_token(&creds(AGENT_A), Some("search:execute"), Some(RESOURCE))
            .await
            .unwrap_or_else(|e| panic!("nonce={nonce}: {e}"));
        assert!(token.is_dpop(), "nonce={nonce}: {}", token.token_type);
        // Presented to the resource with a proof of the same key.
        let access = token.access_token.expose();
        let proof = key
            .proof(
                "GET",
                RESOURCE,
                Some(access),
                None,
                std::time::SystemTime::now(),
            )
            .unwrap();
        let request = http::Request::get("/orders")
            .header("authorization", format!("DPoP {access}"))
            .header("dpop", proof)
            .body(())
            .unwrap();
        let id = verifier(&provider)
            .verify(&request.into_parts().0)
            .await
            .unwrap_or_else(|e| panic!("nonce={nonce}: {e}"))
            .unwrap();
        assert_eq!(id.dpop_jkt(), Some(key.jkt()), "nonce={nonce}");
        if nonce {
            assert!(
                auth.dpop_nonce(&provider.token_endpoint()).is_some(),
                "the provider's nonce is kept for the next proof"
            );
        }
    }
}

/// RFC 8693 through `AgentAuthClient::exchange_token` (`resource`, as oidc-provider wants it):
/// the agent's token acted on by a second agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_oidc_provider_exchange_nests_act() {
    let provider = OidcProvider::start(false).await;
    let auth = client(&provider, None);
    auth.discover().await.unwrap();
    let first = auth
        .get_token(&creds(AGENT_A), Some("search:execute"), Some(RESOURCE))
        .await
        .unwrap();
    let request = ExchangeRequest::new(first.access_token.expose())
        .resource(RESOURCE)
        .scope("search:execute");
    let exchanged = auth
        .exchange_token(&creds(AGENT_B), &request)
        .await
        .unwrap();
    let id = verifier(&provider)
        .verify_token(exchanged.access_token.expose())
        .await
        .unwrap();
    assert_eq!(id.subject(), AGENT_A);
    assert_eq!(
        id.delegation_chain().current_actor().unwrap().subject(),
        AGENT_B
    );
}

/// A provider that serves only OpenID Connect discovery (Keycloak, Entra ID): the client's
/// RFC 8414 request gets 404 and it reads `/.well-known/openid-configuration` instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_reads_openid_configuration_where_there_is_no_rfc8414_document() {
    let issuer = authgent_testkit::TestIssuer::start().await.unwrap();
    issuer.set_discovery(authgent_testkit::Discovery::OpenIdOnly);
    let auth = AgentAuthClient::builder(issuer.issuer())
        .allow_insecure_http()
        .build()
        .unwrap();
    let metadata = auth.discover().await.unwrap();
    assert_eq!(metadata.issuer, issuer.issuer());
    assert_eq!(
        issuer.requests_to("/.well-known/oauth-authorization-server"),
        1
    );
    assert_eq!(issuer.requests_to("/.well-known/openid-configuration"), 1);
}
