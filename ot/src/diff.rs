//! The operation that turns one text into another, found by diffing them.
//!
//! Used when a client's view of the server text is replaced by a snapshot
//! (see [`Client::rebase`](crate::Client::rebase)): the client's pending
//! edits are transformed past the difference between the server text it
//! knew and the snapshot, like past any other remote edit.

use crate::operation::Operation;

/// An operation `d` with `d.apply(from) == to`: a character-level minimal
/// diff (Myers' algorithm with semantic cleanup, from the `dissimilar`
/// crate), so that edits elsewhere keep their place when transformed past
/// it. Lengths count code points, as everywhere in this crate.
pub fn diff(from: &str, to: &str) -> Operation {
    let mut op = Operation::new();
    if from == to {
        op.retain(from.chars().count());
        return op;
    }
    for chunk in dissimilar::diff(from, to) {
        match chunk {
            dissimilar::Chunk::Equal(s) => op.retain(s.chars().count()),
            dissimilar::Chunk::Delete(s) => op.delete(s.chars().count()),
            dissimilar::Chunk::Insert(s) => op.insert(s),
        };
    }
    op
}

#[cfg(test)]
mod tests {
    use super::diff;

    #[test]
    fn diff_applies() {
        for (a, b) in [
            ("", ""),
            ("", "abc"),
            ("abc", ""),
            ("abcde", "abXYZ"),
            ("ab", "qab"),
            ("héllo wörld", "hello, world 👋"),
            ("👋🏽 one two three", "one three 👋🏽"),
        ] {
            let d = diff(a, b);
            assert_eq!(d.base_len(), a.chars().count(), "{a:?} -> {b:?}");
            assert_eq!(d.apply(a).unwrap(), b, "{a:?} -> {b:?}");
        }
    }

    #[test]
    fn an_unchanged_middle_is_retained() {
        // Two separate changes: the text between them is kept, so an edit
        // made there by someone else is not moved when transformed.
        let d = diff("one two three", "1 two 3");
        let kept = d
            .components()
            .iter()
            .any(|c| matches!(c, crate::Component::Retain(n) if *n >= 5));
        assert!(kept, "{d:?}");
    }
}
