//! Sessions bound to their caller: an `Mcp-Session-Id` opens nothing for anyone but the
//! caller who created it (MCP security best practices, "session hijacking").
//!
//! Every request is authenticated on its own, so a stolen session id never authenticates
//! anyone; but the session's event stream (`GET`) carries answers meant for its creator, and
//! its state is theirs. So a session is bound, when created, to who created it — issuer,
//! subject, client and current actor, the identity the MCP spec asks to bind to — and a
//! request naming it for anyone else is answered as for an unknown session: `404`, which
//! tells a client to start a new one, and says nothing about whether the session exists.

use std::sync::Arc;
use std::time::Duration;

use authgent_core::AgentIdentity;
use authgent_jwks::AuthContext;
use axum::body::Body;
use axum::extract::State;
use axum::middleware::Next;
use http::{Method, Request, Response, StatusCode};
use moka::sync::Cache;

/// The header naming a session (MCP streamable HTTP transport).
const SESSION_HEADER: &str = "mcp-session-id";

/// Who a session or a task belongs to: issuer, subject, client and current actor. `None`:
/// created anonymously (optional mode), open to anonymous requests only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Owner(Option<Arc<[String; 4]>>);

impl Owner {
    pub(crate) fn of(context: &AuthContext) -> Self {
        Owner(context.identity().map(|id| Arc::new(owner_key(id))))
    }
}

fn owner_key(id: &AgentIdentity) -> [String; 4] {
    let actor = id.delegation_chain().current_actor().map(|a| a.subject());
    [
        id.issuer().to_owned(),
        id.subject().to_owned(),
        id.client_id().unwrap_or_default().to_owned(),
        actor.unwrap_or_default().to_owned(),
    ]
}

/// The bindings of live sessions: bounded, and forgotten after `idle` without a request (a
/// forgotten session answers 404 and the client starts a new one — never an open door).
#[derive(Clone)]
pub(crate) struct SessionBinding {
    owners: Cache<String, Owner>,
}

impl std::fmt::Debug for SessionBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionBinding")
            .field("sessions", &self.owners.entry_count())
            .finish()
    }
}

impl SessionBinding {
    pub(crate) fn new(capacity: u64, idle: Duration) -> Self {
        SessionBinding {
            owners: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(idle)
                .build(),
        }
    }
}

/// The session-binding middleware (`axum::middleware::from_fn_with_state`).
pub(crate) async fn bind(
    State(binding): State<SessionBinding>,
    request: Request<Body>,
    next: Next,
) -> Response<Body> {
    // Without an AuthContext the request never reached authentication: the layer order is
    // wrong, and the inner guards answer 500 naming the fix.
    let Some(owner) = request.extensions().get::<AuthContext>().map(Owner::of) else {
        return next.run(request).await;
    };
    let owners = &binding.owners;
    let session = request
        .headers()
        .get(SESSION_HEADER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if let Some(id) = &session {
        // Unknown (never created here, or forgotten) or someone else's: the same 404.
        if owners.get(id).as_ref() != Some(&owner) {
            return not_found();
        }
    }
    let ends = request.method() == Method::DELETE;
    let response = next.run(request).await;
    match (&session, response.headers().get(SESSION_HEADER)) {
        (None, Some(created)) if response.status().is_success() => {
            let created = String::from_utf8_lossy(created.as_bytes()).into_owned();
            owners.insert(created, owner);
        }
        (Some(id), _) if ends && response.status().is_success() => owners.invalidate(id),
        _ => {}
    }
    response
}

fn not_found() -> Response<Body> {
    let mut response = Response::new(Body::from("session not found"));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}
