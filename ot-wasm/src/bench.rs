//! The benchmark entry point (cargo feature `bench`): replays an editing
//! trace inside WASM so `web/scripts/bench-wasm.mjs` times the OT core and
//! the rope, not a quarter of a million crossings of the JS boundary.

use wasm_bindgen::prelude::*;

use crate::error::EdgeError;
use crate::replica::replay_splices;

/// Replays splices with `Operation::splice` + `Text::apply` and returns the
/// final text. Splice `i` deletes `deletes[i]` code points at
/// `positions[i]` and inserts the next `insertLens[i]` code points of
/// `inserts` (all inserted texts, concatenated).
#[wasm_bindgen(js_name = replaySplices)]
pub fn replay_splices_js(
    start: &str,
    positions: &[u32],
    deletes: &[u32],
    inserts: &str,
    #[wasm_bindgen(js_name = insertLens)] insert_lens: &[u32],
) -> Result<String, JsValue> {
    let n = positions.len();
    if deletes.len() != n || insert_lens.len() != n {
        return Err(EdgeError::Type {
            what: "positions, deletes and insertLens",
            expected: "arrays of one length",
        }
        .into());
    }
    let mut rest = inserts;
    let mut splices = Vec::with_capacity(n);
    for i in 0..n {
        let len = insert_lens[i] as usize;
        let split = rest.char_indices().nth(len).map_or(rest.len(), |(b, _)| b);
        let (insert, tail) = rest.split_at(split);
        rest = tail;
        splices.push((positions[i] as usize, deletes[i] as usize, insert));
    }
    Ok(replay_splices(start, splices)?.to_string())
}
