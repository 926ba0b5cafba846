//! Connecting: the handshake, identities, snapshots for fresh joins, and
//! the refusals that happen before or right after the upgrade.

mod common;

use common::{doc_id, hello_with, Server};
use serde_json::json;

#[tokio::test]
async fn hello_gets_identity_snapshot_and_protection_state() {
    let server = Server::start(&[]).await;
    let id = doc_id("connect");
    let mut c = server.connect(&id, None).await.unwrap();
    let catch_up = c.hello(None).await;
    assert_eq!(c.user, Some(1));
    assert_eq!(
        common::sans_epoch(&catch_up),
        json!({"Snapshot": {"revision": 0, "last_seq": 0, "text": ""}})
    );
    assert_eq!(
        c.recv().await,
        json!({"OTP": {"otp": null, "user_id": null, "user_name": null}})
    );
    // The next clients get the next ids. The first learns that one joined
    // once it has a name: not of d (no name), but of e (named in Hello).
    let mut d = server.connect(&id, None).await.unwrap();
    d.hello(None).await;
    assert_eq!(d.user, Some(2));
    let mut e = server.connect(&id, None).await.unwrap();
    hello_with(&mut e, None, json!({"name": "Eve", "hue": 42})).await;
    assert_eq!(e.user, Some(3));
    assert_eq!(
        c.recv().await,
        json!({"UserInfo": {"id": 3, "info": {"name": "Eve", "hue": 42}}})
    );
}

#[tokio::test]
async fn refusals_before_the_upgrade() {
    let server = Server::start(&[]).await;
    let long = "a".repeat(65);
    for bad in ["bad%20id", "a.b", long.as_str()] {
        let (status, body) = server.connect(bad, None).await.err().unwrap();
        assert_eq!(status, 400, "{bad}");
        assert!(body.starts_with("invalid document id"), "{body}");
    }
}

#[tokio::test]
async fn the_first_message_must_be_a_valid_hello() {
    let server = Server::start(&[("HELLO_TIMEOUT_SECONDS", "0.3")]).await;
    let id = doc_id("hello");
    let mut c = server.connect(&id, None).await.unwrap();
    c.send(json!({"SetLanguage": "rust"})).await;
    let (code, reason) = c.closed().await;
    assert_eq!(code, 4400);
    assert_eq!(reason, "malformed message: the first message must be Hello");

    let mut c = server.connect(&id, None).await.unwrap();
    c.send(json!({"Hello": {"client": "short"}})).await;
    let (code, reason) = c.closed().await;
    assert_eq!(code, 4400);
    assert!(reason.contains("client identity"), "{reason}");

    let mut c = server.connect(&id, None).await.unwrap();
    let (code, reason) = c.closed().await;
    assert_eq!(
        (code, reason.as_str()),
        (4408, "timeout: no Hello received")
    );
}

#[tokio::test]
async fn health_stats_and_metrics() {
    let server = Server::start(&[]).await;
    assert_eq!(server.http("GET", "/healthz").await, (200, "ok".into()));
    let stats = server.stats().await;
    assert_eq!(stats["num_documents"], 0);
    assert_eq!(stats["num_connections"], 0);
    let c = server.join(&doc_id("stats")).await;
    let stats = server.stats().await;
    assert_eq!(stats["num_documents"], 1);
    assert_eq!(stats["num_connections"], 1);
    assert!(stats["start_time"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(server.metric("tandem_connections").await, 1.0);
    c.close().await;
}

#[tokio::test]
async fn help_and_bad_configuration() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for var in [
        "PORT",
        "SQLITE_URI",
        "EXPIRY_DAYS",
        "MAX_DOCUMENT_SIZE_KB",
        "BASE_PATH",
    ] {
        assert!(help.contains(var), "--help lacks {var}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
        .env("WS_WRITE_TIMEOUT_SECONDS", "soon")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("WS_WRITE_TIMEOUT_SECONDS"), "{err}");
}
