//! `BROADCAST_INTERVAL_MS` (issue 6): others' changes reach a connection
//! at most once per interval, but a client's own acknowledgements and
//! replies are never held back — and whatever was held goes out with them.
//! Held changes are delayed, never dropped.

mod common;

use std::time::Duration;

use common::{doc_id, Server};
use serde_json::json;
use tokio::time::timeout;

/// Entries in a `History` message (0 for other messages).
fn entries(m: &serde_json::Value) -> usize {
    m["History"]["operations"]
        .as_array()
        .map_or(0, |ops| ops.len())
}

#[tokio::test]
async fn a_reply_carries_the_changes_held_back_for_that_connection() {
    // Ten minutes: nothing held can go out on its own during this test.
    let server = Server::start(&[("BROADCAST_INTERVAL_MS", "600000")]).await;
    let id = doc_id("held");
    let mut a = server.join(&id).await;
    let mut b = server.join(&id).await;

    a.edit(0, 1, json!(["a"])).await;
    // A's acknowledgement is its own reply: not held.
    let ack = a.expect("History").await;
    assert_eq!(ack["operations"].as_array().unwrap().len(), 1, "{ack}");

    // B was sent its greeting moments ago, so A's change waits for B's
    // interval to end (or for B to say something).
    let early = timeout(Duration::from_millis(300), b.expect("History")).await;
    assert!(early.is_err(), "held change sent early: {early:?}");

    // B edits concurrently (from revision 0): its acknowledgement comes at
    // once, with A's held change in front of it.
    b.edit(0, 1, json!(["b"])).await;
    let mut got = 0;
    while got < 2 {
        got += entries(&b.recv().await);
    }
    assert_eq!(got, 2);
    assert_eq!(server.text(&id).await.len(), 2);
}

#[tokio::test]
async fn held_changes_arrive_without_the_client_saying_anything() {
    for interval in ["0", "300"] {
        let server = Server::start(&[("BROADCAST_INTERVAL_MS", interval)]).await;
        let id = doc_id("trailing");
        let mut a = server.join(&id).await;
        let mut b = server.join(&id).await;
        // Three changes in quick succession: within one interval, so with
        // 300 ms they reach B together at its end.
        for seq in 1..=3u64 {
            let op = if seq == 1 {
                json!(["x"])
            } else {
                json!([seq - 1, "x"])
            };
            a.edit(seq - 1, seq, op).await;
            let ack = a.expect("History").await;
            assert_eq!(ack["operations"].as_array().unwrap().len(), 1, "{interval}");
        }
        let mut got = 0;
        while got < 3 {
            got += entries(&b.recv().await);
        }
        assert_eq!(got, 3, "interval {interval}");
        assert_eq!(server.text(&id).await, "xxx");
    }
}
