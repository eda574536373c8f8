//! Issue 9 against the real authgent-server 0.3.4: revocation checking by introspection, and
//! the identity-chaining grant that passes for an access token (INTEROP.md "Known server
//! defects") refused under the strict preset.

mod common;

use std::time::Duration;

use authgent_core::{AuthgentError, TokenError};
use authgent_jwks::{RevocationCheck, Verifier};
use common::{agent, client, default_url};

const TOOLS: &str = "https://tools.example";

fn verifier_for_tools() -> authgent_jwks::VerifierBuilder {
    Verifier::builder()
        .issuer(default_url())
        .audience(TOOLS)
        .external_url(TOOLS)
}

/// Finding 6: a revoked token was accepted until it expired. With revocation checking on, the
/// resource server refuses it within the verdict cache time.
#[tokio::test]
async fn interop_revoked_token_is_refused_within_the_cache_time() {
    let auth = client();
    let a = agent(&auth, &["read"]).await;
    let token = auth
        .get_token(&a.credentials(), Some("read"), Some(TOOLS))
        .await
        .unwrap();
    let token = token.access_token.expose();
    let cached = verifier_for_tools()
        .revocation_check(RevocationCheck::new().cache_ttl(Duration::from_secs(2)))
        .build()
        .unwrap();
    let uncached = verifier_for_tools()
        .revocation_check(RevocationCheck::new().cache_ttl(Duration::ZERO))
        .build()
        .unwrap();
    let without = verifier_for_tools().build().unwrap();
    cached
        .verify_token(token)
        .await
        .expect("active before revocation");
    uncached
        .verify_token(token)
        .await
        .expect("active before revocation");
    without.verify_token(token).await.unwrap();

    auth.revoke_token(&a.credentials(), token).await.unwrap();
    assert_eq!(
        uncached.verify_token(token).await.unwrap_err(),
        AuthgentError::Token(TokenError::Revoked),
        "introspected on every request: refused at once"
    );
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let err = cached.verify_token(token).await.unwrap_err();
    assert_eq!(
        err,
        AuthgentError::Token(TokenError::Revoked),
        "refused once the verdict expired"
    );
    assert_eq!((err.status(), err.code()), (401, "invalid_token"));
    // Without revocation checking the signature is all there is: still accepted.
    without.verify_token(token).await.unwrap();
}

/// The server defect: token exchange with `requested_token_type=…:jwt` returns an unbound
/// JWT with an access token's `typ` and key, for any audience. It verifies as an access token
/// under the default settings (asserted, so a server upgrade that fixes it is noticed), and
/// is refused under the strict preset, which requires DPoP.
#[tokio::test]
async fn interop_identity_chaining_grant_is_refused_under_the_strict_preset() {
    let auth = client();
    let a = agent(&auth, &["read", "write"]).await;
    let b = agent(&auth, &["read", "write"]).await;
    let subject = auth
        .get_token(&a.credentials(), Some("read"), None)
        .await
        .unwrap();
    let grant = auth
        .start_identity_chain(
            &b.credentials(),
            subject.access_token.expose(),
            TOOLS,
            Some("read write"),
        )
        .await
        .expect("the server mints the grant for any audience");
    let grant = grant.access_token.expose();
    // Not narrowed: the subject token said "read", the grant is for whatever was asked.

    let default = verifier_for_tools().build().unwrap();
    let accepted = default.verify_token(grant).await;
    let accepted = accepted.unwrap_or_else(|e| {
        panic!(
            "authgent-server 0.3.4 defect no longer reproduces ({e:?}): update \
             docs/interop.md and docs/security.md"
        )
    });
    assert!(accepted.dpop_jkt().is_none(), "the grant is unbound");
    assert!(
        accepted.delegation_chain().actors().is_empty(),
        "and carries no act"
    );

    let strict = verifier_for_tools().strict().build().unwrap();
    let err = strict.verify_token(grant).await.unwrap_err();
    assert_eq!(err, AuthgentError::Token(TokenError::DpopRequired));
    assert_eq!((err.status(), err.code()), (401, "invalid_token"));
}
