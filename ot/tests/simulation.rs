//! A whole collaboration in one process: an authoritative server loop and
//! 2–8 clients built on [`tandem_ot::Replica`] (the local text, the
//! server text and a [`tandem_ot::Client`]), exchanging messages through
//! queues that a seeded random scheduler delivers in random interleavings,
//! with random disconnects (dropping whatever was in flight) and
//! reconnects. Every run must end with every text equal to the server's.
//!
//! The server side follows the protocol the real server implements: edits
//! carry `(revision, seq)`; a reconnect supersedes the client's previous
//! connection (whose unread messages are discarded) and is answered with
//! the history the client missed, after which the client resends what is
//! still outstanding.
//!
//! The server also crashes now and then, losing the newest entries of its
//! history (as a real one loses what it had not journaled yet): it comes
//! back in a new epoch, so every client gets a snapshot with its surviving
//! `last_seq` and rebases onto it — putting back its own acknowledged
//! edits that were lost ([`tandem_ot::Replica::rebase`]).
//!
//! In insert-only runs every insert is one unique code point, so the end
//! text can be audited: each edit must appear exactly once, crashes or
//! not.

mod common;

use std::collections::{HashMap, VecDeque};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tandem_ot::{Applied, Operation, Replica, Text, UserId};

/// Client → server.
#[derive(Debug)]
enum Up {
    Edit {
        revision: u64,
        seq: u64,
        op: Operation,
    },
}

/// Server → client.
#[derive(Debug)]
enum Down {
    Entry(UserId, Operation),
    /// The text at `revision` of epoch `epoch`, holding the client's edits
    /// up to `last_seq`.
    Snapshot {
        text: String,
        revision: u64,
        last_seq: u64,
        epoch: u64,
    },
    CaughtUp,
}

/// What the server remembers about one client identity.
#[derive(Default)]
struct Record {
    /// Highest sequence number applied.
    last_seq: u64,
    /// Which connection of this identity is current.
    generation: u64,
    connected: bool,
}

struct Server {
    initial: String,
    text: Text,
    /// Author, operation and the author's sequence number of each entry.
    history: Vec<(UserId, Operation, u64)>,
    clients: HashMap<UserId, Record>,
    /// Bumped by each crash.
    epoch: u64,
    /// How many entries are on disk (journaled): a crash keeps at least
    /// these.
    durable: usize,
}

struct Sim {
    user: UserId,
    replica: Replica,
    /// Messages to the server, tagged with the connection generation.
    up: VecDeque<(u64, Up)>,
    down: VecDeque<Down>,
    generation: u64,
    connected: bool,
    /// Unique code points this client inserted (insert-only runs).
    inserted: Vec<char>,
    /// The server epoch the replica's revision belongs to.
    epoch: u64,
}

impl Server {
    fn handle(
        &mut self,
        from: UserId,
        generation: u64,
        msg: Up,
        sims: &mut [Sim],
    ) -> Result<(), String> {
        let record = self.clients.entry(from).or_default();
        if generation != record.generation {
            return Ok(()); // a superseded connection: closed, never read
        }
        let Up::Edit { revision, seq, op } = msg;
        if seq <= record.last_seq {
            return Err(format!(
                "duplicate edit {seq} from {from} reached the server"
            ));
        }
        let revision = revision as usize;
        if revision > self.history.len() {
            return Err(format!("edit from the future: {revision}"));
        }
        let mut op = op;
        for (_, past, _) in &self.history[revision..] {
            op = op.transform(past).map_err(|e| e.to_string())?.0;
        }
        self.text.apply(&op).map_err(|e| e.to_string())?;
        record.last_seq = seq;
        self.history.push((from, op.clone(), seq));
        for sim in sims.iter_mut().filter(|s| s.connected) {
            sim.down.push_back(Down::Entry(from, op.clone()));
        }
        Ok(())
    }

    fn connect(&mut self, sim: &mut Sim) {
        sim.generation += 1;
        sim.connected = true;
        let record = self.clients.entry(sim.user).or_default();
        record.generation = sim.generation;
        record.connected = true;
        if sim.epoch == self.epoch {
            for (author, op, _) in &self.history[sim.replica.revision() as usize..] {
                sim.down.push_back(Down::Entry(*author, op.clone()));
            }
        } else {
            sim.down.push_back(Down::Snapshot {
                text: self.text.to_string(),
                revision: self.history.len() as u64,
                last_seq: record.last_seq,
                epoch: self.epoch,
            });
        }
        sim.down.push_back(Down::CaughtUp);
    }

    /// A crash that keeps only the first `keep` entries of the history
    /// (never fewer than were journaled): every connection drops, and the
    /// server comes back in a new epoch with what survived, all of it now
    /// on disk.
    fn crash(&mut self, keep: usize, sims: &mut [Sim]) -> Result<(), String> {
        self.history.truncate(keep.max(self.durable));
        self.durable = self.history.len();
        let mut text = Text::from(self.initial.as_str());
        for (_, op, _) in &self.history {
            text.apply(op).map_err(|e| e.to_string())?;
        }
        self.text = text;
        self.epoch += 1;
        for (user, record) in self.clients.iter_mut() {
            record.connected = false;
            record.last_seq = self
                .history
                .iter()
                .filter(|(author, _, _)| author == user)
                .map(|(_, _, seq)| *seq)
                .max()
                .unwrap_or(0);
        }
        for sim in sims.iter_mut().filter(|s| s.connected) {
            sim.up.clear();
            sim.down.clear();
            sim.connected = false;
            sim.replica.disconnected();
        }
        Ok(())
    }
}

impl Sim {
    fn local_edit(
        &mut self,
        rng: &mut StdRng,
        insert_only: bool,
        counter: &mut u32,
    ) -> Result<(), String> {
        let len = self.replica.text().len_chars();
        let pos = rng.random_range(0..=len);
        let (del, ins) = if insert_only || len == 0 || rng.random_bool(0.6) {
            let c = char::from_u32(0x4E00 + *counter).ok_or("ran out of markers")?;
            *counter += 1;
            self.inserted.push(c);
            let extra = if insert_only {
                ""
            } else {
                ["", "😀", "e\u{301}"][rng.random_range(0..3)]
            };
            (0, format!("{c}{extra}"))
        } else {
            (rng.random_range(0..=(len - pos).min(3)), String::new())
        };
        let op = Operation::splice(len, pos, del, &ins).map_err(|e| e.to_string())?;
        if let Some(s) = self.replica.apply_local(op).map_err(|e| e.to_string())? {
            self.up.push_back((
                self.generation,
                Up::Edit {
                    revision: s.revision,
                    seq: s.seq,
                    op: s.operation,
                },
            ));
        }
        Ok(())
    }

    fn deliver_down(&mut self) -> Result<(), String> {
        let Some(msg) = self.down.pop_front() else {
            return Ok(());
        };
        match msg {
            Down::Entry(author, op) => match self
                .replica
                .receive(author, &op)
                .map_err(|e| e.to_string())?
            {
                Applied::Acknowledged { next, .. } => {
                    if let Some(s) = next {
                        self.up.push_back((
                            self.generation,
                            Up::Edit {
                                revision: s.revision,
                                seq: s.seq,
                                op: s.operation,
                            },
                        ));
                    }
                }
                Applied::Remote(_) => {}
            },
            Down::Snapshot {
                text,
                revision,
                last_seq,
                epoch,
            } => {
                self.replica
                    .rebase(&text, revision, last_seq)
                    .map_err(|e| format!("client {}: rebase: {e}", self.user))?;
                self.epoch = epoch;
            }
            Down::CaughtUp => {
                if let Some(s) = self.replica.resume() {
                    self.up.push_back((
                        self.generation,
                        Up::Edit {
                            revision: s.revision,
                            seq: s.seq,
                            op: s.operation,
                        },
                    ));
                }
            }
        }
        Ok(())
    }
}

/// One simulated session. Returns a description of the first violated
/// expectation.
fn run(seed: u64) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = rng.random_range(2..=8);
    let steps = rng.random_range(50..400);
    let insert_only = rng.random_bool(0.5);
    let initial = ["", "hello", "a😀b\ne\u{301}"][rng.random_range(0..3)];
    let mut server = Server {
        initial: initial.to_owned(),
        text: Text::from(initial),
        history: Vec::new(),
        clients: HashMap::new(),
        epoch: 0,
        durable: 0,
    };
    let mut crashes = 0;
    let mut sims: Vec<Sim> = (0..n)
        .map(|i| {
            let mut replica = Replica::new(initial, 0);
            replica.identified(i as UserId + 1);
            Sim {
                user: i as UserId + 1,
                replica,
                epoch: 0,
                up: VecDeque::new(),
                down: VecDeque::new(),
                generation: 0,
                connected: false,
                inserted: Vec::new(),
            }
        })
        .collect();
    for sim in sims.iter_mut() {
        server.connect(sim);
    }
    let mut counter = 0u32;
    for _ in 0..steps {
        let i = rng.random_range(0..n);
        match rng.random_range(0..100) {
            0 => {
                // Lose some of what was not journaled yet.
                let len = server.history.len();
                let keep = rng.random_range(server.durable..=len);
                server.crash(keep, &mut sims)?;
                crashes += 1;
                continue;
            }
            1..=5 => server.durable = server.history.len(), // a journal flush
            _ => {}
        }
        match rng.random_range(0..100) {
            0..=29 => sims[i].local_edit(&mut rng, insert_only, &mut counter)?,
            30..=59 => {
                if sims[i].connected {
                    if let Some((generation, msg)) = sims[i].up.pop_front() {
                        let user = sims[i].user;
                        server.handle(user, generation, msg, &mut sims)?;
                    }
                }
            }
            60..=91 => {
                if sims[i].connected {
                    sims[i].deliver_down()?;
                }
            }
            92..=95 => {
                if sims[i].connected {
                    // The server may have read some of what was sent
                    // before the connection broke; the rest is lost, as is
                    // everything on its way down.
                    let read = rng.random_range(0..=sims[i].up.len());
                    for _ in 0..read {
                        let (generation, msg) = sims[i].up.pop_front().unwrap();
                        let user = sims[i].user;
                        server.handle(user, generation, msg, &mut sims)?;
                    }
                    let sim = &mut sims[i];
                    sim.up.clear();
                    sim.down.clear();
                    sim.connected = false;
                    sim.replica.disconnected();
                    server.clients.get_mut(&sim.user).unwrap().connected = false;
                }
            }
            _ => {
                if !sims[i].connected {
                    server.connect(&mut sims[i]);
                }
            }
        }
    }
    // Heal: everyone reconnects and every queue drains.
    for sim in sims.iter_mut().filter(|s| !s.connected) {
        server.connect(sim);
    }
    for _round in 0..100_000 {
        let mut idle = true;
        for i in 0..n {
            if let Some((generation, msg)) = sims[i].up.pop_front() {
                let user = sims[i].user;
                server.handle(user, generation, msg, &mut sims)?;
                idle = false;
            }
            if !sims[i].down.is_empty() {
                sims[i].deliver_down()?;
                idle = false;
            }
        }
        if idle {
            break;
        }
    }
    let expected = server.text.to_string();
    for sim in &sims {
        if !sim.replica.is_synchronized() {
            return Err(format!("client {} still has pending edits", sim.user));
        }
        if sim.replica.revision() as usize != server.history.len() {
            return Err(format!(
                "client {} at revision {}",
                sim.user,
                sim.replica.revision()
            ));
        }
        if sim.replica.text().to_string() != expected {
            return Err(format!(
                "client {} diverged ({crashes} crashes):\n  {:?}\nserver:\n  {:?}",
                sim.user,
                sim.replica.text(),
                expected
            ));
        }
        if sim.replica.base().to_string() != expected {
            return Err(format!(
                "client {}'s server text is {:?}, the server's {:?}",
                sim.user,
                sim.replica.base(),
                expected
            ));
        }
    }
    if insert_only {
        for sim in &sims {
            for c in &sim.inserted {
                let count = expected.chars().filter(|x| x == c).count();
                if count != 1 {
                    return Err(format!(
                        "edit {c:?} by client {} appears {count} times ({crashes} crashes)",
                        sim.user
                    ));
                }
            }
        }
        let total: usize = sims.iter().map(|s| s.inserted.len()).sum();
        if expected.chars().count() != initial.chars().count() + total {
            return Err("unexpected text in the result".into());
        }
    }
    Ok(())
}

#[test]
fn random_sessions_converge_without_loss_or_duplication() {
    let base = common::seed();
    let runs: u64 = std::env::var("TANDEM_SIM_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    for k in 0..runs {
        let seed = base.wrapping_add(k);
        if let Err(e) = run(seed) {
            panic!("simulation failed; reproduce with TANDEM_SEED={seed} TANDEM_SIM_RUNS=1\n{e}");
        }
    }
}
