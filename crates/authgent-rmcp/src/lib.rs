#![forbid(unsafe_code)]
// Published API: public enums and structs stay extensible (a new variant or field is not a
// breaking change).
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
//! MCP servers on [rmcp](https://docs.rs/rmcp), the Rust MCP SDK, protected by **authgent**.
//!
//! rmcp serves MCP over streamable HTTP on tower but authorizes nothing. [`McpAuth`] mounts
//! its `StreamableHttpService` on axum the way the MCP authorization spec asks of a tool
//! server:
//!
//! - every request's token checked — signature, issuer, **audience = the MCP endpoint URL**,
//!   expiry, DPoP proof (`htu` = the endpoint) — with `401` challenges carrying
//!   `resource_metadata` (and no `error=` when no credentials came);
//! - **per-tool requirements decided at the HTTP level before dispatch**: the JSON-RPC body is
//!   read (bounded, strict JSON), `Mcp-Method`/`Mcp-Name` must agree with it, a batch needs
//!   every call's scopes, and a call without its tool's scopes is `403
//!   insufficient_scope` naming them — a challenge an MCP client can step up from, not a
//!   JSON-RPC error inside a `200`;
//! - the RFC 9728 document at the path-inserted well-known URL and the root form;
//! - sessions bound to the caller who created them;
//! - the caller inside the tool, as a parameter: [`AgentIdentity`] (chain, scopes, DPoP
//!   `jkt`), and an audit line per tool call (subject, current actor, depth; never the token).
//!
//! ```no_run
//! use authgent_rmcp::{AgentIdentity, McpAuth};
//! use rmcp::{ServerHandler, tool, tool_handler, tool_router, handler::server::tool::ToolRouter};
//! use rmcp::transport::streamable_http_server::{StreamableHttpService, session::local::LocalSessionManager};
//!
//! #[derive(Clone)]
//! struct Tools { tool_router: ToolRouter<Self> }
//!
//! #[tool_router]
//! impl Tools {
//!     #[tool(description = "Delete a table's records")]
//!     async fn delete_records(&self, caller: AgentIdentity) -> String {
//!         let chain = caller.delegation_chain();
//!         format!("deleted for {} (current actor {:?})", caller.subject(),
//!             chain.current_actor().map(|a| a.subject()))
//!     }
//! }
//! #[tool_handler(router = self.tool_router)]
//! impl ServerHandler for Tools {}
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = authgent_jwks::Verifier::builder()
//!     .issuer("https://auth.example.com")
//!     .audience("https://tools.example.com/mcp")
//!     .external_url("https://tools.example.com")
//!     .build()?;
//! let mcp = McpAuth::builder(authgent_jwks::AgentAuth::builder(verifier).build()?)
//!     .tool("delete_records", ["db:delete"])
//!     .build()?;
//! let service = StreamableHttpService::new(
//!     || Ok(Tools { tool_router: Tools::tool_router() }),
//!     LocalSessionManager::default().into(),
//!     mcp.server_config(),
//! );
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, mcp.router(service)).await?;
//! # Ok(()) }
//! ```
//!
//! **No token passthrough**: a tool that calls another service on the caller's behalf
//! exchanges the caller's token (RFC 8693, one more `act` level) through
//! `authgent_client::TokenManager::send_on_behalf`, with
//! [`AuthContext::subject_token`](authgent_jwks::AuthContext::subject_token) as the subject;
//! it never forwards the caller's token (MCP authorization, "token passthrough"). See
//! `docs/mcp.md`.

#[cfg(feature = "client")]
pub mod client;
mod identity;
mod server;
mod session;
mod state;
mod stream;
mod tasks;

pub use authgent_jwks::{AgentAuth, AuthContext, Caller, Guard};
pub use identity::{AgentIdentity, auth_context, caller, tool_span};
pub use server::{McpAuth, McpAuthBuilder};
pub use state::CallerState;
pub use tasks::CallerTasks;
