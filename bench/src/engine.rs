//! The shared machinery of the load, joins and trace modes: one tokio
//! task per simulated client, and a coordinator that joins them, starts
//! them together, stops them, drains them and checks convergence.
//!
//! # Phases
//!
//! 1. *Seed*: a throwaway client writes each document's initial text.
//! 2. *Join*: every client connects (all at once, or `join_concurrency`
//!    at a time) and reports its user id; nobody edits yet, so every
//!    client sees every later edit.
//! 3. *Run*: the coordinator samples the server, then lets the clients
//!    go; it stops them after `duration`, after `max_edits`
//!    acknowledgements, or when a replayed trace is done.
//! 4. *Drain*: each client waits for its last edit's acknowledgement and
//!    reports its revision; then every client of a document reads up to
//!    the highest revision reported for it.
//! 5. *Check*: each client's text must equal `GET /api/text/{id}`.
//!
//! # Latency matching
//!
//! A client submits an edit only when nothing of its own is in flight, so
//! each of its edits is exactly one history entry, and one author's
//! entries are applied — and arrive everywhere — in the order they were
//! sent. Each author appends the send time of each edit to its *send
//! log*; a receiver counting that author's entries finds the n-th entry's
//! send time at index n − 1. Own acknowledgement latency is the time from
//! sending to the entry coming back.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tandem_ot::UserId;
use tandem_server::peer::PeerError;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::{sleep, timeout};

use crate::client::{JoinOptions, SimClient};
use crate::proc_stats::{self, Pid, ProcSample, RssWatcher};
use crate::spawn::Server;
use crate::stats::{Histogram, Summary};
use crate::task::ClientTask;
use crate::trace::Patch;
use crate::typing::Typist;

/// What a client does once the run starts.
pub enum Behaviour {
    /// Only receives.
    Watch,
    /// Types with `typist`: `rate` edits per second, or (0) the next edit
    /// as soon as the previous one is acknowledged.
    Type {
        /// The typist.
        typist: Typist,
        /// Edits per second; 0 saturates.
        rate: f64,
    },
    /// Replays `patches` in order, each acknowledged before the next.
    Replay {
        /// The trace.
        patches: Arc<Vec<Patch>>,
    },
}

/// One document of a run.
pub struct DocSpec {
    /// The document id.
    pub id: String,
    /// Written before anyone joins.
    pub initial_text: String,
    /// One entry per client.
    pub clients: Vec<Behaviour>,
}

/// A run.
pub struct Spec {
    /// The documents.
    pub docs: Vec<DocSpec>,
    /// Presence traffic: `Hello` with a name, cursors after edits.
    pub cursors: bool,
    /// Connections opened at once; `None`: all.
    pub join_concurrency: Option<usize>,
    /// Longest editing time.
    pub duration: Duration,
    /// Stop after this many acknowledgements in all.
    pub max_edits: Option<u64>,
    /// Bound on each single wait.
    pub wait: Duration,
}

/// Server and machine readings at the start and end of the run phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Resources {
    /// The server at the start (after the joins), if its pid is known.
    pub server_start: Option<ProcSample>,
    /// The server at the end of the run phase.
    pub server_end: Option<ProcSample>,
    /// Highest server RSS sampled (every 100 ms) from the joins to the end
    /// of the run phase, KiB.
    pub server_peak_rss_kib: Option<u64>,
    /// Server CPU seconds spent in the run phase.
    pub server_cpu_seconds: Option<f64>,
    /// The load generator's own CPU seconds in the run phase (it shares
    /// the machine with the server).
    pub bench_cpu_seconds: f64,
    /// Load average (1, 5, 15 min) before the run phase.
    pub load_average_start: [f64; 3],
    /// Load average after it.
    pub load_average_end: [f64; 3],
}

/// Convergence at the end.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Convergence {
    /// Clients whose final text was compared.
    pub clients_checked: usize,
    /// Clients whose text differs from the server's.
    pub mismatches: usize,
    /// Clients that could not reach the final revision in time.
    pub unsettled: usize,
    /// Documents whose text could not be fetched.
    pub http_errors: usize,
    /// Server text size per document, bytes.
    pub text_bytes: Vec<usize>,
    /// Whether everything matched (and something was checked).
    pub converged: bool,
}

/// What a run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// Clients asked for.
    pub clients: usize,
    /// Clients that joined.
    pub joined: usize,
    /// Join failures by cause.
    pub join_failures: BTreeMap<String, u64>,
    /// From opening the TCP connection to the end of the greeting.
    pub join_latency: Summary,
    /// Length of the run phase, seconds.
    pub seconds: f64,
    /// Edits sent.
    pub edits_sent: u64,
    /// Edits acknowledged.
    pub edits_acked: u64,
    /// Acknowledged edits per second.
    pub edits_per_second: f64,
    /// Own acknowledgement latency.
    pub ack_latency: Summary,
    /// From an edit being sent to its arrival at each other client.
    pub arrival_latency: Summary,
    /// Ticks of a rate-limited typist that found its previous edit still
    /// unacknowledged (the edit then waits for the acknowledgement).
    pub late_ticks: u64,
    /// Cursors sent.
    pub cursors_sent: u64,
    /// `UserCursor` messages received.
    pub cursors_received: u64,
    /// `UserInfo` messages received.
    pub user_infos_received: u64,
    /// `Error` messages received, by code.
    pub server_errors: BTreeMap<String, u64>,
    /// Connections lost after joining, by cause.
    pub disconnects: BTreeMap<String, u64>,
    /// Server and machine readings.
    pub resources: Resources,
    /// Server CPU per acknowledged edit, microseconds.
    pub server_cpu_us_per_edit: Option<f64>,
    /// Convergence check.
    pub convergence: Convergence,
    /// Final text of the first document, as the server has it (for the
    /// trace check; not serialised).
    #[serde(skip)]
    pub first_text: Option<String>,
}

impl Outcome {
    /// Total disconnects.
    pub fn disconnect_count(&self) -> u64 {
        self.disconnects.values().sum()
    }

    /// Total join failures.
    pub fn join_failure_count(&self) -> u64 {
        self.join_failures.values().sum()
    }

    /// Whether the run is clean: everyone joined and stayed, no protocol
    /// errors, and the texts converged.
    pub fn is_clean(&self) -> bool {
        self.join_failure_count() == 0
            && self.disconnect_count() == 0
            && self.server_errors.is_empty()
            && self.convergence.converged
    }
}

/// One author's send times, in order.
pub(crate) type SendLog = Mutex<Vec<Instant>>;
/// Every author's send log, by (document index, user id).
pub(crate) type Logs = HashMap<(usize, UserId), Arc<SendLog>>;

/// What a client task tells the coordinator.
pub(crate) enum Report {
    /// Joined as `user` of document `doc`, with its send log.
    Joined {
        doc: usize,
        user: UserId,
        log: Arc<SendLog>,
    },
    /// Could not join, for this cause.
    JoinFailed(String),
    /// Stopped; at `revision` with its own edits acknowledged (`None`:
    /// lost its connection).
    Drained { doc: usize, revision: Option<u64> },
}

/// What a client task hands back at the end.
#[derive(Default)]
pub(crate) struct ClientResult {
    pub(crate) joined: bool,
    pub(crate) join_latency: Option<Duration>,
    pub(crate) ack: Histogram,
    pub(crate) arrival: Histogram,
    pub(crate) sent: u64,
    pub(crate) acked: u64,
    pub(crate) late: u64,
    pub(crate) cursors_sent: u64,
    pub(crate) cursors_received: u64,
    pub(crate) infos_received: u64,
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) disconnect: Option<String>,
    /// Final text, when the client reached the final revision.
    pub(crate) text: Option<String>,
    pub(crate) unsettled: bool,
}

/// Signals from the coordinator to the client tasks.
#[derive(Clone)]
pub(crate) struct Signals {
    pub(crate) start: watch::Receiver<Option<Arc<Logs>>>,
    pub(crate) stop: watch::Receiver<bool>,
    pub(crate) targets: watch::Receiver<Option<Arc<Vec<u64>>>>,
}

/// A short, countable name for what went wrong.
pub fn cause(e: &PeerError) -> String {
    match e {
        PeerError::Refused(status, _) => format!("refused HTTP {status}"),
        PeerError::Closed(code, reason) => {
            let reason: String = reason.chars().take(40).collect();
            format!("closed {code} {reason}").trim_end().to_owned()
        }
        PeerError::NotConnected => "not connected".into(),
        PeerError::Timeout => "timeout".into(),
        PeerError::Protocol(m) => format!("protocol: {}", m.chars().take(60).collect::<String>()),
        PeerError::Io(m) => format!("network: {}", m.chars().take(60).collect::<String>()),
    }
}

/// Writes `text` into document `id` with a throwaway client.
async fn seed(server: &Server, id: &str, text: &str, wait: Duration) -> Result<(), String> {
    let options = JoinOptions {
        info: None,
        small_buffers: false,
        revision: None,
        wait,
    };
    let mut c = SimClient::join(&server.ws_base, id, &options)
        .await
        .map_err(|e| format!("seeding {id}: join: {e}"))?;
    let len = c.len();
    c.splice(0, len, text, wait)
        .await
        .map_err(|e| format!("seeding {id}: {e}"))?;
    c.settle(0, wait)
        .await
        .map_err(|e| format!("seeding {id}: no acknowledgement: {e}"))?;
    c.close().await;
    Ok(())
}

/// Runs `spec` against `server`.
pub async fn run(server: &Server, spec: Spec) -> Result<Outcome, String> {
    let wait = spec.wait;
    let doc_ids: Vec<String> = spec.docs.iter().map(|d| d.id.clone()).collect();
    // 1. Seed.
    for doc in &spec.docs {
        if !doc.initial_text.is_empty() {
            seed(server, &doc.id, &doc.initial_text, wait).await?;
        }
    }
    let watcher = server.pid.map(RssWatcher::start);

    // 2. Join.
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let (start_tx, start) = watch::channel(None);
    let (stop_tx, stop) = watch::channel(false);
    let (targets_tx, targets) = watch::channel(None);
    let signals = Signals {
        start,
        stop,
        targets,
    };
    let acked = Arc::new(AtomicU64::new(0));
    let replays_left = Arc::new(AtomicU64::new(0));
    let total: usize = spec.docs.iter().map(|d| d.clients.len()).sum();
    let concurrency = spec.join_concurrency.unwrap_or(total).max(1);
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(total);
    let mut index = 0usize;
    for (d, doc) in spec.docs.into_iter().enumerate() {
        for behaviour in doc.clients {
            if matches!(behaviour, Behaviour::Replay { .. }) {
                replays_left.fetch_add(1, Relaxed);
            }
            let info = spec
                .cursors
                .then(|| (format!("bench-{index}"), (index * 37 % 360) as u32));
            index += 1;
            let task = ClientTask {
                base: server.ws_base.clone(),
                doc_id: doc.id.clone(),
                doc: d,
                options: JoinOptions {
                    info,
                    small_buffers: false,
                    revision: None,
                    wait,
                },
                behaviour,
                cursors: spec.cursors,
                reports: report_tx.clone(),
                signals: signals.clone(),
                acked: acked.clone(),
                replays_left: replays_left.clone(),
                permits: permits.clone(),
            };
            tasks.push((d, tokio::spawn(task.run())));
        }
    }
    drop(report_tx);
    drop(signals);
    let has_replay = replays_left.load(Relaxed) > 0;
    let batches = total.div_ceil(concurrency) as u32;
    let join_deadline = Instant::now() + (wait * (batches + 1)).min(Duration::from_secs(1800));
    let mut logs = Logs::new();
    let mut outcome = Outcome {
        clients: total,
        ..Outcome::default()
    };
    let mut answered = 0;
    while answered < total {
        let left = join_deadline.saturating_duration_since(Instant::now());
        match timeout(left, reports.recv()).await {
            Ok(Some(Report::Joined { doc, user, log })) => {
                logs.insert((doc, user), log);
                outcome.joined += 1;
            }
            Ok(Some(Report::JoinFailed(why))) => {
                *outcome.join_failures.entry(why).or_default() += 1;
            }
            Ok(Some(Report::Drained { .. })) => continue,
            Ok(None) | Err(_) => break,
        }
        answered += 1;
    }
    if answered < total {
        *outcome
            .join_failures
            .entry("no answer in time".into())
            .or_default() += (total - answered) as u64;
    }

    // 3. Run.
    let pid = server.pid;
    let server_start = pid.and_then(|p| proc_stats::sample(Pid::Other(p)).ok());
    let own_start = proc_stats::sample(Pid::Own).ok();
    let load_start = proc_stats::load_average();
    let started = Instant::now();
    let _ = start_tx.send(Some(Arc::new(logs)));
    let deadline = started + spec.duration;
    // Bounded by `duration` (at most an hour).
    loop {
        let now = Instant::now();
        if now >= deadline
            || spec.max_edits.is_some_and(|m| acked.load(Relaxed) >= m)
            || (has_replay && replays_left.load(Relaxed) == 0)
        {
            break;
        }
        sleep((deadline - now).min(Duration::from_millis(5))).await;
    }
    let _ = stop_tx.send(true);
    let elapsed = started.elapsed();
    let server_end = pid.and_then(|p| proc_stats::sample(Pid::Other(p)).ok());
    let own_end = proc_stats::sample(Pid::Own).ok();
    let load_end = proc_stats::load_average();
    let peak = match watcher {
        Some(w) => Some(w.finish().await),
        None => None,
    };

    // 4. Drain: every joined client reports once (or dies trying).
    let mut max_revision = vec![0u64; doc_ids.len()];
    let drain_deadline = Instant::now() + wait * 2;
    let mut drained = 0;
    while drained < outcome.joined {
        let left = drain_deadline.saturating_duration_since(Instant::now());
        match timeout(left, reports.recv()).await {
            Ok(Some(Report::Drained { doc, revision })) => {
                if let Some(r) = revision {
                    max_revision[doc] = max_revision[doc].max(r);
                }
                drained += 1;
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let _ = targets_tx.send(Some(Arc::new(max_revision)));

    // Collect.
    let mut ack = Histogram::new();
    let mut arrival = Histogram::new();
    let mut join_latency = Histogram::new();
    let mut texts: Vec<Vec<Option<String>>> = vec![Vec::new(); doc_ids.len()];
    for (doc, handle) in tasks {
        let r = match timeout(wait * 3, handle).await {
            Ok(Ok(r)) => r,
            _ => {
                *outcome
                    .disconnects
                    .entry("client task hung".into())
                    .or_default() += 1;
                continue;
            }
        };
        if !r.joined {
            continue;
        }
        ack.merge(&r.ack);
        arrival.merge(&r.arrival);
        if let Some(l) = r.join_latency {
            join_latency.record_duration(l);
        }
        outcome.edits_sent += r.sent;
        outcome.edits_acked += r.acked;
        outcome.late_ticks += r.late;
        outcome.cursors_sent += r.cursors_sent;
        outcome.cursors_received += r.cursors_received;
        outcome.user_infos_received += r.infos_received;
        for (k, v) in r.errors {
            *outcome.server_errors.entry(k).or_default() += v;
        }
        match r.disconnect {
            Some(d) => *outcome.disconnects.entry(d).or_default() += 1,
            None if r.unsettled => outcome.convergence.unsettled += 1,
            None => texts[doc].push(r.text),
        }
    }
    outcome.join_latency = join_latency.summary();
    outcome.ack_latency = ack.summary();
    outcome.arrival_latency = arrival.summary();
    outcome.seconds = elapsed.as_secs_f64();
    outcome.edits_per_second = outcome.edits_acked as f64 / elapsed.as_secs_f64().max(1e-9);
    outcome.resources = Resources {
        server_start,
        server_end,
        server_peak_rss_kib: peak,
        server_cpu_seconds: match (server_start, server_end) {
            (Some(a), Some(b)) => Some(b.cpu_seconds - a.cpu_seconds),
            _ => None,
        },
        bench_cpu_seconds: match (own_start, own_end) {
            (Some(a), Some(b)) => b.cpu_seconds - a.cpu_seconds,
            _ => 0.0,
        },
        load_average_start: load_start,
        load_average_end: load_end,
    };
    outcome.server_cpu_us_per_edit = outcome
        .resources
        .server_cpu_seconds
        .filter(|_| outcome.edits_acked > 0)
        .map(|s| s * 1e6 / outcome.edits_acked as f64);

    // 5. Check.
    let c = &mut outcome.convergence;
    for (d, id) in doc_ids.iter().enumerate() {
        match crate::http::document_text(server.http, id, wait).await {
            Ok(server_text) => {
                for t in &texts[d] {
                    c.clients_checked += 1;
                    if t.as_deref() != Some(server_text.as_str()) {
                        c.mismatches += 1;
                    }
                }
                c.text_bytes.push(server_text.len());
                if d == 0 {
                    outcome.first_text = Some(server_text);
                }
            }
            Err(e) => {
                eprintln!("tandem-bench: {e}");
                c.http_errors += 1;
            }
        }
    }
    c.converged = c.mismatches == 0
        && c.unsettled == 0
        && c.http_errors == 0
        && (c.clients_checked > 0 || outcome.joined == 0);
    Ok(outcome)
}
