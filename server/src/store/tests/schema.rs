//! Opening, migrating and the connection settings.

use super::{db_path, doc, temp_store};
use crate::store::{schema, Store, StoreError};

/// `PRAGMA user_version` of the file at `path`.
fn user_version(path: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn migrates_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    std::fs::write(&path, b"").unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(user_version(&path), schema::current_version());
    store.save(doc("a", "x")).await.unwrap();
    store.close().await;
    // Reopening an up-to-date file runs nothing again and keeps the data.
    let store = Store::open(&path).unwrap();
    assert_eq!(store.count().await.unwrap(), 1);
}

#[test]
fn refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Store::open(&path).err().expect("must refuse");
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, supported } if supported == schema::current_version()),
        "{err}"
    );
    assert!(err.to_string().contains("newer"), "{err}");
    assert_eq!(user_version(&path), 99, "the file is left alone");
}

#[test]
fn refuses_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    std::fs::write(
        &path,
        b"this is not an sqlite database, just some text........",
    )
    .unwrap();
    assert!(matches!(Store::open(&path), Err(StoreError::Sqlite(_))));
}

#[tokio::test]
async fn uses_wal_and_foreign_keys() {
    let (dir, store) = temp_store();
    store.save(doc("a", "")).await.unwrap();
    let conn = rusqlite::Connection::open(db_path(&dir)).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn creates_parent_directories_and_accepts_file_uris() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("b c").join("tandem.db");
    let store = Store::open(nested.to_str().unwrap()).unwrap();
    store.save(doc("x", "plain path")).await.unwrap();
    store.close().await;
    assert!(nested.exists());

    let uri_path = dir.path().join("u v").join("w.db");
    let uri = format!(
        "file:{}?mode=rwc",
        uri_path.to_str().unwrap().replace(' ', "%20")
    );
    let store = Store::open(&uri).unwrap();
    store.save(doc("y", "uri")).await.unwrap();
    assert_eq!(store.load("y").await.unwrap().unwrap().text, "uri");
    store.close().await;
    assert!(uri_path.exists());
}

/// A database written by the previous schema (v2, before read-only links)
/// is migrated in place: its documents keep their text and protection and
/// have no read-only link.
#[tokio::test]
async fn migrates_a_version_2_file_keeping_its_documents() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE documents (
                id TEXT PRIMARY KEY NOT NULL, text TEXT NOT NULL,
                revision INTEGER NOT NULL, language TEXT, otp_hash BLOB,
                next_user_id INTEGER NOT NULL, created_at_ms INTEGER NOT NULL,
                last_used_at_ms INTEGER NOT NULL
            );
            CREATE INDEX documents_last_used ON documents (last_used_at_ms);
            CREATE INDEX documents_protection ON documents (id, otp_hash);
            CREATE TABLE clients (
                doc_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
                key_hash BLOB NOT NULL, user_id INTEGER NOT NULL,
                last_seq INTEGER NOT NULL, PRIMARY KEY (doc_id, key_hash)
            );
            CREATE TABLE journal (
                doc_id TEXT NOT NULL, revision INTEGER NOT NULL,
                key_hash BLOB NOT NULL, user_id INTEGER NOT NULL,
                seq INTEGER NOT NULL, entry TEXT NOT NULL,
                created_at_ms INTEGER NOT NULL, PRIMARY KEY (doc_id, revision)
            ) WITHOUT ROWID;
            INSERT INTO documents VALUES ('old', 'kept', 3, NULL, zeroblob(32), 1, 1, 2);
            PRAGMA user_version = 2;",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(user_version(&path), schema::current_version());
    let old = store.load("old").await.unwrap().unwrap();
    assert_eq!(
        (old.text.as_str(), old.otp_hash, old.view),
        ("kept", Some([0; 32]), None)
    );
    assert_eq!(
        store.protection("old").await.unwrap(),
        crate::store::StoredProtection::Protected {
            otp: [0; 32],
            view: None
        }
    );
}
