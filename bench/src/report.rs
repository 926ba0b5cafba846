//! Printing reports: text for people, `--json` for machines.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::engine::Outcome;
use crate::floor::FloorReport;
use crate::idle::IdleReport;
use crate::load::{GreetingReport, LoadReport};
use crate::stats::Summary;
use crate::trace::TraceReport;

/// The report of any mode.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Report {
    /// Load mode.
    Load(LoadReport),
    /// Joins mode.
    Joins(Outcome),
    /// Idle mode.
    Idle(IdleReport),
    /// Trace mode.
    Trace(TraceReport),
    /// Floor mode.
    Floor(FloorReport),
}

impl Report {
    /// Whether the run had no failures and converged.
    pub fn is_clean(&self) -> bool {
        match self {
            Report::Load(r) => r.run.is_clean(),
            Report::Joins(r) => r.is_clean(),
            Report::Trace(r) => r.run.is_clean(),
            Report::Floor(r) => r.errors.is_empty() && r.round_trips > 0,
            Report::Idle(r) => {
                r.join_failures.is_empty() && r.disconnects.is_empty() && r.joined == r.connections
            }
        }
    }
}

/// The JSON document printed with `--json`.
#[derive(Serialize)]
struct JsonOut<'a> {
    command: &'a [String],
    clean: bool,
    #[serde(flatten)]
    report: &'a Report,
}

/// The report as JSON, with the command line.
pub fn json(report: &Report, argv: &[String]) -> String {
    serde_json::to_string_pretty(&JsonOut {
        command: argv,
        clean: report.is_clean(),
        report,
    })
    .unwrap_or_else(|e| format!("{{\"error\":\"cannot encode the report: {e}\"}}"))
}

/// The report as text.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    match report {
        Report::Load(r) => {
            let rate = if r.rate == 0.0 {
                "saturating".to_owned()
            } else {
                format!("{} edits/s each", r.rate)
            };
            let _ = writeln!(
                out,
                "load: {} document(s) x {} clients, {rate}, initial {} B, cursors {}",
                r.docs,
                r.clients_per_doc,
                r.initial_size,
                if r.cursors { "on" } else { "off" }
            );
            outcome(&mut out, &r.run);
            if let Some(p) = &r.probe {
                let _ = writeln!(out, "  join probe        document text {} B", p.text_bytes);
                for g in [&p.fresh, &p.from_revision_0].into_iter().flatten() {
                    greeting(&mut out, g);
                }
            }
        }
        Report::Joins(r) => {
            let _ = writeln!(
                out,
                "joins: {} clients join one document at once",
                r.clients
            );
            outcome(&mut out, r);
        }
        Report::Trace(r) => {
            let _ = writeln!(
                out,
                "trace: {} ({} patches), replayed {} in {:.1} s = {:.0} edits/s, complete: {}",
                r.trace,
                r.patches,
                r.replayed,
                r.run.seconds,
                r.run.edits_per_second,
                if r.complete {
                    "yes (text == endContent)"
                } else {
                    "no"
                }
            );
            outcome(&mut out, &r.run);
        }
        Report::Idle(r) => idle(&mut out, r),
        Report::Floor(r) => floor(&mut out, r),
    }
    let _ = writeln!(
        out,
        "result: {}",
        if report.is_clean() {
            "clean"
        } else {
            "FAILED (see above)"
        }
    );
    out
}

fn floor(out: &mut String, r: &FloorReport) {
    let _ = writeln!(
        out,
        "floor: {} clients, request and reply of {} B over loopback TCP (echo server, no WebSocket/JSON/OT)",
        r.clients, r.message_bytes
    );
    let _ = writeln!(
        out,
        "  throughput        {:.0} round trips/s ({} in {:.2} s)",
        r.per_second, r.round_trips, r.seconds
    );
    let _ = writeln!(out, "  round trip        {}", latency(&r.latency));
    let _ = writeln!(
        out,
        "  server CPU        {:.2} s ({:.0} % of one core) = {:.1} us per round trip",
        r.server_cpu_seconds,
        100.0 * r.server_cpu_seconds / r.seconds.max(1e-9),
        r.server_cpu_us_per_round_trip
    );
    let _ = writeln!(
        out,
        "  load generator    {:.2} s CPU; load average {:.2} at start",
        r.bench_cpu_seconds, r.load_average_start[0]
    );
    for e in &r.errors {
        let _ = writeln!(out, "  error             {e}");
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn latency(s: &Summary) -> String {
    if s.count == 0 {
        return "no samples".into();
    }
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
        s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms, s.count
    )
}

fn counts(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "0".into();
    }
    let total: u64 = m.values().sum();
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{v} x {k}")).collect();
    format!("{total} ({})", parts.join(", "))
}

fn outcome(out: &mut String, r: &Outcome) {
    let _ = writeln!(
        out,
        "  joined            {}/{} (join {})",
        r.joined,
        r.clients,
        latency(&r.join_latency)
    );
    let _ = writeln!(
        out,
        "  throughput        {:.0} acknowledged edits/s ({} acknowledged, {} sent, in {:.2} s)",
        r.edits_per_second, r.edits_acked, r.edits_sent, r.seconds
    );
    let _ = writeln!(out, "  own ack latency   {}", latency(&r.ack_latency));
    let _ = writeln!(out, "  arrival latency   {}", latency(&r.arrival_latency));
    if r.late_ticks > 0 {
        let _ = writeln!(
            out,
            "  late ticks        {} (previous edit not yet acknowledged)",
            r.late_ticks
        );
    }
    if r.cursors_sent > 0 || r.cursors_received > 0 || r.user_infos_received > 0 {
        let _ = writeln!(
            out,
            "  presence          {} cursors sent, {} UserCursor and {} UserInfo received",
            r.cursors_sent, r.cursors_received, r.user_infos_received
        );
    }
    let res = &r.resources;
    match (res.server_cpu_seconds, r.server_cpu_us_per_edit) {
        (Some(cpu), per_edit) => {
            let _ = writeln!(
                out,
                "  server CPU        {cpu:.2} s ({:.0} % of one core){}",
                cpu / r.seconds.max(1e-9) * 100.0,
                per_edit.map_or(String::new(), |us| format!(" = {us:.1} us per edit"))
            );
        }
        (None, _) => {
            let _ = writeln!(
                out,
                "  server CPU        unknown (give --pid or use --spawn)"
            );
        }
    }
    if let (Some(a), Some(b)) = (res.server_start, res.server_end) {
        let _ = writeln!(
            out,
            "  server RSS        {} at start, {} at end ({:+.1} MiB), peak sampled {}, VmHWM {}",
            mib(a.rss_kib),
            mib(b.rss_kib),
            (b.rss_kib as f64 - a.rss_kib as f64) / 1024.0,
            mib(res.server_peak_rss_kib.unwrap_or(0)),
            mib(b.hwm_kib)
        );
    }
    let _ = writeln!(
        out,
        "  load generator    {:.2} s CPU; load average {:.2} at start, {:.2} at end",
        res.bench_cpu_seconds, res.load_average_start[0], res.load_average_end[0]
    );
    let _ = writeln!(
        out,
        "  failures          join {}; disconnects {}; server errors {}",
        counts(&r.join_failures),
        counts(&r.disconnects),
        counts(&r.server_errors)
    );
    let c = &r.convergence;
    let _ = writeln!(
        out,
        "  convergence       {}: {} client texts compared with GET /api/text, {} differ, {} did not settle, {} fetch errors; text {:?} B",
        if c.converged { "OK" } else { "FAILED" },
        c.clients_checked,
        c.mismatches,
        c.unsettled,
        c.http_errors,
        c.text_bytes
    );
}

fn greeting(out: &mut String, g: &GreetingReport) {
    let _ = writeln!(
        out,
        "    Hello revision {:<5} {} of {} B; greeting {} B in {} messages, {:.1} ms",
        g.hello_revision
            .map_or("none".to_owned(), |r| r.to_string()),
        g.catch_up,
        g.catch_up_bytes,
        g.greeting_bytes,
        g.messages,
        g.ms
    );
}

fn idle(out: &mut String, r: &IdleReport) {
    let _ = writeln!(
        out,
        "idle: {} connections over {} documents",
        r.connections, r.docs
    );
    let _ = writeln!(
        out,
        "  joined            {}/{} (join {})",
        r.joined,
        r.connections,
        latency(&r.join_latency)
    );
    let rss = |s: &Option<crate::proc_stats::ProcSample>| {
        s.map_or("unknown".to_owned(), |s| mib(s.rss_kib))
    };
    let _ = writeln!(
        out,
        "  server RSS        {} empty, {} with one per document, {} with all",
        rss(&r.server_empty),
        rss(&r.server_warm),
        rss(&r.server_full)
    );
    if let Some(b) = r.rss_per_connection_bytes {
        let _ = writeln!(
            out,
            "  per connection    {:.0} B ({:.2} KiB)",
            b,
            b / 1024.0
        );
    }
    if let Some(n) = r.server_reported_connections {
        let _ = writeln!(out, "  /api/stats        num_connections {n}");
    }
    let _ = writeln!(
        out,
        "  load generator    RSS {}; load average {:.2}",
        mib(r.bench_rss_kib),
        r.load_average[0]
    );
    let _ = writeln!(
        out,
        "  failures          join {}; disconnects {}",
        counts(&r.join_failures),
        counts(&r.disconnects)
    );
}
