//! Shared helper for the black-box server tests: starts the real `tandem`
//! binary on 127.0.0.1 with a port picked at run time, and talks to it
//! over WebSocket and HTTP like a browser would. Every wait is bounded.

#![allow(dead_code)] // each test file uses a different subset

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// A running `tandem` process. Killed when dropped.
pub struct Server {
    /// The process.
    child: Option<Child>,
    /// `host:port` it listens on.
    pub addr: String,
    /// The environment it was started with (to restart it identically).
    env: Vec<(String, String)>,
    /// Holds the database directory for the server's lifetime.
    pub dir: std::sync::Arc<tempfile::TempDir>,
}

impl Server {
    /// Starts a server with a fresh database in a temporary directory and
    /// `env` on top of the test defaults.
    pub async fn start(env: &[(&str, &str)]) -> Server {
        let dir = std::sync::Arc::new(tempfile::tempdir().expect("tempdir"));
        let mut vars: Vec<(String, String)> = vec![
            ("BIND_ADDR".into(), "127.0.0.1".into()),
            ("PORT".into(), "0".into()),
            (
                "SQLITE_URI".into(),
                dir.path().join("tandem.db").to_string_lossy().into_owned(),
            ),
            ("RUST_LOG".into(), "warn".into()),
        ];
        for (k, v) in env {
            vars.retain(|(name, _)| name != k);
            vars.push((k.to_string(), v.to_string()));
        }
        Server::spawn(vars, dir).await
    }

    async fn spawn(env: Vec<(String, String)>, dir: std::sync::Arc<tempfile::TempDir>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
        cmd.env_clear()
            .envs(env.iter().cloned())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start tandem");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let addr = timeout(WAIT, async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    return rest.split('/').next().unwrap_or_default().to_owned();
                }
            }
            panic!("tandem exited before listening");
        })
        .await
        .expect("tandem did not start in time");
        // Keep draining stdout so the process never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server {
            child: Some(child),
            addr,
            env,
            dir,
        }
    }

    /// `http://host:port` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().and_then(|c| c.id()).expect("running")
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.pid().to_string();
        let ok = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill");
        assert!(ok.success());
        let mut child = self.child.take().expect("running");
        timeout(WAIT, child.wait())
            .await
            .expect("tandem did not exit after SIGTERM")
            .expect("wait")
    }

    /// Kills the process with SIGKILL, like a crash or power loss.
    pub async fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().await.expect("kill -9");
    }

    /// Starts a new process with the same environment and database.
    pub async fn restart(&mut self) {
        if self.child.is_some() {
            self.kill().await;
        }
        let fresh = Server::spawn(self.env.clone(), self.dir.clone()).await;
        *self = fresh;
    }

    /// Opens a WebSocket to document `id` (with `?otp=` when given) and
    /// sends `Hello` with a fresh client identity.
    pub async fn join(&self, id: &str) -> Client {
        let mut c = self.connect(id, None).await.expect("connect");
        c.hello(None).await;
        c
    }

    /// Opens a WebSocket without saying Hello. `Err` carries the HTTP
    /// status and body of a refused upgrade.
    pub async fn connect(&self, id: &str, otp: Option<&str>) -> Result<Client, (u16, String)> {
        let mut url = format!("ws://{}/api/socket/{id}", self.addr);
        if let Some(otp) = otp {
            url.push_str(&format!("?otp={otp}"));
        }
        match timeout(WAIT, tokio_tungstenite::connect_async(url.as_str()))
            .await
            .expect("connect timed out")
        {
            Ok((ws, _)) => Ok(Client {
                ws,
                key: random_key(),
                user: None,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                let status = resp.status().as_u16();
                let body = resp
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                Err((status, body))
            }
            Err(e) => panic!("connect to {url}: {e}"),
        }
    }

    /// `GET /api/text/{id}`.
    pub async fn text(&self, id: &str) -> String {
        let (status, body) = self.http("GET", &format!("/api/text/{id}")).await;
        assert_eq!(status, 200, "GET /api/text/{id}: {body}");
        body
    }

    /// `GET /api/stats` as JSON.
    pub async fn stats(&self) -> Value {
        let (status, body) = self.http("GET", "/api/stats").await;
        assert_eq!(status, 200);
        serde_json::from_str(&body).expect("stats JSON")
    }

    /// One value from `/metrics`, e.g. `tandem_edits_total` or
    /// `tandem_closes_total{reason="malformed"}`.
    pub async fn metric(&self, name: &str) -> f64 {
        let (_, body) = self.http("GET", "/metrics").await;
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("metric {name} not found in:\n{body}"))
    }

    /// A minimal HTTP/1.1 request; returns status and body.
    pub async fn http(&self, method: &str, path: &str) -> (u16, String) {
        http(&self.addr, method, path).await
    }
}

/// A minimal HTTP/1.1 request to `addr`; returns status and body.
pub async fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    timeout(WAIT, async {
        let mut s = TcpStream::connect(addr).await.expect("tcp connect");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.expect("write");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.expect("read");
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        (status, if chunked { dechunk(body) } else { body.to_owned() })
    })
    .await
    .expect("HTTP request timed out")
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// A fresh random client identity (22 URL-safe characters).
pub fn random_key() -> String {
    use std::hash::{BuildHasher, RandomState};
    let a = RandomState::new().hash_one(1u8);
    let b = RandomState::new().hash_one(2u8);
    format!("k{a:016x}{b:05x}")[..22].to_owned()
}

/// A unique document id for a test.
pub fn doc_id(name: &str) -> String {
    format!("{name}-{}", &random_key()[1..9])
}

/// One WebSocket connection, speaking the protocol's JSON.
pub struct Client {
    /// The socket.
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// This client's identity (`Hello.client`).
    pub key: String,
    /// The user id from `Identity`, once received.
    pub user: Option<u64>,
}

impl Client {
    /// Sends `Hello` (with this client's key and `revision`), reads
    /// `Identity` and returns the catch-up message that follows it.
    pub async fn hello(&mut self, revision: Option<u64>) -> Value {
        let key = self.key.clone();
        self.send(json!({"Hello": {"client": key, "revision": revision}}))
            .await;
        let id = self.recv().await;
        self.user = Some(id["Identity"].as_u64().expect("Identity first"));
        self.recv().await
    }

    /// Sends a JSON message.
    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, s: &str) {
        timeout(WAIT, self.ws.send(Message::text(s)))
            .await
            .expect("send timed out")
            .expect("send");
    }

    /// Sends an edit.
    pub async fn edit(&mut self, revision: u64, seq: u64, operation: Value) {
        self.send(json!({"Edit": {"revision": revision, "seq": seq, "operation": operation}}))
            .await;
    }

    /// The next JSON message (pings skipped). Panics on close or timeout.
    pub async fn recv(&mut self) -> Value {
        match self.next().await {
            Incoming::Json(v) => v,
            Incoming::Closed(code, reason) => panic!("closed {code}: {reason}"),
        }
    }

    /// The next message or the close frame.
    pub async fn next(&mut self) -> Incoming {
        timeout(WAIT, async {
            loop {
                match self.ws.next().await {
                    None => return Incoming::Closed(1006, "no close frame".into()),
                    Some(Err(e)) => return Incoming::Closed(1006, e.to_string()),
                    Some(Ok(Message::Text(t))) => {
                        return Incoming::Json(serde_json::from_str(&t).expect("server sent JSON"))
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return match frame {
                            Some(f) => Incoming::Closed(u16::from(f.code), f.reason.to_string()),
                            None => Incoming::Closed(1005, String::new()),
                        }
                    }
                    Some(Ok(_)) => continue,
                }
            }
        })
        .await
        .expect("no message in time")
    }

    /// Messages until one satisfies `pred`, which is returned.
    pub async fn recv_until(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let v = self.recv().await;
            if pred(&v) {
                return v;
            }
        }
    }

    /// Waits for the message of type `kind` (e.g. "History"), skipping
    /// others; returns its body.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let v = self.recv_until(|v| v.get(kind).is_some()).await;
        v[kind].clone()
    }

    /// Waits for the close frame, skipping messages; returns code and
    /// reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            if let Incoming::Closed(code, reason) = self.next().await {
                return (code, reason);
            }
        }
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        let _ = timeout(WAIT, self.ws.close(None)).await;
    }
}

/// What arrived on a socket.
#[derive(Debug)]
pub enum Incoming {
    /// A JSON message.
    Json(Value),
    /// A close frame (code 1006 when the connection simply dropped).
    Closed(u16, String),
}

/// Returns `CloseCode` as a number (for tests that build close frames).
pub fn close_code(c: CloseCode) -> u16 {
    c.into()
}

/// Parses query-less key=value pairs (helper for tests).
pub fn pairs(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The path of a file in the server's temporary directory.
pub fn in_dir(server: &Server, name: &str) -> PathBuf {
    server.dir.path().join(name)
}

// ---------------------------------------------------------------------------
// Lifecycle helpers (OTP, persistence, eviction, shutdown, cold joins).

/// Polls `check` every 20 ms until it returns true; panics naming `what`
/// after [`WAIT`].
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Server {
    /// Sends SIGTERM and returns at once (see [`Server::wait_for_exit`]).
    pub async fn send_sigterm(&self) {
        let pid = self.pid().to_string();
        let ok = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill");
        assert!(ok.success());
    }

    /// Waits (at most [`WAIT`]) for the process to exit and returns its
    /// status; [`Server::restart`] then starts a new one.
    pub async fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        timeout(WAIT, child.wait())
            .await
            .expect("tandem did not exit in time")
            .expect("wait")
    }

    /// Whether the process has already exited (does not wait).
    pub fn has_exited(&mut self) -> bool {
        match self.child.as_mut() {
            None => true,
            Some(child) => child.try_wait().expect("try_wait").is_some(),
        }
    }

    /// One numeric field of `/api/stats`.
    pub async fn stat(&self, field: &str) -> u64 {
        let stats = self.stats().await;
        stats[field]
            .as_u64()
            .unwrap_or_else(|| panic!("stats field {field} missing in {stats}"))
    }

    /// `GET /api/text/{id}` with `?otp=` when given: status and body.
    pub async fn text_with_otp(&self, id: &str, otp: Option<&str>) -> (u16, String) {
        let path = match otp {
            Some(otp) => format!("/api/text/{id}?otp={otp}"),
            None => format!("/api/text/{id}"),
        };
        self.http("GET", &path).await
    }

    /// Opens a socket (with `?otp=` when given) and says `Hello` with a
    /// name, so that broadcasts carry it. Returns the client and the
    /// catch-up message.
    pub async fn join_named(&self, id: &str, otp: Option<&str>, name: &str) -> (Client, Value) {
        let mut c = self.connect(id, otp).await.expect("connect");
        let key = c.key.clone();
        c.send(
            json!({"Hello": {"client": key, "revision": null, "info": {"name": name, "hue": 200}}}),
        )
        .await;
        let id = c.recv().await;
        c.user = Some(id["Identity"].as_u64().expect("Identity first"));
        let catch_up = c.recv().await;
        (c, catch_up)
    }
}

impl Client {
    /// Reads messages until the `History` that acknowledges this client's
    /// own edit (an entry with its user id) and returns that message's
    /// body. Every `History` passed on the way is handed to `seen`.
    pub async fn await_own_ack(&mut self, mut seen: impl FnMut(&Value)) -> Value {
        let me = self.user.expect("said Hello");
        loop {
            let v = self.recv().await;
            if let Some(h) = v.get("History") {
                seen(h);
                let mine = h["operations"]
                    .as_array()
                    .is_some_and(|ops| ops.iter().any(|e| e["id"].as_u64() == Some(me)));
                if mine {
                    return h.clone();
                }
            }
        }
    }
}

/// Applies a wire operation (docs/protocol.md, Operations) to `text`;
/// positions count code points. Panics if it does not apply.
pub fn apply_wire_op(text: &str, op: &Value) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut at = 0usize;
    for e in op.as_array().expect("operation is an array") {
        if let Some(s) = e.as_str() {
            out.push_str(s);
        } else {
            let n = e.as_i64().expect("integer element");
            let len = n.unsigned_abs() as usize;
            assert!(at + len <= chars.len(), "operation {op} overruns {text:?}");
            if n > 0 {
                out.extend(&chars[at..at + len]);
            }
            at += len;
        }
    }
    assert_eq!(at, chars.len(), "operation {op} does not cover {text:?}");
    out
}

/// A client-side copy of a document, kept up to date from `Snapshot` and
/// `History` messages (no local edits pending).
#[derive(Debug, Clone, Default)]
pub struct Replica {
    /// The text at `revision`.
    pub text: String,
    /// The revision the text is at.
    pub revision: u64,
}

impl Replica {
    /// From a `Snapshot` body.
    pub fn from_snapshot(s: &Value) -> Replica {
        Replica {
            text: s["text"].as_str().expect("snapshot text").to_owned(),
            revision: s["revision"].as_u64().expect("snapshot revision"),
        }
    }

    /// Applies the entries of a `History` body this replica has not seen.
    pub fn apply_history(&mut self, h: &Value) {
        let start = h["start"].as_u64().expect("history start");
        assert!(
            start <= self.revision,
            "history from {start} but replica at {}",
            self.revision
        );
        for (i, e) in h["operations"]
            .as_array()
            .expect("operations")
            .iter()
            .enumerate()
        {
            if start + i as u64 == self.revision {
                self.text = apply_wire_op(&self.text, &e["operation"]);
                self.revision += 1;
            }
        }
    }

    /// The length in code points.
    pub fn len(&self) -> usize {
        self.text.chars().count()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

/// The operation inserting `s` at code point `at` of a document of `len`
/// code points, in canonical form.
pub fn insert_op(len: usize, at: usize, s: &str) -> Value {
    let mut op = Vec::new();
    if at > 0 {
        op.push(json!(at));
    }
    op.push(json!(s));
    if len > at {
        op.push(json!(len - at));
    }
    Value::Array(op)
}

/// A round trip that proves the server has handled everything `c` sent
/// before it: sends `SetLanguage` with a name that is never valid, and
/// returns every message that arrived before the `Error` it is answered
/// with (which is checked and dropped). Everything the server did before it
/// read the request has been sent by then.
pub async fn barrier(c: &mut Client) -> Vec<Value> {
    c.send(json!({"SetLanguage": "no such language (barrier)"}))
        .await;
    let mut before = Vec::new();
    loop {
        let v = c.recv().await;
        if v["Error"]["code"] == "invalid_language" {
            return before;
        }
        before.push(v);
    }
}

/// Sends `Hello` with this client's key, `revision` and `info` (a
/// `ClientInfo` body, or `Value::Null` for none), reads `Identity` and
/// returns the catch-up message that follows it.
pub async fn hello_with(c: &mut Client, revision: Option<u64>, info: Value) -> Value {
    let key = c.key.clone();
    let mut hello = json!({"client": key, "revision": revision});
    if !info.is_null() {
        hello["info"] = info;
    }
    c.send(json!({ "Hello": hello })).await;
    let id = c.recv().await;
    c.user = Some(id["Identity"].as_u64().expect("Identity first"));
    c.recv().await
}

/// Reads `History` messages until `n` entries have arrived (skipping other
/// messages) and returns them as `(revision, entry)` pairs, checking that
/// each message starts where the previous one ended.
pub async fn history_entries(c: &mut Client, n: usize) -> Vec<(u64, Value)> {
    let mut out: Vec<(u64, Value)> = Vec::new();
    while out.len() < n {
        let h = c.expect("History").await;
        let start = h["start"].as_u64().expect("History.start");
        if let Some((last, _)) = out.last() {
            assert_eq!(start, last + 1, "History gap or overlap: {h}");
        }
        for (i, e) in h["operations"]
            .as_array()
            .expect("operations")
            .iter()
            .enumerate()
        {
            out.push((start + i as u64, e.clone()));
        }
    }
    assert_eq!(out.len(), n, "more History entries than expected: {out:?}");
    out
}

impl Server {
    /// Like [`Server::restart`] (killing the process first if it still
    /// runs), on the same database, with `env` changed on top of the
    /// environment the server was started with (e.g. a lower
    /// `MAX_DOCUMENT_SIZE_KB`).
    pub async fn restart_with(&mut self, env: &[(&str, &str)]) {
        for (k, v) in env {
            self.env.retain(|(name, _)| name != k);
            self.env.push((k.to_string(), v.to_string()));
        }
        self.restart().await;
    }
}

// ---------------------------------------------------------------------------
// Reliability helpers (issue 5): a seeded RNG, a fault-injecting TCP proxy
// and a typist that inserts unique markers through a reconnecting `Peer`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tandem_server::peer::{Event, Peer, PeerError};
use tandem_server::protocol::client::ServerMsg;

/// A small seeded generator (SplitMix64): the same seed gives the same
/// choices, so a failure names the seed that reproduces its plan.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_F00D)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Seeds for a seeded test: `VAR=<seed>` runs just that one (to reproduce a
/// failure), otherwise `defaults`.
pub fn seeds(var: &str, defaults: &[u64]) -> Vec<u64> {
    match std::env::var(var).ok().and_then(|s| s.trim().parse().ok()) {
        Some(seed) => vec![seed],
        None => defaults.to_vec(),
    }
}

/// Prints how to reproduce a seeded run if it panics.
pub struct SeedGuard {
    /// What to print.
    pub message: String,
}

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("\n*** {} ***\n", self.message);
        }
    }
}

/// How the proxy ends one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Never: it relays until either side closes.
    Never,
    /// After relaying `after` bytes from the client to the server (`exact`:
    /// exactly that many, possibly splitting a frame; otherwise the whole
    /// chunk that crosses the mark). The client side is closed at once; the
    /// server side gets the bytes and an orderly end, and whatever it sends
    /// back — typically the acknowledgement of the edit it just applied —
    /// is read and thrown away.
    Up {
        /// Bytes relayed to the server before the cut.
        after: usize,
        /// Split the chunk at exactly `after` bytes.
        exact: bool,
    },
    /// After relaying exactly `after` bytes from the server to the client
    /// (typically in the middle of a frame); both sides are dropped.
    Down {
        /// Bytes relayed to the client before the cut.
        after: usize,
    },
    /// After `ms` milliseconds, whatever is in flight; both sides dropped.
    Timed {
        /// Lifetime of the connection.
        ms: u64,
    },
}

/// What the proxy did, for the report and for checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections cut after client→server bytes.
    pub up_cuts: u64,
    /// Connections cut after server→client bytes.
    pub down_cuts: u64,
    /// Connections cut on a timer.
    pub timed_cuts: u64,
    /// History entries authored by the cut connection's own user that the
    /// server sent after an up-cut and the client never received: edits
    /// the server applied whose acknowledgement was lost.
    pub swallowed_acks: u64,
}

#[derive(Default)]
struct ProxyShared {
    target: Mutex<String>,
    chaos: AtomicBool,
    rng: Mutex<Option<Rng>>,
    connections: AtomicU64,
    up_cuts: AtomicU64,
    down_cuts: AtomicU64,
    timed_cuts: AtomicU64,
    swallowed_acks: AtomicU64,
}

/// A TCP proxy between clients and the server, in the test process. It
/// never delays or reorders bytes within a connection; in chaos mode it
/// cuts each connection at a moment drawn from its seeded generator.
/// Its target can change (a restarted server listens on a new port) while
/// clients keep using the proxy's address. Stopped when dropped.
pub struct Proxy {
    /// `127.0.0.1:port` clients connect to.
    pub addr: String,
    shared: Arc<ProxyShared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// A proxy to `target` (`host:port`). With `chaos` set, connections are
    /// cut at moments drawn from `seed`; otherwise they are relayed intact.
    pub async fn start(target: &str, seed: u64, chaos: bool) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy bind");
        let addr = listener.local_addr().expect("proxy address").to_string();
        let shared = Arc::new(ProxyShared::default());
        *shared.target.lock().unwrap() = target.to_owned();
        shared.chaos.store(chaos, Ordering::SeqCst);
        *shared.rng.lock().unwrap() = Some(Rng::new(seed));
        let s = shared.clone();
        let task = tokio::spawn(async move {
            // Owning the relays here means aborting this task ends them.
            let mut relays = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        s.connections.fetch_add(1, Ordering::SeqCst);
                        let cut = s.plan();
                        let target = s.target.lock().unwrap().clone();
                        relays.spawn(relay(client, target, cut, s.clone()));
                    }
                    Some(_) = relays.join_next(), if !relays.is_empty() => {}
                }
            }
        });
        Proxy { addr, shared, task }
    }

    /// `ws://host:port` of the proxy, for [`Peer::new`].
    pub fn ws_base(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// New connections go to `target` from now on.
    pub fn set_target(&self, target: &str) {
        *self.shared.target.lock().unwrap() = target.to_owned();
    }

    /// New connections are no longer cut.
    pub fn calm(&self) {
        self.shared.chaos.store(false, Ordering::SeqCst);
    }

    /// What happened so far.
    pub fn stats(&self) -> ProxyStats {
        let s = &self.shared;
        ProxyStats {
            connections: s.connections.load(Ordering::SeqCst),
            up_cuts: s.up_cuts.load(Ordering::SeqCst),
            down_cuts: s.down_cuts.load(Ordering::SeqCst),
            timed_cuts: s.timed_cuts.load(Ordering::SeqCst),
            swallowed_acks: s.swallowed_acks.load(Ordering::SeqCst),
        }
    }
}

impl ProxyShared {
    /// How the next connection ends.
    fn plan(&self) -> Cut {
        if !self.chaos.load(Ordering::SeqCst) {
            return Cut::Never;
        }
        let mut guard = self.rng.lock().unwrap();
        let rng = guard.as_mut().expect("rng");
        match rng.below(100) {
            0..=14 => Cut::Never,
            15..=49 => Cut::Up {
                after: rng.range(1, 1500) as usize,
                exact: rng.chance(50),
            },
            50..=79 => Cut::Down {
                after: rng.range(1, 3000) as usize,
            },
            _ => Cut::Timed {
                ms: rng.range(5, 250),
            },
        }
    }
}

/// What one direction of a relay tells the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Running,
    /// Drop everything.
    Abort,
    /// The client side is cut after an up-cut; drain the server side.
    UpCut,
}

/// Relays one connection according to `cut`.
async fn relay(client: TcpStream, target: String, cut: Cut, shared: Arc<ProxyShared>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let server = match timeout(WAIT, TcpStream::connect(&target)).await {
        Ok(Ok(s)) => s,
        // The server is down (a crash test between kill and restart): the
        // client sees its connection end.
        _ => return,
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let (tx, rx) = tokio::sync::watch::channel(Signal::Running);
    let mut up_rx = rx.clone();
    let mut down_rx = rx;
    let tx = &tx;
    let shared = &shared;
    let up = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut sent = 0usize;
        loop {
            let n = tokio::select! {
                r = cr.read(&mut buf) => r.unwrap_or(0),
                _ = up_rx.wait_for(|s| *s != Signal::Running) => return,
            };
            if n == 0 {
                let _ = sw.shutdown().await;
                return;
            }
            let mut len = n;
            let mut cut_now = false;
            if let Cut::Up { after, exact } = cut {
                if sent + n >= after {
                    cut_now = true;
                    if exact {
                        len = after - sent;
                    }
                }
            }
            if sw.write_all(&buf[..len]).await.is_err() {
                tx.send_replace(Signal::Abort);
                return;
            }
            sent += len;
            if cut_now {
                shared.up_cuts.fetch_add(1, Ordering::SeqCst);
                let _ = sw.shutdown().await;
                tx.send_replace(Signal::UpCut);
                return;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut relayed = 0usize;
        let mut head: Vec<u8> = Vec::new();
        let mut own: Option<String> = None;
        loop {
            let n = tokio::select! {
                r = sr.read(&mut buf) => r.unwrap_or(0),
                _ = down_rx.wait_for(|s| *s != Signal::Running) => break,
            };
            if n == 0 {
                let _ = cw.shutdown().await;
                return;
            }
            if own.is_none() && head.len() < 8192 {
                head.extend_from_slice(&buf[..n]);
                own = identity_in(&head).map(|u| format!(r#"{{"id":{u},"operation""#));
            }
            let mut len = n;
            let mut cut_now = false;
            if let Cut::Down { after } = cut {
                if relayed + n >= after {
                    cut_now = true;
                    len = after - relayed;
                }
            }
            if cw.write_all(&buf[..len]).await.is_err() {
                tx.send_replace(Signal::Abort);
                return;
            }
            relayed += len;
            if cut_now {
                shared.down_cuts.fetch_add(1, Ordering::SeqCst);
                tx.send_replace(Signal::Abort);
                return;
            }
        }
        if *down_rx.borrow() != Signal::UpCut {
            return;
        }
        // Up-cut: the client is gone; read what the server still sends
        // and count the acknowledgements the client will never see.
        drop(cw);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        let mut tail = Vec::new();
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, sr.read(&mut buf)).await {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
        }
        if let Some(pattern) = own {
            let hits = count_occurrences(&tail, pattern.as_bytes());
            shared.swallowed_acks.fetch_add(hits, Ordering::SeqCst);
        }
    };
    let both = async move {
        tokio::join!(up, down);
    };
    match cut {
        Cut::Timed { ms } => {
            tokio::select! {
                _ = both => {}
                _ = tokio::time::sleep(Duration::from_millis(ms)) => {
                    shared.timed_cuts.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        _ => both.await,
    }
}

/// The user id in the `{"Identity":U}` the server sends first, if `head`
/// (the start of the server→client byte stream) holds it.
fn identity_in(head: &[u8]) -> Option<u64> {
    let needle = br#"{"Identity":"#;
    let at = head.windows(needle.len()).position(|w| w == needle)? + needle.len();
    let digits: Vec<u8> = head[at..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    if at + digits.len() >= head.len() {
        return None; // the number may continue in the next read
    }
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

fn count_occurrences(hay: &[u8], needle: &[u8]) -> u64 {
    if needle.is_empty() || hay.len() < needle.len() {
        return 0;
    }
    hay.windows(needle.len()).filter(|w| *w == needle).count() as u64
}

/// Whether a `Peer` error is what a cut or a crash causes (as opposed to
/// something the server must never do, like a close code for bad input
/// or a history that does not apply).
pub fn benign(e: &PeerError) -> bool {
    matches!(
        e,
        PeerError::Closed(1005 | 1006, _)
            | PeerError::Io(_)
            | PeerError::NotConnected
            | PeerError::Timeout
    )
}

/// Most markers one typist inserts (typists 0–4 have 4000 code points of
/// the CJK block each).
pub const MAX_MARKERS: usize = 4000;

/// One simulated user who inserts unique single code points (from a CJK
/// range of its own) at random positions through a reconnecting [`Peer`],
/// so the final text can be audited: every marker must appear exactly
/// once.
pub struct Typist {
    /// The client.
    pub peer: Peer,
    /// Markers inserted locally, in order.
    pub markers: Vec<char>,
    /// The first code point of this typist's range.
    base: u32,
    rng: Rng,
    joined: bool,
    /// Successful (re)connects.
    pub connects: u64,
    /// Connects that failed (cut during the handshake, server down).
    pub failed_connects: u64,
    /// Every successful join: when, and the replica's revision before and
    /// after it.
    pub joins: Vec<(tokio::time::Instant, u64, u64)>,
}

impl Typist {
    /// Typist number `index` (0–4) of document `doc` at `ws_base`.
    pub fn new(ws_base: &str, doc: &str, index: u32, seed: u64) -> Typist {
        Typist {
            peer: Peer::new(ws_base, doc, None),
            markers: Vec::new(),
            base: 0x4E00 + index * MAX_MARKERS as u32,
            rng: Rng::new(seed.wrapping_mul(31).wrapping_add(u64::from(index) + 1)),
            joined: false,
            connects: 0,
            failed_connects: 0,
            joins: Vec::new(),
        }
    }

    /// Whether `c` is one of typist `index`'s markers.
    pub fn marker_owner(c: char) -> Option<u32> {
        let c = c as u32;
        (0x4E00..0x4E00 + 5 * MAX_MARKERS as u32)
            .contains(&c)
            .then(|| (c - 0x4E00) / MAX_MARKERS as u32)
    }

    /// Connects if not connected; a benign failure leaves it offline.
    async fn ensure_connected(&mut self) -> Result<(), String> {
        if self.peer.is_connected() {
            return Ok(());
        }
        let before = self.peer.revision();
        match self.peer.connect(Duration::from_secs(3)).await {
            Ok(()) => {
                self.connects += 1;
                self.joined = true;
                let now = tokio::time::Instant::now();
                self.joins.push((now, before, self.peer.revision()));
                Ok(())
            }
            Err(e) if benign(&e) => {
                self.peer.disconnect();
                self.failed_connects += 1;
                Ok(())
            }
            Err(e) => Err(format!("connect: {e}")),
        }
    }

    /// Types until `until`: one marker per step (also while offline, once
    /// joined), then reads for a random short while; reconnects whenever
    /// the connection is gone. `Err` describes something the server must
    /// never do.
    pub async fn type_until(&mut self, until: tokio::time::Instant) -> Result<(), String> {
        while tokio::time::Instant::now() < until && self.markers.len() < MAX_MARKERS {
            self.ensure_connected().await?;
            if !self.joined {
                tokio::time::sleep(Duration::from_millis(self.rng.range(1, 20))).await;
                continue;
            }
            let marker = char::from_u32(self.base + self.markers.len() as u32).expect("CJK");
            let pos = self.rng.below(self.peer.len() as u64 + 1) as usize;
            match self.peer.splice(pos, 0, &marker.to_string()).await {
                Ok(()) => {}
                Err(e) if benign(&e) => {}
                Err(e) => return Err(format!("edit: {e}")),
            }
            self.markers.push(marker);
            // A fast typist: a few hundred code points a second.
            tokio::time::sleep(Duration::from_millis(self.rng.range(1, 4))).await;
            if !self.peer.is_connected() {
                // Offline: a short pause before trying again.
                tokio::time::sleep(Duration::from_millis(self.rng.range(1, 10))).await;
                continue;
            }
            for _ in 0..self.rng.range(1, 3) {
                let wait = Duration::from_millis(self.rng.range(1, 20));
                match self.peer.next(wait).await {
                    Ok(Event::Other(ServerMsg::Error(e))) => {
                        return Err(format!("server error {}: {}", e.code, e.message))
                    }
                    Ok(_) => {}
                    Err(e) if benign(&e) => break,
                    Err(e) => return Err(format!("receive: {e}")),
                }
            }
        }
        Ok(())
    }

    /// Reconnects (retrying benign failures until `deadline`) and waits
    /// until every local edit is acknowledged.
    pub async fn settle(&mut self, deadline: tokio::time::Instant) -> Result<(), String> {
        self.peer.disconnect();
        loop {
            self.ensure_connected().await?;
            if self.peer.is_connected() {
                match self.peer.sync(WAIT).await {
                    Ok(()) => return Ok(()),
                    Err(e) if benign(&e) => self.peer.disconnect(),
                    Err(e) => return Err(format!("sync: {e}")),
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err("could not reconnect and synchronise in time".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reads until the replica reaches `revision`.
    pub async fn catch_up(&mut self, revision: u64) -> Result<(), String> {
        self.peer
            .catch_up(revision, WAIT)
            .await
            .map_err(|e| format!("catch up to {revision}: {e}"))
    }
}

/// The marker audit of a final text: markers of `typists` missing from
/// `text`, markers found more than once, and characters that are nobody's
/// marker (as `(char, count)`).
#[derive(Debug, Default)]
pub struct Audit {
    /// Inserted but not in the text.
    pub lost: Vec<char>,
    /// In the text more than once.
    pub duplicated: Vec<(char, usize)>,
    /// In the text but never inserted.
    pub strangers: Vec<(char, usize)>,
}

impl Audit {
    /// Audits `text` against everything `inserted`.
    pub fn of(text: &str, inserted: &[char]) -> Audit {
        let mut counts: HashMap<char, usize> = HashMap::new();
        for c in text.chars() {
            *counts.entry(c).or_default() += 1;
        }
        let mut audit = Audit::default();
        for c in inserted {
            match counts.remove(c) {
                None => audit.lost.push(*c),
                Some(1) => {}
                Some(n) => audit.duplicated.push((*c, n)),
            }
        }
        audit.strangers = counts.into_iter().collect();
        audit
    }

    /// Nothing lost, duplicated or foreign.
    pub fn is_clean(&self) -> bool {
        self.lost.is_empty() && self.duplicated.is_empty() && self.strangers.is_empty()
    }
}

/// A `Snapshot` greeting message (`{"Snapshot":{…}}`) without its `epoch`,
/// which is random per document load; checks that the epoch is there (16
/// hex digits) first, so tests can compare the rest exactly.
pub fn sans_epoch(msg: &Value) -> Value {
    let mut v = msg.clone();
    if let Some(s) = v.get_mut("Snapshot").and_then(Value::as_object_mut) {
        let epoch = s.remove("epoch");
        let ok = epoch
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|e| e.len() == 16 && e.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(ok, "Snapshot without a valid epoch: {msg}");
    }
    v
}

/// Brings every typist back online with nothing pending (within 20 s),
/// then up to the highest revision any of them reached, so their texts
/// can be compared with the server's. Panics naming `seed` on failure.
pub async fn settle_all(typists: &mut [Typist], seed: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for (i, t) in typists.iter_mut().enumerate() {
        if let Err(e) = t.settle(deadline).await {
            panic!("seed {seed}: typist {i} did not settle: {e}");
        }
    }
    let revision = typists.iter().map(|t| t.peer.revision()).max().unwrap_or(0);
    for (i, t) in typists.iter_mut().enumerate() {
        if let Err(e) = t.catch_up(revision).await {
            panic!("seed {seed}: typist {i}: {e}");
        }
    }
}
