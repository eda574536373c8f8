//! The RFC 9728 metadata route.

use authgent_core::metadata::ProtectedResourceMetadata;
use axum::Router;
use axum::routing::get;
use axum_core::body::Body;

/// A router serving `doc` at its well-known path (`/.well-known/oauth-protected-resource`
/// plus the resource's own path, RFC 9728 §3.1). Merge it into your app; it needs no auth.
///
/// ```
/// use authgent_core::metadata::ProtectedResourceMetadata;
/// let doc = ProtectedResourceMetadata::builder("https://tools.example.com")
///     .authorization_server("http://127.0.0.1:8000")
///     .build()?;
/// let app: axum::Router = axum::Router::new().merge(authgent_axum::resource_metadata_router(doc));
/// # let _ = app;
/// # Ok::<(), authgent_core::ConfigError>(())
/// ```
pub fn resource_metadata_router<S: Clone + Send + Sync + 'static>(
    doc: ProtectedResourceMetadata,
) -> Router<S> {
    let path = doc.well_known_path();
    let body = serde_json::to_string(&doc).unwrap_or_else(|_| "{}".to_owned());
    Router::new().route(
        &path,
        get(move || {
            let body = body.clone();
            async move {
                let mut r = http::Response::new(Body::from(body));
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
                r
            }
        }),
    )
}
