//! Interop tests against the real authgent-server live in `tests/`; `cargo xtask test` starts
//! the servers they need (see `README.md` beside this crate). This library is empty.
