//! The `TransactionToken` extractor of every adapter, over HTTP (issue 23, item 8): a route
//! that takes an identity and a transaction token and answers
//! `{"txn": …, "for": …, "req_wl": …}`, behind an `AgentAuth` whose transaction tokens are
//! checked by a draft -11 validator for `trust_domain`.

use serde_json::json;

use authgent_testkit::TestIssuer;

use crate::contract::try_send;

/// A refusal to provoke: what, the extra headers, the status and code expected.
type Case<'a> = (&'a str, Vec<(&'a str, String)>, u16, &'a str);

/// Where the route is, and what it was configured with.
#[derive(Debug)]
pub struct Probe<'a> {
    /// The route's absolute URL (`GET`).
    pub url: &'a str,
    /// The issuer of both the access and the transaction tokens.
    pub issuer: &'a TestIssuer,
    /// The audience of access tokens.
    pub audience: &'a str,
    /// The trust domain (the transaction tokens' audience).
    pub trust_domain: &'a str,
}

impl Probe<'_> {
    /// A valid token reaches the handler; none, two, an access token, another trust domain
    /// and a -10 token without `req_wl` are refused with the right status and code.
    pub async fn run(&self) -> Result<(), String> {
        let access = format!(
            "Bearer {}",
            self.issuer.token().audience(self.audience).sign()
        );
        let txn = |domain: &str| {
            self.issuer
                .token()
                .typ("txntoken+jwt")
                .audience(domain)
                .subject("user:alice")
                .scopes(["pay"])
                .claim("txn", json!("txn-42"))
                .claim("req_wl", json!("client:payments"))
                .claim("tctx", json!({"amount": 100}))
        };
        let good = txn(self.trust_domain).sign();
        let r = self
            .send(&[("authorization", &access), ("txn-token", &good)])
            .await?;
        let want = json!({"txn": "txn-42", "for": "user:alice", "req_wl": "client:payments"});
        if r.status != 200 || r.body != want {
            return Err(format!("a valid txn token: {} {}", r.status, r.body));
        }
        let cases: [Case<'_>; 5] = [
            ("no Txn-Token", vec![], 400, "invalid_request"),
            (
                "two Txn-Token headers",
                vec![("txn-token", good.clone()), ("txn-token", good.clone())],
                400,
                "invalid_request",
            ),
            (
                "an access token as Txn-Token",
                vec![(
                    "txn-token",
                    self.issuer.token().audience(self.trust_domain).sign(),
                )],
                401,
                "invalid_token",
            ),
            (
                "another trust domain",
                vec![("txn-token", txn("https://elsewhere.example").sign())],
                401,
                "invalid_token",
            ),
            (
                "a draft -10 token without req_wl",
                vec![(
                    "txn-token",
                    txn(self.trust_domain).without_claim("req_wl").sign(),
                )],
                401,
                "invalid_token",
            ),
        ];
        for (what, extra, status, code) in cases {
            let mut headers = vec![("authorization", access.as_str())];
            headers.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
            let r = self.send(&headers).await?;
            if r.status != status || r.body["error"] != code {
                return Err(format!(
                    "{what}: expected {status} {code}, got {} {}",
                    r.status, r.body
                ));
            }
        }
        Ok(())
    }

    async fn send(&self, headers: &[(&str, &str)]) -> Result<crate::contract::Response, String> {
        try_send("GET", self.url, headers).await
    }
}
