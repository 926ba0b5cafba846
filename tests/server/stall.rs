//! No one slows anyone else (issue 5): a client that stops reading — a
//! socket with a tiny receive buffer that never reads, so the server's
//! writes to it block once the buffers fill — does not delay the other
//! clients' acknowledgements; it is dropped after
//! `WS_WRITE_TIMEOUT_SECONDS` (counted as
//! `tandem_closes_total{reason="write_timeout"}`), and when it reconnects
//! with its identity, each of its edits is applied exactly once: the one
//! the server applied while it was not reading is in its catch-up and a
//! resend is refused as a duplicate; the one sent while the server was
//! stuck writing to it is applied when resent.

mod common;

use std::time::Duration;

use common::{barrier, doc_id, random_key, Client, Server, WAIT};
use futures_util::SinkExt;
use serde_json::{json, Value};
use tandem_server::peer::Peer;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;

/// Size of each edit of the busy clients: big enough that the pipe to the
/// staller fills after a few dozen edits.
const CHUNK: usize = 24_000;
/// Edits per busy client and phase, at least.
const EDITS: usize = 40;
/// The generous latency bound: p99 of acknowledgements while a client is
/// stalled must stay below this, or below four times the p99 without a
/// stalled client if the machine is so loaded that that is higher.
const BOUND: Duration = Duration::from_secs(1);

/// A socket with a 4 KiB receive buffer, joined as a fresh identity.
async fn connect_tiny_buffer(server: &Server, id: &str) -> Client {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = tokio::time::timeout(WAIT, sock.connect(server.addr.parse().unwrap()))
        .await
        .expect("connect in time")
        .unwrap();
    let url = format!("ws://{}/api/socket/{id}", server.addr);
    let (ws, _) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp)),
    )
    .await
    .expect("upgrade in time")
    .unwrap();
    Client {
        ws,
        key: random_key(),
        user: None,
    }
}

/// One edit of a busy client: replaces the last `CHUNK` code points (or
/// appends while the text is shorter), never touching the first 20.
/// Returns how long the acknowledgement took.
async fn timed_edit(p: &mut Peer, round: usize) -> Duration {
    let len = p.len();
    let chunk = char::from(b'a' + (round % 26) as u8)
        .to_string()
        .repeat(CHUNK);
    let (pos, delete) = if len < 20 + CHUNK {
        (len, 0)
    } else {
        (len - CHUNK, CHUNK)
    };
    let start = Instant::now();
    p.splice(pos, delete, &chunk).await.expect("edit");
    p.sync(WAIT).await.expect("acknowledged");
    start.elapsed()
}

/// One round: `a` edits, `b` catches up and edits, `a` catches up.
async fn round(a: &mut Peer, b: &mut Peer, i: usize, latencies: &mut Vec<Duration>) {
    latencies.push(timed_edit(a, i).await);
    b.catch_up(a.revision(), WAIT).await.expect("b catches up");
    latencies.push(timed_edit(b, i + 1).await);
    a.catch_up(b.revision(), WAIT).await.expect("a catches up");
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    let i = (v.len() * 99).div_ceil(100).saturating_sub(1);
    v[i.min(v.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_slows_no_one_and_is_dropped_without_losing_edits() {
    let server = Server::start(&[("WS_WRITE_TIMEOUT_SECONDS", "1")]).await;
    let id = doc_id("stall");
    let base = format!("ws://{}", server.addr);
    let mut a = Peer::new(&base, &id, None);
    let mut b = Peer::new(&base, &id, None);
    a.connect(WAIT).await.unwrap();
    a.splice(0, 0, &"-".repeat(10)).await.unwrap();
    a.sync(WAIT).await.unwrap();
    b.connect(WAIT).await.unwrap();

    // Baseline: nobody is stalled.
    let mut baseline = Vec::new();
    for i in 0..EDITS {
        round(&mut a, &mut b, i, &mut baseline).await;
    }

    // The staller joins, makes edit 1 (the server applies it; the
    // acknowledgement lands in its receive buffer) and never reads again.
    let mut s = connect_tiny_buffer(&server, &id).await;
    let catch_up = s.hello(None).await;
    let r0 = catch_up["Snapshot"]["revision"].as_u64().unwrap();
    let len0 = catch_up["Snapshot"]["text"]
        .as_str()
        .unwrap()
        .chars()
        .count();
    barrier(&mut s).await;
    let edit = |seq: u64, mark: &str| json!({"Edit": {"revision": r0, "seq": seq, "operation": [mark, len0]}});
    s.send(edit(1, "★")).await;
    a.catch_up(r0 + 1, WAIT).await.unwrap();
    b.catch_up(r0 + 1, WAIT).await.unwrap();

    // The others go on editing, filling the pipe to the staller, until the
    // server gives up on it. A watcher notes when that happens.
    let stalled_at = Instant::now();
    let timeouts = "tandem_closes_total{reason=\"write_timeout\"}";
    let addr = server.addr.clone();
    let watcher = tokio::spawn(async move {
        loop {
            let (_, body) = common::http(&addr, "GET", "/metrics").await;
            if body
                .lines()
                .any(|l| l == "tandem_closes_total{reason=\"write_timeout\"} 1")
            {
                return stalled_at.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let mut stalled = Vec::new();
    let mut sent_second = false;
    let mut i = 0;
    while !watcher.is_finished() || stalled.len() < EDITS {
        round(&mut a, &mut b, i, &mut stalled).await;
        i += 2;
        if !sent_second && i >= 20 {
            // Edit 2, sent while the server is (most likely) stuck writing
            // to this socket and not reading it. Sending may fail if the
            // server has already dropped the connection; either way the
            // edit is pending for the client.
            let text = edit(2, "☆").to_string();
            let _ =
                tokio::time::timeout(Duration::from_secs(2), s.ws.send(Message::text(text))).await;
            sent_second = true;
        }
        assert!(
            stalled_at.elapsed() < Duration::from_secs(20),
            "the staller was not dropped after {i} edits of {CHUNK} code points"
        );
    }
    let dropped_after = watcher.await.unwrap();
    assert_eq!(server.metric(timeouts).await, 1.0);
    common::wait_until("only the two busy clients are connected", || async {
        server.stat("num_connections").await == 2
    })
    .await;

    let (base_p99, stalled_p99) = (p99(baseline.clone()), p99(stalled.clone()));
    eprintln!(
        "stall: p99 acknowledgement {base_p99:?} without a stalled reader ({} edits), \
         {stalled_p99:?} with one ({} edits); dropped within {dropped_after:?} of stalling",
        baseline.len(),
        stalled.len()
    );
    assert!(
        stalled_p99 < BOUND.max(base_p99 * 4),
        "p99 acknowledgement latency {stalled_p99:?} with a stalled reader (without: {base_p99:?})"
    );

    // The staller reconnects with its identity and the revision it had.
    let mut s2 = server.connect(&id, None).await.unwrap();
    s2.key = s.key.clone();
    let catch_up = s2.hello(Some(r0)).await;
    assert_eq!(s2.user, s.user, "same identity, same user id");
    let own: Vec<Value> = catch_up["History"]["operations"]
        .as_array()
        .unwrap_or_else(|| panic!("expected History, got {catch_up}"))
        .iter()
        .filter(|e| e["id"].as_u64() == s.user)
        .cloned()
        .collect();
    // Edit 1 was applied and is acknowledged by the catch-up.
    assert!(!own.is_empty(), "edit 1 is missing from the catch-up");
    assert!(own.len() <= 2, "{own:?}");
    // A client that resends edit 1 anyway is refused; edit 2 is applied
    // now if it was not before, and refused otherwise.
    s2.send(edit(1, "★")).await;
    assert_eq!(s2.expect("Error").await["code"], "duplicate_edit");
    s2.send(edit(2, "☆")).await;
    if own.len() == 2 {
        assert_eq!(s2.expect("Error").await["code"], "duplicate_edit");
    } else {
        s2.recv_until(|m| {
            m["History"]["operations"]
                .as_array()
                .is_some_and(|ops| ops.iter().any(|e| e["id"].as_u64() == s.user))
        })
        .await;
    }
    let text = server.text(&id).await;
    assert_eq!(text.matches('★').count(), 1, "edit 1 exactly once");
    assert_eq!(text.matches('☆').count(), 1, "edit 2 exactly once");

    // The busy clients were never disturbed and agree with the server.
    let revision = server_revision(&server, &id).await;
    a.catch_up(revision, WAIT).await.unwrap();
    b.catch_up(revision, WAIT).await.unwrap();
    assert_eq!(a.text(), text);
    assert_eq!(b.text(), text);
}

/// The document's current revision, from a fresh join's snapshot.
async fn server_revision(server: &Server, id: &str) -> u64 {
    let mut probe = server.connect(id, None).await.unwrap();
    let snap = probe.hello(None).await;
    probe.close().await;
    snap["Snapshot"]["revision"].as_u64().unwrap()
}
