//! The HTTP the network commands do: no redirects followed (a client must not be sent
//! elsewhere with credentials), bounded time, and under `-v` each request said on stderr.

use std::time::Duration;

use crate::CliError;

/// One response, read whole.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Fetched {
    /// Every value of `name`, as text.
    pub(crate) fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }
}

/// The HTTP client of the network commands.
#[derive(Clone, Debug)]
pub struct Fetcher {
    http: reqwest::Client,
    verbose: bool,
}

impl Fetcher {
    /// A client with a 10 s timeout that follows no redirect and uses no proxy from the
    /// environment; `verbose` reports each request on stderr.
    pub fn new(verbose: bool) -> Result<Self, CliError> {
        // No proxy from the environment: `--token` travels over loopback http, and an
        // `http_proxy` would receive it in clear.
        let http = authgent_client::credential_http_client()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("authgent-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::Network(format!("cannot build an HTTP client: {e}")))?;
        Ok(Fetcher { http, verbose })
    }

    pub(crate) fn say(&self, what: &str) {
        if self.verbose {
            eprintln!("authgent: {what}");
        }
    }

    /// Sends `method url` with `headers` and `body`; a failure to connect is a network error.
    pub(crate) async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Result<Fetched, CliError> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| CliError::Input(format!("{method:?} is not an HTTP method")))?;
        self.say(&format!("{method} {url}"));
        let mut request = self.http.request(method, url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.body(body.to_owned());
        }
        let response = request
            .send()
            .await
            .map_err(|e| CliError::Network(format!("{url}: {}", describe(&e))))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| CliError::Network(format!("{url}: reading the body: {e}")))?
            .to_vec();
        self.say(&format!("  -> {status}, {} bytes", body.len()));
        Ok(Fetched {
            status,
            headers,
            body,
        })
    }

    /// `GET url`.
    pub(crate) async fn get(&self, url: &str) -> Result<Fetched, CliError> {
        self.send("GET", url, &[("accept", "application/json")], None)
            .await
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "cannot connect (is it running, and is the URL right?)".into()
    } else if e.is_timeout() {
        "no answer within 10 s".into()
    } else if e.is_builder() {
        format!("not a usable URL: {e}")
    } else {
        e.to_string()
    }
}
