//! Request guards: verification runs once per request and is cached in the request.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use authgent_core::credentials::Scheme;
use authgent_core::request::RequestParts;
use authgent_core::{AuthgentError, ChainPolicy, ScopeRequirement};
use rocket::Request;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};

use crate::AgentAuth;
use crate::response::{AuthError, remember};

/// The once-per-request outcome.
struct Verified {
    result: Result<Option<Arc<authgent_core::AgentIdentity>>, AuthgentError>,
    scheme: Option<Scheme>,
}

async fn verified<'r>(req: &'r Request<'_>, auth: &AgentAuth) -> &'r Verified {
    req.local_cache_async(async {
        let headers = req.headers();
        let scheme = headers
            .get_one("authorization")
            .and_then(Scheme::from_authorization);
        let path = req.uri().to_string();
        let uri = auth.verifier.uri_for(
            &path,
            None,
            headers.get_one("host"),
            headers.get_one("x-forwarded-proto"),
            headers.get_one("x-forwarded-host"),
        );
        let authorization: Vec<&[u8]> = headers.get("authorization").map(str::as_bytes).collect();
        let dpop: Vec<&[u8]> = headers.get("dpop").map(str::as_bytes).collect();
        let request = RequestParts::new(req.method().as_str(), &uri, &authorization, &dpop);
        Verified {
            result: auth.verifier.verify_request(&request).await,
            scheme,
        }
    })
    .await
}

fn fail<T>(req: &Request<'_>, error: AuthError) -> Outcome<T, AuthError> {
    let status = Status::from_code(error.status()).unwrap_or(Status::InternalServerError);
    remember(req, &error);
    Outcome::Error((status, error))
}

/// Resolves the identity: `Ok(None)` = anonymous.
async fn resolve(req: &Request<'_>) -> Result<Option<AgentIdentity>, AuthError> {
    let Some(auth) = req.rocket().state::<AgentAuth>() else {
        return Err(AuthError::missing_state());
    };
    let v = verified(req, auth).await;
    match &v.result {
        Ok(Some(identity)) => Ok(Some(AgentIdentity {
            identity: Arc::clone(identity),
            auth: auth.clone(),
            scheme: v.scheme,
        })),
        Ok(None) => Ok(None),
        Err(e) => Err(AuthError::refused(auth, e, v.scheme)),
    }
}

/// The verified caller. Derefs to [`authgent_core::AgentIdentity`].
#[derive(Clone)]
pub struct AgentIdentity {
    identity: Arc<authgent_core::AgentIdentity>,
    auth: AgentAuth,
    scheme: Option<Scheme>,
}

impl fmt::Debug for AgentIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.identity, f)
    }
}

impl Deref for AgentIdentity {
    type Target = authgent_core::AgentIdentity;
    fn deref(&self) -> &Self::Target {
        &self.identity
    }
}

impl AgentIdentity {
    /// The shared identity.
    pub fn shared(&self) -> &Arc<authgent_core::AgentIdentity> {
        &self.identity
    }

    /// 403 `insufficient_scope` unless `requirement` is met.
    pub fn require_scopes(&self, requirement: &ScopeRequirement) -> Result<(), AuthError> {
        requirement
            .check(self.identity.scopes())
            .map_err(|e| AuthError::refused(&self.auth, &e.into(), self.scheme))
    }

    /// 403 with the delegation code unless the chain satisfies `policy`.
    pub fn require_chain(&self, policy: &ChainPolicy) -> Result<(), AuthError> {
        policy
            .check(self.identity.delegation_chain())
            .map_err(|e| AuthError::refused(&self.auth, &e.into(), self.scheme))
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AgentIdentity {
    type Error = AuthError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match resolve(req).await {
            Ok(Some(identity)) => Outcome::Success(identity),
            Ok(None) => {
                let auth = req.rocket().state::<AgentAuth>().cloned();
                match auth {
                    Some(auth) => fail(
                        req,
                        AuthError::refused(&auth, &AuthgentError::MissingCredentials, None),
                    ),
                    None => fail(req, AuthError::missing_state()),
                }
            }
            Err(e) => fail(req, e),
        }
    }
}

/// `Some(identity)`, or `None` when the request carries no credentials. Invalid credentials are
/// refused, never turned into `None`.
#[derive(Clone, Debug)]
pub struct OptionalAgentIdentity(pub Option<AgentIdentity>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for OptionalAgentIdentity {
    type Error = AuthError;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match resolve(req).await {
            Ok(identity) => Outcome::Success(OptionalAgentIdentity(identity)),
            Err(e) => fail(req, e),
        }
    }
}
