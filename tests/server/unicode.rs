//! Unicode: positions and lengths count code points (not bytes, not UTF-16
//! units, not grapheme clusters) in edits and cursors; astral characters,
//! ZWJ sequences, combining marks and CJK pass unchanged through history,
//! snapshots and `/api/text`.

mod common;

use common::{barrier, doc_id, hello_with, Client, Server};
use serde_json::json;

/// A family emoji: three astral code points joined by two ZWJs (5 code
/// points, 8 UTF-16 units, 18 bytes).
const FAMILY: &str = "👩\u{200d}👩\u{200d}👧";

/// Joins `id` as `name` (so that the others are told about it and its
/// cursor) and returns the client with its greeting consumed.
async fn joined(server: &Server, id: &str, name: &str) -> Client {
    let mut c = server.connect(id, None).await.unwrap();
    hello_with(&mut c, None, json!({"name": name, "hue": 100})).await;
    barrier(&mut c).await;
    c
}

/// Sends `op` at `revision` as edit `seq` and checks the acknowledgement
/// echoes it unchanged.
async fn edit_acked(c: &mut Client, revision: u64, seq: u64, op: serde_json::Value) {
    c.edit(revision, seq, op.clone()).await;
    assert_eq!(
        c.expect("History").await,
        json!({"start": revision, "operations": [{"id": c.user, "operation": op}]})
    );
}

/// An astral character is one position: retaining 1 past "😀" and
/// inserting lands after it; deleting 1 removes it whole; an operation
/// that counts it as two (UTF-16) does not apply.
#[tokio::test]
async fn an_astral_character_is_one_position() {
    let server = Server::start(&[]).await;
    let id = doc_id("astral");
    let mut a = joined(&server, &id, "Ann").await;
    edit_acked(&mut a, 0, 1, json!(["😀"])).await;
    edit_acked(&mut a, 1, 2, json!([1, "x"])).await;
    assert_eq!(server.text(&id).await, "😀x");
    edit_acked(&mut a, 2, 3, json!(["a", 1, "😀", 1, "b"])).await;
    assert_eq!(server.text(&id).await, "a😀😀xb");
    edit_acked(&mut a, 3, 4, json!([1, -1, 3])).await;
    assert_eq!(server.text(&id).await, "a😀xb");

    let mut fresh = server.connect(&id, None).await.unwrap();
    assert_eq!(
        common::sans_epoch(&fresh.hello(None).await),
        json!({"Snapshot": {"revision": 4, "text": "a😀xb", "last_seq": 0}})
    );
    // "a😀xb" is 4 code points but 5 UTF-16 units.
    fresh.edit(4, 1, json!([5, "!"])).await;
    let (code, reason) = fresh.closed().await;
    assert_eq!(code, 4422);
    assert!(reason.starts_with("operation does not apply: "), "{reason}");
    assert_eq!(server.text(&id).await, "a😀xb");
}

/// ZWJ sequences, combining marks and CJK are counted code point by code
/// point: one can insert inside an emoji sequence or delete a combining
/// mark alone, and the text round-trips byte for byte through `History`,
/// snapshots and `/api/text`.
#[tokio::test]
async fn zwj_sequences_combining_marks_and_cjk_count_code_points() {
    let server = Server::start(&[]).await;
    let id = doc_id("graphemes");
    let mut a = joined(&server, &id, "Ann").await;
    let mut b = joined(&server, &id, "Bob").await;
    let text = format!("{FAMILY}e\u{301}漢字");
    assert_eq!(text.chars().count(), 9);
    a.edit(0, 1, json!([text])).await;
    let expected = json!({"History": {"start": 0, "operations": [{"id": 1, "operation": [text]}]}});
    assert_eq!(b.recv().await, expected);
    // (a was also told that b joined.)
    assert_eq!(a.expect("History").await, expected["History"]);
    assert_eq!(server.text(&id).await, text);

    // Delete the combining acute accent (position 6) alone.
    edit_acked(&mut a, 1, 2, json!([6, -1, 2])).await;
    assert_eq!(server.text(&id).await, format!("{FAMILY}e漢字"));
    // Insert between the second woman and its ZWJ (position 3).
    edit_acked(&mut a, 2, 3, json!([3, "X", 5])).await;
    let expected_text = "👩\u{200d}👩X\u{200d}👧e漢字";
    assert_eq!(server.text(&id).await, expected_text);
    // Replace the CJK pair, at the end, with other CJK.
    edit_acked(&mut a, 3, 4, json!([7, "中文", -2])).await;
    let expected_text = "👩\u{200d}👩X\u{200d}👧e中文";
    assert_eq!(server.text(&id).await, expected_text);
    assert_eq!(b.expect("History").await["start"], 1);

    let mut fresh = server.connect(&id, None).await.unwrap();
    assert_eq!(
        common::sans_epoch(&fresh.hello(None).await),
        json!({"Snapshot": {"revision": 4, "text": expected_text, "last_seq": 0}})
    );
}

/// JSON escapes are decoded before counting: an escaped surrogate pair is
/// one astral code point; a lone surrogate is not a code point at all and
/// is refused as malformed, without changing the document.
#[tokio::test]
async fn escaped_surrogates_are_decoded_and_lone_ones_refused() {
    let server = Server::start(&[]).await;
    let id = doc_id("surrogates");
    let mut a = joined(&server, &id, "Ann").await;
    a.send_text(r#"{"Edit":{"revision":0,"seq":1,"operation":["\ud83d\ude00"]}}"#)
        .await;
    assert_eq!(
        a.expect("History").await,
        json!({"start": 0, "operations": [{"id": 1, "operation": ["😀"]}]})
    );
    a.send_text(r#"{"Edit":{"revision":1,"seq":2,"operation":[1,"\u00e9"]}}"#)
        .await;
    a.expect("History").await;
    assert_eq!(server.text(&id).await, "😀é");

    a.send_text(r#"{"Edit":{"revision":2,"seq":3,"operation":[2,"\ud800"]}}"#)
        .await;
    let (code, reason) = a.closed().await;
    assert_eq!(code, 4400);
    assert!(reason.starts_with("malformed message: "), "{reason}");
    assert_eq!(server.text(&id).await, "😀é");
}

/// Cursor positions count code points: on "😀😀ab" (4 code points, 6
/// UTF-16 units) position 4 is the end and 5 is refused; a cursor is
/// relayed as sent, and an insert of a ZWJ sequence before it moves it by
/// 5, as a later joiner's replay shows.
#[tokio::test]
async fn cursors_count_code_points_and_move_past_astral_inserts() {
    let server = Server::start(&[]).await;
    let id = doc_id("cursors");
    let mut a = joined(&server, &id, "Ann").await;
    let mut b = joined(&server, &id, "Bob").await;
    edit_acked(&mut a, 0, 1, json!(["😀😀ab"])).await;
    b.expect("History").await;

    a.send(json!({"CursorData": {"cursors": [5], "selections": []}}))
        .await;
    let err = a.expect("Error").await;
    assert_eq!(err["code"], "invalid_cursor");
    a.send(json!({"CursorData": {"cursors": [4], "selections": [[0, 5]]}}))
        .await;
    assert_eq!(a.expect("Error").await["code"], "invalid_cursor");

    a.send(json!({"CursorData": {"cursors": [2, 4], "selections": [[1, 3]]}}))
        .await;
    assert_eq!(
        b.recv_until(|v| v.get("UserCursor").is_some()).await,
        json!({"UserCursor": {"id": 1, "data": {"cursors": [2, 4], "selections": [[1, 3]]}}})
    );

    // b inserts the family emoji at 0: every position moves by 5.
    b.edit(1, 1, json!([FAMILY, 4])).await;
    b.expect("History").await;
    let mut c = server.connect(&id, None).await.unwrap();
    c.hello(None).await;
    let greeting = barrier(&mut c).await;
    assert!(
        greeting.contains(
            &json!({"UserCursor": {"id": 1, "data": {"cursors": [7, 9], "selections": [[6, 8]]}}})
        ),
        "{greeting:?}"
    );
    // A cursor given at revision 1 is moved through the insert too.
    a.send(json!({"CursorData": {"cursors": [1], "selections": [], "revision": 1}}))
        .await;
    assert_eq!(
        b.recv_until(|v| v.get("UserCursor").is_some()).await,
        json!({"UserCursor": {"id": 1, "data": {"cursors": [6], "selections": []}}})
    );
}
