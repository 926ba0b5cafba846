//! Composition: one operation with the effect of two in sequence.

use crate::error::{check_len, OtError};
use crate::operation::Operation;
use crate::parts::{Part, Parts};

impl Operation {
    /// Returns the operation equivalent to applying `self` and then `next`:
    /// `self.compose(next)?.apply(s) == next.apply(&self.apply(s)?)`.
    ///
    /// Fails with [`OtError::LengthMismatch`] unless
    /// `self.target_len() == next.base_len()`.
    pub fn compose(&self, next: &Operation) -> Result<Operation, OtError> {
        check_len(self.target_len(), next.base_len())?;
        let mut out = Operation::with_capacity(self.components().len() + next.components().len());
        let mut a = Parts::new(self.components());
        let mut b = Parts::new(next.components());
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => break,
                // What `self` deletes never reaches `next`.
                (Some(Part::Delete(n)), _) => {
                    out.delete(n);
                    a.advance();
                }
                // What `next` inserts does not come from `self`.
                (_, Some(Part::Insert(s, _))) => {
                    out.insert(s);
                    b.advance();
                }
                (Some(pa), Some(pb)) => {
                    let n = pa.len().min(pb.len());
                    match (pa, pb) {
                        (Part::Retain(_), Part::Retain(_)) => {
                            out.retain(n);
                        }
                        (Part::Retain(_), Part::Delete(_)) => {
                            out.delete(n);
                        }
                        (Part::Insert(..), Part::Retain(_)) => {
                            out.insert(a.take(n));
                            b.take(n);
                            continue;
                        }
                        // Inserted by `self`, deleted by `next`: nothing.
                        (Part::Insert(..), Part::Delete(_)) => {}
                        // Handled by the outer match.
                        (Part::Delete(_), _) | (_, Part::Insert(..)) => {}
                    }
                    a.take(n);
                    b.take(n);
                }
                // Lengths were checked above, so one side cannot run out
                // early; stay total anyway rather than panic.
                (None, Some(_)) | (Some(_), None) => {
                    return Err(OtError::LengthMismatch {
                        expected: self.target_len(),
                        actual: next.base_len(),
                    })
                }
            }
        }
        Ok(out)
    }
}
