//! Saving, loading, deleting and counting documents.

use super::{client, doc, temp_store};
use crate::store::{Store, StoreError, StoredProtection, StoredView};

#[tokio::test]
async fn round_trip_with_clients_and_otp() {
    let (_dir, store) = temp_store();
    let mut d = doc("abc", "hello\nwörld 🎉");
    d.revision = 42;
    d.language = Some("rust".into());
    d.otp_hash = Some([7; 32]);
    d.next_user_id = 5;
    d.clients = vec![client(1, 1, 10), client(2, 4, 0)];
    store.save(d.clone()).await.unwrap();
    assert_eq!(store.load("abc").await.unwrap(), Some(d));
    assert_eq!(store.load("other").await.unwrap(), None);
}

#[tokio::test]
async fn save_upserts_and_replaces_clients() {
    let (_dir, store) = temp_store();
    let mut d = doc("abc", "one");
    d.otp_hash = Some([1; 32]);
    d.clients = vec![client(1, 1, 3), client(2, 2, 5)];
    store.save(d.clone()).await.unwrap();

    d.text = "two".into();
    d.revision = 4;
    d.otp_hash = None;
    d.language = Some("go".into());
    d.clients = vec![client(3, 3, 1)];
    store.save(d.clone()).await.unwrap();

    assert_eq!(store.load("abc").await.unwrap(), Some(d));
    assert_eq!(store.count().await.unwrap(), 1);
}

#[tokio::test]
async fn clients_load_ordered_by_user_id() {
    let (_dir, store) = temp_store();
    let mut d = doc("abc", "");
    d.clients = vec![client(9, 3, 0), client(8, 1, 0), client(7, 2, 0)];
    store.save(d).await.unwrap();
    let ids: Vec<u64> = store
        .load("abc")
        .await
        .unwrap()
        .unwrap()
        .clients
        .iter()
        .map(|c| c.user_id)
        .collect();
    assert_eq!(ids, [1, 2, 3]);
}

#[tokio::test]
async fn protection_without_loading() {
    let (_dir, store) = temp_store();
    assert_eq!(
        store.protection("x").await.unwrap(),
        StoredProtection::Missing
    );
    store.save(doc("open", "text")).await.unwrap();
    let mut protected = doc("closed", "secret text");
    protected.otp_hash = Some([9; 32]);
    store.save(protected).await.unwrap();
    assert_eq!(
        store.protection("open").await.unwrap(),
        StoredProtection::Unprotected
    );
    assert_eq!(
        store.protection("closed").await.unwrap(),
        StoredProtection::Protected {
            otp: [9; 32],
            view: None
        }
    );
}

#[tokio::test]
async fn protection_query_reads_only_the_covering_index() {
    let (dir, store) = temp_store();
    store.save(doc("a", "text")).await.unwrap();
    let conn = rusqlite::Connection::open(super::db_path(&dir)).unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {}",
            crate::store::reader::PROTECTION_QUERY
        ))
        .unwrap();
    let plan: Vec<String> = stmt
        .query_map(["a"], |row| row.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert!(
        plan[0].contains("COVERING INDEX documents_protection"),
        "{plan:?}"
    );
}

#[tokio::test]
async fn delete_removes_document_and_clients() {
    let (dir, store) = temp_store();
    let mut d = doc("abc", "x");
    d.clients = vec![client(1, 1, 1)];
    store.save(d).await.unwrap();
    store.save(doc("keep", "y")).await.unwrap();
    store.delete("abc").await.unwrap();
    store.delete("never-existed").await.unwrap();
    assert_eq!(store.load("abc").await.unwrap(), None);
    assert_eq!(store.count().await.unwrap(), 1);
    assert_eq!(client_rows(&dir), 0);
}

#[tokio::test]
async fn delete_unused_since_deletes_only_old_and_cascades() {
    let (dir, store) = temp_store();
    for (id, used) in [("old1", 100), ("old2", 199), ("edge", 200), ("new", 300)] {
        let mut d = doc(id, id);
        d.last_used_at_ms = used;
        d.clients = vec![client(1, 1, 1), client(2, 2, 2)];
        store.save(d).await.unwrap();
    }
    let mut deleted = store.delete_unused_since(200).await.unwrap();
    deleted.sort();
    assert_eq!(deleted, ["old1", "old2"]);
    assert_eq!(store.count().await.unwrap(), 2);
    assert!(store.load("edge").await.unwrap().is_some());
    assert!(store.load("new").await.unwrap().is_some());
    assert_eq!(
        client_rows(&dir),
        4,
        "the deleted documents' clients cascade"
    );
    assert!(store.delete_unused_since(0).await.unwrap().is_empty());
}

#[tokio::test]
async fn count_documents() {
    let (_dir, store) = temp_store();
    assert_eq!(store.count().await.unwrap(), 0);
    for i in 0..5 {
        store.save(doc(&format!("d{i}"), "")).await.unwrap();
    }
    store.save(doc("d0", "again")).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 5);
}

#[tokio::test]
async fn odd_ids_and_huge_text_round_trip() {
    let (_dir, store) = temp_store();
    let long_id = "é".repeat(10_000);
    let ids = [
        "",
        "a'b\"; DROP TABLE documents; --",
        "nul\0byte",
        "🎉/..\\?%",
        long_id.as_str(),
    ];
    for id in ids {
        let d = doc(id, id);
        store.save(d.clone()).await.unwrap();
        assert_eq!(store.load(id).await.unwrap(), Some(d), "{id:?}");
        assert_eq!(
            store.protection(id).await.unwrap(),
            StoredProtection::Unprotected
        );
    }
    assert_eq!(store.load("nul").await.unwrap(), None);
    let huge = doc("huge", &"0123456789abcdef".repeat(1 << 20)); // 16 MiB
    store.save(huge.clone()).await.unwrap();
    assert_eq!(store.load("huge").await.unwrap(), Some(huge));
    assert_eq!(store.count().await.unwrap(), 6);
}

#[tokio::test]
async fn out_of_range_counters_are_refused_not_wrapped() {
    let (_dir, store) = temp_store();
    let mut d = doc("a", "");
    d.revision = u64::MAX;
    let err = store.save(d).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::ValueOutOfRange {
                field: "revision",
                ..
            }
        ),
        "{err}"
    );

    let mut d = doc("a", "");
    d.clients = vec![client(1, 1, i64::MAX as u64 + 1)];
    let err = store.save(d).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::ValueOutOfRange {
                field: "clients.last_seq",
                ..
            }
        ),
        "{err}"
    );

    // The largest storable values work, and nothing above was stored.
    assert_eq!(store.load("a").await.unwrap(), None);
    let mut d = doc("a", "");
    d.revision = i64::MAX as u64;
    d.next_user_id = i64::MAX as u64;
    d.clients = vec![client(1, i64::MAX as u64, i64::MAX as u64)];
    store.save(d.clone()).await.unwrap();
    assert_eq!(store.load("a").await.unwrap(), Some(d));
}

#[tokio::test]
async fn duplicate_client_key_hashes_are_refused() {
    let (_dir, store) = temp_store();
    let mut d = doc("a", "");
    d.clients = vec![client(1, 1, 1), client(1, 2, 2)];
    let err = store.save(d).await.unwrap_err();
    assert!(
        matches!(err, StoreError::DuplicateClient { user_id: 2 }),
        "{err}"
    );
    assert_eq!(store.count().await.unwrap(), 0);
}

#[tokio::test]
async fn corrupt_rows_are_errors_not_panics() {
    let (dir, store) = temp_store();
    store.save(doc("neg", "")).await.unwrap();
    store.save(doc("short", "")).await.unwrap();
    let conn = rusqlite::Connection::open(super::db_path(&dir)).unwrap();
    conn.execute("UPDATE documents SET revision = -1 WHERE id = 'neg'", [])
        .unwrap();
    conn.execute(
        "UPDATE documents SET otp_hash = x'0102' WHERE id = 'short'",
        [],
    )
    .unwrap();
    assert!(matches!(
        store.load("neg").await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.protection("short").await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.load("short").await,
        Err(StoreError::Corrupt(_))
    ));
}

#[tokio::test]
async fn memory_database_works_and_is_private() {
    for uri in [
        ":memory:",
        "file::memory:",
        "file:tandem-test?mode=memory&cache=shared",
    ] {
        let store = Store::open(uri).unwrap();
        let other = Store::open(":memory:").unwrap();
        let mut d = doc("m", "in memory");
        d.otp_hash = Some([3; 32]);
        d.clients = vec![client(1, 1, 1)];
        store.save(d.clone()).await.unwrap();
        store.save(doc("old", "")).await.unwrap();
        assert_eq!(store.load("m").await.unwrap(), Some(d), "{uri}");
        assert_eq!(
            store.protection("m").await.unwrap(),
            StoredProtection::Protected {
                otp: [3; 32],
                view: None
            }
        );
        assert_eq!(store.count().await.unwrap(), 2);
        assert_eq!(other.count().await.unwrap(), 0);
        let mut old = doc("older", "");
        old.last_used_at_ms = 1;
        store.save(old).await.unwrap();
        assert_eq!(store.delete_unused_since(2).await.unwrap(), ["older"]);
        store.delete("m").await.unwrap();
        assert_eq!(store.count().await.unwrap(), 1);
        store.close().await;
        other.close().await;
    }
}

/// How many `clients` rows the file holds, counted over a separate
/// connection.
fn client_rows(dir: &tempfile::TempDir) -> i64 {
    rusqlite::Connection::open(super::db_path(dir))
        .unwrap()
        .query_row("SELECT COUNT(*) FROM clients", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn read_only_links_round_trip_and_show_in_the_protection() {
    let (_dir, store) = temp_store();
    let mut d = doc("viewable", "text");
    d.otp_hash = Some([1; 32]);
    d.view = Some(StoredView {
        hash: [2; 32],
        sealed: [3; 32],
    });
    store.save(d.clone()).await.unwrap();
    assert_eq!(store.load("viewable").await.unwrap(), Some(d.clone()));
    assert_eq!(
        store.protection("viewable").await.unwrap(),
        StoredProtection::Protected {
            otp: [1; 32],
            view: Some([2; 32])
        }
    );
    // Removing the link clears both columns.
    d.view = None;
    store.save(d.clone()).await.unwrap();
    assert_eq!(store.load("viewable").await.unwrap(), Some(d));
    assert_eq!(
        store.protection("viewable").await.unwrap(),
        StoredProtection::Protected {
            otp: [1; 32],
            view: None
        }
    );
}

#[tokio::test]
async fn a_half_stored_read_only_link_is_reported_as_corrupt() {
    let (dir, store) = temp_store();
    let mut d = doc("half", "text");
    d.otp_hash = Some([1; 32]);
    store.save(d).await.unwrap();
    rusqlite::Connection::open(super::db_path(&dir))
        .unwrap()
        .execute(
            "UPDATE documents SET view_hash = zeroblob(32) WHERE id = 'half'",
            [],
        )
        .unwrap();
    assert!(matches!(
        store.load("half").await,
        Err(StoreError::Corrupt(_))
    ));
}
