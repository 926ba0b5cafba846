//! The checks behind the fuzz targets, written against the public APIs of
//! `tandem-ot` and `tandem-server` only. They panic on any broken
//! invariant (which libFuzzer reports as a crash) and must never panic on
//! merely bad input.
//!
//! The same file is compiled into the server's test suite
//! (`tests/server/fuzz_regressions.rs`, through `#[path]`), where crashes
//! found by fuzzing are replayed as plain `#[test]`s on stable Rust.

use std::collections::HashMap;

use tandem_ot::{Component, Operation, Text};
use tandem_server::access::{Access, ChangeError};
use tandem_server::document::{Document, EditOutcome, JoinError, Session};
use tandem_server::protocol::client::{self, ServerMsg};
use tandem_server::protocol::{self, encode, ClientMsg, Close, CursorData, ErrorCode, UserInfo};
use tandem_server::store::{JournalEntry, StoredDocument};
use tandem_server::{otp, validate};

/// Reads choices from fuzz input; once it is used up every read is zero,
/// so any input is a complete program.
pub struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data, at: 0 }
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.at >= self.data.len()
    }

    /// The next byte (0 when exhausted).
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    /// A number in `0..n` from two bytes (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let v = usize::from(self.byte()) << 8 | usize::from(self.byte());
        v % n
    }

    /// Up to `n` raw bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.at.min(self.data.len());
        let end = self.at.saturating_add(n).min(self.data.len());
        self.at = self.at.saturating_add(n);
        &self.data[start..end]
    }
}

/// Code points generated text is made of: ASCII, two-, three- and
/// four-byte UTF-8, a control character and a line break.
const ALPHABET: [char; 8] = ['a', 'b', ' ', '\n', 'é', '中', '😀', '\u{0}'];

/// A text of at most `max` code points.
pub fn text(b: &mut Bytes, max: usize) -> String {
    let n = b.below(max + 1);
    (0..n)
        .map(|_| ALPHABET[usize::from(b.byte()) % ALPHABET.len()])
        .collect()
}

/// An operation that applies to a text of `len` code points.
pub fn operation_for(b: &mut Bytes, len: usize) -> Operation {
    let mut op = Operation::new();
    let mut left = len;
    for _ in 0..12 {
        if b.is_empty() {
            break;
        }
        match b.byte() % 4 {
            0 if left > 0 => {
                let n = 1 + b.below(left);
                op.retain(n);
                left -= n;
            }
            1 if left > 0 => {
                let n = 1 + b.below(left.min(8));
                op.delete(n);
                left -= n;
            }
            2 => {
                let s = text(b, 4);
                op.insert(&s);
            }
            _ => {}
        }
    }
    op.retain(left);
    op
}

/// Panics unless `op` is canonical and its lengths add up.
pub fn assert_canonical(op: &Operation) {
    let mut base = 0usize;
    let mut target = 0usize;
    for c in op.components() {
        match c {
            Component::Retain(n) => {
                assert!(*n > 0, "empty retain in {op:?}");
                base += n;
                target += n;
            }
            Component::Delete(n) => {
                assert!(*n > 0, "empty delete in {op:?}");
                base += n;
            }
            Component::Insert(s) => {
                assert!(!s.is_empty(), "empty insert in {op:?}");
                target += s.chars().count();
            }
        }
    }
    for w in op.components().windows(2) {
        let same = std::mem::discriminant(&w[0]) == std::mem::discriminant(&w[1]);
        assert!(!same, "equal neighbours in {op:?}");
        assert!(
            !matches!((&w[0], &w[1]), (Component::Delete(_), Component::Insert(_))),
            "delete before an adjacent insert in {op:?}"
        );
    }
    assert_eq!((op.base_len(), op.target_len()), (base, target), "{op:?}");
}

/// The wire encoding decodes back to the same operation.
fn assert_round_trip(op: &Operation) {
    let json = serde_json::to_string(op).expect("a canonical operation encodes");
    let back: Operation = serde_json::from_str(&json).expect("its encoding decodes");
    assert_eq!(&back, op, "{json}");
}

/// Whether base position `i` is removed by `op`.
fn deleted(op: &Operation, i: usize) -> bool {
    let mut base = 0;
    for c in op.components() {
        match c {
            Component::Retain(n) => base += n,
            Component::Delete(n) => {
                if i < base + n {
                    return i >= base;
                }
                base += n;
            }
            Component::Insert(_) => {}
        }
    }
    false
}

/// Every property of one operation `a` on the text `s` it applies to.
pub fn check_one(s: &str, a: &Operation) {
    assert_canonical(a);
    assert_round_trip(a);
    let after = a
        .apply(s)
        .expect("an operation of the text's length applies");
    assert_eq!(after.chars().count(), a.target_len());
    let mut rope = Text::from(s);
    assert_eq!(rope.len_bytes_after(a).expect("applies"), after.len());
    let inverse = a.invert(s).expect("invertible");
    assert_eq!(rope.invert(a).expect("invertible"), inverse);
    rope.apply(a).expect("applies to the rope");
    assert_eq!(rope.to_string(), after, "rope and string disagree");
    assert_eq!(inverse.apply(&after).expect("the inverse applies"), s);
    let mut last = 0;
    for i in 0..=a.base_len() {
        let j = a.transform_index(i).expect("in range");
        assert!(j >= last && j <= a.target_len(), "{a:?} moves {i} to {j}");
        last = j;
        let back = a.transform_index_back(j).expect("in range");
        if !deleted(a, i) {
            assert_eq!(back, i, "{a:?}: {i} -> {j} -> {back}");
        }
    }
    assert!(a.transform_index(a.base_len() + 1).is_err());
    assert!(a.transform_index_back(a.target_len() + 1).is_err());
}

/// Transformation (TP1) of two concurrent operations on `s`.
pub fn check_concurrent(s: &str, a: &Operation, b: &Operation) {
    let (a2, b2) = a.transform(b).expect("same base length");
    assert_canonical(&a2);
    assert_canonical(&b2);
    let via_a = b2.apply(&a.apply(s).unwrap()).expect("b' applies after a");
    let via_b = a2.apply(&b.apply(s).unwrap()).expect("a' applies after b");
    assert_eq!(via_a, via_b, "TP1 fails for {a:?} and {b:?} on {s:?}");
}

/// Composition of `a` and then `c` on `s`.
pub fn check_sequential(s: &str, a: &Operation, c: &Operation) {
    let ac = a.compose(c).expect("c applies after a");
    assert_canonical(&ac);
    let stepwise = c.apply(&a.apply(s).unwrap()).unwrap();
    assert_eq!(ac.apply(s).expect("the composition applies"), stepwise);
}

/// Calls everything with operations of any lengths: only errors, no
/// panics.
fn poke(a: &Operation, b: &Operation, s: &str) {
    let _ = a.apply(s);
    let _ = a.invert(s);
    let _ = a.compose(b);
    let _ = a.transform(b);
    let _ = b.transform(a);
    let _ = a.transform_index(s.len());
    let _ = a.transform_index_back(usize::MAX);
    let mut t = Text::from(s);
    let _ = t.len_bytes_after(a);
    let _ = t.invert(a);
    let _ = t.apply(a);
}

/// Target `operation`: the input up to the first `0xFF` and up to the
/// second one are decoded as JSON operations; the rest drives generated
/// texts and operations. Decoded operations are checked like generated
/// ones when their lengths allow.
pub fn operation(data: &[u8]) {
    let mut parts = data.splitn(3, |c| *c == 0xFF);
    let decoded: Vec<Operation> = parts
        .by_ref()
        .take(2)
        .filter_map(|p| serde_json::from_slice::<Operation>(p).ok())
        .collect();
    let mut b = Bytes::new(parts.next().unwrap_or_default());
    for a in &decoded {
        assert_canonical(a);
        assert_round_trip(a);
        for other in &decoded {
            poke(a, other, "some text");
        }
        if a.base_len() <= 256 {
            let s: String = (0..a.base_len())
                .map(|_| ALPHABET[usize::from(b.byte()) % ALPHABET.len()])
                .collect();
            check_one(&s, a);
            let other = operation_for(&mut b, a.base_len());
            check_concurrent(&s, a, &other);
            check_concurrent(&s, &other, a);
            let next = operation_for(&mut b, a.target_len());
            check_sequential(&s, a, &next);
        }
    }
    if let [a, c] = decoded.as_slice() {
        if a.base_len() == c.base_len() && a.base_len() <= 256 {
            let s = "x".repeat(a.base_len());
            check_concurrent(&s, a, c);
        }
        if a.target_len() == c.base_len() && a.base_len() <= 256 {
            let s = "y".repeat(a.base_len());
            check_sequential(&s, a, c);
        }
    }
    // Generated: a text and operations that fit it.
    let s = text(&mut b, 24);
    let len = s.chars().count();
    let a = operation_for(&mut b, len);
    let other = operation_for(&mut b, len);
    let next = operation_for(&mut b, a.target_len());
    check_one(&s, &a);
    check_concurrent(&s, &a, &other);
    check_sequential(&s, &a, &next);
    let misfit = operation_for(&mut b, len + 1);
    poke(&a, &misfit, &s);
}

/// Target `protocol_decode`: any text through both decoders; whatever
/// decodes re-encodes (with the encoders of the other side) to an equal
/// message.
pub fn protocol_decode(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = protocol::decode(s) {
        client_round_trip(&m);
    }
    if let Ok(m) = client::decode(s) {
        server_round_trip(&m);
    }
    if let Ok((_, op)) = protocol::decode_entry(s) {
        assert_canonical(&op);
    }
}

fn client_round_trip(m: &ClientMsg) {
    let encoded = match m {
        ClientMsg::Hello(h) => {
            let info = match &h.info {
                None => None,
                Some(i) => match u32::try_from(i.hue) {
                    Ok(hue) => Some((i.name.as_str(), hue)),
                    Err(_) => return,
                },
            };
            client::hello(&h.client, h.revision, h.epoch.as_deref(), info)
        }
        ClientMsg::Edit(e) => {
            assert_canonical(&e.operation);
            client::edit(e.revision, e.seq, &e.operation)
        }
        ClientMsg::SetLanguage(name) => client::set_language(name),
        ClientMsg::ClientInfo(i) => match u32::try_from(i.hue) {
            Ok(hue) => client::client_info(&i.name, hue),
            Err(_) => return,
        },
        ClientMsg::CursorData(c) => {
            let cursors: Option<Vec<usize>> =
                c.cursors.iter().map(|p| usize::try_from(*p).ok()).collect();
            let selections: Option<Vec<(usize, usize)>> = c
                .selections
                .iter()
                .map(|(a, b)| Some((usize::try_from(*a).ok()?, usize::try_from(*b).ok()?)))
                .collect();
            match (cursors, selections) {
                (Some(cs), Some(ss)) => client::cursor(&cs, &ss, c.revision),
                _ => return,
            }
        }
        ClientMsg::SetOtp(o) => client::set_otp(o.enabled),
        ClientMsg::SetViewLink(o) => client::set_view_link(o.enabled),
    };
    let back = protocol::decode(&encoded)
        .unwrap_or_else(|e| panic!("{encoded} (from {m:?}) does not decode: {e}"));
    assert_eq!(&back, m, "{encoded}");
}

fn server_round_trip(m: &ServerMsg) {
    let encoded = match m {
        ServerMsg::Identity(u) => encode::identity(*u),
        ServerMsg::History(h) => {
            let entries: Vec<String> = h
                .operations
                .iter()
                .map(|e| encode::entry(e.id, &e.operation))
                .collect();
            encode::history(h.start, entries.iter().map(String::as_str))
        }
        ServerMsg::Snapshot(s) => encode::snapshot(s.revision, &s.text, s.last_seq, &s.epoch),
        ServerMsg::Language(l) => encode::language(&l.language, l.user_id, l.user_name.as_deref()),
        ServerMsg::UserInfo(u) => {
            let info = u.info.as_ref().map(|i| UserInfo {
                name: i.name.clone(),
                hue: i.hue,
            });
            encode::user_info(u.id, info.as_ref())
        }
        ServerMsg::UserCursor(c) => encode::user_cursor(
            c.id,
            &CursorData {
                cursors: c.data.cursors.clone(),
                selections: c.data.selections.clone(),
            },
        ),
        ServerMsg::Otp(o) => encode::otp(o.otp.as_deref(), o.user_id, o.user_name.as_deref()),
        ServerMsg::ViewLink(v) => {
            encode::view_link(v.secret.as_deref(), v.user_id, v.user_name.as_deref())
        }
        ServerMsg::ReadOnly(_) => encode::read_only(),
        ServerMsg::Error(e) => match ErrorCode::ALL.iter().find(|c| c.as_str() == e.code) {
            Some(code) => encode::error(*code, &e.message),
            None => return,
        },
    };
    let back = client::decode(&encoded)
        .unwrap_or_else(|e| panic!("{encoded} (from {m:?}) does not decode: {e}"));
    assert_eq!(&back, m, "{encoded}");
}

/// Client identities the `document` target uses (slot `i` has key `i`).
const KEYS: [&str; 4] = [
    "fuzz-client-key-0",
    "fuzz-client-key-1",
    "fuzz-client-key-2",
    "fuzz-client-key-3",
];

/// The `document` target's model of one document: what an observer
/// connection has seen, what each identity has had applied, what a store
/// would hold.
struct Model {
    doc: Document,
    observer: Session,
    /// The text at every revision, as the observer reconstructed it.
    texts: Vec<String>,
    /// The applied operation of every revision.
    ops: Vec<Operation>,
    /// Open sessions by slot.
    slots: [Option<Session>; 4],
    /// Sessions replaced by a newer one of the same identity.
    replaced: Vec<Session>,
    /// Highest applied `seq` per identity.
    last_seq: [u64; 4],
    /// The OTP, when protected.
    otp: Option<String>,
    /// The last snapshot "written", and the journal rows after it.
    stored: Option<StoredDocument>,
    journal: Vec<JournalEntry>,
    /// The revision up to which the store holds every edit.
    durable: u64,
}

impl Model {
    fn revision(&self) -> u64 {
        self.texts.len() as u64 - 1
    }

    /// Brings the observer up to date and checks it against the document.
    fn observe(&mut self) {
        let msgs = self
            .doc
            .updates(&mut self.observer)
            .expect("the observer is never replaced");
        for m in msgs {
            let decoded = client::decode(&m).unwrap_or_else(|e| panic!("{m}: {e}"));
            if let ServerMsg::History(h) = decoded {
                assert_eq!(h.start, self.revision(), "history gap: {m}");
                for e in h.operations {
                    let next = e
                        .operation
                        .apply(self.texts.last().unwrap())
                        .expect("history entries apply");
                    self.texts.push(next);
                    self.ops.push(e.operation);
                }
            }
        }
        assert_eq!(self.doc.revision(), self.revision());
        assert_eq!(&self.doc.text(), self.texts.last().unwrap());
    }

    /// Checks a greeting: identity first, then a catch-up that brings a
    /// client from `revision` to the current text.
    fn check_greeting(&self, greeting: &[String], revision: Option<u64>, slot: usize) {
        let msgs: Vec<ServerMsg> = greeting
            .iter()
            .map(|m| client::decode(m).unwrap_or_else(|e| panic!("{m}: {e}")))
            .collect();
        assert!(matches!(msgs[0], ServerMsg::Identity(_)), "{greeting:?}");
        let current = self.revision();
        match (&msgs[1], revision) {
            (ServerMsg::History(h), Some(r)) => {
                assert_eq!(h.start, r);
                let mut t = self.texts[r as usize].clone();
                for e in &h.operations {
                    t = e.operation.apply(&t).expect("catch-up applies");
                }
                assert_eq!(&t, self.texts.last().unwrap());
            }
            (ServerMsg::Snapshot(s), r) => {
                assert!(
                    r.is_none_or(|r| r > current),
                    "snapshot for {r:?} at {current}"
                );
                assert_eq!(s.revision, current);
                assert_eq!(&s.text, self.texts.last().unwrap());
                assert_eq!(s.last_seq, self.last_seq[slot]);
            }
            (other, r) => panic!("catch-up for {r:?}: {other:?}"),
        }
    }

    fn join(&mut self, slot: usize, revision: Option<u64>, info: Option<UserInfo>, good_otp: bool) {
        let otp = match (&self.otp, good_otp) {
            (Some(o), true) => Some(o.clone()),
            (Some(_), false) => Some("wrong".to_owned()),
            (None, _) => None,
        };
        match self.doc.join(
            revision,
            None,
            info,
            otp::hash(KEYS[slot]),
            &Access::new(otp.as_deref(), None),
        ) {
            Ok((session, greeting)) => {
                assert!(self.otp.is_none() || good_otp, "joined with a wrong OTP");
                self.check_greeting(&greeting, revision, slot);
                if let Some(old) = self.slots[slot].replace(session) {
                    self.replaced.push(old);
                }
            }
            Err(JoinError::Unauthorized) => assert!(self.otp.is_some() && !good_otp),
            Err(JoinError::Evicted) => panic!("never evicted here"),
        }
    }

    /// An edit from `slot`, checked against the model: exactly-once by
    /// `seq`, range checks, and the server's transformation.
    fn edit(&mut self, slot: usize, revision: u64, seq: u64, op: Operation, max_bytes: usize) {
        let Some(session) = &self.slots[slot] else {
            return;
        };
        let current = self.revision();
        let fits =
            revision <= current && op.base_len() == self.texts[revision as usize].chars().count();
        let msg = protocol::EditMsg {
            revision,
            seq,
            operation: op.clone(),
        };
        let result = self.doc.edit(session, msg, max_bytes);
        if seq <= self.last_seq[slot] {
            assert_eq!(result, Ok(EditOutcome::Duplicate), "seq {seq} again");
            return;
        }
        // What the server must make of it: the operation transformed past
        // every entry since its revision.
        let expected = fits.then(|| {
            let mut t = op;
            for past in &self.ops[revision as usize..] {
                t = t.transform(past).expect("fits").0;
            }
            t
        });
        match result {
            Ok(EditOutcome::Applied(at)) => {
                let expected = expected.expect("applied an edit that does not fit");
                assert_eq!(at, current);
                self.last_seq[slot] = seq;
                self.observe();
                assert_eq!(self.ops.last(), Some(&expected), "the server's transform");
            }
            Ok(EditOutcome::Duplicate) => panic!("seq {seq} is new"),
            Ok(EditOutcome::ReadOnly) => panic!("an editor's edit was refused as read-only"),
            Err(Close::RevisionOutOfRange(_)) => assert!(revision > current),
            Err(Close::DoesNotApply(_)) => assert!(expected.is_none(), "a fitting edit refused"),
            Err(Close::DocumentTooLarge(_)) => {
                let expected = expected.expect("refused for size, not for its length");
                let now = self.texts.last().unwrap();
                let size = expected.apply(now).expect("applies").len();
                assert!(size > max_bytes && size > now.len(), "{size} bytes refused");
            }
            Err(e) => panic!("edit failed with {e:?}"),
        }
    }

    /// A client message decoded from raw text, as a connection would
    /// handle it.
    fn raw(&mut self, slot: usize, s: &str, max_bytes: usize) {
        let Ok(msg) = protocol::decode(s) else {
            return;
        };
        match msg {
            ClientMsg::Hello(h) => {
                if validate::client_key(&h.client).is_ok() {
                    self.join(slot, h.revision, None, true);
                }
            }
            ClientMsg::Edit(e) => self.edit(slot, e.revision, e.seq, e.operation, max_bytes),
            ClientMsg::CursorData(c) => {
                if let Some(session) = &self.slots[slot] {
                    let _ = self.doc.set_cursor(session, c);
                }
            }
            ClientMsg::SetLanguage(name) => {
                if let Some(session) = &self.slots[slot] {
                    if validate::language(&name) {
                        self.doc.set_language(session, &name);
                    }
                }
            }
            ClientMsg::ClientInfo(i) => {
                if let (Some(session), Ok(name), Ok(hue)) = (
                    &self.slots[slot],
                    validate::user_name(&i.name, 64),
                    u32::try_from(i.hue),
                ) {
                    if hue < 360 {
                        self.doc.set_info(session, UserInfo { name, hue });
                    }
                }
            }
            ClientMsg::SetOtp(o) => self.set_otp(slot, o.enabled),
            ClientMsg::SetViewLink(o) => self.set_view_link(slot, o.enabled),
        }
    }

    fn set_otp(&mut self, slot: usize, enabled: bool) {
        let by = self.slots[slot].as_ref().map(|s| s.user);
        self.otp = enabled.then(|| format!("otp-{}", self.revision()));
        let change = self.doc.plan_otp(self.otp.clone(), None).expect("plans");
        self.doc.apply_protection(by, &change);
    }

    /// A read-only link can be made exactly when the document is protected.
    fn set_view_link(&mut self, slot: usize, enabled: bool) {
        let by = self.slots[slot].as_ref().map(|s| s.user);
        match self.doc.plan_view(enabled) {
            Ok(change) => self.doc.apply_protection(by, &change),
            Err(ChangeError::NotProtected) => assert!(enabled && self.otp.is_none()),
            Err(e) => panic!("read-only link change failed: {e}"),
        }
    }

    /// A snapshot write: the journal before its revision is dropped.
    fn save(&mut self) {
        let (stored, changes) = self.doc.snapshot(None);
        assert_eq!(stored.revision, self.revision());
        assert_eq!(&stored.text, self.texts.last().unwrap());
        self.doc.mark_saved(changes, stored.revision);
        self.journal.retain(|e| e.revision >= stored.revision);
        self.durable = self.durable.max(stored.revision);
        self.stored = Some(stored);
        assert!(!self.doc.is_dirty());
    }

    /// A journal flush.
    fn flush(&mut self) {
        let Some((batch, upto)) = self.doc.unjournaled() else {
            assert!(self.durable >= self.revision() || self.stored.is_none());
            return;
        };
        assert_eq!(upto, self.revision());
        for (i, e) in batch.entries.iter().enumerate() {
            assert_eq!(e.revision, upto - batch.entries.len() as u64 + i as u64);
        }
        self.journal.extend(batch.entries);
        self.doc.mark_journaled(upto);
        self.durable = upto;
    }

    /// A crash: the stored snapshot plus the journal, loaded again, is the
    /// text at the durable revision, and every identity's last applied
    /// `seq` as of then survives.
    fn crash(&self) {
        let Some(stored) = &self.stored else {
            return;
        };
        let mut s = stored.clone();
        s.journal = self
            .journal
            .iter()
            .filter(|e| e.revision >= stored.revision)
            .cloned()
            .collect();
        let back = Document::from_stored(s);
        let durable = self.durable.max(stored.revision);
        assert_eq!(back.revision(), durable);
        assert_eq!(back.text(), self.texts[durable as usize]);
        let mut expected: HashMap<[u8; 32], u64> = stored
            .clients
            .iter()
            .map(|c| (c.key_hash, c.last_seq))
            .collect();
        for e in self.journal.iter().filter(|e| e.revision < durable) {
            let v = expected.entry(e.key_hash).or_default();
            *v = (*v).max(e.seq);
        }
        for key in KEYS {
            let hash = otp::hash(key);
            let otp = self.otp.as_deref();
            // The snapshot may predate a protection change; try both.
            let joined = back
                .join(None, None, None, hash, &Access::new(otp, None))
                .or_else(|_| back.join(None, None, None, hash, &Access::new(None, None)));
            if let Ok((_, greeting)) = joined {
                let Ok(ServerMsg::Snapshot(snap)) = client::decode(&greeting[1]) else {
                    panic!("fresh join without a snapshot: {greeting:?}");
                };
                let want = expected.get(&hash).copied().unwrap_or(0);
                assert_eq!(snap.last_seq, want, "last_seq of {key} after a crash");
            }
        }
    }
}

/// Target `document`: a sequence of actions — joins (with any revision,
/// name, right or wrong OTP), edits built to fit or not, raw client
/// messages through the decoder, cursors, leaves, protection changes,
/// snapshot writes, journal flushes and simulated crashes — on one
/// `Document`, checked against a model after every step.
pub fn document(data: &[u8]) {
    let mut b = Bytes::new(data);
    let doc = Document::new("fuzz".into());
    let (observer, greeting) = doc
        .join(
            None,
            None,
            None,
            otp::hash("fuzz-observer-key"),
            &Access::new(None, None),
        )
        .expect("joins");
    let mut m = Model {
        doc,
        observer,
        texts: vec![String::new()],
        ops: Vec::new(),
        slots: [None, None, None, None],
        replaced: Vec::new(),
        last_seq: [0; 4],
        otp: None,
        stored: None,
        journal: Vec::new(),
        durable: 0,
    };
    m.check_greeting(&greeting, None, 0);
    let max_bytes = 64 + usize::from(b.byte()) * 4;
    for _ in 0..200 {
        if b.is_empty() {
            break;
        }
        let action = b.byte();
        let slot = usize::from(action >> 4) % 4;
        match action % 13 {
            0 | 1 => {
                let current = m.revision();
                let revision = match b.byte() % 5 {
                    0 => None,
                    1 => Some(current),
                    2 => Some(b.below(current as usize + 1) as u64),
                    3 => Some(current + 1 + b.below(3) as u64),
                    _ => Some(u64::MAX - u64::from(b.byte())),
                };
                let info = (b.byte() % 2 == 0).then(|| UserInfo {
                    name: format!("user {slot}"),
                    hue: u32::from(b.byte()),
                });
                let good = b.byte() % 8 != 0;
                m.join(slot, revision, info, good);
            }
            2..=5 => {
                let current = m.revision();
                let revision = match b.byte() % 6 {
                    0 => current + 1,
                    1 | 2 => b.below(current as usize + 1) as u64,
                    _ => current,
                };
                let seq = match b.byte() % 8 {
                    0 => m.last_seq[slot],
                    1 => b.below(m.last_seq[slot] as usize + 1) as u64,
                    2 => m.last_seq[slot] + 2 + b.below(5) as u64,
                    _ => m.last_seq[slot] + 1,
                };
                let len = match m.texts.get(revision as usize) {
                    Some(t) if b.byte() % 8 != 0 => t.chars().count(),
                    _ => b.below(8),
                };
                let op = operation_for(&mut b, len);
                m.edit(slot, revision, seq, op, max_bytes);
            }
            6 => {
                let n = b.below(96);
                let raw = String::from_utf8_lossy(b.take(n)).into_owned();
                m.raw(slot, &raw, max_bytes);
            }
            7 => {
                if let Some(session) = &m.slots[slot] {
                    let len = m.texts.last().unwrap().chars().count() as i128;
                    let p = |b: &mut Bytes| i128::from(b.byte()) - 8 + (len / 2);
                    let msg = protocol::CursorMsg {
                        cursors: (0..b.below(3)).map(|_| p(&mut b)).collect(),
                        selections: (0..b.below(3)).map(|_| (p(&mut b), p(&mut b))).collect(),
                        revision: (b.byte() % 3 == 0).then(|| b.below(m.texts.len() + 1) as u64),
                    };
                    let _ = m.doc.set_cursor(session, msg);
                }
            }
            8 => {
                if let Some(session) = m.slots[slot].take() {
                    m.doc.leave(&session);
                } else if let Some(old) = m.replaced.pop() {
                    // A replaced connection can do nothing, then leaves.
                    let mut old = old;
                    assert_eq!(m.doc.updates(&mut old), Err(Close::Replaced));
                    let op = Operation::splice(0, 0, 0, "x").unwrap();
                    let msg = protocol::EditMsg {
                        revision: 0,
                        seq: u64::MAX,
                        operation: op,
                    };
                    assert_eq!(m.doc.edit(&old, msg, max_bytes), Err(Close::Replaced));
                    m.doc.leave(&old);
                }
            }
            9 => m.set_otp(slot, b.byte() % 3 != 0),
            10 => m.save(),
            11 => m.flush(),
            _ => m.crash(),
        }
        m.observe();
        for s in m.slots.iter_mut().flatten() {
            for msg in m.doc.updates(s).expect("an open session is served") {
                client::decode(&msg).unwrap_or_else(|e| panic!("{msg}: {e}"));
            }
        }
    }
    m.flush();
    m.crash();
}
