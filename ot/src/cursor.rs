//! Moving cursor and selection positions through operations.

use crate::error::OtError;
use crate::operation::{char_len, Component, Operation};

impl Operation {
    /// Maps a position in the base text to the matching position in the
    /// target text, for cursors and selection ends.
    ///
    /// - An insert exactly at the position pushes it right (after the
    ///   inserted text); inserts before it shift it by their length.
    /// - A delete that covers the position moves it to the start of the
    ///   deleted range.
    ///
    /// Fails with [`OtError::IndexOutOfRange`] when
    /// `index > self.base_len()`.
    pub fn transform_index(&self, index: usize) -> Result<usize, OtError> {
        if index > self.base_len() {
            return Err(OtError::IndexOutOfRange {
                index,
                len: self.base_len(),
            });
        }
        // `base` walks the base text, `target` the target text.
        let (mut base, mut target) = (0usize, 0usize);
        for component in self.components() {
            match component {
                Component::Retain(n) => {
                    if index < base + n {
                        return Ok(target + (index - base));
                    }
                    base += n;
                    target += n;
                }
                Component::Insert(s) => target += char_len(s),
                Component::Delete(n) => {
                    if index < base + n {
                        return Ok(target);
                    }
                    base += n;
                }
            }
        }
        // `index == base_len`: after everything, including a trailing insert.
        Ok(target)
    }

    /// The reverse mapping: takes a position in the *target* text back to
    /// the base text. A position inside (or at the start of) text this
    /// operation inserted maps to the insertion point.
    ///
    /// The client uses it to express its own cursor, which lives in a text
    /// that already contains its unacknowledged edits, in the server's
    /// coordinates.
    ///
    /// Fails with [`OtError::IndexOutOfRange`] when
    /// `index > self.target_len()`.
    pub fn transform_index_back(&self, index: usize) -> Result<usize, OtError> {
        if index > self.target_len() {
            return Err(OtError::IndexOutOfRange {
                index,
                len: self.target_len(),
            });
        }
        let (mut base, mut target) = (0usize, 0usize);
        for component in self.components() {
            match component {
                Component::Retain(n) => {
                    if index < target + n {
                        return Ok(base + (index - target));
                    }
                    base += n;
                    target += n;
                }
                Component::Insert(s) => {
                    let n = char_len(s);
                    if index < target + n {
                        return Ok(base);
                    }
                    target += n;
                }
                Component::Delete(n) => base += n,
            }
        }
        Ok(base)
    }
}

#[cfg(test)]
mod tests {
    use crate::Operation;

    #[test]
    fn insert_at_cursor_pushes_right() {
        let op = Operation::splice(4, 2, 0, "xy").unwrap();
        assert_eq!(op.transform_index(1), Ok(1));
        assert_eq!(op.transform_index(2), Ok(4));
        assert_eq!(op.transform_index(4), Ok(6));
        assert!(op.transform_index(5).is_err());
    }

    #[test]
    fn delete_covering_moves_to_start() {
        let op = Operation::splice(6, 1, 3, "").unwrap();
        assert_eq!(op.transform_index(0), Ok(0));
        for i in 1..=3 {
            assert_eq!(op.transform_index(i), Ok(1));
        }
        assert_eq!(op.transform_index(4), Ok(1));
        assert_eq!(op.transform_index(6), Ok(3));
    }

    #[test]
    fn back_mapping() {
        let op = Operation::splice(4, 2, 1, "xyz").unwrap();
        // base "ab_d" -> target "abxyzd"
        assert_eq!(op.transform_index_back(2), Ok(2));
        assert_eq!(op.transform_index_back(4), Ok(2));
        assert_eq!(op.transform_index_back(5), Ok(3));
        assert_eq!(op.transform_index_back(6), Ok(4));
        assert!(op.transform_index_back(7).is_err());
    }
}
