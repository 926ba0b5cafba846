//! Many clients joining a cold (stored, not in memory) document at once:
//! one load shared by all, everyone greeted with the stored text, and
//! their concurrent edits converging.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::{doc_id, insert_op, Client, Replica, Server, WAIT};
use futures_util::future::join_all;
use serde_json::json;
use tokio::time::timeout;

/// How many clients join at once.
const CLIENTS: usize = 64;

/// 64 clients open sockets to a cold persisted document at the same time
/// and say `Hello`: all get `Identity` (distinct ids) and a `Snapshot` with
/// the stored text and revision within a bounded time, and the document is
/// loaded from the database exactly once. Then each makes one edit at the
/// same base revision: every client's replica converges to the server's
/// text, which holds each client's marker exactly once and the stored text
/// intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_clients_join_a_cold_document_at_once() {
    let mut server = Server::start(&[]).await;
    let id = doc_id("cold");
    let stored = "stored before the restart\n";
    let mut c = server.join(&id).await;
    c.edit(0, 1, json!([stored])).await;
    c.expect("History").await;
    c.close().await;
    assert!(server.terminate().await.success());
    server.restart().await;
    assert_eq!(server.stat("num_documents").await, 0);
    assert_eq!(server.metric("tandem_document_loads_total").await, 0.0);

    // Everyone joins at once.
    let server = Arc::new(server);
    let started = Instant::now();
    let joins = (0..CLIENTS).map(|_| {
        let server = server.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let mut c = server.connect(&id, None).await.expect("connect");
            let catch_up = c.hello(None).await;
            (c, catch_up)
        })
    });
    let joined = timeout(WAIT, join_all(joins))
        .await
        .expect("not everyone was greeted in time");
    let took = started.elapsed();
    let mut clients: Vec<(Client, Replica)> = Vec::new();
    for j in joined {
        let (c, catch_up) = j.expect("join task");
        assert_eq!(
            common::sans_epoch(&catch_up),
            json!({"Snapshot": {"revision": 1, "last_seq": 0, "text": stored}})
        );
        clients.push((c, Replica::from_snapshot(&catch_up["Snapshot"])));
    }
    eprintln!("{CLIENTS} cold joins took {took:?}");
    let mut users: Vec<u64> = clients.iter().map(|(c, _)| c.user.unwrap()).collect();
    users.sort_unstable();
    users.dedup();
    assert_eq!(users.len(), CLIENTS, "user ids are not distinct");
    assert_eq!(server.metric("tandem_document_loads_total").await, 1.0);
    let stats = server.stats().await;
    assert_eq!(stats["num_documents"], 1, "{stats}");
    assert_eq!(stats["num_connections"], CLIENTS, "{stats}");

    // Everyone edits at once, at the same base revision.
    let edits = clients.into_iter().enumerate().map(|(i, (mut c, mut r))| {
        tokio::spawn(async move {
            let marker = format!("[{i}]");
            let at = i % (r.len() + 1);
            c.edit(r.revision, 1, insert_op(r.len(), at, &marker)).await;
            let target = r.revision + CLIENTS as u64;
            while r.revision < target {
                let h = c.expect("History").await;
                r.apply_history(&h);
            }
            (c, r, marker)
        })
    });
    let done = timeout(WAIT, join_all(edits))
        .await
        .expect("the edits did not converge in time");
    let text = server.text(&id).await;
    let mut rest = text.clone();
    for d in done {
        let (_c, r, marker) = d.expect("edit task");
        assert_eq!(r.text, text, "a client's replica diverged");
        assert_eq!(r.revision, 1 + CLIENTS as u64);
        assert_eq!(text.matches(&marker).count(), 1, "{marker} in {text:?}");
        rest = rest.replacen(&marker, "", 1);
    }
    // Without the markers, exactly the stored text remains.
    assert_eq!(rest, stored);
    assert_eq!(server.metric("tandem_document_loads_total").await, 1.0);
    assert_eq!(server.metric("tandem_edits_total").await, CLIENTS as f64);
}

/// The same rush on a cold *protected* document, half the clients with the
/// right OTP and half with a wrong one: the wrong ones are refused with 401
/// before the upgrade, the right ones are all greeted with the text, and
/// the document is still loaded exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rush_on_a_cold_protected_document() {
    let mut server = Server::start(&[("OTP_FAILURES_PER_MINUTE", "1000")]).await;
    let id = doc_id("cold-otp");
    let mut c = server.join(&id).await;
    c.edit(0, 1, json!(["protected"])).await;
    c.expect("History").await;
    c.close().await;
    let (status, body) = server
        .http("POST", &format!("/api/document/{id}/protect"))
        .await;
    assert_eq!(status, 200, "{body}");
    let otp: serde_json::Value = serde_json::from_str(&body).unwrap();
    let otp = otp["otp"].as_str().unwrap().to_owned();
    assert!(server.terminate().await.success());
    server.restart().await;

    let server = Arc::new(server);
    let attempts = (0..CLIENTS).map(|i| {
        let server = server.clone();
        let id = id.clone();
        let otp = if i % 2 == 0 {
            otp.clone()
        } else {
            "wrongwrongwrong0".to_owned()
        };
        tokio::spawn(async move {
            match server.connect(&id, Some(&otp)).await {
                Ok(mut c) => Ok(c.hello(None).await),
                Err(refusal) => Err(refusal),
            }
        })
    });
    let results = timeout(WAIT, join_all(attempts))
        .await
        .expect("the rush was not answered in time");
    for (i, r) in results.into_iter().enumerate() {
        match (i % 2 == 0, r.expect("task")) {
            (true, Ok(catch_up)) => assert_eq!(
                common::sans_epoch(&catch_up),
                json!({"Snapshot": {"revision": 1, "last_seq": 0, "text": "protected"}})
            ),
            (false, Err((status, _))) => assert_eq!(status, 401),
            (right, other) => panic!("client {i} (right otp: {right}): {other:?}"),
        }
    }
    assert_eq!(server.metric("tandem_document_loads_total").await, 1.0);
    assert_eq!(
        server.metric("tandem_unauthorized_total").await,
        (CLIENTS / 2) as f64
    );
}
