//! Wiring: opens the store, binds the listener, starts the background
//! tasks, serves until SIGTERM/SIGINT, then shuts down gracefully.

use std::io::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::registry::Registry;
use crate::store::Store;
use crate::{routes, tasks};

/// Runs the server until a shutdown signal, then saves everything and
/// returns. An error is a start-up failure, described for the operator.
pub async fn run(config: Config) -> Result<(), String> {
    let mut signals = Signals::register()?;
    let store = match &config.sqlite_uri {
        Some(uri) => {
            Some(Store::open(uri).map_err(|e| format!("cannot open SQLITE_URI={uri}: {e}"))?)
        }
        None => {
            tracing::warn!(
                "SQLITE_URI=none: documents live in memory only and are lost on restart"
            );
            None
        }
    };
    let listener = listen(&config)
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.bind_addr, config.port))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let config = Arc::new(config);
    let registry = Arc::new(Registry::new(config.clone(), store));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    let server = tokio::spawn(
        warp::serve(routes::routes(registry.clone(), shutdown_rx))
            .incoming(listener)
            .run(),
    );
    let persister = tokio::spawn(tasks::persister(registry.clone()));
    let cleaner = tokio::spawn(tasks::cleaner(registry.clone()));
    let journal = tokio::spawn(tasks::journal(registry.clone()));

    // Tests and scripts read this line to learn the port.
    println!("tandem listening on http://{local}{}/", config.base_path);
    let _ = std::io::stdout().flush();
    tracing::info!(%local, "listening");

    let signal = signals.wait().await;
    tracing::info!("{signal}: shutting down");

    // 1. Refuse new sockets, close open ones with 1012. Edits are applied
    //    synchronously, so once a connection task has stopped, everything
    //    it acknowledged is in memory.
    let _ = shutdown_tx.send(true);
    server.abort();
    persister.abort();
    cleaner.abort();
    journal.abort();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while registry.metrics.connections.load(Relaxed) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // 2. Save every document, in parallel, within the timeout.
    let docs = registry.documents();
    let count = docs.len();
    let saves = docs.into_iter().map(|doc| {
        let registry = registry.clone();
        tokio::spawn(async move {
            registry.save_if_dirty(&doc).await;
            if registry.store.is_some() && doc.is_dirty() {
                tracing::error!(doc = %doc.id, "final save failed; see the warning above");
            }
        })
    });
    let all = futures_util::future::join_all(saves);
    if tokio::time::timeout(config.shutdown_timeout, all)
        .await
        .is_err()
    {
        tracing::error!("SHUTDOWN_TIMEOUT_SECONDS reached before every document was saved");
    }
    if let Some(store) = &registry.store {
        store.close().await;
    }
    tracing::info!("saved {count} documents; bye");
    Ok(())
}

/// The listening socket. `TCP_NODELAY` is set on it because accepted
/// sockets inherit it (on Linux), and warp offers no hook for accepted
/// ones: without it, Nagle's algorithm holds a small reply (an
/// acknowledgement) back until the previous one is acknowledged by the
/// peer's delayed ACK — about 40 ms per edit on a busy document
/// (docs/benchmarks.md measured 264 edits/s before, 9,648 after).
fn listen(config: &Config) -> std::io::Result<TcpListener> {
    let addr = std::net::SocketAddr::new(config.bind_addr, config.port);
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// SIGTERM and SIGINT, registered as soon as the server starts: a signal
/// that arrives before registration would kill the process without the
/// graceful shutdown (tests send one right after the listening line).
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> Result<Signals, String> {
        use tokio::signal::unix::{signal, SignalKind};
        let register = |kind| signal(kind).map_err(|e| format!("cannot handle signals: {e}"));
        Ok(Signals {
            term: register(SignalKind::terminate())?,
            int: register(SignalKind::interrupt())?,
        })
    }

    /// Waits for either; returns its name.
    async fn wait(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
