//! [`ClaimsProfile`]: where an authorization server puts scopes, the client id and the mark of
//! a human, declared once on the validator.
//!
//! Access tokens differ between providers in ways that break a verifier quietly: scopes in
//! `scope` (RFC 9068, authgent-server, Keycloak), `scp` (a string on Microsoft Entra ID, an
//! array on Okta), `permissions` (Auth0) or `roles` (Entra application permissions); the client
//! in `client_id`, `azp`, `cid` or `appid`. A profile names the claims a verifier reads, with a
//! preset per provider, and a token carrying scopes in a claim the profile does not read is
//! **refused with an error naming that claim** — never read as "no scopes".

use std::sync::Arc;

use serde_json::Value;

use crate::chain::{DelegationChain, HumanRootRule};
use crate::claims::{PROFILE_CLAIMS, TokenClaims};
use crate::error::TokenError;

/// A claim a [`ClaimsProfile`] reads scopes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeClaim {
    /// `scope`: a space-delimited string (RFC 6749 §3.3, RFC 9068 §2.2.3).
    Scope,
    /// `scp`: a space-delimited string (Microsoft Entra ID) or an array of strings (Okta).
    Scp,
    /// `permissions`: an array of strings (Auth0 with RBAC).
    Permissions,
    /// `roles`: an array of strings (Entra ID application permissions; RFC 9068 §2.2.3.1).
    Roles,
}

impl ScopeClaim {
    /// The claim's name.
    pub fn name(self) -> &'static str {
        match self {
            ScopeClaim::Scope => "scope",
            ScopeClaim::Scp => "scp",
            ScopeClaim::Permissions => "permissions",
            ScopeClaim::Roles => "roles",
        }
    }
}

/// A claim a [`ClaimsProfile`] reads the client id from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientIdClaim {
    /// `client_id` (RFC 9068 §2.2, RFC 8693 §4.3).
    ClientId,
    /// `azp`, the authorized party (Keycloak, Auth0, Entra ID v2).
    Azp,
    /// `cid` (Okta).
    Cid,
    /// `appid` (Entra ID v1).
    Appid,
}

impl ClientIdClaim {
    /// The claim's name.
    pub fn name(self) -> &'static str {
        match self {
            ClientIdClaim::ClientId => "client_id",
            ClientIdClaim::Azp => "azp",
            ClientIdClaim::Cid => "cid",
            ClientIdClaim::Appid => "appid",
        }
    }
}

/// How a profile decides that a chain starts at a human.
#[derive(Clone, Debug)]
enum HumanRoot {
    /// authgent-server's marks: a `human_root: true` claim or a `user:` subject.
    AuthgentServer,
    /// RFC 9068 §2.2: a client-credentials token's `sub` is the client id, so the subject of
    /// an undelegated token that is not its client is an end user. After an exchange the
    /// client is the actor's, so a delegated chain is human-rooted only when the token carries
    /// the user's authentication (`auth_time`, RFC 9068 §2.2.1) — fail-closed otherwise. Never
    /// an actor's subject, nor `<client>@clients` (Auth0's machine-to-machine subjects); when
    /// `delegated_scopes` is set, only a token carrying delegated scopes (`scp`: Entra ID puts
    /// them in user tokens only); when `service_accounts` is set, not a token with a
    /// `client_id` claim (Keycloak adds it to service-account tokens only).
    NotAClient {
        delegated_scopes: bool,
        service_accounts: bool,
    },
    /// The user's own rule over the chain.
    Custom(HumanRootRule),
}

/// Where scopes, the client id and the human root come from, declared once on the validator
/// ([`TokenValidatorBuilder::claims_profile`](crate::TokenValidatorBuilder::claims_profile),
/// `VerifierBuilder::claims_profile`).
///
/// Scopes are the union of every configured claim that is present; the client id is the first
/// configured claim that is present. A present claim of the wrong type is refused (naming it),
/// and so is a token that carries `scope`, `scp` or `permissions` when the profile does not
/// read that claim: a verifier configured for one provider refuses another's tokens loudly
/// instead of granting them nothing.
///
/// ```
/// use authgent_core::{ClaimsProfile, TokenClaims};
/// // An Okta access token (developer.okta.com, "Access token payload"): scopes in `scp` (an
/// // array), the client in `cid`.
/// let okta = serde_json::json!({"iss": "https://acme.okta.com/oauth2/default",
///     "sub": "alice@example.com", "aud": "api://default", "exp": 2000000000,
///     "cid": "0oa1abcd", "uid": "00u1efgh", "scp": ["orders:read", "orders:write"]});
/// let claims = TokenClaims::from_json(okta.as_object().unwrap().clone(), 32)?;
/// let identity = ClaimsProfile::okta().identity(claims.clone())?;
/// assert_eq!(identity.scopes(), ["orders:read", "orders:write"]);
/// assert_eq!(identity.client_id(), Some("0oa1abcd"));
/// assert!(identity.delegation_chain().human_root());
/// // The default profile (authgent-server) reads `scope` only: it refuses, naming `scp`.
/// let refused = ClaimsProfile::default().identity(claims).unwrap_err();
/// assert!(refused.to_string().contains("scp"));
/// # Ok::<(), authgent_core::TokenError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ClaimsProfile {
    name: &'static str,
    scopes: Vec<ScopeClaim>,
    client_id: Vec<ClientIdClaim>,
    human_root: HumanRoot,
}

impl Default for ClaimsProfile {
    /// [`ClaimsProfile::authgent_server`].
    fn default() -> Self {
        Self::authgent_server()
    }
}

/// The claims that only ever carry scopes: refused when present and not read.
const SCOPE_ONLY: [ScopeClaim; 3] = [ScopeClaim::Scope, ScopeClaim::Scp, ScopeClaim::Permissions];

impl ClaimsProfile {
    /// authgent-server (and the Python SDK's reading): scopes in `scope`, the client in
    /// `client_id`, a human root marked by a `human_root: true` claim or a `user:` subject.
    pub fn authgent_server() -> Self {
        ClaimsProfile {
            name: "authgent-server",
            scopes: vec![ScopeClaim::Scope],
            client_id: vec![ClientIdClaim::ClientId],
            human_root: HumanRoot::AuthgentServer,
        }
    }

    /// RFC 9068 (JWT access tokens), for any provider that follows it — panva's
    /// `oidc-provider`, Ory Hydra, …: scopes in `scope`, the client in `client_id`, and a
    /// human root where the subject of an undelegated token is not its client (§2.2: a
    /// client-credentials token's `sub` is its client id) and, for a delegated chain, where
    /// the token carries the user's authentication time (`auth_time`, §2.2.1), which the
    /// exchange must keep. A provider that omits `auth_time` makes delegated chains
    /// agent-rooted (fail-closed); [`ClaimsProfile::human_root_rule`] replaces the rule.
    pub fn rfc9068() -> Self {
        ClaimsProfile {
            name: "RFC 9068",
            scopes: vec![ScopeClaim::Scope],
            client_id: vec![ClientIdClaim::ClientId],
            human_root: HumanRoot::NotAClient {
                delegated_scopes: false,
                service_accounts: false,
            },
        }
    }

    /// Keycloak: scopes in `scope`, the client in `client_id` (service-account tokens) or
    /// `azp`; a service-account token (the one that carries `client_id`) is not human; realm
    /// and client roles (`realm_access`, `resource_access`) are not scopes and stay readable
    /// through [`AgentIdentity::claim`](crate::AgentIdentity::claim).
    pub fn keycloak() -> Self {
        ClaimsProfile {
            name: "Keycloak",
            scopes: vec![ScopeClaim::Scope],
            client_id: vec![ClientIdClaim::ClientId, ClientIdClaim::Azp],
            human_root: HumanRoot::NotAClient {
                delegated_scopes: false,
                service_accounts: true,
            },
        }
    }

    /// Auth0: scopes in `scope` and, with RBAC's "Add Permissions in the Access Token",
    /// `permissions`; the client in `azp`; machine-to-machine subjects (`<client>@clients`)
    /// are not human.
    pub fn auth0() -> Self {
        ClaimsProfile {
            name: "Auth0",
            scopes: vec![ScopeClaim::Scope, ScopeClaim::Permissions],
            client_id: vec![ClientIdClaim::Azp, ClientIdClaim::ClientId],
            human_root: HumanRoot::NotAClient {
                delegated_scopes: false,
                service_accounts: false,
            },
        }
    }

    /// Okta (custom authorization servers): scopes in `scp` (an array), the client in `cid`.
    pub fn okta() -> Self {
        ClaimsProfile {
            name: "Okta",
            scopes: vec![ScopeClaim::Scp],
            client_id: vec![ClientIdClaim::Cid],
            human_root: HumanRoot::NotAClient {
                delegated_scopes: false,
                service_accounts: false,
            },
        }
    }

    /// Microsoft Entra ID (v1 and v2 access tokens): delegated scopes in `scp` (a
    /// space-delimited string) and application permissions in `roles`; the client in `azp`
    /// (v2) or `appid` (v1); a human root only on a token with delegated scopes (Entra puts
    /// `scp` in user tokens only; app-only tokens carry `roles`).
    pub fn entra_id() -> Self {
        ClaimsProfile {
            name: "Microsoft Entra ID",
            scopes: vec![ScopeClaim::Scp, ScopeClaim::Roles],
            client_id: vec![ClientIdClaim::Azp, ClientIdClaim::Appid],
            human_root: HumanRoot::NotAClient {
                delegated_scopes: true,
                service_accounts: false,
            },
        }
    }

    /// A profile of your own: scopes from `scopes` (their union), the client id from the
    /// first of `client_id` present, the RFC 9068 human-root rule unless
    /// [`human_root_rule`](Self::human_root_rule) replaces it.
    ///
    /// ```
    /// use authgent_core::{ClaimsProfile, ClientIdClaim, ScopeClaim};
    /// let profile = ClaimsProfile::custom([ScopeClaim::Scope, ScopeClaim::Roles], [ClientIdClaim::Azp]);
    /// # let _ = profile;
    /// ```
    pub fn custom(
        scopes: impl IntoIterator<Item = ScopeClaim>,
        client_id: impl IntoIterator<Item = ClientIdClaim>,
    ) -> Self {
        ClaimsProfile {
            name: "custom",
            scopes: scopes.into_iter().collect(),
            client_id: client_id.into_iter().collect(),
            human_root: HumanRoot::NotAClient {
                delegated_scopes: false,
                service_accounts: false,
            },
        }
    }

    /// Replaces the profile's human-root rule (for example, to name the client ids a
    /// provider's exchanges hide in `sub`).
    #[must_use]
    pub fn human_root_rule(mut self, rule: HumanRootRule) -> Self {
        self.human_root = HumanRoot::Custom(rule);
        self
    }

    /// The profile's name, for messages and `Debug`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The claims scopes are read from.
    pub fn scope_claims(&self) -> &[ScopeClaim] {
        &self.scopes
    }

    /// The claims the client id is read from, in order.
    pub fn client_id_claims(&self) -> &[ClientIdClaim] {
        &self.client_id
    }

    /// The identity of verified `claims` as this profile reads them.
    pub fn identity(&self, claims: TokenClaims) -> Result<crate::AgentIdentity, TokenError> {
        for claim in SCOPE_ONLY {
            if !self.scopes.contains(&claim) && present(&claims, claim) {
                return Err(TokenError::InvalidClaim {
                    claim: claim.name(),
                    reason: "carries scopes in a claim this verifier's ClaimsProfile does not \
                             read: choose the profile of the token's issuer",
                });
            }
        }
        let scopes = self.scopes(&claims)?;
        let client_id = self.client_id(&claims)?;
        let chain = DelegationChain::from_claims(&claims);
        let human_root = match &self.human_root {
            HumanRoot::AuthgentServer => HumanRootRule::default().is_human_rooted(&chain),
            HumanRoot::Custom(rule) => rule.is_human_rooted(&chain),
            HumanRoot::NotAClient {
                delegated_scopes,
                service_accounts,
            } => {
                not_a_client(&claims, &chain, client_id, *delegated_scopes)
                    && !(*service_accounts && claims.client_id().is_some())
            }
        };
        Ok(crate::AgentIdentity::with_profile(
            claims, scopes, client_id, human_root,
        ))
    }

    fn scopes(&self, claims: &TokenClaims) -> Result<Arc<[String]>, TokenError> {
        if let [ScopeClaim::Scope] = self.scopes.as_slice() {
            return Ok(Arc::clone(claims.scope_list()));
        }
        let mut out: Vec<String> = Vec::new();
        for &claim in &self.scopes {
            let found = match claim {
                ScopeClaim::Scope => claims.scopes().map(str::to_owned).collect(),
                _ => match value(claims, claim.name()) {
                    None => Vec::new(),
                    Some(Value::String(s)) if claim == ScopeClaim::Scp => s
                        .split(' ')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|item| item.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or(TokenError::InvalidClaim {
                            claim: claim.name(),
                            reason: "must be an array of strings",
                        })?,
                    Some(_) => {
                        return Err(TokenError::InvalidClaim {
                            claim: claim.name(),
                            reason: if claim == ScopeClaim::Scp {
                                "must be a string or an array of strings"
                            } else {
                                "must be an array of strings"
                            },
                        });
                    }
                },
            };
            for scope in found {
                if !out.contains(&scope) {
                    out.push(scope);
                }
            }
        }
        Ok(out.into())
    }

    fn client_id(&self, claims: &TokenClaims) -> Result<Option<ClientIdClaim>, TokenError> {
        for &claim in &self.client_id {
            if claim == ClientIdClaim::ClientId {
                // Typed (a string) when the token was parsed.
                if claims.client_id().is_some() {
                    return Ok(Some(claim));
                }
                continue;
            }
            match value(claims, claim.name()) {
                None => continue,
                Some(Value::String(_)) => return Ok(Some(claim)),
                Some(_) => {
                    return Err(TokenError::InvalidClaim {
                        claim: claim.name(),
                        reason: "must be a string",
                    });
                }
            }
        }
        Ok(None)
    }
}

/// The value of one of the claims kept for profiles (`scp`, `azp`, …) as sent.
fn value<'c>(claims: &'c TokenClaims, name: &str) -> Option<&'c Value> {
    let index = PROFILE_CLAIMS.iter().position(|p| *p == name)?;
    claims.profile_claim(index)
}

/// Whether the token carries `claim` at all.
fn present(claims: &TokenClaims, claim: ScopeClaim) -> bool {
    match claim {
        ScopeClaim::Scope => claims.scope().is_some(),
        other => value(claims, other.name()).is_some(),
    }
}

/// The client id `claims` names through `source` (a string, checked by the profile).
pub(crate) fn client_id_of(claims: &TokenClaims, source: Option<ClientIdClaim>) -> Option<&str> {
    match source? {
        ClientIdClaim::ClientId => claims.client_id(),
        other => value(claims, other.name()).and_then(Value::as_str),
    }
}

fn not_a_client(
    claims: &TokenClaims,
    chain: &DelegationChain,
    client: Option<ClientIdClaim>,
    delegated_scopes: bool,
) -> bool {
    if claims.human_root() == Some(true) {
        return true;
    }
    let root = chain.root_subject();
    if root.is_empty() || root.ends_with("@clients") || chain.has_actor(root) {
        return false;
    }
    if delegated_scopes && value(claims, "scp").is_none() {
        return false;
    }
    if chain.is_delegated() {
        // After an exchange `sub` is still the root, but the client is the actor's: nothing
        // in `sub` tells a user from a client any more. Only the user's authentication,
        // carried through the exchange (RFC 9068 §2.2.1 `auth_time`), does.
        return value(claims, "auth_time").is_some_and(serde_json::Value::is_number);
    }
    client_id_of(claims, client) != Some(root)
}
