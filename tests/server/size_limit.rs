//! The document size limit, `MAX_DOCUMENT_SIZE_KB` (here 1, so 1024
//! bytes): counted in bytes of UTF-8, not code points; an edit that would
//! exceed it and grows the document closes its connection with 4413 and is
//! not applied, while other clients carry on; edits up to exactly the
//! limit, and edits that shrink a document at the limit, are accepted; and
//! a document already over a limit that was lowered can still be edited as
//! long as an edit does not grow it.

mod common;

use common::{barrier, doc_id, hello_with, Client, Server};
use serde_json::{json, Value};

const LIMIT: &str = "1";

/// A server with a 1 KiB limit and two clients (with names, so that each
/// is told about the other) on a fresh document, with greetings consumed.
async fn setup() -> (Server, String, Client, Client) {
    let server = Server::start(&[("MAX_DOCUMENT_SIZE_KB", LIMIT)]).await;
    let id = doc_id("size");
    let mut a = named(&server, &id, "Ann").await;
    let mut b = named(&server, &id, "Bob").await;
    barrier(&mut a).await;
    barrier(&mut b).await;
    (server, id, a, b)
}

/// Joins `id` as `name`, with the greeting consumed.
async fn named(server: &Server, id: &str, name: &str) -> Client {
    let mut c = server.connect(id, None).await.unwrap();
    hello_with(&mut c, None, json!({"name": name, "hue": 30})).await;
    barrier(&mut c).await;
    c
}

/// Sends an edit and checks that it is acknowledged at `revision`.
async fn accepted(c: &mut Client, revision: u64, seq: u64, op: Value) {
    c.edit(revision, seq, op.clone()).await;
    assert_eq!(
        c.expect("History").await,
        json!({"start": revision, "operations": [{"id": c.user, "operation": op}]})
    );
}

/// Sends an edit and checks that the connection is closed with 4413.
async fn refused(c: &mut Client, revision: u64, seq: u64, op: Value) {
    c.edit(revision, seq, op).await;
    let (code, reason) = c.closed().await;
    assert_eq!(code, 4413, "{reason}");
    assert!(reason.starts_with("document too large: "), "{reason}");
    assert!(reason.len() <= 123);
}

/// 400 × "é" is 800 bytes (400 code points) and fits; 300 more "é" would
/// make 1400 bytes: closed with 4413, the text is unchanged, and the other
/// client stays connected, sees no history for the refused edit, and can
/// still edit.
#[tokio::test]
async fn an_edit_past_the_limit_is_refused_with_4413() {
    let (server, id, mut a, mut b) = setup().await;
    let e400 = "é".repeat(400);
    accepted(&mut a, 0, 1, json!([e400])).await;
    assert_eq!(b.expect("History").await["start"], 0);

    refused(&mut a, 1, 2, json!([400, "é".repeat(300)])).await;
    assert_eq!(server.text(&id).await, e400);

    // b was only told that a left; it can still edit.
    assert_eq!(
        barrier(&mut b).await,
        vec![json!({"UserInfo": {"id": 1, "info": null}})]
    );
    accepted(&mut b, 1, 1, json!([400, "ok"])).await;
    assert_eq!(server.text(&id).await, format!("{e400}ok"));
    assert_eq!(
        server
            .metric("tandem_closes_total{reason=\"document_too_large\"}")
            .await,
        1.0
    );
    // a can come back with the same identity: its refused edit 2 was
    // never applied.
    let mut a2 = server.connect(&id, None).await.unwrap();
    a2.key = a.key.clone();
    assert_eq!(
        common::sans_epoch(&a2.hello(None).await),
        json!({"Snapshot": {"revision": 2, "text": format!("{e400}ok"), "last_seq": 1}})
    );
}

/// The limit counts bytes: 400 "é" + 224 "a" is exactly 1024 bytes (624
/// code points) and is accepted; one more ASCII byte is refused.
#[tokio::test]
async fn the_limit_counts_utf8_bytes_and_is_inclusive() {
    let (server, id, mut a, _b) = setup().await;
    accepted(&mut a, 0, 1, json!(["é".repeat(400)])).await;
    accepted(&mut a, 1, 2, json!([400, "a".repeat(224)])).await;
    let full = format!("{}{}", "é".repeat(400), "a".repeat(224));
    assert_eq!(server.text(&id).await.len(), 1024);
    refused(&mut a, 2, 3, json!([624, "a"])).await;
    assert_eq!(server.text(&id).await, full);
}

/// Astral characters count four bytes: 256 × "😀" is exactly the limit;
/// any insert on top is refused.
#[tokio::test]
async fn astral_characters_count_four_bytes() {
    let (server, id, mut a, _b) = setup().await;
    accepted(&mut a, 0, 1, json!(["😀".repeat(200)])).await;
    accepted(&mut a, 1, 2, json!(["😀".repeat(56), 200])).await;
    assert_eq!(server.text(&id).await, "😀".repeat(256));
    refused(&mut a, 2, 3, json!([128, "x", 128])).await;
    assert_eq!(server.text(&id).await, "😀".repeat(256));
}

/// At exactly the limit, an edit that shrinks the document is accepted,
/// as is one that replaces text with text of the same byte length; one that
/// replaces a one-byte character with a two-byte one is refused.
#[tokio::test]
async fn edits_that_do_not_grow_an_at_limit_document_are_accepted() {
    let (server, id, mut a, mut b) = setup().await;
    accepted(&mut a, 0, 1, json!(["é".repeat(512)])).await;
    assert_eq!(server.text(&id).await.len(), 1024);
    // Delete one "é": 1022 bytes.
    accepted(&mut a, 1, 2, json!([-1, 511])).await;
    // Back to 1024 with two ASCII letters.
    accepted(&mut a, 2, 3, json!([511, "ab"])).await;
    // Replace "é" (2 bytes) by "cd" (2 bytes): still 1024.
    accepted(&mut a, 3, 4, json!(["cd", -1, 512])).await;
    assert_eq!(server.text(&id).await.len(), 1024);
    // Replace "a" (1 byte) by "é" (2 bytes): 1025.
    refused(&mut a, 4, 5, json!([512, "é", -1, 1])).await;
    let text = format!("cd{}ab", "é".repeat(510));
    assert_eq!(server.text(&id).await, text);
    // The other client shrinks it a lot.
    barrier(&mut b).await;
    accepted(&mut b, 4, 1, json!([2, -510, 2])).await;
    assert_eq!(server.text(&id).await, "cdab");
}

/// When the limit is lowered (2 KiB, then 1 KiB after a restart) below the
/// size of a stored document (1536 bytes), the document stays editable by
/// edits that do not grow it: a delete, a same-size replacement, a no-op
/// and a replacement that is smaller in bytes although it inserts a
/// multibyte character are all accepted while it is still over the limit;
/// any edit that grows it — by one byte, or by inserting at the end — is
/// refused with 4413 and not applied.
#[tokio::test]
async fn a_document_over_a_lowered_limit_accepts_edits_that_do_not_grow_it() {
    let mut server = Server::start(&[("MAX_DOCUMENT_SIZE_KB", "2")]).await;
    let id = doc_id("lowered");
    let mut a = named(&server, &id, "Ann").await;
    let full = "a".repeat(1536);
    accepted(&mut a, 0, 1, json!([full])).await;
    a.close().await;
    let status = server.terminate().await;
    assert!(status.success(), "{status:?}");
    server
        .restart_with(&[("MAX_DOCUMENT_SIZE_KB", LIMIT)])
        .await;

    let mut a = server.connect(&id, None).await.unwrap();
    assert_eq!(
        common::sans_epoch(&hello_with(&mut a, None, json!({"name": "Ann", "hue": 30})).await),
        json!({"Snapshot": {"revision": 1, "text": full, "last_seq": 0}})
    );
    barrier(&mut a).await;
    let mut b = named(&server, &id, "Bob").await;
    // Delete 10 bytes: 1526, still over 1024.
    accepted(&mut a, 1, 1, json!([-10, 1526])).await;
    // Replace "a" with "b": same size.
    accepted(&mut a, 2, 2, json!(["b", -1, 1525])).await;
    // Change nothing.
    accepted(&mut a, 3, 3, json!([1526])).await;
    // Replace three bytes with the two of "é": 1525.
    accepted(&mut a, 4, 4, json!(["é", -3, 1523])).await;
    let text = format!("é{}", "a".repeat(1523));
    assert_eq!(server.text(&id).await, text);
    assert_eq!(text.len(), 1525);
    // Replace "a" (1 byte) with "é" (2 bytes): 1526, one byte more.
    refused(&mut a, 5, 5, json!([1, "é", -1, 1522])).await;
    assert_eq!(server.text(&id).await, text);

    // b shrinks it further (still over the limit), then tries to append.
    barrier(&mut b).await;
    accepted(&mut b, 5, 1, json!([-1, 1523])).await;
    refused(&mut b, 6, 2, json!([1523, "x"])).await;
    assert_eq!(server.text(&id).await, "a".repeat(1523));
    assert_eq!(
        server
            .metric("tandem_closes_total{reason=\"document_too_large\"}")
            .await,
        2.0
    );
}
