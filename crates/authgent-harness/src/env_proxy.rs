//! A proxy that only counts, for the tests that a credential never reaches a proxy named by the
//! environment (issue 23): the client under test runs in a child process (setting the
//! variables in the test's own process would need `unsafe`) with every proxy variable naming
//! this listener, which answers each connection `502` and counts it.

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The variables reqwest (and curl-like tools) read a proxy from.
pub const PROXY_VARIABLES: [&str; 6] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// A loopback listener that counts the connections it gets.
#[derive(Debug)]
pub struct CountingProxy {
    url: String,
    seen: Arc<AtomicUsize>,
}

impl CountingProxy {
    /// Listens on a free loopback port, for as long as the test process lives.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&seen);
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
            }
        });
        CountingProxy { url, seen }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many connections reached the proxy.
    pub fn connections(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }

    /// `command` with every proxy variable naming this proxy and no `NO_PROXY`.
    pub fn environment<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command.env_remove("NO_PROXY").env_remove("no_proxy");
        for name in PROXY_VARIABLES {
            command.env(name, &self.url);
        }
        command
    }

    /// Runs the test `test` of the current test binary again, in a child process with
    /// `marker` set and the proxy variables naming this proxy; panics with the child's output
    /// when it fails. The test checks `marker` to know it is the child.
    pub fn run_child_test(&self, test: &str, marker: &str) {
        let exe = std::env::current_exe().expect("the test binary");
        let mut child = Command::new(exe);
        child
            .args(["--exact", test, "--test-threads", "1", "--nocapture"])
            .env(marker, "1");
        let out = self
            .environment(&mut child)
            .output()
            .expect("the child test");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
