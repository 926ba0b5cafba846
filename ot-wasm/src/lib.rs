//! Tandem's OT core for the browser: [`tandem_ot`] compiled to WASM with
//! wasm-bindgen, plus the conversion between the editor's UTF-16 offsets
//! and the core's code points.
//!
//! # JavaScript API
//!
//! - `Doc`: the editor's replica of one document — a rope mirroring the
//!   editor's text and the OT client state machine. Local edits go in as
//!   CodeMirror-style `[from, to, insert]` triples in UTF-16; remote edits
//!   come out as CodeMirror `ChangeSpec`s in UTF-16; cursors are mapped
//!   both ways.
//! - `compose`, `transform`, `apply`, `transformIndex`: the core's
//!   functions on wire-form operations, for tests and tools.
//!
//! Wire-form operations are arrays like `[10, "hello", -3]` (retain 10,
//! insert "hello", delete 3), in code points, decoded by the same rules as
//! on the server ([`tandem_ot::wire`]). Invalid input throws a JavaScript
//! `Error`; nothing panics, since a panic in WASM is a trap that kills the
//! module.
//!
//! # Layout
//!
//! The logic lives in plain Rust, tested natively: [`utf16`] converts
//! offsets and edits, [`replica::Replica`] keeps rope and client in step.
//! The `js`, `doc` and `ops` modules only translate JavaScript values.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "bench")]
mod bench;
mod doc;
pub mod error;
mod js;
mod ops;
pub mod replica;
pub mod utf16;

pub use doc::Doc;
pub use error::EdgeError;
pub use ops::{apply, compose, transform, transform_index};

use wasm_bindgen::prelude::*;

/// TypeScript names for the plain values the API takes and returns; the
/// generated `.d.ts` would otherwise say `any`.
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** An operation in wire form: positive integer = retain, negative = delete,
 * string = insert; lengths in code points. Example: `[10, "hello", -3]`. */
export type WireOperation = (number | string)[];

/** A local change `[fromUtf16, toUtf16, insertText]`, offsets in the text
 * before the edit (CodeMirror's `iterChanges` `fromA, toA, inserted`). */
export type LocalChange = [number, number, string];

/** What to send to the server: apply `operation`, based on `revision`, as
 * this client's edit number `seq`. */
export interface Submission {
  revision: number;
  seq: number;
  operation: WireOperation;
}

/** A CodeMirror `ChangeSpec`: UTF-16 offsets in the text before the edit. */
export interface RemoteChange {
  from: number;
  to: number;
  insert: string;
}

/** What `Doc.receive` found: an acknowledgement of our edit (with the next
 * edit to send, if any were buffered) or someone else's edit to apply. */
export type ReceiveResult =
  | { kind: "ack"; next?: Submission }
  | { kind: "remote"; changes: RemoteChange[] };
"#;
