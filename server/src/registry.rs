//! The map of hot documents, and everything that moves a document between
//! memory and the database: single-flight loading, saving, eviction.
//!
//! No map guard or lock is held across an `.await`: the map holds a
//! `OnceCell` per id, cloned out of the map before anyone waits on it, so
//! any number of clients joining a cold document at once share one load
//! and never block each other or the map.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use dashmap::DashMap;
use tandem_ot::UserId;
use tokio::sync::OnceCell;

use crate::access::{Access, Change, ChangeError};
use crate::config::Config;
use crate::document::{now_ms, Document};
use crate::guard::Guard;
use crate::metrics::Metrics;
use crate::otp;
use crate::store::{Store, StoreError, StoredProtection};

/// A slot in the map: filled once by whoever loads the document first.
type Slot = Arc<OnceCell<Arc<Document>>>;

/// Why a document could not be brought into memory.
#[derive(Debug)]
pub enum LoadError {
    /// The database failed.
    Store(StoreError),
    /// `MAX_DOCUMENTS_IN_MEMORY` documents are open and none can leave.
    Full,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Store(e) => write!(f, "could not load the document: {e}"),
            LoadError::Full => f.write_str("too many documents open"),
        }
    }
}

impl From<StoreError> for LoadError {
    fn from(e: StoreError) -> Self {
        LoadError::Store(e)
    }
}

/// Why a protection change (OTP or read-only link) failed.
#[derive(Debug)]
pub enum OtpChangeError {
    /// The OS random source failed.
    Random(getrandom::Error),
    /// The change is not possible in the document's state (a read-only
    /// link for an unprotected document, …); nothing changed.
    Refused(ChangeError),
    /// The database refused the change; nothing changed.
    Store(StoreError),
    /// This copy of the document left memory meanwhile; nothing changed.
    /// Load the document again and retry.
    Evicted,
}

impl std::fmt::Display for OtpChangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OtpChangeError::Random(e) => write!(f, "could not generate an OTP: {e}"),
            OtpChangeError::Refused(e) => e.fmt(f),
            OtpChangeError::Store(e) => write!(f, "could not store the change: {e}"),
            OtpChangeError::Evicted => f.write_str("the document left memory; retry"),
        }
    }
}

/// Hot documents plus the shared services every part of the server uses.
pub struct Registry {
    /// Documents in memory (or being loaded), by id.
    docs: DashMap<String, Slot>,
    /// The database, unless persistence is off.
    pub store: Option<Store>,
    /// Settings.
    pub config: Arc<Config>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// When the server started (unix seconds), for `/api/stats`.
    pub start_time: u64,
    /// Connection limits and OTP throttling.
    pub guard: Arc<Guard>,
}

impl Registry {
    /// An empty registry.
    pub fn new(config: Arc<Config>, store: Option<Store>) -> Registry {
        let guard = Arc::new(Guard::new(&config));
        Registry {
            docs: DashMap::new(),
            store,
            config,
            metrics: Arc::new(Metrics::default()),
            start_time: (now_ms() / 1000) as u64,
            guard,
        }
    }

    /// The document if it is in memory (loaded and not evicted).
    pub fn hot(&self, id: &str) -> Option<Arc<Document>> {
        let slot = self.docs.get(id)?.clone();
        slot.get().filter(|d| !d.is_evicted()).cloned()
    }

    /// Every document in memory.
    pub fn documents(&self) -> Vec<Arc<Document>> {
        let slots: Vec<Slot> = self.docs.iter().map(|e| e.value().clone()).collect();
        slots
            .into_iter()
            .filter_map(|s| s.get().cloned())
            .filter(|d| !d.is_evicted())
            .collect()
    }

    /// Documents in memory.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether no document is in memory.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The document, loading it from the database (or creating it) if it
    /// is not in memory. Concurrent callers for one id share one load.
    pub async fn get_or_load(&self, id: &str) -> Result<Arc<Document>, LoadError> {
        loop {
            if !self.docs.contains_key(id) {
                self.make_room().await?;
            }
            // The entry guard lives only for this statement.
            let slot: Slot = self.docs.entry(id.to_owned()).or_default().clone();
            let loaded = slot
                .get_or_try_init(|| async {
                    let stored = match &self.store {
                        Some(store) => store.load(id).await?,
                        None => None,
                    };
                    let doc = match stored {
                        Some(s) => {
                            self.metrics.loads.fetch_add(1, Relaxed);
                            Document::from_stored(s)
                        }
                        None => Document::new(id.to_owned()),
                    };
                    doc.configure(self.config.history_window, self.store.is_some());
                    Ok::<_, StoreError>(Arc::new(doc))
                })
                .await;
            let doc = match loaded {
                Ok(doc) => doc.clone(),
                Err(e) => {
                    // Leave no empty slot behind; the next caller retries.
                    self.docs
                        .remove_if(id, |_, s| Arc::ptr_eq(s, &slot) && s.get().is_none());
                    return Err(e.into());
                }
            };
            if !doc.is_evicted() {
                return Ok(doc);
            }
            // We raced with an eviction: drop the stale slot (if it is
            // still there) and load afresh; the evictor saved first.
            self.docs.remove_if(id, |_, s| Arc::ptr_eq(s, &slot));
        }
    }

    /// Below `MAX_DOCUMENTS_IN_MEMORY`, or unloads the documents unused
    /// longest (saving them first) until there is room; `Full` if nobody
    /// can leave (all are open, or there is no database to keep them).
    async fn make_room(&self) -> Result<(), LoadError> {
        let max = self.config.max_documents_in_memory;
        if max == 0 || self.docs.len() < max {
            return Ok(());
        }
        let mut idle: Vec<_> = self
            .documents()
            .into_iter()
            .map(|d| (d.activity(), d))
            .filter(|(a, _)| a.connections == 0)
            .collect();
        idle.sort_by_key(|(a, _)| std::cmp::Reverse(a.since_used));
        for (_, doc) in idle {
            if self.docs.len() < max {
                break;
            }
            self.evict_idle(&doc).await;
        }
        if self.docs.len() < max {
            Ok(())
        } else {
            Err(LoadError::Full)
        }
    }

    /// Whether `access` (an OTP, or a view secret) opens document `id`:
    /// from memory when it is hot, otherwise from the database without
    /// loading the document.
    pub async fn authorize(&self, id: &str, access: &Access) -> Result<bool, StoreError> {
        if let Some(doc) = self.hot(id) {
            return Ok(doc.authorize(access));
        }
        let Some(store) = &self.store else {
            return Ok(true);
        };
        Ok(match store.protection(id).await? {
            StoredProtection::Missing | StoredProtection::Unprotected => true,
            StoredProtection::Protected { otp, view } => match access {
                Access::Edit(presented) => otp::verify(&otp, presented.as_deref()),
                Access::View(secret) => view.is_some_and(|h| otp::verify(&h, Some(secret))),
            },
        })
    }

    /// The text of document `id`: from memory when hot, else from the
    /// database (without bringing it into memory); empty if it does not
    /// exist. The caller has checked the OTP.
    pub async fn text(&self, id: &str) -> Result<String, StoreError> {
        if let Some(doc) = self.hot(id) {
            return Ok(doc.text());
        }
        match &self.store {
            // Through a Document, so that journaled edits are replayed.
            Some(store) => Ok(store
                .load(id)
                .await?
                .map(|d| Document::from_stored(d).text())
                .unwrap_or_default()),
            None => Ok(String::new()),
        }
    }

    /// Writes the document's current state, if there is a database.
    /// Saves of one document are serialised, so a newer snapshot is never
    /// overwritten by an older one.
    pub async fn save(&self, doc: &Document) -> Result<(), StoreError> {
        self.save_inner(doc, false).await
    }

    /// Saves the document if it has unsaved changes, logging failures
    /// (the document stays dirty and the persister retries). Dirtiness is
    /// checked under the save lock, so saves queued behind one another do
    /// not write the same state again.
    pub async fn save_if_dirty(&self, doc: &Document) {
        if let Err(e) = self.save_inner(doc, true).await {
            tracing::warn!(doc = %doc.id, "saving failed (will retry): {e}");
        }
    }

    async fn save_inner(&self, doc: &Document, only_if_dirty: bool) -> Result<(), StoreError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let _turn = doc.save_lock.lock().await;
        // An evicted copy must not overwrite a newer one that may be in
        // memory now (eviction only happens with nothing unsaved).
        if doc.is_evicted() || (only_if_dirty && !doc.is_dirty()) {
            return Ok(());
        }
        let (snapshot, changes) = doc.snapshot(None);
        let revision = snapshot.revision;
        store.save(snapshot).await?;
        doc.mark_saved(changes, revision);
        Ok(())
    }

    /// Protects (with a new OTP), re-protects or unprotects a document on
    /// behalf of `by`, who presented the OTP `presented` (if any). The
    /// change is persisted before it takes effect and is broadcast.
    /// Re-protecting keeps the read-only link; unprotecting removes it.
    /// Returns the new OTP.
    pub async fn set_otp(
        &self,
        doc: &Document,
        by: Option<UserId>,
        enabled: bool,
        presented: Option<&str>,
    ) -> Result<Option<String>, OtpChangeError> {
        let new = if enabled {
            Some(otp::generate().map_err(OtpChangeError::Random)?)
        } else {
            None
        };
        self.change_protection(doc, by, |doc| doc.plan_otp(new.clone(), presented))
            .await?;
        Ok(new)
    }

    /// Makes a new read-only link for a protected document (replacing
    /// any), or removes it (`enabled` false), on behalf of `by`. Persisted
    /// before it takes effect; broadcast to editors; viewers of the old
    /// link are disconnected. Returns the new view secret.
    pub async fn set_view_link(
        &self,
        doc: &Document,
        by: Option<UserId>,
        enabled: bool,
    ) -> Result<Option<String>, OtpChangeError> {
        let change = self
            .change_protection(doc, by, |doc| doc.plan_view(enabled))
            .await?;
        Ok(change.new_view().flatten().map(str::to_owned))
    }

    /// Plans a protection change, persists it and then applies it, all
    /// under the document's save lock: protection changes (and saves) of
    /// one document happen one at a time, so a plan is never applied over
    /// another change.
    async fn change_protection(
        &self,
        doc: &Document,
        by: Option<UserId>,
        plan: impl FnOnce(&Document) -> Result<Change, ChangeError>,
    ) -> Result<Change, OtpChangeError> {
        let _turn = doc.save_lock.lock().await;
        if doc.is_evicted() {
            return Err(OtpChangeError::Evicted);
        }
        let change = plan(doc).map_err(OtpChangeError::Refused)?;
        match &self.store {
            Some(store) => {
                let (snapshot, changes) = doc.snapshot(Some(&change));
                let revision = snapshot.revision;
                store.save(snapshot).await.map_err(OtpChangeError::Store)?;
                doc.apply_protection(by, &change);
                doc.mark_saved(changes, revision);
            }
            None => doc.apply_protection(by, &change),
        }
        Ok(change)
    }

    /// Takes the document out of memory if nobody is connected and it is
    /// saved (saving it first). Without a database nothing is evicted for
    /// idleness: memory is the only copy.
    pub async fn evict_idle(&self, doc: &Arc<Document>) -> bool {
        if self.store.is_none() {
            return false;
        }
        self.save_if_dirty(doc).await;
        if !doc.try_evict() {
            return false;
        }
        self.remove_slot(doc);
        true
    }

    /// Removes an expired document from memory and the database.
    pub async fn expire(&self, doc: &Arc<Document>) -> Result<bool, StoreError> {
        if !doc.force_evict() {
            return Ok(false);
        }
        self.remove_slot(doc);
        if let Some(store) = &self.store {
            store.delete(&doc.id).await?;
        }
        Ok(true)
    }

    fn remove_slot(&self, doc: &Arc<Document>) {
        let removed = self.docs.remove_if(&doc.id, |_, slot| {
            slot.get().is_some_and(|d| Arc::ptr_eq(d, doc))
        });
        if removed.is_some() {
            self.metrics.evictions.fetch_add(1, Relaxed);
            tracing::debug!(doc = %doc.id, "evicted from memory");
        }
    }
}
