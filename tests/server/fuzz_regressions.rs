//! The fuzz targets' checks on stable Rust, in every test run: the inputs
//! fuzzing found crashes with (inline, one per finding), hand-written seeds
//! of every message type, and a few thousand seeded random inputs per
//! target. The checks themselves are the fuzz crate's
//! (`fuzz/src/checks.rs`), compiled in here unchanged, so a crash artifact
//! replays here exactly as under `cargo fuzz run`.
//!
//! To add a finding: copy the bytes of `target/fuzz/artifacts/<target>/
//! crash-…` into [`FOUND`] (docs/fuzzing.md shows a one-liner), fix the
//! bug, and keep the entry.

#[path = "../../fuzz/src/checks.rs"]
mod checks;
mod common;

use common::Rng;

/// Inputs that once crashed a target: `(target, input)`.
const FOUND: &[(&str, &[u8])] = &[];

fn run(target: &str, input: &[u8]) {
    match target {
        "protocol_decode" => checks::protocol_decode(input),
        "operation" => checks::operation(input),
        "document" => checks::document(input),
        other => panic!("unknown fuzz target {other}"),
    }
}

#[test]
fn crashes_found_by_fuzzing_stay_fixed() {
    for (target, input) in FOUND {
        run(target, input);
    }
}

/// Valid messages of every type, both directions, and some near misses.
const MESSAGES: &[&str] = &[
    r#"{"Hello":{"client":"k3J9x0123456789ab","revision":null,"info":{"name":"Ann","hue":120}}}"#,
    r#"{"Hello":{"client":"k3J9x0123456789ab","revision":7}}"#,
    r#"{"Edit":{"revision":3,"seq":12,"operation":[10,"hi",-2]}}"#,
    r#"{"Edit":{"revision":0,"seq":1,"operation":[1,1,"a","b",-1,-1]}}"#,
    r#"{"Edit":{"revision":0,"seq":1,"operation":[4294967295]}}"#,
    r#"{"SetLanguage":"rust"}"#,
    r#"{"ClientInfo":{"name":"Ann","hue":120}}"#,
    r#"{"ClientInfo":{"name":"Ann","hue":-1}}"#,
    r#"{"CursorData":{"cursors":[4],"selections":[[1,3]],"revision":9}}"#,
    r#"{"CursorData":{"cursors":[-4],"selections":[[18446744073709551616,3]]}}"#,
    r#"{"SetOTP":{"enabled":true}}"#,
    r#"{"Identity":3}"#,
    r#"{"History":{"start":4,"operations":[{"id":1,"operation":["😀",-1,3]}]}}"#,
    r#"{"Snapshot":{"revision":9,"text":"a\"b\\c\u0000","last_seq":2}}"#,
    r#"{"Language":{"language":"rust","user_id":null,"user_name":null}}"#,
    r#"{"UserInfo":{"id":2,"info":{"name":"Bob","hue":3}}}"#,
    r#"{"UserInfo":{"id":2,"info":null}}"#,
    r#"{"UserCursor":{"id":2,"data":{"cursors":[1],"selections":[[0,1]]}}}"#,
    r#"{"OTP":{"otp":"abc","user_id":1,"user_name":"Ann"}}"#,
    r#"{"Error":{"code":"duplicate_edit","message":"edit 3 was already applied"}}"#,
    r#"{"id":1,"operation":[2,"x"]}"#,
    r#"{"Edit":{"revision":1e3,"seq":1,"operation":[1.0]}}"#,
    r#"{"Edit":{"revision":1,"seq":1,"operation":["\ud800"]}}"#,
];

/// Random edits of `seed`: bytes replaced, inserted or cut.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.range(1, 4) {
        let at = rng.below(v.len() as u64 + 1) as usize;
        match rng.below(3) {
            0 if at < v.len() => v[at] = b"{}[]\",:-019ae\\\xc3"[rng.below(15) as usize],
            1 => v.insert(at, rng.below(256) as u8),
            _ => v.truncate(at.max(1)),
        }
    }
    v
}

#[test]
fn protocol_decode_seeds_and_mutations() {
    let mut rng = Rng::new(5);
    for m in MESSAGES {
        checks::protocol_decode(m.as_bytes());
        for _ in 0..200 {
            checks::protocol_decode(&mutate(&mut rng, m.as_bytes()));
        }
    }
}

fn random_bytes(rng: &mut Rng, max: u64) -> Vec<u8> {
    (0..rng.below(max)).map(|_| rng.below(256) as u8).collect()
}

#[test]
fn operation_random_inputs() {
    let mut rng = Rng::new(6);
    let ops: &[&[u8]] = &[
        b"[3]",
        b"[1,\"ab\",-2]",
        b"[\"x\"]",
        b"[-1,\"\xc3\xa9\"]",
        b"[]",
    ];
    for _ in 0..3000 {
        let mut input = Vec::new();
        if rng.chance(50) {
            input.extend_from_slice(ops[rng.below(ops.len() as u64) as usize]);
            input.push(0xFF);
            input.extend_from_slice(ops[rng.below(ops.len() as u64) as usize]);
            input.push(0xFF);
        }
        input.extend(random_bytes(&mut rng, 160));
        checks::operation(&input);
    }
}

#[test]
fn document_random_inputs() {
    let mut rng = Rng::new(7);
    for _ in 0..400 {
        checks::document(&random_bytes(&mut rng, 800));
    }
}
