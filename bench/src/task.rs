//! One simulated client's task (see [`crate::engine`] for the phases):
//! join, wait for the start, type or replay or watch until stopped,
//! then drain and hand back its counts, latencies and final text.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tandem_ot::UserId;
use tandem_server::peer::PeerError;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::{sleep_until, timeout};

use crate::client::{Incoming, JoinOptions, SimClient};
use crate::engine::{cause, Behaviour, ClientResult, Logs, Report, SendLog, Signals};
use crate::typing::Splice;

/// The web client sends its cursor at most every 50 ms.
const CURSOR_INTERVAL: Duration = Duration::from_millis(50);

/// One client's task: join, run, drain.
pub(crate) struct ClientTask {
    pub(crate) base: String,
    pub(crate) doc_id: String,
    pub(crate) doc: usize,
    pub(crate) options: JoinOptions,
    pub(crate) behaviour: Behaviour,
    pub(crate) cursors: bool,
    pub(crate) reports: mpsc::UnboundedSender<Report>,
    pub(crate) signals: Signals,
    pub(crate) acked: Arc<AtomicU64>,
    pub(crate) replays_left: Arc<AtomicU64>,
    pub(crate) permits: Arc<Semaphore>,
}

/// The running state of one client.
struct Running<'a> {
    client: SimClient,
    behaviour: Behaviour,
    log: Arc<SendLog>,
    logs: Arc<Logs>,
    doc: usize,
    /// Per author: their send log and how many entries of theirs arrived.
    seen: HashMap<UserId, (Option<Arc<SendLog>>, usize)>,
    in_flight: Option<Instant>,
    /// Next patch of a replay.
    next_patch: usize,
    caret: usize,
    cursor_due: Option<tokio::time::Instant>,
    last_cursor: Option<Instant>,
    wait: Duration,
    cursors: bool,
    acked_total: &'a AtomicU64,
    replays_left: &'a AtomicU64,
    r: ClientResult,
}

impl ClientTask {
    /// Joins, runs until stopped, drains, and hands back what it saw.
    pub(crate) async fn run(self) -> ClientResult {
        let mut r = ClientResult::default();
        let wait = self.options.wait;
        let client = {
            let _permit = self.permits.acquire().await;
            let started = Instant::now();
            match SimClient::join(&self.base, &self.doc_id, &self.options).await {
                Ok(c) => {
                    r.join_latency = Some(started.elapsed());
                    c
                }
                Err(e) => {
                    let _ = self.reports.send(Report::JoinFailed(cause(&e)));
                    if matches!(self.behaviour, Behaviour::Replay { .. }) {
                        self.replays_left.fetch_sub(1, Relaxed);
                    }
                    return r;
                }
            }
        };
        r.joined = true;
        let log: Arc<SendLog> = Arc::new(Mutex::new(Vec::new()));
        let _ = self.reports.send(Report::Joined {
            doc: self.doc,
            user: client.user(),
            log: log.clone(),
        });
        let mut signals = self.signals;
        // Wait for the start (bounded: the coordinator's join phase is).
        let logs = {
            let got = timeout(Duration::from_secs(3600), async {
                loop {
                    if let Some(l) = signals.start.borrow_and_update().clone() {
                        return Some(l);
                    }
                    if signals.start.changed().await.is_err() {
                        return None;
                    }
                }
            })
            .await;
            match got {
                Ok(Some(l)) => l,
                _ => {
                    r.disconnect = Some("never started".into());
                    return r;
                }
            }
        };
        let caret = client.len();
        let mut run = Running {
            client,
            behaviour: self.behaviour,
            log,
            logs,
            doc: self.doc,
            seen: HashMap::new(),
            in_flight: None,
            next_patch: 0,
            caret,
            cursor_due: None,
            last_cursor: None,
            wait,
            cursors: self.cursors,
            acked_total: &self.acked,
            replays_left: &self.replays_left,
            r,
        };
        let ended = run.run_phase(&mut signals.stop).await;
        if let Behaviour::Replay { .. } = run.behaviour {
            // A replay that ended early (stop, error) is done too.
            if run.next_patch_pending() {
                run.replays_left.fetch_sub(1, Relaxed);
            }
        }
        if let Err(e) = ended {
            run.r.disconnect = Some(cause(&e));
            let _ = self.reports.send(Report::Drained {
                doc: self.doc,
                revision: None,
            });
            return run.r;
        }
        // Drain: our own edits first, then up to everyone's last.
        let own = run.settle(0).await;
        let _ = self.reports.send(Report::Drained {
            doc: self.doc,
            revision: own.as_ref().ok().map(|_| run.client.revision()),
        });
        if let Err(e) = own {
            run.r.disconnect = Some(cause(&e));
            return run.r;
        }
        let target = timeout(wait * 3, async {
            loop {
                if let Some(t) = signals.targets.borrow_and_update().clone() {
                    return t.get(self.doc).copied();
                }
                if signals.targets.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await
        .ok()
        .flatten();
        match target {
            Some(t) => match run.settle(t).await {
                Ok(()) => run.r.text = Some(run.client.text()),
                Err(PeerError::Timeout) => run.r.unsettled = true,
                Err(e) => run.r.disconnect = Some(cause(&e)),
            },
            None => run.r.unsettled = true,
        }
        let Running { client, r, .. } = run;
        client.close().await;
        r
    }
}

impl Running<'_> {
    /// Whether a replay still has patches (it has not counted itself as
    /// done yet).
    fn next_patch_pending(&self) -> bool {
        match &self.behaviour {
            Behaviour::Replay { patches } => {
                self.next_patch < patches.len() || self.in_flight.is_some()
            }
            _ => false,
        }
    }

    /// Edits until told to stop.
    async fn run_phase(&mut self, stop: &mut watch::Receiver<bool>) -> Result<(), PeerError> {
        let (rate, saturate) = match &self.behaviour {
            Behaviour::Watch => (0.0, false),
            Behaviour::Type { rate, .. } => (*rate, *rate == 0.0),
            Behaviour::Replay { .. } => (0.0, true),
        };
        if saturate {
            self.edit().await?;
        }
        let period = (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
        // Spread the first ticks so that clients do not type in lockstep.
        let offset = period.map_or(Duration::ZERO, |p| {
            p.mul_f64((self.log_seed() % 1000) as f64 / 1000.0)
        });
        let mut next_tick = tokio::time::Instant::now() + offset;
        let mut due = false;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let cursor_due = self.cursor_due;
            tokio::select! {
                biased;
                changed = stop.changed() => {
                    if changed.is_err() { return Ok(()); }
                }
                frame = self.client.recv() => {
                    let acked = self.on_frame(frame).await?;
                    if acked && (saturate || std::mem::take(&mut due)) {
                        self.edit().await?;
                    }
                }
                _ = sleep_until(next_tick), if period.is_some() => {
                    next_tick += period.unwrap_or_default();
                    if self.in_flight.is_none() {
                        self.edit().await?;
                    } else if due {
                        self.r.late += 1;
                    } else {
                        due = true;
                    }
                }
                _ = sleep_until(cursor_due.unwrap_or_else(tokio::time::Instant::now)), if cursor_due.is_some() => {
                    self.cursor_due = None;
                    self.send_cursor().await?;
                }
            }
        }
    }

    /// A number that differs between clients, for spreading ticks.
    fn log_seed(&self) -> u64 {
        self.client
            .user()
            .wrapping_mul(2_654_435_761)
            .wrapping_add(self.doc as u64)
    }

    /// Handles one frame; returns whether it acknowledged our edit.
    async fn on_frame(
        &mut self,
        frame: Option<Result<tokio_tungstenite::tungstenite::Message, String>>,
    ) -> Result<bool, PeerError> {
        let now = Instant::now();
        match self.client.handle(frame, self.wait).await? {
            Incoming::Entries { remote, acked } => {
                for author in remote {
                    self.arrived(author, now);
                }
                if acked.is_some() {
                    if let Some(sent) = self.in_flight.take() {
                        self.r.ack.record_duration(now - sent);
                    }
                    self.r.acked += 1;
                    self.acked_total.fetch_add(1, Relaxed);
                    if let Behaviour::Replay { patches } = &self.behaviour {
                        if self.next_patch >= patches.len() {
                            self.replays_left.fetch_sub(1, Relaxed);
                        }
                    }
                    return Ok(true);
                }
            }
            Incoming::Cursor => self.r.cursors_received += 1,
            Incoming::UserInfo => self.r.infos_received += 1,
            Incoming::Error(code) => *self.r.errors.entry(code).or_default() += 1,
            Incoming::Other => {}
        }
        Ok(false)
    }

    /// Records the arrival of `author`'s next entry.
    fn arrived(&mut self, author: UserId, now: Instant) {
        let logs = &self.logs;
        let doc = self.doc;
        let (log, count) = self
            .seen
            .entry(author)
            .or_insert_with(|| (logs.get(&(doc, author)).cloned(), 0));
        *count += 1;
        if let Some(log) = log {
            let sent = log.lock().ok().and_then(|l| l.get(*count - 1).copied());
            if let Some(sent) = sent {
                self.r
                    .arrival
                    .record_duration(now.saturating_duration_since(sent));
            }
        }
    }

    /// Makes the next edit (nothing of ours is in flight).
    async fn edit(&mut self) -> Result<(), PeerError> {
        let len = self.client.len();
        let splice = match &mut self.behaviour {
            Behaviour::Watch => return Ok(()),
            Behaviour::Type { typist, .. } => typist.next(len),
            Behaviour::Replay { patches } => {
                let Some(p) = patches.get(self.next_patch) else {
                    return Ok(());
                };
                self.next_patch += 1;
                Splice {
                    pos: p.pos,
                    delete: p.delete,
                    insert: p.insert.clone(),
                    caret: p.pos + p.insert.chars().count(),
                }
            }
        };
        let now = Instant::now();
        if let Ok(mut l) = self.log.lock() {
            l.push(now);
        }
        let sent = self
            .client
            .splice(splice.pos, splice.delete, &splice.insert, self.wait)
            .await?;
        self.caret = splice.caret;
        if sent.is_none() {
            // A no-op (a trace patch that changes nothing): no entry will
            // come for it, so it leaves the log; try the next one.
            if let Ok(mut l) = self.log.lock() {
                l.pop();
            }
            return Box::pin(self.edit()).await;
        }
        self.in_flight = Some(now);
        self.r.sent += 1;
        if self.cursors {
            self.cursor_wanted().await?;
        }
        Ok(())
    }

    /// The caret moved: send it now, or when the 50 ms throttle allows.
    async fn cursor_wanted(&mut self) -> Result<(), PeerError> {
        match self.last_cursor {
            Some(t) if t.elapsed() < CURSOR_INTERVAL => {
                if self.cursor_due.is_none() {
                    self.cursor_due = Some(tokio::time::Instant::from_std(t + CURSOR_INTERVAL));
                }
                Ok(())
            }
            _ => self.send_cursor().await,
        }
    }

    async fn send_cursor(&mut self) -> Result<(), PeerError> {
        self.last_cursor = Some(Instant::now());
        self.r.cursors_sent += 1;
        self.client.send_cursor(self.caret, self.wait).await
    }

    /// Reads until our edits are acknowledged and we are at `revision`,
    /// counting what arrives (bounded by the wait).
    async fn settle(&mut self, revision: u64) -> Result<(), PeerError> {
        let deadline = Instant::now() + self.wait;
        while !self.client.is_synchronized() || self.client.revision() < revision {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(PeerError::Timeout);
            }
            let frame = timeout(left, self.client.recv())
                .await
                .map_err(|_| PeerError::Timeout)?;
            self.on_frame(frame).await?;
        }
        Ok(())
    }
}
