//! Load mode: documents × clients typing, at a rate or saturating, and
//! optionally a probe of what a new joiner receives afterwards.

use serde::Serialize;

use crate::args::Args;
use crate::client::{self, JoinOptions};
use crate::engine::{self, Behaviour, DocSpec, Outcome, Spec};
use crate::spawn::Server;
use crate::typing::{filler, Typist};

/// What a client joining after the run receives.
#[derive(Debug, Clone, Serialize)]
pub struct GreetingReport {
    /// `Hello.revision` it sent.
    pub hello_revision: Option<u64>,
    /// `Snapshot` or `History`.
    pub catch_up: String,
    /// Bytes of the catch-up message.
    pub catch_up_bytes: usize,
    /// Bytes of the whole greeting.
    pub greeting_bytes: usize,
    /// Messages in the greeting.
    pub messages: usize,
    /// Time to receive it, ms.
    pub ms: f64,
}

/// The join probe of `--probe-join`.
#[derive(Debug, Clone, Serialize)]
pub struct JoinProbe {
    /// The document's text, bytes of UTF-8.
    pub text_bytes: usize,
    /// A fresh join (`Hello` without a revision).
    pub fresh: Option<GreetingReport>,
    /// A client reconnecting from revision 0 (the oldest possible).
    pub from_revision_0: Option<GreetingReport>,
}

/// A load run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Documents.
    pub docs: usize,
    /// Clients per document.
    pub clients_per_doc: usize,
    /// Edits per second per client (0: saturating).
    pub rate: f64,
    /// Initial document size, bytes.
    pub initial_size: usize,
    /// Presence traffic on.
    pub cursors: bool,
    /// The run.
    pub run: Outcome,
    /// What a new joiner receives, with `--probe-join`.
    pub probe: Option<JoinProbe>,
}

/// Runs load mode on documents named `{prefix}-{i}`.
pub async fn run(server: &Server, args: &Args, prefix: &str) -> Result<LoadReport, String> {
    let initial = filler(args.initial_size);
    let soft_max = initial.chars().count() + args.growth;
    let docs = (0..args.docs)
        .map(|d| DocSpec {
            id: format!("{prefix}-{d}"),
            initial_text: initial.clone(),
            clients: (0..args.clients)
                .map(|c| Behaviour::Type {
                    typist: Typist::new(
                        args.seed
                            .wrapping_mul(1_000_003)
                            .wrapping_add((d * args.clients + c) as u64),
                        soft_max,
                    ),
                    rate: args.rate,
                })
                .collect(),
        })
        .collect();
    let spec = Spec {
        docs,
        cursors: args.cursors,
        join_concurrency: args.join_concurrency,
        duration: args.duration,
        max_edits: args.max_edits,
        wait: args.wait,
    };
    let run = engine::run(server, spec).await?;
    let probe = if args.probe_join {
        Some(probe(server, &format!("{prefix}-0"), &run, args).await)
    } else {
        None
    };
    Ok(LoadReport {
        docs: args.docs,
        clients_per_doc: args.clients,
        rate: args.rate,
        initial_size: args.initial_size,
        cursors: args.cursors,
        run,
        probe,
    })
}

/// Measures the greeting of a fresh joiner and of a reconnect from
/// revision 0 on document `id`.
async fn probe(server: &Server, id: &str, run: &Outcome, args: &Args) -> JoinProbe {
    let mut out = JoinProbe {
        text_bytes: run.convergence.text_bytes.first().copied().unwrap_or(0),
        fresh: None,
        from_revision_0: None,
    };
    for revision in [None, Some(0)] {
        let options = JoinOptions {
            info: Some(("probe".into(), 200)),
            small_buffers: false,
            revision,
            wait: args.wait,
        };
        match client::probe_greeting(&server.ws_base, id, &options).await {
            Ok(g) => {
                let r = GreetingReport {
                    hello_revision: revision,
                    catch_up: g.catch_up.to_owned(),
                    catch_up_bytes: g.catch_up_bytes,
                    greeting_bytes: g.bytes,
                    messages: g.messages,
                    ms: g.elapsed.as_secs_f64() * 1000.0,
                };
                if revision.is_none() {
                    out.fresh = Some(r);
                } else {
                    out.from_revision_0 = Some(r);
                }
            }
            Err(e) => eprintln!("tandem-bench: join probe (revision {revision:?}) failed: {e}"),
        }
    }
    out
}
