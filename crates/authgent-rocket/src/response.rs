//! [`AuthRejection`] as a Rocket responder, and the catchers that render guard failures.

use std::io::Cursor;
use std::sync::Mutex;

use crate::AuthRejection;
use rocket::http::{ContentType, Header, Status};
use rocket::response::{self, Responder, Response};
use rocket::{Catcher, Request, catcher};

impl AuthRejection {
    /// The refusal an authgent guard recorded for `req`, for an application's own catcher:
    /// `fn app_401(req: &Request<'_>) -> Option<AuthRejection> { AuthRejection::of(req) }`.
    pub fn of(req: &Request<'_>) -> Option<AuthRejection> {
        req.local_cache(|| Refusal(Mutex::new(None)))
            .0
            .lock()
            .ok()
            .and_then(|s| s.clone())
    }
}

impl<'r> Responder<'r, 'static> for AuthRejection {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let error = self.0.response();
        let body = error.body.clone();
        let mut builder = Response::build();
        builder
            .status(Status::from_code(error.status).unwrap_or(Status::InternalServerError))
            .sized_body(body.len(), Cursor::new(body));
        for (name, value) in error.headers() {
            builder.header_adjoin(Header::new(name, value.into_owned()));
        }
        builder.ok()
    }
}

/// The refusal of this request, kept for the catcher Rocket runs after a failed guard.
struct Refusal(Mutex<Option<AuthRejection>>);

pub(crate) fn remember(req: &Request<'_>, error: &AuthRejection) {
    let cell = req.local_cache(|| Refusal(Mutex::new(None)));
    if let Ok(mut slot) = cell.0.lock() {
        slot.get_or_insert_with(|| error.clone());
    }
}

fn catch<'r>(status: Status, req: &'r Request<'_>) -> catcher::BoxFuture<'r> {
    let refusal = AuthRejection::of(req);
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

/// Catchers that answer authgent's refusals (400, 401, 403, 500, 503) with their challenge
/// and JSON body: `rocket.register("/api", authgent_rocket::catchers())`, at the base you
/// choose. An application with its own catchers for these codes calls
/// [`AuthRejection::of`] in them instead.
pub fn catchers() -> Vec<Catcher> {
    [400u16, 401, 403, 500, 503]
        .into_iter()
        .map(|code| Catcher::new(code, catch))
        .collect()
}
