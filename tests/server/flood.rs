//! A flood of cursor messages (issue 5, "bad input never hurts"): one
//! client sends thousands of `CursorData` messages as fast as its socket
//! takes them. Another client's edits are still acknowledged promptly,
//! the server stays healthy, and a receiving client is sent coalesced
//! cursors — the latest position of each user, not every intermediate
//! one — so the flood is not multiplied by the number of readers.

mod common;

use std::time::Duration;

use common::{barrier, doc_id, hello_with, Client, Server, WAIT};
use futures_util::SinkExt;
use serde_json::json;
use tandem_server::peer::Peer;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// Cursor messages the flooder sends.
const FLOOD: usize = 20_000;
/// Edits the editor makes meanwhile.
const EDITS: usize = 40;

async fn named(server: &Server, id: &str, name: &str) -> Client {
    let mut c = server.connect(id, None).await.unwrap();
    hello_with(&mut c, None, json!({"name": name, "hue": 90})).await;
    barrier(&mut c).await;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_flood_delays_no_edit_and_is_coalesced() {
    let server = Server::start(&[]).await;
    let id = doc_id("flood");
    let mut editor = Peer::new(&format!("ws://{}", server.addr), &id, None).with_info("Ed", 10);
    editor.connect(WAIT).await.unwrap();
    editor.splice(0, 0, "hello world").await.unwrap();
    editor.sync(WAIT).await.unwrap();
    let mut flooder = named(&server, &id, "Flo").await;
    let mut reader = named(&server, &id, "Rea").await;
    let flooder_id = flooder.user.unwrap();

    // The reader counts the flooder's cursors until the last one (the only
    // one with a selection).
    let reading = tokio::spawn(async move {
        let mut cursors = 0usize;
        let mut history = 0usize;
        loop {
            let m = reader.recv().await;
            if m["UserCursor"]["id"].as_u64() == Some(flooder_id) {
                cursors += 1;
                if m["UserCursor"]["data"]["selections"] != json!([]) {
                    return (reader, cursors, history);
                }
            } else if let Some(ops) = m["History"]["operations"].as_array() {
                history += ops.len();
            }
        }
    });

    // The flood: positions within "hello world", which only grows.
    let flooding = tokio::spawn(async move {
        let started = Instant::now();
        for i in 0..FLOOD {
            let last = i + 1 == FLOOD;
            let msg = if last {
                json!({"CursorData": {"cursors": [0], "selections": [[0, 5]]}})
            } else {
                json!({"CursorData": {"cursors": [i % 12], "selections": []}})
            };
            flooder
                .ws
                .feed(Message::text(msg.to_string()))
                .await
                .expect("feed");
            if i % 256 == 255 || last {
                tokio::time::timeout(WAIT, flooder.ws.flush())
                    .await
                    .expect("flush in time")
                    .expect("flush");
            }
        }
        (flooder, started.elapsed())
    });

    // Meanwhile: edits, each waiting for its acknowledgement.
    let mut latencies = Vec::new();
    for i in 0..EDITS {
        let start = Instant::now();
        editor.splice(i, 0, "x").await.unwrap();
        editor.sync(WAIT).await.unwrap();
        latencies.push(start.elapsed());
    }
    let (mut flooder, flood_time) = tokio::time::timeout(Duration::from_secs(60), flooding)
        .await
        .expect("flood sent in time")
        .unwrap();
    let (mut reader, cursors, history) = tokio::time::timeout(Duration::from_secs(60), reading)
        .await
        .expect("the reader got the last cursor")
        .unwrap();

    latencies.sort();
    let max = *latencies.last().unwrap();
    let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
    eprintln!(
        "flood: {FLOOD} cursor messages sent in {flood_time:?}; the reader got {cursors} \
         cursor updates of the flooder (and {history} history entries); edit \
         acknowledgement p99 {p99:?}, max {max:?}"
    );
    assert!(
        p99 < Duration::from_secs(1),
        "edits waited behind the flood: p99 {p99:?}"
    );
    assert!(
        cursors * 4 <= FLOOD,
        "the reader was sent {cursors} of {FLOOD} cursor updates: not coalesced"
    );

    // Everyone is still connected and served; nothing was refused.
    barrier(&mut flooder).await;
    barrier(&mut reader).await;
    let (status, body) = server.http("GET", "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(server.stat("num_connections").await, 3);
    assert_eq!(
        server
            .metric("tandem_errors_total{code=\"invalid_cursor\"}")
            .await,
        0.0
    );
    let text = server.text(&id).await;
    assert_eq!(text, editor.text());
    assert_eq!(text.chars().count(), 11 + EDITS);
}
