//! `AgentIdentity`: who is calling, on whose behalf, through which chain, with which scopes.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use crate::chain::DelegationChain;
use crate::claims::{AgentMetadata, TokenClaims};
use crate::profile::ClientIdClaim;

/// A verified caller, built from a verified access token.
///
/// ```
/// # use authgent_core::*;
/// # let key = SigningKey::generate(Algorithm::Es256)?.with_kid("k1");
/// # let keys = KeySet::from_keys([key.verification_key()?]);
/// # let claims = serde_json::json!({"iss": "https://as.example", "sub": "user:alice",
/// #   "exp": 2_000_000_000, "scope": "search:execute", "act": {"sub": "client:worker"}});
/// # let token = key.sign(&Default::default(), claims.as_object().unwrap())?;
/// # let validator = TokenValidator::builder("https://as.example").any_audience().build()?;
/// # let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_900_000_000);
/// let identity: AgentIdentity = validator.verify(&token, &keys, now)?;
/// assert_eq!(identity.subject(), "user:alice");
/// assert!(identity.has_scope("search:execute"));
/// assert_eq!(identity.delegation_chain().depth(), 1);
/// assert!(identity.delegation_chain().human_root());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AgentIdentity {
    scopes: Arc<[String]>,
    chain: DelegationChain,
    claims: TokenClaims,
    client_id: Option<ClientIdClaim>,
}

impl AgentIdentity {
    /// Builds an identity from verified claims (`sub` and `iss` are required by the validator)
    /// as authgent-server shapes them: scopes in `scope`, the client in `client_id`. A
    /// verifier builds it through its [`ClaimsProfile`](crate::ClaimsProfile) instead.
    pub fn from_claims(claims: TokenClaims) -> Self {
        let client_id = claims.client_id().map(|_| ClientIdClaim::ClientId);
        AgentIdentity {
            scopes: Arc::clone(claims.scope_list()),
            chain: DelegationChain::from_claims(&claims),
            claims,
            client_id,
        }
    }

    /// An identity as a profile read it.
    pub(crate) fn with_profile(
        claims: TokenClaims,
        scopes: Arc<[String]>,
        client_id: Option<ClientIdClaim>,
        human_root: bool,
    ) -> Self {
        AgentIdentity {
            scopes,
            chain: DelegationChain::from_claims(&claims).with_human_root(human_root),
            claims,
            client_id,
        }
    }

    /// `sub`: on whose behalf the request is made (a human `user:…` or an agent `client:…`).
    pub fn subject(&self) -> &str {
        self.claims.subject().unwrap_or_default()
    }

    /// `iss`.
    pub fn issuer(&self) -> &str {
        self.claims.issuer().unwrap_or_default()
    }

    /// Granted scopes.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether every one of `scopes` was granted.
    pub fn has_all_scopes<S: AsRef<str>>(&self, scopes: &[S]) -> bool {
        scopes.iter().all(|s| self.has_scope(s.as_ref()))
    }

    /// Whether at least one of `scopes` was granted.
    pub fn has_any_scope<S: AsRef<str>>(&self, scopes: &[S]) -> bool {
        scopes.iter().any(|s| self.has_scope(s.as_ref()))
    }

    /// The OAuth client that holds the token (the current actor when delegated): `client_id`,
    /// or the claim the verifier's [`ClaimsProfile`](crate::ClaimsProfile) reads it from
    /// (`azp`, `cid`, `appid`).
    pub fn client_id(&self) -> Option<&str> {
        crate::profile::client_id_of(&self.claims, self.client_id)
    }

    /// `aud`.
    pub fn audience(&self) -> &[String] {
        self.claims.audience()
    }

    /// The delegation chain.
    pub fn delegation_chain(&self) -> &DelegationChain {
        &self.chain
    }

    /// `cnf.jkt`: the DPoP key thumbprint the token is bound to.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.claims.confirmation_jkt()
    }

    /// OIDC-A agent metadata.
    pub fn agent(&self) -> &AgentMetadata {
        self.claims.agent()
    }

    /// `exp` as a time.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.claims.expires_at().map(crate::time::from_unix_seconds)
    }

    /// `jti`.
    pub fn token_id(&self) -> Option<&str> {
        self.claims.jwt_id()
    }

    /// Any claim by name, as sent.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// All typed claims.
    pub fn claims(&self) -> &TokenClaims {
        &self.claims
    }
}
