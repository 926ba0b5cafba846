//! One hot document: its text, history, users and cursors behind one
//! `parking_lot::RwLock`, and the `Notify` that wakes its connections.
//!
//! Everything here is synchronous and short: no method awaits, so no lock
//! is ever held across an `.await`. Connection tasks call in with their
//! [`Session`], get back encoded messages, and do the IO themselves.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use tandem_ot::{Operation, Text, UserId};
use tokio::sync::Notify;

use crate::access::{Access, Change, ChangeError, Protection, Role};
use crate::otp::Hash;
use crate::protocol::{encode, Close, CursorData, CursorMsg, EditMsg, UserInfo};
use crate::store::{JournalBatch, JournalEntry, StoredClient, StoredDocument};

/// How many metadata events a document remembers. A connection further
/// behind than this gets a full resync instead, so a slow reader never
/// makes the log grow.
const META_LOG_LEN: usize = 1024;

/// Most cursors (and, separately, selections) one user may report.
pub const MAX_CURSORS: usize = 100;

/// Milliseconds since the Unix epoch, for timestamps at rest.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A document in memory. Shared by its connections, the registry and the
/// background tasks through `Arc<Document>`.
pub struct Document {
    /// The document id (validated before a `Document` is made).
    pub id: String,
    /// All mutable state.
    state: RwLock<DocState>,
    /// Woken on every change; connections wait on it (register, then check
    /// the state, then sleep — so no wake-up is lost).
    notify: Notify,
    /// Set when the document leaves memory. A joiner that raced with the
    /// eviction sees it and loads the document afresh.
    evicted: AtomicBool,
    /// Serialises saves of this document, so that a snapshot taken later is
    /// never overwritten by one taken earlier.
    pub save_lock: tokio::sync::Mutex<()>,
    /// A random name for this in-memory life of the document, sent with
    /// every `Snapshot`. Revision numbers are only comparable within one
    /// epoch: after a crash the recovered document may hand out again
    /// revision numbers that clients saw before (the lost edits'), so a
    /// client resuming from another epoch is sent a snapshot, never a
    /// `History` that would silently disagree with its text.
    epoch: Box<str>,
}

/// An applied edit, kept so that late edits can be transformed against it
/// and reconnecting clients can catch up.
struct Entry {
    /// The edit as applied (transformed), applying to the text at its
    /// revision.
    op: Operation,
    /// Its wire encoding, made once and shared by every connection (and
    /// the journal).
    json: Box<str>,
    /// Who made it: hash of the client identity, for the journal.
    key_hash: Hash,
    /// Its author's user id, for the journal.
    author: UserId,
    /// Its sequence number, for the journal.
    seq: u64,
}

/// The document's language and who set it.
struct Language {
    /// A name from [`crate::validate::LANGUAGES`].
    name: String,
    /// Who set it (`None` when loaded from storage).
    user_id: Option<UserId>,
    /// Their name at the time.
    user_name: Option<String>,
}

/// The last protection change, as broadcast.
struct OtpEvent {
    /// The new OTP, `None` when protection was removed.
    otp: Option<String>,
    /// Who changed it (`None`: through the HTTP API).
    user_id: Option<UserId>,
    /// Their name at the time.
    user_name: Option<String>,
}

/// The last read-only link change, as broadcast to editors.
struct ViewEvent {
    /// The new view secret, `None` when the link was removed.
    secret: Option<String>,
    /// Who changed it.
    user_id: Option<UserId>,
    /// Their name at the time.
    user_name: Option<String>,
}

/// A user of the document (one client identity).
#[derive(Default)]
struct User {
    /// Name and colour, once told.
    info: Option<UserInfo>,
    /// Latest cursor, kept in current-revision coordinates.
    cursor: Option<CursorData>,
    /// Its `UserCursor` message, encoded by the first connection that
    /// sends it and shared by the rest; emptied whenever the cursor moves.
    cursor_json: OnceLock<Box<str>>,
    /// Open connections of this user (0 or 1 normally; briefly 2 while a
    /// reconnect replaces a connection).
    connections: usize,
}

impl User {
    /// Replaces the cursor (and forgets its encoding).
    fn set_cursor(&mut self, cursor: Option<CursorData>) {
        self.cursor = cursor;
        self.cursor_json = OnceLock::new();
    }

    /// The `UserCursor` message of user `id`, if it has a cursor; encoded
    /// once per cursor state.
    fn cursor_message(&self, id: UserId) -> Option<&str> {
        let c = self.cursor.as_ref()?;
        Some(
            self.cursor_json
                .get_or_init(|| encode::user_cursor(id, c).into_boxed_str()),
        )
    }
}

/// What the server remembers per client identity.
struct ClientRecord {
    /// The user id this identity gets, stable across reconnects.
    user_id: UserId,
    /// Highest edit sequence number applied.
    last_seq: u64,
    /// Bumped by each `Hello`; a connection with an older generation has
    /// been replaced and may not edit.
    generation: u64,
}

/// A metadata change, replayed to connections as the *current* state of
/// what changed (so the latest cursor wins).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Meta {
    Info(UserId),
    Cursor(UserId),
    Language,
    Otp,
    ViewLink,
}

struct DocState {
    /// The text at `revision()`.
    text: Text,
    /// Applied edits from `history_start` on.
    history: VecDeque<Entry>,
    /// The revision of `history[0]`.
    history_start: u64,
    /// The language, if set.
    language: Option<Language>,
    /// The OTP and the read-only link.
    protection: Protection,
    /// The last protection change, for broadcasting it.
    last_otp_event: Option<OtpEvent>,
    /// The last read-only link change, for broadcasting it to editors.
    last_view_event: Option<ViewEvent>,
    /// Users by id.
    users: HashMap<UserId, User>,
    /// Client identities by hash of their key.
    clients: HashMap<Hash, ClientRecord>,
    /// Next user id to hand out; never reused.
    next_user_id: UserId,
    /// Recent metadata changes.
    meta_log: VecDeque<Meta>,
    /// Version of `meta_log[0]`; the current version is
    /// `meta_start + meta_log.len()`.
    meta_start: u64,
    /// Open connections.
    connections: usize,
    /// Bumped by every change that must reach the database.
    changes: u64,
    /// `changes` as of the last successful save.
    persisted_changes: u64,
    /// Whether the database has a row for this document.
    stored: bool,
    /// When the document was first created (unix ms).
    created_at_ms: i64,
    /// Last edit or connection activity.
    last_used: Instant,
    /// Last change of any kind that must be persisted.
    last_change: Instant,
    /// Last successful save (or load).
    last_write: Instant,
    /// Edits before this revision are in the database (journal or
    /// snapshot).
    journaled: u64,
    /// Most history entries kept in memory (`HISTORY_WINDOW`).
    history_window: usize,
    /// Whether entries must be journaled before they may be dropped from
    /// memory (false without a database, where memory is the only copy
    /// anyway and the journal never advances).
    journal_required: bool,
}

impl DocState {
    fn revision(&self) -> u64 {
        self.history_start + self.history.len() as u64
    }

    fn meta_version(&self) -> u64 {
        self.meta_start + self.meta_log.len() as u64
    }

    fn push_meta(&mut self, m: Meta) {
        self.meta_log.push_back(m);
        if self.meta_log.len() > META_LOG_LEN {
            self.meta_log.pop_front();
            self.meta_start += 1;
        }
    }

    /// Applies journaled edits in order; stops (and logs) at the first one
    /// that does not fit, which only a damaged database can cause. Returns
    /// how many were applied.
    fn replay(&mut self, id: &str, journal: Vec<JournalEntry>) -> usize {
        let mut applied = 0;
        for e in journal {
            let revision = self.revision();
            if e.revision != revision {
                tracing::error!(doc = %id, expected = revision, found = e.revision, "journal has a gap; replay stops");
                break;
            }
            let op = match crate::protocol::decode_entry(&e.entry) {
                Ok((_, op)) => op,
                Err(err) => {
                    tracing::error!(doc = %id, revision, "undecodable journal entry ({err}); replay stops");
                    break;
                }
            };
            if let Err(err) = self.text.apply(&op) {
                tracing::error!(doc = %id, revision, "journal entry does not apply ({err}); replay stops");
                break;
            }
            let record = self.clients.entry(e.key_hash).or_insert(ClientRecord {
                user_id: e.user_id,
                last_seq: 0,
                generation: 0,
            });
            record.last_seq = record.last_seq.max(e.seq);
            self.next_user_id = self.next_user_id.max(e.user_id + 1);
            self.history.push_back(Entry {
                op,
                json: e.entry.into_boxed_str(),
                key_hash: e.key_hash,
                author: e.user_id,
                seq: e.seq,
            });
            applied += 1;
        }
        self.journaled = self.revision();
        applied
    }

    /// Time since the document was last used: zero while anyone is
    /// connected (being open counts as use, even without edits).
    fn since_used(&self) -> std::time::Duration {
        if self.connections > 0 {
            std::time::Duration::ZERO
        } else {
            self.last_used.elapsed()
        }
    }

    /// Drops the oldest history entries beyond the window, but only ones
    /// already in the database. A client that needs older ones gets a
    /// snapshot instead (and rebases its pending edits on it).
    fn trim_history(&mut self) {
        let durable = if self.journal_required {
            self.journaled
        } else {
            u64::MAX
        };
        while self.history.len() > self.history_window && self.history_start < durable {
            self.history.pop_front();
            self.history_start += 1;
        }
    }

    fn changed(&mut self) {
        self.changes += 1;
        self.last_change = Instant::now();
    }

    fn user_name(&self, user: UserId) -> Option<String> {
        self.users
            .get(&user)
            .and_then(|u| u.info.as_ref())
            .map(|i| i.name.clone())
    }

    fn language_msg(&self) -> Option<String> {
        self.language
            .as_ref()
            .map(|l| encode::language(&l.name, l.user_id, l.user_name.as_deref()))
    }

    /// The info of a user other connections are told about: one who is
    /// connected and has said their name. (`"info": null` means "left",
    /// so a nameless user is not announced until they send `ClientInfo`.)
    fn announceable(&self, user: UserId) -> Option<&UserInfo> {
        self.users
            .get(&user)
            .filter(|u| u.connections > 0)
            .and_then(|u| u.info.as_ref())
    }

    /// The length of the text at revision `r` (which must be held).
    fn len_at(&self, r: u64) -> usize {
        match self.history.get((r - self.history_start) as usize) {
            Some(e) => e.op.base_len(),
            None => self.text.len_chars(),
        }
    }
}

/// A connection's view of the document: who it is and what it was sent.
/// Owned by the connection task, passed into every call.
#[derive(Debug)]
pub struct Session {
    /// The user id of this connection's client identity.
    pub user: UserId,
    /// What this connection may do.
    pub role: Role,
    /// For a viewer admitted with the view secret: that secret's
    /// generation (see [`Protection::view_generation`]).
    view_generation: Option<u64>,
    /// Hash of the client identity, to find its record.
    key_hash: Hash,
    /// The generation this connection was given at `Hello`.
    generation: u64,
    /// History is sent up to (excluding) this revision.
    sent_revision: u64,
    /// Metadata is sent up to this version.
    seen_meta: u64,
    /// Users this connection was told are present.
    announced: HashSet<UserId>,
}

/// Why a connection could not join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    /// The OTP does not open the document (any more).
    Unauthorized,
    /// This copy left memory; load the document again and retry.
    Evicted,
}

/// What became of an edit.
#[derive(Debug, PartialEq, Eq)]
pub enum EditOutcome {
    /// Applied at this revision.
    Applied(u64),
    /// Its `seq` was already applied; nothing changed.
    Duplicate,
    /// It came from a viewer; nothing changed.
    ReadOnly,
}

impl Document {
    /// A new, empty document that is not in the database.
    pub fn new(id: String) -> Document {
        Document::from_state(id, DocState::empty(false))
    }

    /// A document brought back from the database: its snapshot, with the
    /// journaled edits since replayed on top (they become history again, so
    /// clients that saw them can still catch up).
    pub fn from_stored(s: StoredDocument) -> Document {
        let mut state = DocState::empty(true);
        state.text = Text::from(s.text.as_str());
        state.history_start = s.revision;
        state.language = s.language.map(|name| Language {
            name,
            user_id: None,
            user_name: None,
        });
        state.protection = Protection::from_stored(s.otp_hash, s.view);
        state.next_user_id = s.next_user_id.max(1);
        state.created_at_ms = s.created_at_ms;
        for c in s.clients {
            state.clients.insert(
                c.key_hash,
                ClientRecord {
                    user_id: c.user_id,
                    last_seq: c.last_seq,
                    generation: 0,
                },
            );
        }
        state.journaled = s.revision;
        let replayed = state.replay(&s.id, s.journal);
        if replayed > 0 {
            // Newer than the snapshot: the next save consolidates it (and
            // truncates the journal).
            state.changed();
            tracing::info!(doc = %s.id, replayed, "replayed journaled edits");
        }
        Document::from_state(s.id, state)
    }

    fn from_state(id: String, state: DocState) -> Document {
        Document {
            id,
            state: RwLock::new(state),
            notify: Notify::new(),
            evicted: AtomicBool::new(false),
            save_lock: tokio::sync::Mutex::new(()),
            epoch: new_epoch(),
        }
    }

    /// A future that completes at the next change. Create it (and
    /// `enable()` it) *before* calling [`Document::updates`].
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    fn wake(&self) {
        self.notify.notify_waiters();
    }

    /// Whether the document has left memory.
    pub fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    /// The current text.
    pub fn text(&self) -> String {
        self.state.read().text.to_string()
    }

    /// The current revision.
    pub fn revision(&self) -> u64 {
        self.state.read().revision()
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.state.read().connections
    }

    /// Whether `access` opens this document.
    pub fn authorize(&self, access: &Access) -> bool {
        self.state.read().protection.admits(access)
    }

    /// This in-memory life's epoch (see the field).
    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Registers a connection whose `Hello` said it has `revision` of
    /// `epoch` (no epoch: trusted to be this one) and is `info`,
    /// presenting `access` (an OTP, or a view secret for read-only
    /// access). Returns its session and the messages that greet it
    /// (identity, catch-up, metadata). `key_hash` is the hash of the
    /// validated client key.
    pub fn join(
        &self,
        revision: Option<u64>,
        epoch: Option<&str>,
        info: Option<UserInfo>,
        key_hash: Hash,
        access: &Access,
    ) -> Result<(Session, Vec<String>), JoinError> {
        let mut s = self.state.write();
        // Checked under the lock that eviction also takes, so a joiner that
        // raced with the eviction never edits a copy that left memory.
        if self.is_evicted() {
            return Err(JoinError::Evicted);
        }
        let admission = s.protection.admit(access).ok_or(JoinError::Unauthorized)?;
        let protected = s.protection.is_protected();
        let next_user_id = s.next_user_id;
        let record = s.clients.entry(key_hash).or_insert(ClientRecord {
            user_id: next_user_id,
            last_seq: 0,
            generation: 0,
        });
        record.generation += 1;
        let (user, generation, last_seq) = (record.user_id, record.generation, record.last_seq);
        if user == next_user_id {
            s.next_user_id += 1;
        }
        let entry = s.users.entry(user).or_default();
        entry.connections += 1;
        let became_present = entry.connections == 1;
        let info_changed = match info {
            Some(info) if entry.info.as_ref() != Some(&info) => {
                entry.info = Some(info);
                true
            }
            _ => false,
        };
        if became_present || info_changed {
            s.push_meta(Meta::Info(user));
        }
        s.connections += 1;
        s.last_used = Instant::now();

        let current = s.revision();
        let mut msgs = vec![encode::identity(user)];
        match revision {
            Some(r)
                if r >= s.history_start
                    && r <= current
                    && epoch.is_none_or(|e| e == &*self.epoch) =>
            {
                let from = (r - s.history_start) as usize;
                msgs.push(encode::history(
                    r,
                    s.history.range(from..).map(|e| &*e.json),
                ));
            }
            _ => msgs.push(encode::snapshot(
                current,
                &s.text.to_string(),
                last_seq,
                &self.epoch,
            )),
        }
        msgs.extend(s.language_msg());
        let mut announced = HashSet::new();
        let mut others: Vec<_> = s
            .users
            .iter()
            .filter(|(id, _)| **id != user)
            .filter_map(|(id, u)| s.announceable(*id).map(|info| (id, u, info)))
            .collect();
        others.sort_by_key(|(id, _, _)| **id);
        for (id, u, info) in others {
            announced.insert(*id);
            msgs.push(encode::user_info(*id, Some(info)));
            if let Some(json) = u.cursor_message(*id) {
                msgs.push(json.to_owned());
            }
        }
        match admission.role {
            Role::Editor => {
                if let Some(secret) = s.protection.view_secret() {
                    msgs.push(encode::view_link(Some(secret), None, None));
                }
                let otp = if protected { access.otp() } else { None };
                msgs.push(encode::otp(otp, None, None));
            }
            // Never the OTP, nor the read-only link's secret.
            Role::Viewer => msgs.push(encode::read_only()),
        }
        let session = Session {
            role: admission.role,
            view_generation: admission.view_generation,
            user,
            key_hash,
            generation,
            sent_revision: current,
            seen_meta: s.meta_version(),
            announced,
        };
        drop(s);
        self.wake();
        Ok((session, msgs))
    }

    /// Unregisters a connection. Returns true when it was the last one.
    pub fn leave(&self, session: &Session) -> bool {
        let mut s = self.state.write();
        let user = session.user;
        if let Some(u) = s.users.get_mut(&user) {
            u.connections = u.connections.saturating_sub(1);
            if u.connections == 0 {
                u.set_cursor(None);
                s.push_meta(Meta::Info(user));
            }
        }
        s.connections = s.connections.saturating_sub(1);
        s.last_used = Instant::now();
        let last = s.connections == 0;
        drop(s);
        self.wake();
        last
    }

    /// Everything that changed since this session was last updated, as
    /// messages: new history, then the current state of whatever metadata
    /// changed. Fails with [`Close::Replaced`] once a newer connection of
    /// the same client identity has said `Hello`.
    pub fn updates(&self, session: &mut Session) -> Result<Vec<String>, Close> {
        let s = self.state.read();
        let current = s.clients.get(&session.key_hash).map(|c| c.generation);
        if current != Some(session.generation) {
            return Err(Close::Replaced);
        }
        if session
            .view_generation
            .is_some_and(|g| g != s.protection.view_generation())
        {
            return Err(Close::ViewRevoked);
        }
        let editor = session.role == Role::Editor;
        let mut msgs = Vec::new();
        let revision = s.revision();
        if session.sent_revision < revision {
            if session.sent_revision < s.history_start {
                return Err(Close::RevisionOutOfRange(
                    "the connection fell behind the history the server keeps".into(),
                ));
            }
            let from = (session.sent_revision - s.history_start) as usize;
            msgs.push(encode::history(
                session.sent_revision,
                s.history.range(from..).map(|e| &*e.json),
            ));
            session.sent_revision = revision;
        }
        let version = s.meta_version();
        if session.seen_meta < version {
            let changed: Vec<Meta> = if session.seen_meta < s.meta_start {
                // Too far behind for the log: resync everything.
                let mut all: Vec<Meta> = session.announced.iter().map(|u| Meta::Info(*u)).collect();
                all.extend(s.users.keys().map(|u| Meta::Info(*u)));
                all.push(Meta::Language);
                all.push(Meta::Otp);
                all.push(Meta::ViewLink);
                all
            } else {
                let from = (session.seen_meta - s.meta_start) as usize;
                s.meta_log.range(from..).copied().collect()
            };
            // What was already sent in this batch: each user's info and
            // cursor go out at most once, in their latest state.
            let mut done: HashSet<Meta, BuildHasherDefault<SmallKeyHasher>> = HashSet::default();
            for m in changed {
                if done.contains(&m) {
                    continue;
                }
                match m {
                    Meta::Info(u) if u != session.user => {
                        done.insert(m);
                        if let Some(info) = s.announceable(u) {
                            session.announced.insert(u);
                            msgs.push(encode::user_info(u, Some(info)));
                            if let Some(json) = s.users[&u].cursor_message(u) {
                                if done.insert(Meta::Cursor(u)) {
                                    msgs.push(json.to_owned());
                                }
                            }
                        } else if session.announced.remove(&u) {
                            msgs.push(encode::user_info(u, None));
                        }
                    }
                    // A cursor of a user not (yet) announced is skipped
                    // without being marked, so that it still follows the
                    // user's info should that come later in this batch.
                    Meta::Cursor(u) if u != session.user && session.announced.contains(&u) => {
                        if let Some(json) = s.users.get(&u).and_then(|x| x.cursor_message(u)) {
                            done.insert(m);
                            msgs.push(json.to_owned());
                        }
                    }
                    Meta::Language => {
                        done.insert(m);
                        msgs.extend(s.language_msg());
                    }
                    // Secrets go to editors only.
                    Meta::Otp if editor => {
                        done.insert(m);
                        if let Some(e) = &s.last_otp_event {
                            msgs.push(encode::otp(
                                e.otp.as_deref(),
                                e.user_id,
                                e.user_name.as_deref(),
                            ));
                        }
                    }
                    Meta::ViewLink if editor => {
                        done.insert(m);
                        if let Some(e) = &s.last_view_event {
                            msgs.push(encode::view_link(
                                e.secret.as_deref(),
                                e.user_id,
                                e.user_name.as_deref(),
                            ));
                        }
                    }
                    Meta::Otp | Meta::ViewLink => {}
                    Meta::Info(_) | Meta::Cursor(_) => {}
                }
            }
            session.seen_meta = version;
        }
        Ok(msgs)
    }

    /// Applies an edit from `session`: transformed against every entry
    /// since its revision, size-checked, applied, appended. Nothing changes
    /// when it fails.
    pub fn edit(
        &self,
        session: &Session,
        msg: EditMsg,
        max_bytes: usize,
    ) -> Result<EditOutcome, Close> {
        if session.role == Role::Viewer {
            return Ok(EditOutcome::ReadOnly);
        }
        let mut s = self.state.write();
        let record = s.clients.get(&session.key_hash).ok_or(Close::Replaced)?;
        if record.generation != session.generation {
            return Err(Close::Replaced);
        }
        if msg.seq <= record.last_seq {
            return Ok(EditOutcome::Duplicate);
        }
        let revision = s.revision();
        if msg.revision > revision {
            return Err(Close::RevisionOutOfRange(format!(
                "edit at {} but the document is at {revision}",
                msg.revision
            )));
        }
        if msg.revision < s.history_start {
            return Err(Close::RevisionOutOfRange(format!(
                "edit at {} is older than the history kept (from {})",
                msg.revision, s.history_start
            )));
        }
        let mut op = msg.operation;
        let from = (msg.revision - s.history_start) as usize;
        for past in s.history.range(from..) {
            op = op
                .transform(&past.op)
                .map_err(|e| Close::DoesNotApply(format!("at revision {}: {e}", msg.revision)))?
                .0;
        }
        let size = s
            .text
            .len_bytes_after(&op)
            .map_err(|e| Close::DoesNotApply(e.to_string()))?;
        // Refuse growth past the limit; an edit that does not grow a
        // document already over it (after the limit was lowered) is fine.
        if size > max_bytes && size > s.text.len_bytes() {
            return Err(Close::DocumentTooLarge(format!(
                "{size} bytes would exceed the limit of {max_bytes}"
            )));
        }
        s.text
            .apply(&op)
            .map_err(|e| Close::Internal(e.to_string()))?;
        for u in s.users.values_mut() {
            u.cursor_json = OnceLock::new();
            if let Some(c) = &mut u.cursor {
                move_cursor(c, &op);
            }
        }
        let json = encode::entry(session.user, &op).into_boxed_str();
        s.history.push_back(Entry {
            op,
            json,
            key_hash: session.key_hash,
            author: session.user,
            seq: msg.seq,
        });
        if let Some(r) = s.clients.get_mut(&session.key_hash) {
            r.last_seq = msg.seq;
        }
        s.trim_history();
        s.changed();
        s.last_used = Instant::now();
        drop(s);
        self.wake();
        Ok(EditOutcome::Applied(revision))
    }

    /// Sets the language (already validated) on behalf of `session`.
    pub fn set_language(&self, session: &Session, name: &str) {
        let mut s = self.state.write();
        let user_name = s.user_name(session.user);
        s.language = Some(Language {
            name: name.to_owned(),
            user_id: Some(session.user),
            user_name,
        });
        s.push_meta(Meta::Language);
        s.changed();
        drop(s);
        self.wake();
    }

    /// Sets this user's name and colour (already validated).
    pub fn set_info(&self, session: &Session, info: UserInfo) {
        let mut s = self.state.write();
        let user = s.users.entry(session.user).or_default();
        if user.info.as_ref() == Some(&info) {
            return;
        }
        user.info = Some(info);
        s.push_meta(Meta::Info(session.user));
        drop(s);
        self.wake();
    }

    /// Sets this user's cursor. Positions refer to `msg.revision` (default:
    /// current) and are moved to the current revision. Fails with a message
    /// for the `invalid_cursor` error.
    pub fn set_cursor(&self, session: &Session, msg: CursorMsg) -> Result<(), String> {
        if msg.cursors.len() > MAX_CURSORS || msg.selections.len() > MAX_CURSORS {
            return Err(format!(
                "at most {MAX_CURSORS} cursors and {MAX_CURSORS} selections"
            ));
        }
        let position = |p: i128| {
            usize::try_from(p).map_err(|_| {
                if p < 0 {
                    format!("position {p} is negative")
                } else {
                    format!("position {p} is beyond the document")
                }
            })
        };
        let mut data = CursorData {
            cursors: msg
                .cursors
                .iter()
                .map(|p| position(*p))
                .collect::<Result<_, _>>()?,
            selections: msg
                .selections
                .iter()
                .map(|(a, b)| Ok((position(*a)?, position(*b)?)))
                .collect::<Result<_, String>>()?,
        };
        let mut s = self.state.write();
        let revision = s.revision();
        let at = msg.revision.unwrap_or(revision);
        if at > revision || at < s.history_start {
            return Err(format!(
                "revision {at} is not between {} and {revision}",
                s.history_start
            ));
        }
        let len = s.len_at(at);
        let positions = data
            .cursors
            .iter()
            .chain(data.selections.iter().flat_map(|(a, b)| [a, b]));
        if let Some(bad) = positions.into_iter().find(|p| **p > len) {
            return Err(format!(
                "position {bad} is beyond the document's {len} code points"
            ));
        }
        let from = (at - s.history_start) as usize;
        for e in s.history.range(from..) {
            move_cursor(&mut data, &e.op);
        }
        let user = s.users.entry(session.user).or_default();
        if user.cursor.as_ref() == Some(&data) {
            return Ok(());
        }
        user.set_cursor(Some(data));
        s.push_meta(Meta::Cursor(session.user));
        drop(s);
        self.wake();
        Ok(())
    }

    /// A consistent copy of everything stored, with the change counter it
    /// reflects. `change` replaces the protection in the copy (used to
    /// persist a protection change before it takes effect).
    pub fn snapshot(&self, change: Option<&Change>) -> (StoredDocument, u64) {
        let s = self.state.read();
        let (otp_hash, view) = match change {
            Some(c) => c.stored(),
            None => s.protection.stored(),
        };
        let now_ms = now_ms();
        let last_used_ms = now_ms - s.since_used().as_millis() as i64;
        let doc = StoredDocument {
            id: self.id.clone(),
            text: s.text.to_string(),
            revision: s.revision(),
            language: s.language.as_ref().map(|l| l.name.clone()),
            otp_hash,
            view,
            next_user_id: s.next_user_id,
            clients: s
                .clients
                .iter()
                .map(|(k, c)| StoredClient {
                    key_hash: *k,
                    user_id: c.user_id,
                    last_seq: c.last_seq,
                })
                .collect(),
            created_at_ms: s.created_at_ms,
            last_used_at_ms: last_used_ms,
            journal: Vec::new(),
        };
        (doc, s.changes)
    }

    /// Records a successful save of the snapshot taken at `changes`, of the
    /// text at `revision`.
    pub fn mark_saved(&self, changes: u64, revision: u64) {
        let mut s = self.state.write();
        s.persisted_changes = s.persisted_changes.max(changes);
        s.journaled = s.journaled.max(revision);
        s.trim_history();
        s.stored = true;
        s.last_write = Instant::now();
    }

    /// Plans setting the OTP to `new` (`None`: unprotect); `presented` is
    /// the OTP the requester showed, if any (see [`Protection::plan_otp`]).
    /// Nothing changes until [`Document::apply_protection`].
    pub fn plan_otp(
        &self,
        new: Option<String>,
        presented: Option<&str>,
    ) -> Result<Change, ChangeError> {
        self.state.write().protection.plan_otp(new, presented)
    }

    /// Plans a new read-only link (or its removal, `enabled` false).
    /// Nothing changes until [`Document::apply_protection`].
    pub fn plan_view(&self, enabled: bool) -> Result<Change, ChangeError> {
        self.state.write().protection.plan_view(enabled)
    }

    /// Applies a protection change that has been persisted, on behalf of
    /// `by`, and broadcasts it: a new OTP to editors as `OTP`, a new or
    /// removed read-only link to editors as `ViewLink` (which also
    /// disconnects the viewers of the old one).
    pub fn apply_protection(&self, by: Option<UserId>, change: &Change) {
        let mut s = self.state.write();
        s.protection.apply(change);
        let user_name = by.and_then(|u| s.user_name(u));
        if let Some(otp) = change.new_otp() {
            s.last_otp_event = Some(OtpEvent {
                otp: otp.map(str::to_owned),
                user_id: by,
                user_name: user_name.clone(),
            });
            s.push_meta(Meta::Otp);
        }
        if let Some(secret) = change.new_view() {
            s.last_view_event = Some(ViewEvent {
                secret: secret.map(str::to_owned),
                user_id: by,
                user_name,
            });
            s.push_meta(Meta::ViewLink);
        }
        // Already persisted with the snapshot that carried it; other
        // unsaved changes keep the document dirty on their own.
        drop(s);
        self.wake();
    }

    /// The edits not yet in the database, as a journal batch, and the
    /// revision the batch brings the journal up to.
    pub fn unjournaled(&self) -> Option<(JournalBatch, u64)> {
        let s = self.state.read();
        let revision = s.revision();
        let from = s.journaled.max(s.history_start);
        if from >= revision {
            return None;
        }
        let entries = s
            .history
            .range((from - s.history_start) as usize..)
            .zip(from..)
            .map(|(e, r)| JournalEntry {
                revision: r,
                key_hash: e.key_hash,
                user_id: e.author,
                seq: e.seq,
                entry: e.json.to_string(),
            })
            .collect();
        let batch = JournalBatch {
            doc_id: self.id.clone(),
            entries,
        };
        Some((batch, revision))
    }

    /// Records that the journal holds every edit before `revision`.
    pub fn mark_journaled(&self, revision: u64) {
        let mut s = self.state.write();
        s.journaled = s.journaled.max(revision);
        s.trim_history();
    }

    /// Keeps at most `window` history entries in memory; `journal_required`
    /// says whether entries must be in the database before they go.
    pub fn configure(&self, window: usize, journal_required: bool) {
        let mut s = self.state.write();
        s.history_window = window.max(1);
        s.journal_required = journal_required;
        s.trim_history();
    }

    /// The revision of the oldest history entry kept in memory.
    pub fn history_start(&self) -> u64 {
        self.state.read().history_start
    }

    /// Whether the database lacks changes made in memory.
    pub fn is_dirty(&self) -> bool {
        let s = self.state.read();
        s.changes != s.persisted_changes
    }

    /// What the persister and cleaner need to decide about this document.
    pub fn activity(&self) -> Activity {
        let s = self.state.read();
        Activity {
            dirty: s.changes != s.persisted_changes,
            stored: s.stored,
            connections: s.connections,
            since_change: s.last_change.elapsed(),
            since_write: s.last_write.elapsed(),
            since_used: s.since_used(),
        }
    }

    /// Marks the document as gone from memory if nobody is connected,
    /// nothing is unsaved and no save is in flight; returns whether it did.
    /// After this no save of this copy reaches the database (saves check
    /// the flag under the save lock), so a copy loaded afterwards is never
    /// overwritten by this one.
    pub fn try_evict(&self) -> bool {
        let Ok(_no_save) = self.save_lock.try_lock() else {
            return false;
        };
        let s = self.state.write();
        if s.connections > 0 || s.changes != s.persisted_changes {
            return false;
        }
        self.evicted.store(true, Ordering::Release);
        true
    }

    /// Marks the document as gone regardless of unsaved changes (expiry),
    /// if nobody is connected and no save is in flight.
    pub fn force_evict(&self) -> bool {
        let Ok(_no_save) = self.save_lock.try_lock() else {
            return false;
        };
        let s = self.state.write();
        if s.connections > 0 {
            return false;
        }
        self.evicted.store(true, Ordering::Release);
        true
    }
}

/// What the background tasks look at.
#[derive(Debug, Clone, Copy)]
pub struct Activity {
    /// Changes not yet in the database.
    pub dirty: bool,
    /// The database has a row for it.
    pub stored: bool,
    /// Open connections.
    pub connections: usize,
    /// Time since the last change that needs saving.
    pub since_change: std::time::Duration,
    /// Time since the last save (or load).
    pub since_write: std::time::Duration,
    /// Time since the last edit or connection activity.
    pub since_used: std::time::Duration,
}

impl DocState {
    fn empty(stored: bool) -> DocState {
        let now = Instant::now();
        DocState {
            text: Text::new(),
            history: VecDeque::new(),
            history_start: 0,
            language: None,
            protection: Protection::default(),
            last_otp_event: None,
            last_view_event: None,
            users: HashMap::new(),
            clients: HashMap::new(),
            next_user_id: 1,
            meta_log: VecDeque::new(),
            meta_start: 0,
            connections: 0,
            changes: 0,
            persisted_changes: 0,
            stored,
            created_at_ms: now_ms(),
            last_used: now,
            last_change: now,
            last_write: now,
            journaled: 0,
            history_window: usize::MAX,
            journal_required: true,
        }
    }
}

/// A fast hasher for the per-batch set of metadata events. Its keys are
/// server-assigned user ids, so SipHash's resistance to chosen keys buys
/// nothing; with hundreds of users it was 13 % of the server's time.
#[derive(Default)]
struct SmallKeyHasher(u64);

impl std::hash::Hasher for SmallKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    fn write_isize(&mut self, word: isize) {
        self.write_u64(word as u64);
    }
}

/// Moves every position of a cursor through `op`. Positions are kept in
/// range by construction; should one not be, it goes to the end rather
/// than panic.
fn move_cursor(c: &mut CursorData, op: &Operation) {
    let map = |p: &mut usize| *p = op.transform_index(*p).unwrap_or(op.target_len());
    c.cursors.iter_mut().for_each(map);
    for (a, b) in c.selections.iter_mut() {
        map(a);
        map(b);
    }
}

/// A fresh epoch: 64 random bits as 16 hex digits (a clock-derived value
/// if the OS has no randomness to give, which only costs uniqueness
/// across a restart in the same nanosecond).
fn new_epoch() -> Box<str> {
    let mut bytes = [0u8; 8];
    if getrandom::getrandom(&mut bytes).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        bytes = now.to_le_bytes();
    }
    format!("{:016x}", u64::from_le_bytes(bytes)).into_boxed_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Joins `doc` as "Ann" with client-key hash `key`.
    fn join(
        doc: &Document,
        revision: Option<u64>,
        key: Hash,
        otp: Option<&str>,
    ) -> Result<(Session, Vec<String>), JoinError> {
        let info = UserInfo {
            name: "Ann".into(),
            hue: 10,
        };
        let access = Access::new(otp, None);
        doc.join(revision, None, Some(info), key, &access)
    }

    fn cursor(cursors: &[i128], selections: &[(i128, i128)], revision: Option<u64>) -> CursorMsg {
        CursorMsg {
            cursors: cursors.to_vec(),
            selections: selections.to_vec(),
            revision,
        }
    }

    fn op(json: &str) -> Operation {
        serde_json::from_str(json).unwrap()
    }

    fn edit(revision: u64, seq: u64, json: &str) -> EditMsg {
        EditMsg {
            revision,
            seq,
            operation: op(json),
        }
    }

    #[test]
    fn concurrent_edits_are_transformed_and_deduplicated() {
        let doc = Document::new("d".into());
        let (a, greeting) = join(&doc, None, [1; 32], None).unwrap();
        assert_eq!(greeting[0], r#"{"Identity":1}"#);
        assert!(greeting[1].starts_with(r#"{"Snapshot":{"revision":0"#));
        let (b, _) = join(&doc, None, [2; 32], None).unwrap();
        assert_eq!(b.user, 2);
        assert_eq!(
            doc.edit(&a, edit(0, 1, r#"["hello"]"#), 100),
            Ok(EditOutcome::Applied(0))
        );
        assert_eq!(
            doc.edit(&b, edit(0, 1, r#"["world"]"#), 100),
            Ok(EditOutcome::Applied(1))
        );
        // b's insert at the same position as a's (already applied) goes
        // first: the later edit is the left one.
        assert_eq!(doc.text(), "worldhello");
        assert_eq!(
            doc.edit(&a, edit(0, 1, r#"["x"]"#), 100),
            Ok(EditOutcome::Duplicate)
        );
        assert!(matches!(
            doc.edit(&a, edit(5, 2, r#"["x"]"#), 100),
            Err(Close::RevisionOutOfRange(_))
        ));
        assert!(matches!(
            doc.edit(&a, edit(2, 2, r#"[3]"#), 100),
            Err(Close::DoesNotApply(_))
        ));
        assert!(matches!(
            doc.edit(&a, edit(2, 2, r#"[10, "0123456789"]"#), 15),
            Err(Close::DocumentTooLarge(_))
        ));
        assert_eq!(doc.text(), "worldhello");
        assert_eq!(doc.revision(), 2);
    }

    #[test]
    fn reconnect_catches_up_and_replaces_the_old_connection() {
        let doc = Document::new("d".into());
        let (mut a1, _) = join(&doc, None, [1; 32], None).unwrap();
        doc.edit(&a1, edit(0, 1, r#"["ab"]"#), 100).unwrap();
        let (mut a2, greeting) = join(&doc, Some(0), [1; 32], None).unwrap();
        assert_eq!(a2.user, a1.user);
        assert_eq!(
            greeting[1],
            r#"{"History":{"start":0,"operations":[{"id":1,"operation":["ab"]}]}}"#
        );
        assert_eq!(doc.updates(&mut a1), Err(Close::Replaced));
        assert_eq!(
            doc.edit(&a1, edit(1, 2, r#"[2,"c"]"#), 100),
            Err(Close::Replaced)
        );
        assert!(doc.updates(&mut a2).unwrap().is_empty());
        // A client too far ahead gets a snapshot with its last sequence.
        let (_, greeting) = join(&doc, Some(9), [1; 32], None).unwrap();
        assert_eq!(
            greeting[1],
            format!(
                r#"{{"Snapshot":{{"revision":1,"last_seq":1,"epoch":"{}","text":"ab"}}}}"#,
                doc.epoch()
            )
        );
    }

    #[test]
    fn metadata_fans_out_latest_state() {
        let doc = Document::new("d".into());
        let (a, _) = join(&doc, None, [1; 32], None).unwrap();
        let (mut b, greeting) = join(&doc, None, [2; 32], None).unwrap();
        assert!(greeting
            .contains(&r#"{"UserInfo":{"id":1,"info":{"name":"Ann","hue":10}}}"#.to_owned()));
        doc.edit(&a, edit(0, 1, r#"["abcdef"]"#), 100).unwrap();
        for i in 0..5 {
            doc.set_cursor(&a, cursor(&[i], &[], None)).unwrap();
        }
        doc.set_language(&a, "rust");
        let msgs = doc.updates(&mut b).unwrap();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].starts_with(r#"{"History""#));
        assert_eq!(
            msgs[1],
            r#"{"UserCursor":{"id":1,"data":{"cursors":[4],"selections":[]}}}"#
        );
        assert!(msgs[2].contains(r#""language":"rust""#));
        // A cursor given at an old revision is moved through later edits.
        doc.edit(&a, edit(1, 2, r#"["XY", 6]"#), 100).unwrap();
        doc.set_cursor(&a, cursor(&[1], &[(0, 6)], Some(1)))
            .unwrap();
        let msgs = doc.updates(&mut b).unwrap();
        assert_eq!(
            msgs[1],
            r#"{"UserCursor":{"id":1,"data":{"cursors":[3],"selections":[[2,8]]}}}"#
        );
        assert!(doc.set_cursor(&a, cursor(&[99], &[], None)).is_err());
        assert!(doc.set_cursor(&a, cursor(&[], &[(-1, 2)], None)).is_err());
        doc.leave(&a);
        let msgs = doc.updates(&mut b).unwrap();
        assert_eq!(
            msgs,
            vec![r#"{"UserInfo":{"id":1,"info":null}}"#.to_owned()]
        );
    }

    #[test]
    fn otp_is_checked_at_join() {
        let doc = Document::new("d".into());
        let (a, _) = join(&doc, None, [1; 32], None).unwrap();
        let change = doc.plan_otp(Some("secret-otp-12345".into()), None).unwrap();
        doc.apply_protection(Some(a.user), &change);
        assert!(!doc.authorize(&Access::new(None, None)));
        assert!(doc.authorize(&Access::new(Some("secret-otp-12345"), None)));
        assert_eq!(
            join(&doc, None, [2; 32], Some("wrong")).unwrap_err(),
            JoinError::Unauthorized
        );
        let (_, greeting) = join(&doc, None, [2; 32], Some("secret-otp-12345")).unwrap();
        assert!(greeting.last().unwrap().contains("secret-otp-12345"));
    }

    #[test]
    fn viewers_get_no_secrets_and_go_when_their_link_does() {
        let doc = Document::new("d".into());
        let (mut a, _) = join(&doc, None, [1; 32], None).unwrap();
        let otp = "secret-otp-12345";
        doc.apply_protection(Some(a.user), &doc.plan_otp(Some(otp.into()), None).unwrap());
        let change = doc.plan_view(true).unwrap();
        let secret = change.new_view().flatten().unwrap().to_owned();
        doc.apply_protection(Some(a.user), &change);
        let msgs = doc.updates(&mut a).unwrap();
        assert!(msgs.iter().any(|m| m.contains(&secret)), "{msgs:?}");

        let view = Access::new(None, Some(&secret));
        let (mut v, greeting) = doc.join(None, None, None, [2; 32], &view).unwrap();
        assert_eq!(v.role, Role::Viewer);
        assert_eq!(greeting.last().unwrap(), r#"{"ReadOnly":{}}"#);
        assert!(greeting
            .iter()
            .all(|m| !m.contains(otp) && !m.contains(&secret)));
        assert_eq!(
            doc.edit(&v, edit(0, 1, r#"["x"]"#), 100),
            Ok(EditOutcome::ReadOnly)
        );
        assert_eq!(doc.text(), "");
        // A rotated OTP and a resync of everything leak nothing either.
        doc.apply_protection(
            Some(a.user),
            &doc.plan_otp(Some("another-otp-6789".into()), None).unwrap(),
        );
        v.seen_meta = 0;
        doc.state.write().meta_start = 1;
        let msgs = doc.updates(&mut v).unwrap();
        assert!(
            msgs.iter()
                .all(|m| !m.contains("OTP") && !m.contains("ViewLink")),
            "{msgs:?}"
        );
        // Replacing the link ends the viewer's connection, not the editor's.
        doc.apply_protection(Some(a.user), &doc.plan_view(true).unwrap());
        assert_eq!(doc.updates(&mut v), Err(Close::ViewRevoked));
        assert!(doc.updates(&mut a).is_ok());
        assert_eq!(
            doc.join(None, None, None, [2; 32], &view).unwrap_err(),
            JoinError::Unauthorized
        );
    }

    #[test]
    fn journaled_edits_replay_onto_the_snapshot() {
        let doc = Document::new("d".into());
        let (a, _) = join(&doc, None, [1; 32], None).unwrap();
        doc.edit(&a, edit(0, 1, r#"["ab"]"#), 100).unwrap();
        let (mut stored, changes) = doc.snapshot(None);
        doc.mark_saved(changes, stored.revision);
        let (b, _) = join(&doc, None, [2; 32], None).unwrap();
        doc.edit(&a, edit(1, 2, r#"[2, "c"]"#), 100).unwrap();
        doc.edit(&b, edit(2, 7, r#"["😀", 3]"#), 100).unwrap();
        let (batch, upto) = doc.unjournaled().unwrap();
        assert_eq!(upto, 3);
        assert_eq!(batch.entries.len(), 2);
        assert_eq!(batch.entries[1].entry, r#"{"id":2,"operation":["😀",3]}"#);
        doc.mark_journaled(upto);
        assert!(doc.unjournaled().is_none());

        // Crash: what is stored is the snapshot at 1 plus the journal.
        stored.journal = batch.entries;
        let back = Document::from_stored(stored);
        assert_eq!(back.text(), "😀abc");
        assert_eq!(back.revision(), 3);
        assert!(back.is_dirty(), "the replay must be snapshotted");
        // Exactly-once survives: b's edit 7 is known, and b keeps its id.
        let (b2, greeting) = join(&back, Some(1), [2; 32], None).unwrap();
        assert_eq!(b2.user, 2);
        assert!(greeting[1].contains(r#""start":1"#), "{}", greeting[1]);
        assert_eq!(
            back.edit(&b2, edit(3, 7, "[4]"), 100),
            Ok(EditOutcome::Duplicate)
        );
        let (c, _) = join(&back, None, [3; 32], None).unwrap();
        assert_eq!(c.user, 3, "user ids are not reused");
    }

    #[test]
    fn a_damaged_journal_stops_the_replay_without_panicking() {
        let doc = Document::new("d".into());
        let (a, _) = join(&doc, None, [1; 32], None).unwrap();
        let (mut stored, _) = doc.snapshot(None);
        doc.edit(&a, edit(0, 1, r#"["ab"]"#), 100).unwrap();
        let (batch, _) = doc.unjournaled().unwrap();
        let good = batch.entries[0].clone();
        let mut gap = good.clone();
        gap.revision = 5;
        let mut junk = good.clone();
        junk.revision = 1;
        junk.entry = "{not json".into();
        let mut misfit = good.clone();
        misfit.revision = 1;
        misfit.entry = r#"{"id":1,"operation":[99]}"#.into();
        for tail in [gap, junk, misfit] {
            stored.journal = vec![good.clone(), tail];
            let back = Document::from_stored(stored.clone());
            assert_eq!(back.text(), "ab");
            assert_eq!(back.revision(), 1);
        }
    }

    #[test]
    fn history_is_trimmed_to_the_window_once_durable() {
        let doc = Document::new("d".into());
        doc.configure(3, true);
        let (mut a, _) = join(&doc, None, [1; 32], None).unwrap();
        let (mut b, _) = join(&doc, None, [2; 32], None).unwrap();
        for r in 0..6u64 {
            let op = format!("[{r}, \"x\"]").replace("[0, ", "[");
            doc.edit(&a, edit(r, r + 1, &op), 100).unwrap();
        }
        doc.updates(&mut a).unwrap();
        // Nothing journaled yet: everything stays.
        assert_eq!(doc.history_start(), 0);
        doc.mark_journaled(4);
        assert_eq!(
            doc.history_start(),
            3,
            "kept 3, and no unjournaled entry dropped"
        );
        doc.mark_journaled(6);
        assert_eq!(doc.history_start(), 3);
        doc.edit(&a, edit(6, 7, "[6, \"x\"]"), 100).unwrap();
        doc.mark_journaled(7);
        assert_eq!(doc.history_start(), 4);
        // b never read: it fell behind the history and must reconnect.
        assert!(matches!(
            doc.updates(&mut b),
            Err(Close::RevisionOutOfRange(_))
        ));
        // A reconnect from before the window gets a snapshot; an edit based
        // on a trimmed revision is refused as out of range.
        let (a2, greeting) = join(&doc, Some(2), [1; 32], None).unwrap();
        assert!(greeting[1].starts_with(r#"{"Snapshot""#));
        assert!(matches!(
            doc.edit(&a2, edit(2, 8, "[1]"), 100),
            Err(Close::RevisionOutOfRange(_))
        ));
        // Without a database nothing needs journaling.
        let mem = Document::new("m".into());
        mem.configure(2, false);
        let (c, _) = join(&mem, None, [1; 32], None).unwrap();
        for r in 0..5u64 {
            let op = format!("[{r}, \"y\"]").replace("[0, ", "[");
            mem.edit(&c, edit(r, r + 1, &op), 100).unwrap();
        }
        assert_eq!(mem.history_start(), 3);
    }

    #[test]
    fn an_evicted_copy_takes_no_joins() {
        let doc = Document::new("d".into());
        let (a, _) = join(&doc, None, [1; 32], None).unwrap();
        assert!(!doc.try_evict(), "connected");
        doc.leave(&a);
        assert!(doc.try_evict());
        assert_eq!(
            join(&doc, None, [1; 32], None).unwrap_err(),
            JoinError::Evicted
        );
    }

    #[test]
    fn snapshot_round_trips_through_storage() {
        let doc = Document::new("d".into());
        let (a, _) = join(&doc, None, [1; 32], None).unwrap();
        assert!(!doc.is_dirty());
        doc.edit(&a, edit(0, 1, r#"["héllo"]"#), 100).unwrap();
        doc.set_language(&a, "rust");
        assert!(doc.is_dirty());
        let (stored, changes) = doc.snapshot(None);
        doc.mark_saved(changes, stored.revision);
        assert!(!doc.is_dirty());
        assert!(doc.unjournaled().is_none(), "the snapshot covers the edit");
        let back = Document::from_stored(stored);
        assert_eq!(back.text(), "héllo");
        assert_eq!(back.revision(), 1);
        // The same identity keeps its user id and its last sequence.
        let (a2, greeting) = join(&back, Some(1), [1; 32], None).unwrap();
        assert_eq!(a2.user, a.user);
        assert_eq!(greeting[1], r#"{"History":{"start":1,"operations":[]}}"#);
        assert_eq!(
            back.edit(&a2, edit(1, 1, "[6]"), 100),
            Ok(EditOutcome::Duplicate)
        );
        let (b, _) = join(&back, None, [3; 32], None).unwrap();
        assert_eq!(b.user, 2);
    }
}
