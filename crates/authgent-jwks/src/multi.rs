//! Several trusted issuers: route each token by its (unverified) `iss` to the verifier
//! configured for exactly that issuer; never to anyone else. An opaque token (no `iss` to
//! read) goes to the one verifier configured with [`OpaqueTokens`](crate::OpaqueTokens).

use std::collections::BTreeMap;
use std::sync::Arc;

use authgent_core::credentials::Credentials;
use authgent_core::{AgentIdentity, AuthgentError, TokenError};

use crate::{HeaderSource, Verifier};

/// Routes requests among verifiers for issuers configured in advance.
///
/// ```no_run
/// # fn demo(a: authgent_jwks::Verifier, b: authgent_jwks::Verifier) {
/// let verifier = authgent_jwks::MultiIssuerVerifier::new([a, b]);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct MultiIssuerVerifier {
    by_issuer: BTreeMap<String, Verifier>,
}

impl MultiIssuerVerifier {
    /// One verifier per issuer (a later verifier for the same issuer replaces an earlier one).
    pub fn new(verifiers: impl IntoIterator<Item = Verifier>) -> Self {
        MultiIssuerVerifier {
            by_issuer: verifiers
                .into_iter()
                .map(|v| (v.issuer().to_owned(), v))
                .collect(),
        }
    }

    /// The verifier for `issuer`, if configured.
    pub fn get(&self, issuer: &str) -> Option<&Verifier> {
        self.by_issuer.get(issuer)
    }

    /// The configured issuers, in order.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.by_issuer.keys().map(String::as_str)
    }

    /// The first issuer's verifier, in order.
    pub(crate) fn first(&self) -> Option<&Verifier> {
        self.by_issuer.values().next()
    }

    pub(crate) fn route(&self, token: &str) -> Result<&Verifier, AuthgentError> {
        if !crate::opaque::is_jwt(token) {
            // An opaque token names no issuer: it goes to the one verifier that introspects
            // opaque tokens, and is refused when there are several (which issuer would be
            // asked is then a guess) or none.
            let mut opaque = self
                .by_issuer
                .values()
                .filter(|v| v.accepts_opaque_tokens());
            return match (opaque.next(), opaque.next()) {
                (Some(v), None) => Ok(v),
                _ => Err(AuthgentError::Token(TokenError::IssuerMismatch)),
            };
        }
        authgent_core::validator::unverified_issuer(token)
            .and_then(|iss| self.by_issuer.get(&iss))
            .ok_or(AuthgentError::Token(TokenError::IssuerMismatch))
    }

    /// Verifies an HTTP request with the verifier of its token's issuer.
    pub async fn verify(
        &self,
        parts: &http::request::Parts,
    ) -> Result<Option<Arc<AgentIdentity>>, AuthgentError> {
        let authorization = parts.headers.header_values("authorization");
        let dpop = parts.headers.header_values("dpop");
        let Some(credentials) = Credentials::from_headers(&authorization, &dpop)? else {
            return Ok(None);
        };
        self.route(credentials.token())?.verify(parts).await
    }

    /// Verifies a bare token with the verifier of its issuer.
    pub async fn verify_token(&self, token: &str) -> Result<Arc<AgentIdentity>, AuthgentError> {
        self.route(token)?.verify_token(token).await
    }
}
