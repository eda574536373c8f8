//! `AuthError` as a Rocket responder, and the catchers that render guard failures.

use std::fmt;
use std::io::Cursor;
use std::sync::Mutex;

use authgent_core::AuthgentError;
use authgent_core::challenge::ErrorResponse;
use authgent_core::credentials::Scheme;
use rocket::http::{ContentType, Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::{Catcher, Request, catcher};

use crate::AgentAuth;

const MISSING_STATE: &str = "AgentIdentity needs AgentAuth: attach AgentAuth::builder(verifier).build().fairing() to Rocket";

/// A refusal: status, challenges and JSON body per CONFORMANCE.md.
#[derive(Clone)]
pub struct AuthError {
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    MissingState,
    Refused { response: Box<ErrorResponse> },
}

impl AuthError {
    pub(crate) fn refused(auth: &AgentAuth, error: &AuthgentError, scheme: Option<Scheme>) -> Self {
        let response = ErrorResponse::new(error, scheme, &auth.challenge);
        AuthError {
            kind: Kind::Refused {
                response: Box::new(response),
            },
        }
    }

    pub(crate) fn missing_state() -> Self {
        AuthError {
            kind: Kind::MissingState,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match &self.kind {
            Kind::MissingState => 500,
            Kind::Refused { response, .. } => response.status,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match &self.kind {
            Kind::MissingState => "server_error",
            Kind::Refused { response, .. } => response.code,
        }
    }

    fn body(&self) -> String {
        match &self.kind {
            Kind::MissingState => {
                serde_json::json!({"error": "server_error", "error_description": MISSING_STATE})
                    .to_string()
            }
            Kind::Refused { response } => response.body.clone(),
        }
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("status", &self.status())
            .field("code", &self.code())
            .finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::MissingState => f.write_str(MISSING_STATE),
            Kind::Refused { .. } => write!(f, "{} {}", self.status(), self.code()),
        }
    }
}

impl std::error::Error for AuthError {}

impl<'r> Responder<'r, 'static> for AuthError {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let body = self.body();
        let mut builder = Response::build();
        builder
            .status(Status::from_code(self.status()).unwrap_or(Status::InternalServerError))
            .header(ContentType::JSON)
            .header(Header::new("cache-control", "no-store"))
            .sized_body(body.len(), Cursor::new(body));
        if let Kind::Refused { response, .. } = &self.kind {
            for challenge in &response.challenges {
                builder.header_adjoin(Header::new("www-authenticate", challenge.clone()));
            }
            if let Some(nonce) = &response.dpop_nonce {
                builder.header(Header::new("dpop-nonce", nonce.clone()));
            }
            if let Some(secs) = response.retry_after {
                builder.header(Header::new("retry-after", secs.to_string()));
            }
        }
        builder.ok()
    }
}

/// The refusal of this request, kept for the catcher Rocket runs after a failed guard.
struct Refusal(Mutex<Option<AuthError>>);

pub(crate) fn remember(req: &Request<'_>, error: &AuthError) {
    let cell = req.local_cache(|| Refusal(Mutex::new(None)));
    if let Ok(mut slot) = cell.0.lock() {
        slot.get_or_insert_with(|| error.clone());
    }
}

fn catch<'r>(status: Status, req: &'r Request<'_>) -> catcher::BoxFuture<'r> {
    let refusal = req
        .local_cache(|| Refusal(Mutex::new(None)))
        .0
        .lock()
        .ok()
        .and_then(|s| s.clone());
    Box::pin(async move {
        match refusal {
            Some(error) => error.respond_to(req),
            None => {
                // A status some other code produced: a plain JSON body, no challenge.
                let reason = status
                    .reason()
                    .unwrap_or("error")
                    .to_ascii_lowercase()
                    .replace(' ', "_");
                let body = serde_json::json!({"error": reason}).to_string();
                Response::build()
                    .status(status)
                    .header(ContentType::JSON)
                    .sized_body(body.len(), Cursor::new(body))
                    .ok()
            }
        }
    })
}

pub(crate) fn catchers() -> Vec<Catcher> {
    [400u16, 401, 403, 500, 503]
        .into_iter()
        .map(|code| Catcher::new(code, catch))
        .collect()
}
