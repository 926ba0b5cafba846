//! Transformation: an edit based on an older revision is transformed
//! against every entry since, one at a time, and the exact transformed
//! operation is what every client receives. Concurrent inserts at one
//! position follow the documented tie-break (ot/src/transform.rs: the edit
//! that reaches the server later is placed first, to the left).
//!
//! Each scenario makes the order of arrival deterministic: the second
//! client reads the first client's entry before sending its own edit, still
//! based on the old revision, so its acknowledgement is a separate
//! `History` message.

mod common;

use common::{barrier, doc_id, Client, Server};
use serde_json::{json, Value};

/// Two clients on a document; the text `initial` inserted by `a` as
/// revision 0 (skipped when empty). Both have read everything.
async fn two_clients(server: &Server, initial: &str) -> (String, Client, Client) {
    let id = doc_id("transform");
    let mut a = server.join(&id).await;
    let mut b = server.join(&id).await;
    if !initial.is_empty() {
        a.edit(0, 1, json!([initial])).await;
        a.expect("History").await;
        b.expect("History").await;
    }
    // Drop the greetings and join notices.
    barrier(&mut a).await;
    barrier(&mut b).await;
    (id, a, b)
}

/// `a` sends `op_a` and `b` then sends `op_b`, both at `revision`; returns
/// the entry both clients receive for `b`'s transformed edit, after
/// checking that `a`'s entry is applied as sent and that both clients get
/// identical messages.
async fn race(a: &mut Client, b: &mut Client, revision: u64, op_a: Value, op_b: Value) -> Value {
    a.edit(revision, 2, op_a.clone()).await;
    let first =
        json!({"History": {"start": revision, "operations": [{"id": a.user, "operation": op_a}]}});
    assert_eq!(a.recv().await, first);
    assert_eq!(b.recv().await, first);
    b.edit(revision, 1, op_b).await;
    let second = b.recv().await;
    assert_eq!(a.recv().await, second);
    assert_eq!(second["History"]["start"], revision + 1, "{second}");
    let ops = second["History"]["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "{second}");
    assert_eq!(ops[0]["id"], json!(b.user));
    ops[0]["operation"].clone()
}

/// Both clients insert at position 0 of an empty document at revision 0:
/// the later edit ("b") is placed left of the earlier one ("a").
#[tokio::test]
async fn concurrent_inserts_at_the_same_position_put_the_later_edit_first() {
    let server = Server::start(&[]).await;
    let (id, mut a, mut b) = two_clients(&server, "").await;
    a.edit(0, 1, json!(["a"])).await;
    let first = json!({"History": {"start": 0, "operations": [{"id": 1, "operation": ["a"]}]}});
    assert_eq!(a.recv().await, first);
    assert_eq!(b.recv().await, first);
    b.edit(0, 1, json!(["b"])).await;
    let second = json!({"History": {"start": 1, "operations": [{"id": 2, "operation": ["b", 1]}]}});
    assert_eq!(b.recv().await, second);
    assert_eq!(a.recv().await, second);
    assert_eq!(server.text(&id).await, "ba");
}

/// The same tie-break in the middle of a text: both insert at 2 of
/// "abcd"; the later insert goes first.
#[tokio::test]
async fn concurrent_inserts_in_the_middle_put_the_later_edit_first() {
    let server = Server::start(&[]).await;
    let (id, mut a, mut b) = two_clients(&server, "abcd").await;
    let op = race(&mut a, &mut b, 1, json!([2, "XX", 2]), json!([2, "yy", 2])).await;
    assert_eq!(op, json!([2, "yy", 4]));
    assert_eq!(server.text(&id).await, "abyyXXcd");
}

/// Overlapping deletes delete the overlap once: on "abcdef", a deletes
/// "bcd" and b concurrently deletes "cde"; b's edit is reduced to deleting
/// "e".
#[tokio::test]
async fn overlapping_deletes_delete_the_overlap_once() {
    let server = Server::start(&[]).await;
    let (id, mut a, mut b) = two_clients(&server, "abcdef").await;
    let op = race(&mut a, &mut b, 1, json!([1, -3, 2]), json!([2, -3, 1])).await;
    assert_eq!(op, json!([1, -1, 1]));
    assert_eq!(server.text(&id).await, "af");
}

/// Identical concurrent deletes: the second becomes a no-op retain.
#[tokio::test]
async fn identical_deletes_become_a_no_op() {
    let server = Server::start(&[]).await;
    let (id, mut a, mut b) = two_clients(&server, "abcdef").await;
    let op = race(&mut a, &mut b, 1, json!([1, -2, 3]), json!([1, -2, 3])).await;
    assert_eq!(op, json!([4]));
    assert_eq!(server.text(&id).await, "adef");
}

/// A delete that reaches the server after an insert inside its range
/// deletes around the inserted text, which survives: "abcdef" with "X"
/// inserted at 3, then "bcde" deleted, gives "aXf".
#[tokio::test]
async fn a_later_delete_spares_an_insert_inside_its_range() {
    let server = Server::start(&[]).await;
    let (id, mut a, mut b) = two_clients(&server, "abcdef").await;
    let op = race(&mut a, &mut b, 1, json!([3, "X", 3]), json!([1, -4, 1])).await;
    assert_eq!(op, json!([1, -2, 1, -2, 1]));
    assert_eq!(server.text(&id).await, "aXf");
}

/// The other order: an insert inside a range that was deleted meanwhile
/// lands where the range was.
#[tokio::test]
async fn a_later_insert_inside_a_deleted_range_lands_at_its_start() {
    let server = Server::start(&[]).await;
    let (id, mut a, mut b) = two_clients(&server, "abcdef").await;
    let op = race(&mut a, &mut b, 1, json!([1, -4, 1]), json!([3, "X", 3])).await;
    assert_eq!(op, json!([1, "X", 1]));
    assert_eq!(server.text(&id).await, "aXf");
}

/// An edit based on an old revision is transformed against every entry
/// since, in order: b's insert of "E" after the "h" of "hello" at
/// revision 1 meets an append, a prepend and the deletion of "hello".
#[tokio::test]
async fn an_old_edit_is_transformed_against_several_entries() {
    let server = Server::start(&[]).await;
    let (id, mut a, mut b) = two_clients(&server, "hello").await;
    let entries = [
        json!([5, " world"]), // rev 1: "hello world"
        json!(["> ", 11]),    // rev 2: "> hello world"
        json!([2, -5, 6]),    // rev 3: ">  world"
    ];
    for (i, op) in entries.iter().enumerate() {
        a.edit(1 + i as u64, 2 + i as u64, op.clone()).await;
    }
    let mut seen = 0;
    while seen < entries.len() {
        let h = b.expect("History").await;
        seen += h["operations"].as_array().unwrap().len();
    }
    assert_eq!(server.text(&id).await, ">  world");
    b.edit(1, 1, json!([1, "E", 4])).await;
    let expected =
        json!({"History": {"start": 4, "operations": [{"id": 2, "operation": [2, "E", 6]}]}});
    assert_eq!(b.recv().await, expected);
    assert_eq!(a.recv_until(|v| v["History"]["start"] == 4).await, expected);
    assert_eq!(server.text(&id).await, "> E world");
}

/// A stale edit is checked against the text at its own revision: one whose
/// length fits the *current* text but not its stated revision is refused
/// with 4422 and nothing is applied.
#[tokio::test]
async fn a_stale_edit_is_checked_against_its_own_revision() {
    let server = Server::start(&[]).await;
    let (id, mut a, mut b) = two_clients(&server, "abc").await;
    a.edit(1, 2, json!([3, "def"])).await;
    a.expect("History").await;
    b.expect("History").await;
    // 6 code points is the current length, not the length at revision 1.
    b.edit(1, 1, json!([6, "!"])).await;
    let (code, reason) = b.closed().await;
    assert_eq!(code, 4422);
    assert!(reason.starts_with("operation does not apply: "), "{reason}");
    assert_eq!(server.text(&id).await, "abcdef");
}
