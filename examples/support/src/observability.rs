//! The examples' operator outputs: `AUTHGENT_AUDIT=json` (one JSON audit line per decision on
//! stderr) and `METRICS_BIND` (Prometheus metrics at `http://$METRICS_BIND/metrics`).

use std::convert::Infallible;
use std::net::SocketAddr;

use authgent_jwks::AgentAuthBuilder;
use authgent_jwks::audit::JsonLines;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// With `AUTHGENT_AUDIT=json`, every decision is written to stderr as one JSON line (the
/// serialised `AuditEvent`: outcome, status, error, route or MCP names, the whole delegation
/// chain — never a token).
pub(crate) fn with_audit(builder: AgentAuthBuilder, json: bool) -> AgentAuthBuilder {
    if json {
        builder.audit_sink(JsonLines::stderr())
    } else {
        builder
    }
}

/// Installs the Prometheus recorder as the process's `metrics` recorder, and serves its
/// rendering at `http://{bind}/metrics`; prints `METRICS=<addr>` once bound.
pub(crate) async fn serve_metrics(bind: &str) -> Result<SocketAddr, Box<dyn std::error::Error>> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("METRICS_BIND: {e}"))?;
    authgent_jwks::describe_metrics();
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("METRICS_BIND={bind}: {e}"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(accept(listener, handle));
    println!("METRICS={bound}");
    Ok(bound)
}

async fn accept(listener: tokio::net::TcpListener, handle: PrometheusHandle) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<_>| {
                let handle = handle.clone();
                async move { Ok::<_, Infallible>(answer(&request, &handle)) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

fn answer<B>(request: &Request<B>, handle: &PrometheusHandle) -> Response<Full<Bytes>> {
    let mut response = if request.uri().path() == "/metrics" {
        let mut response = Response::new(Full::new(Bytes::from(handle.render())));
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        response
    } else {
        Response::new(Full::new(Bytes::from_static(b"not found: try /metrics\n")))
    };
    if request.uri().path() != "/metrics" {
        *response.status_mut() = hyper::StatusCode::NOT_FOUND;
    }
    response
}
