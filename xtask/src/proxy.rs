//! A byte-level TCP proxy in front of the default server that counts JWKS requests, so
//! black-box tests can assert "at most one JWKS fetch per cooldown" against the real server.
//!
//! It forwards bytes unchanged and counts request lines `GET /.well-known/jwks.json ` in the
//! client-to-server stream (the pattern cannot occur inside the form and JSON bodies tests
//! send), writing the running count to a file.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const PATTERN: &[u8] = b"GET /.well-known/jwks.json ";

/// Starts the proxy on `listener`, forwarding to `127.0.0.1:{upstream}`; runs until xtask ends.
pub(crate) fn start(listener: TcpListener, upstream: u16, counts: PathBuf) {
    let count = Arc::new(AtomicU64::new(0));
    let _ = std::fs::write(&counts, "0");
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let (count, counts) = (Arc::clone(&count), counts.clone());
            let (Ok(client_read), Ok(server_write)) = (client.try_clone(), server.try_clone())
            else {
                continue;
            };
            std::thread::spawn(move || pump_counting(client_read, server_write, &count, &counts));
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

fn pump_counting(mut from: TcpStream, mut to: TcpStream, count: &AtomicU64, counts: &PathBuf) {
    let mut buf = [0u8; 16 * 1024];
    // The last PATTERN.len()-1 bytes of the previous read, so a split pattern is still seen.
    let mut window: Vec<u8> = Vec::with_capacity(PATTERN.len() * 2 + buf.len());
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
        window.extend_from_slice(&buf[..n]);
        let found = window
            .windows(PATTERN.len())
            .filter(|w| *w == PATTERN)
            .count() as u64;
        if found > 0 {
            let total = count.fetch_add(found, Ordering::SeqCst) + found;
            let _ = std::fs::write(counts, total.to_string());
        }
        let keep = window.len().min(PATTERN.len() - 1);
        window.drain(..window.len() - keep);
    }
    let _ = to.shutdown(Shutdown::Write);
}
