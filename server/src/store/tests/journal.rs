//! The write-behind journal: appended in batches, read back after the
//! snapshot's revision, truncated by snapshots, removed with documents.

use super::{doc, entry, temp_store, JournalBatch};

fn batch(id: &str, entries: Vec<super::JournalEntry>) -> JournalBatch {
    JournalBatch {
        doc_id: id.to_owned(),
        entries,
    }
}

#[tokio::test]
async fn load_returns_the_journal_after_the_snapshot() {
    let (_dir, store) = temp_store();
    store.save(doc("a", "abc")).await.unwrap(); // revision 3
    store
        .append_journal(vec![
            batch("a", vec![entry(2, 1, 1), entry(3, 1, 2), entry(4, 2, 1)]),
            batch("b", vec![entry(0, 1, 1)]),
        ])
        .await
        .unwrap();
    let a = store.load("a").await.unwrap().unwrap();
    assert_eq!(a.journal, vec![entry(3, 1, 2), entry(4, 2, 1)]);
    // Appending the same revisions again changes nothing (retries).
    store
        .append_journal(vec![batch("a", vec![entry(3, 9, 9)])])
        .await
        .unwrap();
    assert_eq!(
        store.load("a").await.unwrap().unwrap().journal[0],
        entry(3, 1, 2)
    );
}

#[tokio::test]
async fn a_journal_without_a_snapshot_is_a_document_from_empty() {
    let (_dir, store) = temp_store();
    store
        .append_journal(vec![batch("new", vec![entry(0, 1, 1), entry(1, 1, 2)])])
        .await
        .unwrap();
    let d = store.load("new").await.unwrap().unwrap();
    assert_eq!((d.text.as_str(), d.revision), ("", 0));
    assert_eq!(d.journal.len(), 2);
    assert_eq!(store.count().await.unwrap(), 0, "no snapshot row yet");
    assert!(store.load("other").await.unwrap().is_none());
}

#[tokio::test]
async fn snapshots_truncate_and_deletes_remove_the_journal() {
    let (_dir, store) = temp_store();
    store
        .append_journal(vec![batch(
            "a",
            (0..6).map(|r| entry(r, 1, r + 1)).collect(),
        )])
        .await
        .unwrap();
    let mut snap = doc("a", "xyzxyz");
    snap.revision = 4;
    store.save(snap).await.unwrap();
    let a = store.load("a").await.unwrap().unwrap();
    assert_eq!(a.journal, vec![entry(4, 1, 5), entry(5, 1, 6)]);
    store.delete("a").await.unwrap();
    assert!(store.load("a").await.unwrap().is_none());
}

#[tokio::test]
async fn expiry_removes_journals_of_deleted_and_orphaned_documents() {
    let (_dir, store) = temp_store();
    store.save(doc("old", "x")).await.unwrap(); // last used at 2_000
    store
        .append_journal(vec![
            batch("old", vec![entry(3, 1, 1)]),
            batch("orphan", vec![entry(0, 1, 1)]),
        ])
        .await
        .unwrap();
    // Orphans are judged by when they were journaled (now), so a cutoff in
    // the past keeps them and one in the future removes them.
    let ids = store.delete_unused_since(3_000).await.unwrap();
    assert_eq!(ids, vec!["old".to_owned()]);
    assert!(store.load("old").await.unwrap().is_none());
    assert!(store.load("orphan").await.unwrap().is_some());
    store.delete_unused_since(i64::MAX).await.unwrap();
    assert!(store.load("orphan").await.unwrap().is_none());
}
