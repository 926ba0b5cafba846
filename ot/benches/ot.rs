//! Criterion benchmarks of the OT core. Figures go to docs/benchmarks.md
//! with the command that produced them; nothing here is asserted.
//!
//! `cargo bench -p tandem-ot --bench ot`

#![allow(missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tandem_ot::{Operation, Text};

fn trace(name: &str) -> common::Trace {
    common::load_trace(&common::traces_dir().join(name))
}

/// The automerge-paper trace (259,778 keystrokes) replayed as operations
/// on the rope: operation construction + apply, the server's per-edit
/// work minus the network.
fn replay(c: &mut Criterion) {
    let t = trace("automerge-paper.json.gz");
    let mut g = c.benchmark_group("replay");
    g.sample_size(20);
    g.bench_function("automerge-paper/rope", |b| {
        b.iter(|| {
            let mut text = Text::from(t.start.as_str());
            for (pos, del, ins) in &t.patches {
                let op = Operation::splice(text.len_chars(), *pos, *del, ins).unwrap();
                text.apply(&op).unwrap();
            }
            assert_eq!(text.len_chars(), 104_852);
            text
        })
    });
    // For scale: the first 20,000 edits with a String rebuilt per edit,
    // which is what an O(document) apply costs.
    g.bench_function("automerge-paper-first-20k/string", |b| {
        b.iter(|| {
            let mut text = t.start.clone();
            let mut len = text.chars().count();
            for (pos, del, ins) in &t.patches[..20_000] {
                let op = Operation::splice(len, *pos, *del, ins).unwrap();
                text = op.apply(&text).unwrap();
                len = op.target_len();
            }
            text
        })
    });
    g.bench_function("automerge-paper-first-20k/rope", |b| {
        b.iter(|| {
            let mut text = Text::from(t.start.as_str());
            for (pos, del, ins) in &t.patches[..20_000] {
                let op = Operation::splice(text.len_chars(), *pos, *del, ins).unwrap();
                text.apply(&op).unwrap();
            }
            text
        })
    });
    g.finish();
}

/// A typical edit: one character typed or deleted somewhere in a text of
/// `len` code points.
fn typical(rng: &mut StdRng, len: usize) -> Operation {
    let pos = rng.random_range(0..len);
    if rng.random_bool(0.8) {
        Operation::splice(len, pos, 0, "x").unwrap()
    } else {
        Operation::splice(len, pos, 1, "").unwrap()
    }
}

/// `n` consecutive typical edits starting from a text of `len`.
fn history(rng: &mut StdRng, mut len: usize, n: usize) -> Vec<Operation> {
    (0..n)
        .map(|_| {
            let op = typical(rng, len);
            len = op.target_len();
            op
        })
        .collect()
}

/// What the server does for an edit made 1,000 revisions ago, and what
/// composing a burst of 1,000 keystrokes costs.
fn transform_compose(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(7);
    let len = 10_000;
    let past = history(&mut rng, len, 1000);
    let incoming = typical(&mut rng, len);
    let mut g = c.benchmark_group("history-1000");
    g.bench_function("transform-typical-edit", |b| {
        b.iter(|| {
            let mut op = incoming.clone();
            for h in &past {
                op = op.transform(black_box(h)).unwrap().0;
            }
            op
        })
    });
    g.bench_function("compose-1000-typical-edits", |b| {
        b.iter_batched(
            || past.clone(),
            |past| {
                let mut acc = Operation::new();
                acc.retain(len);
                for h in &past {
                    acc = acc.compose(h).unwrap();
                }
                acc
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, replay, transform_compose);
criterion_main!(benches);
