//! Persistence: documents at rest in SQLite.
//!
//! The server keeps documents in memory and saves them lazily; this module
//! is the only code that touches the database, and none of its SQLite work
//! runs on an async worker thread:
//!
//! - writes go to one writer thread (`writer`) that batches everything
//!   queued into one transaction and answers each caller after the commit;
//! - reads run on tokio's blocking pool with a small pool of read
//!   connections (`reader`), concurrent with the writer thanks to WAL;
//! - in-memory databases have only the writer's connection, so their reads
//!   are queued to the writer thread too.
//!
//! Durability settings and the schema are in `schema`.

mod columns;
mod error;
mod location;
mod reader;
mod schema;
mod stats;
mod writer;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, watch};

pub use error::StoreError;
pub use stats::StoreStats;

use columns::DocumentRow;
use location::Location;
use reader::ReaderPool;
use stats::Counters;
use writer::{Request, WriteOp, WriteOutcome, WriteRequest};

/// A document as stored: everything needed to bring it back into memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    /// The document id from the URL; the primary key.
    pub id: String,
    /// The text at [`revision`](Self::revision).
    pub text: String,
    /// The server revision the text is at, so reconnecting clients can tell
    /// whether their revision is still meaningful.
    pub revision: u64,
    /// The editor language, if one was set.
    pub language: Option<String>,
    /// SHA-256 of the OTP, so protection survives a restart without the OTP
    /// itself ever being at rest.
    pub otp_hash: Option<[u8; 32]>,
    /// The read-only link, if the document has one (only protected
    /// documents do).
    pub view: Option<StoredView>,
    /// The next user id to hand out in this document, so ids are never
    /// reused across restarts.
    pub next_user_id: u64,
    /// The known client identities; [`Store::load`] returns them ordered by
    /// `user_id`, then `key_hash`.
    pub clients: Vec<StoredClient>,
    /// When the document was created (unix ms).
    pub created_at_ms: i64,
    /// Last edit or connection (unix ms); drives expiry through
    /// [`Store::delete_unused_since`].
    pub last_used_at_ms: i64,
    /// Edits journaled after [`revision`](Self::revision), oldest first, to
    /// be replayed on top of `text`. Filled by [`Store::load`]; ignored by
    /// [`Store::save`], which instead drops the journal up to `revision`.
    pub journal: Vec<JournalEntry>,
}

/// One applied edit in the write-behind journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// The revision the edit applies to (it produced `revision + 1`).
    pub revision: u64,
    /// SHA-256 of the identity of the client that made it, so that its
    /// sequence number survives a crash too.
    pub key_hash: [u8; 32],
    /// The author's user id.
    pub user_id: u64,
    /// The edit's sequence number for that identity.
    pub seq: u64,
    /// The history entry as sent on the wire, `{"id":U,"operation":[…]}`:
    /// the server already encoded it once, and it decodes back losslessly.
    pub entry: String,
}

/// The journal entries of one document, for [`Store::append_journal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalBatch {
    /// The document.
    pub doc_id: String,
    /// Its new entries, oldest first.
    pub entries: Vec<JournalEntry>,
}

/// A client identity of a document, kept so that a reconnecting client gets
/// its user id back and its already-applied edits are not applied twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClient {
    /// SHA-256 of the client's secret identity string: the identity itself
    /// is a secret and is never stored.
    pub key_hash: [u8; 32],
    /// The user id this identity has in the document.
    pub user_id: u64,
    /// The highest edit sequence number of this identity already applied.
    pub last_seq: u64,
}

/// A document's view secret (read-only link) at rest: never in plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredView {
    /// SHA-256 of the view secret, for checking viewers.
    pub hash: [u8; 32],
    /// The view secret sealed under the document's OTP
    /// (`crate::otp::seal`), so editors can be told it again.
    pub sealed: [u8; 32],
}

/// What the pre-upgrade access check needs, read without loading the
/// document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredProtection {
    /// No such document is stored.
    Missing,
    /// Stored and not protected.
    Unprotected,
    /// Stored and protected.
    Protected {
        /// SHA-256 of the OTP.
        otp: [u8; 32],
        /// SHA-256 of the view secret, if it has a read-only link.
        view: Option<[u8; 32]>,
    },
}

/// The handle to the database: cheap to clone, shareable between tasks.
///
/// Dropping the last clone without [`close`](Store::close) still commits
/// every write already queued, but nobody waits for it; call `close` on
/// shutdown.
#[derive(Clone)]
pub struct Store {
    /// Shared by all clones.
    inner: Arc<Inner>,
}

/// The state behind a [`Store`].
struct Inner {
    /// The writer thread's queue; `None` once closed. Dropping it (with any
    /// short-lived clones held by in-flight sends) is what stops the thread.
    requests: Mutex<Option<mpsc::Sender<Request>>>,
    /// Where reads run.
    reads: Reads,
    /// Write counters, shared with the writer thread.
    counters: Arc<Counters>,
    /// Becomes `true` when the writer thread has ended.
    writer_done: watch::Receiver<bool>,
}

/// Where reads run, depending on what kind of database was opened.
enum Reads {
    /// A file: a pool of read connections.
    Pool(Arc<ReaderPool>),
    /// An in-memory database, which only the writer's connection sees.
    Writer,
}

impl Store {
    /// Opens (creating the file and its parent directories) and migrates the
    /// database, then starts the writer thread.
    ///
    /// `uri` is a path like `./data/tandem.db`, a `file:` URI, or `:memory:`
    /// (a fresh database per call, gone when the store is closed). This
    /// blocks on file I/O and the migration: call it at startup, before
    /// serving, or through `spawn_blocking`.
    pub fn open(uri: &str) -> Result<Store, StoreError> {
        let reads = match location::classify(uri) {
            Location::Private => Reads::Writer,
            Location::File(path) => {
                if let Some(dir) = path.as_deref().and_then(std::path::Path::parent) {
                    if !dir.as_os_str().is_empty() {
                        std::fs::create_dir_all(dir)?;
                    }
                }
                Reads::Pool(Arc::new(ReaderPool::new(uri)))
            }
        };
        let mut conn = Connection::open(uri)?;
        schema::configure_writer(&conn)?;
        schema::migrate(&mut conn)?;
        let (sender, receiver) = mpsc::channel(writer::QUEUE_CAPACITY);
        let (done_tx, done_rx) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        writer::spawn(conn, receiver, Arc::clone(&counters), done_tx)?;
        Ok(Store {
            inner: Arc::new(Inner {
                requests: Mutex::new(Some(sender)),
                reads,
                counters,
                writer_done: done_rx,
            }),
        })
    }

    /// The document `id`, or `None` if it is not stored.
    pub async fn load(&self, id: &str) -> Result<Option<StoredDocument>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| reader::load(conn, &id)).await
    }

    /// Whether `id` is stored and protected, from one index lookup that never
    /// reads the document's text: cheap enough for every connection attempt.
    pub async fn protection(&self, id: &str) -> Result<StoredProtection, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| reader::protection(conn, &id)).await
    }

    /// Stores `doc` (replacing a stored document with the same id, and all of
    /// its clients) in one transaction; resolves once that is committed.
    ///
    /// On error nothing of `doc` was stored: keep it dirty and retry later.
    /// Counters above `i64::MAX` and duplicate client key hashes are refused
    /// up front. Dropping the future does not cancel a save already queued.
    pub async fn save(&self, doc: StoredDocument) -> Result<(), StoreError> {
        let row = DocumentRow::encode(doc)?;
        self.write(WriteOp::Save(Box::new(row))).await.map(drop)
    }

    /// Appends journal entries (several documents at once: one batch, one
    /// commit); resolves once committed. Entries already journaled (same
    /// document and revision) are left as they are, so a retry after an
    /// error is harmless.
    pub async fn append_journal(&self, batches: Vec<JournalBatch>) -> Result<(), StoreError> {
        let rows = columns::journal_rows(batches)?;
        self.write(WriteOp::Journal(rows)).await.map(drop)
    }

    /// Deletes the document `id` and its clients; deleting a document that
    /// is not stored is not an error.
    pub async fn delete(&self, id: &str) -> Result<(), StoreError> {
        self.write(WriteOp::Delete(id.to_owned())).await.map(drop)
    }

    /// Deletes every document whose `last_used_at_ms` is before `cutoff_ms`
    /// (with its clients) and returns their ids.
    ///
    /// The stored `last_used_at_ms` is the one of the last save: save hot
    /// documents first (or skip them) so recent use is not missed.
    pub async fn delete_unused_since(&self, cutoff_ms: i64) -> Result<Vec<String>, StoreError> {
        match self.write(WriteOp::DeleteUnusedSince(cutoff_ms)).await? {
            WriteOutcome::Deleted(ids) => Ok(ids),
            WriteOutcome::Done => Ok(Vec::new()),
        }
    }

    /// How many documents are stored.
    pub async fn count(&self) -> Result<u64, StoreError> {
        self.read(reader::count).await
    }

    /// The write counters, for `/metrics`. Never blocks.
    pub fn stats(&self) -> StoreStats {
        self.inner.counters.snapshot()
    }

    /// Commits every write already queued, stops the writer thread and
    /// closes the database. Later calls to any method return
    /// [`StoreError::Closed`]; calling `close` again just waits for the same
    /// shutdown.
    pub async fn close(&self) {
        let sender = self.inner.requests.lock().take();
        if let Reads::Pool(pool) = &self.inner.reads {
            // Idle readers go first, so the writer's connection is usually
            // the last one and checkpoints the WAL into the file on close.
            pool.close();
        }
        drop(sender);
        let mut done = self.inner.writer_done.clone();
        // An error means the thread is gone too (its signal was dropped).
        let _ = done.wait_for(|done| *done).await;
    }

    /// Queues a write and waits for its commit.
    async fn write(&self, op: WriteOp) -> Result<WriteOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        let request = WriteRequest {
            op,
            reply,
            queued_at: Instant::now(),
        };
        self.send(Request::Write(request)).await?;
        self.inner.counters.record_enqueued();
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Runs `read` off the async workers, wherever this database's reads go.
    async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        match &self.inner.reads {
            Reads::Pool(pool) => pool.run(read).await,
            Reads::Writer => {
                let (reply, answer) = oneshot::channel();
                let job = Box::new(move |conn: &mut Connection| {
                    // The caller may have stopped waiting.
                    let _ = reply.send(read(conn));
                });
                self.send(Request::Read(job)).await?;
                answer.await.map_err(|_| StoreError::WriterGone)?
            }
        }
    }

    /// Hands `request` to the writer thread, waiting for room in its queue.
    async fn send(&self, request: Request) -> Result<(), StoreError> {
        // Cloned out so the lock is not held across the await.
        let sender = self.inner.requests.lock().clone();
        let sender = sender.ok_or(StoreError::Closed)?;
        sender
            .send(request)
            .await
            .map_err(|_| StoreError::WriterGone)
    }
}
