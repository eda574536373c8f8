//! A real Redis server for the replica tests: `redis-server` (installed by `cargo xtask test`
//! when missing) on a free loopback port, nothing persisted, killed when dropped — and
//! stoppable and restartable on the same port, to test what the service does meanwhile.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` child process on `127.0.0.1`.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts `redis-server` (`AUTHGENT_REDIS_SERVER`, else `redis-server` on `PATH`) on a
    /// free port and waits until it answers `PING`. Panics with instructions when it cannot
    /// (this is for tests: they fail, never skip).
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Like [`start`](Self::start), with more `redis-server` arguments (e.g.
    /// `["--rename-command", "CONFIG", ""]` for a Redis like a managed one, without `CONFIG`).
    pub fn start_with(args: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let extra = args.iter().map(|a| (*a).to_owned()).collect();
        let mut server = RedisServer {
            port,
            child: None,
            extra,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash would) and waits for it to be gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty (nothing is persisted), and waits until
    /// it answers.
    pub fn restart(&mut self) {
        self.stop();
        let binary =
            std::env::var("AUTHGENT_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{binary}` ({e}): the replica tests need a real Redis; run them \
                     with `cargo xtask test`, which installs redis-server when it is missing"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.answers_ping() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {} within 20 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing answers, as with an
    /// overloaded or partitioned Redis. [`resume`](Self::resume) thaws it.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a [`pause`](Self::pause)d server (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self
            .child
            .as_ref()
            .map(Child::id)
            .expect("redis-server is running");
        let sent = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(sent, "kill {signal} {pid} failed");
    }

    /// Runs one command through `redis-cli` (next to `redis-server`) and returns its output,
    /// e.g. to look at the keys a store wrote.
    pub fn cli(&self, args: &[&str]) -> String {
        let cli = std::env::var_os("AUTHGENT_REDIS_SERVER").map_or_else(
            || std::path::PathBuf::from("redis-cli"),
            |server| std::path::PathBuf::from(server).with_file_name("redis-cli"),
        );
        let out = Command::new(&cli)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", cli.display()));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether the server answers `PING` now.
    pub fn answers_ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // a paused server cannot die until it is thawed
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.stop();
    }
}
