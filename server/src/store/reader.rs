//! Reads: the queries, and the pool of read connections they run on.
//!
//! Reads run on `spawn_blocking` with a pooled connection rather than on a
//! dedicated reader thread. WAL lets every connection read its own snapshot
//! while the writer commits, so a pool gives real parallelism: a slow `load`
//! of a large document does not hold up the OTP checks of other clients
//! behind it, which one reader thread would. A semaphore caps the readers at
//! [`READERS`], so a burst of reads queues asynchronously (no worker thread
//! blocks) instead of opening unbounded connections or filling tokio's
//! blocking pool.

use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::Semaphore;

use super::columns::{from_column, hash_from_column};
use super::{
    schema, JournalEntry, StoreError, StoredClient, StoredDocument, StoredProtection, StoredView,
};

/// How many reads run at once. Reads are short primary-key lookups; a few
/// connections keep a slow one from stalling the rest without holding many
/// file handles and page caches.
const READERS: usize = 4;

/// Read connections to one database file, opened on first use and reused.
pub(super) struct ReaderPool {
    /// The URI the writer opened, for opening more connections.
    uri: String,
    /// Connections not in use. At most [`READERS`], since a connection is
    /// only taken while holding a permit.
    idle: Mutex<Vec<Connection>>,
    /// One permit per concurrent read; closed by [`ReaderPool::close`] so
    /// later reads fail instead of reopening the database.
    permits: Arc<Semaphore>,
}

impl ReaderPool {
    /// A pool for `uri`; no connection is opened until the first read.
    pub fn new(uri: &str) -> Self {
        Self {
            uri: uri.to_owned(),
            idle: Mutex::new(Vec::with_capacity(READERS)),
            permits: Arc::new(Semaphore::new(READERS)),
        }
    }

    /// Runs `read` on a pooled connection on tokio's blocking pool.
    pub async fn run<T, F>(self: &Arc<Self>, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = pool.take()?;
            let result = read(&mut conn);
            pool.give_back(conn);
            result
        })
        .await
        .map_err(|e| StoreError::ReadTaskFailed(e.to_string()))?
    }

    /// Stops further reads and drops the idle connections (reads in flight
    /// finish and drop theirs).
    pub fn close(&self) {
        self.permits.close();
        self.idle.lock().clear();
    }

    /// An idle connection, or a new one.
    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.idle.lock().pop() {
            return Ok(conn);
        }
        let conn = Connection::open(&self.uri)?;
        schema::configure_reader(&conn)?;
        Ok(conn)
    }

    /// Returns `conn` for reuse, unless the pool was closed meanwhile.
    fn give_back(&self, conn: Connection) {
        if !self.permits.is_closed() {
            self.idle.lock().push(conn);
        }
    }
}

/// The document `id` with its clients, from one consistent snapshot.
pub(super) fn load(conn: &mut Connection, id: &str) -> Result<Option<StoredDocument>, StoreError> {
    // One read transaction, so the clients belong to the same commit as
    // the document row even if the writer commits in between.
    let tx = conn.transaction()?;
    let row = tx
        .prepare_cached(
            "SELECT text, revision, language, otp_hash, next_user_id, created_at_ms,
                    last_used_at_ms, view_hash, view_sealed
             FROM documents WHERE id = ?1",
        )?
        .query_row([id], |row| {
            Ok((
                (
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<Vec<u8>>>(3)?,
                ),
                (
                    row.get::<_, i64>(4)?,
                    row.get::<_, i64>(5)?,
                    row.get::<_, i64>(6)?,
                ),
                (
                    row.get::<_, Option<Vec<u8>>>(7)?,
                    row.get::<_, Option<Vec<u8>>>(8)?,
                ),
            ))
        })
        .optional()?;
    let Some((
        (text, revision, language, otp_hash),
        (next_user_id, created_at_ms, last_used_at_ms),
        (view_hash, view_sealed),
    )) = row
    else {
        // Never snapshotted, but maybe journaled (a crash came first).
        let journal = journal(&tx, id, 0)?;
        tx.commit()?;
        if journal.is_empty() {
            return Ok(None);
        }
        let now = crate::document::now_ms();
        return Ok(Some(StoredDocument {
            id: id.to_owned(),
            text: String::new(),
            revision: 0,
            language: None,
            otp_hash: None,
            view: None,
            next_user_id: 1,
            clients: Vec::new(),
            created_at_ms: now,
            last_used_at_ms: now,
            journal,
        }));
    };
    let mut clients = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT key_hash, user_id, last_seq FROM clients WHERE doc_id = ?1
             ORDER BY user_id, key_hash",
        )?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            clients.push(StoredClient {
                key_hash: hash_from_column("clients.key_hash", row.get(0)?)?,
                user_id: from_column("clients.user_id", row.get(1)?)?,
                last_seq: from_column("clients.last_seq", row.get(2)?)?,
            });
        }
    }
    let journal = journal(&tx, id, revision)?;
    tx.commit()?;
    Ok(Some(StoredDocument {
        journal,
        id: id.to_owned(),
        text,
        revision: from_column("revision", revision)?,
        language,
        otp_hash: otp_hash
            .map(|hash| hash_from_column("otp_hash", hash))
            .transpose()?,
        view: view(view_hash, view_sealed)?,
        next_user_id: from_column("next_user_id", next_user_id)?,
        clients,
        created_at_ms,
        last_used_at_ms,
    }))
}

/// The read-only link from its two columns, which are set together.
fn view(hash: Option<Vec<u8>>, sealed: Option<Vec<u8>>) -> Result<Option<StoredView>, StoreError> {
    match (hash, sealed) {
        (None, None) => Ok(None),
        (Some(hash), Some(sealed)) => Ok(Some(StoredView {
            hash: hash_from_column("view_hash", hash)?,
            sealed: hash_from_column("view_sealed", sealed)?,
        })),
        _ => Err(StoreError::Corrupt(
            "view_hash and view_sealed are not both set".into(),
        )),
    }
}

/// The journal entries of `id` from revision `from` on, oldest first.
fn journal(conn: &Connection, id: &str, from: i64) -> Result<Vec<JournalEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT revision, key_hash, user_id, seq, entry FROM journal
         WHERE doc_id = ?1 AND revision >= ?2 ORDER BY revision",
    )?;
    let mut rows = stmt.query(rusqlite::params![id, from])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(JournalEntry {
            revision: from_column("journal.revision", row.get(0)?)?,
            key_hash: hash_from_column("journal.key_hash", row.get(1)?)?,
            user_id: from_column("journal.user_id", row.get(2)?)?,
            seq: from_column("journal.seq", row.get(3)?)?,
            entry: row.get(4)?,
        });
    }
    Ok(out)
}

/// The protection of `id`, from the covering `documents_protection` index
/// alone (`INDEXED BY` makes that a guarantee, not a planner choice): the
/// row and its text are never read.
pub(super) fn protection(conn: &mut Connection, id: &str) -> Result<StoredProtection, StoreError> {
    let hashes = conn
        .prepare_cached(PROTECTION_QUERY)?
        .query_row([id], |row| {
            Ok((
                row.get::<_, Option<Vec<u8>>>(0)?,
                row.get::<_, Option<Vec<u8>>>(1)?,
            ))
        })
        .optional()?;
    Ok(match hashes {
        None => StoredProtection::Missing,
        Some((None, _)) => StoredProtection::Unprotected,
        Some((Some(otp), view)) => StoredProtection::Protected {
            otp: hash_from_column("otp_hash", otp)?,
            view: view.map(|v| hash_from_column("view_hash", v)).transpose()?,
        },
    })
}

/// The query behind [`protection`]; shared with the test that checks its plan.
pub(super) const PROTECTION_QUERY: &str =
    "SELECT otp_hash, view_hash FROM documents INDEXED BY documents_protection WHERE id = ?1";

/// How many documents are stored.
pub(super) fn count(conn: &mut Connection) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM documents")?
        .query_row([], |row| row.get(0))?;
    from_column("document count", n)
}
