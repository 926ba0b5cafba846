//! Connection settings and the versioned schema.
//!
//! The schema version is SQLite's `PRAGMA user_version`: migration `i` of
//! [`MIGRATIONS`] takes the database from version `i` to `i + 1`. A new
//! schema change is a new entry at the end; existing entries never change,
//! because databases in the field have already run them.

use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// How long a connection waits for a lock held by another connection (or
/// process) before giving up with `SQLITE_BUSY`. Long enough to ride out a
/// checkpoint or a backup tool; short enough that a stuck lock surfaces as
/// an error the server logs and retries.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema steps, oldest first.
const MIGRATIONS: &[&str] = &[
    // v1. `id` is NOT NULL explicitly: SQLite otherwise allows NULL in a
    // non-integer primary key. `documents_protection` covers the pre-upgrade
    // OTP check, so it never touches the table row and its (possibly huge,
    // overflow-paged) text. Child rows are found through `clients`' primary
    // key, whose first column is `doc_id`, so the cascade needs no index.
    "CREATE TABLE documents (
        id TEXT PRIMARY KEY NOT NULL,
        text TEXT NOT NULL,
        revision INTEGER NOT NULL,
        language TEXT,
        otp_hash BLOB,
        next_user_id INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        last_used_at_ms INTEGER NOT NULL
    );
    CREATE INDEX documents_last_used ON documents (last_used_at_ms);
    CREATE INDEX documents_protection ON documents (id, otp_hash);
    CREATE TABLE clients (
        doc_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        key_hash BLOB NOT NULL,
        user_id INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        PRIMARY KEY (doc_id, key_hash)
    );",
    // v2. The write-behind journal: edits applied since a document's last
    // snapshot, appended in batches, replayed on load, truncated by each
    // snapshot. No foreign key: a new document's edits are journaled
    // before its first snapshot creates its `documents` row.
    "CREATE TABLE journal (
        doc_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        key_hash BLOB NOT NULL,
        user_id INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        entry TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (doc_id, revision)
    ) WITHOUT ROWID;",
    // v3. Read-only links: the view secret's hash (checked before the
    // upgrade, so the covering index gains it) and the secret sealed under
    // the OTP (read only when the document is loaded). Both NULL, or both
    // set on a protected document.
    "ALTER TABLE documents ADD COLUMN view_hash BLOB;
    ALTER TABLE documents ADD COLUMN view_sealed BLOB;
    DROP INDEX documents_protection;
    CREATE INDEX documents_protection ON documents (id, otp_hash, view_hash);",
];

/// The schema version this binary writes.
pub(super) fn current_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Settings for the one connection that writes.
///
/// - WAL: readers never block the writer nor the writer them, which is what
///   lets reads run on their own connections while a batch commits.
/// - `synchronous = NORMAL`: in WAL mode a commit then costs no fsync; the
///   WAL is synced at checkpoints. The database can never be corrupted by a
///   crash, and a process crash loses nothing committed; an OS crash or power
///   loss may roll back the last commits since the previous sync. The server
///   already keeps documents ahead of disk (lazy persistence), so `FULL`
///   would buy little for an fsync per batch; the write-behind journal of
///   issue #5 is where stronger guarantees will come from.
/// - foreign keys: SQLite has them off by default per connection, and the
///   `clients` cascade depends on them.
pub(super) fn configure_writer(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    // In-memory databases answer "memory"; a file system without shared
    // memory support keeps the old mode. Both still work, just without
    // concurrent readers, so this is worth a warning, not a refusal.
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        tracing::warn!(%mode, "SQLite did not switch to WAL journal mode; reads will wait for writes");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

/// Settings for a read-only pool connection. `query_only` makes a bug that
/// writes through a reader fail loudly instead of racing the writer.
pub(super) fn configure_reader(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(())
}

/// Brings the database to [`current_version`], all pending steps in one
/// transaction: a failed step leaves the file at its old version.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // IMMEDIATE takes the write lock before reading the version, so two
    // processes opening the same new file cannot both run step 1.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let supported = current_version();
    if found > supported {
        return Err(StoreError::NewerSchema { found, supported });
    }
    let Ok(done) = usize::try_from(found) else {
        return Err(StoreError::Corrupt(format!(
            "negative schema version {found}"
        )));
    };
    for (version, sql) in (found + 1..).zip(MIGRATIONS.iter().skip(done)) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tracing::info!(version, "migrated database schema");
    }
    tx.commit()?;
    Ok(())
}
