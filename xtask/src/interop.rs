//! The real authgent-server as a test dependency: a pinned venv under `target/`, servers on
//! free loopback ports, stopped when the guard drops (success, failure or panic).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::proxy::Counter;

const SERVER_VERSION: &str = "0.3.4";
const SDK_VERSION: &str = "0.3.4";
/// The official MCP Python SDK, the client the MCP example is proven with.
const MCP_SDK_VERSION: &str = "2.3.0";

/// Cargo's target directory for this workspace, as `cargo metadata` reports it: `target/`
/// unless `CARGO_TARGET_DIR` or `build.target-dir` says otherwise (asked once per run).
pub(crate) fn target_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let out = Command::new("cargo")
            .args(["metadata", "--format-version", "1", "--no-deps", "--locked"])
            .current_dir(workspace_root())
            .stderr(Stdio::inherit())
            .output();
        let reported = out.ok().filter(|o| o.status.success()).and_then(|o| {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).ok()?;
            v["target_directory"].as_str().map(PathBuf::from)
        });
        reported.unwrap_or_else(|| workspace_root().join("target"))
    })
    .clone()
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Where installed test tools live (the interop venv, the MCP conformance suite): outside
/// `target/`, so a fresh clone on the same machine (CI's) finds them instead of installing
/// them again. `AUTHGENT_TOOLS_DIR`, else `$XDG_CACHE_HOME/authgent-rs`, else
/// `~/.cache/authgent-rs`. Each tool is checked against its pins before it is reused.
pub(crate) fn tools_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("AUTHGENT_TOOLS_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("authgent-rs")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/authgent-rs")))
        .unwrap_or_else(|| target_dir().join("tools"))
}

/// A venv with the pinned server and SDK (`<tools>/authgent-venv`); returns its python.
pub(crate) fn ensure_venv() -> Result<PathBuf, String> {
    let root = workspace_root();
    let venv = tools_dir().join("authgent-venv");
    let python = venv.join("bin/python");
    let check = format!(
        "from importlib.metadata import version as v; import sys; \
         sys.exit(0 if (v('authgent-server'), v('authgent'), v('mcp')) == ('{SERVER_VERSION}', '{SDK_VERSION}', '{MCP_SDK_VERSION}') else 1)"
    );
    let ready = |py: &Path| {
        Command::new(py)
            .args(["-c", &check])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready(&python) {
        return Ok(python);
    }
    let host = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let version_ok = Command::new(&host)
        .args([
            "-c",
            "import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)",
        ])
        .status();
    match version_ok {
        Ok(s) if s.success() => {}
        Ok(_) => {
            return Err(format!(
                "authgent-server needs Python 3.11+; `{host}` is older (set PYTHON=...)"
            ));
        }
        Err(_) => {
            return Err(format!(
                "`{host}` not found: install Python 3.11+ with pip (e.g. apt-get install python3 python3-venv python3-pip)"
            ));
        }
    }
    eprintln!(
        "==> xtask: installing authgent-server=={SERVER_VERSION}, authgent=={SDK_VERSION} and mcp=={MCP_SDK_VERSION} into {}",
        venv.display()
    );
    let _ = std::fs::remove_dir_all(&venv);
    let made = Command::new(&host)
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    if !made || !venv.join("bin/pip").exists() {
        return Err(format!(
            "`{host} -m venv` failed: install the venv module (apt-get install python3-venv)"
        ));
    }
    let lock = root.join("interop/requirements.lock");
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-c",
        ])
        .arg(&lock)
        .args([
            format!("authgent-server=={SERVER_VERSION}"),
            format!("authgent=={SDK_VERSION}"),
            format!("mcp=={MCP_SDK_VERSION}"),
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !installed || !ready(&python) {
        return Err("pip could not install authgent-server; is PyPI reachable?".into());
    }
    Ok(python)
}

/// A running authgent-server; stopped (and its children reaped) on drop.
pub(crate) struct Server {
    pub(crate) name: &'static str,
    pub(crate) url: String,
    pub(crate) env_file: PathBuf,
    /// File with the number of JWKS requests seen by the proxy (when proxied).
    pub(crate) jwks_counts: PathBuf,
    /// File with the number of `POST /token` requests seen by the proxy (when proxied).
    pub(crate) token_counts: PathBuf,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                eprintln!("==> xtask: stopped authgent-server {}", self.name);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Status of `GET http://127.0.0.1:{port}{path}`, if anything answered.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 16];
    let n = stream.read(&mut head).ok()?;
    std::str::from_utf8(&head[..n])
        .ok()?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

/// Starts `authgent-server run` on a free port with a fresh database, waiting for `/ready`.
/// With `proxied`, a JWKS-counting proxy fronts it and is its public URL (= token `iss`).
pub(crate) fn start(
    python: &Path,
    name: &'static str,
    extra_env: &[(&str, &str)],
    proxied: bool,
) -> Result<Server, String> {
    let port = free_port()?;
    let data = target_dir().join("authgent-interop").join(name);
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let jwks_counts = data.join("jwks_fetches");
    let token_counts = data.join("token_requests");
    let url = if proxied {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let proxy = listener.local_addr().map_err(|e| e.to_string())?;
        let counters = vec![
            Counter::new(b"GET /.well-known/jwks.json ", jwks_counts.clone()),
            Counter::new(b"POST /token ", token_counts.clone()),
        ];
        crate::proxy::start(listener, port, counters);
        format!("http://{proxy}")
    } else {
        format!("http://127.0.0.1:{port}")
    };
    let secret = Command::new(python)
        .args(["-c", "import secrets; print(secrets.token_hex(32))"])
        .output()
        .map_err(|e| e.to_string())?;
    let secret = String::from_utf8_lossy(&secret.stdout).trim().to_owned();
    let mut env: Vec<(String, String)> = vec![
        ("AUTHGENT_SECRET_KEY".into(), secret),
        (
            "AUTHGENT_DATABASE_URL".into(),
            format!("sqlite+aiosqlite:///{}/authgent.db", data.display()),
        ),
        ("AUTHGENT_SERVER_URL".into(), url.clone()),
        ("AUTHGENT_REGISTRATION_POLICY".into(), "open".into()),
        ("AUTHGENT_CONSENT_MODE".into(), "auto_approve".into()),
        ("AUTHGENT_TOKEN_RATE_LIMIT".into(), "100000".into()),
        (
            "AUTHGENT_TRUSTED_CHAINING_ISSUERS".into(),
            format!("[\"{url}\"]"),
        ),
    ];
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let env_file = data.join("server.env");
    let exports: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(&env_file, exports).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(data.join("server.log")).map_err(|e| e.to_string())?;
    let bin = python.with_file_name("authgent-server");
    let child = Command::new(&bin)
        .args(["run", "--host", "127.0.0.1", "--port", &port.to_string()])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(&data)
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
    let mut server = Server {
        name,
        url,
        env_file,
        jwks_counts,
        token_counts,
        child,
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if http_status(port, "/ready") == Some(200) {
            eprintln!("==> xtask: authgent-server {name} ready at {}", server.url);
            return Ok(server);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!(
                "authgent-server {name} exited ({status}); see {}/server.log",
                data.display()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "authgent-server {name} not ready after 90 s; see {}/server.log",
                data.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A static OIDC "IdP" for human-rooted chains: `python -m http.server` over a directory
/// holding `.well-known/openid-configuration`; tests put the signing key's
/// `.well-known/jwks.json` there and mint id_tokens themselves. Stopped on drop.
pub(crate) struct Idp {
    pub(crate) url: String,
    pub(crate) dir: PathBuf,
    child: Child,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_idp(python: &Path) -> Result<Idp, String> {
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let dir = target_dir().join("authgent-interop/idp");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(".well-known")).map_err(|e| e.to_string())?;
    let config = format!(r#"{{"issuer":"{url}","jwks_uri":"{url}/.well-known/jwks.json"}}"#);
    std::fs::write(dir.join(".well-known/openid-configuration"), config)
        .map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.join("idp.log")).map_err(|e| e.to_string())?;
    let child = Command::new(python)
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(&dir)
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start the test IdP: {e}"))?;
    let idp = Idp { url, dir, child };
    let deadline = Instant::now() + Duration::from_secs(30);
    while http_status(port, "/.well-known/openid-configuration") != Some(200) {
        if Instant::now() > deadline {
            return Err("the test IdP did not start".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(idp)
}
