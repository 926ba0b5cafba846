//! A borrowed, splittable view of an operation's components, shared by
//! compose and transform: both walk two operations in lock step and cut
//! components at each other's boundaries.

use crate::operation::{char_len, split_chars, Component};

/// A (possibly partial) component borrowed from an operation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part<'a> {
    /// Keep this many code points.
    Retain(usize),
    /// Insert this text, of this many code points (counted once).
    Insert(&'a str, usize),
    /// Remove this many code points.
    Delete(usize),
}

impl<'a> Part<'a> {
    fn from_component(c: &'a Component) -> Self {
        match c {
            Component::Retain(n) => Part::Retain(*n),
            Component::Insert(s) => Part::Insert(s, char_len(s)),
            Component::Delete(n) => Part::Delete(*n),
        }
    }

    /// The part's length in code points.
    pub(crate) fn len(&self) -> usize {
        match *self {
            Part::Retain(n) | Part::Delete(n) | Part::Insert(_, n) => n,
        }
    }
}

/// Walks an operation's components, handing out parts and splitting the
/// current one on request.
pub(crate) struct Parts<'a> {
    /// Components not yet started.
    rest: std::slice::Iter<'a, Component>,
    /// The component (or its remainder) currently being consumed.
    current: Option<Part<'a>>,
}

impl<'a> Parts<'a> {
    pub(crate) fn new(components: &'a [Component]) -> Self {
        let mut rest = components.iter();
        let current = rest.next().map(Part::from_component);
        Parts { rest, current }
    }

    /// The part under the cursor, if any is left.
    #[inline]
    pub(crate) fn peek(&self) -> Option<Part<'a>> {
        self.current
    }

    /// Consumes the whole current part.
    #[inline]
    pub(crate) fn advance(&mut self) {
        self.current = self.rest.next().map(Part::from_component);
    }

    /// Consumes `n` code points of the current part (`n` at most its
    /// length) and returns the consumed text for inserts ("" otherwise).
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> &'a str {
        let Some(part) = self.current else { return "" };
        if n >= part.len() {
            self.advance();
            return match part {
                Part::Insert(s, _) => s,
                _ => "",
            };
        }
        let (taken, rest) = match part {
            Part::Retain(m) => ("", Part::Retain(m - n)),
            Part::Delete(m) => ("", Part::Delete(m - n)),
            Part::Insert(s, m) => {
                let (head, tail) = split_chars(s, n);
                (head, Part::Insert(tail, m - n))
            }
        };
        self.current = Some(rest);
        taken
    }
}
