//! What the client does when a server misbehaves in ways authgent-server never does (the real
//! server's behaviour is covered by `interop/tests/client.rs`): a loopback server that answers
//! canned HTTP responses and records each request.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authgent_client::{
    AgentAuthClient, ClientAuthMethod, ClientCredentials, ClientError, ScopeChallenge,
};
use authgent_core::dpop::DpopKey;
use base64::Engine as _;

mod common;

use common::{TOKEN_OK_BEARER, TOKEN_OK_DPOP, creds, header, http, proof_claims, serve};

#[tokio::test]
async fn a_bearer_answer_to_a_dpop_request_is_refused() {
    let (url, _) = serve(vec![http("200 OK", &[], TOKEN_OK_BEARER)]).await;
    let auth = AgentAuthClient::builder(&url)
        .dpop_key(DpopKey::generate_es256().unwrap())
        .build()
        .unwrap();
    let err = auth
        .get_token(&creds(), Some("read"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::NotDpopBound(ref t) if t == "Bearer"),
        "{err}"
    );
}

#[tokio::test]
async fn use_dpop_nonce_is_retried_once_with_the_nonce_and_remembered() {
    let nonce_please = http(
        "400 Bad Request",
        &["dpop-nonce: n-1", "content-type: application/json"],
        r#"{"error":"use_dpop_nonce","error_description":"nonce required"}"#,
    );
    let (url, requests) = serve(vec![
        nonce_please.clone(),
        http("200 OK", &["dpop-nonce: n-2"], TOKEN_OK_DPOP),
    ])
    .await;
    let auth = AgentAuthClient::builder(&url)
        .dpop_key(DpopKey::generate_es256().unwrap())
        .build()
        .unwrap();
    let token = auth.get_token(&creds(), Some("read"), None).await.unwrap();
    assert!(token.is_dpop());
    let seen = requests.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    let first = proof_claims(&seen[0]);
    let second = proof_claims(&seen[1]);
    assert!(first.get("nonce").is_none());
    assert_eq!(second["nonce"], "n-1");
    assert_ne!(first["jti"], second["jti"], "a fresh proof each time");
    assert_eq!(
        second["htu"],
        format!("{url}/token"),
        "htu is the exact URL sent to"
    );
    assert_eq!(second["htm"], "POST");
    assert_eq!(
        auth.dpop_nonce(&auth.token_endpoint()).as_deref(),
        Some("n-2"),
        "the newest nonce is kept"
    );

    // A server that keeps asking gets one retry, then its error.
    let (url, requests) = serve(vec![nonce_please]).await;
    let auth = AgentAuthClient::builder(&url)
        .dpop_key(DpopKey::generate_es256().unwrap())
        .build()
        .unwrap();
    let err = auth.get_token(&creds(), None, None).await.unwrap_err();
    assert_eq!(err.code(), "use_dpop_nonce");
    assert_eq!(requests.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn client_secret_basic_form_encodes_and_keeps_the_secret_out_of_the_body() {
    let (url, requests) = serve(vec![http("200 OK", &[], TOKEN_OK_BEARER)]).await;
    let auth = AgentAuthClient::builder(&url)
        .auth_method(ClientAuthMethod::ClientSecretBasic)
        .build()
        .unwrap();
    auth.get_token(&creds(), None, None).await.unwrap();
    let seen = requests.lock().unwrap()[0].clone();
    let basic = header(&seen, "authorization")
        .unwrap()
        .strip_prefix("Basic ")
        .unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic)
        .unwrap();
    // RFC 6749 §2.3.1: each part form-urlencoded before joining with ':'.
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "agnt_a+b:s3cr3t%3A%26%3D"
    );
    assert!(!seen.contains("client_secret"));
    assert!(seen.contains("grant_type=client_credentials"));
}

#[tokio::test]
async fn redirects_are_not_followed_with_credentials() {
    let (target, target_requests) = serve(vec![http("200 OK", &[], TOKEN_OK_BEARER)]).await;
    let (url, _) = serve(vec![http(
        "307 Temporary Redirect",
        &[&format!("location: {target}/token")],
        "",
    )])
    .await;
    let auth = AgentAuthClient::new(&url).unwrap();
    let err = auth.get_token(&creds(), None, None).await.unwrap_err();
    assert_eq!(err.code(), "redirect_refused", "{err}");
    assert!(
        target_requests.lock().unwrap().is_empty(),
        "the secret went nowhere else"
    );
}

#[tokio::test]
async fn oversized_and_malformed_answers_are_invalid_responses() {
    let huge = "x".repeat(2 << 20);
    let (url, _) = serve(vec![http("200 OK", &[], &huge)]).await;
    let err = AgentAuthClient::new(&url)
        .unwrap()
        .get_token(&creds(), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_response", "{err}");
    for body in [
        "not json",
        "{}",
        r#"{"access_token":7,"token_type":"Bearer"}"#,
    ] {
        let (url, _) = serve(vec![http("200 OK", &[], body)]).await;
        let err = AgentAuthClient::new(&url)
            .unwrap()
            .get_token(&creds(), None, None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_response", "{body}: {err}");
    }
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_typed() {
    let (url, _) = serve(vec![http(
        "429 Too Many Requests",
        &["retry-after: 7", "content-type: application/problem+json"],
        r#"{"type":"https://authgent.dev/errors/rate-limited","title":"Too Many Requests","status":429}"#,
    )])
    .await;
    let err = AgentAuthClient::new(&url)
        .unwrap()
        .get_token(&creds(), None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(7)),
        "{err}"
    );
    let (url, _) = serve(vec![http(
        "503 Service Unavailable",
        &[],
        "<html>down</html>",
    )])
    .await;
    let err = AgentAuthClient::new(&url)
        .unwrap()
        .get_token(&creds(), None, None)
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.is_transient()), ("server_error", true));
}

#[test]
fn scope_challenges_are_parsed_robustly() {
    use http::{HeaderMap, StatusCode};
    let mut h = HeaderMap::new();
    h.append(
        "www-authenticate",
        r#"DPoP algs="ES256 EdDSA""#.parse().unwrap(),
    );
    h.append(
        "www-authenticate",
        r#"Bearer realm="a, b", error="insufficient_scope", scope="db:delete db:read", error_description="needs \"delete\"""#
            .parse()
            .unwrap(),
    );
    let c = ScopeChallenge::from_response(StatusCode::FORBIDDEN, &h).unwrap();
    assert_eq!(c.scopes, ["db:delete", "db:read"]);
    assert_eq!(c.description.as_deref(), Some(r#"needs "delete""#));
    assert!(ScopeChallenge::from_response(StatusCode::UNAUTHORIZED, &h).is_none());
    for bad in [
        r#"Bearer error="insufficient_scope""#,
        r#"Bearer error="insufficient_scope", scope="""#,
        r#"Bearer error="invalid_token", scope="x""#,
        r#"Bearer error="insufficient_scope, scope="x"#,
        "",
    ] {
        let mut h = HeaderMap::new();
        h.insert("www-authenticate", bad.parse().unwrap());
        assert!(
            ScopeChallenge::from_response(StatusCode::FORBIDDEN, &h).is_none(),
            "{bad}"
        );
    }
}

#[test]
fn server_urls_with_credentials_queries_or_odd_schemes_are_refused() {
    for bad in [
        "http://user:pass@127.0.0.1:8000",
        "http://127.0.0.1:8000?x=1",
        "ftp://127.0.0.1",
        "127.0.0.1:8000",
        "",
    ] {
        let err = AgentAuthClient::new(bad).unwrap_err();
        assert_eq!(err.code(), "config", "{bad}");
        assert!(!err.to_string().contains("pass@"), "{err}");
    }
    assert!(AgentAuthClient::new("https://as.example/tenant/").is_ok());
}

#[tokio::test]
async fn network_and_timeout_errors_are_distinct() {
    // Nothing listens: a network error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let auth = AgentAuthClient::new(format!("http://127.0.0.1:{port}")).unwrap();
    let creds = ClientCredentials::new("agnt_x", "secret-value");
    let err = auth.get_token(&creds, None, None).await.unwrap_err();
    assert_eq!(err.code(), "network", "{err}");
    assert!(err.is_transient());
    assert!(!format!("{err:?} {err}").contains("secret-value"));

    // Accepts and never answers: a timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let auth = AgentAuthClient::builder(format!("http://{addr}"))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = auth.get_token(&creds, None, None).await.unwrap_err();
    assert_eq!(err.code(), "timeout", "{err}");
    hold.abort();

    // Misconfiguration says what to fix.
    let err = AgentAuthClient::new("not a url").unwrap_err();
    assert_eq!(err.code(), "config");
    assert!(err.to_string().contains("server URL"), "{err}");
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test] // current-thread: the thread-local subscriber sees every task
async fn secrets_never_appear_in_debug_or_logs() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let nonce_please = http(
        "401 Unauthorized",
        &[
            "dpop-nonce: n-1",
            r#"www-authenticate: DPoP error="use_dpop_nonce""#,
        ],
        "",
    );
    let (url, _) = serve(vec![nonce_please, http("200 OK", &[], TOKEN_OK_DPOP)]).await;
    let key = DpopKey::generate_es256().unwrap();
    let d = key.private_jwk()["d"].as_str().unwrap().to_owned();
    let auth = AgentAuthClient::builder(&url)
        .dpop_key(key)
        .build()
        .unwrap();
    let token = auth.get_token(&creds(), Some("read"), None).await.unwrap();
    let err = AgentAuthClient::new("http://127.0.0.1:1")
        .unwrap()
        .get_token(&creds(), None, None)
        .await
        .unwrap_err();
    let shown = format!(
        "{auth:?} {token:?} {:?} {err:?} {err} {:?}",
        creds(),
        authgent_client::Pkce::new().unwrap()
    );
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("DPoP nonce"), "the workload logged: {logs}");
    for secret in ["s3cr3t", "tok-abc", d.as_str()] {
        assert!(!shown.contains(secret), "{secret} in Debug: {shown}");
        assert!(!logs.contains(secret), "{secret} in logs: {logs}");
    }
}
