//! The browser's replica of a document, in plain Rust: a rope mirroring the
//! editor's text plus the OT client state machine, spoken to in UTF-16
//! offsets. [`crate::Doc`] only translates JavaScript values to and from
//! this, so the logic is tested natively as well as in WASM.

use tandem_ot::{Applied, Client, Operation, Submission, Text, UserId};

use crate::error::EdgeError;
use crate::utf16::{self, ChangeBuilder};

/// An editor change in UTF-16 offsets of the text before the edit, owning
/// its inserted text (a CodeMirror `ChangeSpec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Start of the replaced range, in UTF-16 code units.
    pub from: usize,
    /// End of the replaced range.
    pub to: usize,
    /// The inserted text.
    pub insert: String,
}

/// What a server history entry means for the editor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// Our outstanding edit was acknowledged; `next` is the buffered edit
    /// to send now, if any.
    Ack {
        /// The submission to send, if edits were buffered.
        next: Option<Submission>,
    },
    /// Someone else's edit: apply these changes to the editor. They are
    /// already applied to the replica.
    Remote {
        /// Sorted, non-overlapping, in UTF-16 offsets of the text before.
        changes: Vec<Change>,
    },
}

/// The editor's replica ([`tandem_ot::Replica`]: the local text, the server
/// text and the client state machine), spoken to in UTF-16 offsets.
#[derive(Debug, Clone)]
pub struct Replica {
    /// The replica in code points; this type only converts offsets.
    inner: tandem_ot::Replica,
}

impl Replica {
    /// A replica of the server text `text` at `revision`, whose next edit
    /// gets sequence number `next_seq`.
    pub fn new(text: &str, revision: u64, next_seq: u64) -> Self {
        Replica {
            inner: tandem_ot::Replica::with_next_seq(text, revision, next_seq),
        }
    }

    /// The local text.
    pub fn text(&self) -> &Text {
        self.inner.text()
    }

    /// The client state machine.
    pub fn client(&self) -> &Client {
        self.inner.client()
    }

    /// See [`Client::identified`].
    pub fn identified(&mut self, user: UserId) {
        self.inner.identified(user);
    }

    /// See [`Client::disconnected`].
    pub fn disconnected(&mut self) {
        self.inner.disconnected();
    }

    /// See [`Client::resume`].
    pub fn resume(&mut self) -> Option<Submission> {
        self.inner.resume()
    }

    /// A local edit built with [`ChangeBuilder`] over [`Replica::text`]:
    /// applied to the rope and handed to the client. On error nothing
    /// changes.
    pub fn apply_local(&mut self, op: Operation) -> Result<Option<Submission>, EdgeError> {
        Ok(self.inner.apply_local(op)?)
    }

    /// Convenience for Rust callers: [`ChangeBuilder`] plus
    /// [`Replica::apply_local`].
    pub fn local_changes<'s>(
        &mut self,
        changes: impl IntoIterator<Item = (usize, usize, &'s str)>,
    ) -> Result<Option<Submission>, EdgeError> {
        let mut builder = ChangeBuilder::new(self.inner.text());
        for (from, to, insert) in changes {
            builder.push(from, to, insert)?;
        }
        let op = builder.finish();
        self.apply_local(op)
    }

    /// A history entry from the server: `author` made `op`, based on the
    /// server text at [`Client::revision`]. On error nothing changes.
    pub fn receive(&mut self, author: UserId, op: &Operation) -> Result<Incoming, EdgeError> {
        // Offsets are taken before the rope changes: CodeMirror reads a
        // ChangeSpec list in pre-change coordinates.
        let (applied, changes) = self.inner.receive_with(author, op, changes_before)?;
        Ok(match (applied, changes) {
            (Applied::Acknowledged { next, .. }, _) => Incoming::Ack { next },
            (Applied::Remote(_), changes) => Incoming::Remote {
                changes: changes.unwrap_or_default(),
            },
        })
    }

    /// The server replaced the history with a snapshot: `text` at
    /// `revision`, in which this client's edits up to `last_seq` are
    /// applied. Pending edits are kept, rebased onto it (see
    /// [`Client::rebase`]); returns the changes that turn the editor's text
    /// into the new local text, in UTF-16 offsets of the text before (like
    /// a remote edit). On error nothing changes.
    pub fn rebase(
        &mut self,
        text: &str,
        revision: u64,
        last_seq: u64,
    ) -> Result<Vec<Change>, EdgeError> {
        let (_, changes) = self
            .inner
            .rebase_with(text, revision, last_seq, changes_before)?;
        Ok(changes)
    }

    /// Maps a code point index in the server text at the current revision
    /// (another user's cursor) to a UTF-16 offset in the local text.
    pub fn remote_index_to_local(&self, index: usize) -> Result<usize, EdgeError> {
        let local = self.inner.remote_index_to_local(index)?;
        utf16::char_to_utf16(self.inner.text(), local)
    }

    /// Maps a UTF-16 offset in the local text (our cursor) to a code point
    /// index in the server text at the current revision.
    pub fn local_index_to_remote(&self, offset: usize) -> Result<usize, EdgeError> {
        let local = utf16::utf16_to_char(self.inner.text(), offset)?;
        Ok(self.inner.local_index_to_remote(local)?)
    }
}

/// `op`, about to be applied to `text`, as editor changes in UTF-16
/// offsets of `text`.
fn changes_before(text: &Text, op: &Operation) -> Result<Vec<Change>, EdgeError> {
    Ok(utf16::operation_to_changes(text, op)?
        .into_iter()
        .map(|c| Change {
            from: c.from,
            to: c.to,
            insert: c.insert.to_owned(),
        })
        .collect())
}

/// Replays a trace of splices (`pos`, `delete`, `insert`, all in code
/// points) with [`Operation::splice`] and [`Text::apply`] — the server's
/// path, minus the network — and returns the final text. The benchmark
/// entry point of `web/scripts/bench-wasm.mjs` wraps this.
pub fn replay_splices<'s>(
    start: &str,
    splices: impl IntoIterator<Item = (usize, usize, &'s str)>,
) -> Result<Text, EdgeError> {
    let mut text = Text::from(start);
    for (pos, delete, insert) in splices {
        let op = Operation::splice(text.len_chars(), pos, delete, insert)?;
        text.apply(&op)?;
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(len: usize, pos: usize, s: &str) -> Operation {
        Operation::splice(len, pos, 0, s).unwrap()
    }

    #[test]
    fn a_snapshot_rebases_pending_edits_and_tracks_the_server_text() {
        // Server "ab" at 1; we type "X" (outstanding, seq 1) and "Y"
        // (buffered) while someone else's "q" at 0 lands.
        let mut r = Replica::new("ab", 1, 1);
        r.identified(1);
        r.resume();
        r.local_changes([(2, 2, "X")]).unwrap();
        r.local_changes([(3, 3, "Y")]).unwrap();
        let Incoming::Remote { changes } = r.receive(2, &ins(2, 0, "q")).unwrap() else {
            panic!("expected a remote edit");
        };
        assert_eq!(changes[0].from, 0);
        assert_eq!(r.text().to_string(), "qabXY");
        // The server (after a crash, say) has "😀qab" and never saw seq 1.
        r.disconnected();
        let changes = r.rebase("😀qab", 7, 0).unwrap();
        assert_eq!(
            changes,
            vec![Change {
                from: 0,
                to: 0,
                insert: "😀".into()
            }]
        );
        assert_eq!(r.text().to_string(), "😀qabXY");
        let s = r.resume().unwrap();
        assert_eq!((s.revision, s.seq), (7, 1));
        assert_eq!(s.operation.apply("😀qab").unwrap(), "😀qabXY");
        // Its acknowledgement moves the server text on.
        r.receive(1, &s.operation).unwrap();
        assert_eq!(r.inner.base().to_string(), "😀qabXY");
        // A landed edit is not applied twice.
        r.local_changes([(0, 0, "Z")]).unwrap();
        let seq = r.client().outstanding().unwrap().seq;
        let changes = r.rebase("Z😀qabXY", 9, seq).unwrap();
        assert!(changes.is_empty(), "{changes:?}");
        assert!(r.client().is_synchronized());
        assert_eq!(r.text().to_string(), "Z😀qabXY");
    }

    #[test]
    fn local_edits_in_utf16_reach_the_client_in_code_points() {
        let mut r = Replica::new("😀b", 4, 1);
        r.identified(1);
        assert_eq!(r.resume(), None);
        // Insert "é" after the emoji (UTF-16 offset 2 = code point 1).
        let s = r.local_changes([(2, 2, "é")]).unwrap().unwrap();
        assert_eq!((s.revision, s.seq), (4, 1));
        assert_eq!(s.operation, ins(2, 1, "é"));
        assert_eq!(r.text().to_string(), "😀éb");
        // Buffered while the first is in flight.
        assert_eq!(r.local_changes([(0, 2, "")]).unwrap(), None);
        assert_eq!(r.text().to_string(), "éb");
        assert_eq!(
            r.client().buffer(),
            Some(&Operation::splice(3, 0, 1, "").unwrap())
        );
        // The ack releases the buffer.
        let Incoming::Ack { next: Some(next) } = r.receive(1, &s.operation).unwrap() else {
            panic!("expected an ack with a next submission");
        };
        assert_eq!((next.revision, next.seq), (5, 2));
        assert_eq!(
            r.receive(1, &next.operation).unwrap(),
            Incoming::Ack { next: None }
        );
        assert!(r.client().is_synchronized());
        // A bad offset changes nothing.
        assert!(r.local_changes([(9, 9, "x")]).is_err());
        assert_eq!(r.text().to_string(), "éb");
    }

    #[test]
    fn remote_edits_come_out_in_utf16_before_the_edit() {
        let mut r = Replica::new("a😀b", 0, 1);
        r.identified(1);
        r.resume();
        // Pending local edit: "X" at the start.
        r.local_changes([(0, 0, "X")]).unwrap().unwrap();
        // Someone deletes 'b' (code point 2) and inserts "🦀" at 1.
        let mut op = Operation::new();
        op.retain(1).insert("🦀").retain(1).delete(1);
        let got = r.receive(2, &op).unwrap();
        assert_eq!(
            got,
            Incoming::Remote {
                changes: vec![
                    Change {
                        from: 2,
                        to: 2,
                        insert: "🦀".into()
                    },
                    Change {
                        from: 4,
                        to: 5,
                        insert: String::new()
                    },
                ]
            }
        );
        assert_eq!(r.text().to_string(), "Xa🦀😀");
        assert_eq!(r.client().revision(), 1);
        // Cursors. Server text "a🦀😀", local "Xa🦀😀": server code point 2
        // (between the emoji) is local UTF-16 offset 1 + 1 + 2.
        assert_eq!(r.remote_index_to_local(2), Ok(4));
        assert_eq!(r.local_index_to_remote(4), Ok(2));
        assert_eq!(r.local_index_to_remote(6), Ok(3));
        // Our own unacknowledged "X" maps back to its insertion point.
        assert_eq!(r.local_index_to_remote(1), Ok(0));
        assert_eq!(
            r.local_index_to_remote(5),
            Err(EdgeError::SplitsSurrogatePair { offset: 5 })
        );
        assert!(r.remote_index_to_local(4).is_err());
    }

    #[test]
    fn a_remote_edit_of_the_wrong_length_changes_nothing() {
        let mut r = Replica::new("abc", 7, 1);
        let before = r.client().clone();
        assert!(r.receive(2, &ins(2, 0, "x")).is_err());
        assert_eq!(r.client(), &before);
        assert_eq!(r.text().to_string(), "abc");
        // Pending: the transform does the checking.
        r.local_changes([(0, 0, "z")]).unwrap();
        let before = r.client().clone();
        assert!(r.receive(2, &ins(4, 0, "x")).is_err());
        assert_eq!(r.client(), &before);
        assert_eq!(r.text().to_string(), "zabc");
    }

    #[test]
    fn replay() {
        let text = replay_splices("ab", [(1, 0, "😀"), (0, 1, ""), (1, 1, "c")]).unwrap();
        assert_eq!(text.to_string(), "😀c");
        assert!(replay_splices("ab", [(3, 0, "x")]).is_err());
    }
}
