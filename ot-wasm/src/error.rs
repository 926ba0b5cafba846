//! Why the WASM edge refused its input.
//!
//! Everything that crosses from JavaScript is checked before it reaches the
//! OT core, and every refusal becomes a JavaScript `Error` with one of these
//! messages. Nothing here panics: a panic in WASM is a trap that leaves the
//! module unusable for the rest of the page's life.

use std::fmt;

use tandem_ot::{DecodeError, OtError};

/// Why a call from JavaScript was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeError {
    /// An element of a wire-form operation broke the shared wire rules
    /// ([`tandem_ot::wire`]).
    Decode {
        /// Which argument or field held the operation.
        what: &'static str,
        /// The position of the offending element in the array.
        index: usize,
        /// The rule it broke.
        error: DecodeError,
    },
    /// The OT core refused (lengths that do not line up, an index past the
    /// end, a protocol step in the wrong state).
    Ot(OtError),
    /// A value had the wrong JavaScript type or shape.
    Type {
        /// Which argument or field.
        what: &'static str,
        /// What it should have been.
        expected: &'static str,
    },
    /// A number that must be a non-negative integer (an offset, a count, an
    /// id) was fractional, negative, NaN or too large.
    Number {
        /// Which argument or field.
        what: &'static str,
        /// The largest value allowed.
        max: u64,
    },
    /// A string held a lone UTF-16 surrogate, which has no code point and
    /// which the server's JSON decoder refuses too.
    LoneSurrogate {
        /// Which argument or field.
        what: &'static str,
    },
    /// A UTF-16 offset beyond the end of the local text.
    Utf16OutOfRange {
        /// The offset, in UTF-16 code units.
        offset: usize,
        /// The text's length, in UTF-16 code units.
        len: usize,
    },
    /// A UTF-16 offset between the two halves of a surrogate pair: it names
    /// no code point boundary.
    SplitsSurrogatePair {
        /// The offset, in UTF-16 code units.
        offset: usize,
    },
    /// A local change whose `from` is after its `to`, or that starts before
    /// the previous change ends (changes must be sorted and must not
    /// overlap, in pre-change coordinates).
    BadChange {
        /// The change's position in the list.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for EdgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EdgeError::Decode { what, index, error } => {
                write!(f, "invalid {what}: element {index}: {error}")
            }
            EdgeError::Ot(e) => e.fmt(f),
            EdgeError::Type { what, expected } => write!(f, "{what} must be {expected}"),
            EdgeError::Number { what, max } => {
                write!(f, "{what} must be an integer between 0 and {max}")
            }
            EdgeError::LoneSurrogate { what } => write!(
                f,
                "{what} contains a lone UTF-16 surrogate (not valid Unicode text)"
            ),
            EdgeError::Utf16OutOfRange { offset, len } => write!(
                f,
                "offset {offset} is out of range for a text of {len} UTF-16 code units"
            ),
            EdgeError::SplitsSurrogatePair { offset } => write!(
                f,
                "offset {offset} splits a surrogate pair (it is not at a code point boundary)"
            ),
            EdgeError::BadChange { index, reason } => write!(f, "invalid change {index}: {reason}"),
        }
    }
}

impl std::error::Error for EdgeError {}

impl From<OtError> for EdgeError {
    fn from(e: OtError) -> Self {
        EdgeError::Ot(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_culprit() {
        let e = EdgeError::Decode {
            what: "operation",
            index: 2,
            error: DecodeError::ZeroLength,
        };
        assert_eq!(
            e.to_string(),
            "invalid operation: element 2: zero-length operation component"
        );
        assert_eq!(
            EdgeError::SplitsSurrogatePair { offset: 3 }.to_string(),
            "offset 3 splits a surrogate pair (it is not at a code point boundary)"
        );
        let e: EdgeError = OtError::UnexpectedEvent("x").into();
        assert_eq!(e.to_string(), "unexpected event: x");
    }
}
