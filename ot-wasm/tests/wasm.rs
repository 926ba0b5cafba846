//! The JavaScript API, exercised through real JavaScript values in a real
//! engine: run by `scripts/test-wasm.sh` under Node and in headless
//! Chromium (`wasm-bindgen-test-runner` picks the engine, see there).
//!
//! The conversion logic itself has native unit tests in `src/`; these
//! check what only a JS engine can: decoding JS values, the shapes handed
//! back, strings with surrogate pairs as JavaScript holds them, and that
//! invalid input throws a catchable `Error` instead of trapping.

#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Reflect, JSON};
use tandem_ot_wasm::{apply, compose, transform, transform_index, Doc};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

/// A JS value from JSON text (`"\ud83d"` escapes make lone surrogates).
fn json(text: &str) -> JsValue {
    JSON::parse(text).expect("test JSON parses")
}

/// `JSON.stringify(v)`, for comparing shapes.
fn stringify(v: &JsValue) -> String {
    JSON::stringify(v).expect("stringifiable").into()
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).expect("readable")
}

fn s(text: &str) -> JsValue {
    JsValue::from_str(text)
}

/// The message of the `Error` an API call threw.
fn thrown<T: std::fmt::Debug>(result: Result<T, JsValue>) -> String {
    let err = result.expect_err("the call should throw");
    let err: js_sys::Error = err.dyn_into().expect("an Error object is thrown");
    err.message().into()
}

fn doc_with(text: &str) -> Doc {
    Doc::new(&s(text), 0.0).unwrap()
}

fn online_doc(text: &str, user: f64) -> Doc {
    let mut doc = doc_with(text);
    doc.identified(user).unwrap();
    assert!(doc.resume().is_undefined());
    doc
}

/// The engine is the one the test script asked for: the browser run must
/// not silently fall back to Node. `option_env!` is read when the test
/// crate is compiled, and cargo rebuilds it when the variable changes.
#[wasm_bindgen_test]
fn runs_in_the_requested_engine() {
    let in_browser = Reflect::has(&js_sys::global(), &s("document")).unwrap();
    let browser_requested = option_env!("WASM_BINDGEN_USE_BROWSER").is_some();
    assert_eq!(in_browser, browser_requested);
}

#[wasm_bindgen_test]
fn local_changes_convert_astral_and_combining_text() {
    // 'a', 😀 (a surrogate pair), 'e' + U+0301 (two code points), 'b'.
    let mut doc = online_doc("a😀e\u{301}b", 1.0);
    assert_eq!(doc.len_utf16(), 6.0);
    assert_eq!(doc.len_chars(), 5.0);
    // Replace the emoji by a family emoji (a ZWJ sequence of 5 code
    // points, 8 UTF-16 units), delete the combining mark, append "!".
    let sub = doc
        .local_changes(&json(r#"[[1, 3, "👩‍👩‍👧"], [4, 5, ""], [6, 6, "!"]]"#))
        .unwrap();
    assert_eq!(
        stringify(&sub),
        r#"{"revision":0,"seq":1,"operation":[1,"👩‍👩‍👧",-1,1,-1,1,"!"]}"#
    );
    assert_eq!(doc.text(), "a👩‍👩‍👧eb!");
    assert_eq!(doc.len_utf16(), 12.0);
    assert!(!doc.is_synchronized());
    assert_eq!(doc.outstanding_seq(), Some(1.0));
    assert_eq!(doc.next_seq(), 2.0);
    // Nothing changed: no submission, nothing buffered.
    assert!(doc.local_changes(&json("[]")).unwrap().is_undefined());
    assert!(doc
        .local_changes(&json(r#"[[3, 3, ""]]"#))
        .unwrap()
        .is_undefined());
    assert!(doc.buffer().is_undefined());
}

#[wasm_bindgen_test]
fn remote_operations_become_utf16_change_specs() {
    let mut doc = online_doc("😀x🦀y", 1.0);
    // Our pending edit: "é" at the very start.
    doc.local_changes(&json(r#"[[0, 0, "é"]]"#)).unwrap();
    // Someone else, on the server text "😀x🦀y": replace 'x' (code point
    // 1) by "中", delete 🦀, append "𝔸".
    let got = doc
        .receive(2.0, &json(r#"[1, "中", -1, -1, 1, "𝔸"]"#))
        .unwrap();
    // Local text before: "é😀x🦀y" -> é(0) 😀(1..3) x(3) 🦀(4..6) y(6).
    // The two deletes are one component, so "中" replaces both.
    assert_eq!(
        stringify(&got),
        concat!(
            r#"{"kind":"remote","changes":["#,
            r#"{"from":3,"to":6,"insert":"中"},"#,
            r#"{"from":7,"to":7,"insert":"𝔸"}]}"#
        )
    );
    assert_eq!(doc.text(), "é😀中y𝔸");
    assert_eq!(doc.revision(), 1.0);
    // The changes, applied the way CodeMirror applies a ChangeSpec list
    // (all offsets in the text before), give the same text.
    let mut editor: Vec<u16> = "é😀x🦀y".encode_utf16().collect();
    let changes: Array = get(&got, "changes").dyn_into().unwrap();
    for change in changes.iter().collect::<Vec<_>>().into_iter().rev() {
        let from = get(&change, "from").as_f64().unwrap() as usize;
        let to = get(&change, "to").as_f64().unwrap() as usize;
        let insert = get(&change, "insert").as_string().unwrap();
        editor.splice(from..to, insert.encode_utf16());
    }
    assert_eq!(String::from_utf16(&editor).unwrap(), doc.text());
}

#[wasm_bindgen_test]
fn acknowledgements_release_buffered_edits() {
    let mut doc = online_doc("", 7.0);
    let first = doc.local_changes(&json(r#"[[0, 0, "ab"]]"#)).unwrap();
    assert_eq!(
        stringify(&first),
        r#"{"revision":0,"seq":1,"operation":["ab"]}"#
    );
    // In flight: later edits are buffered, not sent.
    assert!(doc
        .local_changes(&json(r#"[[2, 2, "c"]]"#))
        .unwrap()
        .is_undefined());
    assert!(doc
        .local_changes(&json(r#"[[0, 1, ""]]"#))
        .unwrap()
        .is_undefined());
    assert_eq!(stringify(&doc.outstanding()), r#"["ab"]"#);
    assert_eq!(stringify(&doc.buffer()), r#"[-1,1,"c"]"#);
    // A remote edit arrives first; the buffered edit is rebased.
    doc.receive(3.0, &json(r#"["Z"]"#)).unwrap();
    assert_eq!(doc.text(), "bcZ");
    // Our edit comes back: the buffer goes out as edit 2 at revision 2.
    let ack = doc.receive(7.0, &get(&first, "operation")).unwrap();
    assert_eq!(
        stringify(&ack),
        r#"{"kind":"ack","next":{"revision":2,"seq":2,"operation":[-1,1,"c",1]}}"#
    );
    let next = get(&ack, "next");
    let ack = doc.receive(7.0, &get(&next, "operation")).unwrap();
    assert_eq!(stringify(&ack), r#"{"kind":"ack"}"#);
    assert!(doc.is_synchronized());
    assert_eq!(doc.revision(), 3.0);
    assert_eq!(doc.text(), "bcZ");
    // An acknowledgement with nothing outstanding is a protocol error.
    let msg = thrown(doc.receive(7.0, &json(r#"[3]"#)));
    assert!(msg.contains("unexpected event"), "{msg}");
}

#[wasm_bindgen_test]
fn offline_edits_are_resent_on_resume() {
    let mut doc = Doc::with_next_seq(&s("x"), 10.0, 40.0).unwrap();
    doc.identified(1.0).unwrap();
    // Offline: edits are kept, nothing is sent.
    assert!(doc
        .local_changes(&json(r#"[[1, 1, "😀"]]"#))
        .unwrap()
        .is_undefined());
    doc.receive(2.0, &json(r#"["A", 1]"#)).unwrap();
    let sub = doc.resume();
    assert_eq!(
        stringify(&sub),
        r#"{"revision":11,"seq":40,"operation":[2,"😀"]}"#
    );
    assert!(doc.is_online());
    doc.disconnected();
    assert!(!doc.is_online());
}

#[wasm_bindgen_test]
fn cursors_map_between_local_utf16_and_remote_code_points() {
    let mut doc = online_doc("a😀b", 1.0);
    // Pending local insert of "🦀" after 'a' (UTF-16 1).
    doc.local_changes(&json(r#"[[1, 1, "🦀"]]"#)).unwrap();
    // Local "a🦀😀b", server "a😀b".
    assert_eq!(doc.remote_index_to_local(0.0).unwrap(), 0.0);
    assert_eq!(doc.remote_index_to_local(1.0).unwrap(), 3.0);
    assert_eq!(doc.remote_index_to_local(2.0).unwrap(), 5.0);
    assert_eq!(doc.remote_index_to_local(3.0).unwrap(), 6.0);
    assert_eq!(doc.local_index_to_remote(0.0).unwrap(), 0.0);
    // Inside our unacknowledged insert: its insertion point.
    assert_eq!(doc.local_index_to_remote(1.0).unwrap(), 1.0);
    assert_eq!(doc.local_index_to_remote(3.0).unwrap(), 1.0);
    assert_eq!(doc.local_index_to_remote(5.0).unwrap(), 2.0);
    assert_eq!(doc.local_index_to_remote(6.0).unwrap(), 3.0);
    let msg = thrown(doc.local_index_to_remote(4.0));
    assert!(msg.contains("splits a surrogate pair"), "{msg}");
    let msg = thrown(doc.local_index_to_remote(7.0));
    assert!(msg.contains("out of range"), "{msg}");
    let msg = thrown(doc.remote_index_to_local(4.0));
    assert!(msg.contains("out of range"), "{msg}");
    let msg = thrown(doc.remote_index_to_local(-1.0));
    assert!(msg.contains("must be an integer"), "{msg}");
    let msg = thrown(doc.local_index_to_remote(0.5));
    assert!(msg.contains("must be an integer"), "{msg}");
}

#[wasm_bindgen_test]
fn invalid_wire_operations_throw() {
    let cases: [(JsValue, &str); 13] = [
        (json("[0]"), "zero-length"),
        (json(r#"[""]"#), "zero-length"),
        (json("[1.5]"), "non-integer"),
        (
            Array::of1(&JsValue::from_f64(f64::NAN)).into(),
            "non-integer",
        ),
        (
            Array::of1(&JsValue::from_f64(f64::INFINITY)).into(),
            "non-integer",
        ),
        (json("[4294967296]"), "out of range"),
        (json("[-4294967296]"), "out of range"),
        (json("[4294967295, 1]"), "too long"),
        (json("[true]"), "must be non-zero integers"),
        (json("[[1]]"), "must be non-zero integers"),
        (json(r#"["\ud83d"]"#), "lone UTF-16 surrogate"),
        (json(r#"{"0": 1}"#), "must be an array"),
        // A sparse array claiming 2^32 - 1 elements: refused at its first
        // hole, without reserving room for what it claims.
        (
            Array::new_with_length(u32::MAX).into(),
            "must be non-zero integers",
        ),
    ];
    for (op, expected) in cases {
        let msg = thrown(apply(&s("x"), &op));
        assert!(
            msg.contains(expected),
            "{}: {msg:?} lacks {expected:?}",
            stringify(&op)
        );
    }
    // The element is named in the message.
    let huge = Array::new_with_length(u32::MAX);
    let msg = thrown(doc_with("x").local_changes(&huge));
    assert!(msg.contains("invalid change 0"), "{msg}");
    let msg = thrown(compose(&json(r#"[1, "a", 0]"#), &json("[2]")));
    assert_eq!(msg, "invalid a: element 2: zero-length operation component");

    // A Doc refuses them too, and is unchanged afterwards.
    let mut doc = online_doc("abc", 1.0);
    assert!(thrown(doc.receive(2.0, &json("[3, -0.5]"))).contains("non-integer"));
    assert!(thrown(doc.receive(2.0, &json("[2]"))).contains("length mismatch"));
    assert!(thrown(doc.receive(-2.0, &json("[3]"))).contains("author"));
    assert_eq!(doc.revision(), 0.0);
    assert_eq!(doc.text(), "abc");
}

#[wasm_bindgen_test]
fn free_functions_match_the_core() {
    assert_eq!(
        apply(&s("h😀llo"), &json(r#"[1, "é", -1, 3]"#)).unwrap(),
        "héllo"
    );
    let composed = compose(&json(r#"[1, "é", -1, 3]"#), &json(r#"[-2, 3]"#)).unwrap();
    assert_eq!(stringify(&composed), "[-2,3]");
    let pair = transform(&json(r#"["a", 2]"#), &json(r#"["b", 2]"#)).unwrap();
    // The tie-break puts the first argument's insert first.
    assert_eq!(stringify(&pair), r#"[["a",3],[1,"b",2]]"#);
    assert_eq!(
        transform_index(&json(r#"[1, "😀😀", 2]"#), 1.0).unwrap(),
        3.0
    );
    assert!(thrown(apply(&s("xy"), &json("[3]"))).contains("length mismatch"));
    assert!(thrown(compose(&json("[1]"), &json("[2]"))).contains("length mismatch"));
    assert!(thrown(transform(&json("[1]"), &json("[2]"))).contains("length mismatch"));
    assert!(thrown(transform_index(&json("[1]"), 2.0)).contains("out of range"));
    assert!(thrown(apply(&json("5"), &json("[1]"))).contains("text must be a string"));
}

#[wasm_bindgen_test]
fn bad_local_changes_throw_and_change_nothing() {
    let mut doc = online_doc("😀ab", 1.0);
    let cases = [
        (r#"[[1, 1, "x"]]"#, "splits a surrogate pair"),
        (r#"[[0, 1, ""]]"#, "splits a surrogate pair"),
        (r#"[[0, 5, ""]]"#, "out of range"),
        (r#"[[5, 5, "x"]]"#, "out of range"),
        (r#"[[3, 2, ""]]"#, "`from` is after `to`"),
        (r#"[[3, 4, ""], [2, 2, "x"]]"#, "sorted"),
        (r#"[[0, 3, ""], [2, 4, ""]]"#, "sorted"),
        (r#"[[0, 0]]"#, "expected [from, to, insert]"),
        (r#"[["0", 0, "x"]]"#, "expected [from, to, insert]"),
        (r#"[[0, 0, "x", 1]]"#, "expected [from, to, insert]"),
        (r#"[{"from": 0}]"#, "expected [from, to, insert]"),
        (r#"[[0, 0, 5]]"#, "inserted text must be a string"),
        (r#"[[0.5, 1, ""]]"#, "must be an integer"),
        (r#"[[-1, 0, ""]]"#, "must be an integer"),
        (r#"[[2, 2, "\ud83d"]]"#, "lone UTF-16 surrogate"),
        (r#"{"length": 0}"#, "changes must be an array"),
    ];
    for (changes, expected) in cases {
        let msg = thrown(doc.local_changes(&json(changes)));
        assert!(
            msg.contains(expected),
            "{changes}: {msg:?} lacks {expected:?}"
        );
    }
    // A failure in a later change leaves the earlier ones unapplied too.
    thrown(doc.local_changes(&json(r#"[[0, 0, "ok"], [1, 1, "bad"]]"#)));
    assert_eq!(doc.text(), "😀ab");
    assert!(doc.is_synchronized());
    assert_eq!(doc.next_seq(), 1.0);
    // Constructor and numbers.
    assert!(thrown(Doc::new(&s("\u{1F600}"), -1.0)).contains("revision"));
    assert!(thrown(Doc::new(&s("x"), 2f64.powi(53))).contains("revision"));
    assert!(thrown(Doc::new(&json(r#""\ud83d""#), 0.0)).contains("lone"));
    assert!(thrown(Doc::new(&JsValue::NULL, 0.0)).contains("text must be a string"));
    assert!(thrown(doc.identified(0.5)).contains("user"));
}

/// A small deterministic generator, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// One simulated browser: the editor's text as UTF-16 (what CodeMirror
/// holds) and its `Doc`.
struct Peer {
    user: f64,
    editor: Vec<u16>,
    doc: Doc,
    /// Submissions not yet processed by the server, in order.
    outbox: Vec<JsValue>,
    /// How many history entries this peer has received.
    seen: usize,
}

impl Peer {
    fn send(&mut self, submission: JsValue) {
        if !submission.is_undefined() {
            self.outbox.push(submission);
        }
    }

    /// Code point boundaries of the editor text, as UTF-16 offsets.
    fn boundaries(&self) -> Vec<usize> {
        let mut out = vec![0];
        for (i, &unit) in self.editor.iter().enumerate() {
            // A high surrogate's position + 1 is mid-pair.
            if !(0xD800..0xDC00).contains(&unit) {
                out.push(i + 1);
            }
        }
        out
    }

    /// A random edit of one to three changes, like a CodeMirror
    /// transaction, applied to the editor and handed to the Doc.
    fn edit(&mut self, rng: &mut Rng) {
        let pieces = ["a", "é", "e\u{301}", "😀", "👩‍👩‍👧", "\n", "中", "𝔸"];
        let bounds = self.boundaries();
        let mut cuts: Vec<usize> = (0..2 * (1 + rng.below(3)))
            .map(|_| bounds[rng.below(bounds.len())])
            .collect();
        cuts.sort_unstable();
        let changes = Array::new();
        let mut edits = Vec::new();
        for pair in cuts.chunks(2) {
            let insert: String = (0..rng.below(3))
                .map(|_| pieces[rng.below(pieces.len())])
                .collect();
            let triple = Array::of3(
                &JsValue::from_f64(pair[0] as f64),
                &JsValue::from_f64(pair[1] as f64),
                &s(&insert),
            );
            changes.push(&triple);
            edits.push((pair[0], pair[1], insert));
        }
        for (from, to, insert) in edits.iter().rev() {
            self.editor.splice(from..to, insert.encode_utf16());
        }
        let sub = self.doc.local_changes(&changes).unwrap();
        self.send(sub);
        self.check();
    }

    /// Delivers a history entry, applying remote changes to the editor as
    /// CodeMirror would.
    fn deliver(&mut self, author: f64, op: &JsValue) {
        let result = self.doc.receive(author, op).unwrap();
        self.seen += 1;
        match get(&result, "kind").as_string().as_deref() {
            Some("ack") => {
                let next = get(&result, "next");
                self.send(next);
            }
            Some("remote") => {
                let changes: Array = get(&result, "changes").dyn_into().unwrap();
                for change in changes.iter().collect::<Vec<_>>().into_iter().rev() {
                    let from = get(&change, "from").as_f64().unwrap() as usize;
                    let to = get(&change, "to").as_f64().unwrap() as usize;
                    let insert = get(&change, "insert").as_string().unwrap();
                    self.editor.splice(from..to, insert.encode_utf16());
                }
            }
            other => panic!("unexpected kind {other:?}"),
        }
        self.check();
    }

    fn check(&self) {
        assert_eq!(String::from_utf16(&self.editor).unwrap(), self.doc.text());
        assert_eq!(self.doc.len_utf16() as usize, self.editor.len());
    }
}

/// The server's side, built from the free functions: a history of
/// `(author, operation)` and the text.
struct Server {
    history: Vec<(f64, JsValue)>,
    text: String,
}

impl Server {
    /// Rebases a submission over the history it has not seen and appends
    /// it (`incoming.transform(entry)`, as the real server does).
    fn submit(&mut self, author: f64, submission: &JsValue) {
        let revision = get(submission, "revision").as_f64().unwrap() as usize;
        let mut op = get(submission, "operation");
        for (_, entry) in &self.history[revision..] {
            let pair = transform(&op, entry).unwrap();
            op = get(&pair, "0");
        }
        self.text = apply(&s(&self.text), &op).unwrap();
        self.history.push((author, op));
    }
}

/// Three peers typing emoji, combining marks and CJK concurrently, with
/// messages delivered in random interleavings, converge on the server's
/// text; every editor equals its Doc after every step.
#[wasm_bindgen_test]
fn random_sessions_converge() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = "hé😀 world";
    let mut server = Server {
        history: Vec::new(),
        text: start.to_owned(),
    };
    let mut peers: Vec<Peer> = (1..=3)
        .map(|user| {
            let user = f64::from(user);
            Peer {
                user,
                editor: start.encode_utf16().collect(),
                doc: online_doc(start, user),
                outbox: Vec::new(),
                seen: 0,
            }
        })
        .collect();
    for _ in 0..1500 {
        let p = rng.below(peers.len());
        match rng.below(4) {
            0 | 1 => peers[p].edit(&mut rng),
            2 => {
                if !peers[p].outbox.is_empty() {
                    let sub = peers[p].outbox.remove(0);
                    server.submit(peers[p].user, &sub);
                }
            }
            _ => {
                if let Some((author, op)) = server.history.get(peers[p].seen).cloned() {
                    peers[p].deliver(author, &op);
                }
            }
        }
    }
    // Drain: submit and deliver everything until quiet.
    loop {
        let mut busy = false;
        for peer in &mut peers {
            while !peer.outbox.is_empty() {
                let sub = peer.outbox.remove(0);
                server.submit(peer.user, &sub);
                busy = true;
            }
            while let Some((author, op)) = server.history.get(peer.seen).cloned() {
                peer.deliver(author, &op);
                busy = true;
            }
        }
        if !busy {
            break;
        }
    }
    assert!(
        server.history.len() > 50,
        "only {} edits reached the server",
        server.history.len()
    );
    for peer in &peers {
        assert!(peer.doc.is_synchronized());
        assert_eq!(peer.doc.text(), server.text);
        assert_eq!(peer.doc.revision() as usize, server.history.len());
    }
}
