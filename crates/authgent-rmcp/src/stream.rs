//! An event stream ends when the token that opened it does: a `GET` stream (server-to-client
//! messages, resumption) is authenticated once, when it opens, so without an end it would
//! outlive its token — and a revoked or expired caller would keep receiving messages.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use authgent_jwks::AuthContext;
use axum::body::{Body, Bytes};
use axum::middleware::Next;
use http::{Method, Request, Response};
use http_body::Frame;

/// The middleware (`axum::middleware::from_fn`): a `GET` answered with a body gets a body that
/// ends at the token's `exp` plus the verifier's leeway (the moment the verifier would refuse
/// the token).
pub(crate) async fn end_at_expiry(request: Request<Body>, next: Next) -> Response<Body> {
    let deadline = (request.method() == Method::GET)
        .then(|| request.extensions().get::<AuthContext>())
        .flatten()
        .and_then(|context| {
            let expires = context.identity()?.expires_at()?;
            let leeway = context.verifier().map_or(Duration::ZERO, |v| v.leeway());
            Some(expires + leeway)
        });
    let response = next.run(request).await;
    match deadline {
        None => response,
        Some(deadline) => {
            let left = deadline
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            let sleep = Box::pin(tokio::time::sleep(left));
            response.map(|inner| Body::new(Until { inner, sleep }))
        }
    }
}

/// `inner` until `sleep` completes, then the end of the stream.
struct Until {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for Until {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if this.sleep.as_mut().poll(cx).is_ready() {
            tracing::debug!(target: "authgent::mcp", "event stream ended: its token expired");
            return Poll::Ready(None);
        }
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
