//! Eviction and expiry: documents nobody is connected to leave memory after
//! `EVICT_IDLE_SECONDS` and come back from SQLite intact; documents unused
//! for `EXPIRY_DAYS` are deleted from memory and the database; documents in
//! use are neither evicted nor deleted.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{doc_id, insert_op, wait_until, Client, Replica, Server};
use futures_util::future::join_all;
use serde_json::json;

/// `EXPIRY_DAYS` used by the expiry tests: 0.864 s.
const EXPIRY_DAYS: &str = "0.00001";
/// `CLEANUP_INTERVAL_HOURS` used by the expiry tests: 0.36 s.
const CLEANUP_HOURS: &str = "0.0001";

/// A joined client and its replica of the document.
async fn join(server: &Server, id: &str) -> (Client, Replica) {
    let mut c = server.connect(id, None).await.expect("connect");
    let catch_up = c.hello(None).await;
    (c, Replica::from_snapshot(&catch_up["Snapshot"]))
}

/// Appends `s` through `c` and waits for the acknowledgement.
async fn append(c: &mut Client, r: &mut Replica, seq: u64, s: &str) {
    c.edit(r.revision, seq, insert_op(r.len(), r.len(), s))
        .await;
    c.await_own_ack(|h| r.apply_history(h)).await;
}

/// Waits until `/api/stats` reports `n` documents in memory.
async fn documents_in_memory(server: &Server, n: u64) {
    wait_until(&format!("num_documents == {n}"), || async move {
        server.stat("num_documents").await == n
    })
    .await;
}

/// A document nobody is connected to leaves memory after
/// `EVICT_IDLE_SECONDS` (counted in `tandem_evictions_total`), is served
/// from the database meanwhile, and the next connection loads it back
/// (counted in `tandem_document_loads_total`) with its text, revision,
/// language and client identities.
#[tokio::test]
async fn idle_documents_are_evicted_and_reloaded_intact() {
    let server = Server::start(&[
        ("PERSIST_CHECK_INTERVAL_SECONDS", "0.05"),
        ("EVICT_IDLE_SECONDS", "0.2"),
    ])
    .await;
    let id = doc_id("evict");
    let (mut c, mut r) = join(&server, &id).await;
    append(&mut c, &mut r, 1, "alpha").await;
    append(&mut c, &mut r, 2, " beta").await;
    c.send(json!({"SetLanguage": "python"})).await;
    c.expect("Language").await;
    let (key, user) = (c.key.clone(), c.user);
    c.close().await;

    documents_in_memory(&server, 0).await;
    assert_eq!(server.metric("tandem_evictions_total").await, 1.0);
    assert_eq!(server.metric("tandem_document_loads_total").await, 0.0);
    assert_eq!(server.stat("database_size").await, 1);
    // Read from the database without loading it.
    assert_eq!(server.text(&id).await, "alpha beta");
    assert_eq!(server.stat("num_documents").await, 0);
    assert_eq!(server.metric("tandem_document_loads_total").await, 0.0);

    // The same identity comes back: same user id, its history position
    // still valid, its sequence numbers remembered.
    let mut again = server.connect(&id, None).await.unwrap();
    again.key = key;
    let catch_up = again.hello(Some(2)).await;
    assert_eq!(catch_up, json!({"History": {"start": 2, "operations": []}}));
    assert_eq!(again.user, user);
    assert_eq!(server.metric("tandem_document_loads_total").await, 1.0);
    assert_eq!(server.stat("num_documents").await, 1);
    assert_eq!(
        again.expect("Language").await,
        json!({"language": "python", "user_id": null, "user_name": null})
    );
    again.edit(2, 2, json!([10])).await;
    assert_eq!(again.expect("Error").await["code"], "duplicate_edit");

    // A fresh client gets the full snapshot.
    let (mut d, r2) = join(&server, &id).await;
    assert_eq!((r2.text.as_str(), r2.revision), ("alpha beta", 2));
    assert_eq!(server.metric("tandem_document_loads_total").await, 1.0);

    // And it can be evicted and loaded again.
    let mut r2 = r2;
    append(&mut d, &mut r2, 1, "!").await;
    again.close().await;
    d.close().await;
    documents_in_memory(&server, 0).await;
    assert_eq!(server.metric("tandem_evictions_total").await, 2.0);
    let (_e, r3) = join(&server, &id).await;
    assert_eq!((r3.text.as_str(), r3.revision), ("alpha beta!", 3));
    assert_eq!(server.metric("tandem_document_loads_total").await, 2.0);
}

/// A document with a connected client stays in memory however long it is
/// idle, whether it was edited or not; once the client leaves it is
/// evicted (so the settings were in effect).
#[tokio::test]
async fn documents_with_connections_are_not_evicted() {
    let server = Server::start(&[
        ("PERSIST_CHECK_INTERVAL_SECONDS", "0.05"),
        ("PERSIST_IDLE_SECONDS", "0.05"),
        ("EVICT_IDLE_SECONDS", "0.1"),
    ])
    .await;
    let edited = doc_id("evict-edited");
    let untouched = doc_id("evict-untouched");
    let (mut a, mut r) = join(&server, &edited).await;
    append(&mut a, &mut r, 1, "kept").await;
    let (b, _) = join(&server, &untouched).await;

    let until = Instant::now() + Duration::from_millis(1000);
    while Instant::now() < until {
        assert_eq!(server.stat("num_documents").await, 2);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.metric("tandem_evictions_total").await, 0.0);
    // Still the same in-memory document: the next edit applies at once.
    append(&mut a, &mut r, 2, "!").await;
    assert_eq!(server.text(&edited).await, "kept!");
    assert_eq!(server.metric("tandem_document_loads_total").await, 0.0);

    a.close().await;
    b.close().await;
    documents_in_memory(&server, 0).await;
    assert_eq!(server.metric("tandem_evictions_total").await, 2.0);
    assert_eq!(server.text(&edited).await, "kept!");
}

/// Expiry of a document in memory: after `EXPIRY_DAYS` without use it is
/// deleted from memory and the database (`database_size` drops, the text
/// API answers empty), while a document whose client keeps editing all
/// along survives, in memory and in the database.
#[tokio::test]
async fn unused_documents_expire_and_documents_in_use_do_not() {
    let server = Server::start(&[
        ("EXPIRY_DAYS", EXPIRY_DAYS),
        ("CLEANUP_INTERVAL_HOURS", CLEANUP_HOURS),
        ("PERSIST_CHECK_INTERVAL_SECONDS", "0.05"),
        ("PERSIST_MAX_INTERVAL_SECONDS", "0.2"),
    ])
    .await;
    let unused = doc_id("expire-unused");
    let busy = doc_id("expire-busy");
    let (mut a, mut ra) = join(&server, &unused).await;
    append(&mut a, &mut ra, 1, "forget me").await;
    a.close().await;

    let (mut b, mut rb) = join(&server, &busy).await;
    let mut seq = 0;
    let mut expired_at = None;
    let start = Instant::now();
    // Edit continuously for well over three expiry periods, and at least
    // until the unused document is gone.
    while start.elapsed() < Duration::from_secs(3) || expired_at.is_none() {
        assert!(
            start.elapsed() < common::WAIT,
            "the unused document never expired"
        );
        seq += 1;
        append(&mut b, &mut rb, seq, &format!("<{seq}>")).await;
        if expired_at.is_none() && server.text(&unused).await.is_empty() {
            expired_at = Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.text(&unused).await, "");
    let stats = server.stats().await;
    assert_eq!(stats["num_documents"], 1, "{stats}");
    assert_eq!(stats["database_size"], 1, "{stats}");
    let text = server.text(&busy).await;
    assert_eq!(text, rb.text);
    for i in 1..=seq {
        assert_eq!(
            text.matches(&format!("<{i}>")).count(),
            1,
            "<{i}> in {text}"
        );
    }
    // Coming back to the expired id starts a new, empty document.
    let (_c, rc) = join(&server, &unused).await;
    assert_eq!((rc.text.as_str(), rc.revision), ("", 0));
    assert_eq!(server.metric("tandem_document_loads_total").await, 0.0);
}

/// Expiry of a document that is only in the database (evicted first): it
/// is deleted from the database by the cleaner, and is not loaded to do so.
#[tokio::test]
async fn evicted_documents_expire_in_the_database() {
    let server = Server::start(&[
        ("EXPIRY_DAYS", EXPIRY_DAYS),
        ("CLEANUP_INTERVAL_HOURS", CLEANUP_HOURS),
        ("PERSIST_CHECK_INTERVAL_SECONDS", "0.05"),
        ("EVICT_IDLE_SECONDS", "0.1"),
    ])
    .await;
    let id = doc_id("expire-cold");
    let (mut a, mut r) = join(&server, &id).await;
    append(&mut a, &mut r, 1, "cold and old").await;
    a.close().await;
    documents_in_memory(&server, 0).await;
    assert_eq!(server.stat("database_size").await, 1);
    wait_until("the database is empty", || async {
        server.stat("database_size").await == 0
    })
    .await;
    assert_eq!(server.text(&id).await, "");
    assert_eq!(server.metric("tandem_document_loads_total").await, 0.0);
}

/// Being connected is use: a client that stays connected without editing
/// for longer than `EXPIRY_DAYS` keeps its document, in memory (it is still
/// served) and in the database (so that a crash, or an eviction after the
/// client leaves, does not lose it).
#[tokio::test]
async fn a_connected_idle_client_keeps_its_document_stored() {
    let server = Server::start(&[
        ("EXPIRY_DAYS", EXPIRY_DAYS),
        ("CLEANUP_INTERVAL_HOURS", CLEANUP_HOURS),
        ("PERSIST_CHECK_INTERVAL_SECONDS", "0.05"),
        ("PERSIST_IDLE_SECONDS", "0.05"),
    ])
    .await;
    let id = doc_id("expire-connected");
    let (mut a, mut r) = join(&server, &id).await;
    append(&mut a, &mut r, 1, "still open in a tab").await;
    wait_until("the document is stored", || async {
        server.stat("database_size").await == 1
    })
    .await;
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        let stats = server.stats().await;
        assert_eq!(stats["num_documents"], 1, "{stats}");
        assert_eq!(
            stats["database_size"], 1,
            "the document of a connected client was deleted from the database: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.text(&id).await, "still open in a tab");
    // The connection is alive and the document editable.
    append(&mut a, &mut r, 2, "!").await;
}

/// Joins racing with evictions never split a document: with eviction as
/// eager as possible (`EVICT_IDLE_SECONDS=0`, checked every millisecond),
/// for 12 s, on four documents in parallel, four clients at a time open
/// the document together, each appends a marker and all leave; all four
/// must be in the same document (each sees the others' edits), and every
/// acknowledged marker must be in the text exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn joins_racing_with_evictions_lose_nothing() {
    let server = Arc::new(
        Server::start(&[
            ("PERSIST_CHECK_INTERVAL_SECONDS", "0.001"),
            ("EVICT_IDLE_SECONDS", "0"),
        ])
        .await,
    );
    let runs = (0..4).map(|_| {
        let server = server.clone();
        tokio::spawn(async move { race_rounds(server, doc_id("evict-race")).await })
    });
    let mut done = Vec::new();
    for run in join_all(runs).await {
        done.push(run.expect("a run panicked"));
    }
    // Once evicted, the database has every acknowledged marker.
    wait_until("every document is evicted", || async {
        server.stat("num_documents").await == 0
    })
    .await;
    for (id, markers) in done {
        let text = server.text(&id).await;
        for m in &markers {
            assert_eq!(text.matches(m.as_str()).count(), 1, "{m} in {text:?}");
        }
    }
}

/// How many clients open the document together in [`race_rounds`].
const PER_ROUND: usize = 4;

/// Rounds of [`joins_racing_with_evictions_lose_nothing`] on one document.
async fn race_rounds(server: Arc<Server>, id: String) -> (String, Vec<String>) {
    let mut markers: Vec<String> = Vec::new();
    // As many rounds as fit in 12 s: the race is narrow, so each round is
    // one more chance to hit it.
    let started = Instant::now();
    let mut round = 0u32;
    while started.elapsed() < Duration::from_secs(12) {
        round += 1;
        let joins = (0..PER_ROUND).map(|_| {
            let (server, id) = (server.clone(), id.clone());
            tokio::spawn(async move { join(&server, &id).await })
        });
        let mut clients: Vec<(Client, Replica)> = join_all(joins)
            .await
            .into_iter()
            .map(|j| j.expect("join task"))
            .collect();
        let base = clients[0].1.revision;
        for (c, r) in &mut clients {
            assert_eq!(r.revision, base, "{id} round {round}: different snapshots");
            let marker = format!("<{round}.{}>", c.user.unwrap());
            c.edit(r.revision, 1, insert_op(r.len(), r.len(), &marker))
                .await;
            markers.push(marker);
        }
        // Every client must see every edit of the round: they are all in
        // the same document.
        let target = base + PER_ROUND as u64;
        let mut seen = Vec::new();
        for (c, r) in clients.iter_mut() {
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while r.revision < target {
                    let h = c.expect("History").await;
                    r.apply_history(&h);
                }
            })
            .await;
            seen.push(r.revision - base);
        }
        assert!(
            seen.iter().all(|n| *n == PER_ROUND as u64),
            "{id} round {round}: the clients saw {seen:?} of the round's {PER_ROUND} \
             edits: the joins were given different copies of the document"
        );
        for (_, r) in &clients {
            for m in &markers {
                assert_eq!(r.text.matches(m.as_str()).count(), 1, "{m} in {:?}", r.text);
            }
        }
        join_all(clients.into_iter().map(|(c, _)| c.close())).await;
    }
    (id, markers)
}

/// Saves never go back in time: while a document is edited continuously
/// with writes due on every (1 ms) check, then left, evicted and reopened by
/// someone else who edits it, the later edit is what the database keeps —
/// saves still queued for the evicted copy must not overwrite it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_saves_of_an_evicted_copy_do_not_overwrite_newer_text() {
    let server = Server::start(&[
        ("PERSIST_CHECK_INTERVAL_SECONDS", "0.001"),
        ("PERSIST_IDLE_SECONDS", "0"),
        ("EVICT_IDLE_SECONDS", "0"),
    ])
    .await;
    let id = doc_id("evict-stale");
    let (mut a, mut ra) = join(&server, &id).await;
    // A large text makes every save take a while, so saves queue up.
    append(&mut a, &mut ra, 1, &"x".repeat(200_000)).await;
    a.close().await;
    // Three tries: the queue's length depends on timing.
    for cycle in 0..3 {
        let mut a = server.connect(&id, None).await.unwrap();
        let mut ra = Replica::from_snapshot(&a.hello(None).await["Snapshot"]);
        let started = Instant::now();
        let mut seq = 0;
        while started.elapsed() < Duration::from_millis(800) {
            seq += 1;
            append(&mut a, &mut ra, seq, "a").await;
        }
        a.close().await;
        documents_in_memory(&server, 0).await;

        let (mut b, mut rb) = join(&server, &id).await;
        assert!(rb.text == ra.text, "the evicted copy was not saved first");
        append(&mut b, &mut rb, 1, "B").await;
        b.close().await;
        documents_in_memory(&server, 0).await;
        // Let whatever is still queued drain: the writes counter stands
        // still for 300 ms (bounded by WAIT).
        let drained = Instant::now();
        let mut last = server.metric("tandem_persist_writes").await;
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = server.metric("tandem_persist_writes").await;
            if now == last {
                break;
            }
            assert!(drained.elapsed() < common::WAIT, "writes never settled");
            last = now;
        }
        let stored = server.text(&id).await;
        assert!(
            stored == rb.text,
            "cycle {cycle}: a newer save was overwritten: the database holds {} code points \
             ending in {:?}, not {} ending in {:?}",
            stored.chars().count(),
            &stored[stored.len().saturating_sub(5)..],
            rb.len(),
            &rb.text[rb.text.len() - 5..]
        );
    }
}
