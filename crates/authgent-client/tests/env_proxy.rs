//! Issue 23, item 2: a proxy named by the environment never receives credentials. reqwest
//! honours `http_proxy` and friends by default, and the loopback rule lets tokens and secrets
//! travel over plain `http://` because they never leave the machine, so an environment proxy
//! would have received them in clear. The variables are set for a child process (setting them
//! in this one would need `unsafe`); the proxy is a listener of this process that counts every
//! connection.

mod common;

use authgent_client::{AgentAuthClient, TokenManager};
use authgent_harness::env_proxy::CountingProxy;
use common::{TOKEN_OK_BEARER, creds, header, http, serve};

const CHILD: &str = "AUTHGENT_ENV_PROXY_CHILD";

#[test]
fn credentials_never_go_to_an_environment_proxy() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let proxy = CountingProxy::start();
    proxy.run_child_test("credentials_never_go_to_an_environment_proxy", CHILD);
    assert_eq!(
        proxy.connections(),
        0,
        "connections to the environment proxy"
    );
}

/// Gets a token from a loopback authorization server and sends it to a loopback resource, as
/// an agent does: both must be reached directly.
fn child() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let json = |body: &str| http("200 OK", &["content-type: application/json"], body);
        let (as_url, as_requests) = serve(vec![json(TOKEN_OK_BEARER)]).await;
        let (rs_url, rs_requests) = serve(vec![http("200 OK", &[], "fine")]).await;
        let auth = AgentAuthClient::new(&as_url).unwrap();
        let tokens = TokenManager::builder(auth, creds())
            .resource(&rs_url)
            .build()
            .unwrap();
        let response = tokens
            .send(reqwest::Client::new().get(format!("{rs_url}/records")))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            as_requests.lock().unwrap().len(),
            1,
            "the token request went direct"
        );
        let sent = rs_requests.lock().unwrap()[0].clone();
        assert_eq!(header(&sent, "authorization"), Some("Bearer tok-abc"));
    });
}
