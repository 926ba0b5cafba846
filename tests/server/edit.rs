//! Editing: an edit is acknowledged by its own echo in `History` and
//! reaches every other connection and the HTTP API; pipelined edits are
//! applied in order; operations are echoed in canonical form; and clients
//! driven by the real OT state machine (`tandem_ot::Client`) converge on the
//! server's text under random concurrent edits.

mod common;

use common::{barrier, doc_id, history_entries, Client, Server};
use serde_json::{json, Value};
use tandem_ot::{Operation, Received};

/// The sender's edit comes back to it as a `History` entry with its own
/// user id at the revision it was applied at (its acknowledgement); every
/// other client receives the identical message; `/api/text` shows the new
/// text at once, and a fresh join sees it in its snapshot.
#[tokio::test]
async fn an_edit_is_acknowledged_broadcast_and_visible_over_http() {
    let server = Server::start(&[]).await;
    let id = doc_id("edit");
    let mut a = server.join(&id).await;
    let mut b = server.join(&id).await;
    let mut c = server.join(&id).await;
    assert_eq!((a.user, b.user, c.user), (Some(1), Some(2), Some(3)));

    a.edit(0, 1, json!(["hello"])).await;
    let expected =
        json!({"History": {"start": 0, "operations": [{"id": 1, "operation": ["hello"]}]}});
    assert_eq!(a.recv_until(is_history).await, expected);
    assert_eq!(b.recv_until(is_history).await, expected);
    assert_eq!(c.recv_until(is_history).await, expected);
    assert_eq!(server.text(&id).await, "hello");

    // A second edit by another client, at the next revision.
    b.edit(1, 1, json!([5, ", world"])).await;
    let expected =
        json!({"History": {"start": 1, "operations": [{"id": 2, "operation": [5, ", world"]}]}});
    assert_eq!(b.recv_until(is_history).await, expected);
    assert_eq!(a.recv_until(is_history).await, expected);
    assert_eq!(c.recv_until(is_history).await, expected);
    assert_eq!(server.text(&id).await, "hello, world");

    let mut d = server.connect(&id, None).await.unwrap();
    assert_eq!(
        common::sans_epoch(&d.hello(None).await),
        json!({"Snapshot": {"revision": 2, "text": "hello, world", "last_seq": 0}})
    );
    assert_eq!(server.metric("tandem_edits_total").await, 2.0);
}

/// Edits sent back to back, each based on the revision the previous one
/// will get, are all applied in order: the sender's acknowledgements arrive
/// in sending order at consecutive revisions (possibly several per
/// `History` message), with the operations as sent.
#[tokio::test]
async fn pipelined_edits_are_acknowledged_in_order() {
    let server = Server::start(&[]).await;
    let id = doc_id("pipeline");
    let mut a = server.join(&id).await;
    let mut b = server.join(&id).await;
    let ops = [
        json!(["a"]),
        json!([1, "b"]),
        json!([2, "c"]),
        json!(["0", 3]),
        json!([1, -1, 2]),
        json!([3, "é😀"]),
    ];
    for (i, op) in ops.iter().enumerate() {
        a.edit(i as u64, i as u64 + 1, op.clone()).await;
    }
    for c in [&mut a, &mut b] {
        let entries = history_entries(c, ops.len()).await;
        for (i, (revision, entry)) in entries.iter().enumerate() {
            assert_eq!(*revision, i as u64);
            assert_eq!(*entry, json!({"id": 1, "operation": ops[i]}));
        }
    }
    assert_eq!(server.text(&id).await, "0bcé😀");
    let mut c = server.connect(&id, None).await.unwrap();
    assert_eq!(
        common::sans_epoch(&c.hello(None).await),
        json!({"Snapshot": {"revision": 6, "text": "0bcé😀", "last_seq": 0}})
    );
}

/// The server accepts non-canonical operations and echoes the canonical
/// form: adjacent same-kind elements merged, an insert placed before an
/// adjacent delete.
#[tokio::test]
async fn operations_are_echoed_in_canonical_form() {
    let server = Server::start(&[]).await;
    let id = doc_id("canonical");
    let mut a = server.join(&id).await;
    a.edit(0, 1, json!(["ab", "cd"])).await;
    assert_eq!(
        a.expect("History").await,
        json!({"start": 0, "operations": [{"id": 1, "operation": ["abcd"]}]})
    );
    a.edit(1, 2, json!([1, 1, -1, "x", 1])).await;
    assert_eq!(
        a.expect("History").await,
        json!({"start": 1, "operations": [{"id": 1, "operation": [2, "x", -1, 1]}]})
    );
    assert_eq!(server.text(&id).await, "abxd");
}

/// A client driven by the OT state machine, with its local text.
struct Peer {
    ws: Client,
    ot: tandem_ot::Client,
    text: String,
}

impl Peer {
    async fn join(server: &Server, id: &str) -> Peer {
        let mut ws = server.connect(id, None).await.unwrap();
        let snapshot = ws.hello(None).await["Snapshot"].clone();
        let mut ot = tandem_ot::Client::new(snapshot["revision"].as_u64().unwrap());
        ot.identified(ws.user.unwrap());
        assert_eq!(ot.resume(), None);
        Peer {
            ws,
            ot,
            text: snapshot["text"].as_str().unwrap().to_owned(),
        }
    }

    /// Sends what the state machine says to send.
    async fn submit(&mut self, sub: Option<tandem_ot::Submission>) {
        if let Some(s) = sub {
            let op = serde_json::to_value(&s.operation).unwrap();
            self.ws.edit(s.revision, s.seq, op).await;
        }
    }

    /// A random local edit, applied locally and handed to the state
    /// machine.
    async fn random_edit(&mut self, rng: &mut Rng) {
        const PIECES: [&str; 8] = ["a", "b", "é", "😀", "漢", " ", "\n", "xyz"];
        let len = self.text.chars().count();
        let pos = rng.below(len + 1);
        let delete = if len > 40 || rng.below(3) == 0 {
            rng.below((len - pos).min(4) + 1)
        } else {
            0
        };
        let mut insert = String::new();
        for _ in 0..rng.below(3) {
            insert.push_str(PIECES[rng.below(PIECES.len())]);
        }
        let op = Operation::splice(len, pos, delete, &insert).unwrap();
        self.text = op.apply(&self.text).unwrap();
        let sub = self.ot.apply_local(op).unwrap();
        self.submit(sub).await;
    }

    /// Processes everything the server has sent up to a barrier.
    async fn sync(&mut self) {
        for msg in barrier(&mut self.ws).await {
            let Some(h) = msg.get("History") else {
                continue;
            };
            assert_eq!(h["start"].as_u64(), Some(self.ot.revision()), "{h}");
            for e in h["operations"].as_array().unwrap() {
                let author = e["id"].as_u64().unwrap();
                let op: Operation = serde_json::from_value(e["operation"].clone()).unwrap();
                match self.ot.receive(author, &op).unwrap() {
                    Received::Acknowledged { next } => self.submit(next).await,
                    Received::Remote(op) => self.text = op.apply(&self.text).unwrap(),
                }
            }
        }
    }
}

/// A tiny deterministic xorshift generator (the tests need no crate for
/// this).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Several clients, each driven by `tandem_ot::Client`, make random edits
/// (multibyte and astral characters included) concurrently, reading the
/// server's messages only now and then so that their edits cross; once all
/// are acknowledged, every client's text equals `/api/text` and every
/// client is at the same revision.
#[tokio::test]
async fn random_concurrent_edits_converge() {
    let server = Server::start(&[]).await;
    for seed in [0x9e37_79b9_7f4a_7c15u64, 42, 0xdead_beef] {
        let id = doc_id("converge");
        let mut rng = Rng(seed);
        let mut peers = Vec::new();
        for _ in 0..3 {
            peers.push(Peer::join(&server, &id).await);
        }
        for _round in 0..40 {
            for p in peers.iter_mut() {
                for _ in 0..=rng.below(2) {
                    p.random_edit(&mut rng).await;
                }
            }
            for p in peers.iter_mut() {
                if rng.below(2) == 0 {
                    p.sync().await;
                }
            }
        }
        let mut settled = false;
        for _ in 0..200 {
            for p in peers.iter_mut() {
                p.sync().await;
            }
            if peers.iter().all(|p| p.ot.is_synchronized()) {
                settled = true;
                break;
            }
        }
        assert!(settled, "clients never got all their edits acknowledged");
        // Everyone has all acknowledgements: one more pass brings every
        // client up to the server's last revision.
        for p in peers.iter_mut() {
            p.sync().await;
        }
        let text = server.text(&id).await;
        let revision = peers[0].ot.revision();
        assert!(revision > 40, "too few edits were applied: {revision}");
        for p in &peers {
            assert_eq!(p.text, text, "seed {seed}");
            assert_eq!(p.ot.revision(), revision, "seed {seed}");
        }
        let mut fresh = server.connect(&id, None).await.unwrap();
        assert_eq!(
            common::sans_epoch(&fresh.hello(None).await),
            json!({"Snapshot": {"revision": revision, "text": text, "last_seq": 0}})
        );
    }
}

fn is_history(v: &Value) -> bool {
    v.get("History").is_some()
}
