//! Tests of the store against real SQLite files in temporary directories.

mod concurrency;
mod documents;
mod journal;
mod lifecycle;
mod schema;

use tempfile::TempDir;

use super::{JournalBatch, JournalEntry, Store, StoredClient, StoredDocument};

/// A store on a fresh file; keep the directory alive as long as the store.
fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(db_path(&dir).as_str()).expect("open store");
    (dir, store)
}

/// The database path inside `dir`.
fn db_path(dir: &TempDir) -> String {
    dir.path().join("tandem.db").to_string_lossy().into_owned()
}

/// A plain unprotected document without clients.
fn doc(id: &str, text: &str) -> StoredDocument {
    StoredDocument {
        id: id.to_owned(),
        text: text.to_owned(),
        revision: 3,
        language: None,
        otp_hash: None,
        view: None,
        next_user_id: 1,
        clients: Vec::new(),
        created_at_ms: 1_000,
        last_used_at_ms: 2_000,
        journal: Vec::new(),
    }
}

/// A client whose key hash is derived from `n`.
fn client(n: u8, user_id: u64, last_seq: u64) -> StoredClient {
    StoredClient {
        key_hash: [n; 32],
        user_id,
        last_seq,
    }
}

/// A journal entry at `revision` by client `n`.
fn entry(revision: u64, n: u8, seq: u64) -> JournalEntry {
    JournalEntry {
        revision,
        key_hash: [n; 32],
        user_id: u64::from(n),
        seq,
        entry: format!(r#"{{"id":{n},"operation":[{revision},"x"]}}"#),
    }
}

#[test]
fn store_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Store>();
}
