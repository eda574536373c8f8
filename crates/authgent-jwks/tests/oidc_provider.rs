//! Issue 25: the verifier against a second, independent authorization server — panva's
//! oidc-provider (OpenID Certified), one per test (`authgent_harness::oidc`), installed and
//! pinned by `cargo xtask test`. Its tokens are RFC 9068 JWTs (`typ: at+jwt`), signed with
//! keys made at its start.

use authgent_core::{ClaimsProfile, TypPolicy};
use authgent_harness::oidc::{AGENT_A, AGENT_B, OidcProvider};
use authgent_jwks::Verifier;

/// Any loopback resource: the provider issues tokens for it, nothing needs to listen there.
const RESOURCE: &str = "http://127.0.0.1:9/orders";

fn verifier(provider: &OidcProvider, profile: ClaimsProfile) -> Verifier {
    Verifier::builder()
        .issuer(&provider.url)
        .audience(RESOURCE)
        .external_url("http://127.0.0.1:9")
        .typ_policy(TypPolicy::Strict)
        .claims_profile(profile)
        .build()
        .unwrap()
}

fn access_token(answer: &serde_json::Value) -> &str {
    answer["access_token"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_oidc_provider_client_credentials_and_exchanges_verify_with_the_rfc9068_profile() {
    let provider = OidcProvider::start(false).await;
    let v = verifier(&provider, ClaimsProfile::rfc9068());

    let agent = provider
        .client_credentials(AGENT_A, "search:execute db:read", Some(RESOURCE))
        .await;
    let id = v.verify_token(access_token(&agent)).await.unwrap();
    assert_eq!(id.subject(), AGENT_A);
    assert_eq!(id.client_id(), Some(AGENT_A));
    assert_eq!(id.scopes(), ["search:execute", "db:read"]);
    assert!(
        !id.delegation_chain().human_root(),
        "a client is not a human"
    );
    assert_eq!(id.delegation_chain().depth(), 0);

    // RFC 8693 through the exchange grant registered on the provider: `act` nests.
    let once = provider
        .exchange(
            AGENT_B,
            access_token(&agent),
            RESOURCE,
            Some("search:execute"),
        )
        .await;
    let id = v.verify_token(access_token(&once)).await.unwrap();
    assert_eq!(id.subject(), AGENT_A);
    assert_eq!(id.client_id(), Some(AGENT_B));
    assert_eq!(id.scopes(), ["search:execute"]);
    let chain = id.delegation_chain();
    assert_eq!(chain.depth(), 1);
    assert_eq!(chain.current_actor().unwrap().subject(), AGENT_B);
    let twice = provider
        .exchange(AGENT_A, access_token(&once), RESOURCE, None)
        .await;
    let id = v.verify_token(access_token(&twice)).await.unwrap();
    let actors: Vec<&str> = id
        .delegation_chain()
        .actors()
        .iter()
        .map(|a| a.subject())
        .collect();
    assert_eq!(actors, [AGENT_A, AGENT_B], "newest first");
    assert!(!id.delegation_chain().human_root());

    // The default profile (authgent-server's) refuses nothing here: RFC 9068 puts scopes in
    // `scope` too. Its human-root rule (`user:` subjects) is the difference, below.
    let default = verifier(&provider, ClaimsProfile::default());
    assert!(default.verify_token(access_token(&agent)).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_oidc_provider_a_signed_in_user_is_a_human_root_directly_and_after_exchanges() {
    let provider = OidcProvider::start(false).await;
    let v = verifier(&provider, ClaimsProfile::rfc9068());
    // The authorization-code flow through the provider's login: `sub` is a bare account id.
    let user = provider
        .user_token("23f9ac1b", "search:execute", RESOURCE)
        .await;
    let id = v.verify_token(access_token(&user)).await.unwrap();
    assert_eq!(id.subject(), "23f9ac1b");
    assert_eq!(id.client_id(), Some("web-app"));
    assert!(id.delegation_chain().human_root());
    let exchanged = provider
        .exchange(AGENT_A, access_token(&user), RESOURCE, None)
        .await;
    let id = v.verify_token(access_token(&exchanged)).await.unwrap();
    assert_eq!(id.subject(), "23f9ac1b");
    assert_eq!(
        id.delegation_chain().current_actor().unwrap().subject(),
        AGENT_A
    );
    assert!(id.delegation_chain().human_root());
    let again = provider
        .exchange(AGENT_B, access_token(&exchanged), RESOURCE, None)
        .await;
    let id = v.verify_token(access_token(&again)).await.unwrap();
    assert_eq!(id.delegation_chain().depth(), 2);
    assert!(id.delegation_chain().human_root());
    // authgent-server's rule does not know this user: a bare account id is no `user:`.
    let default = verifier(&provider, ClaimsProfile::default());
    let id = default.verify_token(access_token(&user)).await.unwrap();
    assert!(!id.delegation_chain().human_root());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_oidc_provider_key_rotation_costs_one_jwks_refetch() {
    let mut provider = OidcProvider::start(false).await;
    let v = verifier(&provider, ClaimsProfile::rfc9068());
    let before = provider
        .client_credentials(AGENT_A, "search:execute", Some(RESOURCE))
        .await;
    v.verify_token(access_token(&before)).await.unwrap();
    let fetches = v.stats().jwks_fetches;
    assert_eq!(fetches, 1);

    // Restarted with new keys on the same port: a rotation.
    provider.rotate_keys().await;
    let after = provider
        .client_credentials(AGENT_A, "search:execute", Some(RESOURCE))
        .await;
    v.verify_token(access_token(&after)).await.unwrap();
    assert_eq!(
        v.stats().jwks_fetches,
        fetches + 1,
        "one refetch for the new kid"
    );
    for _ in 0..5 {
        let again = provider
            .client_credentials(AGENT_A, "search:execute", Some(RESOURCE))
            .await;
        v.verify_token(access_token(&again)).await.unwrap();
    }
    assert_eq!(v.stats().jwks_fetches, fetches + 1, "and no more");
}

/// oidc-provider does not introspect its JWT access tokens (400 `unsupported_token_type`). A
/// verifier checking revocation learns it at the first check and says so — a configuration
/// error (500), never a 503 per request — and asks no more: the third token below is refused
/// the same way after the provider is gone. Fail-open accepts them unchecked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_oidc_provider_jwt_revocation_checks_fail_as_configuration_not_per_request() {
    use authgent_core::{AuthgentError, ConfigError};
    use authgent_harness::oidc::{RESOURCE_SERVER, secret};
    use authgent_jwks::RevocationCheck;

    let provider = OidcProvider::start(false).await;
    let checked = |fail_open: bool| {
        Verifier::builder()
            .issuer(&provider.url)
            .audience(RESOURCE)
            .external_url("http://127.0.0.1:9")
            .claims_profile(ClaimsProfile::rfc9068())
            .revocation_check(
                RevocationCheck::new()
                    .client_credentials(RESOURCE_SERVER, secret(RESOURCE_SERVER))
                    .fail_open(fail_open),
            )
            .build()
            .unwrap()
    };
    let mut tokens = Vec::new();
    for _ in 0..4 {
        let answer = provider
            .client_credentials(AGENT_A, "search:execute", Some(RESOURCE))
            .await;
        tokens.push(access_token(&answer).to_owned());
    }
    let closed = checked(false);
    let open = checked(true);
    let is_config = |r: Result<_, AuthgentError>| {
        matches!(
            r,
            Err(AuthgentError::Config(ConfigError::Invalid {
                setting: "revocation_check",
                ..
            }))
        )
    };
    let first = closed.verify_token(&tokens[0]).await;
    let status = first.as_ref().err().map(AuthgentError::status);
    assert!(is_config(first), "the first check names the limitation");
    assert_eq!(status, Some(500));
    assert!(is_config(closed.verify_token(&tokens[1]).await));
    assert!(
        open.verify_token(&tokens[3]).await.is_ok(),
        "fail-open: unchecked"
    );

    drop(provider);
    assert!(
        is_config(closed.verify_token(&tokens[2]).await),
        "no introspection is attempted any more (it would be a 503 now)"
    );
}

/// Opaque access tokens (oidc-provider issues them for the `/opaque` resources here),
/// verified by client-authenticated RFC 7662 introspection: the same identity as a JWT would
/// give, DPoP binding from `cnf.jkt`, and revocation at the provider taking effect within the
/// cache time (immediately with no cache).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_oidc_provider_opaque_tokens_by_introspection_and_their_revocation() {
    use authgent_core::{AuthgentError, TokenError};
    use authgent_harness::oidc::{RESOURCE_SERVER, secret};
    use authgent_jwks::OpaqueTokens;
    use std::time::Duration;

    const OPAQUE: &str = "http://127.0.0.1:9/opaque/orders";
    let provider = OidcProvider::start(false).await;
    let verifier = |cache: Duration| {
        Verifier::builder()
            .issuer(&provider.url)
            .audience(OPAQUE)
            .external_url("http://127.0.0.1:9")
            .claims_profile(ClaimsProfile::rfc9068())
            .opaque_tokens(
                OpaqueTokens::new()
                    .client_credentials(RESOURCE_SERVER, secret(RESOURCE_SERVER))
                    .cache_ttl(cache),
            )
            .build()
            .unwrap()
    };
    let answer = provider
        .client_credentials(AGENT_A, "search:execute db:read", Some(OPAQUE))
        .await;
    let token = access_token(&answer);
    assert!(!token.contains('.'), "an opaque token: {token}");
    let uncached = verifier(Duration::ZERO);
    let cached = verifier(Duration::from_secs(60));
    for v in [&uncached, &cached] {
        let id = v.verify_token(token).await.unwrap();
        assert_eq!(id.subject(), AGENT_A);
        assert_eq!(id.client_id(), Some(AGENT_A));
        assert_eq!(id.scopes(), ["search:execute", "db:read"]);
        assert_eq!(id.issuer(), provider.url);
    }
    // A token for another resource is refused by audience, as a JWT would be.
    let other = provider
        .client_credentials(
            AGENT_A,
            "search:execute",
            Some("http://127.0.0.1:9/opaque/other"),
        )
        .await;
    assert!(matches!(
        uncached.verify_token(access_token(&other)).await,
        Err(AuthgentError::Token(TokenError::AudienceMismatch))
    ));

    provider.revoke(AGENT_A, token).await;
    assert!(
        matches!(
            uncached.verify_token(token).await,
            Err(AuthgentError::Token(TokenError::Revoked))
        ),
        "revoked at the provider: refused"
    );
    assert!(
        cached.verify_token(token).await.is_ok(),
        "within the cache time the verdict stands (the documented bound)"
    );

    // Without the opaque configuration, an opaque token is just malformed.
    let jwt_only = verifier(Duration::ZERO);
    drop(jwt_only);
    let plain = Verifier::builder()
        .issuer(&provider.url)
        .audience(OPAQUE)
        .external_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    let fresh = provider
        .client_credentials(AGENT_A, "search:execute", Some(OPAQUE))
        .await;
    assert!(matches!(
        plain.verify_token(access_token(&fresh)).await,
        Err(AuthgentError::Token(TokenError::Malformed(_)))
    ));
    // An issuer that cannot be asked: 503, never accepted.
    drop(provider);
    assert!(matches!(
        uncached.verify_token(access_token(&fresh)).await,
        Err(AuthgentError::RevocationCheckUnavailable { .. })
    ));
}

/// A DPoP-bound opaque token: the binding comes from the introspection response's
/// `cnf.jkt`; presented as Bearer it is refused, with a proof of its key it passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_oidc_provider_dpop_bound_opaque_tokens() {
    use authgent_core::dpop::DpopKey;
    use authgent_core::{AuthgentError, TokenError};
    use authgent_harness::oidc::{RESOURCE_SERVER, secret};
    use authgent_jwks::OpaqueTokens;

    const OPAQUE: &str = "http://127.0.0.1:9/opaque/orders";
    let provider = OidcProvider::start(false).await;
    let v = Verifier::builder()
        .issuer(&provider.url)
        .audience(OPAQUE)
        .external_url("http://127.0.0.1:9")
        .claims_profile(ClaimsProfile::rfc9068())
        .opaque_tokens(
            OpaqueTokens::new().client_credentials(RESOURCE_SERVER, secret(RESOURCE_SERVER)),
        )
        .build()
        .unwrap();
    let key = DpopKey::generate_es256().unwrap();
    let answer = provider
        .client_credentials_dpop(AGENT_A, "search:execute", OPAQUE, &key)
        .await;
    assert_eq!(answer["token_type"], "DPoP");
    let token = access_token(&answer);
    assert!(matches!(
        v.verify_token(token).await,
        Err(AuthgentError::Token(TokenError::DpopBoundAsBearer))
    ));
    let proof = key
        .proof(
            "GET",
            OPAQUE,
            Some(token),
            None,
            std::time::SystemTime::now(),
        )
        .unwrap();
    let request = http::Request::get("/opaque/orders")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .body(())
        .unwrap();
    let id = v.verify(&request.into_parts().0).await.unwrap().unwrap();
    assert_eq!(id.dpop_jkt(), Some(key.jkt()));
}
