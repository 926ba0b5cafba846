//! Transformation: rebasing two concurrent operations onto each other.

use crate::error::{check_len, OtError};
use crate::operation::Operation;
use crate::parts::{Part, Parts};

impl Operation {
    /// Transforms two operations made concurrently on the same text into a
    /// pair `(a', b')` such that applying `a` then `b'` gives the same text
    /// as applying `b` then `a'` (TP1):
    /// `b'.apply(&a.apply(s)?) == a'.apply(&b.apply(s)?)`.
    ///
    /// **Tie-break:** when both insert at the same position, `self`'s
    /// insert is placed first (to the left of `other`'s). Both texts survive
    /// exactly once. The server calls `incoming.transform(&history_entry)`
    /// and the client calls `pending.transform(&from_server)`, so on both
    /// sides the operation that reached the server later is the left one
    /// and every replica orders the two inserts the same way.
    ///
    /// Overlapping deletes are deleted once: `a'` does not delete again what
    /// `b` already deleted, and vice versa.
    ///
    /// Fails with [`OtError::LengthMismatch`] unless both have the same
    /// base length.
    pub fn transform(&self, other: &Operation) -> Result<(Operation, Operation), OtError> {
        check_len(self.base_len(), other.base_len())?;
        let cap = self.components().len() + other.components().len();
        let mut a_prime = Operation::with_capacity(cap);
        let mut b_prime = Operation::with_capacity(cap);
        let mut a = Parts::new(self.components());
        let mut b = Parts::new(other.components());
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(Part::Insert(s, n)), _) => {
                    a_prime.insert(s);
                    b_prime.retain(n);
                    a.advance();
                }
                (_, Some(Part::Insert(s, n))) => {
                    a_prime.retain(n);
                    b_prime.insert(s);
                    b.advance();
                }
                (Some(pa), Some(pb)) => {
                    let n = pa.len().min(pb.len());
                    match (pa, pb) {
                        (Part::Retain(_), Part::Retain(_)) => {
                            a_prime.retain(n);
                            b_prime.retain(n);
                        }
                        // Both delete the same code points: already gone on
                        // both sides.
                        (Part::Delete(_), Part::Delete(_)) => {}
                        (Part::Delete(_), Part::Retain(_)) => {
                            a_prime.delete(n);
                        }
                        (Part::Retain(_), Part::Delete(_)) => {
                            b_prime.delete(n);
                        }
                        // Handled by the outer match.
                        (Part::Insert(..), _) | (_, Part::Insert(..)) => {}
                    }
                    a.take(n);
                    b.take(n);
                }
                (None, Some(_)) | (Some(_), None) => {
                    return Err(OtError::LengthMismatch {
                        expected: self.base_len(),
                        actual: other.base_len(),
                    })
                }
            }
        }
        Ok((a_prime, b_prime))
    }
}
