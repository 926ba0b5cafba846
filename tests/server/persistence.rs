//! Lazy persistence: what is written when (graceful shutdown, idle write,
//! safety-net write, last-disconnect write), what is never written, running
//! without a database, and where the database file goes.

mod common;

use std::time::{Duration, Instant};

use common::{doc_id, insert_op, wait_until, Client, Replica, Server};
use serde_json::json;

/// Appends `s` to the document through `c` (which must be up to date in
/// `r`) and waits for the acknowledgement, keeping `r` up to date.
async fn append(c: &mut Client, r: &mut Replica, seq: u64, s: &str) {
    c.edit(r.revision, seq, insert_op(r.len(), r.len(), s))
        .await;
    c.await_own_ack(|h| r.apply_history(h)).await;
}

/// A joined client and its replica of the document.
async fn join(server: &Server, id: &str) -> (Client, Replica) {
    let mut c = server.connect(id, None).await.expect("connect");
    let catch_up = c.hello(None).await;
    let r = Replica::from_snapshot(&catch_up["Snapshot"]);
    (c, r)
}

/// Waits until the store has committed more than `n` writes.
async fn writes_above(server: &Server, n: f64) {
    wait_until(&format!("tandem_persist_writes > {n}"), || async move {
        server.metric("tandem_persist_writes").await > n
    })
    .await;
}

/// A graceful restart (SIGTERM, exit status 0) keeps the text and the
/// revision: the new process serves them through `/api/text` and in a
/// joining client's `Snapshot`, although no write was due before the
/// signal.
#[tokio::test]
async fn text_survives_a_graceful_restart() {
    let mut server = Server::start(&[
        ("PERSIST_IDLE_SECONDS", "1000"),
        ("PERSIST_MAX_INTERVAL_SECONDS", "1000"),
    ])
    .await;
    let id = doc_id("persist-graceful");
    let (mut c, mut r) = join(&server, &id).await;
    for (seq, word) in ["one", " two", " three", " ünïcødé 🎉"].iter().enumerate() {
        append(&mut c, &mut r, seq as u64 + 1, word).await;
    }
    c.send(json!({"SetLanguage": "rust"})).await;
    c.expect("Language").await;
    assert_eq!(server.metric("tandem_persist_writes").await, 0.0);

    let status = server.terminate().await;
    assert!(status.success(), "{status:?}");
    assert_eq!(status.code(), Some(0));
    server.restart().await;

    assert_eq!(server.text(&id).await, r.text);
    let mut d = server.connect(&id, None).await.unwrap();
    let catch_up = d.hello(None).await;
    assert_eq!(
        common::sans_epoch(&catch_up),
        json!({"Snapshot": {"revision": r.revision, "last_seq": 0, "text": r.text}})
    );
    assert_eq!(r.revision, 4);
    let lang = d.expect("Language").await;
    assert_eq!(
        lang,
        json!({"language": "rust", "user_id": null, "user_name": null})
    );
    // The same client identity is remembered with its last sequence.
    let mut again = server.connect(&id, None).await.unwrap();
    again.key = c.key.clone();
    let catch_up = again.hello(Some(r.revision)).await;
    assert_eq!(
        catch_up,
        json!({"History": {"start": r.revision, "operations": []}})
    );
    assert_eq!(again.user, c.user);
}

/// A changed document that stays idle for `PERSIST_IDLE_SECONDS` is
/// written while its client is still connected; after that a crash
/// (SIGKILL) loses nothing.
#[tokio::test]
async fn idle_documents_are_written_and_survive_a_crash() {
    let mut server = Server::start(&[
        ("PERSIST_CHECK_INTERVAL_SECONDS", "0.05"),
        ("PERSIST_IDLE_SECONDS", "0.2"),
        ("PERSIST_MAX_INTERVAL_SECONDS", "1000"),
    ])
    .await;
    let id = doc_id("persist-idle");
    let (mut c, mut r) = join(&server, &id).await;
    append(&mut c, &mut r, 1, "written when idle").await;
    writes_above(&server, 0.0).await;
    assert_eq!(server.stat("database_size").await, 1);

    server.kill().await;
    server.restart().await;
    assert_eq!(server.text(&id).await, "written when idle");
    let (_d, r2) = join(&server, &id).await;
    assert_eq!(r2.revision, 1);
}

/// A document that is never idle (edited continuously) is still written at
/// least every `PERSIST_MAX_INTERVAL_SECONDS`: after a SIGKILL the stored
/// text is a state the clients saw, and contains every edit acknowledged
/// longer ago than that interval (plus the check interval and a margin).
#[tokio::test]
async fn busy_documents_are_written_at_least_every_max_interval() {
    const MAX_INTERVAL: f64 = 0.3;
    const CHECK: f64 = 0.05;
    let mut server = Server::start(&[
        ("PERSIST_CHECK_INTERVAL_SECONDS", "0.05"),
        ("PERSIST_IDLE_SECONDS", "1000"),
        ("PERSIST_MAX_INTERVAL_SECONDS", "0.3"),
    ])
    .await;
    let id = doc_id("persist-busy");
    let (mut c, mut r) = join(&server, &id).await;
    let mut acked: Vec<(Instant, String)> = Vec::new();
    let mut states = vec![String::new()];
    let start = Instant::now();
    let mut seq = 0;
    while start.elapsed() < Duration::from_millis(2500) {
        seq += 1;
        let word = format!("<{seq}>");
        append(&mut c, &mut r, seq, &word).await;
        acked.push((Instant::now(), word));
        states.push(r.text.clone());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let writes = server.metric("tandem_persist_writes").await;
    server.kill().await;
    let killed = Instant::now();
    assert!(
        writes >= 3.0,
        "only {writes} writes in 2.5 s of editing with a 0.3 s max interval"
    );

    server.restart().await;
    let stored = server.text(&id).await;
    assert!(
        states.contains(&stored),
        "the stored text is not a state the client saw: {stored:?}"
    );
    let margin = Duration::from_secs_f64(MAX_INTERVAL + CHECK + 0.5);
    let must_have: Vec<&String> = acked
        .iter()
        .filter(|(t, _)| killed.duration_since(*t) > margin)
        .map(|(_, w)| w)
        .collect();
    assert!(!must_have.is_empty());
    for w in must_have {
        assert!(
            stored.contains(w.as_str()),
            "{w} was acknowledged more than {margin:?} before the crash but is not stored"
        );
    }
}

/// With every periodic write far away, the last client leaving triggers a
/// write at once; a crash right after it loses nothing.
#[tokio::test]
async fn the_last_disconnect_writes_the_document() {
    let mut server = Server::start(&[
        ("PERSIST_CHECK_INTERVAL_SECONDS", "1000"),
        ("PERSIST_IDLE_SECONDS", "1000"),
        ("PERSIST_MAX_INTERVAL_SECONDS", "1000"),
    ])
    .await;
    let id = doc_id("persist-leave");
    let (mut a, mut r) = join(&server, &id).await;
    let (b, _) = join(&server, &id).await;
    append(&mut a, &mut r, 1, "saved on leaving").await;
    // Not the last one: nothing is written.
    b.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.metric("tandem_persist_writes").await, 0.0);
    // The last one.
    a.close().await;
    writes_above(&server, 0.0).await;
    server.kill().await;
    server.restart().await;
    assert_eq!(server.text(&id).await, "saved on leaving");
}

/// Documents that were opened but never changed are not stored: joining,
/// moving a cursor, telling a name and leaving write nothing, neither when
/// idle nor on leaving.
#[tokio::test]
async fn never_edited_documents_are_not_stored() {
    let mut server = Server::start(&[
        ("PERSIST_CHECK_INTERVAL_SECONDS", "0.05"),
        ("PERSIST_IDLE_SECONDS", "0.1"),
        ("PERSIST_MAX_INTERVAL_SECONDS", "0.1"),
    ])
    .await;
    let id = doc_id("persist-untouched");
    let (mut c, _) = server.join_named(&id, None, "Ann").await;
    c.send(json!({"ClientInfo": {"name": "Bob", "hue": 7}}))
        .await;
    c.send(json!({"CursorData": {"cursors": [0], "selections": []}}))
        .await;
    let _other = server.join(&doc_id("persist-untouched-2")).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    c.close().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.stat("database_size").await, 0);
    assert_eq!(server.metric("tandem_persist_writes").await, 0.0);
    assert_eq!(server.text(&id).await, "");
    // Nothing was stored behind the metrics either.
    server.kill().await;
    server.restart().await;
    assert_eq!(server.stat("database_size").await, 0);
}

/// A graceful shutdown saves what changed, but does not create rows for
/// documents that were only opened (one left before the signal, one still
/// connected at it).
#[tokio::test]
async fn a_graceful_shutdown_does_not_store_never_edited_documents() {
    let mut server = Server::start(&[]).await;
    let left = doc_id("persist-shutdown-left");
    let open = doc_id("persist-shutdown-open");
    let edited = doc_id("persist-shutdown-edited");
    server.join(&left).await.close().await;
    let _still_open = server.join(&open).await;
    let (mut c, mut r) = join(&server, &edited).await;
    append(&mut c, &mut r, 1, "changed").await;
    assert!(server.terminate().await.success());
    server.restart().await;
    assert_eq!(server.text(&edited).await, "changed");
    assert_eq!(
        server.stat("database_size").await,
        1,
        "documents nobody edited were stored on shutdown"
    );
}

/// `SQLITE_URI=none` runs without a database: documents work in memory
/// (shared between clients, served by `/api/text`), are not evicted for
/// idleness (memory is the only copy), `database_size` is 0 and no file is
/// created.
#[tokio::test]
async fn without_a_database_documents_live_in_memory() {
    let server = Server::start(&[
        ("SQLITE_URI", "none"),
        ("PERSIST_CHECK_INTERVAL_SECONDS", "0.05"),
        ("PERSIST_IDLE_SECONDS", "0.05"),
        ("EVICT_IDLE_SECONDS", "0.1"),
    ])
    .await;
    let id = doc_id("persist-none");
    let (mut a, mut r) = join(&server, &id).await;
    let (mut b, _) = join(&server, &id).await;
    append(&mut a, &mut r, 1, "in memory").await;
    let h = b.expect("History").await;
    assert_eq!(h["operations"][0]["operation"], json!(["in memory"]));
    assert_eq!(server.text(&id).await, "in memory");
    a.close().await;
    b.close().await;
    // Idle with nobody connected for several eviction periods: still there.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.text(&id).await, "in memory");
    let stats = server.stats().await;
    assert_eq!(stats["database_size"], 0);
    assert_eq!(stats["num_documents"], 1);
    assert_eq!(server.metric("tandem_evictions_total").await, 0.0);
    let (_c, r2) = join(&server, &id).await;
    assert_eq!((r2.text.as_str(), r2.revision), ("in memory", 1));
    let files: Vec<_> = std::fs::read_dir(server.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(files.is_empty(), "files created: {files:?}");
}

/// The database file is created at the configured path, missing parent
/// directories included, and is where documents are kept across restarts.
#[tokio::test]
async fn the_database_file_goes_where_configured() {
    let parent = tempfile::tempdir().unwrap();
    let path = parent.path().join("not").join("yet").join("there.db");
    let uri = path.to_string_lossy().into_owned();
    let mut server = Server::start(&[("SQLITE_URI", uri.as_str())]).await;
    assert!(path.is_file(), "{path:?} was not created");
    assert!(!common::in_dir(&server, "tandem.db").exists());

    let id = doc_id("persist-path");
    let (mut c, mut r) = join(&server, &id).await;
    append(&mut c, &mut r, 1, "on disk").await;
    c.close().await;
    writes_above(&server, 0.0).await;
    assert!(server.terminate().await.success());
    server.restart().await;
    assert_eq!(server.text(&id).await, "on disk");
}
