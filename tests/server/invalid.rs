//! Malformed input: every class of bad message ends the connection with the
//! close code and reason prefix docs/protocol.md gives for it, changes
//! nothing in the document, and is counted in `/metrics`; the refusals that
//! keep the connection open (`unexpected_hello`, `duplicate_edit`) do so;
//! a frame above the size limit is closed with 1009.

mod common;

use common::{barrier, doc_id, Client, Incoming, Server};
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame as RawFrame;
use tokio_tungstenite::tungstenite::Message;

/// What a case sends.
enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(&'static [u8]),
    /// A text frame whose payload is not valid UTF-8.
    BadUtf8(&'static [u8]),
}

/// One malformed-input case.
struct Case {
    /// What it is, for failure messages.
    name: &'static str,
    /// Whether a valid `Hello` goes first.
    hello: bool,
    /// The offending frame.
    frame: Frame,
    /// The expected close code.
    code: u16,
    /// The documented start of the close reason.
    reason: &'static str,
}

const MALFORMED: &str = "malformed message: ";
const DOES_NOT_APPLY: &str = "operation does not apply: ";
const OUT_OF_RANGE: &str = "revision out of range: ";

fn text(name: &'static str, s: &str, code: u16, reason: &'static str) -> Case {
    Case {
        name,
        hello: true,
        frame: Frame::Text(s.to_owned()),
        code,
        reason,
    }
}

/// An `Edit` at revision 1 (the document's current one) as edit 1 of a
/// fresh client, with `op` spliced in as raw JSON.
fn edit_op(name: &'static str, op: &str, code: u16, reason: &'static str) -> Case {
    text(
        name,
        &format!(r#"{{"Edit":{{"revision":1,"seq":1,"operation":{op}}}}}"#),
        code,
        reason,
    )
}

/// An `Edit` inserting "!" at the end of "hello", with `revision` spliced
/// in as raw JSON.
fn edit_revision(name: &'static str, revision: &str, code: u16, reason: &'static str) -> Case {
    text(
        name,
        &format!(r#"{{"Edit":{{"revision":{revision},"seq":1,"operation":[5,"!"]}}}}"#),
        code,
        reason,
    )
}

fn cases() -> Vec<Case> {
    vec![
        // Not JSON, or not one message object.
        text("not JSON", "nope", 4400, MALFORMED),
        text("empty text frame", "", 4400, MALFORMED),
        text("truncated JSON", r#"{"Edit":"#, 4400, MALFORMED),
        text("JSON array", "[1]", 4400, MALFORMED),
        text("JSON string", r#""Edit""#, 4400, MALFORMED),
        text("empty object", "{}", 4400, MALFORMED),
        text(
            "two message types in one object",
            r#"{"SetLanguage":"rust","ClientInfo":{"name":"a","hue":1}}"#,
            4400,
            MALFORMED,
        ),
        // Unknown message types.
        text("unknown type", r#"{"Bogus":1}"#, 4400, MALFORMED),
        // The reason quotes the name; it must still fit a close frame.
        text(
            "unknown type with a long non-ASCII name",
            &format!(r#"{{"{}":1}}"#, "É".repeat(200)),
            4400,
            MALFORMED,
        ),
        text(
            "type in the wrong case",
            r#"{"edit":{"revision":1,"seq":1,"operation":[5,"!"]}}"#,
            4400,
            MALFORMED,
        ),
        text(
            "server-to-client type",
            r#"{"History":{"start":0,"operations":[]}}"#,
            4400,
            MALFORMED,
        ),
        // Wrong field types and missing fields.
        text(
            "revision as a string",
            r#"{"Edit":{"revision":"1","seq":1,"operation":[5,"!"]}}"#,
            4400,
            MALFORMED,
        ),
        text(
            "seq as a string",
            r#"{"Edit":{"revision":1,"seq":"1","operation":[5,"!"]}}"#,
            4400,
            MALFORMED,
        ),
        text(
            "seq missing",
            r#"{"Edit":{"revision":1,"operation":[5,"!"]}}"#,
            4400,
            MALFORMED,
        ),
        text(
            "revision missing",
            r#"{"Edit":{"seq":1,"operation":[5,"!"]}}"#,
            4400,
            MALFORMED,
        ),
        text(
            "SetLanguage not a string",
            r#"{"SetLanguage":5}"#,
            4400,
            MALFORMED,
        ),
        text(
            "hue as a string",
            r#"{"ClientInfo":{"name":"a","hue":"red"}}"#,
            4400,
            MALFORMED,
        ),
        // (An integer hue out of range, negative included, is an Error
        // that keeps the connection: tests/server/users.rs.)
        text(
            "fractional hue",
            r#"{"ClientInfo":{"name":"a","hue":1.5}}"#,
            4400,
            MALFORMED,
        ),
        text(
            "fractional negative hue",
            r#"{"ClientInfo":{"name":"a","hue":-1.5}}"#,
            4400,
            MALFORMED,
        ),
        text(
            "name missing",
            r#"{"ClientInfo":{"hue":1}}"#,
            4400,
            MALFORMED,
        ),
        text(
            "cursors not an array",
            r#"{"CursorData":{"cursors":"4","selections":[]}}"#,
            4400,
            MALFORMED,
        ),
        text(
            "selection of three numbers",
            r#"{"CursorData":{"cursors":[],"selections":[[1,2,3]]}}"#,
            4400,
            MALFORMED,
        ),
        text(
            "fractional cursor",
            r#"{"CursorData":{"cursors":[1.5],"selections":[]}}"#,
            4400,
            MALFORMED,
        ),
        // (A negative integer position is an Error that keeps the
        // connection: tests/server/users.rs.)
        text(
            "fractional negative selection end",
            r#"{"CursorData":{"cursors":[],"selections":[[0,-1.5]]}}"#,
            4400,
            MALFORMED,
        ),
        text(
            "SetOTP enabled as a string",
            r#"{"SetOTP":{"enabled":"yes"}}"#,
            4400,
            MALFORMED,
        ),
        // Revisions that are not non-negative 64-bit integers.
        edit_revision("negative revision", "-1", 4400, MALFORMED),
        edit_revision("fractional revision", "1.5", 4400, MALFORMED),
        edit_revision(
            "revision beyond 64 bits",
            "18446744073709551616",
            4400,
            MALFORMED,
        ),
        edit_revision("null revision", "null", 4400, MALFORMED),
        // Revisions the server does not have.
        edit_revision("revision ahead by one", "2", 4409, OUT_OF_RANGE),
        edit_revision(
            "largest 64-bit revision",
            "18446744073709551615",
            4409,
            OUT_OF_RANGE,
        ),
        // Malformed operations.
        edit_op("zero component", "[0]", 4400, MALFORMED),
        edit_op(
            "zero among valid components",
            r#"[5,0,"!"]"#,
            4400,
            MALFORMED,
        ),
        edit_op("fractional component", "[1.5]", 4400, MALFORMED),
        edit_op("empty string component", r#"[5,""]"#, 4400, MALFORMED),
        edit_op("null component", "[null]", 4400, MALFORMED),
        edit_op("boolean component", "[true]", 4400, MALFORMED),
        edit_op("nested array", "[[5]]", 4400, MALFORMED),
        edit_op("object component", r#"[{"retain":5}]"#, 4400, MALFORMED),
        edit_op("retain above 2^32-1", "[4294967296]", 4400, MALFORMED),
        edit_op("delete above 2^32-1", "[-4294967296]", 4400, MALFORMED),
        edit_op(
            "retain beyond 64 bits",
            "[18446744073709551616]",
            4400,
            MALFORMED,
        ),
        edit_op(
            "total length above 2^32-1",
            "[4294967295,1]",
            4400,
            MALFORMED,
        ),
        edit_op("operation as a string", r#""hello!""#, 4400, MALFORMED),
        edit_op("operation as an object", r#"{"retain":5}"#, 4400, MALFORMED),
        edit_op("operation null", "null", 4400, MALFORMED),
        // Well-formed operations that do not fit "hello" (5 code points).
        edit_op("retain too short", "[4]", 4422, DOES_NOT_APPLY),
        edit_op("retain too long", "[6]", 4422, DOES_NOT_APPLY),
        edit_op("insert only", r#"["x"]"#, 4422, DOES_NOT_APPLY),
        edit_op("empty operation", "[]", 4422, DOES_NOT_APPLY),
        edit_op("delete past the end", "[5,-1]", 4422, DOES_NOT_APPLY),
        edit_op(
            "retain at the 2^32-1 bound",
            "[4294967295]",
            4422,
            DOES_NOT_APPLY,
        ),
        // Binary frames, after and before Hello.
        Case {
            name: "binary frame",
            hello: true,
            frame: Frame::Binary(br#"{"SetLanguage":"rust"}"#),
            code: 4400,
            reason: "malformed message: binary frames are not accepted",
        },
        Case {
            name: "binary frame before Hello",
            hello: false,
            frame: Frame::Binary(b"\x00\x01"),
            code: 4400,
            reason: MALFORMED,
        },
        // Text frames that are not UTF-8 cannot be JSON.
        Case {
            name: "text frame with invalid UTF-8",
            hello: true,
            frame: Frame::BadUtf8(b"{\"SetLanguage\":\"\xff\xfe\"}"),
            code: 4400,
            reason: MALFORMED,
        },
        Case {
            name: "text frame with invalid UTF-8 before Hello",
            hello: false,
            frame: Frame::BadUtf8(b"\xc3\x28"),
            code: 4400,
            reason: MALFORMED,
        },
        // Anything before Hello.
        Case {
            name: "edit before Hello",
            hello: false,
            frame: Frame::Text(r#"{"Edit":{"revision":1,"seq":1,"operation":[5,"!"]}}"#.into()),
            code: 4400,
            reason: "malformed message: the first message must be Hello",
        },
        Case {
            name: "not JSON before Hello",
            hello: false,
            frame: Frame::Text("hello?".into()),
            code: 4400,
            reason: MALFORMED,
        },
    ]
}

/// A document holding "hello" at revision 1, and the client that wrote
/// it (still connected, to watch what is broadcast).
async fn hello_document(server: &Server) -> (String, Client) {
    let id = doc_id("invalid");
    let mut w = server.join(&id).await;
    w.edit(0, 1, json!(["hello"])).await;
    w.expect("History").await;
    barrier(&mut w).await;
    (id, w)
}

/// Checks that the document is still "hello" at revision 1, by HTTP and
/// by a fresh join's snapshot.
async fn assert_unchanged(server: &Server, id: &str, what: &str) {
    assert_eq!(server.text(id).await, "hello", "after {what}");
    let mut c = server.connect(id, None).await.unwrap();
    assert_eq!(
        common::sans_epoch(&c.hello(None).await),
        json!({"Snapshot": {"revision": 1, "text": "hello", "last_seq": 0}}),
        "after {what}"
    );
    c.close().await;
}

/// Runs one case on its own document; returns what went wrong, if
/// anything.
async fn run(server: &Server, case: &Case) -> Option<String> {
    let (id, mut watcher) = hello_document(server).await;
    let mut c = server.connect(&id, None).await.unwrap();
    if case.hello {
        c.hello(None).await;
    }
    match &case.frame {
        Frame::Text(s) => c.send_text(s).await,
        Frame::Binary(b) => {
            c.ws.send(Message::binary(b.to_vec()))
                .await
                .expect("send binary")
        }
        Frame::BadUtf8(b) => {
            let frame = RawFrame::message(b.to_vec(), OpCode::Data(Data::Text), true);
            c.ws.send(Message::Frame(frame))
                .await
                .expect("send raw text frame")
        }
    }
    if case.hello {
        // Answered with an Error if the connection is still open.
        c.send(json!({"SetLanguage": "no such language (barrier)"}))
            .await;
    }
    let mut got = Vec::new();
    let (code, reason) = loop {
        match c.next().await {
            Incoming::Closed(code, reason) => break (code, reason),
            Incoming::Json(v) if v["Error"]["code"] == "invalid_language" => {
                return Some(format!("not closed; received {got:?}"));
            }
            Incoming::Json(v) => got.push(v),
        }
    };
    if !case.hello && !got.is_empty() {
        return Some(format!("joined before closing: received {got:?}"));
    }
    if code != case.code || !reason.starts_with(case.reason) || reason.len() > 123 {
        return Some(format!(
            "closed {code} {reason:?}, expected {} {:?}…",
            case.code, case.reason
        ));
    }
    let text = server.text(&id).await;
    let mut fresh = server.connect(&id, None).await.unwrap();
    let snapshot = fresh.hello(None).await;
    if text != "hello" || snapshot["Snapshot"]["revision"] != 1 {
        return Some(format!("document changed: {text:?}, {snapshot}"));
    }
    let seen = barrier(&mut watcher).await;
    if seen.iter().any(|m| m.get("History").is_some()) {
        return Some(format!("history was broadcast: {seen:?}"));
    }
    None
}

/// Every malformed input class closes the connection with its documented
/// code and reason prefix, leaves the document's text and revision as they
/// were, broadcasts no history, and is counted in `/metrics` by reason.
#[tokio::test]
async fn malformed_input_closes_with_the_documented_code() {
    let server = Server::start(&[]).await;
    let cases = cases();
    let mut failures = Vec::new();
    for case in &cases {
        if let Some(why) = run(&server, case).await {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let count = |code| cases.iter().filter(|c| c.code == code).count() as f64;
    for (reason, code) in [
        ("malformed", 4400),
        ("does_not_apply", 4422),
        ("revision_out_of_range", 4409),
    ] {
        assert_eq!(
            server
                .metric(&format!("tandem_closes_total{{reason=\"{reason}\"}}"))
                .await,
            count(code),
            "{reason}"
        );
    }
    // Only the edits that set up each case's document were applied.
    assert_eq!(
        server.metric("tandem_edits_total").await,
        cases.len() as f64
    );
}

/// A valid client identity, for `Hello` cases.
const KEY: &str = "0123456789abcdef0123";

/// A case whose frame is sent instead of a valid `Hello`, expected to be
/// closed with 4400 (without joining).
fn before_hello(name: &'static str, s: String) -> Case {
    Case {
        name,
        hello: false,
        frame: Frame::Text(s),
        code: 4400,
        reason: MALFORMED,
    }
}

/// Message bodies are JSON objects with the documented field names: the
/// same values given as an array (which a lenient decoder maps onto the
/// fields by position) are malformed, and nothing is applied — `Hello`
/// and its `info` included (closed before joining).
#[tokio::test]
async fn message_bodies_given_as_arrays_are_malformed() {
    let server = Server::start(&[]).await;
    let mut failures = Vec::new();
    for case in [
        text(
            "Edit as an array",
            r#"{"Edit":[1,1,[5,"!"]]}"#,
            4400,
            MALFORMED,
        ),
        text(
            "ClientInfo as an array",
            r#"{"ClientInfo":["Ann",120]}"#,
            4400,
            MALFORMED,
        ),
        text(
            "SetOTP as an array",
            r#"{"SetOTP":[false]}"#,
            4400,
            MALFORMED,
        ),
        text(
            "SetOTP enabling, as an array",
            r#"{"SetOTP":[true]}"#,
            4400,
            MALFORMED,
        ),
        text(
            "CursorData as an array",
            r#"{"CursorData":[[1],[[0,2]]]}"#,
            4400,
            MALFORMED,
        ),
        before_hello("Hello as an array", format!(r#"{{"Hello":["{KEY}"]}}"#)),
        before_hello(
            "Hello as an array with a revision",
            format!(r#"{{"Hello":["{KEY}",1]}}"#),
        ),
        before_hello(
            "Hello.info as an array",
            format!(r#"{{"Hello":{{"client":"{KEY}","revision":null,"info":["Ann",120]}}}}"#),
        ),
    ] {
        if let Some(why) = run(&server, &case).await {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A second `Hello` gets `{"Error":{"code":"unexpected_hello",…}}` and the
/// connection carries on: its identity is unchanged and it can still edit.
#[tokio::test]
async fn a_second_hello_is_an_error_not_a_close() {
    let server = Server::start(&[]).await;
    let (id, _w) = hello_document(&server).await;
    let mut c = server.connect(&id, None).await.unwrap();
    c.hello(None).await;
    barrier(&mut c).await;
    let key = c.key.clone();
    c.send(json!({"Hello": {"client": key, "revision": 0}}))
        .await;
    let err = c.recv().await;
    assert_eq!(err["Error"]["code"], "unexpected_hello", "{err}");
    assert!(err["Error"]["message"].is_string());
    // No second identity or catch-up followed.
    assert_eq!(barrier(&mut c).await, Vec::<Value>::new());
    c.edit(1, 1, json!([5, "!"])).await;
    assert_eq!(
        c.expect("History").await,
        json!({"start": 1, "operations": [{"id": c.user, "operation": [5, "!"]}]})
    );
    assert_eq!(server.text(&id).await, "hello!");
    assert_eq!(
        server
            .metric("tandem_errors_total{code=\"unexpected_hello\"}")
            .await,
        1.0
    );
}

/// An edit whose `seq` is not above the last applied one — the same
/// number again, or a lower one — gets `{"Error":{"code":"duplicate_edit",…}}`
/// and is not applied again; the connection continues.
#[tokio::test]
async fn a_duplicate_seq_is_an_error_and_not_applied_twice() {
    let server = Server::start(&[]).await;
    let (id, mut w) = hello_document(&server).await;
    let mut c = server.join(&id).await;
    barrier(&mut c).await;
    barrier(&mut w).await;
    c.edit(1, 1, json!([5, "!"])).await;
    c.expect("History").await;
    c.edit(2, 2, json!([6, "?"])).await;
    c.expect("History").await;
    assert_eq!(server.text(&id).await, "hello!?");

    for (revision, seq, op) in [
        (1, 1, json!([5, "!"])), // resent as is
        (3, 2, json!([7, "?"])), // same seq, rebased
        (3, 1, json!([7, "x"])), // an older seq
        (3, 0, json!([7, "x"])), // 0 is never above the last applied
    ] {
        c.edit(revision, seq, op).await;
        let err = c.recv().await;
        assert_eq!(err["Error"]["code"], "duplicate_edit", "{err}");
        assert!(err["Error"]["message"].is_string());
    }
    assert_eq!(server.text(&id).await, "hello!?");
    let applied: usize = barrier(&mut w)
        .await
        .iter()
        .filter_map(|m| m["History"]["operations"].as_array())
        .map(Vec::len)
        .sum();
    assert_eq!(applied, 2, "only the two applied edits");
    // A fresh seq is applied.
    c.edit(3, 3, json!([7, "."])).await;
    assert_eq!(c.expect("History").await["start"], 3);
    assert_eq!(server.text(&id).await, "hello!?.");
    assert_eq!(
        server
            .metric("tandem_errors_total{code=\"duplicate_edit\"}")
            .await,
        4.0
    );
}

/// With `MAX_DOCUMENT_SIZE_KB=1` the frame limit is 6 × 1024 + 65 536 =
/// 71 680 bytes: a frame of exactly that size is read (and refused for the
/// document size, 4413), one byte more is closed with 1009 "message too
/// large"; nothing is applied either way.
#[tokio::test]
async fn a_frame_above_the_limit_is_closed_with_1009() {
    let server = Server::start(&[("MAX_DOCUMENT_SIZE_KB", "1")]).await;
    let (id, _w) = hello_document(&server).await;
    const LIMIT: usize = 6 * 1024 + 64 * 1024;
    let frame = |len: usize| {
        let head = r#"{"Edit":{"revision":1,"seq":1,"operation":[5,""#;
        let tail = r#""]}}"#;
        let s = format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()));
        assert_eq!(s.len(), len);
        s
    };

    let mut c = server.join(&id).await;
    c.send_text(&frame(LIMIT)).await;
    let (code, reason) = c.closed().await;
    assert_eq!(code, 4413, "{reason}");
    assert!(reason.starts_with("document too large: "), "{reason}");
    assert_unchanged(&server, &id, "a frame at the limit").await;

    let mut c = server.join(&id).await;
    c.send_text(&frame(LIMIT + 1)).await;
    let (code, reason) = c.closed().await;
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.starts_with("message too large"), "{reason}");
    assert_unchanged(&server, &id, "a frame above the limit").await;
    assert_eq!(
        server
            .metric("tandem_closes_total{reason=\"message_too_large\"}")
            .await,
        1.0
    );
}
