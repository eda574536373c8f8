//! Request guards: authentication runs once per request and is cached in the request.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use authgent_jwks::{AgentAuth, AuthContext, Caller, HeaderSource, Rejection};
use rocket::Request;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};

use crate::response::{AuthRejection, remember};

/// Rocket's header map, as [`AgentAuth::authenticate`] reads headers.
struct Headers<'a>(&'a rocket::http::HeaderMap<'a>);

impl HeaderSource for Headers<'_> {
    fn header_values(&self, name: &str) -> Vec<&[u8]> {
        self.0.get(name).map(str::as_bytes).collect()
    }
}

/// The once-per-request outcome, cached in the request (`None` until a guard ran).
pub(crate) struct Authenticated(pub(crate) Option<Result<AuthContext, AuthRejection>>);

pub(crate) async fn authenticated<'r>(
    req: &'r Request<'_>,
) -> &'r Result<AuthContext, AuthRejection> {
    let cached = req
        .local_cache_async(async {
            let Some(auth) = req.rocket().state::<AgentAuth>() else {
                return Authenticated(Some(Err(Rejection::missing_authentication(
                    "AgentIdentity",
                    crate::MISSING_FAIRING_FIX,
                )
                .into())));
            };
            let target = req.uri().to_string();
            let outcome = auth
                .authenticate(req.method().as_str(), &target, &Headers(req.headers()))
                .await
                .map_err(AuthRejection::from);
            Authenticated(Some(outcome))
        })
        .await;
    match &cached.0 {
        Some(outcome) => outcome,
        // Only `on_response` stores `None`, after every guard ran.
        None => &MISSING,
    }
}

static MISSING: std::sync::LazyLock<Result<AuthContext, AuthRejection>> =
    std::sync::LazyLock::new(|| {
        Err(Rejection::missing_authentication("AgentIdentity", crate::MISSING_FAIRING_FIX).into())
    });

fn fail<T>(req: &Request<'_>, error: AuthRejection) -> Outcome<T, AuthRejection> {
    let status = Status::from_code(error.status()).unwrap_or(Status::InternalServerError);
    remember(req, &error);
    Outcome::Error((status, error))
}

/// The verified caller. Derefs to [`Caller`] and through it to
/// [`authgent_core::AgentIdentity`].
#[derive(Clone)]
pub struct AgentIdentity(pub Caller);

impl fmt::Debug for AgentIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Deref for AgentIdentity {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AgentIdentity {
    type Error = AuthRejection;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match authenticated(req).await {
            Ok(context) => match context.caller() {
                Ok(caller) => Outcome::Success(AgentIdentity(caller)),
                Err(rejection) => fail(req, rejection.into()),
            },
            Err(e) => fail(req, e.clone()),
        }
    }
}

/// `Some(identity)`, or `None` when the request carries no credentials. Invalid credentials are
/// refused, never turned into `None`.
#[derive(Clone, Debug)]
pub struct OptionalAgentIdentity(pub Option<AgentIdentity>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for OptionalAgentIdentity {
    type Error = AuthRejection;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match authenticated(req).await {
            Ok(context) => Outcome::Success(OptionalAgentIdentity(
                context.caller().ok().map(AgentIdentity),
            )),
            Err(e) => fail(req, e.clone()),
        }
    }
}

/// The request's verified `Txn-Token` (configured with
/// [`AgentAuthBuilder::transaction_tokens`](authgent_jwks::AgentAuthBuilder::transaction_tokens));
/// 400 when the request carried none.
#[derive(Clone, Debug)]
pub struct TransactionToken(pub Arc<authgent_core::txn::TransactionToken>);

impl Deref for TransactionToken {
    type Target = authgent_core::txn::TransactionToken;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for TransactionToken {
    type Error = AuthRejection;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match authenticated(req).await {
            Ok(context) => match context.transaction_token() {
                Some(token) => Outcome::Success(TransactionToken(Arc::clone(token))),
                None => fail(
                    req,
                    context
                        .reject(authgent_core::RequestError::MissingTxnToken.into())
                        .into(),
                ),
            },
            Err(e) => fail(req, e.clone()),
        }
    }
}
