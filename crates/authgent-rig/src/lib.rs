#![forbid(unsafe_code)]
// Published API: public enums and structs stay extensible (a new variant or field is not a
// breaking change).
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
//! authgent for [rig](https://docs.rs/rig-core) agents — the Rust counterpart of the Python
//! SDK's `authgent.adapters.langchain`.
//!
//! - [`AgentTools`] is the agent's side of authgent for its tools: its client credentials and
//!   DPoP key (an `authgent_client::TokenManager`) and the scopes it may step up to.
//! - [`RunContext`] says on whose behalf a run acts: the user whose request started it (their
//!   verified identity and token, as the agent's service received them), the agent, and the
//!   delegation chain so far. Hand it to the run with
//!   [`RunContext::tool_context`] (rig's `AgentRunner::tool_context`).
//! - [`authorize`] turns an [`HttpTool`] — a tool that calls one HTTP service — into a rig
//!   [`Tool`](rig_core::tool::Tool) that sends its requests with a token for that service:
//!   exchanged (RFC 8693) from the user's token, so the service sees the user as subject and
//!   this agent as the current actor, or the agent's own when the run acts for no one;
//!   DPoP-bound when the agent has a key; stepping up once on a `403 insufficient_scope`
//!   within the agent's policy. The user's token is never sent to a service.
//! - [`McpTools`] makes the tools of an authgent-protected MCP server rig tools for one run,
//!   with the same tokens (rig's own MCP adapter is on rmcp 2; authgent's MCP client on
//!   rmcp 3).
//! - Every request a tool sends is one audit event ([`authgent_core::audit::AuditEvent`], target
//!   `authgent::audit`, and the run's audit sink): the tool, the service's answer, the user and
//!   the chain the service saw.

mod http;
mod mcp;
mod run;
mod tool;

pub use http::{AgentTools, ToolError, ToolHttp};
pub use mcp::McpTools;
pub use run::RunContext;
pub use tool::{Authorized, HttpTool, authorize};
