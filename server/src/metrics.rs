//! Counters for `/metrics`, in the Prometheus text format. Plain atomics:
//! the set is small and fixed, so a metrics library would add more than it
//! saves.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::protocol::{Close, ErrorCode};

/// Close kinds counted (see [`Close::kind`]), plus connections that were
/// dropped without a close frame.
const CLOSE_KINDS: [&str; 13] = [
    "message_too_large",
    "internal",
    "restarting",
    "busy",
    "replaced",
    "malformed",
    "unauthorized",
    "view_revoked",
    "timeout",
    "revision_out_of_range",
    "document_too_large",
    "does_not_apply",
    "write_timeout",
];

/// Reasons for refusing a request before it reaches a document.
const REFUSAL_KINDS: [&str; 5] = [
    "origin",
    "connections",
    "connections_per_ip",
    "otp_throttled",
    "rate_limited",
];

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: AtomicI64,
    /// Connections accepted since start.
    pub connections_total: AtomicU64,
    /// Edits applied.
    pub edits: AtomicU64,
    /// `Error` messages sent, by code (indexed like [`ErrorCode::ALL`]).
    errors: [AtomicU64; ErrorCode::ALL.len()],
    /// Connections closed by the server, by kind (indexed like
    /// `CLOSE_KINDS`).
    closes: [AtomicU64; CLOSE_KINDS.len()],
    /// HTTP requests refused for a missing or wrong OTP.
    pub unauthorized: AtomicU64,
    /// Requests refused at the door, by reason (indexed like
    /// `REFUSAL_KINDS`).
    refusals: [AtomicU64; REFUSAL_KINDS.len()],
    /// Documents loaded from the database.
    pub loads: AtomicU64,
    /// Documents evicted from memory.
    pub evictions: AtomicU64,
}

impl Metrics {
    /// Counts an `Error` message.
    pub fn error(&self, code: ErrorCode) {
        if let Some(i) = ErrorCode::ALL.iter().position(|c| *c == code) {
            self.errors[i].fetch_add(1, Relaxed);
        }
    }

    /// Counts a refusal at the door.
    pub fn refused(&self, kind: &str) {
        if let Some(i) = REFUSAL_KINDS.iter().position(|k| *k == kind) {
            self.refusals[i].fetch_add(1, Relaxed);
        }
    }

    /// Counts a server-initiated close.
    pub fn close(&self, close: &Close) {
        self.close_kind(close.kind());
    }

    /// Counts a close by kind name.
    pub fn close_kind(&self, kind: &str) {
        if let Some(i) = CLOSE_KINDS.iter().position(|k| *k == kind) {
            self.closes[i].fetch_add(1, Relaxed);
        }
    }

    /// The text exposition. `gauges` are extra `(name, help, value)`
    /// gauges owned elsewhere (documents in memory, store statistics).
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let header = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        header(
            &mut out,
            "tandem_connections",
            "gauge",
            "Open WebSocket connections.",
        );
        let _ = writeln!(out, "tandem_connections {}", self.connections.load(Relaxed));
        for (name, help, value) in [
            (
                "tandem_connections_total",
                "WebSocket connections accepted.",
                &self.connections_total,
            ),
            ("tandem_edits_total", "Edits applied.", &self.edits),
            (
                "tandem_unauthorized_total",
                "Requests refused for a missing or wrong OTP or view secret.",
                &self.unauthorized,
            ),
            (
                "tandem_document_loads_total",
                "Documents loaded from the database.",
                &self.loads,
            ),
            (
                "tandem_evictions_total",
                "Documents evicted from memory.",
                &self.evictions,
            ),
        ] {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", value.load(Relaxed));
        }
        header(
            &mut out,
            "tandem_errors_total",
            "counter",
            "Error messages sent to clients, by code.",
        );
        for (code, n) in ErrorCode::ALL.iter().zip(&self.errors) {
            let _ = writeln!(
                out,
                "tandem_errors_total{{code=\"{}\"}} {}",
                code.as_str(),
                n.load(Relaxed)
            );
        }
        header(
            &mut out,
            "tandem_closes_total",
            "counter",
            "Connections closed by the server, by reason.",
        );
        for (kind, n) in CLOSE_KINDS.iter().zip(&self.closes) {
            let _ = writeln!(
                out,
                "tandem_closes_total{{reason=\"{kind}\"}} {}",
                n.load(Relaxed)
            );
        }
        header(
            &mut out,
            "tandem_refused_total",
            "counter",
            "Requests refused before reaching a document, by reason.",
        );
        for (kind, n) in REFUSAL_KINDS.iter().zip(&self.refusals) {
            let _ = writeln!(
                out,
                "tandem_refused_total{{reason=\"{kind}\"}} {}",
                n.load(Relaxed)
            );
        }
        for (name, help, value) in gauges {
            header(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}
