//! Conversions between the store's Rust types and SQLite column values.
//!
//! SQLite integers are signed 64-bit and Tandem's counters are `u64`:
//! values above `i64::MAX` are refused instead of wrapped, because a wrapped
//! revision or sequence number would come back as a different number and
//! silently break the at-most-once guarantee for edits.

use std::collections::HashSet;

use super::{JournalBatch, StoreError, StoredDocument};

/// A document converted to column values, checked before it is queued so
/// the writer thread only ever sees rows it can store.
#[derive(Debug)]
pub(super) struct DocumentRow {
    /// `documents.id`.
    pub id: String,
    /// `documents.text`.
    pub text: String,
    /// `documents.revision`.
    pub revision: i64,
    /// `documents.language`.
    pub language: Option<String>,
    /// `documents.otp_hash`.
    pub otp_hash: Option<[u8; 32]>,
    /// `documents.view_hash`.
    pub view_hash: Option<[u8; 32]>,
    /// `documents.view_sealed`.
    pub view_sealed: Option<[u8; 32]>,
    /// `documents.next_user_id`.
    pub next_user_id: i64,
    /// `documents.created_at_ms`.
    pub created_at_ms: i64,
    /// `documents.last_used_at_ms`.
    pub last_used_at_ms: i64,
    /// The `clients` rows that replace the document's current ones.
    pub clients: Vec<ClientRow>,
}

/// One `clients` row (its `doc_id` is the owning [`DocumentRow::id`]).
#[derive(Debug)]
pub(super) struct ClientRow {
    /// `clients.key_hash`.
    pub key_hash: [u8; 32],
    /// `clients.user_id`.
    pub user_id: i64,
    /// `clients.last_seq`.
    pub last_seq: i64,
}

impl DocumentRow {
    /// Checks and converts `doc`; the error names the first offending value.
    pub fn encode(doc: StoredDocument) -> Result<Self, StoreError> {
        let mut seen = HashSet::with_capacity(doc.clients.len());
        let mut clients = Vec::with_capacity(doc.clients.len());
        for client in &doc.clients {
            if !seen.insert(client.key_hash) {
                return Err(StoreError::DuplicateClient {
                    user_id: client.user_id,
                });
            }
            clients.push(ClientRow {
                key_hash: client.key_hash,
                user_id: to_column("clients.user_id", client.user_id)?,
                last_seq: to_column("clients.last_seq", client.last_seq)?,
            });
        }
        Ok(Self {
            revision: to_column("revision", doc.revision)?,
            next_user_id: to_column("next_user_id", doc.next_user_id)?,
            id: doc.id,
            text: doc.text,
            language: doc.language,
            otp_hash: doc.otp_hash,
            view_hash: doc.view.map(|v| v.hash),
            view_sealed: doc.view.map(|v| v.sealed),
            created_at_ms: doc.created_at_ms,
            last_used_at_ms: doc.last_used_at_ms,
            clients,
        })
    }
}

/// One `journal` row.
#[derive(Debug)]
pub(super) struct JournalRow {
    /// `journal.doc_id`.
    pub doc_id: String,
    /// `journal.revision`.
    pub revision: i64,
    /// `journal.key_hash`.
    pub key_hash: [u8; 32],
    /// `journal.user_id`.
    pub user_id: i64,
    /// `journal.seq`.
    pub seq: i64,
    /// `journal.entry`.
    pub entry: String,
}

/// Checks and converts journal batches into rows.
pub(super) fn journal_rows(batches: Vec<JournalBatch>) -> Result<Vec<JournalRow>, StoreError> {
    let mut rows = Vec::new();
    for batch in batches {
        for e in batch.entries {
            rows.push(JournalRow {
                doc_id: batch.doc_id.clone(),
                revision: to_column("journal.revision", e.revision)?,
                key_hash: e.key_hash,
                user_id: to_column("journal.user_id", e.user_id)?,
                seq: to_column("journal.seq", e.seq)?,
                entry: e.entry,
            });
        }
    }
    Ok(rows)
}

/// A `u64` as the `i64` SQLite stores.
pub(super) fn to_column(field: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::ValueOutOfRange { field, value })
}

/// A stored `i64` back as the `u64` it was written from.
pub(super) fn from_column(field: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{field} is negative ({value})")))
}

/// A stored blob back as the SHA-256 hash it was written from.
pub(super) fn hash_from_column(
    field: &'static str,
    bytes: Vec<u8>,
) -> Result<[u8; 32], StoreError> {
    let len = bytes.len();
    <[u8; 32]>::try_from(bytes)
        .map_err(|_| StoreError::Corrupt(format!("{field} is {len} bytes, not 32")))
}
