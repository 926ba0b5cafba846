//! The HTTP surface around the socket: serving under `BASE_PATH`, the
//! Prometheus metrics, the page's security headers, and plain-text 404s.

mod common;

use common::{doc_id, http, Server};
use serde_json::json;

/// With `BASE_PATH=/tools/pad` everything moves under the prefix — the
/// socket included — and nothing answers at the root.
#[tokio::test]
async fn everything_is_served_under_the_base_path() {
    let server = Server::start(&[("BASE_PATH", "/tools/pad/")]).await;
    assert_eq!(
        server.http("GET", "/tools/pad/healthz").await,
        (200, "ok".into())
    );
    assert_eq!(server.http("GET", "/healthz").await.0, 404);
    assert_eq!(server.http("GET", "/tools/pad/").await.0, 200);
    let (status, _) = server.http("GET", "/tools/pad/api/text/x").await;
    assert_eq!(status, 200);

    let url = format!(
        "ws://{}/tools/pad/api/socket/{}",
        server.addr,
        doc_id("base")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    use futures_util::{SinkExt, StreamExt};
    let hello = json!({"Hello": {"client": common::random_key()}}).to_string();
    ws.send(tokio_tungstenite::tungstenite::Message::text(hello))
        .await
        .unwrap();
    let first = tokio::time::timeout(common::WAIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.to_text().unwrap(), r#"{"Identity":1}"#);
}

/// `/metrics` is Prometheus text with the documented families, and counts
/// edits and persistence writes.
#[tokio::test]
async fn metrics_count_edits_and_writes() {
    let server = Server::start(&[
        ("PERSIST_CHECK_INTERVAL_SECONDS", "0.05"),
        ("PERSIST_IDLE_SECONDS", "0"),
    ])
    .await;
    let id = doc_id("metrics");
    let mut c = server.join(&id).await;
    c.edit(0, 1, json!(["hi"])).await;
    c.expect("History").await;
    assert_eq!(server.metric("tandem_edits_total").await, 1.0);
    common::wait_until("a persist write", || async {
        server.metric("tandem_persist_writes").await >= 1.0
    })
    .await;
    let (status, body) = server.http("GET", "/metrics").await;
    assert_eq!(status, 200);
    for family in [
        "# TYPE tandem_connections gauge",
        "# TYPE tandem_edits_total counter",
        "# TYPE tandem_errors_total counter",
        "# TYPE tandem_closes_total counter",
        "# TYPE tandem_documents_in_memory gauge",
        "# TYPE tandem_persist_write_seconds_sum gauge",
        "tandem_errors_total{code=\"invalid_language\"} 0",
    ] {
        assert!(body.contains(family), "missing {family:?} in\n{body}");
    }
    assert!(server.metric("tandem_persist_write_seconds_sum").await > 0.0);
}

/// The page is served with `nosniff` and `no-referrer` (so `?otp=` never
/// leaks in a Referer); unknown paths get a plain-text 404.
#[tokio::test]
async fn page_headers_and_not_found() {
    let server = Server::start(&[]).await;
    let raw = raw_get(&server.addr, "/").await;
    let lower = raw.to_ascii_lowercase();
    assert!(lower.starts_with("http/1.1 200"), "{raw}");
    assert!(lower.contains("x-content-type-options: nosniff"), "{raw}");
    assert!(lower.contains("referrer-policy: no-referrer"), "{raw}");
    assert_eq!(
        http(&server.addr, "GET", "/no/such/page").await,
        (404, "not found".into())
    );
}

/// The response head and body of `GET path`, unparsed.
async fn raw_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(common::WAIT, s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// `HEAD /api/text/{id}` answers the upgrade's checks without the text:
/// 200 for an open document, 401 for a protected one without its OTP,
/// 400 for a bad id.
#[tokio::test]
async fn head_checks_access_without_the_text() {
    let server = Server::start(&[]).await;
    let id = doc_id("head");
    let mut c = server.join(&id).await;
    c.edit(0, 1, json!(["secret text"])).await;
    c.expect("History").await;
    assert_eq!(
        server.http("HEAD", &format!("/api/text/{id}")).await,
        (200, String::new())
    );
    c.send(json!({"SetOTP": {"enabled": true}})).await;
    let otp = c.expect("OTP").await["otp"].as_str().unwrap().to_owned();
    assert_eq!(server.http("HEAD", &format!("/api/text/{id}")).await.0, 401);
    assert_eq!(
        server
            .http("HEAD", &format!("/api/text/{id}?otp={otp}"))
            .await,
        (200, String::new())
    );
    assert_eq!(server.http("HEAD", "/api/text/a.b").await.0, 400);
}
