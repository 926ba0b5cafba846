//! Per-connection message rates (issue 7): `MAX_MESSAGES_PER_SECOND`
//! slows a client that sends faster — it is told once with the
//! `rate_limited` error and read more slowly, and nothing it sent is
//! dropped — and `MAX_CURSOR_UPDATES_PER_SECOND` coalesces cursor updates
//! instead of queueing them: the others see the latest cursor, not every
//! intermediate one.

mod common;

use common::{barrier, doc_id, hello_with, insert_op, Server};
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// Edits the fast client sends without waiting.
const EDITS: u64 = 60;

#[tokio::test]
async fn a_fast_client_is_told_and_slowed_and_loses_nothing() {
    let server = Server::start(&[("MAX_MESSAGES_PER_SECOND", "20")]).await;
    let id = doc_id("rate");
    let mut c = server.join(&id).await;
    // Each edit builds on the previous one (all its own, so no transform).
    for i in 0..EDITS {
        c.edit(i, i + 1, insert_op(i as usize, i as usize, "x"))
            .await;
    }
    let mut acked = 0;
    let mut told = 0;
    while acked < EDITS {
        let m = c.recv().await;
        if let Some(ops) = m["History"]["operations"].as_array() {
            acked += ops.len() as u64;
        } else if m["Error"]["code"] == "rate_limited" {
            told += 1;
            assert!(
                m["Error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("20 messages per second"),
                "{m}"
            );
        }
    }
    assert_eq!(told, 1, "told once per episode");
    assert_eq!(server.text(&id).await, "x".repeat(EDITS as usize));
    assert_eq!(
        server
            .metric("tandem_errors_total{code=\"rate_limited\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn cursor_updates_beyond_the_rate_are_coalesced_to_the_latest() {
    let server = Server::start(&[("MAX_CURSOR_UPDATES_PER_SECOND", "5")]).await;
    let id = doc_id("cursor-rate");
    let mut writer = server.join(&id).await;
    writer.edit(0, 1, json!(["hello world"])).await;
    writer.expect("History").await;
    let mut mover = server.connect(&id, None).await.unwrap();
    hello_with(&mut mover, None, json!({"name": "Mo", "hue": 10})).await;
    let mut reader = server.connect(&id, None).await.unwrap();
    hello_with(&mut reader, None, json!({"name": "Re", "hue": 200})).await;
    barrier(&mut reader).await;
    let mover_id = mover.user.unwrap();

    // 200 updates at once; the last one is the only one with a selection.
    for i in 0..200usize {
        let msg = if i == 199 {
            json!({"CursorData": {"cursors": [3], "selections": [[1, 4]]}})
        } else {
            json!({"CursorData": {"cursors": [i % 11], "selections": []}})
        };
        mover.ws.feed(Message::text(msg.to_string())).await.unwrap();
    }
    mover.ws.flush().await.unwrap();

    let mut seen = 0;
    loop {
        let m = reader.recv().await;
        if m["UserCursor"]["id"].as_u64() == Some(mover_id) {
            seen += 1;
            if m["UserCursor"]["data"]["selections"] == json!([[1, 4]]) {
                assert_eq!(m["UserCursor"]["data"]["cursors"], json!([3]));
                break;
            }
        }
    }
    // 10 in the burst, then 5 a second while the rest arrive: far fewer
    // than were sent, and the latest one always arrives.
    assert!(seen <= 40, "the reader got {seen} of 200 cursor updates");
    // The mover was not refused anything, and is still served.
    barrier(&mut mover).await;
    assert_eq!(
        server
            .metric("tandem_errors_total{code=\"rate_limited\"}")
            .await,
        0.0
    );
}
