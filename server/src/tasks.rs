//! Background work: the lazy persister (with idle eviction) and the
//! expiry cleaner. Both only look at documents and hand the slow part
//! (SQLite) to the store's threads.

use std::sync::Arc;

use crate::document::now_ms;
use crate::registry::Registry;

/// Every `PERSIST_CHECK_INTERVAL_SECONDS`: writes dirty documents that have
/// been idle for `PERSIST_IDLE_SECONDS` or unsaved for
/// `PERSIST_MAX_INTERVAL_SECONDS`, and unloads documents nobody has used
/// for `EVICT_IDLE_SECONDS` and nobody is connected to.
pub async fn persister(registry: Arc<Registry>) {
    let config = registry.config.clone();
    let mut tick = tokio::time::interval(config.persist_check_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for doc in registry.documents() {
            let a = doc.activity();
            let due = a.dirty
                && (a.since_change >= config.persist_idle
                    || a.since_write >= config.persist_max_interval);
            let idle = a.connections == 0 && a.since_used >= config.evict_idle;
            if !due && !idle {
                continue;
            }
            let registry = registry.clone();
            // One task per document, so a slow write does not hold up the
            // others; saves of one document are serialised by the registry.
            tokio::spawn(async move {
                if due {
                    registry.save_if_dirty(&doc).await;
                }
                if idle {
                    registry.evict_idle(&doc).await;
                }
            });
        }
    }
}

/// The write-behind journal: a quarter of `PERSIST_MAX_LOSS_MS` after the
/// last flush, appends every document's new edits in one transaction, so a
/// crash loses at most that interval of acknowledged edits (plus one
/// commit's latency, which the other three quarters leave room for). The
/// snapshots of [`persister`] truncate the journal.
pub async fn journal(registry: Arc<Registry>) {
    let Some(store) = registry.store.clone() else {
        return;
    };
    let period = (registry.config.persist_max_loss / 4).max(std::time::Duration::from_millis(1));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        flush_journal(&registry, &store).await;
    }
}

/// One journal flush of every document with unjournaled edits.
pub async fn flush_journal(registry: &Registry, store: &crate::store::Store) {
    let mut batches = Vec::new();
    let mut marks = Vec::new();
    for doc in registry.documents() {
        if let Some((batch, upto)) = doc.unjournaled() {
            batches.push(batch);
            marks.push((doc, upto));
        }
    }
    if batches.is_empty() {
        return;
    }
    match store.append_journal(batches).await {
        Ok(()) => {
            for (doc, upto) in marks {
                doc.mark_journaled(upto);
            }
        }
        // Nothing is marked, so the next flush retries the same edits.
        Err(e) => tracing::warn!("journal write failed (will retry): {e}"),
    }
}

/// Every `CLEANUP_INTERVAL_HOURS`: deletes documents nobody has used (edited
/// or connected to) for `EXPIRY_DAYS`, from memory and from the database.
pub async fn cleaner(registry: Arc<Registry>) {
    let config = registry.config.clone();
    let mut tick = tokio::time::interval(config.cleanup_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; start one interval from now.
    tick.tick().await;
    loop {
        tick.tick().await;
        let mut expired = 0usize;
        for doc in registry.documents() {
            let a = doc.activity();
            if a.connections == 0 && a.since_used >= config.expiry {
                match registry.expire(&doc).await {
                    Ok(true) => expired += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(doc = %doc.id, "deleting an expired document failed: {e}")
                    }
                }
            }
        }
        if let Some(store) = &registry.store {
            // The database's last-use times are as of each document's last
            // save; bring those of documents still in use up to date first
            // so that they are not deleted under their users.
            for doc in registry.documents() {
                let a = doc.activity();
                if a.stored && a.since_used < config.expiry {
                    if let Err(e) = registry.save(&doc).await {
                        tracing::warn!(doc = %doc.id, "refreshing last use failed: {e}");
                    }
                }
            }
            let cutoff = now_ms() - config.expiry.as_millis() as i64;
            match store.delete_unused_since(cutoff).await {
                Ok(ids) => expired += ids.len(),
                Err(e) => tracing::warn!("deleting expired documents failed: {e}"),
            }
        }
        if expired > 0 {
            tracing::info!("deleted {expired} expired documents");
        }
    }
}
