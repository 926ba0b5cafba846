//! The write-behind journal: with snapshots far away, acknowledged edits
//! survive a SIGKILL once `PERSIST_MAX_LOSS_MS` has passed, and are
//! replayed as history so that a client which saw them catches up.

mod common;

use std::time::Duration;

use common::{doc_id, Server};
use serde_json::json;

/// Snapshots only after an hour; the journal is the only way back.
const NO_SNAPSHOTS: [(&str, &str); 4] = [
    ("PERSIST_IDLE_SECONDS", "3600"),
    ("PERSIST_MAX_INTERVAL_SECONDS", "3600"),
    ("PERSIST_CHECK_INTERVAL_SECONDS", "3600"),
    ("PERSIST_MAX_LOSS_MS", "200"),
];

#[tokio::test]
async fn acknowledged_edits_survive_a_kill_after_the_loss_bound() {
    let mut server = Server::start(&NO_SNAPSHOTS).await;
    let id = doc_id("journal");
    let mut a = server.join(&id).await;
    let mut b = server.join(&id).await;
    a.edit(0, 1, json!(["hello"])).await;
    a.expect("History").await;
    b.expect("History").await;
    b.edit(1, 1, json!([5, " world"])).await;
    b.expect("History").await;
    // The bound is 200 ms; give it that plus commit time.
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.kill().await;
    server.restart().await;
    assert_eq!(server.text(&id).await, "hello world");

    // The replayed edits are history again: b, which had revision 1,
    // catches up with a History (not a Snapshot) holding its own edit, and
    // its identity still knows edit 1 was applied.
    let mut b2 = server.connect(&id, None).await.unwrap();
    b2.key = b.key.clone();
    let catch_up = b2.hello(Some(1)).await;
    assert_eq!(
        catch_up,
        json!({"History": {"start": 1, "operations": [{"id": b.user, "operation": [5, " world"]}]}})
    );
    assert_eq!(b2.user, b.user);
    b2.edit(2, 1, json!([11, "!"])).await;
    let error = b2.expect("Error").await;
    assert_eq!(error["code"], "duplicate_edit");
    assert_eq!(server.text(&id).await, "hello world");
}

#[tokio::test]
async fn a_journal_on_top_of_a_snapshot_replays_only_what_is_newer() {
    let mut server = Server::start(&[
        ("PERSIST_IDLE_SECONDS", "3600"),
        ("PERSIST_MAX_INTERVAL_SECONDS", "3600"),
        ("PERSIST_CHECK_INTERVAL_SECONDS", "3600"),
        ("PERSIST_MAX_LOSS_MS", "200"),
    ])
    .await;
    let id = doc_id("journal-snap");
    let mut a = server.join(&id).await;
    a.edit(0, 1, json!(["ab"])).await;
    a.expect("History").await;
    // Protecting writes a snapshot at once (revision 1).
    a.send(json!({"SetOTP": {"enabled": true}})).await;
    let otp = a.expect("OTP").await["otp"].as_str().unwrap().to_owned();
    a.edit(1, 2, json!([2, "c"])).await;
    a.expect("History").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    server.kill().await;
    server.restart().await;
    let (status, body) = server
        .http("GET", &format!("/api/text/{id}?otp={otp}"))
        .await;
    assert_eq!((status, body.as_str()), (200, "abc"));
}
