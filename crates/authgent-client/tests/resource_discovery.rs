//! RFC 9728 discovery on the agent side, over loopback HTTP: the path-inserted well-known URL,
//! the `resource_metadata` of a 401, and every check (resource identity, origin of the hint,
//! authorization server named, transport rules).

mod common;

use authgent_client::{AgentAuthClient, resource_metadata_url};
use common::{http, serve, serve_with};

fn json(body: &str) -> String {
    http("200 OK", &["content-type: application/json"], body)
}

fn doc(resource: &str, servers: &[&str]) -> String {
    serde_json::json!({
        "resource": resource,
        "authorization_servers": servers,
        "scopes_supported": ["tools:call"],
    })
    .to_string()
}

#[tokio::test]
async fn the_documents_resource_and_authorization_server_are_checked() {
    let (as_url, _) = serve(vec![json("{}")]).await;
    let auth = AgentAuthClient::new(&as_url).unwrap();
    let issuer = as_url.clone();
    let (rs, requests) =
        serve_with(move |rs| vec![json(&doc(&format!("{rs}/mcp"), &[&issuer]))]).await;
    let resource = format!("{rs}/mcp");
    let metadata = auth.discover_resource(&resource, None).await.unwrap();
    assert_eq!(metadata.resource, resource);
    assert_eq!(metadata.scopes_supported, ["tools:call"]);
    let seen = requests.lock().unwrap()[0].clone();
    assert!(
        seen.starts_with("GET /.well-known/oauth-protected-resource/mcp "),
        "path-inserted well-known URL: {seen}"
    );

    // A document for another resource (RFC 9728 §3.3), or naming another server: refused.
    let (rs, _) = serve_with({
        let issuer = as_url.clone();
        move |rs| vec![json(&doc(&format!("{rs}/other"), &[&issuer]))]
    })
    .await;
    let err = auth
        .discover_resource(&format!("{rs}/mcp"), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_response", "{err}");
    let (rs, _) =
        serve_with(|rs| vec![json(&doc(&format!("{rs}/mcp"), &["https://evil.example"]))]).await;
    let err = auth
        .discover_resource(&format!("{rs}/mcp"), None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not from this client's server"),
        "{err}"
    );
}

#[tokio::test]
async fn a_challenge_hint_is_followed_on_the_resources_origin_only() {
    let (as_url, _) = serve(vec![json("{}")]).await;
    let auth = AgentAuthClient::new(&as_url).unwrap();
    let issuer = as_url.clone();
    let (rs, requests) =
        serve_with(move |rs| vec![json(&doc(&format!("{rs}/mcp"), &[&issuer]))]).await;
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "www-authenticate",
        format!(r#"Bearer resource_metadata="{rs}/meta/mcp""#)
            .parse()
            .unwrap(),
    );
    let hint = resource_metadata_url(http::StatusCode::UNAUTHORIZED, &headers).unwrap();
    assert!(resource_metadata_url(http::StatusCode::OK, &headers).is_none());
    auth.discover_resource(&format!("{rs}/mcp"), Some(&hint))
        .await
        .unwrap();
    assert!(requests.lock().unwrap()[0].starts_with("GET /meta/mcp "));

    // A hint on another origin: nothing is fetched there.
    let (elsewhere, elsewhere_requests) = serve(vec![json("{}")]).await;
    let err = auth
        .discover_resource(&format!("{rs}/mcp"), Some(&format!("{elsewhere}/meta")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another origin"), "{err}");
    assert!(elsewhere_requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn discovery_follows_the_transport_rules() {
    let (as_url, _) = serve(vec![json("{}")]).await;
    let auth = AgentAuthClient::new(&as_url).unwrap();
    let err = auth
        .discover_resource("http://mcp.example/mcp", None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "insecure_url");
    let (target, target_requests) = serve(vec![json("{}")]).await;
    let (rs, _) = serve(vec![http(
        "307 Temporary Redirect",
        &[&format!("location: {target}/doc")],
        "",
    )])
    .await;
    let err = auth
        .discover_resource(&format!("{rs}/mcp"), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "redirect_refused");
    assert!(target_requests.lock().unwrap().is_empty());
}
