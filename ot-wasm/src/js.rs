//! Reading and building JavaScript values at the edge, with `js-sys` only
//! (no serde: the shipped module has a size budget, and the values are
//! small and flat).
//!
//! Decoding follows [`tandem_ot::wire`], the rules the server's JSON
//! decoder uses too, so browser and server refuse the same operations.

use js_sys::{Array, JsString};
use tandem_ot::{Component, DecodeError, Operation, Submission, MAX_LEN};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::EdgeError;

/// The largest integer a JavaScript number holds exactly
/// (`Number.MAX_SAFE_INTEGER`): the limit for revisions, sequence numbers
/// and user ids, which are `u64` in Rust.
pub(crate) const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// An edge error becomes the JavaScript `Error` that is thrown.
impl From<EdgeError> for JsValue {
    fn from(e: EdgeError) -> Self {
        js_sys::Error::new(&e.to_string()).into()
    }
}

/// Checks that `v` is an integer in `0..=max`.
fn integer(v: f64, what: &'static str, max: u64) -> Result<u64, EdgeError> {
    // `max` is at most 2^53 - 1, so the comparison is exact.
    if v.is_finite() && v.fract() == 0.0 && v >= 0.0 && v <= max as f64 {
        Ok(v as u64)
    } else {
        Err(EdgeError::Number { what, max })
    }
}

/// An offset or index: an integer in `0..=MAX_LEN`.
pub(crate) fn index(v: f64, what: &'static str) -> Result<usize, EdgeError> {
    // MAX_LEN is u32::MAX, which fits usize on every target we build for.
    integer(v, what, MAX_LEN as u64).map(|n| n as usize)
}

/// A revision, sequence number or user id (`u64` in Rust): a
/// non-negative integer that a JavaScript number holds exactly.
pub(crate) fn id(v: f64, what: &'static str) -> Result<u64, EdgeError> {
    integer(v, what, MAX_SAFE_INTEGER)
}

/// Reads a JavaScript string, refusing lone surrogates: converting one to
/// Rust would silently replace it with U+FFFD, and the server refuses it.
pub(crate) fn string(v: &JsValue, what: &'static str) -> Result<String, EdgeError> {
    let s = v.dyn_ref::<JsString>().ok_or(EdgeError::Type {
        what,
        expected: "a string",
    })?;
    if !well_formed(s) {
        return Err(EdgeError::LoneSurrogate { what });
    }
    Ok(String::from(s))
}

/// Reads an array (by `Array.isArray`, which also accepts arrays from
/// another realm, unlike `instanceof`).
pub(crate) fn array<'v>(v: &'v JsValue, what: &'static str) -> Result<&'v Array, EdgeError> {
    if Array::is_array(v) {
        Ok(v.unchecked_ref())
    } else {
        Err(EdgeError::Type {
            what,
            expected: "an array",
        })
    }
}

/// Decodes a wire-form operation such as `[10, "hello", -3]`.
pub(crate) fn operation(v: &JsValue, what: &'static str) -> Result<Operation, EdgeError> {
    let elements = array(v, what)?;
    // The length is the caller's to choose (`[].length = 4e9` is cheap in
    // JS), so it only hints the capacity up to a bound: reserving what it
    // claims could abort on allocation before the first element is read.
    let mut op = Operation::with_capacity((elements.length() as usize).min(1024));
    // Base and target lengths, counted in u64. On wasm32 `usize` is 32
    // bits, so `MAX_LEN` is `usize::MAX` and the operation's own lengths
    // saturate at exactly `MAX_LEN`: `push_decoded` could never see them
    // exceed it, and `[4294967295, 1]` would pass here while the (64-bit)
    // server refuses it. Counting wide keeps the two in agreement.
    let (mut base, mut target) = (0u64, 0u64);
    for (index, element) in elements.iter().enumerate() {
        let decoded = if let Some(n) = element.as_f64() {
            Component::from_wire_f64(n)
        } else if element.is_string() {
            let s = string(&element, what)?;
            Component::from_wire_str(s)
        } else {
            Err(DecodeError::WrongType)
        };
        decoded
            .and_then(|c| {
                match &c {
                    Component::Retain(n) => {
                        base += *n as u64;
                        target += *n as u64;
                    }
                    Component::Insert(s) => target += s.chars().count() as u64,
                    Component::Delete(n) => base += *n as u64,
                }
                if base > MAX_LEN as u64 || target > MAX_LEN as u64 {
                    return Err(DecodeError::TooLong);
                }
                op.push_decoded(c)
            })
            .map_err(|error| EdgeError::Decode { what, index, error })?;
    }
    Ok(op)
}

/// Encodes an operation in the wire form.
pub(crate) fn wire(op: &Operation) -> Array {
    let out = Array::new_with_length(op.components().len() as u32);
    for (i, c) in op.components().iter().enumerate() {
        let v = match c {
            Component::Retain(n) => JsValue::from_f64(*n as f64),
            Component::Delete(n) => JsValue::from_f64(-(*n as f64)),
            Component::Insert(s) => JsValue::from_str(s),
        };
        out.set(i as u32, v);
    }
    out
}

// Result objects are built by small JS functions, one boundary crossing
// per object instead of one `Reflect.set` per property (each of which also
// decoded its key from UTF-8): on the trace replay that halves the cost of
// a keystroke. Literal objects also give V8 one stable shape per kind.
#[wasm_bindgen(inline_js = "
export function submission(revision, seq, operation) {
  return { revision, seq, operation };
}
export function ack(next) {
  return next === undefined ? { kind: 'ack' } : { kind: 'ack', next };
}
export function remote(changes) {
  return { kind: 'remote', changes };
}
export function change(from, to, insert) {
  return { from, to, insert };
}
export function wellFormed(s) {
  return typeof s.isWellFormed === 'function'
    ? s.isWellFormed()
    : /^(?:[^\\ud800-\\udfff]|[\\ud800-\\udbff][\\udc00-\\udfff])*$/.test(s);
}
")]
extern "C" {
    /// `{revision, seq, operation}`.
    #[wasm_bindgen(js_name = submission)]
    fn submission_object(revision: f64, seq: f64, operation: &Array) -> JsValue;
    /// `{kind: "ack"}` or `{kind: "ack", next}`.
    #[wasm_bindgen(js_name = ack)]
    pub(crate) fn ack_object(next: &JsValue) -> JsValue;
    /// `{kind: "remote", changes}`.
    #[wasm_bindgen(js_name = remote)]
    pub(crate) fn remote_object(changes: &Array) -> JsValue;
    /// `{from, to, insert}`.
    #[wasm_bindgen(js_name = change)]
    pub(crate) fn change_object(from: f64, to: f64, insert: &str) -> JsValue;
    /// `String.prototype.isWellFormed` where the engine has it (2023 on),
    /// a regular expression elsewhere. Calling a missing method would throw
    /// through the WASM frames and leave the `Doc` borrowed for good.
    #[wasm_bindgen(js_name = wellFormed)]
    fn well_formed(s: &JsString) -> bool;
}

/// `{revision, seq, operation}`, the message body to send. Revisions and
/// sequence numbers past 2^53 would round, but they count edits and
/// start from values checked by [`id`], so none will get there.
pub(crate) fn submission(s: &Submission) -> JsValue {
    submission_object(s.revision as f64, s.seq as f64, &wire(&s.operation))
}

/// `undefined` or `{revision, seq, operation}`.
pub(crate) fn optional_submission(s: Option<Submission>) -> JsValue {
    s.as_ref().map_or(JsValue::UNDEFINED, submission)
}
