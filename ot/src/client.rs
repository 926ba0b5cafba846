//! The OT client as a sans-IO state machine.
//!
//! The browser editor (through `ot-wasm`), the tests and the load generator
//! share this one implementation, so the subtle part — what to send, what
//! to transform, what an acknowledgement means after a reconnect — is
//! written and tested once. It does no IO: the caller feeds it local edits
//! and server messages and sends what it returns.
//!
//! # Model
//!
//! The server keeps one linear history; a client has at most one edit *in
//! flight* (`outstanding`) and collects later local edits into one composed
//! `buffer`, giving the three classic states:
//!
//! | state | outstanding | buffer |
//! |---|---|---|
//! | synchronized | – | – |
//! | awaiting acknowledgement | yes | – |
//! | awaiting with buffer | yes | yes |
//!
//! Every edit the client sends carries a sequence number, increasing by one
//! per edit and never reused, together with the revision it is based on.
//! The server names the author of each history entry with a user id that
//! it derives from the client's own, client-chosen identity (a random key
//! the client keeps across reconnects), so after a reconnect the client
//! still recognises its own edits in the history it is sent: an entry
//! whose author is this client acknowledges the outstanding edit, whether
//! it arrives live or in the catch-up after a reconnect. An edit that never
//! reached the server is simply resent, with the same sequence number, so
//! the server can apply it at most once.

use crate::error::OtError;
use crate::operation::Operation;

/// The id the server gives a user in a document. Stable across reconnects
/// of the same client identity; other clients see it on history entries,
/// cursors and user info.
pub type UserId = u64;

/// A local edit that was handed to the server (or will be after a
/// reconnect) and is not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The edit's sequence number, unique for this client identity.
    pub seq: u64,
    /// The edit, based on the client's current revision.
    pub operation: Operation,
}

/// What the caller must send to the server: "apply `operation`, which is
/// based on `revision`, as my edit number `seq`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The server revision the operation applies to.
    pub revision: u64,
    /// The edit's sequence number (see [`Pending::seq`]).
    pub seq: u64,
    /// The edit.
    pub operation: Operation,
}

/// What a history entry from the server means for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// It was our outstanding edit: nothing changes in the local text. If
    /// edits were buffered meanwhile, `next` is the one to send now.
    Acknowledged {
        /// The buffered edit, now outstanding, to send (`None` when nothing
        /// was buffered or the client is offline).
        next: Option<Submission>,
    },
    /// Someone else's edit, transformed past our pending edits: apply it to
    /// the local text (and move local cursors with it).
    Remote(Operation),
}

/// The three states of the table in the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Synchronized,
    Awaiting(Pending),
    AwaitingWithBuffer(Pending, Operation),
}

/// The client half of the OT protocol. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The last server revision folded into the local text: the number of
    /// history entries seen, own and others'.
    revision: u64,
    /// What is in flight and what is buffered.
    state: State,
    /// The sequence number the next new outstanding edit gets.
    next_seq: u64,
    /// Our user id in this document, once the server said it. Entries by
    /// this author acknowledge our edits.
    user: Option<UserId>,
    /// Whether submissions may be sent now. Offline, edits still go into
    /// outstanding/buffer; [`Client::resume`] hands out what to resend.
    online: bool,
}

impl Client {
    /// A synchronized client whose text is the server's text at `revision`.
    /// It starts offline: call [`Client::identified`] and
    /// [`Client::resume`] once the server has greeted it.
    pub fn new(revision: u64) -> Self {
        Self::with_next_seq(revision, 1)
    }

    /// Like [`Client::new`], continuing a sequence that already handed out
    /// numbers below `next_seq` (a client restored from storage).
    pub fn with_next_seq(revision: u64, next_seq: u64) -> Self {
        Client {
            revision,
            state: State::Synchronized,
            next_seq,
            user: None,
            online: false,
        }
    }

    /// A client restored from storage (say, a browser tab reopened while
    /// offline): synchronized with the server at `revision`, with pending
    /// edits on top. `outstanding` keeps its sequence number, so if it did
    /// reach the server before, the catch-up acknowledges it instead of it
    /// being applied twice. Fails if the lengths do not line up, or if
    /// `next_seq` is not above the outstanding edit's number.
    pub fn restore(
        revision: u64,
        next_seq: u64,
        outstanding: Option<Pending>,
        buffer: Option<Operation>,
    ) -> Result<Self, OtError> {
        let state = match (outstanding, buffer) {
            (None, None) => State::Synchronized,
            (Some(p), None) => State::Awaiting(p),
            (Some(p), Some(b)) => {
                crate::error::check_len(p.operation.target_len(), b.base_len())?;
                State::AwaitingWithBuffer(p, b)
            }
            (None, Some(_)) => {
                return Err(OtError::UnexpectedEvent(
                    "a buffer without an outstanding edit",
                ))
            }
        };
        if let State::Awaiting(p) | State::AwaitingWithBuffer(p, _) = &state {
            if p.seq >= next_seq {
                return Err(OtError::UnexpectedEvent(
                    "next_seq must be above the outstanding edit's seq",
                ));
            }
        }
        let mut client = Client::with_next_seq(revision, next_seq);
        client.state = state;
        Ok(client)
    }

    /// The server revision the local text corresponds to, minus pending
    /// edits.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Our user id, once known.
    pub fn user(&self) -> Option<UserId> {
        self.user
    }

    /// True when nothing local is waiting for the server.
    pub fn is_synchronized(&self) -> bool {
        self.state == State::Synchronized
    }

    /// Whether submissions are being sent (between [`Client::resume`] and
    /// [`Client::disconnected`]).
    pub fn is_online(&self) -> bool {
        self.online
    }

    /// The edit in flight, if any.
    pub fn outstanding(&self) -> Option<&Pending> {
        match &self.state {
            State::Synchronized => None,
            State::Awaiting(p) | State::AwaitingWithBuffer(p, _) => Some(p),
        }
    }

    /// Local edits made since the outstanding one was sent, composed.
    pub fn buffer(&self) -> Option<&Operation> {
        match &self.state {
            State::AwaitingWithBuffer(_, b) => Some(b),
            _ => None,
        }
    }

    /// The sequence number the next outstanding edit will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Records the user id the server assigned to this client's identity.
    pub fn identified(&mut self, user: UserId) {
        self.user = Some(user);
    }

    /// The connection is gone: stop sending. Pending edits are kept.
    pub fn disconnected(&mut self) {
        self.online = false;
    }

    /// The connection is (back) up and the server's catch-up has been
    /// processed with [`Client::receive`]: go online and return the
    /// outstanding edit to (re)send, rebased on the current revision.
    ///
    /// An edit acknowledged during the catch-up is no longer outstanding,
    /// so it is not resent; one that never reached the server is resent
    /// with its original sequence number.
    pub fn resume(&mut self) -> Option<Submission> {
        self.online = true;
        self.outstanding().map(|p| self.submission(p))
    }

    fn submission(&self, p: &Pending) -> Submission {
        Submission {
            revision: self.revision,
            seq: p.seq,
            operation: p.operation.clone(),
        }
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        seq
    }

    /// A local edit, already applied to the local text. Returns the
    /// submission to send when the client is online and had nothing in
    /// flight; otherwise the edit waits in the buffer. No-op edits are
    /// dropped here.
    ///
    /// Fails with [`OtError::LengthMismatch`] if `op` does not apply to the
    /// local text as the state machine knows it (the buffer's or the
    /// outstanding edit's target length); the state is unchanged then.
    pub fn apply_local(&mut self, op: Operation) -> Result<Option<Submission>, OtError> {
        let state = std::mem::replace(&mut self.state, State::Synchronized);
        let (state, send) = match state {
            State::Synchronized if op.is_noop() => (State::Synchronized, false),
            State::Synchronized => {
                let p = Pending {
                    seq: self.take_seq(),
                    operation: op,
                };
                (State::Awaiting(p), self.online)
            }
            State::Awaiting(p) => {
                if op.base_len() != p.operation.target_len() {
                    self.state = State::Awaiting(p.clone());
                    return Err(OtError::LengthMismatch {
                        expected: p.operation.target_len(),
                        actual: op.base_len(),
                    });
                }
                if op.is_noop() {
                    (State::Awaiting(p), false)
                } else {
                    (State::AwaitingWithBuffer(p, op), false)
                }
            }
            State::AwaitingWithBuffer(p, b) => match b.compose(&op) {
                Ok(composed) => (State::AwaitingWithBuffer(p, composed), false),
                Err(e) => {
                    self.state = State::AwaitingWithBuffer(p, b);
                    return Err(e);
                }
            },
        };
        self.state = state;
        Ok(if send {
            self.outstanding().map(|p| self.submission(p))
        } else {
            None
        })
    }

    /// A history entry from the server, in order: `author` made `op`, which
    /// applies to the server text at [`Client::revision`].
    ///
    /// Entries by our own user id acknowledge the outstanding edit; others
    /// are transformed against outstanding and buffer and returned to be
    /// applied locally. On error the state is unchanged.
    pub fn receive(&mut self, author: UserId, op: &Operation) -> Result<Received, OtError> {
        if Some(author) == self.user {
            return self.acknowledge();
        }
        let (state, to_apply) = match &self.state {
            State::Synchronized => (State::Synchronized, op.clone()),
            State::Awaiting(p) => {
                let (outstanding, op) = p.operation.transform(op)?;
                let p = Pending {
                    seq: p.seq,
                    operation: outstanding,
                };
                (State::Awaiting(p), op)
            }
            State::AwaitingWithBuffer(p, b) => {
                let (outstanding, op) = p.operation.transform(op)?;
                let (buffer, op) = b.transform(&op)?;
                let p = Pending {
                    seq: p.seq,
                    operation: outstanding,
                };
                (State::AwaitingWithBuffer(p, buffer), op)
            }
        };
        self.state = state;
        self.revision += 1;
        Ok(Received::Remote(to_apply))
    }

    /// The server replaced the history this client was following with a
    /// snapshot: `text` at `revision`, whose `last_seq` is the highest
    /// sequence number of this client's identity applied in it. That
    /// happens when the client is further behind than the history the
    /// server keeps, or after a crash that lost (at most
    /// `PERSIST_MAX_LOSS_MS` of) edits the client had seen.
    ///
    /// `base` is the server text this client last knew (its text at
    /// [`Client::revision`], without pending edits). The pending edits are
    /// kept: the outstanding edit counts as applied when `last_seq` covers
    /// it; whatever is still pending is transformed past the difference
    /// between `base` (plus a landed outstanding edit) and `text`, like
    /// past a remote edit, and becomes the new outstanding edit — with the
    /// old outstanding edit's sequence number when that one never landed,
    /// so a copy of it that is still in flight can never apply twice.
    ///
    /// Returns the operation that turns the local text (base plus pending
    /// edits) into the new local text (`text` plus the rebased edits).
    /// The client goes synchronized-at-`revision` plus pending, offline:
    /// call [`Client::resume`] next. On error the state is unchanged.
    pub fn rebase(
        &mut self,
        base: &str,
        text: &str,
        revision: u64,
        last_seq: u64,
    ) -> Result<Operation, OtError> {
        let base_len = base.chars().count();
        let (outstanding, buffer) = match &self.state {
            State::Synchronized => (None, None),
            State::Awaiting(p) => (Some(p), None),
            State::AwaitingWithBuffer(p, b) => (Some(p), Some(b)),
        };
        if let Some(p) = outstanding {
            crate::error::check_len(base_len, p.operation.base_len())?;
        }
        // The server text the pending edits are based on, and those edits.
        let landed = outstanding.is_some_and(|p| p.seq <= last_seq);
        let (known, pending, seq) = match (outstanding, buffer) {
            (None, _) => (None, None, None),
            (Some(p), b) if landed => (Some(p.operation.apply(base)?), b.cloned(), None),
            (Some(p), None) => (None, Some(p.operation.clone()), Some(p.seq)),
            (Some(p), Some(b)) => (None, Some(p.operation.compose(b)?), Some(p.seq)),
        };
        let known = known.as_deref().unwrap_or(base);
        self.rebase_pending(known, pending, seq, text, revision, last_seq)
    }

    /// [`Client::rebase`] for a replica that found, in its log of history
    /// entries, acknowledged edits of its own that the snapshot lost
    /// (`last_seq` is below their sequence numbers): `known` is the server
    /// text it knew with those edits taken out (others' edits after them
    /// kept), and `lost` the operation that puts them back, so that
    /// `lost` applied to `known` is the text at [`Client::revision`]. The
    /// lost edits become pending again, before the outstanding and
    /// buffered ones, and are rebased onto the snapshot with them.
    pub(crate) fn rebase_resurrecting(
        &mut self,
        known: &str,
        lost: &Operation,
        text: &str,
        revision: u64,
        last_seq: u64,
    ) -> Result<Operation, OtError> {
        crate::error::check_len(lost.base_len(), known.chars().count())?;
        let (pending, seq) = match &self.state {
            State::Synchronized => (lost.clone(), None),
            State::Awaiting(p) | State::AwaitingWithBuffer(p, _) => {
                if p.seq <= last_seq {
                    // Edits after the lost ones cannot have landed.
                    return Err(OtError::UnexpectedEvent(
                        "an outstanding edit landed after lost ones",
                    ));
                }
                let mut pending = lost.compose(&p.operation)?;
                if let State::AwaitingWithBuffer(_, b) = &self.state {
                    pending = pending.compose(b)?;
                }
                (pending, Some(p.seq))
            }
        };
        self.rebase_pending(known, Some(pending), seq, text, revision, last_seq)
    }

    /// The common end of both rebases: `pending` (on `known`) is transformed
    /// past the difference between `known` and `text` and becomes the
    /// outstanding edit, with sequence number `seq` or a fresh one.
    fn rebase_pending(
        &mut self,
        known: &str,
        pending: Option<Operation>,
        seq: Option<u64>,
        text: &str,
        revision: u64,
        last_seq: u64,
    ) -> Result<Operation, OtError> {
        let difference = crate::diff::diff(known, text);
        // The server's difference transformed past what is still pending
        // applies to the local text (which already holds a landed
        // outstanding edit).
        let (rebased, local) = match &pending {
            Some(p) => {
                let (p, d) = p.transform(&difference)?;
                (Some(p), d)
            }
            None => (None, difference),
        };
        self.revision = revision;
        self.online = false;
        self.state = match rebased {
            Some(op) if !op.is_noop() => {
                let seq = match seq {
                    Some(seq) => seq,
                    None => self.take_seq(),
                };
                State::Awaiting(Pending { seq, operation: op })
            }
            _ => State::Synchronized,
        };
        if last_seq >= self.next_seq {
            self.next_seq = last_seq.saturating_add(1);
        }
        Ok(local)
    }

    fn acknowledge(&mut self) -> Result<Received, OtError> {
        let state = std::mem::replace(&mut self.state, State::Synchronized);
        let next = match state {
            State::Synchronized => {
                return Err(OtError::UnexpectedEvent(
                    "acknowledgement with no edit outstanding",
                ))
            }
            State::Awaiting(_) => None,
            State::AwaitingWithBuffer(_, buffer) => {
                let p = Pending {
                    seq: self.take_seq(),
                    operation: buffer,
                };
                self.state = State::Awaiting(p);
                Some(())
            }
        };
        self.revision += 1;
        let next = match (next, self.online) {
            (Some(()), true) => self.outstanding().map(|p| self.submission(p)),
            _ => None,
        };
        Ok(Received::Acknowledged { next })
    }

    /// Maps a position in the server text at [`Client::revision`] (where
    /// other users' cursors are reported) into the local text.
    pub fn remote_index_to_local(&self, index: usize) -> Result<usize, OtError> {
        match &self.state {
            State::Synchronized => Ok(index),
            State::Awaiting(p) => p.operation.transform_index(index),
            State::AwaitingWithBuffer(p, b) => {
                b.transform_index(p.operation.transform_index(index)?)
            }
        }
    }

    /// Maps a position in the local text (our own cursor) into the server
    /// text at [`Client::revision`]; a position inside text we inserted and
    /// the server has not seen yet maps to the insertion point.
    pub fn local_index_to_remote(&self, index: usize) -> Result<usize, OtError> {
        match &self.state {
            State::Synchronized => Ok(index),
            State::Awaiting(p) => p.operation.transform_index_back(index),
            State::AwaitingWithBuffer(p, b) => p
                .operation
                .transform_index_back(b.transform_index_back(index)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(len: usize, pos: usize, s: &str) -> Operation {
        Operation::splice(len, pos, 0, s).unwrap()
    }

    #[test]
    fn states_and_acknowledgements() {
        let mut c = Client::new(0);
        c.identified(7);
        assert_eq!(c.resume(), None);
        let s = c.apply_local(ins(0, 0, "a")).unwrap().unwrap();
        assert_eq!((s.revision, s.seq), (0, 1));
        assert_eq!(c.apply_local(ins(1, 1, "b")).unwrap(), None);
        assert_eq!(c.apply_local(ins(2, 2, "c")).unwrap(), None);
        assert_eq!(c.buffer(), Some(&Operation::splice(1, 1, 0, "bc").unwrap()));
        // Someone else inserted "x" at 0 before our edit reached the server.
        let r = c.receive(3, &ins(0, 0, "x")).unwrap();
        assert_eq!(r, Received::Remote(ins(3, 3, "x")));
        assert_eq!(c.revision(), 1);
        // Our edit comes back: the buffer goes out as edit 2 at revision 2.
        let r = c.receive(7, &ins(1, 0, "a")).unwrap();
        let Received::Acknowledged { next: Some(next) } = r else {
            panic!("{r:?}")
        };
        assert_eq!((next.revision, next.seq), (2, 2));
        assert_eq!(next.operation, Operation::splice(2, 1, 0, "bc").unwrap());
        assert_eq!(
            c.receive(7, &next.operation).unwrap(),
            Received::Acknowledged { next: None }
        );
        assert!(c.is_synchronized());
        assert!(matches!(
            c.receive(7, &ins(4, 0, "z")),
            Err(OtError::UnexpectedEvent(_))
        ));
    }

    #[test]
    fn offline_edits_are_resent_after_catch_up() {
        let mut c = Client::new(5);
        c.identified(1);
        c.resume();
        let sent = c.apply_local(ins(0, 0, "a")).unwrap().unwrap();
        c.disconnected();
        assert_eq!(c.apply_local(ins(1, 1, "b")).unwrap(), None);
        // Catch-up shows the edit never arrived; a remote edit did.
        c.receive(2, &ins(0, 0, "x")).unwrap();
        let again = c.resume().unwrap();
        assert_eq!(again.seq, sent.seq);
        assert_eq!(again.revision, 6);
        assert_eq!(again.operation, ins(1, 0, "a"));
    }

    #[test]
    fn restore_keeps_sequence_numbers() {
        let p = Pending {
            seq: 4,
            operation: ins(2, 0, "a"),
        };
        let mut c = Client::restore(9, 5, Some(p.clone()), Some(ins(3, 3, "b"))).unwrap();
        c.identified(1);
        let s = c.resume().unwrap();
        assert_eq!((s.revision, s.seq), (9, 4));
        assert!(Client::restore(9, 4, Some(p.clone()), None).is_err());
        assert!(Client::restore(9, 5, Some(p), Some(ins(1, 0, "b"))).is_err());
        assert!(Client::restore(9, 5, None, Some(ins(1, 0, "b"))).is_err());
    }

    #[test]
    fn bad_local_edit_leaves_state_alone() {
        let mut c = Client::new(0);
        c.resume();
        c.apply_local(ins(0, 0, "a")).unwrap();
        let before = c.clone();
        assert!(c.apply_local(ins(5, 0, "a")).is_err());
        assert_eq!(c, before);
        c.apply_local(ins(1, 0, "b")).unwrap();
        let before = c.clone();
        assert!(c.apply_local(ins(5, 0, "a")).is_err());
        assert_eq!(c, before);
        assert!(c.receive(9, &ins(7, 0, "a")).is_err());
        assert_eq!(c, before);
    }

    #[test]
    fn cursor_mapping() {
        let mut c = Client::new(0);
        c.resume();
        c.apply_local(ins(3, 1, "ab")).unwrap();
        c.apply_local(ins(5, 5, "Z")).unwrap();
        // local "xabyzZ" vs remote "xyz"
        assert_eq!(c.remote_index_to_local(1), Ok(3));
        assert_eq!(c.remote_index_to_local(3), Ok(6));
        assert_eq!(c.local_index_to_remote(2), Ok(1));
        assert_eq!(c.local_index_to_remote(4), Ok(2));
        assert_eq!(c.local_index_to_remote(6), Ok(3));
    }
}
