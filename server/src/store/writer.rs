//! The writer thread: the only connection that writes, fed by a channel.
//!
//! Each time it wakes it takes every request already queued (up to
//! [`MAX_BATCH`]) and commits all the writes among them in one transaction,
//! so a burst of saves costs one commit instead of one each. Every write
//! runs inside its own savepoint: one that fails is rolled back and answered
//! with its error while the rest of the batch still commits. Callers are
//! answered only after the commit, so `Ok` means "on disk" (to the
//! durability `synchronous = NORMAL` gives; see `schema`). The write-behind
//! journal of issue #5 will rely on exactly this: one batch, one commit.

use std::sync::Arc;
use std::time::Instant;

use rusqlite::{params, Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot, watch};

use super::columns::{DocumentRow, JournalRow};
use super::stats::Counters;
use super::StoreError;

/// Most requests handled per wake-up: bounds how long one transaction holds
/// the write lock and how long the first caller of a batch waits.
const MAX_BATCH: usize = 256;

/// How many requests may wait in the channel; beyond it callers wait
/// asynchronously for room (backpressure instead of unbounded memory, since
/// every queued save holds a whole document text).
pub(super) const QUEUE_CAPACITY: usize = 1024;

/// Something for the writer thread to do.
pub(super) enum Request {
    /// A write, committed with the rest of its batch.
    Write(WriteRequest),
    /// A read, for databases only the writer's connection can see
    /// (in-memory ones). Run after the batch it arrived with has committed,
    /// so it never sees writes that might still roll back.
    Read(ReadJob),
}

/// A read run on the writer's connection; it answers its caller itself.
pub(super) type ReadJob = Box<dyn FnOnce(&mut Connection) + Send>;

/// A write and where to send its result.
pub(super) struct WriteRequest {
    /// What to write.
    pub op: WriteOp,
    /// Answered once the batch has committed (or failed).
    pub reply: oneshot::Sender<Result<WriteOutcome, StoreError>>,
    /// When it was queued, for the latency metric.
    pub queued_at: Instant,
}

/// The kinds of write.
pub(super) enum WriteOp {
    /// Upsert a document and replace its clients. Boxed: a row is much
    /// larger than the other variants.
    Save(Box<DocumentRow>),
    /// Delete a document (its clients cascade).
    Delete(String),
    /// Delete documents last used before this unix-ms cutoff.
    DeleteUnusedSince(i64),
    /// Append journal rows.
    Journal(Vec<JournalRow>),
}

/// What a successful write returns.
pub(super) enum WriteOutcome {
    /// Nothing to report.
    Done,
    /// The ids `DeleteUnusedSince` removed.
    Deleted(Vec<String>),
}

/// Starts the writer thread on `conn`. It runs until every sender of
/// `requests` is dropped and the queue is empty, then closes the connection
/// and sets `done` to `true` (also if it panics, so `close` cannot hang).
pub(super) fn spawn(
    conn: Connection,
    requests: mpsc::Receiver<Request>,
    counters: Arc<Counters>,
    done: watch::Sender<bool>,
) -> Result<(), StoreError> {
    std::thread::Builder::new()
        .name("tandem-store-writer".into())
        .spawn(move || {
            let _signal = DoneSignal(done);
            run(conn, requests, &counters);
        })?;
    Ok(())
}

/// Sets the watch to `true` when dropped, i.e. when the thread ends however
/// it ends; the connection is closed by then, as `run` owns it.
struct DoneSignal(watch::Sender<bool>);

impl Drop for DoneSignal {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// The thread's loop.
fn run(mut conn: Connection, mut requests: mpsc::Receiver<Request>, counters: &Counters) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut writes = Vec::with_capacity(MAX_BATCH);
    let mut reads = Vec::new();
    while requests.blocking_recv_many(&mut batch, MAX_BATCH) > 0 {
        for request in batch.drain(..) {
            match request {
                Request::Write(write) => writes.push(write),
                Request::Read(read) => reads.push(read),
            }
        }
        if !writes.is_empty() {
            commit_batch(&mut conn, &mut writes, counters);
        }
        for read in reads.drain(..) {
            read(&mut conn);
        }
    }
}

/// Commits `writes` (emptying it) and answers every request.
fn commit_batch(conn: &mut Connection, writes: &mut Vec<WriteRequest>, counters: &Counters) {
    let results = match apply_batch(conn, writes) {
        Ok(results) => {
            counters.record_transaction();
            results
        }
        Err(e) => {
            tracing::warn!(error = %e, writes = writes.len(), "store write batch failed");
            writes.iter().map(|_| Err(e.clone())).collect()
        }
    };
    let committed_at = Instant::now();
    for (write, result) in writes.drain(..).zip(results) {
        match &result {
            Ok(_) => {
                counters.record_commit(committed_at.duration_since(write.queued_at));
                if matches!(write.op, WriteOp::Journal(_)) {
                    counters.record_journal();
                }
            }
            Err(_) => counters.record_error(),
        }
        // The caller may have stopped waiting; the write stands regardless.
        let _ = write.reply.send(result);
    }
}

/// Runs the batch in one transaction: `Ok` holds each write's own result and
/// means the successful ones committed; `Err` means none did.
fn apply_batch(
    conn: &mut Connection,
    writes: &[WriteRequest],
) -> Result<Vec<Result<WriteOutcome, StoreError>>, StoreError> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(writes.len());
    for write in writes {
        let savepoint = tx.savepoint()?;
        match apply(&savepoint, &write.op) {
            Ok(outcome) => {
                savepoint.commit()?;
                results.push(Ok(outcome));
            }
            Err(e) => {
                // Fails if SQLite already rolled back the whole transaction
                // (it does on I/O errors, a full disk, …): then nothing in
                // this batch can commit and the `?` reports that.
                savepoint.finish()?;
                results.push(Err(e));
            }
        }
    }
    tx.commit()?;
    Ok(results)
}

/// One write's statements.
fn apply(conn: &Connection, op: &WriteOp) -> Result<WriteOutcome, StoreError> {
    match op {
        WriteOp::Save(doc) => {
            save(conn, doc)?;
            Ok(WriteOutcome::Done)
        }
        WriteOp::Delete(id) => {
            conn.prepare_cached("DELETE FROM documents WHERE id = ?1")?
                .execute([id])?;
            conn.prepare_cached("DELETE FROM journal WHERE doc_id = ?1")?
                .execute([id])?;
            Ok(WriteOutcome::Done)
        }
        WriteOp::DeleteUnusedSince(cutoff_ms) => {
            let mut stmt = conn
                .prepare_cached("DELETE FROM documents WHERE last_used_at_ms < ?1 RETURNING id")?;
            let ids = stmt
                .query_map([cutoff_ms], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            let mut journal = conn.prepare_cached("DELETE FROM journal WHERE doc_id = ?1")?;
            for id in &ids {
                journal.execute([id])?;
            }
            // Journals of documents that never got a snapshot (the server
            // crashed first) and were not used since.
            conn.prepare_cached(
                "DELETE FROM journal WHERE created_at_ms < ?1
                 AND doc_id NOT IN (SELECT id FROM documents)",
            )?
            .execute([cutoff_ms])?;
            Ok(WriteOutcome::Deleted(ids))
        }
        WriteOp::Journal(rows) => {
            let now = crate::document::now_ms();
            let mut insert = conn.prepare_cached(
                "INSERT OR IGNORE INTO journal
                     (doc_id, revision, key_hash, user_id, seq, entry, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for r in rows {
                insert.execute(params![
                    r.doc_id,
                    r.revision,
                    r.key_hash.as_slice(),
                    r.user_id,
                    r.seq,
                    r.entry,
                    now
                ])?;
            }
            Ok(WriteOutcome::Done)
        }
    }
}

/// Upserts the document row and replaces its clients rows.
fn save(conn: &Connection, doc: &DocumentRow) -> Result<(), StoreError> {
    // An upsert, not `INSERT OR REPLACE`: REPLACE deletes the old row first,
    // which would fire the cascade and churn the indexes for nothing.
    conn.prepare_cached(
        "INSERT INTO documents (id, text, revision, language, otp_hash, next_user_id,
                                created_at_ms, last_used_at_ms, view_hash, view_sealed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET
             text = excluded.text,
             revision = excluded.revision,
             language = excluded.language,
             otp_hash = excluded.otp_hash,
             view_hash = excluded.view_hash,
             view_sealed = excluded.view_sealed,
             next_user_id = excluded.next_user_id,
             created_at_ms = excluded.created_at_ms,
             last_used_at_ms = excluded.last_used_at_ms",
    )?
    .execute(params![
        doc.id,
        doc.text,
        doc.revision,
        doc.language,
        doc.otp_hash.as_ref().map(<[u8; 32]>::as_slice),
        doc.next_user_id,
        doc.created_at_ms,
        doc.last_used_at_ms,
        doc.view_hash.as_ref().map(<[u8; 32]>::as_slice),
        doc.view_sealed.as_ref().map(<[u8; 32]>::as_slice),
    ])?;
    conn.prepare_cached("DELETE FROM clients WHERE doc_id = ?1")?
        .execute([&doc.id])?;
    // The snapshot holds every edit before its revision.
    conn.prepare_cached("DELETE FROM journal WHERE doc_id = ?1 AND revision < ?2")?
        .execute(params![doc.id, doc.revision])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO clients (doc_id, key_hash, user_id, last_seq) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for client in &doc.clients {
        insert.execute(params![
            doc.id,
            client.key_hash.as_slice(),
            client.user_id,
            client.last_seq
        ])?;
    }
    Ok(())
}
