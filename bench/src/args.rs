//! Command-line options (hand-rolled: a dozen flags do not need a parser
//! crate). Every numeric option is bounded so that a typo cannot start an
//! unbounded run.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `tandem-bench --help`.
pub const HELP: &str = "\
tandem-bench — load generator for the tandem server (loopback only)

Usage:
  tandem-bench --spawn PATH  [--server-env NAME=VALUE]... [options]
  tandem-bench --server ws://127.0.0.1:PORT [--pid PID]  [options]
  tandem-bench --mode floor [--clients N] [--message-bytes N] [--duration S]

Target (exactly one; none for --mode floor):
  --spawn PATH          start this tandem binary on 127.0.0.1 with a random
                        port and a temporary SQLite database; it is stopped
                        (SIGTERM, then SIGKILL) when the run ends
  --server-env N=V      extra environment for the spawned server, e.g.
                        PERSIST_MAX_LOSS_MS=3600000 or SQLITE_URI=none
  --server URL          a running server: ws://127.0.0.1:PORT, ws://localhost:PORT
                        or ws://[::1]:PORT (anything else is refused)
  --pid PID             the running server's pid, for CPU and memory figures

Modes (--mode, default load):
  load    documents x clients typing; the figures below
  joins   --clients N join one document at the same moment, then stay
          --hold seconds without editing: join latency, refusals, disconnects
  idle    --connections N join --docs documents and sit: server RSS per
          connection
  trace   one client replays an editing trace keystroke by keystroke (each
          acknowledged before the next) while --watchers others receive it
  floor   no tandem server: --clients connections ping-pong --message-bytes
          with an echo server (a copy of this program, on tokio, like the
          server) over loopback TCP; its CPU per round trip is the machine's
          floor under the server's CPU per saturating edit

Options:
  --docs N              documents (load, idle)                           [1]
  --clients N           clients per document (load, joins)               [8]
  --rate R              edits per second per client; 0 = saturate: the next
                        edit as soon as the previous one is acknowledged   [0]
  --duration S          seconds of editing (load, trace; fractions ok)   [10]
  --max-edits N         stop once N edits are acknowledged in all        [none]
  --initial-size BYTES  initial document text (suffix K = 1000, KiB = 1024) [0]
  --growth BYTES        the typists keep each text below initial + this  [16000]
  --cursors             web-client presence: Hello with a name and colour,
                        and a cursor after each edit, at most 20/s per client
  --connections N       idle connections                                 [1000]
  --hold S              seconds to stay connected (idle, joins)          [5]
  --join-concurrency N  connections opened at once (0 = all)   [0; idle: 256]
  --trace NAME|PATH     trace: ../shared/traces/NAME.json.gz from the repo
                        root, or a path to such a file        [automerge-paper]
  --watchers N          clients receiving the trace                      [3]
  --probe-join          after a load run, measure what a new client receives
                        (fresh join, and a reconnect from revision 0)
  --seed N              seed of the typists                              [1]
  --wait S              bound on each single wait (connect, ack, drain)  [30]
  --message-bytes N     floor: bytes of each request and reply         [100]
  --json                print the report as JSON instead of text
  -h, --help            this text

Every run checks convergence at the end: each client's text must equal
GET /api/text/{id}. Exit status: 0 when the run had no errors, no
disconnects and converged; 1 otherwise; 2 for bad usage.

10,000 connections need about 10,100 file descriptors in this process and
in the server: the load generator raises its soft limit to the hard limit
(the spawned server inherits it); if the hard limit is too low, raise it
first (`ulimit -n 20000` as root, or LimitNOFILE= for a service).
";

/// Which server to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Start this binary.
    Spawn {
        /// Path to `tandem`.
        binary: PathBuf,
        /// Extra environment.
        env: Vec<(String, String)>,
    },
    /// A running server.
    Running {
        /// `ws://host:port`, checked to be loopback.
        url: String,
        /// Its pid, when given.
        pid: Option<u32>,
    },
}

/// What to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Typing clients.
    Load,
    /// Simultaneous joins.
    Joins,
    /// Idle connections.
    Idle,
    /// Trace replay.
    Trace,
    /// The machine's floor: request/reply over loopback TCP.
    Floor,
}

/// Parsed options.
#[derive(Debug, Clone)]
pub struct Args {
    /// The server.
    pub target: Target,
    /// The mode.
    pub mode: Mode,
    /// Documents.
    pub docs: usize,
    /// Clients per document.
    pub clients: usize,
    /// Edits per second per client; 0 saturates.
    pub rate: f64,
    /// Editing time.
    pub duration: Duration,
    /// Stop after this many acknowledged edits.
    pub max_edits: Option<u64>,
    /// Initial document size, bytes.
    pub initial_size: usize,
    /// How far typists let a text grow beyond its initial size, bytes.
    pub growth: usize,
    /// Presence traffic (names, cursors).
    pub cursors: bool,
    /// Idle connections.
    pub connections: usize,
    /// Time to stay connected (idle, joins).
    pub hold: Duration,
    /// Connections opened at once; `None`: all.
    pub join_concurrency: Option<usize>,
    /// The trace file.
    pub trace: PathBuf,
    /// Trace watchers.
    pub watchers: usize,
    /// Measure a new joiner's greeting after a load run.
    pub probe_join: bool,
    /// Typist seed.
    pub seed: u64,
    /// Bound on each wait.
    pub wait: Duration,
    /// JSON output.
    pub json: bool,
    /// Size of each floor-mode message.
    pub message_bytes: usize,
}

/// Where the traces are: `shared/traces` beside the repository.
pub fn traces_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/traces"))
}

/// Parses the arguments (without the program name). `Ok(None)` means
/// `--help` was asked for.
pub fn parse(argv: &[String]) -> Result<Option<Args>, String> {
    let mut spawn = None;
    let mut server = None;
    let mut pid = None;
    let mut env = Vec::new();
    let mut mode = Mode::Load;
    let mut docs = None;
    let mut clients = 8;
    let mut rate = 0.0;
    let mut duration = Duration::from_secs(10);
    let mut max_edits = None;
    let mut initial_size = 0;
    let mut growth = 16_000;
    let mut cursors = false;
    let mut connections = 1000;
    let mut hold = Duration::from_secs(5);
    let mut join_concurrency = None;
    let mut trace = String::from("automerge-paper");
    let mut watchers = 3;
    let mut probe_join = false;
    let mut seed = 1;
    let mut wait = Duration::from_secs(30);
    let mut json = false;
    let mut message_bytes = 100;

    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--spawn" => spawn = Some(PathBuf::from(value(flag)?)),
            "--server" => server = Some(value(flag)?),
            "--pid" => pid = Some(number(flag, &value(flag)?, 1, u64::from(u32::MAX))? as u32),
            "--server-env" => {
                let v = value(flag)?;
                let (k, val) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--server-env wants NAME=VALUE, got {v:?}"))?;
                if k == "BIND_ADDR" || k == "PORT" {
                    return Err(format!(
                        "--server-env {k} is set by the load generator (127.0.0.1, a random port)"
                    ));
                }
                env.push((k.to_owned(), val.to_owned()));
            }
            "--mode" => {
                mode = match value(flag)?.as_str() {
                    "load" => Mode::Load,
                    "joins" => Mode::Joins,
                    "idle" => Mode::Idle,
                    "trace" => Mode::Trace,
                    "floor" => Mode::Floor,
                    other => return Err(format!("unknown --mode {other:?}")),
                }
            }
            "--docs" => docs = Some(number(flag, &value(flag)?, 1, 10_000)? as usize),
            "--clients" => clients = number(flag, &value(flag)?, 1, 20_000)? as usize,
            "--rate" => rate = float(flag, &value(flag)?, 0.0, 1000.0)?,
            "--duration" => duration = seconds(flag, &value(flag)?, 3600.0)?,
            "--max-edits" => max_edits = Some(number(flag, &value(flag)?, 1, 100_000_000)?),
            "--initial-size" => initial_size = bytes(flag, &value(flag)?)?,
            "--growth" => growth = bytes(flag, &value(flag)?)?,
            "--cursors" => cursors = true,
            "--connections" => connections = number(flag, &value(flag)?, 1, 100_000)? as usize,
            "--hold" => hold = seconds(flag, &value(flag)?, 3600.0)?,
            "--join-concurrency" => {
                let n = number(flag, &value(flag)?, 0, 100_000)? as usize;
                join_concurrency = (n > 0).then_some(n);
            }
            "--trace" => trace = value(flag)?,
            "--watchers" => watchers = number(flag, &value(flag)?, 0, 1000)? as usize,
            "--probe-join" => probe_join = true,
            "--seed" => seed = number(flag, &value(flag)?, 0, u64::MAX)?,
            "--wait" => wait = seconds(flag, &value(flag)?, 600.0)?,
            "--json" => json = true,
            "--message-bytes" => message_bytes = number(flag, &value(flag)?, 1, 1 << 20)? as usize,
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }

    let target = match (spawn, server) {
        (None, None) if mode == Mode::Floor => {
            // The echo server is a copy of this program.
            let binary = std::env::current_exe()
                .map_err(|e| format!("cannot find this program to start the echo server: {e}"))?;
            let env = vec![(crate::floor::ECHO_ENV.to_owned(), "1".to_owned())];
            Target::Spawn { binary, env }
        }
        _ if mode == Mode::Floor => {
            return Err("--mode floor starts its own echo server: no --spawn or --server".into())
        }
        (Some(_), Some(_)) => return Err("give either --spawn or --server, not both".into()),
        (None, None) => return Err("give --spawn PATH or --server ws://127.0.0.1:PORT".into()),
        (Some(binary), None) => {
            if pid.is_some() {
                return Err("--pid is only for --server (a spawned server's pid is known)".into());
            }
            Target::Spawn { binary, env }
        }
        (None, Some(url)) => {
            if !env.is_empty() {
                return Err("--server-env is only for --spawn".into());
            }
            Target::Running {
                url: loopback_url(&url)?,
                pid,
            }
        }
    };
    if mode == Mode::Idle && join_concurrency.is_none() {
        join_concurrency = Some(256);
    }
    let docs = docs.unwrap_or(if mode == Mode::Idle { 100 } else { 1 });
    if mode == Mode::Load && docs * clients > 20_000 {
        return Err("at most 20,000 typing clients (--docs x --clients)".into());
    }
    if mode == Mode::Idle && docs > connections {
        return Err("--docs must not exceed --connections".into());
    }
    if initial_size > 16 << 20 || growth > 16 << 20 {
        return Err("--initial-size and --growth are limited to 16 MiB".into());
    }
    let trace = if trace.contains('/') || trace.ends_with(".gz") {
        PathBuf::from(trace)
    } else {
        traces_dir().join(format!("{trace}.json.gz"))
    };
    Ok(Some(Args {
        target,
        mode,
        docs,
        clients,
        rate,
        duration,
        max_edits,
        initial_size,
        growth,
        cursors,
        connections,
        hold,
        join_concurrency,
        trace,
        watchers,
        probe_join,
        seed,
        wait,
        json,
        message_bytes,
    }))
}

/// Checks that `url` is `ws://` to a loopback address with a port and
/// returns it without a trailing slash.
pub fn loopback_url(url: &str) -> Result<String, String> {
    let refuse = || {
        format!(
            "--server {url:?}: only ws://127.0.0.1:PORT, ws://localhost:PORT or ws://[::1]:PORT are allowed"
        )
    };
    let rest = url.strip_prefix("ws://").ok_or_else(refuse)?;
    let authority = rest.trim_end_matches('/');
    if authority.contains('/') || authority.contains('@') {
        return Err(refuse());
    }
    let (host, port) = authority.rsplit_once(':').ok_or_else(refuse)?;
    port.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(refuse)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(refuse());
    }
    Ok(format!("ws://{authority}"))
}

fn number(flag: &str, v: &str, min: u64, max: u64) -> Result<u64, String> {
    v.replace('_', "")
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{flag} wants an integer {min}..={max}, got {v:?}"))
}

fn float(flag: &str, v: &str, min: f64, max: f64) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= min && *n <= max)
        .ok_or_else(|| format!("{flag} wants a number {min}..={max}, got {v:?}"))
}

fn seconds(flag: &str, v: &str, max: f64) -> Result<Duration, String> {
    Ok(Duration::from_secs_f64(float(flag, v, 0.0, max)?))
}

fn bytes(flag: &str, v: &str) -> Result<usize, String> {
    let (digits, scale) = if let Some(d) = v.strip_suffix("KiB") {
        (d, 1024)
    } else if let Some(d) = v.strip_suffix("KB").or_else(|| v.strip_suffix('K')) {
        (d, 1000)
    } else {
        (v, 1)
    };
    Ok(number(flag, digits, 0, 1 << 30)? as usize * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Option<Args>, String> {
        parse(&s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    fn only_loopback_servers() {
        assert_eq!(
            loopback_url("ws://127.0.0.1:3030/").unwrap(),
            "ws://127.0.0.1:3030"
        );
        assert!(loopback_url("ws://127.8.9.1:1").is_ok());
        assert!(loopback_url("ws://localhost:80").is_ok());
        assert!(loopback_url("ws://[::1]:3030").is_ok());
        for bad in [
            "ws://10.0.0.1:3030",
            "ws://example.com:80",
            "ws://192.168.1.2:3030",
            "http://127.0.0.1:3030",
            "ws://127.0.0.1",
            "ws://127.0.0.1:0",
            "ws://127.0.0.1:3030/pad",
            "ws://user@127.0.0.1:3030",
            "ws://localhost.evil.com:80",
        ] {
            assert!(loopback_url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn defaults_and_targets() {
        let a = args("--spawn target/release/tandem").unwrap().unwrap();
        assert_eq!(a.mode, Mode::Load);
        assert_eq!((a.docs, a.clients, a.rate), (1, 8, 0.0));
        assert!(args("--docs 2").is_err());
        assert!(args("--spawn x --server ws://127.0.0.1:1").is_err());
        assert!(args("--spawn x --pid 3").is_err());
        assert!(args("--server ws://127.0.0.1:1 --server-env A=B").is_err());
        assert!(args("--spawn x --server-env PORT=80").is_err());
        assert!(args("--help").unwrap().is_none());
        let f = args("--mode floor --clients 4").unwrap().unwrap();
        assert!(
            matches!(f.target, Target::Spawn { ref env, .. } if env[0].0 == "TANDEM_BENCH_ECHO")
        );
        assert!(args("--mode floor --spawn x").is_err());
        let i = args("--spawn x --mode idle").unwrap().unwrap();
        assert_eq!((i.docs, i.join_concurrency), (100, Some(256)));
    }

    #[test]
    fn values_are_bounded_and_scaled() {
        let a = args("--spawn x --initial-size 200K --rate 1.5 --duration 0.5 --max-edits 400_000")
            .unwrap()
            .unwrap();
        assert_eq!(a.initial_size, 200_000);
        assert_eq!(a.rate, 1.5);
        assert_eq!(a.duration, Duration::from_millis(500));
        assert_eq!(a.max_edits, Some(400_000));
        assert_eq!(
            args("--spawn x --initial-size 2KiB")
                .unwrap()
                .unwrap()
                .initial_size,
            2048
        );
        assert!(args("--spawn x --clients 0").is_err());
        assert!(args("--spawn x --rate -1").is_err());
        assert!(args("--spawn x --duration 1e9").is_err());
        assert!(args("--spawn x --bogus").is_err());
        let t = args("--spawn x --trace friendsforever_flat")
            .unwrap()
            .unwrap();
        assert!(t.trace.ends_with("friendsforever_flat.json.gz"));
    }
}
