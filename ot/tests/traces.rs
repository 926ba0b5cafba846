//! Replays every real editing trace in `../shared/traces/` (keystroke
//! recordings of people writing documents) through the operation API.

mod common;

use tandem_ot::{Operation, Text};

/// Each patch becomes an operation applied to the rope; the end text must
/// be the recorded one.
#[test]
fn every_trace_replays_to_its_end_content() {
    for path in common::all_traces() {
        let trace = common::load_trace(&path);
        let mut text = Text::from(trace.start.as_str());
        for (i, (pos, del, ins)) in trace.patches.iter().enumerate() {
            let op = Operation::splice(text.len_chars(), *pos, *del, ins)
                .unwrap_or_else(|e| panic!("{} patch {i}: {e}", trace.name));
            text.apply(&op)
                .unwrap_or_else(|e| panic!("{} patch {i}: {e}", trace.name));
        }
        assert!(
            text.to_string() == trace.end,
            "{}: replay differs from endContent",
            trace.name
        );
    }
}

/// The same edits composed in runs of 64 before applying: compose must
/// agree with sequential application on real editing patterns, and the
/// inverse of each run must take the text back.
#[test]
fn composed_runs_of_trace_edits_replay_the_same() {
    for path in common::all_traces() {
        let trace = common::load_trace(&path);
        let mut text = Text::from(trace.start.as_str());
        let mut len = text.len_chars();
        for (chunk_no, chunk) in trace.patches.chunks(64).enumerate() {
            let mut run = Operation::new();
            run.retain(len);
            for (pos, del, ins) in chunk {
                let op = Operation::splice(len, *pos, *del, ins).unwrap();
                run = run.compose(&op).unwrap();
                len = op.target_len();
            }
            let before = (chunk_no % 97 == 0).then(|| text.clone());
            let inverse = text.invert(&run).unwrap();
            text.apply(&run).unwrap();
            if let Some(before) = before {
                let mut undone = text.clone();
                undone.apply(&inverse).unwrap();
                assert!(undone == before, "{} run {chunk_no}: invert", trace.name);
            }
        }
        assert!(
            text.to_string() == trace.end,
            "{}: composed replay differs",
            trace.name
        );
    }
}
