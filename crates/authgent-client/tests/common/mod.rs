//! A loopback HTTP server that answers canned responses and records each request, for tests
//! of what the client sends and how it reads odd answers.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};

use authgent_client::ClientCredentials;
use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub type Requests = Arc<Mutex<Vec<String>>>;

/// Serves `answers` in order (the last one repeats), one per connection, recording requests.
pub async fn serve(answers: Vec<String>) -> (String, Requests) {
    serve_with(|_| answers).await
}

/// [`serve`] with answers that may name the server's own URL.
pub async fn serve_with(answers: impl FnOnce(&str) -> Vec<String>) -> (String, Requests) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let answers = answers(&url);
    let requests: Requests = Arc::default();
    let seen = Arc::clone(&requests);
    tokio::spawn(async move {
        let mut i = 0;
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = Vec::new();
            // Read headers and the body announced by Content-Length.
            loop {
                let n = stream.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if got.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&got).into_owned());
            let answer = answers[i.min(answers.len() - 1)].clone();
            i += 1;
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    (url, requests)
}

pub fn http(status: &str, headers: &[&str], body: &str) -> String {
    let mut s = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.push_str(body);
    s
}

pub const TOKEN_OK_BEARER: &str =
    r#"{"access_token":"tok-abc","token_type":"Bearer","expires_in":900,"scope":"read"}"#;
pub const TOKEN_OK_DPOP: &str =
    r#"{"access_token":"tok-abc","token_type":"DPoP","expires_in":900,"scope":"read"}"#;

pub fn creds() -> ClientCredentials {
    ClientCredentials::new("agnt_a b", "s3cr3t:&=")
}

pub fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    request.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

pub fn proof_claims(request: &str) -> serde_json::Value {
    let proof = header(request, "dpop").expect("a DPoP proof");
    let payload = proof.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// The `application/x-www-form-urlencoded` body of a recorded request, decoded.
pub fn form(request: &str) -> Vec<(String, String)> {
    let body = request.split("\r\n\r\n").nth(1).unwrap_or("");
    url::form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The values of `name` in a decoded form.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}
