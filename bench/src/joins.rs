//! Joins mode: N clients join one document at the same moment (with
//! names, as browsers do, so each join is announced to everyone), stay
//! `--hold` seconds without editing, and are checked for refusals,
//! disconnects and convergence.

use crate::args::Args;
use crate::engine::{self, Behaviour, DocSpec, Outcome, Spec};
use crate::spawn::Server;
use crate::typing::filler;

/// Runs joins mode on document `doc`.
pub async fn run(server: &Server, args: &Args, doc: String) -> Result<Outcome, String> {
    let spec = Spec {
        docs: vec![DocSpec {
            id: doc,
            initial_text: filler(args.initial_size),
            clients: (0..args.clients).map(|_| Behaviour::Watch).collect(),
        }],
        cursors: true,
        join_concurrency: args.join_concurrency,
        duration: args.hold,
        max_edits: None,
        wait: args.wait,
    };
    engine::run(server, spec).await
}
