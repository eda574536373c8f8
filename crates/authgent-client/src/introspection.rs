//! Introspection (RFC 7662) and revocation (RFC 7009).

use std::fmt;

use authgent_core::DelegationChain;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::secret::Names;
use crate::{AgentAuthClient, ClientCredentials, ClientError};

/// An RFC 7662 introspection answer plus authgent's `act`. `active: false` is an answer, not an
/// error: every other field is then absent. `Debug` shows the standard members and only the
/// names of [`extra`](Self::extra)'s.
///
/// ```
/// use authgent_client::Introspection;
/// let i: Introspection = serde_json::from_str(r#"{"active":true,"sub":"client:root",
///     "scope":"read","aud":"https://b.example","act":{"sub":"client:worker"}}"#)?;
/// let chain = i.delegation_chain().unwrap();
/// assert_eq!(chain.depth(), 1);
/// assert_eq!(chain.current_actor().unwrap().subject(), "client:worker");
/// let gone: Introspection = serde_json::from_str(r#"{"active":false,"sub":null}"#)?;
/// assert!(!gone.active && gone.delegation_chain().is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct Introspection {
    /// Whether the token is currently active (valid, unexpired, unrevoked).
    pub active: bool,
    /// Scopes, space-separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(default)]
    pub client_id: Option<String>,
    /// `username`.
    #[serde(default)]
    pub username: Option<String>,
    /// `Bearer` or `DPoP`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Expiry (seconds since the epoch).
    #[serde(default)]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(default)]
    pub iat: Option<i64>,
    /// Not before.
    #[serde(default)]
    pub nbf: Option<i64>,
    /// Subject.
    #[serde(default)]
    pub sub: Option<String>,
    /// Audience(s).
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Issuer.
    #[serde(default)]
    pub iss: Option<String>,
    /// Token id.
    #[serde(default)]
    pub jti: Option<String>,
    /// The RFC 8693 delegation (`act`, newest actor outermost).
    #[serde(default)]
    pub act: Option<Value>,
    /// RFC 7800 confirmation (`cnf.jkt` for DPoP-bound tokens).
    #[serde(default)]
    pub cnf: Option<Confirmation>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Introspection {
    /// The delegation chain the server reports, parsed as the core parses a token's: `None` when
    /// inactive or when `sub`/`act` are malformed.
    pub fn delegation_chain(&self) -> Option<DelegationChain> {
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::String(self.sub.clone()?));
        if let Some(act) = &self.act {
            claims.insert("act".into(), act.clone());
        }
        let claims = authgent_core::TokenClaims::from_json(claims, 16).ok()?;
        Some(DelegationChain::from_claims(&claims))
    }

    /// Scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or("").split_ascii_whitespace()
    }
}

/// RFC 7800 `cnf`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct Confirmation {
    /// RFC 9449 JWK thumbprint of the DPoP key.
    #[serde(default)]
    pub jkt: Option<String>,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("active", &self.active)
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("token_type", &self.token_type)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("nbf", &self.nbf)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("iss", &self.iss)
            .field("jti", &self.jti)
            .field("act", &self.act)
            .field("cnf", &self.cnf)
            .field("extra", &Names(&self.extra))
            .finish()
    }
}

impl AgentAuthClient {
    /// RFC 7662 introspection. An inactive token is `Ok` with `active: false`.
    ///
    /// ```no_run
    /// # async fn run(auth: authgent_client::AgentAuthClient, me: authgent_client::ClientCredentials, token: &str)
    /// # -> Result<(), authgent_client::ClientError> {
    /// assert!(auth.introspect_token(token, None).await?.active);
    /// auth.revoke_token(&me, token).await?;
    /// assert!(!auth.introspect_token(token, None).await?.active);
    /// # Ok(()) }
    /// ```
    pub async fn introspect_token(
        &self,
        token: &str,
        creds: Option<&ClientCredentials>,
    ) -> Result<Introspection, ClientError> {
        let endpoint = self.endpoint(|m| m.introspection_endpoint.as_ref(), "/introspect");
        let form = vec![("token", token.to_owned())];
        let answer = self.post_form(&endpoint, creds, form, false).await?;
        answer.ok_or_error(&[200])?.json(&endpoint)
    }

    /// RFC 7009 revocation of an access or refresh token the client owns.
    pub async fn revoke_token(
        &self,
        creds: &ClientCredentials,
        token: &str,
    ) -> Result<(), ClientError> {
        let endpoint = self.endpoint(|m| m.revocation_endpoint.as_ref(), "/revoke");
        let form = vec![("token", token.to_owned())];
        let answer = self.post_form(&endpoint, Some(creds), form, false).await?;
        answer.ok_or_error(&[200, 204]).map(drop)
    }
}
