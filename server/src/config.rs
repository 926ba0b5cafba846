//! Configuration from environment variables.
//!
//! Every setting has a documented default; an invalid value stops the
//! server with a message naming the variable, rather than falling back
//! silently. Durations accept fractions (`PERSIST_IDLE_SECONDS=0.2`) so that
//! tests can compress minutes into milliseconds without special code paths.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// The server's settings. See [`HELP`] for what each one means.
#[derive(Debug, Clone)]
pub struct Config {
    /// TCP port to listen on; 0 picks a free one (tests use that).
    pub port: u16,
    /// Address to bind.
    pub bind_addr: IpAddr,
    /// SQLite database, or `None` when persistence is off.
    pub sqlite_uri: Option<String>,
    /// Documents unused this long are deleted (memory and database).
    pub expiry: Duration,
    /// How often the cleaner looks for expired documents.
    pub cleanup_interval: Duration,
    /// Largest document, in bytes of UTF-8.
    pub max_document_bytes: usize,
    /// A connection that sends nothing (not even a pong) this long is closed.
    pub ws_read_timeout: Duration,
    /// A connection that cannot take a message within this time is dropped.
    pub ws_write_timeout: Duration,
    /// How often the server pings each connection.
    pub ws_heartbeat_interval: Duration,
    /// How long a new connection may take to send `Hello`.
    pub hello_timeout: Duration,
    /// How often the persister looks at each hot document.
    pub persist_check_interval: Duration,
    /// A dirty document untouched this long is written.
    pub persist_idle: Duration,
    /// A dirty document is written at least this often, busy or not.
    pub persist_max_interval: Duration,
    /// A document nobody is connected to leaves memory after this long.
    pub evict_idle: Duration,
    /// Most history entries a document keeps in memory.
    pub history_window: usize,
    /// Most acknowledged editing a crash may lose: the journal of edits is
    /// written at least four times per this interval.
    pub persist_max_loss: Duration,
    /// Others' changes are sent to a connection at most once per this
    /// interval (its own acknowledgements and replies go out at once), so
    /// that a busy document costs one write per connection and interval
    /// instead of one per change. Zero sends every change as it happens.
    pub broadcast_interval: Duration,
    /// Longest accepted document id.
    pub max_document_id_length: usize,
    /// Longest accepted user name, in characters.
    pub max_user_name_length: usize,
    /// How long a graceful shutdown may spend flushing documents.
    pub shutdown_timeout: Duration,
    /// Serve everything under this path prefix (no trailing slash; empty
    /// for the root).
    pub base_path: String,
    /// Serve the web client from this directory instead of the embedded
    /// copy (development).
    pub web_dir: Option<String>,
    /// `tracing` filter directive.
    pub log_filter: String,
    /// Most WebSocket connections in total (0: no limit).
    pub max_connections: usize,
    /// Messages other than cursor updates one connection may send per
    /// second (twice that in a burst) before it is read more slowly (0:
    /// no limit).
    pub max_messages_per_second: u32,
    /// Cursor updates applied per second and connection; faster ones are
    /// coalesced (0: no limit).
    pub max_cursor_updates_per_second: u32,
    /// Most WebSocket connections from one client address (0: no limit).
    pub max_connections_per_ip: usize,
    /// Most documents in memory; beyond it idle ones are unloaded, and new
    /// ones refused if none can be (0: no limit).
    pub max_documents_in_memory: usize,
    /// Wrong OTPs or view secrets (counted together) one address may send
    /// per minute before it is blocked for the rest of the minute.
    pub otp_failures_per_minute: u32,
    /// The header a trusted reverse proxy puts the client address in
    /// (e.g. `X-Forwarded-For`); unset: the socket's peer address.
    pub trusted_proxy_header: Option<String>,
    /// Origins whose pages may open WebSockets (unset: any).
    pub allowed_origins: Option<Vec<String>>,
}

/// `tandem --help`.
pub const HELP: &str = "\
tandem — a self-hosted real-time collaborative editor

Usage: tandem [--help | --version | healthcheck]

Open http://HOST:PORT/ to start a document and share its link.
All configuration is through environment variables:

  PORT                           port to listen on (0 = any free port)        [3030]
  BIND_ADDR                      address to bind                               [0.0.0.0]
  SQLITE_URI                     SQLite database file; 'none' turns persistence off
                                                                               [./data/tandem.db]
  EXPIRY_DAYS                    delete documents unused for this many days    [7]
  CLEANUP_INTERVAL_HOURS         how often to look for expired documents       [1]
  MAX_DOCUMENT_SIZE_KB           largest document, KiB of UTF-8; the WebSocket
                                 frame limit is 6x this plus 64 KiB            [256]
  WS_READ_TIMEOUT_MINUTES        close connections silent this long            [30]
  WS_WRITE_TIMEOUT_SECONDS       drop connections that cannot take a message
                                 for this long                                 [10]
  WS_HEARTBEAT_INTERVAL_SECONDS  ping interval                                 [30]
  HELLO_TIMEOUT_SECONDS          time a new connection has to say Hello        [30]
  PERSIST_CHECK_INTERVAL_SECONDS how often the persister checks documents      [10]
  PERSIST_IDLE_SECONDS           write a changed document idle this long       [30]
  PERSIST_MAX_INTERVAL_SECONDS   write a changed document at least this often  [300]
  EVICT_IDLE_SECONDS             unload documents without connections after   [300]
  HISTORY_WINDOW                 edits kept in memory per document for clients
                                 catching up; older ones get a snapshot        [10000]
  PERSIST_MAX_LOSS_MS            most acknowledged editing a crash (kill -9,
                                 power loss aside) may lose; edits are
                                 journaled 4 times per this interval          [1000]
  BROADCAST_INTERVAL_MS          others' changes reach a connection at most
                                 once per this interval, batched; its own
                                 acknowledgements are not delayed (0 = each
                                 change at once)                               [16]
  MAX_DOCUMENT_ID_LENGTH         longest document id                           [64]
  MAX_USER_NAME_LENGTH           longest user name                             [64]
  SHUTDOWN_TIMEOUT_SECONDS       time allowed to save documents on SIGTERM     [10]
  BASE_PATH                      serve under this sub-path, e.g. /pad          []
  WEB_DIR                        serve the web client from this directory
                                 instead of the embedded copy                  []
  MAX_CONNECTIONS                most WebSocket connections (0 = no limit)     [10000]
  MAX_CONNECTIONS_PER_IP         most WebSocket connections per client address
                                 (0 = no limit)                                [200]
  MAX_MESSAGES_PER_SECOND        messages (other than cursors) per connection
                                 and second, twice that in a burst; faster
                                 clients are read more slowly (0 = no limit)   [200]
  MAX_CURSOR_UPDATES_PER_SECOND  cursor updates applied per connection and
                                 second; faster ones are coalesced             [30]
  MAX_DOCUMENTS_IN_MEMORY        most documents in memory; idle ones are
                                 unloaded first (0 = no limit)                 [10000]
  OTP_FAILURES_PER_MINUTE        wrong OTPs or view secrets per client
                                 address and minute before it is blocked       [10]
  TRUSTED_PROXY_HEADER           header with the client address set by your
                                 reverse proxy, e.g. X-Forwarded-For           []
  ALLOWED_ORIGINS                comma-separated origins allowed to open
                                 WebSockets, e.g. https://pad.example.com      [any]
  RUST_LOG / LOG_LEVEL           log filter (error, warn, info, debug, trace)  [info]

Durations accept fractions (e.g. PERSIST_IDLE_SECONDS=0.5).
";

/// A setting that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What was expected instead.
    pub expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}={:?}: expected {}",
            self.variable, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

/// Reads variables from a map, so tests need not touch the process
/// environment.
struct Vars<'a>(&'a HashMap<String, String>);

impl Vars<'_> {
    fn raw(&self, name: &'static str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    fn parse<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
        expected: &'static str,
        valid: impl Fn(&T) -> bool,
    ) -> Result<T, ConfigError> {
        match self.raw(name) {
            None => Ok(default),
            Some(s) => s.parse().ok().filter(|v| valid(v)).ok_or(ConfigError {
                variable: name,
                value: s.to_owned(),
                expected,
            }),
        }
    }

    /// A non-negative duration given in `unit_secs` units.
    fn duration(
        &self,
        name: &'static str,
        default: f64,
        unit_secs: f64,
    ) -> Result<Duration, ConfigError> {
        let v = self.parse(name, default, "a non-negative number", |v: &f64| {
            v.is_finite() && *v >= 0.0 && v * unit_secs < 1e12
        })?;
        Ok(Duration::from_secs_f64(v * unit_secs))
    }

    /// Like [`Vars::duration`], but zero is refused (intervals).
    fn interval(
        &self,
        name: &'static str,
        default: f64,
        unit_secs: f64,
    ) -> Result<Duration, ConfigError> {
        let d = self.duration(name, default, unit_secs)?;
        if d.is_zero() {
            return Err(ConfigError {
                variable: name,
                value: self.raw(name).unwrap_or_default().to_owned(),
                expected: "a positive number",
            });
        }
        Ok(d)
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(&std::env::vars().collect())
    }

    /// Reads settings from `vars` (variable name → value).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let v = Vars(vars);
        let sqlite_uri = match v.raw("SQLITE_URI") {
            None => Some("./data/tandem.db".to_owned()),
            Some(s) if s.eq_ignore_ascii_case("none") => None,
            Some(s) => Some(s.to_owned()),
        };
        let base_path = match v.raw("BASE_PATH") {
            None => String::new(),
            Some(s) => {
                let trimmed = s.trim_matches('/');
                let ok = trimmed.split('/').all(|seg| {
                    !seg.is_empty()
                        && seg
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
                });
                if !ok {
                    return Err(ConfigError {
                        variable: "BASE_PATH",
                        value: s.to_owned(),
                        expected: "a path like /pad or /tools/pad",
                    });
                }
                format!("/{trimmed}")
            }
        };
        let kb = v.parse(
            "MAX_DOCUMENT_SIZE_KB",
            256usize,
            "a positive whole number of KiB (at most 1048576)",
            |n| (1..=1 << 20).contains(n),
        )?;
        Ok(Config {
            port: v.parse("PORT", 3030u16, "a port number 0-65535", |_| true)?,
            bind_addr: v.parse(
                "BIND_ADDR",
                IpAddr::from([0, 0, 0, 0]),
                "an IP address",
                |_| true,
            )?,
            sqlite_uri,
            expiry: v.interval("EXPIRY_DAYS", 7.0, 86_400.0)?,
            cleanup_interval: v.interval("CLEANUP_INTERVAL_HOURS", 1.0, 3_600.0)?,
            max_document_bytes: kb * 1024,
            ws_read_timeout: v.interval("WS_READ_TIMEOUT_MINUTES", 30.0, 60.0)?,
            ws_write_timeout: v.interval("WS_WRITE_TIMEOUT_SECONDS", 10.0, 1.0)?,
            ws_heartbeat_interval: v.interval("WS_HEARTBEAT_INTERVAL_SECONDS", 30.0, 1.0)?,
            hello_timeout: v.interval("HELLO_TIMEOUT_SECONDS", 30.0, 1.0)?,
            persist_check_interval: v.interval("PERSIST_CHECK_INTERVAL_SECONDS", 10.0, 1.0)?,
            persist_idle: v.duration("PERSIST_IDLE_SECONDS", 30.0, 1.0)?,
            persist_max_interval: v.duration("PERSIST_MAX_INTERVAL_SECONDS", 300.0, 1.0)?,
            evict_idle: v.duration("EVICT_IDLE_SECONDS", 300.0, 1.0)?,
            history_window: v.parse(
                "HISTORY_WINDOW",
                10_000usize,
                "a positive whole number",
                |n| *n > 0,
            )?,
            persist_max_loss: v.interval("PERSIST_MAX_LOSS_MS", 1000.0, 0.001)?,
            broadcast_interval: v.duration("BROADCAST_INTERVAL_MS", 16.0, 0.001)?,
            max_document_id_length: v.parse(
                "MAX_DOCUMENT_ID_LENGTH",
                64usize,
                "a whole number 1-1024",
                |n| (1..=1024).contains(n),
            )?,
            max_user_name_length: v.parse(
                "MAX_USER_NAME_LENGTH",
                64usize,
                "a whole number 1-1024",
                |n| (1..=1024).contains(n),
            )?,
            shutdown_timeout: v.interval("SHUTDOWN_TIMEOUT_SECONDS", 10.0, 1.0)?,
            base_path,
            web_dir: v.raw("WEB_DIR").map(str::to_owned),
            max_connections: v.parse("MAX_CONNECTIONS", 10_000usize, "a whole number", |_| true)?,
            max_messages_per_second: v.parse(
                "MAX_MESSAGES_PER_SECOND",
                200u32,
                "a whole number",
                |_| true,
            )?,
            max_cursor_updates_per_second: v.parse(
                "MAX_CURSOR_UPDATES_PER_SECOND",
                30u32,
                "a whole number",
                |_| true,
            )?,
            max_connections_per_ip: v.parse(
                "MAX_CONNECTIONS_PER_IP",
                200usize,
                "a whole number",
                |_| true,
            )?,
            max_documents_in_memory: v.parse(
                "MAX_DOCUMENTS_IN_MEMORY",
                10_000usize,
                "a whole number",
                |_| true,
            )?,
            otp_failures_per_minute: v.parse(
                "OTP_FAILURES_PER_MINUTE",
                10u32,
                "a positive whole number",
                |n| *n > 0,
            )?,
            trusted_proxy_header: match v.raw("TRUSTED_PROXY_HEADER") {
                None => None,
                Some(h) if warp::http::HeaderName::from_bytes(h.as_bytes()).is_ok() => {
                    Some(h.to_ascii_lowercase())
                }
                Some(h) => {
                    return Err(ConfigError {
                        variable: "TRUSTED_PROXY_HEADER",
                        value: h.to_owned(),
                        expected: "an HTTP header name such as X-Forwarded-For",
                    })
                }
            },
            allowed_origins: v.raw("ALLOWED_ORIGINS").map(|list| {
                list.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            }),
            log_filter: v
                .raw("RUST_LOG")
                .or(v.raw("LOG_LEVEL"))
                .unwrap_or("info")
                .to_owned(),
        })
    }

    /// The largest WebSocket message accepted: an edit replacing a whole
    /// maximal document must fit even if every character needs a six-byte
    /// JSON escape, plus room for the envelope.
    pub fn max_frame_bytes(&self) -> usize {
        self.max_document_bytes * 6 + 64 * 1024
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let c = Config::from_vars(&HashMap::new()).unwrap();
        assert_eq!(c.port, 3030);
        assert_eq!(c.sqlite_uri.as_deref(), Some("./data/tandem.db"));
        assert_eq!(c.expiry, Duration::from_secs(7 * 86_400));
        assert_eq!(c.max_document_bytes, 256 * 1024);
        assert_eq!(c.base_path, "");
        assert_eq!(c.log_filter, "info");
        assert_eq!(c.broadcast_interval, Duration::from_millis(16));
    }

    #[test]
    fn values_and_errors_name_the_variable() {
        let c = Config::from_vars(&vars(&[
            ("PORT", "0"),
            ("SQLITE_URI", "none"),
            ("PERSIST_IDLE_SECONDS", "0.25"),
            ("BASE_PATH", "/tools/pad/"),
            ("LOG_LEVEL", "debug"),
            ("BROADCAST_INTERVAL_MS", "0"),
        ]))
        .unwrap();
        assert_eq!(c.port, 0);
        assert_eq!(c.sqlite_uri, None);
        assert_eq!(c.persist_idle, Duration::from_millis(250));
        assert_eq!(c.base_path, "/tools/pad");
        assert_eq!(c.log_filter, "debug");
        assert_eq!(c.broadcast_interval, Duration::ZERO);
        for (name, value) in [
            ("PORT", "70000"),
            ("EXPIRY_DAYS", "-1"),
            ("EXPIRY_DAYS", "0"),
            ("WS_WRITE_TIMEOUT_SECONDS", "soon"),
            ("MAX_DOCUMENT_SIZE_KB", "0"),
            ("BASE_PATH", "/a b"),
            ("BIND_ADDR", "localhost:80"),
            ("PERSIST_IDLE_SECONDS", "NaN"),
            ("BROADCAST_INTERVAL_MS", "-5"),
        ] {
            let err = Config::from_vars(&vars(&[(name, value)])).unwrap_err();
            assert_eq!(err.variable, name);
            assert!(err.to_string().contains(name));
        }
    }
}
