//! The one error type of the OT core.

use std::fmt;

/// Why an OT function refused its input.
///
/// Every function of this crate that can be handed inconsistent input
/// (lengths that do not line up, an index past the end, a protocol step in
/// the wrong state) returns one of these instead of panicking, because much
/// of that input comes straight from the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtError {
    /// An operation was applied to, composed with or transformed against
    /// something of the wrong length. `expected` is what the operation
    /// needs, `actual` what it was given; both count code points.
    LengthMismatch {
        /// The length the operation requires.
        expected: usize,
        /// The length it was given.
        actual: usize,
    },
    /// A cursor or edit position lies beyond the end of the text.
    IndexOutOfRange {
        /// The offending index, in code points.
        index: usize,
        /// The length of the text it was meant for, in code points.
        len: usize,
    },
    /// The client state machine was told something that cannot happen in
    /// its current state, such as an acknowledgement with nothing
    /// outstanding. The string names the event.
    UnexpectedEvent(&'static str),
    /// A history entry arrived for a later revision than the next one the
    /// client expects: entries in between are missing.
    RevisionGap {
        /// The revision the client expected next.
        expected: u64,
        /// The revision it was given.
        actual: u64,
    },
}

impl fmt::Display for OtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtError::LengthMismatch { expected, actual } => write!(
                f,
                "length mismatch: the operation expects a text of {expected} code points, got {actual}"
            ),
            OtError::IndexOutOfRange { index, len } => write!(
                f,
                "index {index} is out of range for a text of {len} code points"
            ),
            OtError::UnexpectedEvent(what) => write!(f, "unexpected event: {what}"),
            OtError::RevisionGap { expected, actual } => write!(
                f,
                "history gap: expected revision {expected}, got {actual}"
            ),
        }
    }
}

impl std::error::Error for OtError {}

/// Fails with [`OtError::LengthMismatch`] unless `expected == actual`.
pub(crate) fn check_len(expected: usize, actual: usize) -> Result<(), OtError> {
    if expected == actual {
        Ok(())
    } else {
        Err(OtError::LengthMismatch { expected, actual })
    }
}
