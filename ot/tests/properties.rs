//! Algebraic properties of operations over random Unicode-heavy texts.
//! Each property runs `TANDEM_CASES` cases from a seed printed on failure.

mod common;

use std::collections::BTreeSet;

use common::{assert_canonical, check, op, text, text_and_op, text_and_two_ops};
use proptest::prelude::*;
use tandem_ot::{Component, Operation, Text};

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// The base positions an operation deletes.
fn deleted(op: &Operation) -> BTreeSet<usize> {
    let mut set = BTreeSet::new();
    let mut pos = 0;
    for c in op.components() {
        match c {
            Component::Retain(n) => pos += n,
            Component::Delete(n) => {
                set.extend(pos..pos + n);
                pos += n;
            }
            Component::Insert(_) => {}
        }
    }
    set
}

fn inserted_len(op: &Operation) -> usize {
    op.components()
        .iter()
        .map(|c| match c {
            Component::Insert(s) => s.chars().count(),
            _ => 0,
        })
        .sum()
}

#[test]
fn apply_respects_lengths_and_rope_agrees() {
    check("apply", text_and_op(), |(s, a)| {
        assert_canonical(&a)?;
        let out = a.apply(&s).unwrap();
        prop_assert_eq!(out.chars().count(), a.target_len());
        let mut rope = Text::from(s.as_str());
        prop_assert_eq!(rope.len_bytes_after(&a).unwrap(), out.len());
        rope.apply(&a).unwrap();
        prop_assert_eq!(rope.to_string(), out);
        // One code point too many or too few is refused.
        let longer = format!("{s}x");
        prop_assert!(a.apply(&longer).is_err());
        prop_assert!(Text::from(longer.as_str()).apply(&a).is_err());
        Ok(())
    });
}

#[test]
fn compose_equals_sequential_apply() {
    let strategy = text_and_op().prop_flat_map(|(s, a)| {
        let n = a.target_len();
        (Just(s), Just(a), op(n))
    });
    check("compose", strategy, |(s, a, b)| {
        let ab = a.compose(&b).unwrap();
        assert_canonical(&ab)?;
        prop_assert_eq!(ab.base_len(), a.base_len());
        prop_assert_eq!(ab.target_len(), b.target_len());
        let sequential = b.apply(&a.apply(&s).unwrap()).unwrap();
        prop_assert_eq!(ab.apply(&s).unwrap(), sequential);
        // Mismatched lengths are an error, not a panic.
        if a.target_len() != a.base_len() {
            prop_assert!(b.compose(&b).is_err() || b.base_len() == b.target_len());
        }
        Ok(())
    });
}

#[test]
fn compose_is_associative() {
    let strategy = text_and_op()
        .prop_flat_map(|(s, a)| {
            let n = a.target_len();
            (Just(s), Just(a), op(n))
        })
        .prop_flat_map(|(s, a, b)| {
            let n = b.target_len();
            (Just(s), Just(a), Just(b), op(n))
        });
    check("compose associative", strategy, |(s, a, b, c)| {
        let left = a.compose(&b).unwrap().compose(&c).unwrap();
        let right = a.compose(&b.compose(&c).unwrap()).unwrap();
        // Canonical form makes equal effects structurally equal.
        prop_assert_eq!(&left, &right);
        prop_assert_eq!(left.apply(&s).unwrap(), right.apply(&s).unwrap());
        Ok(())
    });
}

#[test]
fn transform_converges_in_both_orders() {
    check("transform TP1", text_and_two_ops(), |(s, a, b)| {
        for (x, y) in [(&a, &b), (&b, &a)] {
            let (x1, y1) = x.transform(y).unwrap();
            assert_canonical(&x1)?;
            assert_canonical(&y1)?;
            let via_x = y1.apply(&x.apply(&s).unwrap()).unwrap();
            let via_y = x1.apply(&y.apply(&s).unwrap()).unwrap();
            prop_assert_eq!(&via_x, &via_y);
            // Nothing duplicated or lost: every insert survives once, and a
            // code point deleted by either side is gone exactly once.
            let gone = deleted(x).union(&deleted(y)).count();
            let expected = s.chars().count() + inserted_len(x) + inserted_len(y) - gone;
            prop_assert_eq!(via_x.chars().count(), expected);
        }
        Ok(())
    });
}

#[test]
fn transform_tie_break_puts_self_first() {
    check(
        "tie-break",
        (text(6), any::<prop::sample::Index>()),
        |(s, at)| {
            let n = s.chars().count();
            let pos = at.index(n + 1);
            let a = Operation::splice(n, pos, 0, "A").unwrap();
            let b = Operation::splice(n, pos, 0, "B😀").unwrap();
            let (a1, b1) = a.transform(&b).unwrap();
            let merged = b1.apply(&a.apply(&s).unwrap()).unwrap();
            prop_assert_eq!(&merged, &a1.apply(&b.apply(&s).unwrap()).unwrap());
            let c = chars(&s);
            let expected: String = c[..pos]
                .iter()
                .chain("AB😀".chars().collect::<Vec<_>>().iter())
                .chain(c[pos..].iter())
                .collect();
            prop_assert_eq!(merged, expected);
            Ok(())
        },
    );
}

#[test]
fn invert_undoes() {
    check("invert", text_and_op(), |(s, a)| {
        let inv = a.invert(&s).unwrap();
        assert_canonical(&inv)?;
        let after = a.apply(&s).unwrap();
        prop_assert_eq!(inv.apply(&after).unwrap(), s.clone());
        prop_assert_eq!(Text::from(s.as_str()).invert(&a).unwrap(), inv);
        let longer = format!("{s}!");
        prop_assert!(a.invert(&longer).is_err());
        Ok(())
    });
}

#[test]
fn transform_index_agrees_with_apply() {
    check("transform_index", text_and_op(), |(s, a)| {
        let before = chars(&s);
        let after = chars(&a.apply(&s).unwrap());
        let gone = deleted(&a);
        let mut last = 0;
        for i in 0..=before.len() {
            let j = a.transform_index(i).unwrap();
            prop_assert!(j >= last, "not monotonic at {}", i);
            prop_assert!(j <= after.len());
            last = j;
            if i < before.len() && !gone.contains(&i) {
                // A kept character is found where its cursor went...
                prop_assert_eq!(after[j], before[i]);
                // ...and the way back leads to it.
                prop_assert_eq!(a.transform_index_back(j).unwrap(), i);
            }
        }
        prop_assert_eq!(a.transform_index(before.len()).unwrap(), after.len());
        prop_assert!(a.transform_index(before.len() + 1).is_err());
        prop_assert!(a.transform_index_back(after.len() + 1).is_err());
        Ok(())
    });
}

#[test]
fn insert_at_cursor_pushes_it_right_and_delete_pulls_it_to_start() {
    check(
        "cursor rules",
        (text(8), any::<prop::sample::Index>(), 0usize..4),
        |(s, at, del)| {
            let n = s.chars().count();
            let pos = at.index(n + 1);
            let ins = Operation::splice(n, pos, 0, "x😀").unwrap();
            prop_assert_eq!(ins.transform_index(pos).unwrap(), pos + 2);
            let del = del.min(n - pos);
            let d = Operation::splice(n, pos, del, "").unwrap();
            for i in pos..=pos + del {
                prop_assert_eq!(d.transform_index(i).unwrap(), pos);
            }
            Ok(())
        },
    );
}

#[test]
fn json_round_trips_canonically() {
    check("json", text_and_op(), |(_, a)| {
        let json = serde_json::to_string(&a).unwrap();
        let back: Operation = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &a);
        prop_assert_eq!(serde_json::to_string(&back).unwrap(), json);
        Ok(())
    });
}

#[test]
fn json_decoding_never_panics_and_yields_canonical_ops() {
    // Arbitrary JSON arrays of numbers, strings and junk.
    let leaf = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (-5i64..5).prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        "[a-zé😀]{0,3}".prop_map(|s| format!("{:?}", s)),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("{}".to_owned()),
        Just("[1]".to_owned()),
        Just("1e400".to_owned()),
        Just("-0".to_owned()),
    ];
    let array = prop::collection::vec(leaf, 0..6).prop_map(|v| format!("[{}]", v.join(",")));
    check("json fuzz", array, |json| {
        if let Ok(op) = serde_json::from_str::<Operation>(&json) {
            assert_canonical(&op)?;
            prop_assert!(op.base_len() <= tandem_ot::MAX_LEN);
        }
        Ok(())
    });
}

#[test]
fn mismatched_lengths_are_errors() {
    check(
        "length errors",
        (text_and_op(), text_and_op()),
        |((s, a), (_, b))| {
            if a.base_len() != b.base_len() {
                prop_assert!(a.transform(&b).is_err());
            }
            if a.target_len() != b.base_len() {
                prop_assert!(a.compose(&b).is_err());
            }
            if b.base_len() != s.chars().count() {
                prop_assert!(b.apply(&s).is_err());
                prop_assert!(b.invert(&s).is_err());
            }
            Ok(())
        },
    );
}

/// A client rebased onto a snapshot keeps its pending edits: the local
/// text moves to "snapshot plus the rebased pending edit", the pending
/// edit is re-sent under the original sequence number unless the
/// snapshot says it landed, and a landed edit is not applied twice.
#[test]
fn rebase_onto_a_snapshot_keeps_pending_edits() {
    use tandem_ot::Client;
    let case = text(10)
        .prop_flat_map(|s| {
            let n = s.chars().count();
            (Just(s), op(n), any::<bool>(), any::<bool>())
        })
        .prop_flat_map(|(s, o, landed, buffered)| {
            let local = o.apply(&s).unwrap();
            let server = if landed { local.clone() } else { s.clone() };
            let (nl, ns) = (local.chars().count(), server.chars().count());
            (Just((s, o, landed, buffered)), op(nl), op(ns))
        });
    check("rebase", case, |((s, o, landed, buffered), b, c)| {
        // A no-op local edit is dropped by the client, not sent.
        prop_assume!(!o.is_noop());
        let mut client = Client::new(5);
        client.identified(1);
        client.apply_local(o.clone()).unwrap();
        let mut local = o.apply(&s).unwrap();
        if buffered {
            client.apply_local(b.clone()).unwrap();
            local = b.apply(&local).unwrap();
        }
        let outstanding_seq = client.outstanding().map(|p| p.seq);
        let server = if landed {
            o.apply(&s).unwrap()
        } else {
            s.clone()
        };
        let snapshot = c.apply(&server).unwrap();
        let last_seq = match (landed, outstanding_seq) {
            (true, Some(seq)) => seq,
            _ => 0,
        };
        let step = client.rebase(&s, &snapshot, 9, last_seq).unwrap();
        let new_local = step.apply(&local).unwrap();
        prop_assert_eq!(client.revision(), 9);
        match client.outstanding() {
            Some(p) => {
                prop_assert_eq!(&p.operation.apply(&snapshot).unwrap(), &new_local);
                if !landed {
                    prop_assert_eq!(Some(p.seq), outstanding_seq);
                } else {
                    prop_assert!(Some(p.seq) > outstanding_seq);
                }
            }
            None => prop_assert_eq!(&snapshot, &new_local),
        }
        prop_assert!(client.buffer().is_none());
        // Text the pending edits inserted survives exactly once: the
        // rebased edit inserts what was pending.
        let pending_inserts: usize = match (landed, buffered) {
            (true, true) => inserted_len(&b),
            (true, false) => 0,
            (false, true) => inserted_len(&o.compose(&b).unwrap()),
            (false, false) => inserted_len(&o),
        };
        let rebased_inserts = client
            .outstanding()
            .map_or(0, |p| inserted_len(&p.operation));
        prop_assert_eq!(rebased_inserts, pending_inserts);
        Ok(())
    });
}
