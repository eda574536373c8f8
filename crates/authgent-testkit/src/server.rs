//! The HTTP side: hyper on a loopback listener, with fault injection.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;

use crate::{Discovery, Fault, Shared, jwks_of};

pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        if shared.state().fault == Fault::DropConnection {
            drop(stream);
            continue;
        }
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&shared), req));
            // Errors here are clients hanging up or the DropConnection fault: nothing to do.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, std::io::Error> {
    let path = req.uri().path().to_owned();
    let fault = {
        let mut state = shared.state();
        *state.hits.entry(path.clone()).or_default() += 1;
        state.fault.clone()
    };
    let issuer_path = shared
        .issuer
        .strip_prefix(&shared.url)
        .unwrap_or_default()
        .to_owned();
    let is_jwks = path == "/oauth/jwks" || path == "/.well-known/jwks.json";
    let is_rfc8414 = path == format!("/.well-known/oauth-authorization-server{issuer_path}");
    let is_openid = path == format!("{issuer_path}/.well-known/openid-configuration");
    if is_jwks {
        shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    } else if is_rfc8414 || is_openid {
        shared.metadata_fetches.fetch_add(1, Ordering::SeqCst);
    }
    match fault {
        Fault::None => {}
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Ok(reply(status, "application/json", "{}"));
        }
        Fault::Delay(d) => tokio::time::sleep(d).await,
        Fault::Garbage => return Ok(reply(StatusCode::OK, "application/json", "<html>not json{")),
        Fault::HugeBody(n) => {
            let mut body = String::with_capacity(n);
            body.push_str("{\"keys\":[");
            body.extend(std::iter::repeat_n(' ', n.saturating_sub(body.len() + 2)));
            body.push_str("]}");
            return Ok(reply(StatusCode::OK, "application/json", body));
        }
        Fault::Redirect(location) => {
            let mut r = reply(StatusCode::FOUND, "text/plain", "");
            if let Ok(v) = location.parse() {
                r.headers_mut().insert(header::LOCATION, v);
            }
            return Ok(r);
        }
        Fault::DropConnection => return Err(std::io::Error::other("fault: connection dropped")),
    }
    let state = shared.state();
    let metadata = || {
        state.metadata_override.clone().unwrap_or_else(|| {
            json!({
                "issuer": shared.issuer,
                "jwks_uri": format!("{}/oauth/jwks", shared.url),
                "token_endpoint": format!("{}/token", shared.url),
                "grant_types_supported": ["client_credentials"],
                "dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
            })
        })
    };
    let discovery = state.discovery;
    let response = if is_jwks {
        let mut r = reply(
            StatusCode::OK,
            "application/json",
            jwks_of(&state).to_string(),
        );
        if let Some(cc) = state.cache_control.as_deref().and_then(|v| v.parse().ok()) {
            r.headers_mut().insert(header::CACHE_CONTROL, cc);
        }
        r
    } else if is_rfc8414 && discovery == Discovery::Full
        || is_openid && discovery != Discovery::JwksOnly
    {
        reply(StatusCode::OK, "application/json", metadata().to_string())
    } else {
        reply(
            StatusCode::NOT_FOUND,
            "application/json",
            r#"{"error":"not_found"}"#,
        )
    };
    Ok(response)
}
