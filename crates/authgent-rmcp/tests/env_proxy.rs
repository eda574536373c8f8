//! Issue 23, item 2, for rmcp's client: `AuthgentHttpClient` sends every MCP request with a
//! token, so it must not take a proxy from the environment (an `http_proxy` would receive the
//! token in clear from a loopback endpoint). The variables are set for a child process
//! (`authgent_harness::env_proxy`).
#![cfg(feature = "client")]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use authgent_client::{AgentAuthClient, ClientCredentials, TokenKey, TokenManager};
use authgent_harness::env_proxy::CountingProxy;
use authgent_rmcp::client::AuthgentHttpClient;
use rmcp::transport::streamable_http_client::StreamableHttpClient;

const CHILD: &str = "AUTHGENT_RMCP_ENV_PROXY_CHILD";

/// Answers every request on `listener` with `response`; returns each request's head.
fn answer_all(listener: TcpListener, response: &'static str) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            record.lock().unwrap().push(head);
            let _ = reader.get_mut().write_all(response.as_bytes());
        }
    });
    seen
}

#[test]
fn the_mcp_client_never_sends_its_token_to_an_environment_proxy() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let proxy = CountingProxy::start();
    proxy.run_child_test(
        "the_mcp_client_never_sends_its_token_to_an_environment_proxy",
        CHILD,
    );
    assert_eq!(
        proxy.connections(),
        0,
        "connections to the environment proxy"
    );
}

/// A token from a loopback authorization server, then an MCP request (a session's `DELETE`)
/// to a loopback endpoint: both reached directly, the endpoint with the token.
fn child() {
    let authorization_server = TcpListener::bind("127.0.0.1:0").unwrap();
    let as_url = format!("http://{}", authorization_server.local_addr().unwrap());
    answer_all(
        authorization_server,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 65\r\n\r\n\
         {\"access_token\":\"tok-mcp\",\"token_type\":\"Bearer\",\"expires_in\":900}",
    );
    let endpoint = TcpListener::bind("127.0.0.1:0").unwrap();
    let mcp_url = format!("http://{}/mcp", endpoint.local_addr().unwrap());
    let requests = answer_all(
        endpoint,
        "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n",
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let auth = AgentAuthClient::new(&as_url).unwrap();
        let tokens = TokenManager::builder(auth, ClientCredentials::new("agnt_a", "secret"))
            .resource(&mcp_url)
            .build()
            .unwrap();
        let http = AuthgentHttpClient::new(tokens, TokenKey::new(None, Some(&mcp_url)));
        http.delete_session(mcp_url.as_str().into(), "s1".into(), None, HashMap::new())
            .await
            .unwrap();
    });
    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 1, "the MCP request went direct");
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer tok-mcp"),
        "{}",
        requests[0]
    );
}
