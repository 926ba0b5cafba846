//! Shared helpers for the `tandem-ot` integration tests: a seeded property
//! runner whose failures print the seed that reproduces them, generators
//! of Unicode-heavy texts and operations, and the editing-trace loader.

#![allow(dead_code)] // each test file uses a different subset

use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use tandem_ot::{Component, Operation};

/// The seed for this run: `TANDEM_SEED` if set, otherwise fresh. Printed
/// on every failure so that `TANDEM_SEED=<n> cargo test` reproduces it.
pub fn seed() -> u64 {
    match std::env::var("TANDEM_SEED") {
        Ok(s) => s.trim().parse().expect("TANDEM_SEED must be a u64"),
        Err(_) => {
            use std::hash::{BuildHasher, RandomState};
            RandomState::new().hash_one(std::time::SystemTime::now())
        }
    }
}

/// How many cases each property runs (`TANDEM_CASES`, default 512).
pub fn cases() -> u32 {
    std::env::var("TANDEM_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(512)
}

/// Runs a property with a seeded runner. On failure it panics with the
/// property's name, the seed and proptest's minimised counterexample.
pub fn check<S>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let seed = seed();
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("property `{name}` failed; reproduce with TANDEM_SEED={seed}\n{e}");
    }
}

/// Pieces texts are made of: ASCII, a newline, precomposed and combining
/// accents, CJK, astral-plane characters, a ZWJ emoji sequence and a flag
/// (two regional indicators) — everything where code points, UTF-16 units,
/// bytes and graphemes disagree.
pub const PIECES: &[&str] = &[
    "a",
    "b",
    "c",
    " ",
    "\n",
    "é",
    "e\u{301}",
    "中",
    "😀",
    "𝔸",
    "👩\u{200d}👩\u{200d}👧",
    "🇫🇷",
];

/// A text of up to `max` pieces.
pub fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..=max).prop_map(|v| v.concat())
}

/// A non-empty insert.
fn insert_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 1..=3).prop_map(|v| v.concat())
}

/// One step of a generated operation before it is fitted to a length.
#[derive(Debug, Clone)]
enum Step {
    Retain(usize),
    Delete(usize),
    Insert(String),
}

/// An operation whose base length is exactly `len` code points. Steps
/// are clipped to what is left, and the rest is retained, so every
/// generated operation is valid; small amounts make same-position inserts
/// and overlapping deletes common.
pub fn op(len: usize) -> impl Strategy<Value = Operation> {
    let step = prop_oneof![
        (1usize..4).prop_map(Step::Retain),
        (1usize..4).prop_map(Step::Delete),
        insert_text().prop_map(Step::Insert),
    ];
    prop::collection::vec(step, 0..8).prop_map(move |steps| {
        let mut op = Operation::new();
        let mut left = len;
        for s in steps {
            match s {
                Step::Retain(n) => {
                    let n = n.min(left);
                    op.retain(n);
                    left -= n;
                }
                Step::Delete(n) => {
                    let n = n.min(left);
                    op.delete(n);
                    left -= n;
                }
                Step::Insert(s) => {
                    op.insert(&s);
                }
            }
        }
        op.retain(left);
        op
    })
}

/// A text and an operation on it.
pub fn text_and_op() -> impl Strategy<Value = (String, Operation)> {
    text(10).prop_flat_map(|t| {
        let n = t.chars().count();
        (Just(t), op(n))
    })
}

/// A text and two concurrent operations on it.
pub fn text_and_two_ops() -> impl Strategy<Value = (String, Operation, Operation)> {
    text(10).prop_flat_map(|t| {
        let n = t.chars().count();
        (Just(t), op(n), op(n))
    })
}

/// Fails unless `op` is in canonical form: no empty components, no equal
/// neighbours, no delete directly followed by an insert.
pub fn assert_canonical(op: &Operation) -> Result<(), TestCaseError> {
    let c = op.components();
    for comp in c {
        let empty = match comp {
            Component::Retain(n) | Component::Delete(n) => *n == 0,
            Component::Insert(s) => s.is_empty(),
        };
        prop_assert!(!empty, "empty component in {:?}", op);
    }
    for pair in c.windows(2) {
        let same = std::mem::discriminant(&pair[0]) == std::mem::discriminant(&pair[1]);
        prop_assert!(!same, "neighbours of the same kind in {:?}", op);
        let del_then_ins = matches!(pair, [Component::Delete(_), Component::Insert(_)]);
        prop_assert!(!del_then_ins, "delete before insert in {:?}", op);
    }
    Ok(())
}

/// Where the shared editing traces live: `TANDEM_TRACES`, or
/// `../shared/traces` beside the project root.
pub fn traces_dir() -> PathBuf {
    std::env::var_os("TANDEM_TRACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces"))
}

/// One recorded editing session.
pub struct Trace {
    /// File name, for messages.
    pub name: String,
    /// The text before the first patch.
    pub start: String,
    /// The text after the last patch.
    pub end: String,
    /// `(position, deleted code points, inserted text)` in order.
    pub patches: Vec<(usize, usize, String)>,
}

/// Loads a gzipped trace (format in the traces' README).
pub fn load_trace(path: &std::path::Path) -> Trace {
    use std::io::Read;
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut json = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut json)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_str(&json).expect("trace is JSON");
    let mut patches = Vec::new();
    for txn in v["txns"].as_array().expect("txns") {
        for p in txn["patches"].as_array().expect("patches") {
            patches.push((
                p[0].as_u64().expect("pos") as usize,
                p[1].as_u64().expect("del") as usize,
                p[2].as_str().expect("ins").to_owned(),
            ));
        }
    }
    Trace {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        start: v["startContent"].as_str().expect("startContent").to_owned(),
        end: v["endContent"].as_str().expect("endContent").to_owned(),
        patches,
    }
}

/// Every `*.json.gz` trace, sorted by name. Panics (with the path) when
/// there are none: the replay tests must not pass vacuously.
pub fn all_traces() -> Vec<PathBuf> {
    let dir = traces_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "traces directory {}: {e} (set TANDEM_TRACES)",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no traces in {}", dir.display());
    paths
}
