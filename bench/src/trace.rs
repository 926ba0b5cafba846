//! Trace mode: one client replays a real editing trace keystroke by
//! keystroke through the live server (each patch acknowledged before the
//! next), while watchers receive it. The trace format is described in
//! `shared/traces/README.md`.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::args::Args;
use crate::engine::{self, Behaviour, DocSpec, Outcome, Spec};
use crate::spawn::Server;

/// One patch: replace `delete` code points at `pos` with `insert`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Patch {
    /// Position in code points.
    pub pos: usize,
    /// Code points deleted.
    pub delete: usize,
    /// Text inserted.
    pub insert: String,
}

/// A trace file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TraceFile {
    start_content: String,
    end_content: String,
    txns: Vec<Txn>,
}

#[derive(Debug, Deserialize)]
struct Txn {
    patches: Vec<Patch>,
}

/// A loaded trace.
pub struct Trace {
    /// The text before the first patch.
    pub start: String,
    /// The text after the last patch.
    pub end: String,
    /// Every patch, in order.
    pub patches: Vec<Patch>,
}

/// Reads a gzipped trace (at most 256 MiB uncompressed).
pub fn load(path: &Path) -> Result<Trace, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(file)
        .take(256 << 20)
        .read_to_end(&mut json)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let t: TraceFile =
        serde_json::from_slice(&json).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Trace {
        start: t.start_content,
        end: t.end_content,
        patches: t.txns.into_iter().flat_map(|t| t.patches).collect(),
    })
}

/// What a trace replay adds to a run's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct TraceReport {
    /// The trace file.
    pub trace: String,
    /// Patches in the trace.
    pub patches: usize,
    /// Patches acknowledged (no-op patches are skipped and not counted).
    pub replayed: u64,
    /// Whether the whole trace was replayed within `--duration`: the
    /// server's final text equals the trace's end content.
    pub complete: bool,
    /// The run.
    pub run: Outcome,
}

/// Replays `args.trace` through one client with `args.watchers` watching.
pub async fn run(server: &Server, args: &Args, doc: String) -> Result<TraceReport, String> {
    let trace = load(&args.trace)?;
    let total = trace.patches.len();
    let patches = Arc::new(trace.patches);
    let mut clients = vec![Behaviour::Replay { patches }];
    clients.extend((0..args.watchers).map(|_| Behaviour::Watch));
    let spec = Spec {
        docs: vec![DocSpec {
            id: doc,
            initial_text: trace.start,
            clients,
        }],
        cursors: args.cursors,
        join_concurrency: args.join_concurrency,
        duration: args.duration,
        max_edits: args.max_edits,
        wait: args.wait,
    };
    let run = engine::run(server, spec).await?;
    let replayed = run.edits_acked;
    // Patches that change nothing are skipped, so completeness is judged
    // by the text: the whole trace gives exactly the end content.
    let complete = run.first_text.as_deref() == Some(trace.end.as_str());
    Ok(TraceReport {
        trace: args.trace.display().to_string(),
        patches: total,
        replayed,
        complete,
        run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaying_a_small_trace_gives_its_end() {
        let path = crate::args::traces_dir().join("friendsforever_flat.json.gz");
        if !path.exists() {
            eprintln!("skipped: {} not present", path.display());
            return;
        }
        let t = load(&path).unwrap();
        let mut text: Vec<char> = t.start.chars().collect();
        for p in &t.patches {
            text.splice(p.pos..p.pos + p.delete, p.insert.chars());
        }
        assert_eq!(text.into_iter().collect::<String>(), t.end);
    }
}
