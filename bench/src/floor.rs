//! Floor mode: what one request and its reply over loopback TCP cost
//! this machine, with no WebSocket, JSON or OT in the way — the floor
//! under the server's CPU per acknowledged edit (row a of
//! docs/benchmarks.md), since a saturating client sends each edit only
//! after the previous one was acknowledged.
//!
//! The load generator starts a second copy of itself as the echo server
//! (`TANDEM_BENCH_ECHO` in its environment, otherwise the same start-up
//! and CPU accounting as a spawned `tandem`): a tokio runtime with the
//! default worker threads, like the server's, answering each
//! length-prefixed message with the same bytes in one write on a
//! `TCP_NODELAY` socket, as the server does. `--clients` connections each
//! send a message of `--message-bytes` and wait for the reply, over and
//! over, for `--duration`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use crate::args::Args;
use crate::proc_stats::{self, Pid};
use crate::spawn::Server;
use crate::stats::{Histogram, Summary};

/// Set in the echo server's environment.
pub const ECHO_ENV: &str = "TANDEM_BENCH_ECHO";

/// Largest message either side accepts.
const MAX_MESSAGE: usize = 1 << 20;

/// What a floor run measured.
#[derive(Debug, Clone, Serialize)]
pub struct FloorReport {
    /// Connections.
    pub clients: usize,
    /// Bytes of each request and each reply (plus a 4-byte length).
    pub message_bytes: usize,
    /// Completed request/reply pairs.
    pub round_trips: u64,
    /// Length of the run, seconds.
    pub seconds: f64,
    /// Round trips per second.
    pub per_second: f64,
    /// Time from sending a request to having read its reply.
    pub latency: Summary,
    /// The echo server's CPU seconds during the run.
    pub server_cpu_seconds: f64,
    /// The echo server's CPU per round trip, microseconds.
    pub server_cpu_us_per_round_trip: f64,
    /// The load generator's own CPU seconds during the run.
    pub bench_cpu_seconds: f64,
    /// The 1-, 5- and 15-minute load averages at the start.
    pub load_average_start: [f64; 3],
    /// Connection or echo errors (a clean run has none).
    pub errors: Vec<String>,
}

/// Runs the echo server (in the copy started with [`ECHO_ENV`]) until
/// SIGTERM or Ctrl-C: binds `BIND_ADDR:PORT` and announces itself the way
/// `tandem` does, so that [`Server::spawn`] can start it.
pub fn serve_echo() -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("echo server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let host = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1".into());
        let port = std::env::var("PORT").unwrap_or_else(|_| "0".into());
        let listener = match TcpListener::bind(format!("{host}:{port}")).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("echo server: cannot listen on {host}:{port}: {e}");
                return ExitCode::FAILURE;
            }
        };
        match listener.local_addr() {
            Ok(addr) => println!("echo server listening on http://{addr}/"),
            Err(e) => {
                eprintln!("echo server: no local address: {e}");
                return ExitCode::FAILURE;
            }
        }
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            eprintln!("echo server: cannot handle SIGTERM");
            return ExitCode::FAILURE;
        };
        loop {
            tokio::select! {
                _ = term.recv() => return ExitCode::SUCCESS,
                _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
                accepted = listener.accept() => {
                    if let Ok((socket, _)) = accepted {
                        let _ = socket.set_nodelay(true);
                        tokio::spawn(echo(socket));
                    }
                }
            }
        }
    })
}

/// Answers each length-prefixed message on `socket` with itself, in one
/// write, until the peer goes away or sends something malformed.
async fn echo(mut socket: TcpStream) {
    let mut buf = Vec::new();
    loop {
        let mut len = [0u8; 4];
        if socket.read_exact(&mut len).await.is_err() {
            return;
        }
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_MESSAGE {
            return;
        }
        buf.clear();
        buf.extend_from_slice(&len);
        buf.resize(4 + n, 0);
        if socket.read_exact(&mut buf[4..]).await.is_err() || socket.write_all(&buf).await.is_err()
        {
            return;
        }
    }
}

/// Runs floor mode against the echo server `server` (started by `main`).
pub async fn run(server: &Server, args: &Args) -> Result<FloorReport, String> {
    let pid = server.pid.ok_or("the echo server's pid is unknown")?;
    let message_bytes = args.message_bytes;
    let mut sockets = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        let socket = timeout(args.wait, TcpStream::connect(server.http))
            .await
            .map_err(|_| "connecting to the echo server timed out".to_owned())?
            .map_err(|e| format!("cannot connect to the echo server: {e}"))?;
        socket
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        sockets.push(socket);
    }
    let load_average_start = proc_stats::load_average();
    let server_start = proc_stats::sample(Pid::Other(pid))?;
    let own_start = proc_stats::sample(Pid::Own)?;
    let started = Instant::now();
    let deadline = started + args.duration;
    let wait = args.wait;
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|socket| tokio::spawn(ping_pong(socket, message_bytes, deadline, wait)))
        .collect();
    let mut latency = Histogram::new();
    let mut round_trips = 0;
    let mut errors = Vec::new();
    for task in tasks {
        match task.await {
            Ok((hist, error)) => {
                round_trips += hist.summary().count;
                latency.merge(&hist);
                errors.extend(error);
            }
            Err(e) => errors.push(format!("a client task failed: {e}")),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let server_end = proc_stats::sample(Pid::Other(pid))?;
    let own_end = proc_stats::sample(Pid::Own)?;
    let server_cpu_seconds = server_end.cpu_seconds - server_start.cpu_seconds;
    Ok(FloorReport {
        clients: args.clients,
        message_bytes,
        round_trips,
        seconds,
        per_second: round_trips as f64 / seconds,
        latency: latency.summary(),
        server_cpu_seconds,
        server_cpu_us_per_round_trip: server_cpu_seconds * 1e6 / round_trips.max(1) as f64,
        bench_cpu_seconds: own_end.cpu_seconds - own_start.cpu_seconds,
        load_average_start,
        errors,
    })
}

/// One connection's loop: a request, its whole reply, again, until
/// `deadline`; each wait bounded by `wait`.
async fn ping_pong(
    mut socket: TcpStream,
    bytes: usize,
    deadline: Instant,
    wait: Duration,
) -> (Histogram, Option<String>) {
    let mut hist = Histogram::new();
    let mut request = (bytes as u32).to_be_bytes().to_vec();
    request.extend((0..bytes).map(|i| b'a' + (i % 26) as u8));
    let mut reply = vec![0u8; request.len()];
    while Instant::now() < deadline {
        let sent = Instant::now();
        let exchange = async {
            socket.write_all(&request).await?;
            socket.read_exact(&mut reply).await
        };
        match timeout(wait, exchange).await {
            Err(_) => return (hist, Some("no reply within --wait".into())),
            Ok(Err(e)) => return (hist, Some(format!("echo failed: {e}"))),
            Ok(Ok(_)) if reply != request => {
                return (hist, Some("the reply differs from the request".into()))
            }
            Ok(Ok(_)) => hist.record_duration(sent.elapsed()),
        }
    }
    (hist, None)
}
