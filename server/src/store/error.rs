//! The one error type every store operation returns.

use std::fmt;
use std::sync::Arc;

/// Why a store operation failed.
///
/// It is `Clone` (the library errors inside are behind `Arc`) because one
/// failed commit answers every request of its batch with the same error.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused or failed: I/O error, full disk, locked by another
    /// process beyond the busy timeout, not a database, … Retrying later may
    /// succeed.
    Sqlite(Arc<rusqlite::Error>),
    /// The file system failed before SQLite was involved (creating the
    /// database's parent directories, spawning the writer thread).
    Io(Arc<std::io::Error>),
    /// The database was written by a newer Tandem: running an older binary
    /// against it could misread or damage it, so opening is refused.
    NewerSchema {
        /// The `user_version` found in the file.
        found: i64,
        /// The newest schema version this binary knows.
        supported: i64,
    },
    /// A `u64` that SQLite cannot hold (it stores signed 64-bit integers).
    /// Refused rather than wrapped, since a wrapped counter would come back
    /// as a different number.
    ValueOutOfRange {
        /// Which value, e.g. `revision` or `clients.last_seq`.
        field: &'static str,
        /// The value that was refused.
        value: u64,
    },
    /// A document listed the same client key hash twice; only one row per
    /// identity can exist, and silently picking one would lose a `last_seq`.
    DuplicateClient {
        /// The user id of the second entry with that key hash.
        user_id: u64,
    },
    /// A stored row holds something this binary never writes (a negative
    /// counter, a hash that is not 32 bytes): the file was edited or damaged.
    Corrupt(String),
    /// [`Store::close`](super::Store::close) has been called: nothing more is
    /// read or written.
    Closed,
    /// The writer thread ended without being closed (it panicked): the
    /// request may or may not have been committed.
    WriterGone,
    /// A blocking read task panicked or was cancelled by runtime shutdown.
    ReadTaskFailed(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(e) => write!(f, "database error: {e}"),
            Self::Io(e) => write!(f, "i/o error: {e}"),
            Self::NewerSchema { found, supported } => write!(
                f,
                "the database has schema version {found}, newer than the {supported} this \
                 binary supports: refusing a migration from a newer schema version"
            ),
            Self::ValueOutOfRange { field, value } => {
                write!(
                    f,
                    "{field} = {value} is too large to store (max {})",
                    i64::MAX
                )
            }
            Self::DuplicateClient { user_id } => write!(
                f,
                "client with user id {user_id} has a key hash that is listed twice"
            ),
            Self::Corrupt(what) => write!(f, "corrupt stored data: {what}"),
            Self::Closed => f.write_str("the store is closed"),
            Self::WriterGone => f.write_str("the store's writer thread is gone"),
            Self::ReadTaskFailed(why) => write!(f, "database read task failed: {why}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Sqlite(e) => Some(e.as_ref()),
            Self::Io(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(Arc::new(e))
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(Arc::new(e))
    }
}
