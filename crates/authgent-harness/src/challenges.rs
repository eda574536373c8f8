//! Every refusal names the metadata document (RFC 9728 §5.1) and the realm, on every adapter:
//! the probe each adapter's tests run against a server configured with a realm, resource
//! metadata and required DPoP nonces (issue 23, item 7).

use std::time::SystemTime;

use authgent_core::dpop::DpopKey;
use authgent_testkit::TestIssuer;

use crate::contract::{Response, try_send_body};

/// What the server under test was configured with, and where to probe it.
#[derive(Debug)]
pub struct Probe<'a> {
    /// Where to send requests (`http://127.0.0.1:port`).
    pub base: &'a str,
    /// The server's external URL (the DPoP `htu` base).
    pub public_url: &'a str,
    /// The audience the server requires.
    pub audience: &'a str,
    /// The issuer the server trusts.
    pub issuer: &'a TestIssuer,
    /// A route that needs no scope (an identity is enough), taking `method`.
    pub open_route: &'a str,
    /// A route that needs a scope the probe's tokens lack (answers 403).
    pub scoped_route: &'a str,
    /// The method of both routes.
    pub method: &'a str,
    /// The bodies to send to the open and the scoped route (JSON-RPC for MCP), if any.
    pub bodies: Option<(&'a str, &'a str)>,
    /// The configured `realm`.
    pub realm: &'a str,
    /// The configured `resource_metadata` URL.
    pub metadata_url: &'a str,
}

impl Probe<'_> {
    /// Sends every kind of refusal and checks each challenge; `Err` names the first that
    /// lacks `resource_metadata` or `realm`, or any unexpected answer.
    pub async fn run(&self) -> Result<(), String> {
        let key = DpopKey::generate_es256().map_err(|e| e.to_string())?;
        let bound = self
            .issuer
            .token()
            .audience(self.audience)
            .dpop_jkt(key.jkt())
            .sign();
        let plain = self.issuer.token().audience(self.audience).sign();
        let htu = format!("{}{}", self.public_url, self.open_route);
        let proof = |nonce: Option<&str>, htu: &str| {
            key.proof(self.method, htu, Some(&bound), nonce, SystemTime::now())
                .map_err(|e| e.to_string())
        };
        let dpop = format!("DPoP {bound}");

        let r = self.send(self.open_route, &[]).await?;
        self.named(&r, "no credentials", 401, None)?;
        let r = self.send_scoped(&[]).await?;
        self.named(&r, "no credentials on the scoped route", 401, None)?;

        let bearer = format!("Bearer {bound}");
        let r = self
            .send(self.open_route, &[("authorization", &bearer)])
            .await?;
        self.named(
            &r,
            "a bound token sent as Bearer",
            401,
            Some("invalid_token"),
        )?;

        let first = proof(None, &htu)?;
        let r = self
            .send(
                self.open_route,
                &[("authorization", &dpop), ("dpop", &first)],
            )
            .await?;
        self.named(&r, "a proof without the nonce", 401, Some("use_dpop_nonce"))?;
        let nonce = r
            .header("dpop-nonce")
            .ok_or("use_dpop_nonce without a DPoP-Nonce header")?
            .to_owned();

        let elsewhere = proof(Some(&nonce), "https://elsewhere.example/x")?;
        let r = self
            .send(
                self.open_route,
                &[("authorization", &dpop), ("dpop", &elsewhere)],
            )
            .await?;
        self.named(
            &r,
            "a proof for another URL",
            401,
            Some("invalid_dpop_proof"),
        )?;

        let good = proof(Some(&nonce), &htu)?;
        let r = self
            .send(
                self.open_route,
                &[("authorization", &dpop), ("dpop", &good)],
            )
            .await?;
        if !(200..300).contains(&r.status) {
            return Err(format!("the proof with the nonce: {} {}", r.status, r.body));
        }
        let r = self
            .send(
                self.open_route,
                &[("authorization", &dpop), ("dpop", &good)],
            )
            .await?;
        self.named(&r, "a replayed proof", 401, Some("invalid_dpop_proof"))?;

        let plain = format!("Bearer {plain}");
        let r = self.send_scoped(&[("authorization", &plain)]).await?;
        self.named(&r, "a missing scope", 403, Some("insufficient_scope"))
    }

    async fn send(&self, route: &str, headers: &[(&str, &str)]) -> Result<Response, String> {
        let body = self.bodies.map(|(open, _)| open);
        try_send_body(self.method, &format!("{}{route}", self.base), headers, body).await
    }

    async fn send_scoped(&self, headers: &[(&str, &str)]) -> Result<Response, String> {
        let body = self.bodies.map(|(_, scoped)| scoped);
        let url = format!("{}{}", self.base, self.scoped_route);
        try_send_body(self.method, &url, headers, body).await
    }

    /// `r` is `status` with `error=code` in a challenge, and every challenge names the
    /// metadata and the realm.
    fn named(
        &self,
        r: &Response,
        what: &str,
        status: u16,
        code: Option<&str>,
    ) -> Result<(), String> {
        if r.status != status {
            return Err(format!(
                "{what}: expected {status}, got {} {}",
                r.status, r.body
            ));
        }
        if r.challenges.is_empty() {
            return Err(format!("{what}: {status} without WWW-Authenticate"));
        }
        if let Some(code) = code {
            let error = format!("error=\"{code}\"");
            if !r.challenges.iter().any(|c| c.contains(&error)) {
                return Err(format!("{what}: no {error} in {:?}", r.challenges));
            }
        }
        let metadata = format!("resource_metadata=\"{}\"", self.metadata_url);
        let realm = format!("realm=\"{}\"", self.realm);
        for c in &r.challenges {
            if !c.contains(&metadata) {
                return Err(format!("{what}: challenge {c:?} does not name {metadata}"));
            }
            if !c.contains(&realm) {
                return Err(format!("{what}: challenge {c:?} does not name {realm}"));
            }
        }
        Ok(())
    }
}
