//! A byte-level TCP proxy in front of the default server that counts requests, so black-box
//! tests can assert fetch counts against the real server: "at most one JWKS fetch per
//! cooldown" (verifier side) and "one token request for many concurrent callers" (client
//! side).
//!
//! It forwards bytes unchanged and counts request lines (`GET /.well-known/jwks.json `,
//! `POST /token `) in the client-to-server stream (the patterns cannot occur inside the form
//! and JSON bodies tests send), writing each running count to its file.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A request line to count, its running count and the file that holds it.
pub(crate) struct Counter {
    pattern: &'static [u8],
    count: AtomicU64,
    file: PathBuf,
}

impl Counter {
    pub(crate) fn new(pattern: &'static [u8], file: PathBuf) -> Self {
        let _ = std::fs::write(&file, "0");
        Counter {
            pattern,
            count: AtomicU64::new(0),
            file,
        }
    }
}

/// Starts the proxy on `listener`, forwarding to `127.0.0.1:{upstream}`; runs until xtask ends.
pub(crate) fn start(listener: TcpListener, upstream: u16, counters: Vec<Counter>) {
    let counters = Arc::new(counters);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let counters = Arc::clone(&counters);
            let (Ok(client_read), Ok(server_write)) = (client.try_clone(), server.try_clone())
            else {
                continue;
            };
            std::thread::spawn(move || pump_counting(client_read, server_write, &counters));
            std::thread::spawn(move || pump(server, client));
        }
    });
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

fn pump_counting(mut from: TcpStream, mut to: TcpStream, counters: &[Counter]) {
    let mut buf = [0u8; 16 * 1024];
    let longest = counters.iter().map(|c| c.pattern.len()).max().unwrap_or(1);
    // The last longest-1 bytes of the previous read, so a split pattern is still seen; a
    // shorter pattern wholly inside that tail was counted already and is skipped.
    let mut window: Vec<u8> = Vec::with_capacity(longest * 2 + buf.len());
    let mut carried = 0;
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
        window.extend_from_slice(&buf[..n]);
        for counter in counters {
            let p = counter.pattern;
            let found = window
                .windows(p.len())
                .enumerate()
                .filter(|(i, w)| *w == p && i + p.len() > carried)
                .count() as u64;
            if found > 0 {
                let total = counter.count.fetch_add(found, Ordering::SeqCst) + found;
                let _ = std::fs::write(&counter.file, total.to_string());
            }
        }
        let keep = window.len().min(longest - 1);
        window.drain(..window.len() - keep);
        carried = keep;
    }
    let _ = to.shutdown(Shutdown::Write);
}
