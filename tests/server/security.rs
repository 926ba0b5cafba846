//! Abuse controls: OTP guessing is throttled per address (and a trusted
//! proxy's header names the address), 10,000 wrong OTPs load nothing and
//! cost no memory, connection limits per address and in total, allowed
//! origins, the documents-in-memory limit, and the page's CSP.

mod common;

use std::time::Duration;

use common::{doc_id, Server};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// `GET path` with extra headers; returns status, headers (lowercased
/// names) and body.
async fn get(server: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{extra}\r\n",
        server.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(common::WAIT, s.read_to_end(&mut raw))
        .await
        .unwrap()
        .unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// A protected document with its OTP.
async fn protected(server: &Server, name: &str) -> (String, String) {
    let id = doc_id(name);
    let (status, body) = server
        .http("POST", &format!("/api/document/{id}/protect"))
        .await;
    assert_eq!(status, 200, "{body}");
    let otp = serde_json::from_str::<serde_json::Value>(&body).unwrap()["otp"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, otp)
}

/// After `OTP_FAILURES_PER_MINUTE` wrong OTPs an address gets 429 with
/// Retry-After — even for the right OTP, so guessing stops — while other
/// addresses (told apart through the trusted proxy header) are unaffected.
#[tokio::test]
async fn wrong_otps_are_throttled_per_address() {
    let server = Server::start(&[
        ("OTP_FAILURES_PER_MINUTE", "5"),
        ("TRUSTED_PROXY_HEADER", "X-Forwarded-For"),
    ])
    .await;
    let (id, otp) = protected(&server, "throttle").await;
    let from = |ip: &'static str| [("X-Forwarded-For", ip)];
    for _ in 0..5 {
        let (status, ..) = get(
            &server,
            &format!("/api/text/{id}?otp=wrong"),
            &from("198.51.100.1"),
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, head, body) = get(
        &server,
        &format!("/api/text/{id}?otp={otp}"),
        &from("198.51.100.1"),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body.starts_with("too many wrong OTPs from your address"),
        "{body}"
    );
    assert!(head.contains("retry-after: "), "{head}");
    // The socket is refused the same way.
    let url = format!("ws://{}/api/socket/{id}?otp={otp}", server.addr);
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut()
        .insert("X-Forwarded-For", "198.51.100.1".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 429)
        }
        other => panic!("expected 429, got {other:?}"),
    }
    // Another address (the proxy's last hop counts, not what the client
    // put first) still gets in.
    let (status, _, body) = get(
        &server,
        &format!("/api/text/{id}?otp={otp}"),
        &[("X-Forwarded-For", "198.51.100.1, 198.51.100.2")],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert!(
        server
            .metric("tandem_refused_total{reason=\"otp_throttled\"}")
            .await
            >= 1.0
    );
}

/// 10,000 wrong-OTP attempts against a cold protected document load no
/// document and leave the server's memory flat.
#[tokio::test]
async fn ten_thousand_wrong_otps_load_nothing() {
    let mut server = Server::start(&[("OTP_FAILURES_PER_MINUTE", "1000000")]).await;
    let (id, _otp) = protected(&server, "cold-guess").await;
    // Make it cold.
    server.terminate().await;
    server.restart().await;
    let rss_before = rss_kib(server.pid());
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let addr = server.addr.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..1250 {
                let path = format!("/api/text/{id}?otp=guess{worker}x{i}");
                let (status, _) = common::http(&addr, "GET", &path).await;
                assert_eq!(status, 401);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(server.metric("tandem_unauthorized_total").await, 10_000.0);
    assert_eq!(server.metric("tandem_document_loads_total").await, 0.0);
    assert_eq!(server.stats().await["num_documents"], 0);
    let grown = rss_kib(server.pid()).saturating_sub(rss_before);
    assert!(grown < 4 * 1024, "RSS grew by {grown} KiB");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// `MAX_CONNECTIONS_PER_IP` refuses the next upgrade from that address
/// with 429, `MAX_CONNECTIONS` refuses any with 503, and places come back
/// when connections close.
#[tokio::test]
async fn connection_limits() {
    let server = Server::start(&[("MAX_CONNECTIONS_PER_IP", "2")]).await;
    let id = doc_id("limits");
    let a = server.join(&id).await;
    let _b = server.join(&id).await;
    let (status, body) = server.connect(&id, None).await.err().unwrap();
    assert_eq!(
        (status, body.as_str()),
        (429, "too many connections from your address")
    );
    a.close().await;
    common::wait_until("the place is free", || async {
        server.connect(&id, None).await.is_ok()
    })
    .await;

    let server = Server::start(&[("MAX_CONNECTIONS", "1")]).await;
    let _a = server.join(&id).await;
    let (status, body) = server.connect(&id, None).await.err().unwrap();
    assert_eq!(
        (status, body.as_str()),
        (503, "server busy: too many connections")
    );
}

/// With `ALLOWED_ORIGINS`, a page from another origin cannot open a
/// socket (cross-site WebSocket hijacking); a listed origin can.
#[tokio::test]
async fn only_allowed_origins_open_sockets() {
    let server = Server::start(&[("ALLOWED_ORIGINS", "https://pad.example.com")]).await;
    let url = format!("ws://{}/api/socket/{}", server.addr, doc_id("origin"));
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut()
        .insert("Origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 403)
        }
        other => panic!("expected 403, got {other:?}"),
    }
    let mut req = url.as_str().into_client_request().unwrap();
    req.headers_mut()
        .insert("Origin", "https://pad.example.com".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
    assert_eq!(
        server
            .metric("tandem_refused_total{reason=\"origin\"}")
            .await,
        1.0
    );
}

/// At `MAX_DOCUMENTS_IN_MEMORY`, an idle document is unloaded (saved) to
/// make room; when every document is in use, a new one is refused with
/// 1013 and a clear reason, and nothing is lost.
#[tokio::test]
async fn documents_in_memory_are_bounded() {
    let server = Server::start(&[("MAX_DOCUMENTS_IN_MEMORY", "2")]).await;
    let (one, two, three) = (doc_id("mem1"), doc_id("mem2"), doc_id("mem3"));
    let mut a = server.join(&one).await;
    a.edit(0, 1, json!(["kept"])).await;
    a.expect("History").await;
    let _b = server.join(&two).await;
    let mut c = server.connect(&three, None).await.unwrap();
    c.send(json!({"Hello": {"client": common::random_key()}}))
        .await;
    let (code, reason) = c.closed().await;
    assert_eq!(
        (code, reason.as_str()),
        (1013, "server busy: too many documents open")
    );
    // Once `one` is idle it makes room (saved first, then unloaded).
    a.close().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _c = server.join(&three).await;
    assert_eq!(server.stats().await["num_documents"], 2);
    assert_eq!(server.text(&one).await, "kept");
}

/// The page carries a Content-Security-Policy that allows its own scripts
/// and WASM and forbids framing.
#[tokio::test]
async fn the_page_has_a_content_security_policy() {
    let server = Server::start(&[]).await;
    let (status, head, _) = get(&server, "/", &[]).await;
    assert_eq!(status, 200);
    let csp = head
        .lines()
        .find_map(|l| l.strip_prefix("content-security-policy: "))
        .expect("CSP header");
    for part in [
        "default-src 'self'",
        "'wasm-unsafe-eval'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(head.contains("x-frame-options: deny"));
}
