//! Closing, reopening and surviving failed writes.

use super::{db_path, doc, temp_store};
use crate::store::{Store, StoreError, StoredProtection};

#[tokio::test]
async fn data_survives_reopen() {
    let (dir, store) = temp_store();
    let mut d = doc("persist", "still here");
    d.otp_hash = Some([5; 32]);
    d.clients = vec![super::client(4, 2, 8)];
    store.save(d.clone()).await.unwrap();
    store.close().await;
    drop(store);

    let store = Store::open(&db_path(&dir)).unwrap();
    assert_eq!(store.load("persist").await.unwrap(), Some(d));
    assert_eq!(
        store.protection("persist").await.unwrap(),
        StoredProtection::Protected {
            otp: [5; 32],
            view: None
        }
    );
}

#[tokio::test]
async fn errors_after_close() {
    let (_dir, store) = temp_store();
    store.save(doc("a", "")).await.unwrap();
    let clone = store.clone();
    store.close().await;
    assert!(matches!(
        clone.save(doc("b", "")).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(clone.load("a").await, Err(StoreError::Closed)));
    assert!(matches!(
        clone.protection("a").await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(clone.count().await, Err(StoreError::Closed)));
    assert!(matches!(clone.delete("a").await, Err(StoreError::Closed)));
    assert!(matches!(
        clone.delete_unused_since(0).await,
        Err(StoreError::Closed)
    ));
    clone.close().await; // a second close is harmless

    let memory = Store::open(":memory:").unwrap();
    memory.close().await;
    assert!(matches!(memory.load("a").await, Err(StoreError::Closed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn close_commits_queued_writes() {
    let (dir, store) = temp_store();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { (i, store.save(doc(&format!("d{i}"), "x")).await) })
        })
        .collect();
    tokio::task::yield_now().await;
    store.close().await;
    let mut saved = Vec::new();
    for task in tasks {
        let (i, result) = task.await.unwrap();
        match result {
            Ok(()) => saved.push(i),
            Err(StoreError::Closed) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    let reopened = Store::open(&db_path(&dir)).unwrap();
    for i in &saved {
        assert!(
            reopened.load(&format!("d{i}")).await.unwrap().is_some(),
            "d{i} was acknowledged"
        );
    }
    assert_eq!(reopened.count().await.unwrap(), saved.len() as u64);
}

#[tokio::test]
async fn dropping_the_store_still_commits_queued_writes() {
    let (dir, store) = temp_store();
    let pending = tokio::spawn({
        let store = store.clone();
        async move { store.save(doc("late", "")).await }
    });
    drop(store);
    pending.await.unwrap().unwrap();
    let reopened = Store::open(&db_path(&dir)).unwrap();
    assert!(reopened.load("late").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_write_is_reported_and_the_rest_of_its_batch_commits() {
    let (dir, store) = temp_store();
    // Make saves of one id fail inside SQLite, as a full disk or a
    // constraint would.
    rusqlite::Connection::open(db_path(&dir))
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON documents WHEN NEW.id = 'poison'
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
        )
        .unwrap();
    let mut saves = Vec::new();
    for i in 0..50 {
        let id = if i == 25 {
            "poison".to_owned()
        } else {
            format!("ok{i}")
        };
        saves.push(store.save(doc(&id, "x")));
    }
    let results = futures_util::future::join_all(saves).await;
    for (i, result) in results.iter().enumerate() {
        match (i, result) {
            (25, Err(StoreError::Sqlite(e))) => assert!(e.to_string().contains("poisoned"), "{e}"),
            (25, other) => panic!("poisoned save answered {other:?}"),
            (_, r) => assert!(r.is_ok(), "{r:?}"),
        }
    }
    assert_eq!(store.count().await.unwrap(), 49);
    let stats = store.stats();
    assert_eq!(stats.write_errors, 1);
    assert_eq!(stats.writes_committed, 49);
    // The writer thread is alive and well.
    assert!(store.save(doc("poison", "")).await.is_err());
    store.save(doc("after", "")).await.unwrap();
    assert_eq!(store.count().await.unwrap(), 50);
}
