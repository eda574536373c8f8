//! The MCP request decision (issue 24): body bytes and the SEP-2243 / version headers through
//! `McpHeaders::from_values`, `ToolPolicy::inspect_request` and `check`. No input may panic,
//! an accepted request's scopes are decided, and a header refusal's JSON-RPC answer is valid
//! JSON with the code -32020.
#![no_main]

use authgent_core::mcp::{HEADER_MISMATCH, McpHeaders, ToolPolicy, header_error_body};
use libfuzzer_sys::fuzz_target;

/// A header sent once (when not empty), as `from_values` takes it.
fn one(part: Option<&[u8]>) -> Vec<&[u8]> {
    part.filter(|v| !v.is_empty()).map(|v| vec![v]).unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    // Layout: three header values separated by 0xff, then the body after a second 0xfe.
    let (headers, body) = match data.iter().position(|&b| b == 0xfe) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let mut parts = headers.split(|&b| b == 0xff);
    let (method, name, version) = (one(parts.next()), one(parts.next()), one(parts.next()));
    let policy = ToolPolicy::builder()
        .tool("deploy", ["deploy:run"])
        .prompt("incident_report", ["reports:read"])
        .resource("file:///payroll/*", ["payroll:read"])
        .covers("admin", ["deploy:run", "reports:read", "payroll:read"])
        .max_batch(8)
        .build();
    let headers = match McpHeaders::from_values(&method, &name, &version) {
        Ok(headers) => headers,
        Err(error) => return answered(&error, body),
    };
    let decided = policy.inspect_request(body, &headers);
    if let Err(error) = &decided {
        answered(error, body);
    }
    if let Ok(request) = decided {
        let _ = policy.check(&request, &["admin"]);
        let refused = policy.check(&request, &[] as &[&str]);
        if request.tools.is_empty() && request.prompts.is_empty() && request.resources.is_empty() {
            assert!(refused.is_ok(), "nothing called, nothing needed");
        }
    }
});

/// A header refusal's body is one JSON-RPC error response with the HeaderMismatch code.
fn answered(error: &authgent_core::RequestError, body: &[u8]) {
    if let Some(answer) = header_error_body(error, body) {
        let answer: serde_json::Value = serde_json::from_slice(&answer).expect("valid JSON");
        assert_eq!(answer["error"]["code"], HEADER_MISMATCH);
        assert!(answer["id"].is_null() || answer["id"].is_string() || answer["id"].is_i64() || answer["id"].is_u64());
    }
}
