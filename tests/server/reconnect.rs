//! Reconnecting: the same client identity gets the same user id and a
//! `History` catch-up from the revision it gives (its own edits included,
//! under its own id); the connection it replaces is closed with 4000; a
//! revision the server cannot serve history from gets a `Snapshot` with the
//! client's `last_seq`; already-applied edits are never applied twice.

mod common;

use common::{barrier, doc_id, hello_with, history_entries, Client, Server};
use serde_json::{json, Value};
use tandem_ot::{Operation, Received};

/// A new connection to `id` that will say `Hello` with `key`.
async fn same_identity(server: &Server, id: &str, key: &str) -> Client {
    let mut c = server.connect(id, None).await.unwrap();
    c.key = key.to_owned();
    c
}

fn entry(id: u64, op: Value) -> Value {
    json!({"id": id, "operation": op})
}

/// Reconnecting with the same identity and a revision gets the same user
/// id and everything since that revision, its own edits under its own id;
/// the old connection is closed with 4000; the others (who were told about
/// it: it has a name) see no one leave or arrive; the new connection
/// continues the edit sequence.
#[tokio::test]
async fn reconnecting_catches_up_from_its_revision_and_replaces_the_old_connection() {
    let server = Server::start(&[]).await;
    let id = doc_id("reconnect");
    let mut a = server.connect(&id, None).await.unwrap();
    hello_with(&mut a, None, json!({"name": "Ann", "hue": 1})).await;
    let mut b = server.connect(&id, None).await.unwrap();
    hello_with(&mut b, None, json!({"name": "Bob", "hue": 2})).await;
    // b was told about a (and a about b).
    let greeting = barrier(&mut b).await;
    let ann = json!({"UserInfo": {"id": 1, "info": {"name": "Ann", "hue": 1}}});
    assert!(greeting.contains(&ann), "{greeting:?}");
    a.edit(0, 1, json!(["ab"])).await;
    a.expect("History").await;
    a.edit(1, 2, json!([2, "c"])).await;
    a.expect("History").await;
    b.edit(2, 1, json!([3, "d"])).await;
    // Each has now been sent revisions 0-2 (in however many messages).
    assert_eq!(history_entries(&mut b, 3).await[2].0, 2);
    assert_eq!(history_entries(&mut a, 1).await[0].0, 2);
    barrier(&mut a).await;
    barrier(&mut b).await;

    let mut a2 = same_identity(&server, &id, &a.key).await;
    let catch_up = a2.hello(Some(1)).await;
    assert_eq!(a2.user, a.user);
    assert_eq!(
        catch_up,
        json!({"History": {"start": 1, "operations": [
            entry(1, json!([2, "c"])),
            entry(2, json!([3, "d"])),
        ]}})
    );
    let (code, reason) = a.closed().await;
    assert_eq!(code, 4000);
    assert!(
        reason.starts_with("replaced by a newer connection"),
        "{reason}"
    );
    assert_eq!(
        server
            .metric("tandem_closes_total{reason=\"replaced\"}")
            .await,
        1.0
    );
    // b saw nobody leave or arrive (the old connection had left before it
    // was closed; b's second barrier follows b's next look at the
    // document's changes).
    assert_eq!(barrier(&mut b).await, Vec::<Value>::new());
    assert_eq!(barrier(&mut b).await, Vec::<Value>::new());

    // The new connection continues the sequence.
    a2.edit(3, 3, json!([4, "e"])).await;
    let expected = json!({"start": 3, "operations": [entry(1, json!([4, "e"]))]});
    assert_eq!(a2.expect("History").await, expected);
    assert_eq!(b.expect("History").await, expected);
    assert_eq!(server.text(&id).await, "abcde");

    // At the current revision the catch-up is an empty History.
    let mut a3 = same_identity(&server, &id, &a.key).await;
    assert_eq!(
        a3.hello(Some(4)).await,
        json!({"History": {"start": 4, "operations": []}})
    );
    assert_eq!(a3.user, Some(1));
    assert_eq!(a2.closed().await.0, 4000);
}

/// A revision ahead of the server's, or none at all, gets a `Snapshot` of
/// the current text whose `last_seq` is the identity's last applied edit.
#[tokio::test]
async fn an_unknown_revision_gets_a_snapshot_with_last_seq() {
    let server = Server::start(&[]).await;
    let id = doc_id("ahead");
    let mut a = server.join(&id).await;
    a.edit(0, 1, json!(["x"])).await;
    a.edit(1, 2, json!([1, "y"])).await;
    let _ = history_entries(&mut a, 2).await;
    let mut b = server.join(&id).await;
    b.edit(2, 1, json!([2, "z"])).await;
    b.expect("History").await;

    let mut a2 = same_identity(&server, &id, &a.key).await;
    assert_eq!(
        common::sans_epoch(&a2.hello(Some(99)).await),
        json!({"Snapshot": {"revision": 3, "text": "xyz", "last_seq": 2}})
    );
    assert_eq!(a2.user, Some(1));
    let mut a3 = same_identity(&server, &id, &a.key).await;
    assert_eq!(
        common::sans_epoch(&a3.hello(None).await),
        json!({"Snapshot": {"revision": 3, "text": "xyz", "last_seq": 2}})
    );
    // A new identity has applied nothing.
    let mut c = server.connect(&id, None).await.unwrap();
    assert_eq!(
        common::sans_epoch(&c.hello(None).await),
        json!({"Snapshot": {"revision": 3, "text": "xyz", "last_seq": 0}})
    );
    assert_eq!(c.user, Some(3));
}

/// An edit that reached the server although its acknowledgement was lost
/// is acknowledged by the catch-up (the OT client recognises its own id
/// and resends nothing); sending it again anyway gets `duplicate_edit` and
/// the text does not change; an edit that never reached the server is
/// resent with its number and applied once.
#[tokio::test]
async fn edits_are_applied_at_most_once_across_reconnects() {
    let server = Server::start(&[]).await;
    let id = doc_id("once");
    let mut watcher = server.join(&id).await;
    barrier(&mut watcher).await;

    let mut a = server.connect(&id, None).await.unwrap();
    let key = a.key.clone();
    let snapshot = a.hello(None).await;
    assert_eq!(snapshot["Snapshot"]["revision"], 0);
    let mut ot = tandem_ot::Client::new(0);
    ot.identified(a.user.unwrap());
    ot.resume();
    let mut text = String::new();
    let op = Operation::splice(0, 0, 0, "hello").unwrap();
    text = op.apply(&text).unwrap();
    let sub = ot.apply_local(op).unwrap().expect("sent at once");
    assert_eq!((sub.revision, sub.seq), (0, 1));
    a.edit(
        sub.revision,
        sub.seq,
        serde_json::to_value(&sub.operation).unwrap(),
    )
    .await;
    // The server applied it (the watcher saw it), but a never reads the
    // acknowledgement: the connection drops.
    watcher.expect("History").await;
    drop(a);
    ot.disconnected();
    // Offline, a types more; this edit waits in the buffer.
    let op = Operation::splice(5, 5, 0, "!").unwrap();
    text = op.apply(&text).unwrap();
    assert_eq!(ot.apply_local(op).unwrap(), None);

    let mut a2 = same_identity(&server, &id, &key).await;
    let catch_up = a2.hello(Some(ot.revision())).await;
    assert_eq!(
        catch_up,
        json!({"History": {"start": 0, "operations": [entry(2, json!(["hello"]))]}})
    );
    assert_eq!(a2.user, ot.user());
    let e = &catch_up["History"]["operations"][0];
    let op: Operation = serde_json::from_value(e["operation"].clone()).unwrap();
    assert_eq!(
        ot.receive(e["id"].as_u64().unwrap(), &op).unwrap(),
        Received::Acknowledged { next: None }
    );
    // Only the buffered edit goes out, as edit 2 at revision 1.
    let sub = ot.resume().expect("the buffered edit");
    assert_eq!((sub.revision, sub.seq), (1, 2));

    // Resending edit 1 anyway is refused, and changes nothing.
    a2.edit(0, 1, json!(["hello"])).await;
    let err = a2.expect("Error").await;
    assert_eq!(err["code"], "duplicate_edit", "{err}");
    assert_eq!(server.text(&id).await, "hello");

    a2.edit(
        sub.revision,
        sub.seq,
        serde_json::to_value(&sub.operation).unwrap(),
    )
    .await;
    assert_eq!(
        a2.expect("History").await,
        json!({"start": 1, "operations": [entry(2, json!([5, "!"]))]})
    );
    assert_eq!(server.text(&id).await, text);
    // Resent after another reconnect, edit 2 is refused too.
    let mut a3 = same_identity(&server, &id, &key).await;
    assert_eq!(
        a3.hello(Some(2)).await,
        json!({"History": {"start": 2, "operations": []}})
    );
    a3.edit(1, 2, json!([5, "!"])).await;
    assert_eq!(a3.expect("Error").await["code"], "duplicate_edit");
    assert_eq!(server.text(&id).await, "hello!");
}

/// A fresh join after edits gets a `Snapshot` of the current text and
/// revision, and can edit from there.
#[tokio::test]
async fn a_fresh_join_after_edits_gets_the_current_snapshot() {
    let server = Server::start(&[]).await;
    let id = doc_id("fresh");
    let mut a = server.join(&id).await;
    for (i, op) in [json!(["one"]), json!([3, " two"]), json!([-3, 4])]
        .into_iter()
        .enumerate()
    {
        a.edit(i as u64, i as u64 + 1, op).await;
    }
    let _ = history_entries(&mut a, 3).await;
    let mut b = server.connect(&id, None).await.unwrap();
    assert_eq!(
        common::sans_epoch(&b.hello(None).await),
        json!({"Snapshot": {"revision": 3, "text": " two", "last_seq": 0}})
    );
    b.edit(3, 1, json!(["2:", 4])).await;
    assert_eq!(b.expect("History").await["start"], 3);
    assert_eq!(server.text(&id).await, "2: two");
}

/// After a restart the server keeps no history before the stored
/// revision: a reconnect from an older revision gets a `Snapshot` (with
/// the identity's user id and `last_seq` kept), one from the stored
/// revision an empty `History`, and an `Edit` based on an older revision is
/// closed with 4409 without being applied.
#[tokio::test]
async fn after_a_restart_older_revisions_get_a_snapshot_and_old_edits_4409() {
    let mut server = Server::start(&[]).await;
    let id = doc_id("restart");
    let mut a = server.join(&id).await;
    a.edit(0, 1, json!(["abc"])).await;
    a.edit(1, 2, json!([3, "def"])).await;
    let _ = history_entries(&mut a, 2).await;
    let key = a.key.clone();
    let user = a.user;
    a.close().await;
    let status = server.terminate().await;
    assert!(status.success(), "{status:?}");
    server.restart().await;

    let mut a2 = same_identity(&server, &id, &key).await;
    assert_eq!(
        common::sans_epoch(&a2.hello(Some(1)).await),
        json!({"Snapshot": {"revision": 2, "text": "abcdef", "last_seq": 2}})
    );
    assert_eq!(a2.user, user);
    let mut a3 = same_identity(&server, &id, &key).await;
    assert_eq!(
        a3.hello(Some(2)).await,
        json!({"History": {"start": 2, "operations": []}})
    );
    a3.edit(1, 3, json!([3, "!"])).await;
    let (code, reason) = a3.closed().await;
    assert_eq!(code, 4409, "{reason}");
    assert!(reason.starts_with("revision out of range: "), "{reason}");
    assert_eq!(server.text(&id).await, "abcdef");
}
