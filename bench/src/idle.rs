//! Idle mode: N connections join documents and sit; the server's RSS per
//! connection is the growth from "one connection per document" (so that
//! the documents themselves are already in memory) to "all connections",
//! divided by the connections added.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::{sleep, timeout};

use crate::args::Args;
use crate::client::{JoinOptions, SimClient};
use crate::engine::cause;
use crate::proc_stats::{self, Pid, ProcSample};
use crate::spawn::Server;
use crate::stats::{Histogram, Summary};

/// An idle run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IdleReport {
    /// Connections asked for.
    pub connections: usize,
    /// Documents they are spread over (round robin).
    pub docs: usize,
    /// Connections that joined.
    pub joined: usize,
    /// Join failures by cause.
    pub join_failures: BTreeMap<String, u64>,
    /// Join latency (TCP connect to end of greeting).
    pub join_latency: Summary,
    /// Connections lost while idle, by cause.
    pub disconnects: BTreeMap<String, u64>,
    /// The server before any connection.
    pub server_empty: Option<ProcSample>,
    /// The server with one connection per document.
    pub server_warm: Option<ProcSample>,
    /// The server with every connection, after `--hold`.
    pub server_full: Option<ProcSample>,
    /// (full − warm RSS) / connections added, bytes.
    pub rss_per_connection_bytes: Option<f64>,
    /// `num_connections` of `GET /api/stats` with every connection open.
    pub server_reported_connections: Option<u64>,
    /// The load generator's own RSS with every connection open, KiB.
    pub bench_rss_kib: u64,
    /// Load average at the end.
    pub load_average: [f64; 3],
}

enum Joined {
    Ok(Duration),
    Failed(String),
}

/// Runs idle mode on documents named `{prefix}-{i}`.
pub async fn run(server: &Server, args: &Args, prefix: &str) -> Result<IdleReport, String> {
    let n = args.connections;
    let docs = args.docs.min(n).max(1);
    let pid = server.pid;
    let sample = || pid.and_then(|p| proc_stats::sample(Pid::Other(p)).ok());
    let mut report = IdleReport {
        connections: n,
        docs,
        server_empty: sample(),
        ..IdleReport::default()
    };
    let (stop_tx, stop) = watch::channel(false);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (gone_tx, mut gone) = mpsc::unbounded_channel();
    let permits = Arc::new(Semaphore::new(args.join_concurrency.unwrap_or(n).max(1)));
    let mut tasks = Vec::with_capacity(n);
    let mut latency = Histogram::new();
    let spawn_range = |range: std::ops::Range<usize>, tasks: &mut Vec<_>| {
        for i in range {
            let options = JoinOptions {
                info: Some((format!("idle-{i}"), (i * 37 % 360) as u32)),
                small_buffers: true,
                revision: None,
                wait: args.wait,
            };
            let base = server.ws_base.clone();
            let doc = format!("{prefix}-{}", i % docs);
            let (tx, gone_tx, permits, mut stop) =
                (tx.clone(), gone_tx.clone(), permits.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let joined = {
                    let _p = permits.acquire().await;
                    let started = Instant::now();
                    SimClient::join(&base, &doc, &options)
                        .await
                        .map(|c| (c, started.elapsed()))
                };
                let mut c = match joined {
                    Ok((c, t)) => {
                        let _ = tx.send(Joined::Ok(t));
                        c
                    }
                    Err(e) => {
                        let _ = tx.send(Joined::Failed(cause(&e)));
                        return;
                    }
                };
                // Sit, reading whatever comes (user announcements), until
                // told to stop; bounded by the stop signal and an hour.
                let sat = timeout(Duration::from_secs(3600), async {
                    loop {
                        tokio::select! {
                            _ = stop.changed() => return Ok(()),
                            frame = c.recv() => { c.handle(frame, options.wait).await?; }
                        }
                    }
                })
                .await;
                match sat {
                    Ok(Err(e)) => {
                        let _ = gone_tx.send(cause(&e));
                    }
                    _ => c.close().await,
                }
            }));
        }
    };
    spawn_range(0..docs, &mut tasks);
    wait_joins(docs, args, &mut rx, &mut latency, &mut report).await;
    sleep(Duration::from_secs(1)).await;
    report.server_warm = sample();
    spawn_range(docs..n, &mut tasks);
    wait_joins(n - docs, args, &mut rx, &mut latency, &mut report).await;
    sleep(args.hold).await;
    report.server_full = sample();
    report.bench_rss_kib = proc_stats::sample(Pid::Own).map(|s| s.rss_kib).unwrap_or(0);
    report.load_average = proc_stats::load_average();
    report.server_reported_connections = stats_connections(server, args.wait).await;
    if let (Some(w), Some(f)) = (report.server_warm, report.server_full) {
        let added = report.joined.saturating_sub(docs);
        if added > 0 {
            report.rss_per_connection_bytes =
                Some((f.rss_kib as f64 - w.rss_kib as f64) * 1024.0 / added as f64);
        }
    }
    report.join_latency = latency.summary();
    let _ = stop_tx.send(true);
    drop((tx, gone_tx));
    for t in tasks {
        let _ = timeout(args.wait, t).await;
    }
    while let Ok(why) = gone.try_recv() {
        *report.disconnects.entry(why).or_default() += 1;
    }
    Ok(report)
}

/// Collects `count` join results (bounded by the wait per batch).
async fn wait_joins(
    count: usize,
    args: &Args,
    rx: &mut mpsc::UnboundedReceiver<Joined>,
    latency: &mut Histogram,
    report: &mut IdleReport,
) {
    let batches = count.div_ceil(args.join_concurrency.unwrap_or(count).max(1)) as u32;
    let deadline = Instant::now() + args.wait * (1 + batches);
    for _ in 0..count {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, rx.recv()).await {
            Ok(Some(Joined::Ok(t))) => {
                report.joined += 1;
                latency.record_duration(t);
            }
            Ok(Some(Joined::Failed(why))) => {
                *report.join_failures.entry(why).or_default() += 1;
            }
            _ => {
                *report
                    .join_failures
                    .entry("no answer in time".into())
                    .or_default() += 1;
            }
        }
    }
}

/// `num_connections` from `GET /api/stats`.
async fn stats_connections(server: &Server, wait: Duration) -> Option<u64> {
    let (status, body) = crate::http::get(server.http, "/api/stats", wait)
        .await
        .ok()?;
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
    v.get("num_connections")?.as_u64()
}
