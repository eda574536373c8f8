//! Hostile authorization-server answers the agent side must survive (issue 9): extreme
//! lifetimes, and server-supplied text that must not turn into a panic.

mod common;

use authgent_client::{AgentAuthClient, TokenManager};
use common::{creds, http, serve};

/// Finding 8: `Instant::now() + expires_in` panicked for a hostile `expires_in`.
#[tokio::test]
async fn finding_08_huge_expires_in_neither_panics_nor_pins_the_token() {
    for expires_in in ["10000000000000000000", "18446744073709551615", "0"] {
        let body =
            format!(r#"{{"access_token":"t1","token_type":"Bearer","expires_in":{expires_in}}}"#);
        let (url, requests) = serve(vec![http(
            "200 OK",
            &["content-type: application/json"],
            &body,
        )])
        .await;
        let auth = AgentAuthClient::builder(&url).build().unwrap();
        let manager = TokenManager::builder(auth, creds())
            .scope("read")
            .allow_origin("https://rs.example")
            .build()
            .unwrap();
        let token = manager.token().await.expect("answered, no panic");
        assert_eq!(token.access_token.expose(), "t1");
        let _ = manager.token().await.unwrap();
        let sent = requests.lock().unwrap().len();
        assert!(sent >= 1, "{expires_in}: {sent}");
    }
}

/// Garbage and oversized fields from a server become errors, never panics.
#[tokio::test]
async fn adversarial_token_responses_are_errors_not_panics() {
    let cases = [
        r#"{"access_token":"t","token_type":"Bearer","expires_in":1e400}"#,
        r#"{"access_token":"t","token_type":"Bearer","expires_in":-1}"#,
        r#"{"access_token":7,"token_type":"Bearer"}"#,
        r#"{"access_token":"t","token_type":"Bearer","expires_in":"soon"}"#,
        "\u{feff}{}",
        "[]",
    ];
    for body in cases {
        let (url, _) = serve(vec![http(
            "200 OK",
            &["content-type: application/json"],
            body,
        )])
        .await;
        let auth = AgentAuthClient::builder(&url).build().unwrap();
        let result = auth.get_token(&creds(), Some("read"), None).await;
        assert!(result.is_err(), "{body}: {result:?}");
    }
}
