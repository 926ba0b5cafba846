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
