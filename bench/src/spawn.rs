//! The server under load: either a `tandem` process this run starts (on
//! 127.0.0.1, a random port, a temporary database; always stopped at the
//! end) or a running one on a loopback address.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::timeout;

/// A server to talk to.
pub struct Server {
    /// `ws://host:port`.
    pub ws_base: String,
    /// The HTTP address (same host and port).
    pub http: SocketAddr,
    /// Its pid, when known.
    pub pid: Option<u32>,
    /// The process, when this run started it (killed on drop).
    child: Option<Child>,
    /// Holds the temporary database directory while the server runs.
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts `binary` with a fresh database in a temporary directory,
    /// `RUST_LOG=warn`, no connection or message-rate limits (every
    /// simulated client comes from 127.0.0.1 and types as fast as it can),
    /// and `env` on top (`SQLITE_URI=none` turns persistence off); waits
    /// for its "listening on" line.
    pub async fn spawn(binary: &Path, env: &[(String, String)]) -> Result<Server, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let mut vars: Vec<(String, String)> = vec![
            ("BIND_ADDR".into(), "127.0.0.1".into()),
            ("PORT".into(), "0".into()),
            (
                "SQLITE_URI".into(),
                dir.path().join("tandem.db").to_string_lossy().into_owned(),
            ),
            ("RUST_LOG".into(), "warn".into()),
            // Every simulated client comes from 127.0.0.1: lift the
            // per-address and total connection limits (servers without
            // these settings ignore them).
            ("MAX_CONNECTIONS".into(), "0".into()),
            ("MAX_MESSAGES_PER_SECOND".into(), "0".into()),
            ("MAX_CURSOR_UPDATES_PER_SECOND".into(), "0".into()),
            ("MAX_CONNECTIONS_PER_IP".into(), "0".into()),
        ];
        for (k, v) in env {
            vars.retain(|(name, _)| name != k);
            vars.push((k.clone(), v.clone()));
        }
        let mut child = Command::new(binary)
            .env_clear()
            .envs(vars)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let pid = child.id();
        // The server's log goes to our stderr, marked.
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    eprintln!("[tandem] {line}");
                }
            });
        }
        let stdout = child.stdout.take().ok_or("no stdout of the server")?;
        let mut lines = BufReader::new(stdout).lines();
        let found = timeout(Duration::from_secs(20), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    return Some(rest.split('/').next().unwrap_or_default().to_owned());
                }
            }
            None
        })
        .await;
        let addr = match found {
            Ok(Some(addr)) => addr,
            Ok(None) => return Err("the server exited before listening".into()),
            Err(_) => return Err("the server did not listen within 20 s".into()),
        };
        // Keep draining stdout so that the server never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let port = addr
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .ok_or_else(|| format!("cannot read the port from {addr:?}"))?;
        let http = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        Ok(Server {
            ws_base: format!("ws://{http}"),
            http,
            pid,
            child: Some(child),
            _dir: Some(dir),
        })
    }

    /// A running server at `url` (already checked to be loopback).
    pub fn running(url: &str, pid: Option<u32>) -> Result<Server, String> {
        let authority = url.trim_start_matches("ws://");
        let http = authority
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {authority}: {e}"))?
            .find(|a| a.ip().is_loopback())
            .ok_or_else(|| format!("{authority} does not resolve to a loopback address"))?;
        Ok(Server {
            ws_base: url.to_owned(),
            http,
            pid,
            child: None,
            _dir: None,
        })
    }

    /// Stops a spawned server: SIGTERM, up to 15 s for its graceful
    /// shutdown, then SIGKILL. Returns how it ended (nothing for a server
    /// this run did not start).
    pub async fn stop(&mut self) -> Option<String> {
        let mut child = self.child.take()?;
        if let Some(pid) = child
            .id()
            .and_then(|p| rustix::process::Pid::from_raw(p as i32))
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        match timeout(Duration::from_secs(15), child.wait()).await {
            Ok(Ok(status)) => Some(status.to_string()),
            Ok(Err(e)) => Some(format!("wait failed: {e}")),
            Err(_) => {
                let _ = child.kill().await;
                Some("did not stop within 15 s of SIGTERM; killed".into())
            }
        }
    }
}
