//! OTP protection: protecting, rotating and unprotecting a document over
//! the socket and over the HTTP API, the 401 refusals before the upgrade
//! (checked against the database for a cold document, without loading
//! it), and protection surviving restarts and crashes.

mod common;

use common::{doc_id, Client, Server};
use serde_json::{json, Value};

/// The documented body of a 401.
const UNAUTHORIZED: &str =
    "unauthorized: this document is protected; open the full link with its otp";

/// A well-formed OTP that is not the document's.
const WRONG: &str = "AAAAAAAAAAAAAAAA";

/// Whether `s` looks like an OTP: 16 characters of URL-safe base64.
fn is_otp(s: &str) -> bool {
    s.len() == 16
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The next `OTP` message whose `otp` satisfies `pred` (skipping others).
async fn next_otp(c: &mut Client, pred: impl Fn(&Value) -> bool) -> Value {
    c.recv_until(|v| v.get("OTP").is_some_and(|o| pred(&o["otp"])))
        .await
}

/// Asserts that a socket to `id` with `otp` is refused with the 401.
async fn assert_refused(server: &Server, id: &str, otp: Option<&str>) {
    match server.connect(id, otp).await {
        Err((status, body)) => {
            assert_eq!(status, 401, "otp {otp:?}: {body}");
            assert_eq!(body, UNAUTHORIZED, "otp {otp:?}");
        }
        Ok(_) => panic!("a socket with otp {otp:?} was let in"),
    }
}

/// Joins with `otp` (`None` for an unprotected document), checks that the
/// greeting ends with an `OTP` message carrying exactly that OTP (null when
/// unprotected), and returns the client and its snapshot.
async fn join_with(server: &Server, id: &str, otp: Option<&str>) -> (Client, Value) {
    let mut c = server
        .connect(id, otp)
        .await
        .unwrap_or_else(|(s, b)| panic!("otp {otp:?} refused: {s} {b}"));
    let catch_up = c.hello(None).await;
    let snapshot = catch_up["Snapshot"].clone();
    assert!(snapshot.is_object(), "{catch_up}");
    let greeting_otp = c.expect("OTP").await;
    assert_eq!(
        greeting_otp,
        json!({"otp": otp, "user_id": null, "user_name": null})
    );
    (c, snapshot)
}

/// POST/DELETE `/api/document/{id}/protect` with an optional `?otp=`.
async fn protect(server: &Server, method: &str, id: &str, otp: Option<&str>) -> (u16, String) {
    let path = match otp {
        Some(o) => format!("/api/document/{id}/protect?otp={o}"),
        None => format!("/api/document/{id}/protect"),
    };
    server.http(method, &path).await
}

/// The OTP from a successful POST `/protect` reply.
fn otp_of(reply: &(u16, String)) -> String {
    assert_eq!(reply.0, 200, "{}", reply.1);
    let v: Value = serde_json::from_str(&reply.1).expect("JSON reply");
    let otp = v["otp"].as_str().expect("otp field").to_owned();
    assert_eq!(v, json!({ "otp": otp }));
    assert!(is_otp(&otp), "{otp}");
    otp
}

/// Protecting over the socket tells everyone (sender included) the new OTP
/// and who set it, keeps them connected, and from then on new sockets and
/// `GET /api/text` need it; rotating refuses the old OTP; unprotecting
/// broadcasts a null OTP and lets anyone in again.
#[tokio::test]
async fn protect_rotate_and_unprotect_over_the_socket() {
    let server = Server::start(&[]).await;
    let id = doc_id("otp-socket");
    let (mut ann, _) = server.join_named(&id, None, "Ann").await;
    let (mut bob, _) = server.join_named(&id, None, "Bob").await;
    let (ann_id, bob_id) = (ann.user.unwrap(), bob.user.unwrap());
    ann.edit(0, 1, json!(["hello"])).await;
    ann.expect("History").await;
    bob.expect("History").await;

    // Protect.
    ann.send(json!({"SetOTP": {"enabled": true}})).await;
    let to_ann = next_otp(&mut ann, Value::is_string).await;
    let to_bob = next_otp(&mut bob, Value::is_string).await;
    assert_eq!(to_ann, to_bob);
    let first = to_ann["OTP"]["otp"].as_str().unwrap().to_owned();
    assert!(is_otp(&first), "{first}");
    assert_eq!(
        to_ann,
        json!({"OTP": {"otp": first, "user_id": ann_id, "user_name": "Ann"}})
    );

    // Both stay connected and keep editing together.
    bob.edit(1, 1, json!([5, "!"])).await;
    let h = ann.expect("History").await;
    assert_eq!(h["start"], 1);
    bob.expect("History").await;

    // New sockets and the text API need the OTP.
    assert_refused(&server, &id, None).await;
    assert_refused(&server, &id, Some(WRONG)).await;
    assert_refused(&server, &id, Some("")).await;
    let (_carl, snapshot) = join_with(&server, &id, Some(&first)).await;
    assert_eq!(snapshot["text"], "hello!");
    assert_eq!(
        server.text_with_otp(&id, None).await,
        (401, UNAUTHORIZED.to_owned())
    );
    assert_eq!(
        server.text_with_otp(&id, Some(WRONG)).await,
        (401, UNAUTHORIZED.to_owned())
    );
    assert_eq!(
        server.text_with_otp(&id, Some(&first)).await,
        (200, "hello!".to_owned())
    );

    // Rotate (by the other user): the old OTP stops working.
    bob.send(json!({"SetOTP": {"enabled": true}})).await;
    let to_bob = next_otp(&mut bob, |o| o.is_string() && o != first.as_str()).await;
    let to_ann = next_otp(&mut ann, |o| o.is_string() && o != first.as_str()).await;
    assert_eq!(to_ann, to_bob);
    let second = to_bob["OTP"]["otp"].as_str().unwrap().to_owned();
    assert!(is_otp(&second), "{second}");
    assert_ne!(first, second);
    assert_eq!(
        to_bob,
        json!({"OTP": {"otp": second, "user_id": bob_id, "user_name": "Bob"}})
    );
    assert_refused(&server, &id, Some(&first)).await;
    assert_eq!(server.text_with_otp(&id, Some(&first)).await.0, 401);
    let (_dora, snapshot) = join_with(&server, &id, Some(&second)).await;
    assert_eq!(snapshot["text"], "hello!");
    assert_eq!(server.text_with_otp(&id, Some(&second)).await.0, 200);

    // Unprotect: a null OTP for everyone, and anyone may join.
    ann.send(json!({"SetOTP": {"enabled": false}})).await;
    for c in [&mut ann, &mut bob] {
        let msg = next_otp(c, Value::is_null).await;
        assert_eq!(
            msg,
            json!({"OTP": {"otp": null, "user_id": ann_id, "user_name": "Ann"}})
        );
    }
    let (_eve, snapshot) = join_with(&server, &id, None).await;
    assert_eq!(snapshot["text"], "hello!");
    assert_eq!(server.text(&id).await, "hello!");

    // Everyone was connected throughout.
    ann.edit(2, 2, json!(["> ", 6])).await;
    ann.expect("History").await;
    bob.expect("History").await;
    assert_eq!(server.text(&id).await, "> hello!");
}

/// The HTTP API protects an unprotected document for anyone, but on a
/// protected document POST (rotate) and DELETE (unprotect) need the current
/// OTP: knowing the id alone must not let anyone take over or remove the
/// protection.
#[tokio::test]
async fn rest_protection_requires_the_current_otp() {
    let server = Server::start(&[("OTP_FAILURES_PER_MINUTE", "1000")]).await;
    let id = doc_id("otp-rest");
    let (mut watcher, _) = server.join_named(&id, None, "Ann").await;
    watcher.edit(0, 1, json!(["text"])).await;
    watcher.expect("History").await;

    let first = otp_of(&protect(&server, "POST", &id, None).await);
    let msg = next_otp(&mut watcher, Value::is_string).await;
    assert_eq!(
        msg,
        json!({"OTP": {"otp": first, "user_id": null, "user_name": null}})
    );

    // Without the current OTP: no rotation, no removal.
    for (method, otp) in [
        ("POST", None),
        ("POST", Some(WRONG)),
        ("DELETE", None),
        ("DELETE", Some(WRONG)),
    ] {
        assert_eq!(
            protect(&server, method, &id, otp).await,
            (401, UNAUTHORIZED.to_owned()),
            "{method} with {otp:?}"
        );
    }
    assert_refused(&server, &id, None).await;
    let (_c, _) = join_with(&server, &id, Some(&first)).await;

    // With it: rotate, then the old one is refused everywhere.
    let second = otp_of(&protect(&server, "POST", &id, Some(&first)).await);
    assert_ne!(first, second);
    let msg = next_otp(&mut watcher, |o| o.is_string() && o != first.as_str()).await;
    assert_eq!(msg["OTP"]["otp"], second.as_str());
    assert_eq!(protect(&server, "POST", &id, Some(&first)).await.0, 401);
    assert_eq!(protect(&server, "DELETE", &id, Some(&first)).await.0, 401);
    assert_refused(&server, &id, Some(&first)).await;

    // Unprotect with the current OTP: 204, a null OTP broadcast, open.
    assert_eq!(
        protect(&server, "DELETE", &id, Some(&second)).await,
        (204, String::new())
    );
    let msg = next_otp(&mut watcher, Value::is_null).await;
    assert_eq!(
        msg,
        json!({"OTP": {"otp": null, "user_id": null, "user_name": null}})
    );
    let (_d, snapshot) = join_with(&server, &id, None).await;
    assert_eq!(snapshot["text"], "text");
    assert_eq!(server.text(&id).await, "text");

    // A document nobody has opened can be protected too, and is then closed.
    let fresh = doc_id("otp-rest-fresh");
    let otp = otp_of(&protect(&server, "POST", &fresh, None).await);
    assert_refused(&server, &fresh, None).await;
    assert_eq!(server.text_with_otp(&fresh, None).await.0, 401);
    assert_eq!(
        server.text_with_otp(&fresh, Some(&otp)).await,
        (200, String::new())
    );
}

/// The dual check: for a protected document that is only in the database,
/// a wrong or missing OTP is refused from the database alone, before
/// anything is loaded (no document in memory, no load counted); the right
/// OTP then loads it, once.
#[tokio::test]
async fn a_cold_protected_document_is_checked_without_loading_it() {
    let mut server = Server::start(&[]).await;
    let id = doc_id("otp-cold");
    let mut c = server.join(&id).await;
    c.edit(0, 1, json!(["top secret"])).await;
    c.expect("History").await;
    c.send(json!({"SetOTP": {"enabled": true}})).await;
    let otp = next_otp(&mut c, Value::is_string).await["OTP"]["otp"]
        .as_str()
        .unwrap()
        .to_owned();
    c.close().await;
    assert_eq!(server.terminate().await.code(), Some(0));
    server.restart().await;

    assert_eq!(server.stat("num_documents").await, 0);
    assert_eq!(server.metric("tandem_document_loads_total").await, 0.0);
    assert_refused(&server, &id, None).await;
    assert_refused(&server, &id, Some(WRONG)).await;
    assert_eq!(
        server.text_with_otp(&id, Some(WRONG)).await,
        (401, UNAUTHORIZED.to_owned())
    );
    assert_eq!(protect(&server, "POST", &id, None).await.0, 401);
    assert_eq!(protect(&server, "DELETE", &id, Some(WRONG)).await.0, 401);
    // None of that brought the document into memory.
    assert_eq!(server.stat("num_documents").await, 0);
    assert_eq!(server.metric("tandem_document_loads_total").await, 0.0);
    assert_eq!(server.metric("tandem_unauthorized_total").await, 5.0);

    // The text API with the right OTP reads the database, still no load.
    assert_eq!(
        server.text_with_otp(&id, Some(&otp)).await,
        (200, "top secret".to_owned())
    );
    assert_eq!(server.stat("num_documents").await, 0);

    // The right OTP loads it, once.
    let (_c, snapshot) = join_with(&server, &id, Some(&otp)).await;
    assert_eq!(snapshot["text"], "top secret");
    assert_eq!(snapshot["revision"], 1);
    assert_eq!(server.stat("num_documents").await, 1);
    assert_eq!(server.metric("tandem_document_loads_total").await, 1.0);
    // Now that it is hot, the check happens in memory, with the same result.
    assert_refused(&server, &id, Some(WRONG)).await;
}

/// Every protection change is stored at once, before it is broadcast, even
/// when nothing else would be written for a long time: protecting, rotating
/// and unprotecting each survive a SIGKILL right after the broadcast (and
/// so does the text saved with the change).
#[tokio::test]
async fn protection_changes_survive_a_crash_right_after_them() {
    let mut server = Server::start(&[
        ("PERSIST_IDLE_SECONDS", "1000"),
        ("PERSIST_MAX_INTERVAL_SECONDS", "1000"),
    ])
    .await;
    let id = doc_id("otp-crash");

    // Protect right after an edit nothing else would save yet.
    let mut c = server.join(&id).await;
    c.edit(0, 1, json!(["hello"])).await;
    c.expect("History").await;
    assert_eq!(server.metric("tandem_persist_writes").await, 0.0);
    c.send(json!({"SetOTP": {"enabled": true}})).await;
    let first = next_otp(&mut c, Value::is_string).await["OTP"]["otp"]
        .as_str()
        .unwrap()
        .to_owned();
    server.kill().await;
    server.restart().await;
    assert_refused(&server, &id, None).await;
    assert_eq!(server.text_with_otp(&id, None).await.0, 401);
    assert_eq!(
        server.text_with_otp(&id, Some(&first)).await,
        (200, "hello".to_owned())
    );

    // Rotate, crash: the old OTP is refused, the new one opens it.
    let (mut c, _) = join_with(&server, &id, Some(&first)).await;
    c.send(json!({"SetOTP": {"enabled": true}})).await;
    let second = next_otp(&mut c, |o| o.is_string() && o != first.as_str()).await["OTP"]["otp"]
        .as_str()
        .unwrap()
        .to_owned();
    server.kill().await;
    server.restart().await;
    assert_refused(&server, &id, Some(&first)).await;
    let (mut c, snapshot) = join_with(&server, &id, Some(&second)).await;
    assert_eq!(snapshot["text"], "hello");

    // Unprotect, crash: open to anyone.
    c.send(json!({"SetOTP": {"enabled": false}})).await;
    next_otp(&mut c, Value::is_null).await;
    server.kill().await;
    server.restart().await;
    let (_c, snapshot) = join_with(&server, &id, None).await;
    assert_eq!(snapshot["text"], "hello");

    // The same through the HTTP API.
    let otp = otp_of(&protect(&server, "POST", &id, None).await);
    server.kill().await;
    server.restart().await;
    assert_refused(&server, &id, None).await;
    let (_c, _) = join_with(&server, &id, Some(&otp)).await;
}

/// The OTP is checked again when the client says `Hello`: a socket
/// admitted before the document was protected (or with an OTP rotated
/// since) is closed with 4401 `unauthorized`, while the others carry on.
#[tokio::test]
async fn an_otp_changed_between_upgrade_and_hello_closes_with_4401() {
    let server = Server::start(&[]).await;
    let id = doc_id("otp-4401");
    let mut owner = server.join(&id).await;
    // Admitted while unprotected, says Hello after protection.
    let mut late = server.connect(&id, None).await.expect("admitted");
    owner.send(json!({"SetOTP": {"enabled": true}})).await;
    let first = next_otp(&mut owner, Value::is_string).await["OTP"]["otp"]
        .as_str()
        .unwrap()
        .to_owned();
    late.send(json!({"Hello": {"client": late.key.clone()}}))
        .await;
    assert_eq!(late.closed().await, (4401, "unauthorized".to_owned()));

    // Admitted with the first OTP, says Hello after a rotation.
    let mut late = server.connect(&id, Some(&first)).await.expect("admitted");
    owner.send(json!({"SetOTP": {"enabled": true}})).await;
    next_otp(&mut owner, |o| o.is_string() && o != first.as_str()).await;
    late.send(json!({"Hello": {"client": late.key.clone()}}))
        .await;
    assert_eq!(late.closed().await, (4401, "unauthorized".to_owned()));

    // The owner is still connected.
    owner.edit(0, 1, json!(["still here"])).await;
    owner.expect("History").await;
}
