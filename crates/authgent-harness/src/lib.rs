#![forbid(unsafe_code)]
//! This workspace's own test harness, kept out of the published `authgent-testkit`:
//!
//! - [`contract`]: the EXAMPLES.md black-box contract suite, run against every example server
//!   (and by the adapters' tests through it), plus process control for the examples;
//! - [`doctor`]: `authgent doctor` (the authgent-cli library) against each example: clean;
//! - [`mcp`]: the same for the MCP server example, spoken as an MCP client speaks;
//! - [`observability`]: audit lines and metrics of each example over HTTP (issue 27);
//! - [`oidc`]: panva's oidc-provider, the second authorization server, one per test;
//! - [`real_server`]: the real authgent-server instances `cargo xtask test` starts, as the
//!   interop tests find them (`AUTHGENT_INTEROP_*`);
//! - [`redis`]: a real `redis-server` per test, stoppable mid-run, for the replica tests.
//!
//! `publish = false`: none of this is API.

pub mod challenges;
pub mod contract;
pub mod doctor;
pub mod env_proxy;
pub mod mcp;
pub mod observability;
pub mod oidc;
pub mod real_server;
pub mod redis;
pub mod txn;
