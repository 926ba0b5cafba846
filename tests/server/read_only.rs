//! Read-only links: a protected document's second secret (the view
//! secret, `?view=`) lets a viewer in to read and follow the document and
//! be present, but never to change it or learn its OTP; wrong view secrets
//! are refused before the upgrade (cold from the database, without
//! loading) and throttled like wrong OTPs; the link survives a crash; a
//! replaced or removed link disconnects its viewers (docs/protocol.md).

mod common;

use common::{doc_id, Client, Server};
use serde_json::{json, Value};

/// The documented body of a 401 for a view secret.
const UNAUTHORIZED_VIEW: &str =
    "unauthorized: this read-only link is not valid (any more); ask an editor for the current one";

/// A well-formed secret that is not the document's.
const WRONG: &str = "AAAAAAAAAAAAAAAA";

/// Opens a socket to `id` with `?view=secret`. `Err` carries the status and
/// body of a refused upgrade.
async fn connect_view(server: &Server, id: &str, secret: &str) -> Result<Client, (u16, String)> {
    let url = format!("ws://{}/api/socket/{id}?view={secret}", server.addr);
    match tokio::time::timeout(common::WAIT, tokio_tungstenite::connect_async(url.as_str()))
        .await
        .expect("connect timed out")
    {
        Ok((ws, _)) => Ok(Client {
            ws,
            key: common::random_key(),
            user: None,
        }),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err((resp.status().as_u16(), body))
        }
        Err(e) => panic!("connect to {url}: {e}"),
    }
}

/// Joins as viewer `name` with the view secret; returns the client, its
/// catch-up and the rest of its greeting (up to and including the closing
/// `ReadOnly`).
async fn join_view(
    server: &Server,
    id: &str,
    secret: &str,
    name: &str,
) -> (Client, Value, Vec<Value>) {
    let mut c = connect_view(server, id, secret)
        .await
        .unwrap_or_else(|(s, b)| panic!("view secret refused: {s} {b}"));
    let key = c.key.clone();
    c.send(json!({"Hello": {"client": key, "revision": null, "info": {"name": name, "hue": 90}}}))
        .await;
    let identity = c.recv().await;
    c.user = Some(identity["Identity"].as_u64().expect("Identity first"));
    let catch_up = c.recv().await;
    let mut rest = Vec::new();
    loop {
        let v = c.recv().await;
        let end = v.get("ReadOnly").is_some();
        rest.push(v);
        if end {
            break;
        }
    }
    assert_eq!(rest.last(), Some(&json!({"ReadOnly": {}})));
    (c, catch_up, rest)
}

/// Asserts that a socket with `?view=secret` is refused with the 401.
async fn assert_view_refused(server: &Server, id: &str, secret: &str) {
    match connect_view(server, id, secret).await {
        Err((status, body)) => {
            assert_eq!(status, 401, "view {secret:?}: {body}");
            assert_eq!(body, UNAUTHORIZED_VIEW, "view {secret:?}");
        }
        Ok(_) => panic!("a socket with view secret {secret:?} was let in"),
    }
}

/// A viewer's round trip: a second `Hello` is answered with
/// `unexpected_hello` (a viewer's `SetLanguage` would be refused as
/// read-only instead, so `common::barrier` does not fit). Returns what
/// arrived before that answer.
async fn viewer_barrier(c: &mut Client) -> Vec<Value> {
    let key = c.key.clone();
    c.send(json!({"Hello": {"client": key}})).await;
    let mut before = Vec::new();
    loop {
        let v = c.recv().await;
        if v["Error"]["code"] == "unexpected_hello" {
            return before;
        }
        before.push(v);
    }
}

/// Asserts that nothing in `msgs` is an `OTP` or `ViewLink` message or
/// mentions any of `secrets`.
fn assert_no_secrets(msgs: &[Value], secrets: &[&str]) {
    for m in msgs {
        assert!(m.get("OTP").is_none(), "a viewer was sent {m}");
        assert!(m.get("ViewLink").is_none(), "a viewer was sent {m}");
        let text = m.to_string();
        for s in secrets {
            assert!(!text.contains(s), "a viewer was sent a secret in {m}");
        }
    }
}

/// Protects `id` through editor `c` and makes its read-only link; returns
/// the OTP and the view secret.
async fn protect_and_share(c: &mut Client, name: &str) -> (String, String) {
    let otp = rotate_otp(c, "").await;
    c.send(json!({"SetViewLink": {"enabled": true}})).await;
    let link = c.expect("ViewLink").await;
    let secret = link["secret"].as_str().expect("a secret").to_owned();
    assert_eq!(
        link,
        json!({"secret": secret, "user_id": c.user.unwrap(), "user_name": name})
    );
    assert_eq!(secret.len(), 16, "{secret}");
    assert_ne!(secret, otp);
    (otp, secret)
}

/// Editor "Ann" creates `id` with `text` (nothing when empty), protects it
/// and makes its read-only link; returns Ann, the OTP and the view secret.
async fn shared_document(server: &Server, id: &str, text: &str) -> (Client, String, String) {
    let (mut ann, _) = server.join_named(id, None, "Ann").await;
    if !text.is_empty() {
        ann.edit(0, 1, json!([text])).await;
        ann.expect("History").await;
    }
    let (otp, secret) = protect_and_share(&mut ann, "Ann").await;
    (ann, otp, secret)
}

/// Asks for a new OTP through editor `c`; returns it once it arrives
/// (differing from `old`).
async fn rotate_otp(c: &mut Client, old: &str) -> String {
    c.send(json!({"SetOTP": {"enabled": true}})).await;
    c.recv_until(|m| m["OTP"]["otp"].as_str().is_some_and(|o| o != old))
        .await["OTP"]["otp"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The next `ViewLink` body whose secret is not `old`.
async fn next_view_link(c: &mut Client, old: Option<&str>) -> Value {
    let v = c
        .recv_until(|v| {
            v.get("ViewLink")
                .is_some_and(|l| l["secret"].as_str() != old)
        })
        .await;
    v["ViewLink"].clone()
}

/// A viewer gets in with the view secret, receives the text, the users and
/// every later edit, is present to the others (name and cursor), and is
/// never sent the OTP or the view secret, not even when the OTP rotates.
#[tokio::test]
async fn a_viewer_reads_follows_and_never_learns_the_otp() {
    let server = Server::start(&[]).await;
    let id = doc_id("ro-view");
    let (mut ann, _) = server.join_named(&id, None, "Ann").await;
    ann.edit(0, 1, json!(["hello"])).await;
    ann.expect("History").await;
    ann.send(json!({"SetLanguage": "rust"})).await;
    ann.expect("Language").await;
    let (otp, secret) = protect_and_share(&mut ann, "Ann").await;

    let (mut viewer, catch_up, greeting) = join_view(&server, &id, &secret, "Vera").await;
    assert_eq!(catch_up["Snapshot"]["text"], "hello");
    assert_eq!(catch_up["Snapshot"]["revision"], 1);
    assert!(greeting.iter().any(|m| m["Language"]["language"] == "rust"));
    assert!(greeting
        .iter()
        .any(|m| m["UserInfo"]["info"]["name"] == "Ann"));
    assert_no_secrets(&greeting, &[&otp, &secret]);

    // Live edits reach the viewer; the viewer is present to the editor.
    let vera = ann
        .recv_until(|m| m["UserInfo"]["info"]["name"] == "Vera")
        .await;
    let vera_id = vera["UserInfo"]["id"].clone();
    ann.edit(1, 2, json!([5, ", world"])).await;
    ann.expect("History").await;
    let h = viewer.expect("History").await;
    assert_eq!(h["start"], 1);
    assert_eq!(h["operations"][0]["operation"], json!([5, ", world"]));
    viewer
        .send(json!({"CursorData": {"cursors": [3], "selections": [[0, 2]]}}))
        .await;
    let cursor = ann.expect("UserCursor").await;
    assert_eq!(cursor["id"], vera_id);
    assert_eq!(cursor["data"]["cursors"], json!([3]));

    // The OTP rotates: the editor is told, the viewer is not — and stays
    // connected, and the link keeps working.
    let rotated = rotate_otp(&mut ann, &otp).await;
    ann.edit(2, 3, json!(["> ", 12])).await;
    ann.expect("History").await;
    let seen = viewer_barrier(&mut viewer).await;
    assert!(seen.iter().any(|m| m.get("History").is_some()), "{seen:?}");
    assert_no_secrets(&seen, &[&otp, &rotated, &secret]);
    let (_second, catch_up, greeting) = join_view(&server, &id, &secret, "Vic").await;
    assert_eq!(catch_up["Snapshot"]["text"], "> hello, world");
    assert_no_secrets(&greeting, &[&otp, &rotated, &secret]);

    // A new editor is told the link (and the OTP it came with).
    let mut carl = server.connect(&id, Some(&rotated)).await.unwrap();
    carl.hello(None).await;
    assert_eq!(carl.expect("ViewLink").await["secret"], secret.as_str());
    assert_eq!(carl.expect("OTP").await["otp"], rotated.as_str());
}

/// Everything a viewer sends that would change the document or its
/// secrets is answered with the `read_only` error and does nothing; the
/// connection stays open. A read-only link cannot change the protection
/// over HTTP either (403).
#[tokio::test]
async fn a_viewers_changes_are_refused_and_change_nothing() {
    let server = Server::start(&[]).await;
    let id = doc_id("ro-refused");
    let (mut ann, otp, secret) = shared_document(&server, &id, "text").await;
    let (mut viewer, _, _) = join_view(&server, &id, &secret, "Vera").await;

    for (what, msg) in [
        (
            "Edit",
            json!({"Edit": {"revision": 1, "seq": 1, "operation": [4, "!"]}}),
        ),
        ("SetLanguage", json!({"SetLanguage": "rust"})),
        ("SetOTP", json!({"SetOTP": {"enabled": true}})),
        ("SetOTP", json!({"SetOTP": {"enabled": false}})),
        ("SetViewLink", json!({"SetViewLink": {"enabled": true}})),
        ("SetViewLink", json!({"SetViewLink": {"enabled": false}})),
    ] {
        viewer.send(msg).await;
        let err = viewer.expect("Error").await;
        assert_eq!(err["code"], "read_only", "{what}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains("read-only link"), "{what}: {message}");
    }
    // Nothing changed: the text, the language, the protection, the link.
    assert_eq!(
        server.text_with_otp(&id, Some(&otp)).await,
        (200, "text".to_owned())
    );
    let seen = common::barrier(&mut ann).await;
    assert!(
        seen.iter().all(|m| m.get("History").is_none()
            && m.get("Language").is_none()
            && m.get("OTP").is_none()
            && m.get("ViewLink").is_none()),
        "{seen:?}"
    );
    assert!(connect_view(&server, &id, &secret).await.is_ok());
    assert_eq!(
        server
            .metric("tandem_errors_total{code=\"read_only\"}")
            .await,
        6.0
    );

    // Still connected and following.
    ann.edit(1, 2, json!([4, "!"])).await;
    assert_eq!(viewer.expect("History").await["start"], 1);
    assert_eq!(server.text_with_otp(&id, Some(&otp)).await.1, "text!");

    // Over HTTP: the view secret reads, but cannot change the protection.
    assert_eq!(
        server
            .http("GET", &format!("/api/text/{id}?view={secret}"))
            .await,
        (200, "text!".to_owned())
    );
    assert_eq!(
        server
            .http("HEAD", &format!("/api/text/{id}?view={secret}"))
            .await
            .0,
        200
    );
    for method in ["POST", "DELETE"] {
        let (status, body) = server
            .http(method, &format!("/api/document/{id}/protect?view={secret}"))
            .await;
        assert_eq!(status, 403, "{method}: {body}");
    }
    assert_eq!(server.text_with_otp(&id, Some(&otp)).await.0, 200);
}

/// Wrong view secrets are refused with 401 (socket and HTTP), count as
/// failed attempts for the throttle, and the OTP is not a view secret nor
/// the view secret an OTP.
#[tokio::test]
async fn wrong_view_secrets_are_refused_and_throttled() {
    let server = Server::start(&[("OTP_FAILURES_PER_MINUTE", "4")]).await;
    let id = doc_id("ro-wrong");
    let (_ann, otp, secret) = shared_document(&server, &id, "").await;

    assert_view_refused(&server, &id, WRONG).await;
    assert_view_refused(&server, &id, "").await;
    assert_view_refused(&server, &id, &otp).await;
    // The view secret is no OTP.
    let (status, _) = server.text_with_otp(&id, Some(&secret)).await;
    assert_eq!(status, 401);
    assert_eq!(server.metric("tandem_unauthorized_total").await, 4.0);
    // Four failures: now even the right secret is refused for a while.
    match connect_view(&server, &id, &secret).await {
        Err((429, body)) => assert!(body.starts_with("too many wrong OTPs"), "{body}"),
        Err(other) => panic!("expected 429, got {other:?}"),
        Ok(_) => panic!("expected 429, got in"),
    }
    assert_eq!(
        server
            .http("GET", &format!("/api/text/{id}?view={secret}"))
            .await
            .0,
        429
    );
}

/// A view secret on an unprotected document is not checked: anyone may
/// edit it anyway, so such a viewer is a viewer by choice (read-only
/// all the same). An unprotected document cannot get a read-only link.
#[tokio::test]
async fn unprotected_documents_have_voluntary_viewers_and_no_links() {
    let server = Server::start(&[]).await;
    let id = doc_id("ro-open");
    let (mut ann, _) = server.join_named(&id, None, "Ann").await;
    ann.edit(0, 1, json!(["open"])).await;
    ann.expect("History").await;
    ann.send(json!({"SetViewLink": {"enabled": true}})).await;
    let err = ann.expect("Error").await;
    assert_eq!(err["code"], "not_protected", "{err}");

    let (mut viewer, catch_up, greeting) = join_view(&server, &id, "anything", "Vera").await;
    assert_eq!(catch_up["Snapshot"]["text"], "open");
    assert_no_secrets(&greeting, &[]);
    viewer
        .send(json!({"Edit": {"revision": 1, "seq": 1, "operation": [4, "!"]}}))
        .await;
    assert_eq!(viewer.expect("Error").await["code"], "read_only");

    // Protecting later keeps the voluntary viewer connected and unaware of
    // the OTP; it is a viewer without a link, so no link change affects it.
    let otp = rotate_otp(&mut ann, "").await;
    ann.send(json!({"SetViewLink": {"enabled": true}})).await;
    let secret = next_view_link(&mut ann, None).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    ann.send(json!({"SetViewLink": {"enabled": false}})).await;
    next_view_link(&mut ann, Some(&secret)).await;
    ann.edit(1, 2, json!([4, "!"])).await;
    ann.expect("History").await;
    let seen = viewer_barrier(&mut viewer).await;
    assert!(seen.iter().any(|m| m.get("History").is_some()), "{seen:?}");
    assert_no_secrets(&seen, &[&otp, &secret]);
    assert_view_refused(&server, &id, "anything").await;
}

/// The link is stored before it is announced: after a SIGKILL right after
/// the `ViewLink` broadcast, the view secret is checked from the database
/// without loading the document (wrong ones load nothing), opens it, and
/// an editor who comes back with the OTP is told the same link.
#[tokio::test]
async fn the_link_survives_a_crash_and_is_checked_cold() {
    let mut server = Server::start(&[
        ("PERSIST_IDLE_SECONDS", "1000"),
        ("PERSIST_MAX_INTERVAL_SECONDS", "1000"),
    ])
    .await;
    let id = doc_id("ro-crash");
    let (_ann, otp, secret) = shared_document(&server, &id, "kept").await;
    server.kill().await;
    server.restart().await;

    assert_view_refused(&server, &id, WRONG).await;
    assert_view_refused(&server, &id, &otp).await;
    assert_eq!(
        server
            .http("HEAD", &format!("/api/text/{id}?view={secret}"))
            .await
            .0,
        200
    );
    assert_eq!(server.stat("num_documents").await, 0);
    assert_eq!(server.metric("tandem_document_loads_total").await, 0.0);

    let (mut viewer, catch_up, greeting) = join_view(&server, &id, &secret, "Vera").await;
    assert_eq!(catch_up["Snapshot"]["text"], "kept");
    assert_no_secrets(&greeting, &[&otp, &secret]);
    assert_eq!(server.metric("tandem_document_loads_total").await, 1.0);
    viewer
        .send(json!({"Edit": {"revision": 1, "seq": 1, "operation": [4, "!"]}}))
        .await;
    assert_eq!(viewer.expect("Error").await["code"], "read_only");

    // The editor's greeting names the same link, unsealed with the OTP.
    let mut ann = server.connect(&id, Some(&otp)).await.unwrap();
    ann.hello(None).await;
    assert_eq!(
        ann.expect("ViewLink").await,
        json!({"secret": secret, "user_id": null, "user_name": null})
    );
    assert_eq!(ann.expect("OTP").await["otp"], otp.as_str());

    // Rotating the OTP keeps the link, sealed under the new OTP: it still
    // opens after another crash, and editors with the new OTP see it.
    let rotated = rotate_otp(&mut ann, &otp).await;
    server.kill().await;
    server.restart().await;
    assert!(connect_view(&server, &id, &secret).await.is_ok());
    let mut ann = server.connect(&id, Some(&rotated)).await.unwrap();
    ann.hello(None).await;
    assert_eq!(ann.expect("ViewLink").await["secret"], secret.as_str());
}

/// Replacing the link, removing it, or removing the protection (which
/// removes the link) disconnects the viewers of the old link with 4403,
/// tells the editors, and refuses the old secret from then on; editors
/// stay connected throughout.
#[tokio::test]
async fn replacing_or_removing_the_link_disconnects_its_viewers() {
    let server = Server::start(&[("OTP_FAILURES_PER_MINUTE", "1000")]).await;
    let id = doc_id("ro-revoke");
    let (mut ann, otp, first) = shared_document(&server, &id, "").await;
    let (mut bob, _) = server.join_named(&id, Some(&otp), "Bob").await;
    let bob_id = bob.user.unwrap();
    assert_eq!(bob.expect("ViewLink").await["secret"], first.as_str());

    // Replace: both editors get the new secret; the old viewer goes.
    let (mut v1, _, _) = join_view(&server, &id, &first, "V1").await;
    bob.send(json!({"SetViewLink": {"enabled": true}})).await;
    let to_bob = next_view_link(&mut bob, Some(&first)).await;
    let second = to_bob["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        to_bob,
        json!({"secret": second, "user_id": bob_id, "user_name": "Bob"})
    );
    assert_eq!(next_view_link(&mut ann, Some(&first)).await, to_bob);
    let (code, reason) = v1.closed().await;
    assert_eq!(code, 4403, "{reason}");
    assert!(reason.starts_with("read-only link revoked"), "{reason}");
    assert_view_refused(&server, &id, &first).await;

    // Remove: a null secret for the editors; the viewer goes.
    let (mut v2, _, _) = join_view(&server, &id, &second, "V2").await;
    ann.send(json!({"SetViewLink": {"enabled": false}})).await;
    assert_eq!(
        next_view_link(&mut ann, Some(&second)).await,
        json!({"secret": null, "user_id": ann.user.unwrap(), "user_name": "Ann"})
    );
    assert_eq!(v2.closed().await.0, 4403);
    assert_view_refused(&server, &id, &second).await;

    // Unprotect: the link goes with the protection.
    ann.send(json!({"SetViewLink": {"enabled": true}})).await;
    let third = next_view_link(&mut ann, None).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut v3, _, _) = join_view(&server, &id, &third, "V3").await;
    ann.send(json!({"SetOTP": {"enabled": false}})).await;
    ann.recv_until(|m| m.get("OTP").is_some_and(|o| o["otp"].is_null()))
        .await;
    assert!(next_view_link(&mut ann, Some(&third)).await["secret"].is_null());
    assert_eq!(v3.closed().await.0, 4403);
    assert_eq!(
        server
            .metric("tandem_closes_total{reason=\"view_revoked\"}")
            .await,
        3.0
    );

    // The editors were never disconnected.
    ann.edit(0, 1, json!(["still here"])).await;
    ann.expect("History").await;
    let h = bob.expect("History").await;
    assert_eq!(h["operations"][0]["operation"], json!(["still here"]));
}
