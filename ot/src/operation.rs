//! The operation type: a canonical sequence of retain / insert / delete.

use crate::error::{check_len, OtError};

/// The largest length a single component, or a whole operation side, may
/// have when it comes from outside (the JSON decoder enforces it).
///
/// It is `u32::MAX` so that every length fits in `usize` on
/// `wasm32-unknown-unknown` and in a JavaScript number without rounding.
pub const MAX_LEN: usize = u32::MAX as usize;

/// One step of an [`Operation`], walking the base text from the start.
///
/// Lengths count Unicode scalar values (code points), never bytes or UTF-16
/// units, so that an operation means the same thing in Rust and in the
/// browser once the WASM edge has converted offsets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Component {
    /// Keep the next `n` code points.
    Retain(usize),
    /// Insert this text at the current position.
    Insert(String),
    /// Remove the next `n` code points.
    Delete(usize),
}

/// An edit of a whole text: it walks the base text from start to end and
/// says, for every code point, whether it is kept or deleted, and where new
/// text goes.
///
/// Operations are always canonical, which the builder methods maintain:
/// no zero-length components, no two neighbours of the same kind, and an
/// insert is always placed before an adjacent delete. So "retain 2,
/// delete 1, insert `n`, retain 2" is stored (and encoded) as
/// `[2, "n", -1, 2]`. Two operations with the same effect on every text of
/// their base length are therefore equal with `==`.
///
/// Trailing retains are kept: an operation covers its whole base text, which
/// is how [`Operation::base_len`] is known and checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Operation {
    /// The canonical component list.
    components: Vec<Component>,
    /// Code points the operation consumes: retains plus deletes. Kept so
    /// that length checks are O(1).
    base_len: usize,
    /// Code points the operation produces: retains plus inserts.
    target_len: usize,
}

/// Counts code points. `str::chars().count()` is already vectorised well
/// enough that caching it per insert is not worth the API cost.
#[inline]
pub(crate) fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Splits `s` after `n` code points. `n` may be at most `char_len(s)`.
#[inline]
pub(crate) fn split_chars(s: &str, n: usize) -> (&str, &str) {
    match s.char_indices().nth(n) {
        Some((byte, _)) => s.split_at(byte),
        None => (s, ""),
    }
}

impl Operation {
    /// An empty operation: applies to the empty text only.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty operation with room for `n` components.
    pub fn with_capacity(n: usize) -> Self {
        Operation {
            components: Vec::with_capacity(n),
            base_len: 0,
            target_len: 0,
        }
    }

    /// Builds the operation that replaces `delete` code points at `pos` with
    /// `insert`, in a text of `len` code points — the shape of one editor
    /// change or one trace patch.
    ///
    /// Fails with [`OtError::IndexOutOfRange`] when `pos + delete > len`.
    pub fn splice(len: usize, pos: usize, delete: usize, insert: &str) -> Result<Self, OtError> {
        let end =
            pos.checked_add(delete)
                .filter(|&end| end <= len)
                .ok_or(OtError::IndexOutOfRange {
                    index: pos.saturating_add(delete),
                    len,
                })?;
        let mut op = Operation::with_capacity(3);
        op.retain(pos)
            .insert(insert)
            .delete(delete)
            .retain(len - end);
        Ok(op)
    }

    /// The canonical components.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// Consumes the operation, giving its canonical components.
    pub fn into_components(self) -> Vec<Component> {
        self.components
    }

    /// Length in code points of the text this operation applies to.
    pub fn base_len(&self) -> usize {
        self.base_len
    }

    /// Length in code points of the text this operation produces.
    pub fn target_len(&self) -> usize {
        self.target_len
    }

    /// True when applying the operation changes nothing (it only retains).
    pub fn is_noop(&self) -> bool {
        self.components
            .iter()
            .all(|c| matches!(c, Component::Retain(_)))
    }

    /// Appends "keep the next `n` code points". `n == 0` does nothing.
    ///
    /// Lengths saturate at `usize::MAX` rather than overflow; such an
    /// operation can never match a real text, so it fails every length
    /// check instead of panicking.
    pub fn retain(&mut self, n: usize) -> &mut Self {
        if n == 0 {
            return self;
        }
        self.base_len = self.base_len.saturating_add(n);
        self.target_len = self.target_len.saturating_add(n);
        if let Some(Component::Retain(last)) = self.components.last_mut() {
            *last = last.saturating_add(n);
        } else {
            self.components.push(Component::Retain(n));
        }
        self
    }

    /// Appends "insert `text` here". An empty string does nothing.
    pub fn insert(&mut self, text: &str) -> &mut Self {
        if text.is_empty() {
            return self;
        }
        self.target_len = self.target_len.saturating_add(char_len(text));
        let len = self.components.len();
        match self.components.as_mut_slice() {
            [.., Component::Insert(last)] => last.push_str(text),
            // Keep inserts in front of deletes: "delete then insert" and
            // "insert then delete" are the same edit, and one spelling keeps
            // equality structural.
            [.., Component::Insert(prev), Component::Delete(_)] => prev.push_str(text),
            [.., Component::Delete(_)] => {
                self.components
                    .insert(len - 1, Component::Insert(text.to_owned()));
            }
            _ => self.components.push(Component::Insert(text.to_owned())),
        }
        self
    }

    /// Appends "delete the next `n` code points". `n == 0` does nothing.
    pub fn delete(&mut self, n: usize) -> &mut Self {
        if n == 0 {
            return self;
        }
        self.base_len = self.base_len.saturating_add(n);
        if let Some(Component::Delete(last)) = self.components.last_mut() {
            *last = last.saturating_add(n);
        } else {
            self.components.push(Component::Delete(n));
        }
        self
    }

    /// Appends one component through the canonicalising builder.
    pub fn push(&mut self, component: Component) -> &mut Self {
        match component {
            Component::Retain(n) => self.retain(n),
            Component::Insert(s) => self.insert(&s),
            Component::Delete(n) => self.delete(n),
        }
    }

    /// Applies the operation to a string, returning the new string.
    ///
    /// This is the simple O(text) form, for tests, tools and small texts;
    /// the server keeps documents in [`crate::Text`], whose edits cost
    /// O(log n + edit size).
    pub fn apply(&self, text: &str) -> Result<String, OtError> {
        // Fast path for the length check without counting twice: count once
        // and compare.
        check_len(self.base_len, char_len(text))?;
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        for component in &self.components {
            match component {
                Component::Retain(n) => {
                    let (kept, tail) = split_chars(rest, *n);
                    out.push_str(kept);
                    rest = tail;
                }
                Component::Insert(s) => out.push_str(s),
                Component::Delete(n) => rest = split_chars(rest, *n).1,
            }
        }
        Ok(out)
    }

    /// The operation that undoes this one: `a.invert(s)?.apply(&a.apply(s)?)`
    /// gives back `s`. `base` is the text this operation applies to (the
    /// deleted text has to come from somewhere).
    pub fn invert(&self, base: &str) -> Result<Operation, OtError> {
        check_len(self.base_len, char_len(base))?;
        let mut inverse = Operation::with_capacity(self.components.len());
        let mut rest = base;
        for component in &self.components {
            match component {
                Component::Retain(n) => {
                    inverse.retain(*n);
                    rest = split_chars(rest, *n).1;
                }
                Component::Insert(s) => {
                    inverse.delete(char_len(s));
                }
                Component::Delete(n) => {
                    let (deleted, tail) = split_chars(rest, *n);
                    inverse.insert(deleted);
                    rest = tail;
                }
            }
        }
        Ok(inverse)
    }
}

impl FromIterator<Component> for Operation {
    /// Builds a canonical operation from any component sequence.
    fn from_iter<I: IntoIterator<Item = Component>>(iter: I) -> Self {
        let mut op = Operation::new();
        for c in iter {
            op.push(c);
        }
        op
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_is_canonical() {
        let mut op = Operation::new();
        op.retain(2).delete(1).insert("n").retain(2);
        assert_eq!(
            op.components(),
            &[
                Component::Retain(2),
                Component::Insert("n".into()),
                Component::Delete(1),
                Component::Retain(2)
            ]
        );
        let mut op = Operation::new();
        op.retain(0)
            .retain(1)
            .retain(1)
            .insert("")
            .delete(0)
            .insert("a")
            .delete(1)
            .insert("b")
            .delete(2);
        assert_eq!(
            op.components(),
            &[
                Component::Retain(2),
                Component::Insert("ab".into()),
                Component::Delete(3)
            ]
        );
        assert_eq!((op.base_len(), op.target_len()), (5, 4));
    }

    #[test]
    fn apply_and_invert() {
        let op = Operation::splice(5, 1, 2, "é😀").unwrap();
        assert_eq!(op.apply("h🦀llo").unwrap(), "hé😀lo");
        let inv = op.invert("h🦀llo").unwrap();
        assert_eq!(inv.apply("hé😀lo").unwrap(), "h🦀llo");
        assert_eq!(
            op.apply("hi"),
            Err(OtError::LengthMismatch {
                expected: 5,
                actual: 2
            })
        );
        assert!(Operation::splice(5, 4, 2, "").is_err());
        assert!(Operation::splice(5, usize::MAX, 2, "").is_err());
    }

    #[test]
    fn noop() {
        assert!(Operation::new().is_noop());
        assert!(Operation::splice(3, 1, 0, "").unwrap().is_noop());
        assert!(!Operation::splice(3, 1, 1, "").unwrap().is_noop());
    }

    #[test]
    fn saturating_lengths_never_panic() {
        let mut op = Operation::new();
        op.retain(usize::MAX).retain(usize::MAX).delete(usize::MAX);
        assert_eq!(op.base_len(), usize::MAX);
        assert!(op.apply("abc").is_err());
    }
}
