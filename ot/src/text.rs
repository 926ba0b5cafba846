//! The server's document text: a rope, so an edit costs O(log n + edit
//! size) instead of O(document size).

use std::fmt;

use ropey::Rope;

use crate::error::{check_len, OtError};
use crate::operation::{Component, Operation};

/// A text that operations are applied to in place.
///
/// Backed by [`ropey::Rope`], a balanced tree of string chunks indexed by
/// code points, which is exactly the unit operations count in. Applying an
/// operation walks its components and edits the rope at each insert and
/// delete, so the cost does not grow with the document.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Text {
    /// The text itself.
    rope: Rope,
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
        self.rope.len_bytes() == 0
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
                    pos += crate::operation::char_len(s);
                }
                Component::Delete(n) => self.rope.remove(pos..pos + n),
            }
        }
        Ok(())
    }

    /// The UTF-8 length the text would have after `op`, without applying
    /// it: lets a server refuse an edit that would make a document too
    /// large before touching anything. O(components × log n).
    pub fn len_bytes_after(&self, op: &Operation) -> Result<usize, OtError> {
        check_len(op.base_len(), self.rope.len_chars())?;
        let (mut pos, mut removed, mut added) = (0usize, 0usize, 0usize);
        for component in op.components() {
            match component {
                Component::Retain(n) => pos += n,
                Component::Insert(s) => added += s.len(),
                Component::Delete(n) => {
                    removed += self.rope.char_to_byte(pos + n) - self.rope.char_to_byte(pos);
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
                    inverse.delete(crate::operation::char_len(s));
                }
                Component::Delete(n) => {
                    for chunk in self.rope.slice(pos..pos + n).chunks() {
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
        self.rope.chunks()
    }

    /// The underlying rope, for conversions this type does not wrap (the
    /// WASM edge uses its UTF-16 index).
    pub fn as_rope(&self) -> &Rope {
        &self.rope
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text {
            rope: Rope::from_str(s),
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
        for chunk in self.rope.chunks() {
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
    }
}
