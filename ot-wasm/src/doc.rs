//! The `Doc` class: the editor's replica of a document, for JavaScript.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::error::EdgeError;
use crate::js;
use crate::replica::{Change, Incoming, Replica};
use crate::utf16::ChangeBuilder;

/// One document as the browser editor sees it: a rope mirroring the
/// editor's text, plus the OT client state machine (outstanding edit,
/// buffered edits, revision, sequence numbers).
///
/// The editor speaks UTF-16 offsets (JavaScript string indices); the server
/// speaks code points. `Doc` converts at this edge, in O(log n) per offset,
/// never by rescanning the text.
///
/// Protocol, in short: construct from the server's text and revision, call
/// `identified(user)` when the server names this client, feed the catch-up
/// history to `receive`, then `resume()` and send what it returns. Send
/// every `Submission` that `localChanges`, `resume` or an acknowledgement
/// returns. After a connection drops, call `disconnected()`.
///
/// Every method that takes input throws an `Error` on invalid input and
/// then leaves the document unchanged.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Doc {
    /// The rope and the client, kept in step.
    replica: Replica,
}

#[wasm_bindgen]
impl Doc {
    /// A document whose text is the server's `text` at `revision`, with
    /// nothing pending. It starts offline: see `identified` and `resume`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "string")] text: &JsValue,
        revision: f64,
    ) -> Result<Doc, JsValue> {
        Doc::with_next_seq(text, revision, 1.0)
    }

    /// Like the constructor, for a client identity that already used
    /// sequence numbers below `nextSeq` (numbers are never reused, so a
    /// client restored from storage must continue its sequence).
    #[wasm_bindgen(js_name = withNextSeq)]
    pub fn with_next_seq(
        #[wasm_bindgen(unchecked_param_type = "string")] text: &JsValue,
        revision: f64,
        #[wasm_bindgen(js_name = nextSeq)] next_seq: f64,
    ) -> Result<Doc, JsValue> {
        let text = js::string(text, "text")?;
        let revision = js::id(revision, "revision")?;
        let next_seq = js::id(next_seq, "nextSeq")?;
        Ok(Doc {
            replica: Replica::new(&text, revision, next_seq),
        })
    }

    /// Records the user id the server gave this client. History entries by
    /// this user acknowledge our edits.
    pub fn identified(&mut self, user: f64) -> Result<(), JsValue> {
        self.replica.identified(js::id(user, "user")?);
        Ok(())
    }

    /// The connection is gone: stop producing submissions. Local edits are
    /// still accepted and kept.
    pub fn disconnected(&mut self) {
        self.replica.disconnected();
    }

    /// The connection is up and the catch-up history has been received:
    /// go online and return the outstanding edit to (re)send, if any.
    #[wasm_bindgen(unchecked_return_type = "Submission | undefined")]
    pub fn resume(&mut self) -> JsValue {
        js::optional_submission(self.replica.resume())
    }

    /// A local edit the editor has just made: `[fromUtf16, toUtf16,
    /// insertText]` triples in offsets of the text *before* the edit,
    /// sorted and non-overlapping (what CodeMirror's
    /// `ChangeSet.iterChanges` yields as `fromA, toA, inserted`). They
    /// become one operation. Returns the submission to send, or
    /// `undefined` when the edit waits for an acknowledgement (or the
    /// client is offline, or the edit changes nothing).
    ///
    /// Throws on an offset past the end, an offset inside a surrogate pair,
    /// unsorted or overlapping changes, or text with a lone surrogate.
    #[wasm_bindgen(
        js_name = localChanges,
        unchecked_return_type = "Submission | undefined"
    )]
    pub fn local_changes(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "LocalChange[]")] changes: &JsValue,
    ) -> Result<JsValue, JsValue> {
        let changes = js::array(changes, "changes")?;
        let mut builder = ChangeBuilder::new(self.replica.text());
        for (i, change) in changes.iter().enumerate() {
            let (from, to, insert) = local_change(&change, i)?;
            builder.push(from, to, &insert)?;
        }
        let op = builder.finish();
        Ok(js::optional_submission(self.replica.apply_local(op)?))
    }

    /// A history entry from the server, in order: `author` made
    /// `operation` (wire form, code points) on the server text at
    /// `revision`.
    ///
    /// Returns `{kind: "ack", next?}` when it acknowledges our outstanding
    /// edit (`next` is the buffered edit to send now, if any), or
    /// `{kind: "remote", changes}` for someone else's edit, where `changes`
    /// is a CodeMirror `ChangeSpec` list `{from, to, insert}` in UTF-16
    /// offsets of the local text before the edit, to dispatch to the
    /// editor. The document's own text is already updated.
    #[wasm_bindgen(unchecked_return_type = "ReceiveResult")]
    pub fn receive(
        &mut self,
        author: f64,
        #[wasm_bindgen(unchecked_param_type = "WireOperation")] operation: &JsValue,
    ) -> Result<JsValue, JsValue> {
        let author = js::id(author, "author")?;
        let op = js::operation(operation, "operation")?;
        Ok(match self.replica.receive(author, &op)? {
            Incoming::Ack { next } => js::ack_object(&js::optional_submission(next)),
            Incoming::Remote { changes } => js::remote_object(&change_array(&changes)),
        })
    }

    /// The server sent a snapshot instead of history (this client was
    /// further behind than its history, or the server lost edits in a
    /// crash): `text` at `revision`, with this client's edits up to
    /// `lastSeq` in it. Pending edits are kept, rebased onto the snapshot;
    /// returns the CodeMirror `ChangeSpec` list `{from, to, insert}` (UTF-16
    /// offsets of the local text before) that brings the editor to the new
    /// local text. Call `resume()` afterwards, as after a catch-up.
    #[wasm_bindgen(unchecked_return_type = "RemoteChange[]")]
    pub fn rebase(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] text: &JsValue,
        revision: f64,
        #[wasm_bindgen(js_name = lastSeq)] last_seq: f64,
    ) -> Result<JsValue, JsValue> {
        let text = js::string(text, "text")?;
        let revision = js::id(revision, "revision")?;
        let last_seq = js::id(last_seq, "lastSeq")?;
        let changes = self.replica.rebase(&text, revision, last_seq)?;
        Ok(change_array(&changes).into())
    }

    /// Maps a code point index in the server text at the current revision
    /// (where other users' cursors are reported) to a UTF-16 offset in the
    /// local text.
    #[wasm_bindgen(js_name = remoteIndexToLocal)]
    pub fn remote_index_to_local(&self, index: f64) -> Result<f64, JsValue> {
        let index = js::index(index, "index")?;
        Ok(self.replica.remote_index_to_local(index)? as f64)
    }

    /// Maps a UTF-16 offset in the local text (our own cursor) to a code
    /// point index in the server text at the current revision. A position
    /// inside text the server has not seen yet maps to its insertion point.
    #[wasm_bindgen(js_name = localIndexToRemote)]
    pub fn local_index_to_remote(&self, offset: f64) -> Result<f64, JsValue> {
        let offset = js::index(offset, "offset")?;
        Ok(self.replica.local_index_to_remote(offset)? as f64)
    }

    /// The local text (server text plus pending local edits). O(n): for
    /// checks and recovery, not for every keystroke.
    pub fn text(&self) -> String {
        self.replica.text().to_string()
    }

    /// The last server revision folded into the local text.
    #[wasm_bindgen(getter)]
    pub fn revision(&self) -> f64 {
        self.replica.client().revision() as f64
    }

    /// True when no local edit is waiting for the server.
    #[wasm_bindgen(getter, js_name = isSynchronized)]
    pub fn is_synchronized(&self) -> bool {
        self.replica.client().is_synchronized()
    }

    /// True between `resume()` and `disconnected()`.
    #[wasm_bindgen(getter, js_name = isOnline)]
    pub fn is_online(&self) -> bool {
        self.replica.client().is_online()
    }

    /// Our user id, once `identified` was called.
    #[wasm_bindgen(getter)]
    pub fn user(&self) -> Option<f64> {
        self.replica.client().user().map(|u| u as f64)
    }

    /// Length of the local text in UTF-16 code units (the editor's
    /// `doc.length`).
    #[wasm_bindgen(getter, js_name = lenUtf16)]
    pub fn len_utf16(&self) -> f64 {
        self.replica.text().len_utf16() as f64
    }

    /// Length of the local text in code points.
    #[wasm_bindgen(getter, js_name = lenChars)]
    pub fn len_chars(&self) -> f64 {
        self.replica.text().len_chars() as f64
    }

    /// The sequence number the next outstanding edit will get: persist it
    /// with the pending edits.
    #[wasm_bindgen(getter, js_name = nextSeq)]
    pub fn next_seq(&self) -> f64 {
        self.replica.client().next_seq() as f64
    }

    /// The sequence number of the edit in flight, if any.
    #[wasm_bindgen(getter, js_name = outstandingSeq)]
    pub fn outstanding_seq(&self) -> Option<f64> {
        self.replica.client().outstanding().map(|p| p.seq as f64)
    }

    /// The edit in flight (wire form, based on `revision`), if any.
    #[wasm_bindgen(getter, unchecked_return_type = "WireOperation | undefined")]
    pub fn outstanding(&self) -> JsValue {
        self.replica
            .client()
            .outstanding()
            .map_or(JsValue::UNDEFINED, |p| js::wire(&p.operation).into())
    }

    /// Local edits made after the outstanding one, composed into one (wire
    /// form, based on the outstanding edit's result), if any.
    #[wasm_bindgen(getter, unchecked_return_type = "WireOperation | undefined")]
    pub fn buffer(&self) -> JsValue {
        self.replica
            .client()
            .buffer()
            .map_or(JsValue::UNDEFINED, |op| js::wire(op).into())
    }
}

/// Reads one `[from, to, insert]` triple.
fn local_change(v: &JsValue, index: usize) -> Result<(usize, usize, String), EdgeError> {
    let bad = EdgeError::BadChange {
        index,
        reason: "expected [from, to, insert] with integer offsets and a string",
    };
    if !Array::is_array(v) {
        return Err(bad);
    }
    let triple: &Array = v.unchecked_ref();
    if triple.length() != 3 {
        return Err(bad);
    }
    let (from, to, insert) = (triple.get(0), triple.get(1), triple.get(2));
    let (Some(from), Some(to)) = (from.as_f64(), to.as_f64()) else {
        return Err(bad);
    };
    Ok((
        js::index(from, "change offset")?,
        js::index(to, "change offset")?,
        js::string(&insert, "inserted text")?,
    ))
}

/// Changes as a JavaScript array of CodeMirror `ChangeSpec` objects.
fn change_array(changes: &[Change]) -> Array {
    let specs = Array::new_with_length(changes.len() as u32);
    for (i, c) in changes.iter().enumerate() {
        specs.set(
            i as u32,
            js::change_object(c.from as f64, c.to as f64, &c.insert),
        );
    }
    specs
}
