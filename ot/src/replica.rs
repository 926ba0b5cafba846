//! A client's copy of a document: the local text, the server text it is
//! based on, and the [`Client`] state machine, kept in step.
//!
//! Every client needs the same three things together — the browser (behind
//! the UTF-16 edge in `ot-wasm`), the server's native test peer and the load
//! generator — and the rules that keep them consistent are easy to get
//! subtly wrong: the local text must change exactly when the state machine
//! says so, the server text must follow every history entry (our own
//! acknowledged edits included) so that a snapshot can later be diffed
//! against it, and a refused input must change nothing. They live here,
//! once.
//!
//! A replica also keeps a short log of the history entries it received,
//! with their inverses, so that when a server crash loses some of its own
//! acknowledged edits (the snapshot's `last_seq` says which), it can take
//! them out of the server text it knew — moving the others' later edits
//! before them — and send them again with its pending edits: see
//! [`Replica::rebase`].

use std::collections::VecDeque;

use crate::client::{Client, Received, Submission, UserId};
use crate::error::{check_len, OtError};
use crate::operation::Operation;
use crate::text::Text;

/// What one history entry did to a [`Replica`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// It was our outstanding edit. The local text is unchanged; `next` is
    /// the buffered edit to send now, if any (see
    /// [`Received::Acknowledged`]).
    Acknowledged {
        /// The acknowledged edit's sequence number.
        seq: u64,
        /// The submission to send, if edits were buffered meanwhile.
        next: Option<Submission>,
    },
    /// Someone else's edit, transformed past our pending edits and applied
    /// to the local text: this operation (on the local text as it was
    /// before).
    Remote(Operation),
}

/// How many received history entries a replica keeps by default for
/// [`Replica::rebase`] to resurrect lost own edits from: more than a busy
/// document's revisions within the server's default crash bound of one
/// second (the crash tests saw up to about 100 revisions in 120 ms; see
/// docs/reliability.md). Each entry holds an edit and its inverse.
pub const DEFAULT_LOG_CAPACITY: usize = 1024;

/// One received history entry, as the log keeps it.
#[derive(Debug, Clone, PartialEq)]
struct Logged {
    /// The entry, on the server text before it.
    op: Operation,
    /// Its inverse, on the server text after it.
    inverse: Operation,
    /// Our sequence number for it, when it was our own edit.
    own_seq: Option<u64>,
}

/// The local text (the server text plus pending edits), the server text at
/// the client's revision, and the client state machine.
///
/// Invariants, kept by every method: `text` is `base` with the pending
/// edits (outstanding, then buffered) applied; `base` is the server's text
/// at [`Client::revision`]. A method that returns an error has changed
/// nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Replica {
    /// The local text, which the user sees and edits.
    text: Text,
    /// The server's text at the client's revision: the local text without
    /// pending edits. Kept so a snapshot that replaces it can be diffed
    /// against it (see [`Client::rebase`]).
    base: Text,
    /// Outstanding and buffered edits, revision, sequence numbers.
    client: Client,
    /// The last received entries, oldest first, ending at `base`: what
    /// [`Replica::rebase`] resurrects lost own edits from.
    log: VecDeque<Logged>,
    /// Most entries `log` keeps (0: none, and no inverses computed).
    log_capacity: usize,
}

impl Replica {
    /// A replica of the server text `text` at `revision` with nothing
    /// pending, whose first edit gets sequence number 1.
    pub fn new(text: &str, revision: u64) -> Self {
        Self::with_next_seq(text, revision, 1)
    }

    /// Like [`Replica::new`], for a client identity that already used the
    /// sequence numbers below `next_seq` (a reloaded page keeps its
    /// identity).
    pub fn with_next_seq(text: &str, revision: u64, next_seq: u64) -> Self {
        let text = Text::from(text);
        Replica {
            base: text.clone(),
            text,
            client: Client::with_next_seq(revision, next_seq),
            log: VecDeque::new(),
            log_capacity: DEFAULT_LOG_CAPACITY,
        }
    }

    /// Keeps at most `entries` received history entries (default
    /// [`DEFAULT_LOG_CAPACITY`]); own acknowledged edits older than that
    /// cannot be resurrected after a crash. 0 keeps none and saves
    /// computing their inverses (a load generator's simulated clients,
    /// which never reconnect).
    pub fn set_log_capacity(&mut self, entries: usize) {
        self.log_capacity = entries;
        while self.log.len() > entries {
            self.log.pop_front();
        }
    }

    /// The local text.
    pub fn text(&self) -> &Text {
        &self.text
    }

    /// The server's text at [`Client::revision`].
    pub fn base(&self) -> &Text {
        &self.base
    }

    /// The client state machine (read-only: every change goes through the
    /// replica so the texts stay in step).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The server revision the replica is at.
    pub fn revision(&self) -> u64 {
        self.client.revision()
    }

    /// Whether every local edit is acknowledged.
    pub fn is_synchronized(&self) -> bool {
        self.client.is_synchronized()
    }

    /// See [`Client::identified`].
    pub fn identified(&mut self, user: UserId) {
        self.client.identified(user);
    }

    /// See [`Client::disconnected`].
    pub fn disconnected(&mut self) {
        self.client.disconnected();
    }

    /// See [`Client::resume`].
    pub fn resume(&mut self) -> Option<Submission> {
        self.client.resume()
    }

    /// A local edit of the local text: applied to it and handed to the
    /// client, which returns the submission to send now, if any (see
    /// [`Client::apply_local`]).
    pub fn apply_local(&mut self, op: Operation) -> Result<Option<Submission>, OtError> {
        // Checked first: the client accepts any edit of the right length
        // for its own bookkeeping, and the text must not refuse it after.
        check_len(op.base_len(), self.text.len_chars())?;
        let submission = self.client.apply_local(op.clone())?;
        self.text.apply(&op)?;
        Ok(submission)
    }

    /// [`Replica::apply_local`] of "replace `delete` code points at `pos`
    /// with `insert`".
    pub fn splice(
        &mut self,
        pos: usize,
        delete: usize,
        insert: &str,
    ) -> Result<Option<Submission>, OtError> {
        let op = Operation::splice(self.text.len_chars(), pos, delete, insert)?;
        self.apply_local(op)
    }

    /// A history entry from the server: `author` made `op`, based on the
    /// server text at [`Client::revision`].
    pub fn receive(&mut self, author: UserId, op: &Operation) -> Result<Applied, OtError> {
        self.receive_with(author, op, |_, _| Ok::<(), OtError>(()))
            .map(|(applied, _)| applied)
    }

    /// [`Replica::receive`] that first shows a remote edit, as it will be
    /// applied to the local text, to `observe` along with the local text it
    /// applies to; for an edge that must describe the change in its own
    /// coordinates before the text moves on (the browser's UTF-16
    /// offsets). `observe` is not called for an acknowledgement, and its
    /// value is returned otherwise.
    ///
    /// Every input check happens before the state changes; `observe` runs
    /// after the client has accepted the entry, so it must only fail on
    /// an inconsistency of its own (which then leaves the replica
    /// unusable, and is reported).
    pub fn receive_with<T, E: From<OtError>>(
        &mut self,
        author: UserId,
        op: &Operation,
        observe: impl FnOnce(&Text, &Operation) -> Result<T, E>,
    ) -> Result<(Applied, Option<T>), E> {
        let mine = self.client.user() == Some(author);
        // The client passes a remote entry through unchecked when nothing
        // is pending, and an acknowledgement carries no text at all: check
        // the entry against the server text before anything changes.
        let own = if mine {
            let outstanding = self.client.outstanding().ok_or(OtError::UnexpectedEvent(
                "acknowledgement with no edit outstanding",
            ))?;
            check_len(outstanding.operation.base_len(), self.base.len_chars())?;
            Some((outstanding.seq, outstanding.operation.clone()))
        } else {
            check_len(op.base_len(), self.base.len_chars())?;
            None
        };
        let logged = if self.log_capacity == 0 {
            None
        } else {
            let (own_seq, entry) = match &own {
                Some((seq, own)) => (Some(*seq), own),
                None => (None, op),
            };
            Some(Logged {
                inverse: self.base.invert(entry)?,
                op: entry.clone(),
                own_seq,
            })
        };
        let result = match self.client.receive(author, op)? {
            Received::Acknowledged { next } => {
                let (seq, own) =
                    own.ok_or(OtError::UnexpectedEvent("acknowledged a remote entry"))?;
                self.base.apply(&own)?;
                (Applied::Acknowledged { seq, next }, None)
            }
            Received::Remote(local) => {
                let seen = observe(&self.text, &local)?;
                self.text.apply(&local)?;
                self.base.apply(op)?;
                (Applied::Remote(local), Some(seen))
            }
        };
        if let Some(logged) = logged {
            if self.log.len() >= self.log_capacity {
                self.log.pop_front();
            }
            self.log.push_back(logged);
        }
        Ok(result)
    }

    /// [`Replica::receive`] of the history entry with revision `revision`
    /// (its position in the server's history): `None` for an entry the
    /// replica already has (a catch-up can overlap what arrived before a
    /// reconnect), [`OtError::RevisionGap`] when entries are missing in
    /// between.
    pub fn receive_at(
        &mut self,
        revision: u64,
        author: UserId,
        op: &Operation,
    ) -> Result<Option<Applied>, OtError> {
        let at = self.client.revision();
        if revision < at {
            return Ok(None);
        }
        if revision > at {
            return Err(OtError::RevisionGap {
                expected: at,
                actual: revision,
            });
        }
        self.receive(author, op).map(Some)
    }

    /// The server replaced the history with a snapshot: `text` at
    /// `revision`, in which this client's edits up to `last_seq` are
    /// applied. Pending edits are kept, rebased onto it (see
    /// [`Client::rebase`]); the client is left offline (call
    /// [`Replica::resume`] next). Returns the operation that turned the
    /// local text into the new local text.
    ///
    /// Own acknowledged edits the snapshot lost (a server crash: sequence
    /// numbers above `last_seq`) that are still in the log are taken out
    /// of the server text this replica knew, the others' later entries
    /// moved before them (selective undo), and they become pending again,
    /// ahead of the outstanding and buffered edits: the server gets them
    /// back. Only own edits: every client resurrects its own, so nothing
    /// is sent twice. The log starts afresh.
    pub fn rebase(
        &mut self,
        text: &str,
        revision: u64,
        last_seq: u64,
    ) -> Result<Operation, OtError> {
        self.rebase_with(text, revision, last_seq, |_, _| Ok::<(), OtError>(()))
            .map(|(step, ())| step)
    }

    /// [`Replica::rebase`] that first shows the step, with the local text
    /// it applies to, to `observe` (as [`Replica::receive_with`] does).
    /// Nothing changes unless both the rebase and `observe` succeed.
    pub fn rebase_with<T, E: From<OtError>>(
        &mut self,
        text: &str,
        revision: u64,
        last_seq: u64,
        observe: impl FnOnce(&Text, &Operation) -> Result<T, E>,
    ) -> Result<(Operation, T), E> {
        // On a copy: the step is checked against the local text before the
        // client's new state is kept. A snapshot is rare; the copy is of
        // the pending edits only.
        let mut client = self.client.clone();
        let step = match self.lost_since(last_seq)? {
            Some((known, lost)) => {
                client.rebase_resurrecting(&known.to_string(), &lost, text, revision, last_seq)?
            }
            None => client.rebase(&self.base.to_string(), text, revision, last_seq)?,
        };
        check_len(step.base_len(), self.text.len_chars())?;
        let seen = observe(&self.text, &step)?;
        self.text.apply(&step)?;
        self.base = Text::from(text);
        self.client = client;
        self.log.clear();
        Ok((step, seen))
    }

    /// Own logged edits with sequence numbers above `last_seq`, taken out
    /// of the server text: `None` when there are none, otherwise the
    /// server text without them (others' later entries kept, moved before
    /// them) and the operation on it that puts them back (giving `base`).
    fn lost_since(&self, last_seq: u64) -> Result<Option<(Text, Operation)>, OtError> {
        let is_lost = |e: &Logged| e.own_seq.is_some_and(|seq| seq > last_seq);
        let Some(first) = self.log.iter().position(is_lost) else {
            return Ok(None);
        };
        // The server text before the first lost edit: undo every entry
        // from the newest back to it.
        let mut server = self.base.clone();
        for e in self.log.iter().skip(first).rev() {
            server.apply(&e.inverse)?;
        }
        // Forward again, keeping `lost` applied to `known` == `server`.
        let mut known = server.clone();
        let mut lost = Operation::new();
        lost.retain(known.len_chars());
        for e in self.log.iter().skip(first) {
            if is_lost(e) {
                lost = lost.compose(&e.op)?;
                server.apply(&e.op)?;
            } else {
                // Someone else's entry, made on a text holding our lost
                // edits: transformed past their undoing it applies to the
                // text without them, and the undoing transformed past it
                // inverts to the new `lost`.
                let undo = known.invert(&lost)?;
                let (moved, undo_after) = e.op.transform(&undo)?;
                known.apply(&moved)?;
                server.apply(&e.op)?;
                lost = server.invert(&undo_after)?;
            }
        }
        Ok(Some((known, lost)))
    }

    /// Maps a code point index in the server text at the current revision
    /// (another user's cursor) into the local text.
    pub fn remote_index_to_local(&self, index: usize) -> Result<usize, OtError> {
        self.client.remote_index_to_local(index)
    }

    /// Maps a code point index in the local text (our cursor) into the
    /// server text at the current revision.
    pub fn local_index_to_remote(&self, index: usize) -> Result<usize, OtError> {
        self.client.local_index_to_remote(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(len: usize, pos: usize, s: &str) -> Operation {
        Operation::splice(len, pos, 0, s).unwrap()
    }

    #[test]
    fn local_remote_and_acknowledged_edits_keep_both_texts_in_step() {
        let mut r = Replica::new("ab", 3);
        r.identified(1);
        assert_eq!(r.resume(), None);
        let s = r.splice(2, 0, "X").unwrap().unwrap();
        assert_eq!((s.revision, s.seq), (3, 1));
        // Buffered while the first is in flight.
        assert_eq!(r.splice(0, 1, "").unwrap(), None);
        assert_eq!(r.text().to_string(), "bX");
        // Someone else's "q" at 0 moves past both.
        let Applied::Remote(local) = r.receive(2, &ins(2, 0, "q")).unwrap() else {
            panic!("expected a remote edit");
        };
        assert_eq!(local, ins(2, 0, "q"));
        assert_eq!(r.text().to_string(), "qbX");
        assert_eq!(r.base().to_string(), "qab");
        // Our ack releases the buffer and moves the server text on.
        let Applied::Acknowledged {
            seq: 1,
            next: Some(next),
        } = r.receive(1, &s.operation).unwrap()
        else {
            panic!("expected an ack with a next submission");
        };
        assert_eq!(r.base().to_string(), "qabX");
        assert_eq!((next.revision, next.seq), (5, 2));
        assert_eq!(
            r.receive(1, &next.operation).unwrap(),
            Applied::Acknowledged { seq: 2, next: None }
        );
        assert_eq!(r.base(), r.text());
        assert!(r.is_synchronized());
        assert_eq!(r.revision(), 6);
    }

    #[test]
    fn refused_inputs_change_nothing() {
        let mut r = Replica::new("abc", 7);
        r.identified(1);
        let before = r.clone();
        // A remote entry of the wrong length, with nothing pending.
        assert!(r.receive(2, &ins(2, 0, "x")).is_err());
        // An acknowledgement with nothing outstanding.
        assert!(r.receive(1, &ins(3, 0, "x")).is_err());
        // A local edit of the wrong length, or past the end.
        assert!(r.apply_local(ins(4, 0, "x")).is_err());
        assert!(r.splice(4, 0, "x").is_err());
        assert_eq!(r, before);
        // With something pending, the transform does the checking.
        r.splice(0, 0, "z").unwrap();
        let before = r.clone();
        assert!(r.receive(2, &ins(4, 0, "x")).is_err());
        // A failing observer leaves a rebase undone.
        let failed: Result<_, OtError> = r.rebase_with("abcd", 9, 0, |_, _| {
            Err::<(), _>(OtError::UnexpectedEvent("no"))
        });
        assert!(failed.is_err());
        assert_eq!(r, before);
    }

    #[test]
    fn entries_by_revision_skip_what_was_seen_and_refuse_gaps() {
        let mut r = Replica::new("", 2);
        assert_eq!(r.receive_at(1, 5, &ins(0, 0, "a")), Ok(None));
        assert_eq!(
            r.receive_at(3, 5, &ins(0, 0, "a")),
            Err(OtError::RevisionGap {
                expected: 2,
                actual: 3
            })
        );
        assert!(matches!(
            r.receive_at(2, 5, &ins(0, 0, "a")),
            Ok(Some(Applied::Remote(_)))
        ));
        assert_eq!(r.text().to_string(), "a");
        assert_eq!(r.revision(), 3);
    }

    #[test]
    fn the_observer_sees_the_text_before_a_remote_edit() {
        let mut r = Replica::new("ab", 0);
        let (_, seen) = r
            .receive_with(2, &ins(2, 1, "x"), |text, op| {
                Ok::<_, OtError>((text.to_string(), op.clone()))
            })
            .unwrap();
        assert_eq!(seen, Some(("ab".to_owned(), ins(2, 1, "x"))));
        assert_eq!(r.text().to_string(), "axb");
    }

    #[test]
    fn own_acknowledged_edits_a_crash_lost_are_sent_again() {
        // We type "a" (seq 1), user 2 appends "b", we append "c" (seq 2),
        // and type "d" that is still outstanding (seq 3).
        let mut r = Replica::new("", 0);
        r.identified(1);
        r.resume();
        let s1 = r.splice(0, 0, "a").unwrap().unwrap();
        r.receive(1, &s1.operation).unwrap();
        r.receive(2, &ins(1, 1, "b")).unwrap();
        let s2 = r.splice(2, 0, "c").unwrap().unwrap();
        r.receive(1, &s2.operation).unwrap();
        let s3 = r.splice(3, 0, "d").unwrap().unwrap();
        assert_eq!(s3.seq, 3);
        assert_eq!(r.text().to_string(), "abcd");
        // The server crashed and kept only "a" (our seq 1).
        r.disconnected();
        let step = r.rebase("a", 1, 1).unwrap();
        assert_eq!(step, Operation::splice(4, 1, 1, "").unwrap());
        // "b" is user 2's to send again; "c" and "d" are ours, in one
        // outstanding edit that keeps the unacknowledged one's number.
        assert_eq!(r.text().to_string(), "acd");
        let s = r.resume().unwrap();
        assert_eq!((s.revision, s.seq), (1, 3));
        assert_eq!(s.operation, ins(1, 1, "cd"));
        assert_eq!(r.base().to_string(), "a");
        // The log starts afresh: a second snapshot finds nothing more to
        // resurrect than what is pending.
        r.disconnected();
        r.rebase("a", 1, 1).unwrap();
        assert_eq!(r.text().to_string(), "acd");
    }

    #[test]
    fn a_resurrected_edit_keeps_what_others_did_to_it_later() {
        // We insert "xyz" (seq 1, acknowledged); user 2 then deletes "y"
        // and inserts "!" at the start.
        let mut r = Replica::new("", 4);
        r.identified(1);
        r.resume();
        let s1 = r.splice(0, 0, "xyz").unwrap().unwrap();
        r.receive(1, &s1.operation).unwrap();
        r.receive(2, &Operation::splice(3, 1, 1, "").unwrap())
            .unwrap();
        r.receive(2, &ins(2, 0, "!")).unwrap();
        assert_eq!(r.text().to_string(), "!xz");
        // All three entries are lost; someone else typed "q" since.
        r.disconnected();
        r.rebase("q", 5, 0).unwrap();
        assert_eq!(r.text().to_string(), "qxz");
        let s = r.resume().unwrap();
        assert_eq!(s.operation.apply("q").unwrap(), "qxz");
        assert_eq!(s.seq, 2, "a fresh number, above every lost one");
    }

    #[test]
    fn without_a_log_lost_edits_stay_lost() {
        let mut r = Replica::new("", 0);
        r.set_log_capacity(0);
        r.identified(1);
        r.resume();
        let s1 = r.splice(0, 0, "a").unwrap().unwrap();
        r.receive(1, &s1.operation).unwrap();
        r.disconnected();
        r.rebase("", 0, 0).unwrap();
        assert_eq!(r.text().to_string(), "");
        assert!(r.is_synchronized());
    }

    #[test]
    fn a_snapshot_rebases_pending_edits_and_replaces_the_server_text() {
        let mut r = Replica::new("ab", 1);
        r.identified(1);
        r.resume();
        r.splice(2, 0, "X").unwrap();
        r.splice(3, 0, "Y").unwrap();
        // The server (after a crash, say) has "😀ab" and never saw seq 1.
        r.disconnected();
        let step = r.rebase("😀ab", 7, 0).unwrap();
        assert_eq!(step, ins(4, 0, "😀"));
        assert_eq!(r.text().to_string(), "😀abXY");
        assert_eq!(r.base().to_string(), "😀ab");
        let s = r.resume().unwrap();
        assert_eq!((s.revision, s.seq), (7, 1));
        // A landed edit is not applied twice.
        r.receive(1, &s.operation).unwrap();
        r.splice(0, 0, "Z").unwrap();
        let seq = r.client().outstanding().unwrap().seq;
        let step = r.rebase("Z😀abXY", 9, seq).unwrap();
        assert!(step.is_noop(), "{step:?}");
        assert!(r.is_synchronized());
        assert_eq!(r.text(), r.base());
    }
}
