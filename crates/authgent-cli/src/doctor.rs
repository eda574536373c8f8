//! `authgent doctor`: probes a live resource or MCP server the way clients will use it and
//! reports, check by check, what they will trip over.

use std::fmt::Write as _;

use authgent_core::challenge::Challenge;
use serde_json::json;
use url::Url;

use authgent_core::metadata::ProtectedResourceMetadata;

use crate::metadata::{Discovered, authorization_server, discover};
use crate::{CliError, Fetcher, Outcome, exit};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Level {
    /// As clients expect.
    Ok,
    /// Works with some clients, or is unusual: worth a look.
    Warn,
    /// Clients will fail, or the server accepts what it must refuse.
    Fail,
    /// Not checked (say what would check it).
    Skip,
    /// Could not tell: the server answered 5xx, or could not be reached, where its answer
    /// was the verdict (exit code [`exit::INCONCLUSIVE`] when nothing failed).
    Unknown,
}

impl Level {
    fn marker(self) -> &'static str {
        match self {
            Level::Ok => "[ok]",
            Level::Warn => "[warn]",
            Level::Fail => "[FAIL]",
            Level::Skip => "[skip]",
            Level::Unknown => "[??]",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
            Level::Skip => "skip",
            Level::Unknown => "could not tell",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Finding {
    /// A stable name for the check (`metadata`, `resource`, `challenge`, `audience`, …).
    pub check: &'static str,
    /// How bad it is.
    pub level: Level,
    /// What was found.
    pub message: String,
    /// What to change, when something should change.
    pub fix: Option<String>,
}

/// What to probe besides the resource's metadata. `Debug` never shows the token.
///
/// ```
/// let options = authgent_cli::doctor::Options::default().path("/tools/search").token("eyJsecret");
/// assert!(!format!("{options:?}").contains("eyJsecret"));
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// The protected route to call without credentials (an absolute path on the resource's
    /// origin; default: the resource URL itself).
    pub path: Option<String>,
    /// An access token to try (one for this resource, or one for another audience, which
    /// must be refused).
    pub token: Option<String>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("path", &self.path)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Options {
    /// Probe `path` (e.g. `/tools/search`) instead of the resource URL.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Also try `token`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}

#[derive(Default)]
struct Report(Vec<Finding>);

impl Report {
    fn add(&mut self, check: &'static str, level: Level, message: impl Into<String>) {
        self.0.push(Finding {
            check,
            level,
            message: message.into(),
            fix: None,
        });
    }

    fn fix(
        &mut self,
        check: &'static str,
        level: Level,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.0.push(Finding {
            check,
            level,
            message: message.into(),
            fix: Some(fix.into()),
        });
    }
}

/// Probes `resource` (its RFC 9728 identifier: `https://api.example` or
/// `https://api.example/mcp`) and returns the findings; exit 1 when any is a failure, else
/// exit 4 when a verdict could not be had (a 5xx or no answer where the answer decides).
pub async fn doctor(
    fetcher: &Fetcher,
    resource: &str,
    options: &Options,
) -> Result<(Vec<Finding>, Outcome), CliError> {
    let parsed = Url::parse(resource)
        .map_err(|e| CliError::Input(format!("{resource:?} is not an absolute URL: {e}")))?;
    let mut report = Report::default();
    transport(&mut report, &parsed);
    let (well_known, document) = metadata(fetcher, &mut report, resource, &parsed).await?;
    let probe = match &options.path {
        Some(path) => {
            let mut url = parsed.clone();
            url.set_path(path);
            url.set_query(None);
            url.to_string()
        }
        None => resource.to_owned(),
    };
    challenge(fetcher, &mut report, &probe, &well_known, document.as_ref()).await?;
    match &options.token {
        Some(_) if !secure_transport(&parsed) => report.add(
            "audience",
            Level::Skip,
            "not sending the token over plain http off loopback",
        ),
        Some(token) => tokens(fetcher, &mut report, &probe, resource, token).await?,
        None => report.add(
            "audience",
            Level::Skip,
            "no --token given: pass one for another audience to check it is refused, or one \
             for this resource to check it is accepted",
        ),
    }
    Ok(render(resource, report.0))
}

/// `https`, or `http` on loopback: where a client may send a token (the agent side's rule).
fn secure_transport(url: &Url) -> bool {
    url.scheme() == "https" || (url.scheme() == "http" && authgent_client::is_loopback(url))
}

fn transport(report: &mut Report, url: &Url) {
    if !secure_transport(url) {
        report.fix(
            "transport",
            Level::Fail,
            "plain http off loopback: clients refuse to send tokens over it",
            "serve https (or terminate TLS in a proxy and set the external URL to https://…)",
        );
    }
}

/// The RFC 9728 checks: the URL the document was looked for at (the one the 401 must name)
/// and the document, when it is usable.
async fn metadata(
    fetcher: &Fetcher,
    report: &mut Report,
    resource: &str,
    url: &Url,
) -> Result<(String, Option<ProtectedResourceMetadata>), CliError> {
    let found = discover(fetcher, resource).await?;
    let well_known = found.url.clone();
    let document = check_document(fetcher, report, resource, url, found).await?;
    Ok((well_known, document))
}

async fn check_document(
    fetcher: &Fetcher,
    report: &mut Report,
    resource: &str,
    url: &Url,
    found: Discovered,
) -> Result<Option<ProtectedResourceMetadata>, CliError> {
    let document = match found.checked {
        Ok(doc) => {
            report.add(
                "metadata",
                Level::Ok,
                format!(
                    "RFC 9728 document at {} with resource = {resource}",
                    found.url
                ),
            );
            doc
        }
        Err(why) if found.status == 200 => {
            let served = found
                .raw
                .as_ref()
                .and_then(|r| r["resource"].as_str())
                .unwrap_or_default()
                .to_owned();
            resource_mismatch(report, resource, &served, &why);
            return Ok(None);
        }
        Err(why) => {
            let root = format!(
                "{}/.well-known/oauth-protected-resource",
                url.origin().ascii_serialization()
            );
            let at_root = url.path() != "/"
                && root != found.url
                && fetcher.get(&root).await.is_ok_and(|r| r.status == 200);
            if at_root {
                report.fix(
                    "metadata",
                    Level::Fail,
                    format!(
                        "no document at {} (served at the root {root} only)",
                        found.url
                    ),
                    "serve it at the path-inserted URL too (RFC 9728 §3.1; MCP clients look there)",
                );
            } else {
                report.fix(
                    "metadata",
                    Level::Fail,
                    why,
                    "serve the RFC 9728 document (authgent: resource_metadata_router(&auth) or McpAuth::router)",
                );
            }
            return Ok(None);
        }
    };
    if document.authorization_servers.is_empty() {
        report.fix(
            "authorization-servers",
            Level::Fail,
            "authorization_servers is empty: clients cannot find where to get a token",
            "name the issuer in the document",
        );
    }
    for issuer in &document.authorization_servers {
        match authorization_server(fetcher, issuer).await {
            Ok(Ok(_)) => report.add(
                "authorization-servers",
                Level::Ok,
                format!("authorization server {issuer}: RFC 8414 metadata, issuer matches"),
            ),
            Ok(Err(why)) => report.fix(
                "authorization-servers",
                Level::Fail,
                format!("authorization server {issuer}: {why}"),
                "authorization_servers must list issuer identifiers exactly as the issuer states them",
            ),
            Err(e) => report.add(
                "authorization-servers",
                Level::Fail,
                format!("authorization server {issuer} is unreachable: {e}"),
            ),
        }
    }
    Ok(Some(document))
}

fn resource_mismatch(report: &mut Report, resource: &str, served: &str, why: &str) {
    let trimmed = |s: &str| s.trim_end_matches('/').to_owned();
    let swapped = |s: &str| {
        s.strip_prefix("http://")
            .map(|rest| format!("https://{rest}"))
            .or_else(|| {
                s.strip_prefix("https://")
                    .map(|rest| format!("http://{rest}"))
            })
            .unwrap_or_default()
    };
    if trimmed(served) == trimmed(resource) {
        report.fix(
            "resource",
            Level::Fail,
            format!("trailing slash: the document says {served:?}, the URL is {resource:?}; clients compare exactly"),
            format!("use one spelling everywhere: the resource identifier clients are given must be exactly {served:?}"),
        );
    } else if trimmed(&swapped(served)) == trimmed(resource) {
        report.fix(
            "resource",
            Level::Fail,
            format!("scheme: the server thinks it is {served:?} but is reached at {resource:?} (behind a TLS proxy?)"),
            "set the external URL (PUBLIC_URL, Verifier::builder().external_url) to the URL clients use",
        );
    } else {
        report.fix(
            "resource",
            Level::Fail,
            why.to_owned(),
            "the document's `resource` must be the URL clients use for this resource",
        );
    }
}

async fn challenge(
    fetcher: &Fetcher,
    report: &mut Report,
    probe: &str,
    well_known: &str,
    document: Option<&ProtectedResourceMetadata>,
) -> Result<(), CliError> {
    let answer = match call(fetcher, probe, None).await {
        Ok(answer) if answer.status < 500 => answer,
        other => {
            report.fix(
                "challenge",
                Level::Unknown,
                format!("{probe} without credentials: {}", unanswered(&other)),
                "check that the server is up and healthy, then run doctor again",
            );
            return Ok(());
        }
    };
    if answer.status != 401 {
        report.fix(
            "challenge",
            Level::Warn,
            format!(
                "{probe} without credentials answered {}, not 401",
                answer.status
            ),
            "probe a protected route with --path (e.g. --path /tools/search)",
        );
        return Ok(());
    }
    let values = answer.header_all("www-authenticate");
    let mut challenges = Vec::new();
    for value in &values {
        match Challenge::parse_all(value) {
            Ok(parsed) => challenges.extend(parsed),
            Err(e) => report.fix(
                "challenge-syntax",
                Level::Fail,
                format!("WWW-Authenticate {value:?} does not parse: {e}"),
                "quote and escape parameter values (RFC 9110 §11.2: quoted-string, \\\" and \\\\)",
            ),
        }
    }
    let scheme = |c: &Challenge, s: &str| c.scheme().eq_ignore_ascii_case(s);
    let ours: Vec<&Challenge> = challenges
        .iter()
        .filter(|c| scheme(c, "Bearer") || scheme(c, "DPoP"))
        .collect();
    if ours.is_empty() {
        report.fix(
            "challenge",
            Level::Fail,
            format!("the 401 has no Bearer or DPoP challenge ({values:?})"),
            "answer 401 with `WWW-Authenticate: Bearer resource_metadata=\"…\"` (RFC 6750, RFC 9728 §5.1)",
        );
        return Ok(());
    }
    report.add(
        "challenge",
        Level::Ok,
        format!("{probe} without credentials: 401 with a challenge"),
    );
    match ours.iter().find_map(|c| c.get("resource_metadata")) {
        None => report.fix(
            "resource-metadata",
            Level::Fail,
            "the 401 names no resource_metadata: MCP clients cannot discover the authorization server",
            "add resource_metadata=\"<the RFC 9728 URL>\" to the challenge (authgent: AgentAuth derives it)",
        ),
        Some(named) if named == well_known => report.add(
            "resource-metadata",
            Level::Ok,
            format!("the 401 names resource_metadata {named}"),
        ),
        Some(named) => {
            let origin = |u: &str| Url::parse(u).map(|u| u.origin().ascii_serialization()).ok();
            let level = if origin(named) == origin(well_known) { Level::Warn } else { Level::Fail };
            report.fix(
                "resource-metadata",
                level,
                format!("the 401 names resource_metadata {named}, not {well_known}"),
                "name the document of this resource, on its own origin (clients refuse other origins)",
            );
        }
    }
    if let Some(error) = ours.iter().find_map(|c| c.get("error")) {
        report.fix(
            "challenge-error",
            Level::Warn,
            format!("the credential-less 401 carries error={error:?}"),
            "omit error= when the request had no credentials (RFC 6750 §3.1); clients read it as a bad token",
        );
    }
    // Compared with the metadata only when there is a usable document (else already a failure).
    let Some(document) = document else {
        return Ok(());
    };
    let advertised = !document.dpop_signing_alg_values_supported.is_empty();
    let dpop = ours.iter().find(|c| scheme(c, "DPoP"));
    match (advertised, dpop.and_then(|c| c.get("algs"))) {
        (true, Some(algs)) => report.add(
            "dpop",
            Level::Ok,
            format!("DPoP challenge with algs=\"{algs}\""),
        ),
        (true, None) => report.fix(
            "dpop",
            Level::Warn,
            "the metadata advertises DPoP algorithms but the 401 has no `DPoP algs=…` challenge",
            "add a DPoP challenge with algs (RFC 9449 §7.1)",
        ),
        (false, Some(_)) => report.add(
            "dpop",
            Level::Warn,
            "the 401 offers DPoP but the metadata lists no dpop_signing_alg_values_supported",
        ),
        (false, None) => {}
    }
    Ok(())
}

async fn tokens(
    fetcher: &Fetcher,
    report: &mut Report,
    probe: &str,
    resource: &str,
    token: &str,
) -> Result<(), CliError> {
    let token = crate::inspect::strip_scheme(token.trim());
    let claims = crate::inspect::claims(token)?;
    if claims.confirmation_jkt().is_some() {
        report.add(
            "audience",
            Level::Skip,
            "the token is DPoP-bound: doctor sends bearer tokens only",
        );
        return Ok(());
    }
    let audiences = claims.audience();
    let for_us = audiences.iter().any(|a| a == resource);
    let answer = match call(fetcher, probe, Some(token)).await {
        Ok(answer) if answer.status < 500 => answer,
        other => {
            let check = if for_us { "token" } else { "audience" };
            report.fix(
                check,
                Level::Unknown,
                format!(
                    "could not tell whether the token (aud {audiences:?}) is accepted: {}",
                    unanswered(&other)
                ),
                "check that the server is up and healthy, then run doctor again",
            );
            return Ok(());
        }
    };
    if matches!(answer.status, 404 | 405) {
        report.fix(
            "token",
            Level::Skip,
            format!(
                "{probe} answered {} to GET and POST: nothing to try the token on",
                answer.status
            ),
            "pass --path with a protected route",
        );
        return Ok(());
    }
    let accepted = answer.status != 401;
    match (for_us, accepted) {
        (true, true) => report.add(
            "token",
            Level::Ok,
            format!("a token for this resource is accepted ({})", answer.status),
        ),
        (true, false) => {
            let why = answer.header_all("www-authenticate").join(", ");
            report.fix(
                "token",
                Level::Fail,
                format!("a token whose aud is this resource is refused: {why}"),
                "check the issuer and audience the server is configured with (server logs at debug level say why)",
            );
        }
        (false, false) => report.add(
            "audience",
            Level::Ok,
            format!("a token for another audience ({audiences:?}) is refused"),
        ),
        (false, true) => report.fix(
            "audience",
            Level::Fail,
            format!(
                "a token for another audience ({audiences:?}) is accepted ({}): any service's token works here",
                answer.status
            ),
            "require this resource as the audience (authgent: Verifier::builder().audience(…))",
        ),
    }
    if accepted {
        let broken = break_signature(token);
        let forged = match call(fetcher, probe, Some(&broken)).await {
            Ok(answer) if answer.status < 500 => answer,
            other => {
                report.fix(
                    "signature",
                    Level::Unknown,
                    format!(
                        "could not tell whether a broken signature is refused: {}",
                        unanswered(&other)
                    ),
                    "check that the server is up and healthy, then run doctor again",
                );
                return Ok(());
            }
        };
        if forged.status == 401 {
            report.add(
                "signature",
                Level::Ok,
                "the token with a broken signature is refused",
            );
        } else {
            report.fix(
                "signature",
                Level::Fail,
                format!(
                    "the token with a broken signature is accepted ({})",
                    forged.status
                ),
                "verify signatures: never decode a token without verifying it",
            );
        }
    }
    Ok(())
}

/// Why an answer (5xx) or its absence (a transport error) tells nothing.
fn unanswered(answer: &Result<crate::net::Fetched, CliError>) -> String {
    match answer {
        Ok(answer) => format!("the server answered {} (a server error)", answer.status),
        Err(e) => format!("no answer ({e})"),
    }
}

/// The token with its signature's first character changed (still base64url).
fn break_signature(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').unwrap_or((token, ""));
    let mut chars: Vec<char> = signature.chars().collect();
    if let Some(first) = chars.first_mut() {
        *first = if *first == 'A' { 'B' } else { 'A' };
    }
    format!("{signed}.{}", chars.into_iter().collect::<String>())
}

/// A request as a client makes it: `GET`, and for a route that does not take it (an MCP
/// endpoint, a tool: `405`, or `404` where routes are matched by method) a JSON-RPC request by
/// `POST` as an MCP client of the current revision sends it — `server/discover` with
/// `MCP-Protocol-Version: 2026-07-28` and `Mcp-Method` (SEP-2243, SEP-2567) — then, when the
/// server does not speak that revision (`400`, `404`, `405`, `415`), an `initialize` of
/// 2025-06-18 as older clients do.
async fn call(
    fetcher: &Fetcher,
    url: &str,
    token: Option<&str>,
) -> Result<crate::net::Fetched, CliError> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("accept", "application/json, text/event-stream")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    let got = fetcher.send("GET", url, &headers, None).await?;
    // 405, or 404 from frameworks that route by method (Rocket): the route takes POST.
    if !matches!(got.status, 404 | 405) {
        return Ok(got);
    }
    headers.push(("content-type", "application/json"));
    let mut current = headers.clone();
    current.extend([
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "server/discover"),
    ]);
    let discover = r#"{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"authgent-doctor","version":"1"}}}}"#;
    let got = fetcher.send("POST", url, &current, Some(discover)).await?;
    if !matches!(got.status, 400 | 404 | 405 | 415) {
        return Ok(got);
    }
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"authgent-doctor","version":"1"}}}"#;
    fetcher.send("POST", url, &headers, Some(body)).await
}

fn render(resource: &str, findings: Vec<Finding>) -> (Vec<Finding>, Outcome) {
    let mut text = format!("authgent doctor {resource}\n");
    for f in &findings {
        let _ = writeln!(text, "{} {}: {}", f.level.marker(), f.check, f.message);
        if let Some(fix) = &f.fix {
            let _ = writeln!(text, "       fix: {fix}");
        }
    }
    let fails = findings.iter().filter(|f| f.level == Level::Fail).count();
    let warns = findings.iter().filter(|f| f.level == Level::Warn).count();
    let unknown = findings
        .iter()
        .filter(|f| f.level == Level::Unknown)
        .count();
    let _ = write!(text, "{fails} failure(s), {warns} warning(s)");
    if unknown > 0 {
        let _ = write!(text, ", {unknown} could not tell");
    }
    text.push('\n');
    let json = json!({
        "resource": resource,
        "clean": fails == 0 && warns == 0 && unknown == 0,
        "failures": fails,
        "warnings": warns,
        "could_not_tell": unknown,
        "findings": findings.iter().map(|f| json!({
            "check": f.check, "level": f.level.name(), "message": f.message, "fix": f.fix,
        })).collect::<Vec<_>>(),
    });
    let github = github_annotations(resource, &findings, fails, warns, unknown);
    let code = match (fails, unknown) {
        (0, 0) => exit::OK,
        (0, _) => exit::INCONCLUSIVE,
        _ => exit::REFUSED,
    };
    (findings, Outcome::new(text, json, code).with_github(github))
}

/// The findings as GitHub Actions workflow commands: `::error` for a failure, `::warning` for
/// a warning or a could-not-tell, titled with the check's stable id; ok and skipped checks as
/// one `::notice` summary.
fn github_annotations(
    resource: &str,
    findings: &[Finding],
    fails: usize,
    warns: usize,
    unknown: usize,
) -> String {
    // Workflow-command escaping: data (%, CR, LF), and properties (also : and ,).
    let data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    let mut out = String::new();
    for f in findings {
        let command = match f.level {
            Level::Fail => "error",
            Level::Warn | Level::Unknown => "warning",
            Level::Ok | Level::Skip => continue,
        };
        let mut message = f.message.clone();
        if let Some(fix) = &f.fix {
            message.push_str(" — fix: ");
            message.push_str(fix);
        }
        let title = property(&format!("authgent doctor {}", f.check));
        let _ = writeln!(out, "::{command} title={title}::{}", data(&message));
    }
    let _ = writeln!(
        out,
        "::notice title=authgent doctor::{}",
        data(&format!(
            "{resource}: {fails} failure(s), {warns} warning(s), {unknown} could not tell"
        ))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_go_over_https_or_loopback_only() {
        let ok = |u: &str| secure_transport(&Url::parse(u).unwrap());
        assert!(ok("https://api.example/mcp"));
        assert!(ok("http://127.0.0.1:3000"));
        assert!(ok("http://localhost:3000/mcp"));
        assert!(ok("http://[::1]:3000"));
        assert!(!ok("http://api.example/mcp"));
        assert!(!ok("http://127.0.0.1.nip.io"));
    }

    #[test]
    fn a_broken_signature_differs_and_stays_base64url() {
        assert_eq!(break_signature("a.b.Axyz"), "a.b.Bxyz");
        assert_eq!(break_signature("a.b.xyz"), "a.b.Ayz");
    }

    #[test]
    fn resource_mismatches_are_named_for_what_they_are() {
        let mut r = Report::default();
        resource_mismatch(
            &mut r,
            "https://api.example/mcp",
            "https://api.example/mcp/",
            "x",
        );
        resource_mismatch(
            &mut r,
            "https://api.example/mcp",
            "http://api.example/mcp",
            "x",
        );
        resource_mismatch(
            &mut r,
            "https://api.example/mcp",
            "https://other.example",
            "x",
        );
        assert!(r.0[0].message.starts_with("trailing slash"));
        assert!(r.0[1].message.starts_with("scheme"));
        assert_eq!(r.0[2].message, "x");
    }
}
