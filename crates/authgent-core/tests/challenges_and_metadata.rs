//! CONFORMANCE.md status/challenge table (RFC 6750 §3, RFC 9449 §7.1, RFC 9728 §5.1) and the
//! metadata items 22–24.

use std::time::Duration;

use authgent_core::challenge::{Challenge, ChallengeConfig, ErrorResponse};
use authgent_core::credentials::Scheme;
use authgent_core::metadata::{ProtectedResourceMetadata, well_known_url};
use authgent_core::{
    Algorithm, AuthgentError, DelegationError, DpopError, RequestError, ScopeError, TokenError,
};

const META: &str = "https://api.example/.well-known/oauth-protected-resource";

fn config() -> ChallengeConfig {
    let mut c = ChallengeConfig::new(
        Some(META.into()),
        Some(vec![Algorithm::Es256, Algorithm::EdDsa]),
    );
    c.realm = Some("api".into());
    c
}

fn respond(
    err: impl Into<AuthgentError>,
    scheme: Option<Scheme>,
) -> (ErrorResponse, Vec<Challenge>) {
    let r = ErrorResponse::new(&err.into(), scheme, &config());
    let parsed = r
        .challenges
        .iter()
        .flat_map(|c| Challenge::parse_all(c).unwrap())
        .collect();
    (r, parsed)
}

#[test]
fn no_credentials_401_bearer_without_error_plus_dpop_algs() {
    let (r, c) = respond(AuthgentError::MissingCredentials, None);
    assert_eq!(r.status, 401);
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].scheme(), "Bearer");
    assert_eq!(c[0].get("realm"), Some("api"));
    assert_eq!(c[0].get("resource_metadata"), Some(META));
    assert_eq!(
        c[0].get("error"),
        None,
        "RFC 6750 §3.1: no error code without credentials"
    );
    assert_eq!(c[1].scheme(), "DPoP");
    assert_eq!(c[1].get("algs"), Some("ES256 EdDSA"));
    // Without DPoP, only Bearer.
    let plain = ErrorResponse::new(
        &AuthgentError::MissingCredentials,
        None,
        &ChallengeConfig::new(Some(META.into()), None),
    );
    assert_eq!(plain.challenges.len(), 1);
}

#[test]
fn invalid_token_401_in_the_scheme_used() {
    for e in [
        TokenError::Expired,
        TokenError::InvalidSignature,
        TokenError::IssuerMismatch,
        TokenError::AudienceMismatch,
        TokenError::Malformed("x"),
    ] {
        let (r, c) = respond(e.clone(), Some(Scheme::Bearer));
        assert_eq!((r.status, r.code), (401, "invalid_token"));
        assert_eq!(c[0].scheme(), "Bearer");
        assert_eq!(c[0].get("error"), Some("invalid_token"));
        assert_eq!(c[0].get("resource_metadata"), Some(META));
        let (_, c) = respond(e, Some(Scheme::Dpop));
        assert_eq!(c[0].scheme(), "DPoP");
        assert_eq!(c[0].get("algs"), Some("ES256 EdDSA"));
    }
    let (_, c) = respond(TokenError::DpopBoundAsBearer, Some(Scheme::Bearer));
    assert_eq!(
        (c[0].scheme(), c[0].get("error")),
        ("DPoP", Some("invalid_token")),
        "tells the client to use DPoP"
    );
}

#[test]
fn bad_dpop_proof_401_invalid_dpop_proof_and_nonce() {
    let (r, c) = respond(DpopError::Replayed, Some(Scheme::Dpop));
    assert_eq!((r.status, r.code), (401, "invalid_dpop_proof"));
    assert_eq!(
        (c[0].scheme(), c[0].get("error")),
        ("DPoP", Some("invalid_dpop_proof"))
    );
    let (r, c) = respond(
        DpopError::UseNonce {
            nonce: "n-123".into(),
        },
        Some(Scheme::Dpop),
    );
    assert_eq!((r.status, r.code), (401, "use_dpop_nonce"));
    assert_eq!(c[0].get("error"), Some("use_dpop_nonce"));
    assert_eq!(r.dpop_nonce.as_deref(), Some("n-123"));
}

#[test]
fn missing_scope_403_with_required_scope() {
    let (r, c) = respond(
        ScopeError::new(["db:delete", "db:write"]),
        Some(Scheme::Bearer),
    );
    assert_eq!((r.status, r.code), (403, "insufficient_scope"));
    assert_eq!(c[0].get("error"), Some("insufficient_scope"));
    assert_eq!(c[0].get("scope"), Some("db:delete db:write"));
}

#[test]
fn delegation_policy_403_insufficient_scope_with_body_code() {
    let (r, c) = respond(DelegationError::NoHumanRoot, Some(Scheme::Dpop));
    assert_eq!((r.status, r.code), (403, "no_human_root"));
    assert_eq!(
        (c[0].scheme(), c[0].get("error")),
        ("DPoP", Some("insufficient_scope"))
    );
    let body: serde_json::Value = serde_json::from_str(&r.body_json()).unwrap();
    assert_eq!(body["error"], "no_human_root");
    assert!(body["error_description"].is_string());
}

#[test]
fn two_credentials_400_invalid_request() {
    let (r, c) = respond(RequestError::MultipleAuthorization, Some(Scheme::Bearer));
    assert_eq!((r.status, r.code), (400, "invalid_request"));
    assert_eq!(c[0].get("error"), Some("invalid_request"));
}

#[test]
fn jwks_unreachable_503_with_retry_after_and_no_challenge() {
    let (r, c) = respond(
        AuthgentError::KeysUnavailable {
            retry_after: Duration::from_secs(30),
        },
        Some(Scheme::Bearer),
    );
    assert_eq!(r.status, 503);
    assert_eq!(r.retry_after, Some(30));
    assert!(c.is_empty());
}

#[test]
fn terse_by_default_verbose_on_request_and_never_the_token() {
    let err: AuthgentError = TokenError::AudienceMismatch.into();
    let terse = ErrorResponse::new(&err, Some(Scheme::Bearer), &config());
    assert_eq!(terse.description, "the access token is invalid");
    let mut verbose_cfg = config();
    verbose_cfg.verbose = true;
    let verbose = ErrorResponse::new(&err, Some(Scheme::Bearer), &verbose_cfg);
    assert!(verbose.description.contains("audience"));
}

#[test]
fn params_appear_once_and_values_are_quoted_and_escaped() {
    let c = Challenge::new("Bearer")
        .param("realm", "a")
        .param("REALM", "b \"quoted\" \\ back\r\nInjected: x")
        .param("error", "invalid_token");
    let s = c.to_string();
    assert_eq!(s.matches("realm=").count(), 1);
    assert!(!s.contains('\n') && !s.contains('\r'), "{s}");
    let back = Challenge::parse_all(&s).unwrap();
    assert_eq!(
        back[0].get("realm"),
        Some("b \"quoted\" \\ back  Injected: x")
    );
}

#[test]
fn parses_real_world_challenge_lists() {
    // authgent-server's own challenge (fixtures), several challenges, token68, odd spacing.
    let v = r#"Bearer realm="authgent", error="insufficient_scope", error_description="Requested scopes not in client registration: admin""#;
    let c = Challenge::parse_all(v).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(
        c[0].get("error_description"),
        Some("Requested scopes not in client registration: admin")
    );
    let v = r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple", DPoP algs="ES256 PS256", Negotiate abc123=="#;
    let c = Challenge::parse_all(v).unwrap();
    let schemes: Vec<&str> = c.iter().map(|c| c.scheme()).collect();
    assert_eq!(schemes, ["Newauth", "Basic", "DPoP", "Negotiate"]);
    assert_eq!(c[0].get("title"), Some("Login to \"apps\""));
    assert_eq!(c[0].get("type"), Some("1"));
    assert_eq!(c[2].get("algs"), Some("ES256 PS256"));
    assert_eq!(c[3].token68(), Some("abc123=="));
    let c = Challenge::parse_all("Bearer").unwrap();
    assert_eq!((c[0].scheme(), c[0].params().len()), ("Bearer", 0));
    let c = Challenge::parse_all(" ,Bearer   error = \"x\" ,, scope=\"a b\" ").unwrap();
    assert_eq!(
        (c[0].get("error"), c[0].get("scope")),
        (Some("x"), Some("a b"))
    );
    for bad in [
        r#"Bearer error="unterminated"#,
        r#"Bearer a="1", a="2""#,
        "=x",
        r#"Bearer e="\"#,
    ] {
        assert!(Challenge::parse_all(bad).is_err(), "{bad}");
    }
}

#[test]
fn c22_protected_resource_metadata_document() {
    let doc = ProtectedResourceMetadata::builder("https://api.example")
        .authorization_server("http://127.0.0.1:8000")
        .scopes_supported(["search:execute", "db:delete"])
        .dpop_signing_algs([Algorithm::Es256])
        .dpop_bound_access_tokens_required(false)
        .build()
        .unwrap();
    let json = serde_json::to_value(&doc).unwrap();
    assert_eq!(json["resource"], "https://api.example");
    assert_eq!(json["authorization_servers"][0], "http://127.0.0.1:8000");
    assert_eq!(
        json["bearer_methods_supported"],
        serde_json::json!(["header"])
    );
    assert_eq!(
        json["dpop_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    assert_eq!(json["dpop_bound_access_tokens_required"], false);
    let parsed = ProtectedResourceMetadata::parse(
        br#"{"resource":"https://api.example","future_member":{"x":1},"scopes_supported":["a"]}"#,
        "https://api.example",
    )
    .unwrap();
    assert_eq!(parsed.scopes_supported, ["a"]);
    assert!(
        ProtectedResourceMetadata::parse(br#"{"scopes_supported":[]}"#, "https://api.example")
            .is_err(),
        "resource is required"
    );
    assert!(
        ProtectedResourceMetadata::builder("not a url")
            .build()
            .is_err()
    );
}

#[test]
fn c23_well_known_urls_inserted_between_host_and_path() {
    let w = |id: &str| well_known_url(id, "oauth-protected-resource").unwrap();
    assert_eq!(
        w("https://api.example"),
        "https://api.example/.well-known/oauth-protected-resource"
    );
    assert_eq!(
        w("https://api.example/"),
        "https://api.example/.well-known/oauth-protected-resource"
    );
    assert_eq!(
        w("https://api.example/tools/v1/"),
        "https://api.example/.well-known/oauth-protected-resource/tools/v1"
    );
    assert_eq!(
        w("https://api.example:8443/x?tenant=1"),
        "https://api.example:8443/.well-known/oauth-protected-resource/x?tenant=1"
    );
    assert_eq!(
        well_known_url("https://as.example/tenant", "oauth-authorization-server").unwrap(),
        "https://as.example/.well-known/oauth-authorization-server/tenant"
    );
    assert!(well_known_url("https://api.example/#frag", "oauth-protected-resource").is_err());
    assert!(well_known_url("api.example", "oauth-protected-resource").is_err());
}

#[test]
fn c24_metadata_for_another_issuer_or_resource_refused() {
    use authgent_core::metadata::{AuthorizationServerMetadata, MetadataError};
    let doc = br#"{"issuer":"https://as.example","jwks_uri":"https://as.example/jwks"}"#;
    assert_eq!(
        AuthorizationServerMetadata::parse(doc, "https://as.example/").unwrap_err(),
        MetadataError::IssuerMismatch
    );
    assert!(matches!(
        AuthorizationServerMetadata::parse(b"{}", "x"),
        Err(MetadataError::Malformed(_))
    ));
    assert_eq!(
        ProtectedResourceMetadata::parse(
            br#"{"resource":"https://a.example"}"#,
            "https://b.example"
        )
        .unwrap_err(),
        MetadataError::ResourceMismatch
    );
}

#[test]
fn body_is_the_default_json_or_what_the_configured_hook_builds() {
    let err: AuthgentError = TokenError::Expired.into();
    let plain = ErrorResponse::new(&err, Some(Scheme::Bearer), &config());
    assert_eq!(plain.body, plain.body_json());
    let mut custom = config();
    custom.body = Some(std::sync::Arc::new(|r: &ErrorResponse| {
        format!("{} {}", r.status, r.code)
    }));
    let hooked = ErrorResponse::new(&err, Some(Scheme::Bearer), &custom);
    assert_eq!(hooked.body, "401 invalid_token");
    assert_eq!(
        hooked.challenges, plain.challenges,
        "the hook changes only the body"
    );
    assert!(format!("{custom:?}").contains("custom"));
}
