//! Batching of concurrent writes and reads running beside writes.

use super::{db_path, doc, temp_store};
use crate::store::StoreStats;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_saves_batch_into_fewer_transactions() {
    let (_dir, store) = temp_store();
    let saves = (0..200).map(|i| {
        let store = store.clone();
        async move { store.save(doc(&format!("d{i}"), "text")).await }
    });
    for result in futures_util::future::join_all(saves).await {
        result.unwrap();
    }
    let stats = store.stats();
    assert_eq!(stats.writes_committed, 200);
    assert_eq!(stats.write_errors, 0);
    assert_eq!(stats.pending_writes, 0);
    assert!(stats.transactions < 200, "{stats:?}");
    assert!(stats.write_latency_max_ns > 0);
    assert!(stats.write_latency_total_ns >= stats.write_latency_max_ns);
    assert!(stats.write_latency_total_seconds() >= stats.write_latency_max_seconds());
    assert_eq!(store.count().await.unwrap(), 200);
}

#[tokio::test]
async fn stats_start_at_zero() {
    let (_dir, store) = temp_store();
    assert_eq!(store.stats(), StoreStats::default());
    store.save(doc("a", "")).await.unwrap();
    assert_eq!(store.stats().transactions, 1);
    assert_eq!(store.stats().writes_committed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_not_blocked_by_a_held_write_lock() {
    let (dir, store) = temp_store();
    store.save(doc("a", "committed")).await.unwrap();
    // Another connection holds the write lock with an uncommitted change:
    // under WAL, readers still see the last commit and do not wait.
    let mut other = rusqlite::Connection::open(db_path(&dir)).unwrap();
    let tx = other
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    tx.execute("UPDATE documents SET text = 'uncommitted'", [])
        .unwrap();
    let started = std::time::Instant::now();
    let loaded = store.load("a").await.unwrap().unwrap();
    assert_eq!(loaded.text, "committed");
    assert_eq!(store.count().await.unwrap(), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    tx.rollback().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_run_while_writes_stream() {
    let (_dir, store) = temp_store();
    let writer = tokio::spawn({
        let store = store.clone();
        async move {
            for revision in 0..300u64 {
                let mut d = doc("hot", &revision.to_string());
                d.revision = revision;
                d.clients = vec![super::client(1, 1, revision)];
                store.save(d).await.unwrap();
            }
        }
    });
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut last = 0;
                for _ in 0..100 {
                    if let Some(d) = store.load("hot").await.unwrap() {
                        // Every snapshot is consistent and never goes back.
                        assert_eq!(d.text, d.revision.to_string());
                        assert_eq!(d.clients[0].last_seq, d.revision);
                        assert!(d.revision >= last);
                        last = d.revision;
                    }
                }
            })
        })
        .collect();
    writer.await.unwrap();
    for reader in readers {
        reader.await.unwrap();
    }
    assert_eq!(store.load("hot").await.unwrap().unwrap().revision, 299);
}
