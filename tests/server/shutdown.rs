//! Graceful shutdown: on SIGTERM every client is closed with 1012
//! `server restarting`, the process saves everything and exits with status
//! 0 within `SHUTDOWN_TIMEOUT_SECONDS`, no acknowledged edit is lost, and
//! new connections are refused meanwhile.

mod common;

use std::time::{Duration, Instant};

use common::{doc_id, insert_op, Client, Incoming, Replica, Server};
use futures_util::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One client of the shutdown test and what it saw acknowledged.
struct Editor {
    /// The socket.
    client: Client,
    /// Which document.
    doc: usize,
    /// The document as of the last `History` it received.
    replica: Replica,
    /// Its next sequence number.
    seq: u64,
    /// Markers of its edits that were acknowledged.
    acked: Vec<String>,
    /// The marker of its edit in flight, if any.
    pending: Option<String>,
}

impl Editor {
    /// Sends an append with a unique marker, without waiting.
    async fn send_append(&mut self, name: &str) {
        let marker = format!("<{name}.{}>", self.seq);
        let r = &self.replica;
        let op = insert_op(r.len(), r.len(), &marker);
        self.client.edit(r.revision, self.seq, op).await;
        self.seq += 1;
        self.pending = Some(marker);
    }

    /// Handles one `History` message: updates the replica and records the
    /// acknowledgement of the pending edit.
    fn on_history(&mut self, h: &serde_json::Value) {
        self.replica.apply_history(h);
        let me = self.client.user;
        let mine = h["operations"]
            .as_array()
            .is_some_and(|ops| ops.iter().any(|e| e["id"].as_u64() == me));
        if mine {
            let marker = self
                .pending
                .take()
                .expect("an acknowledgement without an edit");
            self.acked.push(marker);
        }
    }

    /// Reads until the pending edit is acknowledged.
    async fn await_ack(&mut self) {
        while self.pending.is_some() {
            let h = self.client.expect("History").await;
            self.on_history(&h);
        }
    }

    /// Reads everything until the close frame, recording acknowledgements;
    /// returns the close code and reason.
    async fn read_until_closed(&mut self) -> (u16, String) {
        loop {
            match self.client.next().await {
                Incoming::Json(v) => {
                    if let Some(h) = v.get("History") {
                        self.on_history(h);
                    }
                }
                Incoming::Closed(code, reason) => return (code, reason),
            }
        }
    }
}

/// On SIGTERM every connected client (several documents, several clients
/// each) gets the close frame 1012 `server restarting`; the process exits
/// with status 0 within `SHUTDOWN_TIMEOUT_SECONDS`; and after a restart
/// every edit any client saw acknowledged is there exactly once, including
/// edits sent right before the signal whose acknowledgement arrived, and
/// the stored text is what the clients last saw (or later).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_closes_with_1012_and_loses_no_acknowledged_edit() {
    const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
    let mut server = Server::start(&[
        ("SHUTDOWN_TIMEOUT_SECONDS", "5"),
        ("PERSIST_IDLE_SECONDS", "1000"),
        ("PERSIST_MAX_INTERVAL_SECONDS", "1000"),
    ])
    .await;
    let ids = [doc_id("shutdown-a"), doc_id("shutdown-b")];
    let mut editors = Vec::new();
    for (doc, count) in [(0, 3), (1, 2)] {
        for _ in 0..count {
            let mut client = server.connect(&ids[doc], None).await.unwrap();
            let catch_up = client.hello(None).await;
            editors.push(Editor {
                client,
                doc,
                replica: Replica::from_snapshot(&catch_up["Snapshot"]),
                seq: 1,
                acked: Vec::new(),
                pending: None,
            });
        }
    }
    // Acknowledged edits, one at a time per client, interleaved.
    for round in 0..5 {
        for (i, e) in editors.iter_mut().enumerate() {
            e.send_append(&format!("c{i}r{round}")).await;
            e.await_ack().await;
        }
    }
    // A last edit from everyone, sent right before the signal.
    for (i, e) in editors.iter_mut().enumerate() {
        e.send_append(&format!("c{i}last")).await;
    }
    let started = Instant::now();
    server.send_sigterm().await;
    let closes = join_all(editors.iter_mut().map(|e| e.read_until_closed())).await;
    for (i, close) in closes.iter().enumerate() {
        assert_eq!(
            close,
            &(1012, "server restarting".to_owned()),
            "client {i} was not closed with 1012"
        );
    }
    let status = server.wait_for_exit().await;
    let took = started.elapsed();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(took < SHUTDOWN_TIMEOUT, "shutdown took {took:?}");

    server.restart().await;
    for (doc, id) in ids.iter().enumerate() {
        let text = server.text(id).await;
        let mut c = server.connect(id, None).await.unwrap();
        let snapshot = c.hello(None).await["Snapshot"].clone();
        let stored = Replica::from_snapshot(&snapshot);
        assert_eq!(stored.text, text);
        for (i, e) in editors.iter().enumerate().filter(|(_, e)| e.doc == doc) {
            for m in &e.acked {
                assert_eq!(
                    text.matches(m.as_str()).count(),
                    1,
                    "client {i}'s acknowledged edit {m} in {text:?}"
                );
            }
            assert!(
                stored.revision >= e.replica.revision,
                "stored revision {} is behind what client {i} saw ({})",
                stored.revision,
                e.replica.revision
            );
            if stored.revision == e.replica.revision {
                assert_eq!(stored.text, e.replica.text, "client {i}");
            }
        }
        eprintln!(
            "document {doc}: {} edits acknowledged, {} stored revisions",
            editors
                .iter()
                .filter(|e| e.doc == doc)
                .map(|e| e.acked.len())
                .sum::<usize>(),
            stored.revision
        );
    }
}

/// A socket that was upgraded but has not said `Hello` yet is connected
/// too: SIGTERM closes it with 1012 as well (rather than leaving it until
/// the process ends), and does not hold up the exit.
#[tokio::test]
async fn sigterm_closes_sockets_that_have_not_said_hello() {
    let mut server = Server::start(&[]).await;
    let id = doc_id("shutdown-nohello");
    let mut joined = server.join(&id).await;
    let mut silent = server.connect(&id, None).await.unwrap();
    // Let the server register the silent socket.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    server.send_sigterm().await;
    assert_eq!(
        joined.closed().await,
        (1012, "server restarting".to_owned())
    );
    let close = silent.closed().await;
    let status = server.wait_for_exit().await;
    assert!(status.success(), "{status:?}");
    assert_eq!(
        close,
        (1012, "server restarting".to_owned()),
        "a socket without Hello was not closed with 1012"
    );
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "a socket without Hello held up the shutdown for {took:?}"
    );
}

/// An HTTP/1.1 response read from a raw connection: `None` when the
/// connection was closed or reset instead.
async fn read_response(s: &mut TcpStream) -> Option<(u16, String)> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            let text = String::from_utf8_lossy(&raw).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    let status = head.split_whitespace().nth(1)?.parse().ok()?;
                    return Some((status, body[..length].to_owned()));
                }
            }
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(common::WAIT, read)
        .await
        .expect("no response in time")
}

/// A WebSocket upgrade request for document `id`.
fn upgrade_request(addr: &str, id: &str) -> String {
    format!(
        "GET /api/socket/{id} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
}

/// Once SIGTERM has been received, upgrade attempts are refused: on a
/// connection opened before the signal (HTTP keep-alive) with 503 `server
/// is shutting down` (or the connection is closed), and a new connection is
/// refused outright or answered 503. Never an upgrade.
#[tokio::test]
async fn upgrades_during_shutdown_are_refused() {
    let mut server = Server::start(&[]).await;
    let id = doc_id("shutdown-refuse");
    let mut joined = server.join(&id).await;
    // Best effort to keep the process in its shutdown phase a little.
    let _silent = server.connect(&id, None).await.unwrap();
    let mut kept = TcpStream::connect(&server.addr).await.unwrap();
    let healthz = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
    kept.write_all(healthz.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut kept).await, Some((200, "ok".to_owned())));

    server.send_sigterm().await;
    // The shutdown has begun once the joined client is told so.
    assert_eq!(joined.closed().await.0, 1012);

    let outcome = match kept
        .write_all(upgrade_request(&server.addr, &id).as_bytes())
        .await
    {
        Err(_) => None,
        Ok(()) => read_response(&mut kept).await,
    };
    eprintln!("upgrade on a kept-alive connection during shutdown: {outcome:?}");
    if let Some(reply) = outcome {
        assert_eq!(reply, (503, "server is shutting down".to_owned()));
    }
    match TcpStream::connect(&server.addr).await {
        Err(e) => eprintln!("new connection during shutdown: {e}"),
        Ok(mut fresh) => {
            let outcome = match fresh
                .write_all(upgrade_request(&server.addr, &id).as_bytes())
                .await
            {
                Err(_) => None,
                Ok(()) => read_response(&mut fresh).await,
            };
            eprintln!("new connection during shutdown: {outcome:?}");
            if let Some(reply) = outcome {
                assert_eq!(reply, (503, "server is shutting down".to_owned()));
            }
        }
    }
    assert!(server.wait_for_exit().await.success());
}
