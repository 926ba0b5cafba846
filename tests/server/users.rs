//! Users and cursors: `ClientInfo` and `Hello.info` announce a user to the
//! others as `UserInfo`; a user is announced only once it has a name (a
//! nameless user is invisible: no `UserInfo`, no `UserCursor`, nothing when
//! it leaves, until its `ClientInfo` brings its `UserInfo` and then its
//! current cursor); joiners are told who is present (with cursors);
//! leaving is announced with `"info":null`; `CursorData` is relayed as
//! `UserCursor`, moved by later edits, and coalesced to the latest for a
//! slow reader; invalid names, hues and cursors get their `Error`s.

mod common;

use common::{barrier, doc_id, hello_with, random_key, wait_until, Client, Incoming, Server};
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;

/// Joins with `info` (or none) and consumes the greeting.
async fn joined(server: &Server, id: &str, info: Value) -> Client {
    let mut c = server.connect(id, None).await.unwrap();
    hello_with(&mut c, None, info).await;
    barrier(&mut c).await;
    c
}

/// Joins with `info` (or none); returns the client and its greeting after
/// the catch-up, without the protection state.
async fn joined_greeting(server: &Server, id: &str, info: Value) -> (Client, Vec<Value>) {
    let mut c = server.connect(id, None).await.unwrap();
    hello_with(&mut c, None, info).await;
    let greeting = without_otp(barrier(&mut c).await);
    (c, greeting)
}

/// Messages of a greeting (after the catch-up) other than the protection
/// state.
fn without_otp(msgs: Vec<Value>) -> Vec<Value> {
    msgs.into_iter()
        .filter(|m| m.get("OTP").is_none())
        .collect()
}

/// Everything `c` has been sent once the server has also handled what
/// other connections did before this call: two barriers, because the
/// connection's task picks up other connections' changes on its next turn
/// after the first one at the latest.
async fn settled(c: &mut Client) -> Vec<Value> {
    let mut msgs = barrier(c).await;
    msgs.extend(barrier(c).await);
    msgs
}

fn user_info(id: u64, info: Value) -> Value {
    json!({"UserInfo": {"id": id, "info": info}})
}

fn user_cursor(id: u64, cursors: Value, selections: Value) -> Value {
    json!({"UserCursor": {"id": id, "data": {"cursors": cursors, "selections": selections}}})
}

/// `ClientInfo` reaches the other clients as `UserInfo`, not the sender;
/// changing it again is broadcast again. (b and c never give a name, so a
/// is told nothing about them.)
#[tokio::test]
async fn client_info_is_broadcast_to_the_others() {
    let server = Server::start(&[]).await;
    let id = doc_id("info");
    let mut a = joined(&server, &id, Value::Null).await;
    let mut b = joined(&server, &id, Value::Null).await;
    let mut c = joined(&server, &id, Value::Null).await;
    barrier(&mut a).await;
    barrier(&mut b).await;

    a.send(json!({"ClientInfo": {"name": "Ann", "hue": 120}}))
        .await;
    let expected = user_info(1, json!({"name": "Ann", "hue": 120}));
    assert_eq!(b.recv().await, expected);
    assert_eq!(c.recv().await, expected);
    a.send(json!({"ClientInfo": {"name": "Ann B.", "hue": 0}}))
        .await;
    let expected = user_info(1, json!({"name": "Ann B.", "hue": 0}));
    assert_eq!(b.recv().await, expected);
    assert_eq!(c.recv().await, expected);
    assert_eq!(barrier(&mut a).await, Vec::<Value>::new());
}

/// A `Hello` carrying `info` makes the user appear to the others with its
/// name and colour at once: the first (and only) message about it is the
/// full `UserInfo`.
#[tokio::test]
async fn hello_with_info_appears_with_its_name_immediately() {
    let server = Server::start(&[]).await;
    let id = doc_id("hello-info");
    let mut a = joined(&server, &id, Value::Null).await;
    let _b = joined(&server, &id, json!({"name": "Bob", "hue": 200})).await;
    assert_eq!(
        barrier(&mut a).await,
        vec![user_info(2, json!({"name": "Bob", "hue": 200}))]
    );
}

/// A joiner's greeting has one `UserInfo` per other connected user with a
/// name, and the `UserCursor` of those that sent one; users who left are
/// not listed, nor is a connected user without a name (even with a
/// cursor), and the joiner is not told about itself.
#[tokio::test]
async fn joiners_are_told_who_is_present_with_their_cursors() {
    let server = Server::start(&[]).await;
    let id = doc_id("present");
    let mut a = joined(&server, &id, json!({"name": "Ann", "hue": 1})).await;
    a.edit(0, 1, json!(["abcdef"])).await;
    a.expect("History").await;
    a.send(json!({"CursorData": {"cursors": [2], "selections": [[0, 1]]}}))
        .await;
    let _b = joined(&server, &id, json!({"name": "Bob", "hue": 2})).await;
    let c = joined(&server, &id, json!({"name": "Cy", "hue": 3})).await;
    let mut d = joined(&server, &id, Value::Null).await;
    d.send(json!({"CursorData": {"cursors": [6], "selections": []}}))
        .await;
    barrier(&mut d).await;
    c.close().await;
    // Wait until a has seen c leave, so that the join below follows it.
    a.recv_until(|v| *v == user_info(3, Value::Null)).await;

    let mut e = server.connect(&id, None).await.unwrap();
    let catch_up = hello_with(&mut e, None, json!({"name": "Eve", "hue": 5})).await;
    assert_eq!(
        common::sans_epoch(&catch_up),
        json!({"Snapshot": {"revision": 1, "text": "abcdef", "last_seq": 0}})
    );
    assert_eq!(e.user, Some(5));
    let mut greeting = without_otp(barrier(&mut e).await);
    // d (user 4) is connected and has a cursor, but no name.
    let mut expected = vec![
        user_info(1, json!({"name": "Ann", "hue": 1})),
        user_cursor(1, json!([2]), json!([[0, 1]])),
        user_info(2, json!({"name": "Bob", "hue": 2})),
    ];
    // The protocol does not fix the order between users; each user's
    // cursor follows its info.
    for (i, m) in greeting.iter().enumerate() {
        if let Some(u) = m.get("UserCursor") {
            let info = greeting[..i]
                .iter()
                .position(|x| x["UserInfo"]["id"] == u["id"]);
            assert!(info.is_some(), "cursor before info: {greeting:?}");
        }
    }
    let key = |v: &Value| v.to_string();
    greeting.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(greeting, expected);
}

/// A user whose last connection ends is announced as
/// `{"UserInfo":{"id":U,"info":null}}`, whether it closed politely or
/// its connection simply dropped; a user who never gave a name was never
/// announced, so its leaving is not announced either.
#[tokio::test]
async fn leaving_is_announced_with_null_info() {
    let server = Server::start(&[]).await;
    let id = doc_id("leave");
    let mut a = joined(&server, &id, Value::Null).await;
    let b = joined(&server, &id, json!({"name": "Bob", "hue": 2})).await;
    let c = joined(&server, &id, json!({"name": "Cy", "hue": 3})).await;
    let d = joined(&server, &id, Value::Null).await;
    let e = joined(&server, &id, Value::Null).await;
    assert_eq!(
        settled(&mut a).await,
        vec![
            user_info(2, json!({"name": "Bob", "hue": 2})),
            user_info(3, json!({"name": "Cy", "hue": 3})),
        ]
    );
    b.close().await;
    assert_eq!(a.recv().await, user_info(2, Value::Null));
    drop(c);
    assert_eq!(a.recv().await, user_info(3, Value::Null));
    // The nameless d and e leave (politely, and by dropping): nothing.
    d.close().await;
    drop(e);
    wait_until("d and e are gone", || async {
        server.stat("num_connections").await == 1
    })
    .await;
    let f = joined(&server, &id, json!({"name": "Fay", "hue": 6})).await;
    // The next thing a hears of is f's arrival.
    assert_eq!(
        a.recv().await,
        user_info(6, json!({"name": "Fay", "hue": 6}))
    );
    drop(f);
    assert_eq!(a.recv().await, user_info(6, Value::Null));
    assert_eq!(settled(&mut a).await, Vec::<Value>::new());
}

/// A user who joins without a name is invisible to the others: not
/// announced when it joins, its cursor not relayed, not listed in a
/// joiner's greeting. Its `ClientInfo` announces it: everyone gets its
/// `UserInfo` followed by its current (kept) cursor, and from then on its
/// cursor moves are relayed and its leaving is announced. It is told about
/// the others (with names) all along.
#[tokio::test]
async fn nameless_users_are_invisible_until_named_then_appear_with_their_cursor() {
    let server = Server::start(&[]).await;
    let id = doc_id("nameless");
    let mut a = joined(&server, &id, json!({"name": "Ann", "hue": 1})).await;
    a.edit(0, 1, json!(["abcdef"])).await;
    a.expect("History").await;

    let mut n = server.connect(&id, None).await.unwrap();
    hello_with(&mut n, None, Value::Null).await;
    assert_eq!(n.user, Some(2));
    assert_eq!(
        without_otp(barrier(&mut n).await),
        vec![user_info(1, json!({"name": "Ann", "hue": 1}))]
    );
    n.send(json!({"CursorData": {"cursors": [3], "selections": [[1, 2]]}}))
        .await;
    barrier(&mut n).await;
    n.send(json!({"CursorData": {"cursors": [4], "selections": [[1, 5]]}}))
        .await;
    barrier(&mut n).await;
    assert_eq!(settled(&mut a).await, Vec::<Value>::new());

    // A joiner is not told about n either.
    let mut b = joined_greeting(&server, &id, json!({"name": "Bob", "hue": 2})).await;
    assert_eq!(b.0.user, Some(3));
    assert_eq!(b.1, vec![user_info(1, json!({"name": "Ann", "hue": 1}))]);
    let b = &mut b.0;
    // n is told about b (a named user), a too.
    assert_eq!(
        n.recv().await,
        user_info(3, json!({"name": "Bob", "hue": 2}))
    );
    assert_eq!(
        a.recv().await,
        user_info(3, json!({"name": "Bob", "hue": 2}))
    );

    // Naming n announces it, with its latest cursor right after.
    n.send(json!({"ClientInfo": {"name": "Nia", "hue": 300}}))
        .await;
    let announced = [
        user_info(2, json!({"name": "Nia", "hue": 300})),
        user_cursor(2, json!([4]), json!([[1, 5]])),
    ];
    for c in [&mut a, &mut *b] {
        assert_eq!(c.recv().await, announced[0]);
        assert_eq!(c.recv().await, announced[1]);
        assert_eq!(settled(c).await, Vec::<Value>::new());
    }
    assert_eq!(settled(&mut n).await, Vec::<Value>::new());

    // From now on its cursor moves are relayed, and joiners see it.
    n.send(json!({"CursorData": {"cursors": [6], "selections": []}}))
        .await;
    let moved = user_cursor(2, json!([6]), json!([]));
    assert_eq!(a.recv().await, moved);
    assert_eq!(b.recv().await, moved);
    let (_c, greeting) = joined_greeting(&server, &id, json!({"name": "Cy", "hue": 3})).await;
    assert!(greeting.contains(&user_info(2, json!({"name": "Nia", "hue": 300}))));
    assert!(greeting.contains(&moved), "{greeting:?}");
    for c in [&mut a, &mut *b, &mut n] {
        assert_eq!(
            c.recv().await,
            user_info(4, json!({"name": "Cy", "hue": 3}))
        );
    }

    // And its leaving is announced.
    n.close().await;
    assert_eq!(a.recv().await, user_info(2, Value::Null));
    assert_eq!(b.recv().await, user_info(2, Value::Null));
}

/// A nameless user's cursor and the `ClientInfo` that names it, arriving
/// together (one TCP segment): the others must still get its `UserInfo`
/// followed by that cursor.
#[tokio::test]
async fn a_cursor_sent_right_before_the_name_follows_the_user_info() {
    let server = Server::start(&[]).await;
    let id = doc_id("cursor-then-name");
    let mut a = joined(&server, &id, json!({"name": "Ann", "hue": 1})).await;
    let mut n = joined(&server, &id, Value::Null).await;
    // a has handled n's (silent) arrival.
    assert_eq!(settled(&mut a).await, Vec::<Value>::new());
    for m in [
        json!({"CursorData": {"cursors": [0], "selections": []}}),
        json!({"ClientInfo": {"name": "Nia", "hue": 300}}),
    ] {
        n.ws.feed(Message::text(m.to_string())).await.unwrap();
    }
    n.ws.flush().await.unwrap();
    barrier(&mut n).await;
    assert_eq!(
        settled(&mut a).await,
        vec![
            user_info(2, json!({"name": "Nia", "hue": 300})),
            user_cursor(2, json!([0]), json!([])),
        ]
    );
}

/// `CursorData` is relayed to the others (not the sender) as
/// `UserCursor`; later edits move the kept cursor (a joiner's replay shows
/// the moved positions); a cursor given at an older revision is moved
/// through the edits since before it is relayed.
#[tokio::test]
async fn cursors_are_relayed_and_moved_by_edits() {
    let server = Server::start(&[]).await;
    let id = doc_id("cursor");
    let mut a = joined(&server, &id, json!({"name": "Ann", "hue": 1})).await;
    let mut b = joined(&server, &id, json!({"name": "Bob", "hue": 2})).await;
    barrier(&mut a).await;
    a.edit(0, 1, json!(["abcdef"])).await;
    a.expect("History").await;
    b.expect("History").await;

    a.send(json!({"CursorData": {"cursors": [3, 6], "selections": [[1, 4]]}}))
        .await;
    assert_eq!(
        b.recv().await,
        user_cursor(1, json!([3, 6]), json!([[1, 4]]))
    );
    assert_eq!(barrier(&mut a).await, Vec::<Value>::new());

    // b inserts "XY" at 0 and deletes "b": "XYacdef".
    b.edit(1, 1, json!(["XY", 1, -1, 4])).await;
    b.expect("History").await;
    let mut c = server.connect(&id, None).await.unwrap();
    c.hello(None).await;
    let greeting = without_otp(barrier(&mut c).await);
    assert!(
        greeting.contains(&user_cursor(1, json!([4, 7]), json!([[3, 5]]))),
        "{greeting:?}"
    );

    // A cursor at revision 1 ("abcdef"): 2 is before "c", now at 3.
    a.send(json!({"CursorData": {"cursors": [2], "selections": [[0, 6]], "revision": 1}}))
        .await;
    assert_eq!(
        b.recv_until(|v| v.get("UserCursor").is_some()).await,
        user_cursor(1, json!([3]), json!([[2, 7]]))
    );
}

/// Connects with a tiny receive buffer, so that a client that does not
/// read blocks the server's writes to it quickly.
async fn connect_slow(server: &Server, id: &str) -> Client {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(server.addr.parse().unwrap()).await.unwrap();
    let url = format!("ws://{}/api/socket/{id}", server.addr);
    let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
        .await
        .unwrap();
    Client {
        ws,
        key: random_key(),
        user: None,
    }
}

/// A client that does not read while another moves its cursor thousands
/// of times is sent only the latest cursor once it reads again, not every
/// intermediate one; history is still complete.
#[tokio::test]
async fn a_slow_reader_gets_the_latest_cursor_only() {
    let server = Server::start(&[("WS_WRITE_TIMEOUT_SECONDS", "120")]).await;
    let id = doc_id("slow");
    let mut a = joined(&server, &id, json!({"name": "Ann", "hue": 1})).await;
    let mut b = connect_slow(&server, &id).await;
    b.hello(None).await;
    barrier(&mut b).await;
    barrier(&mut a).await;

    // Fill the pipe to b (which is not reading) with history: a replaces
    // the whole text with 100 000 characters, again and again.
    const CHUNK: usize = 100_000;
    const EDITS: u64 = 60;
    for i in 0..EDITS {
        let text = char::from(b'a' + (i % 26) as u8).to_string().repeat(CHUNK);
        let op = if i == 0 {
            json!([text])
        } else {
            json!([-(CHUNK as i64), text])
        };
        a.edit(i, i + 1, op).await;
        a.expect("History").await;
    }
    const MOVES: usize = 3000;
    for i in 1..=MOVES {
        a.send(json!({"CursorData": {"cursors": [i], "selections": []}}))
            .await;
    }
    barrier(&mut a).await;

    let mut cursors = 0;
    let mut entries = 0;
    loop {
        let m = b.recv().await;
        if let Some(h) = m.get("History") {
            assert_eq!(h["start"], entries, "history must stay complete");
            entries += h["operations"].as_array().unwrap().len() as u64;
        } else if let Some(c) = m.get("UserCursor") {
            cursors += 1;
            if c["data"]["cursors"] == json!([MOVES]) {
                break;
            }
        }
    }
    assert_eq!(entries, EDITS);
    assert!(
        cursors <= 10,
        "a slow reader was sent {cursors} of {MOVES} cursor updates"
    );
    let rest = barrier(&mut b).await;
    assert!(
        !rest.iter().any(|m| m.get("UserCursor").is_some()),
        "{rest:?}"
    );
}

/// `ClientInfo` with an empty (after trimming) or too long name, or a hue
/// outside 0–359 (360 or more, or negative), gets `Error`
/// `invalid_client_info` and the connection continues; nothing is
/// broadcast and the previous name stays. The boundaries (64 characters,
/// counted as characters not bytes; hue 0 and 359) are accepted.
#[tokio::test]
async fn invalid_client_info_is_refused() {
    let server = Server::start(&[]).await;
    let id = doc_id("bad-info");
    let mut a = joined(&server, &id, json!({"name": "Ann", "hue": 10})).await;
    let mut b = joined(&server, &id, json!({"name": "Bob", "hue": 20})).await;
    assert_eq!(
        barrier(&mut a).await,
        vec![user_info(2, json!({"name": "Bob", "hue": 20}))]
    );
    let long = "x".repeat(65);
    let bad = [
        json!({"name": "", "hue": 10}),
        json!({"name": "   ", "hue": 10}),
        json!({"name": long, "hue": 10}),
        json!({"name": "é".repeat(65), "hue": 10}),
        json!({"name": "Ann", "hue": 360}),
        json!({"name": "Ann", "hue": 1000}),
        json!({"name": "Ann", "hue": -1}),
        json!({"name": "Ann", "hue": -360}),
        json!({"name": "Ann", "hue": i64::MIN}),
    ];
    for info in &bad {
        a.send(json!({ "ClientInfo": info })).await;
        match a.next().await {
            Incoming::Json(err) => {
                assert_eq!(err["Error"]["code"], "invalid_client_info", "{info}: {err}");
                assert!(err["Error"]["message"].is_string());
            }
            Incoming::Closed(code, reason) => panic!("{info}: closed {code} {reason:?}"),
        }
    }
    assert_eq!(settled(&mut b).await, Vec::<Value>::new());
    let (_c, greeting) = joined_greeting(&server, &id, Value::Null).await;
    assert_eq!(
        greeting,
        vec![
            user_info(1, json!({"name": "Ann", "hue": 10})),
            user_info(2, json!({"name": "Bob", "hue": 20})),
        ]
    );
    // (c has no name: a and b were not told that it joined.)
    assert_eq!(settled(&mut a).await, Vec::<Value>::new());
    assert_eq!(settled(&mut b).await, Vec::<Value>::new());

    for info in [
        json!({"name": "x".repeat(64), "hue": 0}),
        json!({"name": "é".repeat(64), "hue": 359}),
    ] {
        a.send(json!({ "ClientInfo": info.clone() })).await;
        assert_eq!(b.recv().await, user_info(1, info));
    }
    assert_eq!(barrier(&mut a).await, Vec::<Value>::new());
}

/// A `Hello` whose `info` is invalid (a blank name, or a hue out of range,
/// negative included) still joins (identity and catch-up first), then gets
/// `Error` `invalid_client_info`; the user has no name, so it is not
/// announced until a valid `ClientInfo` names it.
#[tokio::test]
async fn hello_with_invalid_info_joins_and_gets_an_error() {
    let server = Server::start(&[]).await;
    let id = doc_id("bad-hello-info");
    let mut a = joined(&server, &id, json!({"name": "Ann", "hue": 1})).await;
    for (user, info) in [
        (2, json!({"name": " ", "hue": 5})),
        (3, json!({"name": "Bob", "hue": 360})),
        (4, json!({"name": "Bob", "hue": -5})),
    ] {
        let mut b = server.connect(&id, None).await.unwrap();
        let catch_up = hello_with(&mut b, None, info.clone()).await;
        assert!(catch_up.get("Snapshot").is_some(), "{catch_up}");
        assert_eq!(b.user, Some(user));
        let err = b.recv_until(|v| v.get("Error").is_some()).await;
        assert_eq!(err["Error"]["code"], "invalid_client_info", "{info}: {err}");
        assert_eq!(settled(&mut a).await, Vec::<Value>::new(), "{info}");

        b.send(json!({"ClientInfo": {"name": "Bob", "hue": 7}}))
            .await;
        assert_eq!(
            a.recv().await,
            user_info(user, json!({"name": "Bob", "hue": 7}))
        );
        b.close().await;
        assert_eq!(a.recv().await, user_info(user, Value::Null));
    }
}

/// The protocol says `hue` is an integer 0–359, "otherwise the `Error`
/// `invalid_client_info`": a negative integer hue is such an otherwise,
/// and must not end the connection (which can then name itself).
#[tokio::test]
async fn a_negative_hue_gets_invalid_client_info() {
    let server = Server::start(&[]).await;
    let id = doc_id("negative-hue");
    let mut a = joined(&server, &id, Value::Null).await;
    let mut b = joined(&server, &id, json!({"name": "Bob", "hue": 2})).await;
    assert_eq!(
        settled(&mut a).await,
        vec![user_info(2, json!({"name": "Bob", "hue": 2}))]
    );
    a.send(json!({"ClientInfo": {"name": "Ann", "hue": -1}}))
        .await;
    match a.next().await {
        Incoming::Json(err) => {
            assert_eq!(err["Error"]["code"], "invalid_client_info", "{err}")
        }
        Incoming::Closed(code, reason) => {
            panic!("closed {code} {reason:?} instead of Error invalid_client_info")
        }
    }
    assert_eq!(settled(&mut b).await, Vec::<Value>::new());
    a.send(json!({"ClientInfo": {"name": "Ann", "hue": 1}}))
        .await;
    assert_eq!(
        b.recv().await,
        user_info(1, json!({"name": "Ann", "hue": 1}))
    );
}

/// "Integer 0–359" and "an integer within the document": JSON integers
/// too large for a signed 64-bit number are still integers outside those
/// ranges, so they get the specific `Error`s, not a 4400 close.
#[tokio::test]
async fn huge_integers_get_the_specific_errors() {
    let server = Server::start(&[]).await;
    let id = doc_id("huge-integers");
    let mut a = joined(&server, &id, Value::Null).await;
    let cases = [
        (
            r#"{"ClientInfo":{"name":"Ann","hue":9223372036854775808}}"#,
            "invalid_client_info",
        ),
        (
            r#"{"ClientInfo":{"name":"Ann","hue":18446744073709551615}}"#,
            "invalid_client_info",
        ),
        (
            r#"{"CursorData":{"cursors":[9223372036854775808],"selections":[]}}"#,
            "invalid_cursor",
        ),
        (
            r#"{"CursorData":{"cursors":[],"selections":[[0,18446744073709551615]]}}"#,
            "invalid_cursor",
        ),
    ];
    let mut failures = Vec::new();
    for (raw, code) in cases {
        a.send_text(raw).await;
        match a.next().await {
            Incoming::Json(err) if err["Error"]["code"] == code => {}
            Incoming::Json(other) => failures.push(format!("{raw}: {other}")),
            Incoming::Closed(c, reason) => {
                failures.push(format!("{raw}: closed {c} {reason:?}"));
                a = joined(&server, &id, Value::Null).await;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `CursorData` with a position beyond the document or negative (in a
/// cursor or either end of a selection), more than 100 cursors or more
/// than 100 selections gets `Error` `invalid_cursor`, the connection
/// continues and nothing is relayed; exactly 100 of each, and positions at
/// the very end, are accepted.
#[tokio::test]
async fn invalid_cursors_are_refused() {
    let server = Server::start(&[]).await;
    let id = doc_id("bad-cursor");
    let mut a = joined(&server, &id, json!({"name": "Ann", "hue": 1})).await;
    let mut b = joined(&server, &id, json!({"name": "Bob", "hue": 2})).await;
    barrier(&mut a).await;
    a.edit(0, 1, json!(["abc"])).await;
    a.expect("History").await;
    b.expect("History").await;

    let hundred: Vec<usize> = (0..100).map(|i| i % 4).collect();
    let mut hundred_one = hundred.clone();
    hundred_one.push(0);
    let sel = |n: usize| vec![[0, 3]; n];
    let bad = [
        json!({"cursors": [4], "selections": []}),
        json!({"cursors": [], "selections": [[0, 4]]}),
        json!({"cursors": [], "selections": [[4, 0]]}),
        json!({"cursors": [0, 1, 999], "selections": []}),
        json!({"cursors": [-1], "selections": []}),
        json!({"cursors": [1, -3], "selections": [[0, 1]]}),
        json!({"cursors": [], "selections": [[-1, 2]]}),
        json!({"cursors": [], "selections": [[0, -2]]}),
        json!({"cursors": [i64::MIN], "selections": []}),
        json!({"cursors": [-1], "selections": [], "revision": 1}),
        json!({"cursors": hundred_one, "selections": []}),
        json!({"cursors": [], "selections": sel(101)}),
    ];
    for data in &bad {
        a.send(json!({ "CursorData": data })).await;
        match a.next().await {
            Incoming::Json(err) => {
                assert_eq!(err["Error"]["code"], "invalid_cursor", "{data}: {err}");
                assert!(err["Error"]["message"].is_string());
            }
            Incoming::Closed(code, reason) => panic!("{data}: closed {code} {reason:?}"),
        }
    }
    assert_eq!(settled(&mut b).await, Vec::<Value>::new());

    a.send(json!({"CursorData": {"cursors": hundred, "selections": sel(100)}}))
        .await;
    assert_eq!(
        b.recv().await,
        user_cursor(1, json!(hundred), json!(sel(100)))
    );
    a.send(json!({"CursorData": {"cursors": [3], "selections": [[3, 3]]}}))
        .await;
    assert_eq!(b.recv().await, user_cursor(1, json!([3]), json!([[3, 3]])));
    assert_eq!(barrier(&mut a).await, Vec::<Value>::new());
}
