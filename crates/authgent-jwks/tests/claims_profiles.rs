//! Issue 25, item 2: the `ClaimsProfile` presets, each with access tokens shaped exactly as
//! its provider documents them (the shape cited above each fixture), signed by the testkit
//! issuer and verified by a `Verifier` over loopback HTTP (discovery, JWKS, signature).

use authgent_core::{AuthgentError, ClaimsProfile, TokenError};
use authgent_jwks::Verifier;
use authgent_testkit::{TestIssuer, TokenBuilder};
use serde_json::{Value, json};

const API: &str = "api://orders";

/// A token with only the members of `claims` (plus `iss`, `iat`, `exp`, `jti` of the issuer).
fn shaped<'a>(issuer: &'a TestIssuer, claims: Value) -> TokenBuilder<'a> {
    let mut token = issuer
        .token()
        .without_claim("scope")
        .without_claim("client_id")
        .without_claim("sub")
        .audience(API);
    for (name, value) in claims.as_object().unwrap() {
        token = token.claim(name.clone(), value.clone());
    }
    token
}

fn verifier(issuer: &TestIssuer, profile: ClaimsProfile) -> Verifier {
    Verifier::builder()
        .issuer(issuer.issuer())
        .audience(API)
        .external_url("https://orders.example")
        .claims_profile(profile)
        .build()
        .unwrap()
}

/// (scopes, client id, human root) as the verifier read them.
async fn read(
    verifier: &Verifier,
    token: &str,
) -> Result<(Vec<String>, Option<String>, bool), AuthgentError> {
    let id = verifier.verify_token(token).await?;
    Ok((
        id.scopes().to_vec(),
        id.client_id().map(str::to_owned),
        id.delegation_chain().human_root(),
    ))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn refused_naming(result: Result<(Vec<String>, Option<String>, bool), AuthgentError>, claim: &str) {
    match result {
        Err(AuthgentError::Token(TokenError::InvalidClaim { claim: named, .. })) => {
            assert_eq!(named, claim);
        }
        other => panic!("expected a refusal naming {claim}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_scp_array_and_cid() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer, ClaimsProfile::okta());
    // Okta custom authorization server access token (developer.okta.com, "Access token
    // payload"): `cid` the client, `uid` the user id, `scp` an array.
    let user = shaped(
        &issuer,
        json!({"ver": 1, "sub": "alice@example.com", "cid": "0oa1abcdEFGH", "uid": "00u1ijklMNOP",
               "scp": ["openid", "orders:read"]}),
    )
    .sign();
    assert_eq!(
        read(&v, &user).await.unwrap(),
        (
            strings(&["openid", "orders:read"]),
            Some("0oa1abcdEFGH".into()),
            true
        )
    );
    // Client credentials: `sub` is the client id.
    let machine = shaped(
        &issuer,
        json!({"ver": 1, "sub": "0oa1abcdEFGH", "cid": "0oa1abcdEFGH", "scp": ["orders:read"]}),
    )
    .sign();
    assert!(
        !read(&v, &machine).await.unwrap().2,
        "a client is not a human"
    );
    // The default profile reads `scope` only: the Okta token is refused naming `scp`.
    refused_naming(
        read(&verifier(&issuer, ClaimsProfile::default()), &user).await,
        "scp",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_id_scp_string_roles_and_azp() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer, ClaimsProfile::entra_id());
    // Entra ID v2.0 access token, delegated (learn.microsoft.com, "Access token claims
    // reference"): `scp` a space-separated string, `azp` the client app id, `oid` the user.
    let user = shaped(
        &issuer,
        json!({"ver": "2.0", "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
               "oid": "00000000-0000-0000-66f3-3332eca7ea81", "tid": "9188040d-6c67-4c5b-b112-36a304b66dad",
               "azp": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "azpacr": "0",
               "scp": "Orders.Read Orders.Write"}),
    )
    .sign();
    assert_eq!(
        read(&v, &user).await.unwrap(),
        (
            strings(&["Orders.Read", "Orders.Write"]),
            Some("6e74172b-be56-4843-9ff4-e66a39bb12e3".into()),
            true
        )
    );
    // App-only (client credentials): application permissions in `roles`, no `scp`; `sub` and
    // `oid` are the service principal, which differs from the app id: not a human.
    let app = shaped(
        &issuer,
        json!({"ver": "2.0", "sub": "7f0a8f3a-57e5-4c2d-8e9f-3b1c1d1e1f10",
               "oid": "7f0a8f3a-57e5-4c2d-8e9f-3b1c1d1e1f10", "idtyp": "app",
               "azp": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "roles": ["Orders.ReadWrite.All"]}),
    )
    .sign();
    assert_eq!(
        read(&v, &app).await.unwrap(),
        (
            strings(&["Orders.ReadWrite.All"]),
            Some("6e74172b-be56-4843-9ff4-e66a39bb12e3".into()),
            false
        )
    );
    // Entra ID v1.0: the client in `appid`.
    let v1 = shaped(
        &issuer,
        json!({"ver": "1.0", "sub": "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA",
               "appid": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "scp": "user_impersonation"}),
    )
    .sign();
    assert_eq!(
        read(&v, &v1).await.unwrap().1.as_deref(),
        Some("6e74172b-be56-4843-9ff4-e66a39bb12e3")
    );
    // A `scp` of another type is refused, naming it.
    let bad = shaped(&issuer, json!({"sub": "x", "azp": "a", "scp": 7})).sign();
    refused_naming(read(&v, &bad).await, "scp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth0_scope_and_permissions_and_azp() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer, ClaimsProfile::auth0());
    // Auth0 access token with RBAC and "Add Permissions in the Access Token" (auth0.com/docs,
    // "Access Token Profiles", "Enable Role-Based Access Control for APIs").
    let user = shaped(
        &issuer,
        json!({"sub": "auth0|64b7f0c1e2d3a4b5c6d7e8f9", "azp": "XvQ2mN8pL4kR7sT1uW3yZ5aB9cD0eF6g",
               "scope": "openid profile", "permissions": ["read:orders", "create:orders"]}),
    )
    .sign();
    assert_eq!(
        read(&v, &user).await.unwrap(),
        (
            strings(&["openid", "profile", "read:orders", "create:orders"]),
            Some("XvQ2mN8pL4kR7sT1uW3yZ5aB9cD0eF6g".into()),
            true
        )
    );
    // Machine to machine: `sub` is `<client_id>@clients`, `gty: client-credentials`.
    let m2m = shaped(
        &issuer,
        json!({"sub": "XvQ2mN8pL4kR7sT1uW3yZ5aB9cD0eF6g@clients", "azp": "XvQ2mN8pL4kR7sT1uW3yZ5aB9cD0eF6g",
               "gty": "client-credentials", "scope": "read:orders", "permissions": ["read:orders"]}),
    )
    .sign();
    assert!(
        !read(&v, &m2m).await.unwrap().2,
        "an M2M client is not a human"
    );
    // `permissions` of another type is refused, naming it; the default profile refuses it too.
    let bad = shaped(
        &issuer,
        json!({"sub": "auth0|1", "azp": "a", "permissions": "read:orders"}),
    )
    .sign();
    refused_naming(read(&v, &bad).await, "permissions");
    refused_naming(
        read(&verifier(&issuer, ClaimsProfile::default()), &user).await,
        "permissions",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_scope_and_client_id_or_azp() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer, ClaimsProfile::keycloak());
    // Keycloak access token of a signed-in user (Keycloak server admin guide, "Access token"):
    // `azp` the client, `scope` a string, roles in `realm_access`/`resource_access` (not scopes).
    let user = shaped(
        &issuer,
        json!({"typ": "Bearer", "sub": "f1b2c3d4-e5f6-4789-a0b1-c2d3e4f5a6b7", "azp": "orders-web",
               "preferred_username": "alice", "scope": "openid orders:read",
               "realm_access": {"roles": ["offline_access", "default-roles-acme"]},
               "resource_access": {"account": {"roles": ["view-profile"]}}}),
    )
    .sign();
    assert_eq!(
        read(&v, &user).await.unwrap(),
        (
            strings(&["openid", "orders:read"]),
            Some("orders-web".into()),
            true
        )
    );
    // A service account (client credentials, the `service_account` client scope): `client_id`
    // and `azp` name the client, `sub` is the service-account user: not a human.
    let service = shaped(
        &issuer,
        json!({"typ": "Bearer", "sub": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "azp": "orders-batch",
               "client_id": "orders-batch", "preferred_username": "service-account-orders-batch",
               "scope": "orders:read"}),
    )
    .sign();
    assert_eq!(
        read(&v, &service).await.unwrap(),
        (
            strings(&["orders:read"]),
            Some("orders-batch".into()),
            false
        )
    );
    // A rule of one's own replaces the preset's.
    let declared =
        ClaimsProfile::keycloak().human_root_rule(authgent_core::HumanRootRule::custom(|chain| {
            chain.root_subject() == "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
        }));
    assert!(
        read(&verifier(&issuer, declared), &service)
            .await
            .unwrap()
            .2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc9068_human_root_is_a_subject_that_is_not_a_client() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer, ClaimsProfile::rfc9068());
    // RFC 9068 §2.2: `client_id` required; for client credentials `sub` is the client id.
    let user = shaped(
        &issuer,
        json!({"sub": "23f9ac1b", "client_id": "orders-web", "scope": "orders:read"}),
    )
    .sign();
    assert_eq!(
        read(&v, &user).await.unwrap(),
        (strings(&["orders:read"]), Some("orders-web".into()), true)
    );
    let machine = shaped(
        &issuer,
        json!({"sub": "orders-batch", "client_id": "orders-batch", "scope": "orders:read"}),
    )
    .sign();
    assert!(!read(&v, &machine).await.unwrap().2);
    // After an exchange (RFC 8693) `sub` stays the root but the client is the actor's, so
    // only the user's authentication time (§2.2.1 `auth_time`, kept by the exchange) marks a
    // human: an agent's own token exchanged by another agent is not human-rooted, with or
    // without the older agent among the actors.
    let exchanged = shaped(
        &issuer,
        json!({"sub": "23f9ac1b", "client_id": "agent-b", "scope": "orders:read",
               "auth_time": 1_796_370_000, "act": {"sub": "agent-b"}}),
    )
    .sign();
    assert!(read(&v, &exchanged).await.unwrap().2);
    let agent_rooted = shaped(
        &issuer,
        json!({"sub": "agent-a", "client_id": "agent-b", "scope": "orders:read", "act": {"sub": "agent-b"}}),
    )
    .sign();
    assert!(
        !read(&v, &agent_rooted).await.unwrap().2,
        "no auth_time: fail-closed"
    );
    let agents = shaped(
        &issuer,
        json!({"sub": "agent-a", "client_id": "agent-b", "scope": "orders:read",
               "auth_time": 1_796_370_000, "act": {"sub": "agent-b", "act": {"sub": "agent-a"}}}),
    )
    .sign();
    assert!(
        !read(&v, &agents).await.unwrap().2,
        "an actor is never the human root"
    );
    // The default (authgent-server) profile knows nothing of this: a bare account id is not
    // a `user:` subject.
    assert!(
        !read(&verifier(&issuer, ClaimsProfile::default()), &user)
            .await
            .unwrap()
            .2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authgent_server_default_is_unchanged() {
    let issuer = TestIssuer::start().await.unwrap();
    let v = verifier(&issuer, ClaimsProfile::default());
    let token = issuer
        .token()
        .audience(API)
        .subject("user:alice")
        .client_id("agnt_1")
        .scopes(["search:execute"])
        .actors(["client:agnt_1"])
        .sign();
    assert_eq!(
        read(&v, &token).await.unwrap(),
        (strings(&["search:execute"]), Some("agnt_1".into()), true)
    );
    // A chain policy requiring a human uses the profile's decision.
    let id = v.verify_token(&token).await.unwrap();
    let policy = authgent_core::ChainPolicy::builder()
        .require_human_root(true)
        .build();
    assert!(policy.check(id.delegation_chain()).is_ok());
}
