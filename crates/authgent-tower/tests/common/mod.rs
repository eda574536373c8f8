//! Shared by the over-HTTP tests: an echo handler and a loopback server.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use authgent_tower::{AuthContext, Caller};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::json;
use tower_service::Service;

/// The innermost handler: echoes who the layer said is calling.
#[derive(Clone)]
pub struct Echo;

impl Service<Request<Incoming>> for Echo {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        // The layer puts the `AuthContext` in the extensions, and the `Caller` when there is one.
        let caller = req
            .extensions()
            .get::<Caller>()
            .map(|c| c.subject().to_owned());
        let body = match req
            .extensions()
            .get::<AuthContext>()
            .and_then(|c| c.identity())
        {
            Some(id) => json!({"subject": id.subject(), "depth": id.delegation_chain().depth(),
                               "caller": caller}),
            None => json!({"authenticated": false, "caller": caller}),
        };
        Box::pin(async move { Ok(Response::new(Full::new(Bytes::from(body.to_string())))) })
    }
}

/// Serves `service` on a free loopback port; returns its base URL.
pub async fn serve<S>(service: S) -> String
where
    S: Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}
