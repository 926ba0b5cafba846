//! The server's document text: a rope, so an edit costs O(log n + edit
//! size) instead of O(document size).

use std::fmt;

use jumprope::JumpRope;

use crate::error::{check_len, OtError};
use crate::operation::{char_len, Component, Operation};

/// A text that operations are applied to in place.
///
/// Backed by [`jumprope::JumpRope`], a skip list of small gap buffers
/// indexed by code points — exactly the unit operations count in — so an
/// edit costs O(log n + edit size). It was chosen over `ropey` by
/// measurement (the automerge-paper replay: 16 ms vs 50 ms of rope work,
/// see docs/benchmarks.md).
///
/// Every method checks positions before handing them to the rope, so no
/// input makes it panic.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Text {
    /// The text itself.
    rope: JumpRope,
}

impl Text {
    /// The empty text.
    pub fn new() -> Self {
        Self::default()
    }

    /// Length in code points: what [`Operation::base_len`] is checked
    /// against.
    pub fn len_chars(&self) -> usize {
        self.rope.len_chars()
    }

    /// Length in bytes of UTF-8: what size limits are counted in.
    pub fn len_bytes(&self) -> usize {
        self.rope.len_bytes()
    }

    /// True for the empty text.
    pub fn is_empty(&self) -> bool {
        self.rope.is_empty()
    }

    /// Applies `op` in place. The length is checked before anything
    /// changes, so on error the text is untouched; a length-consistent
    /// operation cannot fail part-way.
    pub fn apply(&mut self, op: &Operation) -> Result<(), OtError> {
        check_len(op.base_len(), self.rope.len_chars())?;
        let mut pos = 0;
        for component in op.components() {
            match component {
                Component::Retain(n) => pos += n,
                Component::Insert(s) => {
                    self.rope.insert(pos, s);
                    pos += char_len(s);
                }
                Component::Delete(n) => self.rope.remove(pos..pos + n),
            }
        }
        Ok(())
    }

    /// The UTF-8 length the text would have after `op`, without applying
    /// it: lets a server refuse an edit that would make a document too
    /// large before touching anything. O(components × log n + deleted
    /// size).
    pub fn len_bytes_after(&self, op: &Operation) -> Result<usize, OtError> {
        check_len(op.base_len(), self.rope.len_chars())?;
        let (mut pos, mut removed, mut added) = (0usize, 0usize, 0usize);
        for component in op.components() {
            match component {
                Component::Retain(n) => pos += n,
                Component::Insert(s) => added += s.len(),
                Component::Delete(n) => {
                    removed += self
                        .rope
                        .slice_substrings(pos..pos + n)
                        .map(str::len)
                        .sum::<usize>();
                    pos += n;
                }
            }
        }
        Ok(self.rope.len_bytes() - removed + added)
    }

    /// The operation that undoes `op` on this text (see
    /// [`Operation::invert`]), reading deleted text from the rope.
    pub fn invert(&self, op: &Operation) -> Result<Operation, OtError> {
        check_len(op.base_len(), self.rope.len_chars())?;
        let mut inverse = Operation::with_capacity(op.components().len());
        let mut pos = 0;
        for component in op.components() {
            match component {
                Component::Retain(n) => {
                    inverse.retain(*n);
                    pos += n;
                }
                Component::Insert(s) => {
                    inverse.delete(char_len(s));
                }
                Component::Delete(n) => {
                    for chunk in self.rope.slice_substrings(pos..pos + n) {
                        inverse.insert(chunk);
                    }
                    pos += n;
                }
            }
        }
        Ok(inverse)
    }

    /// The text's pieces in order, for writing it out without first
    /// joining it into one `String`.
    pub fn chunks(&self) -> impl Iterator<Item = &str> {
        self.rope.substrings()
    }

    /// The code points `start..end` as a `String`.
    pub fn slice(&self, start: usize, end: usize) -> Result<String, OtError> {
        let len = self.rope.len_chars();
        if start > end || end > len {
            return Err(OtError::IndexOutOfRange {
                index: end.max(start),
                len,
            });
        }
        Ok(self.rope.slice_substrings(start..end).collect())
    }
}

/// UTF-16 offsets, as browsers count them. Each conversion is O(log n).
#[cfg(feature = "utf16")]
impl Text {
    /// Length in UTF-16 code units.
    pub fn len_utf16(&self) -> usize {
        self.rope.len_wchars()
    }

    /// The UTF-16 offset of code point `index`.
    pub fn char_to_utf16(&self, index: usize) -> Result<usize, OtError> {
        let len = self.rope.len_chars();
        if index > len {
            return Err(OtError::IndexOutOfRange { index, len });
        }
        Ok(self.rope.chars_to_wchars(index))
    }

    /// The code point index at UTF-16 offset `offset`. An offset past the
    /// end, or one that falls between the two halves of a surrogate pair,
    /// is an [`OtError::IndexOutOfRange`].
    pub fn utf16_to_char(&self, offset: usize) -> Result<usize, OtError> {
        let len = self.rope.len_wchars();
        let bad = OtError::IndexOutOfRange { index: offset, len };
        if offset > len {
            return Err(bad);
        }
        // JumpRope rounds an offset inside a surrogate pair down to the
        // pair's start; converting back exposes that.
        let index = self.rope.wchars_to_chars(offset);
        if self.rope.chars_to_wchars(index) != offset {
            return Err(bad);
        }
        Ok(index)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text {
            rope: JumpRope::from(s),
        }
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::from(s.as_str())
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.rope.substrings() {
            f.write_str(chunk)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_checks_length_first() {
        let mut t = Text::from("héllo");
        let op = Operation::splice(4, 0, 1, "").unwrap();
        assert!(t.apply(&op).is_err());
        assert_eq!(t.to_string(), "héllo");
        let op = Operation::splice(5, 1, 1, "👩‍👩‍👧").unwrap();
        assert_eq!(t.len_bytes_after(&op), Ok("h👩‍👩‍👧llo".len()));
        let inv = t.invert(&op).unwrap();
        t.apply(&op).unwrap();
        assert_eq!(t.to_string(), "h👩‍👩‍👧llo");
        t.apply(&inv).unwrap();
        assert_eq!(t.to_string(), "héllo");
        assert_eq!(t.slice(1, 3), Ok("él".to_owned()));
        assert!(t.slice(3, 1).is_err());
        assert!(t.slice(0, 6).is_err());
    }

    #[cfg(feature = "utf16")]
    #[test]
    fn utf16_offsets() {
        // Many pieces so the rope has many nodes and node boundaries fall
        // everywhere, including inside pairs' neighbourhoods.
        let pieces = ["a", "😀", "é", "𝔸x", "中", "e\u{301}"];
        let s: String = (0..4000).map(|i| pieces[i % pieces.len()]).collect();
        let t = Text::from(s.as_str());
        assert_eq!(t.len_utf16(), s.encode_utf16().count());
        let mut utf16 = 0;
        for (i, c) in s.chars().enumerate() {
            assert_eq!(t.char_to_utf16(i), Ok(utf16));
            assert_eq!(t.utf16_to_char(utf16), Ok(i));
            if c.len_utf16() == 2 {
                assert!(t.utf16_to_char(utf16 + 1).is_err(), "mid-pair {utf16}");
            }
            utf16 += c.len_utf16();
        }
        assert_eq!(t.utf16_to_char(utf16), Ok(t.len_chars()));
        assert!(t.utf16_to_char(utf16 + 1).is_err());
        assert!(t.char_to_utf16(t.len_chars() + 1).is_err());
    }
}
