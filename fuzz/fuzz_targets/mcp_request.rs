//! The MCP request decision (issue 24): body bytes and the SEP-2243 / version headers through
//! `McpHeaders::from_values`, `ToolPolicy::inspect_request` and `check`. No input may panic,
//! and an accepted request's scopes are decided.
#![no_main]

use authgent_core::mcp::{McpHeaders, ToolPolicy};
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
    let Ok(headers) = McpHeaders::from_values(&method, &name, &version) else {
        return;
    };
    if let Ok(request) = policy.inspect_request(body, &headers) {
        let _ = policy.check(&request, &["admin"]);
        let refused = policy.check(&request, &[] as &[&str]);
        if request.tools.is_empty() && request.prompts.is_empty() && request.resources.is_empty() {
            assert!(refused.is_ok(), "nothing called, nothing needed");
        }
    }
});
