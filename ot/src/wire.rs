//! The rules of the wire form (`[10, "hello", -3]`: positive integer =
//! retain, negative integer = delete, string = insert), independent of any
//! JSON library, so the serde decoder in this crate and the JavaScript-value
//! decoder in `ot-wasm` refuse exactly the same inputs.

use std::fmt;

use crate::operation::{Component, Operation, MAX_LEN};

/// Why a wire-form operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// `0` or `""`: zero-length components are never sent.
    ZeroLength,
    /// A number whose magnitude exceeds [`MAX_LEN`].
    OutOfRange,
    /// A number with a fractional part (or NaN / infinity).
    NotAnInteger,
    /// Something that is neither a number nor a string.
    WrongType,
    /// The operation's base or target length exceeds [`MAX_LEN`].
    TooLong,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::ZeroLength => f.write_str("zero-length operation component"),
            DecodeError::OutOfRange => write!(
                f,
                "operation component out of range (magnitude must be 1..={MAX_LEN})"
            ),
            DecodeError::NotAnInteger => {
                f.write_str("operation components must be integers or strings, found a non-integer number")
            }
            DecodeError::WrongType => f.write_str(
                "operation components must be non-zero integers (retain if positive, delete if negative) or non-empty strings (insert)",
            ),
            DecodeError::TooLong => {
                write!(f, "operation too long (lengths must not exceed {MAX_LEN})")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

impl Component {
    /// Decodes a wire integer: positive retains, negative deletes.
    pub fn from_wire_int(v: i128) -> Result<Component, DecodeError> {
        let magnitude = v.unsigned_abs();
        if magnitude == 0 {
            Err(DecodeError::ZeroLength)
        } else if magnitude > MAX_LEN as u128 {
            Err(DecodeError::OutOfRange)
        } else if v > 0 {
            Ok(Component::Retain(magnitude as usize))
        } else {
            Ok(Component::Delete(magnitude as usize))
        }
    }

    /// Decodes a JavaScript number (an IEEE double): it must hold an
    /// integer exactly.
    pub fn from_wire_f64(v: f64) -> Result<Component, DecodeError> {
        if !v.is_finite() || v.fract() != 0.0 {
            return Err(DecodeError::NotAnInteger);
        }
        if v.abs() > MAX_LEN as f64 {
            return Err(DecodeError::OutOfRange);
        }
        Component::from_wire_int(v as i128)
    }

    /// Decodes a wire string: a non-empty insert.
    pub fn from_wire_str(s: impl Into<String>) -> Result<Component, DecodeError> {
        let s = s.into();
        if s.is_empty() {
            Err(DecodeError::ZeroLength)
        } else {
            Ok(Component::Insert(s))
        }
    }
}

impl Operation {
    /// Appends a decoded component, refusing to let the operation's lengths
    /// grow past [`MAX_LEN`]. Decoders build operations with this.
    ///
    /// The totals are computed in `u64` before anything is appended, so the
    /// bound holds the same way on 32-bit targets (where `MAX_LEN` is
    /// `usize::MAX` and the builder's lengths would saturate at it).
    pub fn push_decoded(&mut self, component: Component) -> Result<(), DecodeError> {
        let (base, target) = match &component {
            Component::Retain(n) => (*n, *n),
            Component::Delete(n) => (*n, 0),
            Component::Insert(s) => (0, crate::operation::char_len(s)),
        };
        let fits = |total: usize, add: usize| total as u64 + add as u64 <= MAX_LEN as u64;
        if !fits(self.base_len(), base) || !fits(self.target_len(), target) {
            return Err(DecodeError::TooLong);
        }
        self.push(component);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(Component::from_wire_int(3), Ok(Component::Retain(3)));
        assert_eq!(Component::from_wire_int(-3), Ok(Component::Delete(3)));
        assert_eq!(Component::from_wire_int(0), Err(DecodeError::ZeroLength));
        assert_eq!(
            Component::from_wire_int(i128::MIN),
            Err(DecodeError::OutOfRange)
        );
        assert_eq!(Component::from_wire_f64(-2.0), Ok(Component::Delete(2)));
        assert_eq!(
            Component::from_wire_f64(0.5),
            Err(DecodeError::NotAnInteger)
        );
        assert_eq!(
            Component::from_wire_f64(f64::NAN),
            Err(DecodeError::NotAnInteger)
        );
        assert_eq!(
            Component::from_wire_f64(1e300),
            Err(DecodeError::OutOfRange)
        );
        assert_eq!(Component::from_wire_str(""), Err(DecodeError::ZeroLength));
    }

    #[test]
    fn totals_are_bounded() {
        let mut op = Operation::new();
        assert!(op.push_decoded(Component::Retain(MAX_LEN)).is_ok());
        assert_eq!(
            op.push_decoded(Component::Delete(1)),
            Err(DecodeError::TooLong)
        );
    }
}
