//! The RFC 9728 metadata route.

use authgent_jwks::AgentAuth;
use authgent_tower::metadata_response;
use axum::Router;
use axum::routing::get;
use axum_core::body::Body;

/// A router serving `auth`'s RFC 9728 document at its well-known path
/// (`/.well-known/oauth-protected-resource` plus the resource's own path, RFC 9728 §3.1);
/// empty when the resource is not known. Merge it into your app; it needs no auth.
///
/// ```no_run
/// # fn demo(auth: authgent_jwks::AgentAuth) {
/// let app: axum::Router = axum::Router::new().merge(authgent_axum::resource_metadata_router(&auth));
/// # }
/// ```
pub fn resource_metadata_router<S: Clone + Send + Sync + 'static>(auth: &AgentAuth) -> Router<S> {
    match auth.metadata() {
        Some(document) => {
            let document = document.clone();
            Router::new().route(
                &document.path.clone(),
                get(move || {
                    let response = metadata_response::<Body>(&document);
                    async move { response }
                }),
            )
        }
        None => Router::new(),
    }
}
