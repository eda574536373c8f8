//! Request guards: authentication runs once per request and is cached in the request.

use authgent_jwks::{AgentAuth, AuthContext, HeaderSource, Rejection};
use rocket::Request;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};

use crate::response::remember;
use crate::{AgentIdentity, AuthRejection, TransactionToken};

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
#[non_exhaustive]
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

#[rocket::async_trait]
impl<'r> FromRequest<'r> for TransactionToken {
    type Error = AuthRejection;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        match authenticated(req).await {
            Ok(context) => match TransactionToken::from_context(context) {
                Ok(token) => Outcome::Success(token),
                Err(rejection) => fail(req, rejection.into()),
            },
            Err(e) => fail(req, e.clone()),
        }
    }
}
