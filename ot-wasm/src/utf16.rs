//! UTF-16 offsets (what the browser editor counts in) against code point
//! operations (what the OT core counts in), without JavaScript.
//!
//! Every conversion goes through the UTF-16 index of the document's rope
//! ([`Text::utf16_to_char`], [`Text::char_to_utf16`]), which the rope keeps
//! per node: one lookup is O(log n), so converting an edit costs
//! O(change count × log n + inserted text), never a rescan of the
//! document. That matters because the editor calls in on every keystroke.

use tandem_ot::{Component, Operation, OtError, Text};

use crate::error::EdgeError;

/// Converts a UTF-16 offset in `text` to a code point index.
///
/// Fails when the offset lies past the end or between the two halves of a
/// surrogate pair: such an offset names no position in the code point
/// text, and silently rounding it would desynchronise the replicas.
pub fn utf16_to_char(text: &Text, offset: usize) -> Result<usize, EdgeError> {
    let len = text.len_utf16();
    if offset > len {
        return Err(EdgeError::Utf16OutOfRange { offset, len });
    }
    // In range, so the core's only other reason to refuse is a split pair.
    text.utf16_to_char(offset)
        .map_err(|_| EdgeError::SplitsSurrogatePair { offset })
}

/// Converts a code point index in `text` to a UTF-16 offset.
pub fn char_to_utf16(text: &Text, index: usize) -> Result<usize, EdgeError> {
    Ok(text.char_to_utf16(index)?)
}

/// Builds one code point [`Operation`] from editor changes given as
/// `(from, to, insert)` in UTF-16 offsets of the text *before* the changes,
/// sorted and non-overlapping — the shape CodeMirror's
/// `ChangeSet.iterChanges` yields.
///
/// Changes are pushed one at a time so the JavaScript edge can decode and
/// check each as it goes, without collecting them first.
#[derive(Debug)]
pub struct ChangeBuilder<'t> {
    /// The text the changes apply to.
    text: &'t Text,
    /// The operation so far: it covers the text up to `end_char`.
    op: Operation,
    /// Where the previous change ended, in UTF-16 code units.
    end_utf16: usize,
    /// The same position in code points.
    end_char: usize,
    /// How many changes were pushed (for error messages).
    count: usize,
}

impl<'t> ChangeBuilder<'t> {
    /// Starts an operation over `text`.
    pub fn new(text: &'t Text) -> Self {
        ChangeBuilder {
            text,
            op: Operation::new(),
            end_utf16: 0,
            end_char: 0,
            count: 0,
        }
    }

    /// Adds "replace `from..to` with `insert`". `from` must not be before
    /// the previous change's `to` (touching is fine).
    pub fn push(&mut self, from: usize, to: usize, insert: &str) -> Result<(), EdgeError> {
        let index = self.count;
        if from > to {
            return Err(EdgeError::BadChange {
                index,
                reason: "`from` is after `to`",
            });
        }
        if from < self.end_utf16 {
            return Err(EdgeError::BadChange {
                index,
                reason: "changes must be sorted and must not overlap",
            });
        }
        let from_char = utf16_to_char(self.text, from)?;
        let to_char = if to == from {
            from_char
        } else {
            utf16_to_char(self.text, to)?
        };
        // The offset checks above make both differences non-negative:
        // UTF-16 to code point conversion is monotonic.
        self.op
            .retain(from_char - self.end_char)
            .insert(insert)
            .delete(to_char - from_char);
        self.end_utf16 = to;
        self.end_char = to_char;
        self.count += 1;
        Ok(())
    }

    /// The finished operation, retaining the rest of the text.
    pub fn finish(mut self) -> Operation {
        self.op.retain(self.text.len_chars() - self.end_char);
        self.op
    }
}

/// One change in UTF-16 offsets of the text before the operation: a
/// CodeMirror `ChangeSpec` `{from, to, insert}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utf16Change<'a> {
    /// Start of the replaced range, in UTF-16 code units.
    pub from: usize,
    /// End of the replaced range (equal to `from` for a pure insert).
    pub to: usize,
    /// The inserted text (empty for a pure delete).
    pub insert: &'a str,
}

/// Expresses `op`, which applies to `text`, as editor changes: sorted,
/// non-overlapping, in UTF-16 offsets of the text *before* the operation.
/// A neighbouring insert and delete become one replacement.
pub fn operation_to_changes<'a>(
    text: &Text,
    op: &'a Operation,
) -> Result<Vec<Utf16Change<'a>>, EdgeError> {
    if op.base_len() != text.len_chars() {
        return Err(OtError::LengthMismatch {
            expected: op.base_len(),
            actual: text.len_chars(),
        }
        .into());
    }
    let mut changes: Vec<Utf16Change<'a>> = Vec::new();
    // The change being built: canonical operations put an insert before an
    // adjacent delete, so an insert may still be extended by a delete.
    let mut open: Option<Utf16Change<'a>> = None;
    let mut pos = 0usize;
    for component in op.components() {
        match component {
            Component::Retain(n) => {
                changes.extend(open.take());
                pos += n;
            }
            Component::Insert(s) => {
                let at = char_to_utf16(text, pos)?;
                open = Some(Utf16Change {
                    from: at,
                    to: at,
                    insert: s,
                });
            }
            Component::Delete(n) => {
                let to = char_to_utf16(text, pos + n)?;
                let change = match open.take() {
                    Some(change) => Utf16Change { to, ..change },
                    None => Utf16Change {
                        from: char_to_utf16(text, pos)?,
                        to,
                        insert: "",
                    },
                };
                changes.push(change);
                pos += n;
            }
        }
    }
    changes.extend(open);
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "a😀e\u{301}b": 'a' (1 unit), 😀 (2 units, a pair), 'e' + combining
    /// acute (2 code points, 1 unit each), 'b'.
    const TEXT: &str = "a😀e\u{301}b";

    fn build(text: &Text, changes: &[(usize, usize, &str)]) -> Result<Operation, EdgeError> {
        let mut b = ChangeBuilder::new(text);
        for &(from, to, insert) in changes {
            b.push(from, to, insert)?;
        }
        Ok(b.finish())
    }

    #[test]
    fn offsets_round_trip_at_code_point_boundaries() {
        let text = Text::from(TEXT);
        let pairs = [(0, 0), (1, 1), (3, 2), (4, 3), (5, 4), (6, 5)];
        for (utf16, ch) in pairs {
            assert_eq!(utf16_to_char(&text, utf16), Ok(ch));
            assert_eq!(char_to_utf16(&text, ch), Ok(utf16));
        }
        assert_eq!(
            utf16_to_char(&text, 2),
            Err(EdgeError::SplitsSurrogatePair { offset: 2 })
        );
        assert_eq!(
            utf16_to_char(&text, 7),
            Err(EdgeError::Utf16OutOfRange { offset: 7, len: 6 })
        );
        assert!(char_to_utf16(&text, 6).is_err());
    }

    #[test]
    fn changes_become_one_code_point_operation() {
        let text = Text::from(TEXT);
        // Replace the emoji with "🦀🦀", delete the combining mark, append.
        let op = build(&text, &[(1, 3, "🦀🦀"), (4, 5, ""), (6, 6, "!")]).unwrap();
        let mut expected = Operation::new();
        expected
            .retain(1)
            .insert("🦀🦀")
            .delete(1)
            .retain(1)
            .delete(1)
            .retain(1)
            .insert("!");
        assert_eq!(op, expected);
        assert_eq!(op.apply(TEXT).unwrap(), "a🦀🦀eb!");
        // No changes: the identity.
        assert!(build(&text, &[]).unwrap().is_noop());
        // Touching changes are fine.
        let op = build(&text, &[(0, 1, "x"), (1, 3, "y")]).unwrap();
        assert_eq!(op.apply(TEXT).unwrap(), "xye\u{301}b");
    }

    #[test]
    fn bad_changes_are_refused() {
        let text = Text::from(TEXT);
        let err = |changes: &[(usize, usize, &str)]| build(&text, changes).unwrap_err();
        assert!(matches!(
            err(&[(3, 1, "")]),
            EdgeError::BadChange { index: 0, .. }
        ));
        assert!(matches!(
            err(&[(3, 4, ""), (1, 2, "")]),
            EdgeError::BadChange { index: 1, .. }
        ));
        assert!(matches!(
            err(&[(0, 3, ""), (2, 4, "")]),
            EdgeError::BadChange { index: 1, .. }
        ));
        assert_eq!(
            err(&[(2, 2, "x")]),
            EdgeError::SplitsSurrogatePair { offset: 2 }
        );
        assert_eq!(
            err(&[(1, 2, "")]),
            EdgeError::SplitsSurrogatePair { offset: 2 }
        );
        assert_eq!(
            err(&[(0, 9, "")]),
            EdgeError::Utf16OutOfRange { offset: 9, len: 6 }
        );
    }

    #[test]
    fn operations_become_utf16_changes() {
        let text = Text::from(TEXT);
        // retain 1, replace 😀 with "x", retain 1, delete the mark,
        // retain 1, insert "🦀" at the end.
        let mut op = Operation::new();
        op.retain(1)
            .insert("x")
            .delete(1)
            .retain(1)
            .delete(1)
            .retain(1)
            .insert("🦀");
        let changes = operation_to_changes(&text, &op).unwrap();
        assert_eq!(
            changes,
            [
                Utf16Change {
                    from: 1,
                    to: 3,
                    insert: "x"
                },
                Utf16Change {
                    from: 4,
                    to: 5,
                    insert: ""
                },
                Utf16Change {
                    from: 6,
                    to: 6,
                    insert: "🦀"
                },
            ]
        );
        // Applying the changes to the UTF-16 text in reverse order (so the
        // earlier offsets stay valid) gives what the operation gives.
        let mut units: Vec<u16> = TEXT.encode_utf16().collect();
        for c in changes.iter().rev() {
            units.splice(c.from..c.to, c.insert.encode_utf16());
        }
        assert_eq!(String::from_utf16(&units).unwrap(), op.apply(TEXT).unwrap());
        // A wrong base length is refused before anything is converted.
        let short = Operation::splice(2, 0, 1, "").unwrap();
        assert!(matches!(
            operation_to_changes(&text, &short),
            Err(EdgeError::Ot(OtError::LengthMismatch { .. }))
        ));
    }

    /// Random edits in both directions agree with a plain UTF-16 model.
    #[test]
    fn random_round_trips_match_a_utf16_model() {
        let alphabet = ["a", "é", "e\u{301}", "😀", "👩‍👩‍👧", "\n", "中"];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut s = String::new();
        for _ in 0..400 {
            let doc = Text::from(s.as_str());
            let len_chars = doc.len_chars();
            // Up to three sorted, non-overlapping changes at code point
            // boundaries, expressed in UTF-16.
            let mut cuts: Vec<usize> = (0..next(4) * 2).map(|_| next(len_chars + 1)).collect();
            cuts.sort_unstable();
            let mut b = ChangeBuilder::new(&doc);
            let mut units: Vec<u16> = s.encode_utf16().collect();
            let mut edits = Vec::new();
            for pair in cuts.chunks(2) {
                let insert: String = (0..next(3))
                    .map(|_| alphabet[next(alphabet.len())])
                    .collect();
                let from = doc.char_to_utf16(pair[0]).unwrap();
                let to = doc.char_to_utf16(pair[1]).unwrap();
                b.push(from, to, &insert).unwrap();
                edits.push((from, to, insert));
            }
            let op = b.finish();
            for (from, to, insert) in edits.iter().rev() {
                units.splice(*from..*to, insert.encode_utf16());
            }
            let after = op.apply(&s).unwrap();
            assert_eq!(String::from_utf16(&units).unwrap(), after);
            // And back: the operation as UTF-16 changes rebuilds the text.
            let mut units: Vec<u16> = s.encode_utf16().collect();
            for c in operation_to_changes(&doc, &op).unwrap().iter().rev() {
                units.splice(c.from..c.to, c.insert.encode_utf16());
            }
            assert_eq!(String::from_utf16(&units).unwrap(), after);
            s = after;
        }
    }
}
