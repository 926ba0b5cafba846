//! Free functions on wire-form operations, for tests and tools in
//! JavaScript. Lengths and indices count code points, as on the wire.

use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::js;

/// `a` then `b` as one operation. Throws unless `b` applies to what `a`
/// produces.
#[wasm_bindgen(unchecked_return_type = "WireOperation")]
pub fn compose(
    #[wasm_bindgen(unchecked_param_type = "WireOperation")] a: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "WireOperation")] b: &JsValue,
) -> Result<JsValue, JsValue> {
    let a = js::operation(a, "a")?;
    let b = js::operation(b, "b")?;
    let composed = a.compose(&b).map_err(crate::EdgeError::from)?;
    Ok(js::wire(&composed).into())
}

/// Rebases two concurrent operations on the same text onto each other:
/// returns `[a', b']` with `apply(apply(s, a), b') == apply(apply(s, b),
/// a')`. When both insert at one position, `a`'s insert goes first.
#[wasm_bindgen(unchecked_return_type = "[WireOperation, WireOperation]")]
pub fn transform(
    #[wasm_bindgen(unchecked_param_type = "WireOperation")] a: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "WireOperation")] b: &JsValue,
) -> Result<JsValue, JsValue> {
    let a = js::operation(a, "a")?;
    let b = js::operation(b, "b")?;
    let (a2, b2) = a.transform(&b).map_err(crate::EdgeError::from)?;
    Ok(Array::of2(&js::wire(&a2), &js::wire(&b2)).into())
}

/// Applies `operation` to `text`. Throws unless the operation's base
/// length is the text's length in code points.
#[wasm_bindgen]
pub fn apply(
    #[wasm_bindgen(unchecked_param_type = "string")] text: &JsValue,
    #[wasm_bindgen(unchecked_param_type = "WireOperation")] operation: &JsValue,
) -> Result<String, JsValue> {
    let text = js::string(text, "text")?;
    let op = js::operation(operation, "operation")?;
    Ok(op.apply(&text).map_err(crate::EdgeError::from)?)
}

/// Moves a code point index of the operation's base text to its target
/// text (an insert at the index pushes it right; a delete covering it
/// moves it to the deletion point).
#[wasm_bindgen(js_name = transformIndex)]
pub fn transform_index(
    #[wasm_bindgen(unchecked_param_type = "WireOperation")] operation: &JsValue,
    index: f64,
) -> Result<f64, JsValue> {
    let op = js::operation(operation, "operation")?;
    let index = js::index(index, "index")?;
    let moved = op.transform_index(index).map_err(crate::EdgeError::from)?;
    Ok(moved as f64)
}
