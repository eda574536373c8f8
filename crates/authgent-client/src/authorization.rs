//! The authorization-code flow (RFC 6749 §4.1) done safely: PKCE S256 (RFC 7636), a fresh
//! `state` checked on the callback, the issuer's `iss` checked (RFC 9207), and the RFC 8707
//! `resource` on the authorization, code and refresh requests (which MCP requires).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::error::server_text;
use crate::{AgentAuthClient, ClientCredentials, ClientError, Pkce, Secret, TokenResponse};

/// One authorization-code request: the URL a user agent opens, and what the callback must
/// match. Make one per login with [`AgentAuthClient::authorization_request`], keep it until
/// the redirect comes back, then hand the callback URL to
/// [`AgentAuthClient::exchange_authorization_code`], which checks `state` and `iss` before
/// redeeming the code.
///
/// ```no_run
/// # use authgent_client::{AgentAuthClient, ClientCredentials};
/// # async fn run(auth: AgentAuthClient, app: ClientCredentials, callback_url: &str) -> Result<(), authgent_client::ClientError> {
/// auth.discover().await?;
/// let login = auth.authorization_request(&app.client_id, "https://app.example/cb", "read",
///     Some("https://mcp.example/mcp"))?;
/// // … the user's browser opens login.url(); the redirect brings back callback_url …
/// let tokens = auth.exchange_authorization_code(&app, &login, callback_url).await?;
/// let refresh = tokens.refresh_token.expect("issued with the code");
/// let fresh = auth.refresh_token(&app, refresh.expose(), login.resource()).await?;
/// # let _ = fresh; Ok(()) }
/// ```
#[derive(Clone)]
pub struct AuthorizationRequest {
    url: url::Url,
    state: Secret,
    pkce: Pkce,
    redirect_uri: String,
    resource: Option<String>,
    issuer: String,
    iss_required: bool,
}

impl fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut endpoint = self.url.clone();
        endpoint.set_query(None);
        f.debug_struct("AuthorizationRequest")
            .field("endpoint", &endpoint.as_str())
            .field("redirect_uri", &self.redirect_uri)
            .field("resource", &self.resource)
            .field("iss_required", &self.iss_required)
            .finish_non_exhaustive()
    }
}

impl AuthorizationRequest {
    /// The URL for the user agent to open.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The `state` the callback must carry back.
    pub fn state(&self) -> &Secret {
        &self.state
    }

    /// The RFC 8707 resource the tokens are for, if any (pass it to
    /// [`AgentAuthClient::refresh_token`] too).
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// The redirect URI the request named.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The code in a callback (the redirect URL, or just its query), after checking it: an
    /// `error` is refused with the server's (bounded) code; `state` must be this request's;
    /// `iss`, when present, must be the issuer, and must be present when the server
    /// advertises `authorization_response_iss_parameter_supported` (RFC 9207 §2.4).
    pub fn code_from_callback(&self, callback: &str) -> Result<Secret, ClientError> {
        let query = match url::Url::parse(callback) {
            Ok(url) => url.query().unwrap_or("").to_owned(),
            Err(_) => callback.trim_start_matches('?').to_owned(),
        };
        let mut code = None;
        let mut state = None;
        let mut iss = None;
        let mut error = None;
        let mut description = None;
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match name.as_ref() {
                "code" => &mut code,
                "state" => &mut state,
                "iss" => &mut iss,
                "error" => &mut error,
                "error_description" => &mut description,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(ClientError::Callback(format!(
                    "parameter {name} appears twice"
                )));
            }
        }
        let state_ok = state.as_deref().is_some_and(|s| {
            s.len() == self.state.expose().len()
                && authgent_core::crypto::constant_time_eq(
                    s.as_bytes(),
                    self.state.expose().as_bytes(),
                )
        });
        if !state_ok {
            return Err(ClientError::Callback(
                "state is missing or is not this request's (a forged or replayed callback)".into(),
            ));
        }
        match iss.as_deref() {
            Some(iss) if iss != self.issuer => {
                return Err(ClientError::Callback(format!(
                    "iss {:?} is not the issuer {:?} (a mix-up attack, RFC 9207)",
                    server_text(iss, 128),
                    self.issuer
                )));
            }
            None if self.iss_required => {
                return Err(ClientError::Callback(
                    "iss is missing although the server promises it (RFC 9207)".into(),
                ));
            }
            _ => {}
        }
        if let Some(error) = error {
            return Err(ClientError::Callback(format!(
                "the authorization server answered {}{}",
                server_text(&error, 64),
                description
                    .map(|d| format!(": {}", server_text(&d, 256)))
                    .unwrap_or_default()
            )));
        }
        code.filter(|c| !c.is_empty())
            .map(Secret::new)
            .ok_or_else(|| ClientError::Callback("no code".into()))
    }
}

impl AgentAuthClient {
    /// An authorization-code request (RFC 6749 §4.1.1) with PKCE S256, a fresh 256-bit
    /// `state` and, when given, the RFC 8707 `resource` the tokens are for. Parameters are
    /// added to the authorization endpoint's own query, if it has one.
    pub fn authorization_request(
        &self,
        client_id: &str,
        redirect_uri: &str,
        scope: &str,
        resource: Option<&str>,
    ) -> Result<AuthorizationRequest, ClientError> {
        let endpoint = self.endpoint(|m| m.authorization_endpoint.as_ref(), "/authorize");
        let mut url = url::Url::parse(&endpoint)
            .map_err(|e| ClientError::Config(format!("authorization endpoint: {e}")))?;
        let pkce = Pkce::new()?;
        let mut bytes = [0u8; 32];
        authgent_core::crypto::fill_random(&mut bytes)
            .map_err(|e| ClientError::Config(format!("no randomness for state: {e}")))?;
        let state = Secret::new(URL_SAFE_NO_PAD.encode(bytes));
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", scope)
                .append_pair("state", state.expose())
                .append_pair("code_challenge", pkce.challenge())
                .append_pair("code_challenge_method", "S256");
            if let Some(resource) = resource {
                query.append_pair("resource", resource);
            }
        }
        let iss_required = self.metadata().is_some_and(|m| {
            m.extra
                .get("authorization_response_iss_parameter_supported")
                .and_then(Value::as_bool)
                == Some(true)
        });
        Ok(AuthorizationRequest {
            url,
            state,
            pkce,
            redirect_uri: redirect_uri.to_owned(),
            resource: resource.map(str::to_owned),
            issuer: self.server_url().to_owned(),
            iss_required,
        })
    }

    /// Checks the `callback` of `request` ([`AuthorizationRequest::code_from_callback`]) and
    /// redeems its code with the PKCE verifier, the redirect URI and the resource: tokens,
    /// including a refresh token. Nothing is sent when the callback fails its checks.
    pub async fn exchange_authorization_code(
        &self,
        creds: &ClientCredentials,
        request: &AuthorizationRequest,
        callback: &str,
    ) -> Result<TokenResponse, ClientError> {
        let code = request.code_from_callback(callback)?;
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.expose().to_owned()),
            ("code_verifier", request.pkce.verifier().expose().to_owned()),
            ("redirect_uri", request.redirect_uri.clone()),
        ];
        if let Some(resource) = &request.resource {
            form.push(("resource", resource.clone()));
        }
        self.code_grant(creds, form).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> AuthorizationRequest {
        AgentAuthClient::new("https://as.example")
            .unwrap()
            .authorization_request(
                "app",
                "https://app.example/cb",
                "read",
                Some("https://rs.example"),
            )
            .unwrap()
    }

    #[test]
    fn the_url_carries_state_pkce_and_resource() {
        let r = request();
        let url = url::Url::parse(r.url()).unwrap();
        let get = |k: &str| {
            url.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(get("state").as_deref(), Some(r.state().expose()));
        assert_eq!(r.state().expose().len(), 43);
        assert_eq!(get("resource").as_deref(), Some("https://rs.example"));
        assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
        assert!(!format!("{r:?}").contains(r.state().expose()));
    }

    #[test]
    fn callbacks_are_checked() {
        let r = request();
        let state = r.state().expose().to_owned();
        let ok =
            format!("https://app.example/cb?code=c1&state={state}&iss=https%3A%2F%2Fas.example");
        assert_eq!(r.code_from_callback(&ok).unwrap().expose(), "c1");
        assert_eq!(
            r.code_from_callback(&format!("code=c1&state={state}"))
                .unwrap()
                .expose(),
            "c1"
        );
        for bad in [
            "code=c1".to_owned(),
            "code=c1&state=other".to_owned(),
            format!("code=c1&state={state}&iss=https%3A%2F%2Fevil.example"),
            format!("code=c1&code=c2&state={state}"),
            format!("error=access_denied&state={state}"),
            format!("state={state}"),
        ] {
            let err = r.code_from_callback(&bad).unwrap_err();
            assert_eq!(err.code(), "invalid_callback", "{bad}: {err}");
        }
    }
}
