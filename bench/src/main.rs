//! `tandem-bench`: a load generator for the tandem server.
//!
//! Many simulated OT clients (one tokio task each) edit documents on a
//! server on this machine — one it starts itself (`--spawn`) or a running
//! one on a loopback address (`--server`) — and the run reports
//! acknowledged edits per second, latency percentiles, the server's CPU
//! and memory from `/proc`, and whether every client converged on the
//! server's text. See `--help` and the README's "Load testing" section.
//!
//! # Modules
//!
//! - [`args`]: options; [`spawn`]: the server process.
//! - [`client`]: one simulated editor; [`typing`]: what it types.
//! - [`engine`]: the join/run/drain/check phases, used
//!   by [`load`], [`joins`] and [`trace`], with one [`task`] per client;
//!   [`idle`]: idle connections; [`floor`]: the machine's own cost of a
//!   request and reply, for comparison.
//! - [`proc_stats`]: `/proc` readings; [`stats`]: latency histograms;
//!   [`http`]: a tiny HTTP GET; [`report`]: text and JSON output.

#![forbid(unsafe_code)]

mod args;
mod client;
mod engine;
mod floor;
mod http;
mod idle;
mod joins;
mod load;
mod proc_stats;
mod report;
mod spawn;
mod stats;
mod task;
mod trace;
mod typing;

use std::process::ExitCode;

use args::{Args, Mode, Target};
use report::Report;
use spawn::Server;

fn main() -> ExitCode {
    if std::env::var_os(floor::ECHO_ENV).is_some() {
        return floor::serve_echo();
    }
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match args::parse(&argv) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{}", args::HELP);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("tandem-bench: {e}");
            return ExitCode::from(2);
        }
    };
    raise_fd_limit(&args);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tandem-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(args, &argv));
    // Client tasks still closing sockets are dropped with the runtime.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

/// Starts or finds the server, runs the mode, always stops a spawned
/// server, prints the report.
async fn run(args: Args, argv: &[String]) -> ExitCode {
    let server = match &args.target {
        Target::Spawn { binary, env } => Server::spawn(binary, env).await,
        Target::Running { url, pid } => Server::running(url, *pid),
    };
    let mut server = match server {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tandem-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let prefix = format!(
        "bench-{}",
        &tandem_server::peer::random_key()[..10].replace(['-', '_'], "x")
    );
    let result = tokio::select! {
        r = run_mode(&server, &args, &prefix) => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_owned()),
    };
    if let Some(how) = server.stop().await {
        if !how.contains("exit status: 0") {
            eprintln!("tandem-bench: the spawned server ended: {how}");
        }
    }
    match result {
        Ok(report) => {
            if args.json {
                println!("{}", report::json(&report, argv));
            } else {
                print!("{}", report::text(&report));
            }
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("tandem-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_mode(server: &Server, args: &Args, prefix: &str) -> Result<Report, String> {
    Ok(match args.mode {
        Mode::Load => Report::Load(load::run(server, args, prefix).await?),
        Mode::Joins => Report::Joins(joins::run(server, args, format!("{prefix}-0")).await?),
        Mode::Idle => Report::Idle(idle::run(server, args, prefix).await?),
        Mode::Trace => Report::Trace(trace::run(server, args, format!("{prefix}-0")).await?),
        Mode::Floor => Report::Floor(floor::run(server, args).await?),
    })
}

/// Raises the soft limit on open files to the hard limit when the run
/// needs more sockets than the soft limit allows (the spawned server
/// inherits the raised limit). The hard limit is left alone: raising it
/// needs root (`ulimit -n`, `LimitNOFILE=`).
fn raise_fd_limit(args: &Args) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let sockets = match args.mode {
        Mode::Idle => args.connections,
        Mode::Load => args.docs * args.clients,
        Mode::Joins => args.clients,
        Mode::Trace => args.watchers + 1,
        Mode::Floor => args.clients,
    } as u64;
    let want = sockets + 256;
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    if soft >= want {
        return;
    }
    let hard = limit.maximum.unwrap_or(u64::MAX);
    let new = Rlimit {
        current: Some(hard.min(want.max(soft))),
        maximum: limit.maximum,
    };
    if setrlimit(Resource::Nofile, new).is_err() || hard < want {
        eprintln!(
            "tandem-bench: warning: {want} file descriptors wanted, the limit is {soft} (hard {hard}); \
             raise it with `ulimit -n {want}` before running"
        );
    }
}
