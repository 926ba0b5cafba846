//! One WebSocket connection: the `Hello` handshake, then a loop that sends
//! the document's changes, reads the client's messages, pings, and ends
//! with a specific close code (docs/protocol.md).
//!
//! Each connection writes from its own task with a write timeout, so a
//! client that stops reading delays nobody else; what it is sent is read
//! from the document on each wake-up (new history plus the *latest*
//! metadata), so nothing queues up for it either.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::{timeout, Instant};

use crate::access::{Access, ChangeError, Role};
use crate::document::{Document, EditOutcome, JoinError, Session};
use crate::protocol::{self, encode, ClientInfo, ClientMsg, Close, CursorMsg, ErrorCode, UserInfo};
use crate::registry::{LoadError, OtpChangeError, Registry};
use crate::validate;
use crate::ws::{Message, WebSocket};

type Tx = SplitSink<WebSocket, Message>;
type Rx = SplitStream<WebSocket>;

/// How a connection ended.
enum End {
    /// The server closes it with this code and reason.
    Close(Close),
    /// The client went away, or could not be written to; no close frame
    /// can or need be sent.
    Gone(&'static str),
}

impl From<Close> for End {
    fn from(c: Close) -> End {
        End::Close(c)
    }
}

/// Serves one upgraded connection to document `id`, admitted with
/// `access` (an OTP, or a view secret for read-only access), until it
/// ends.
pub async fn serve(
    ws: WebSocket,
    registry: Arc<Registry>,
    id: String,
    access: Access,
    shutdown: watch::Receiver<bool>,
) {
    let metrics = registry.metrics.clone();
    metrics.connections.fetch_add(1, Relaxed);
    metrics.connections_total.fetch_add(1, Relaxed);
    let (mut tx, mut rx) = ws.split();
    let mut conn = Connection {
        messages: Bucket::new(registry.config.max_messages_per_second),
        cursors: Bucket::new(registry.config.max_cursor_updates_per_second),
        registry: &registry,
        tx: &mut tx,
        shutdown,
        deferred_cursor: None,
        throttled: false,
        replies: Vec::new(),
    };
    let end = conn.run(&mut rx, &id, &access).await;
    match end {
        End::Close(close) => {
            tracing::debug!(doc = %id, code = close.code(), reason = %close.reason(), "closing connection");
            metrics.close(&close);
            let frame = Message::close_with(close.code(), close.reason());
            // Best effort: the peer may already be unreachable.
            let _ = timeout(Duration::from_secs(1), async {
                tx.send(frame).await?;
                tx.close().await
            })
            .await;
        }
        End::Gone(why) => {
            tracing::debug!(doc = %id, "connection gone: {why}");
            if why == "write timeout" {
                metrics.close_kind("write_timeout");
            }
        }
    }
    metrics.connections.fetch_sub(1, Relaxed);
}

/// Unregisters the connection from its document however the connection
/// ends, and saves at once when it was the last one.
struct Membership {
    registry: Arc<Registry>,
    doc: Arc<Document>,
    session: Session,
}

impl Drop for Membership {
    fn drop(&mut self) {
        if self.doc.leave(&self.session) {
            let registry = self.registry.clone();
            let doc = self.doc.clone();
            tokio::spawn(async move { registry.save_if_dirty(&doc).await });
        }
    }
}

struct Connection<'a> {
    registry: &'a Arc<Registry>,
    tx: &'a mut Tx,
    shutdown: watch::Receiver<bool>,
    /// `MAX_MESSAGES_PER_SECOND` for everything but cursors (`None`: no
    /// limit).
    messages: Option<Bucket>,
    /// `MAX_CURSOR_UPDATES_PER_SECOND`.
    cursors: Option<Bucket>,
    /// The latest cursor that arrived faster than allowed; applied when
    /// the cursor budget allows (coalesced, never queued).
    deferred_cursor: Option<CursorMsg>,
    /// Whether this connection was told it is being slowed down (once per
    /// episode).
    throttled: bool,
    /// Error replies not sent yet: the main loop sends them after the
    /// document's changes, in the same write.
    replies: Vec<String>,
}

/// A token bucket: `rate` tokens a second, at most `2 × rate` saved up.
struct Bucket {
    /// Tokens per second.
    rate: f64,
    /// Most tokens saved.
    burst: f64,
    /// Tokens now.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    last: Instant,
}

impl Bucket {
    /// `None` for rate 0 (no limit).
    fn new(rate: u32) -> Option<Bucket> {
        (rate > 0).then(|| Bucket {
            rate: f64::from(rate),
            burst: 2.0 * f64::from(rate),
            tokens: 2.0 * f64::from(rate),
            last: Instant::now(),
        })
    }

    /// Takes a token, or says how long until one is there.
    fn take(&mut self) -> Result<(), Duration> {
        let now = Instant::now();
        let earned = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

impl Connection<'_> {
    async fn run(&mut self, rx: &mut Rx, id: &str, access: &Access) -> End {
        let config = self.registry.config.clone();
        let mut shutdown = self.shutdown.clone();
        let first = tokio::select! {
            _ = shutdown.wait_for(|down| *down) => return Close::Restarting.into(),
            first = timeout(config.hello_timeout, next_text(rx)) => first,
        };
        let hello = match first {
            Err(_) => return Close::Timeout("no Hello received").into(),
            Ok(Err(end)) => return end,
            Ok(Ok(text)) => match protocol::decode(&text) {
                Ok(ClientMsg::Hello(h)) => h,
                Ok(_) => return Close::Malformed("the first message must be Hello".into()).into(),
                Err(e) => return Close::Malformed(e).into(),
            },
        };
        if let Err(e) = validate::client_key(&hello.client) {
            return Close::Malformed(e).into();
        }
        let (info, bad_info) = match hello.info.map(|i| self.valid_info(i)) {
            None => (None, None),
            Some(Ok(info)) => (Some(info), None),
            Some(Err(e)) => (None, Some(e)),
        };
        let key_hash = crate::otp::hash(&hello.client);
        // A document can leave memory between being looked up and being
        // joined; then it is loaded afresh (it was saved first). Eviction
        // needs an idle document, so a second attempt practically always
        // succeeds; the bound only guards against a livelock.
        let mut attempt = 0;
        let (doc, session, greeting) = loop {
            let doc = match self.registry.get_or_load(id).await {
                Ok(doc) => doc,
                Err(LoadError::Full) => return Close::Busy("too many documents open").into(),
                Err(LoadError::Store(e)) => {
                    tracing::error!(doc = %id, "loading failed: {e}");
                    return Close::Internal("could not load the document".into()).into();
                }
            };
            match doc.join(
                hello.revision,
                hello.epoch.as_deref(),
                info.clone(),
                key_hash,
                access,
            ) {
                Ok((session, greeting)) => break (doc, session, greeting),
                Err(JoinError::Unauthorized) => return Close::Unauthorized.into(),
                Err(JoinError::Evicted) if attempt < 10 => attempt += 1,
                Err(JoinError::Evicted) => {
                    return Close::Internal("the document kept leaving memory".into()).into()
                }
            }
        };
        let mut member = Membership {
            registry: self.registry.clone(),
            doc: doc.clone(),
            session,
        };
        if let Err(end) = self.send_all(greeting).await {
            return end;
        }
        if let Some(message) = bad_info {
            self.error(ErrorCode::InvalidClientInfo, &message);
        }
        self.main_loop(rx, &doc, &mut member.session).await
    }

    /// Checks a name and colour from `Hello` or `ClientInfo`.
    fn valid_info(&self, info: ClientInfo) -> Result<UserInfo, String> {
        let name = validate::user_name(&info.name, self.registry.config.max_user_name_length)?;
        let hue = u32::try_from(info.hue)
            .ok()
            .filter(|h| *h < 360)
            .ok_or("hue must be an integer 0-359")?;
        Ok(UserInfo { name, hue })
    }

    /// Sends the document's changes and reads the client's messages until
    /// the connection ends.
    ///
    /// Writes are throttled, not delayed: a change after a quiet spell is
    /// sent at once, but once something was sent, changes made by others
    /// within `BROADCAST_INTERVAL_MS` wait for the end of that interval
    /// and go out together. Anything the client sends is answered at once,
    /// together with whatever was waiting, so its own acknowledgements are
    /// never held back (what was held goes out first, so that a reply
    /// never overtakes an earlier change). On a busy document this turns
    /// one write (and one wake-up) per connection and change into at most
    /// one per interval (docs/benchmarks.md, rows a and c).
    async fn main_loop(&mut self, rx: &mut Rx, doc: &Document, session: &mut Session) -> End {
        let config = self.registry.config.clone();
        let interval = config.broadcast_interval;
        let mut heartbeat = tokio::time::interval_at(
            Instant::now() + config.ws_heartbeat_interval,
            config.ws_heartbeat_interval,
        );
        let mut last_heard = Instant::now();
        // When updates were last sent, and until when the next ones wait
        // (`None`: they go out as soon as they are there).
        let mut last_sent = Instant::now();
        let mut held_until: Option<Instant> = None;
        loop {
            let notified = doc.notified();
            tokio::pin!(notified);
            // Replies go out at once, and with them whatever was held.
            if !self.replies.is_empty() {
                held_until = None;
            }
            if held_until.is_none() {
                notified.as_mut().enable();
                match self.send_updates(doc, session).await {
                    Ok(false) => {}
                    Ok(true) => {
                        last_sent = Instant::now();
                        // Whatever comes next waits for the interval's
                        // end; not listening until then also spares this
                        // task a wake-up for every change in between.
                        if !interval.is_zero() {
                            held_until = Some(last_sent + interval);
                        }
                    }
                    Err(end) => return end,
                }
            }
            if *self.shutdown.borrow() {
                return Close::Restarting.into();
            }
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => return Close::Restarting.into(),
                _ = &mut notified, if held_until.is_none() => {
                    let next = last_sent + interval;
                    if next > Instant::now() {
                        held_until = Some(next);
                    }
                }
                _ = sleep_until_some(held_until) => held_until = None,
                incoming = rx.next() => {
                    last_heard = Instant::now();
                    // The acknowledgement or reply, and everything held
                    // back with it, goes out now.
                    held_until = None;
                    match incoming {
                        None => return End::Gone("closed by the client"),
                        Some(Err(e)) => return read_error(e),
                        Some(Ok(msg)) => {
                            if let Err(end) = self.handle(doc, session, msg).await {
                                return end;
                            }
                        }
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(10)), if self.deferred_cursor.is_some() => {
                    if let Err(end) = self.apply_deferred_cursor(doc, session).await {
                        return end;
                    }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() >= config.ws_read_timeout {
                        return Close::Timeout("nothing received for WS_READ_TIMEOUT_MINUTES").into();
                    }
                    if let Err(end) = self.send(Message::ping(Vec::new())).await {
                        return end;
                    }
                }
            }
        }
    }

    /// Sends what changed since the last call, then the replies waiting,
    /// if there is anything; says whether something was sent.
    async fn send_updates(&mut self, doc: &Document, session: &mut Session) -> Result<bool, End> {
        let mut msgs = doc.updates(session)?;
        msgs.append(&mut self.replies);
        if msgs.is_empty() {
            return Ok(false);
        }
        self.send_all(msgs).await?;
        Ok(true)
    }

    async fn handle(&mut self, doc: &Document, session: &Session, msg: Message) -> Result<(), End> {
        if msg.is_close() {
            return Err(End::Gone("closed by the client"));
        }
        if msg.is_ping() || msg.is_pong() {
            return Ok(());
        }
        let Ok(text) = msg.to_str() else {
            return Err(Close::Malformed("binary frames are not accepted".into()).into());
        };
        let msg = protocol::decode(text).map_err(Close::Malformed)?;
        if !matches!(msg, ClientMsg::CursorData(_)) {
            self.pace().await?;
        }
        let registry = self.registry;
        if session.role == Role::Viewer {
            let refused = match &msg {
                ClientMsg::Edit(_) => Some("edits are"),
                ClientMsg::SetLanguage(_) => Some("changing the language is"),
                ClientMsg::SetOtp(_) => Some("changing the protection is"),
                ClientMsg::SetViewLink(_) => Some("changing the read-only link is"),
                _ => None,
            };
            if let Some(what) = refused {
                let message =
                    format!("{what} not allowed: this connection was opened with a read-only link");
                self.error(ErrorCode::ReadOnly, &message);
                return Ok(());
            }
        }
        match msg {
            ClientMsg::Hello(_) => {
                self.error(ErrorCode::UnexpectedHello, "Hello was already received")
            }
            ClientMsg::Edit(edit) => {
                let seq = edit.seq;
                match doc.edit(session, edit, registry.config.max_document_bytes)? {
                    EditOutcome::Applied(_) => {
                        registry.metrics.edits.fetch_add(1, Relaxed);
                    }
                    EditOutcome::Duplicate => {
                        let message = format!("edit {seq} was already applied");
                        self.error(ErrorCode::DuplicateEdit, &message)
                    }
                    EditOutcome::ReadOnly => {
                        let message = "edits are not allowed: this connection is read-only";
                        self.error(ErrorCode::ReadOnly, message)
                    }
                }
            }
            ClientMsg::SetLanguage(name) => {
                if validate::language(&name) {
                    doc.set_language(session, &name);
                } else {
                    let message = format!("unknown language {name:?}");
                    self.error(ErrorCode::InvalidLanguage, &message)
                }
            }
            ClientMsg::ClientInfo(info) => match self.valid_info(info) {
                Ok(info) => doc.set_info(session, info),
                Err(e) => self.error(ErrorCode::InvalidClientInfo, &e),
            },
            ClientMsg::CursorData(cursor) => {
                self.deferred_cursor = Some(cursor);
                self.apply_deferred_cursor(doc, session).await?
            }
            ClientMsg::SetOtp(set) => {
                let change = registry.set_otp(doc, Some(session.user), set.enabled, None);
                if let Err(e) = change.await {
                    tracing::error!(doc = %doc.id, "OTP change failed: {e}");
                    self.error(ErrorCode::PersistenceFailed, &e.to_string())
                }
            }
            ClientMsg::SetViewLink(set) => {
                match registry
                    .set_view_link(doc, Some(session.user), set.enabled)
                    .await
                {
                    Ok(_) => {}
                    Err(e @ OtpChangeError::Refused(ChangeError::NotProtected)) => {
                        self.error(ErrorCode::NotProtected, &e.to_string())
                    }
                    Err(e) => {
                        tracing::error!(doc = %doc.id, "read-only link change failed: {e}");
                        self.error(ErrorCode::PersistenceFailed, &e.to_string())
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies the latest deferred cursor if the cursor budget allows;
    /// otherwise it stays deferred (and is replaced by any newer one).
    async fn apply_deferred_cursor(
        &mut self,
        doc: &Document,
        session: &Session,
    ) -> Result<(), End> {
        if let Some(bucket) = &mut self.cursors {
            if bucket.take().is_err() {
                return Ok(());
            }
        }
        let Some(cursor) = self.deferred_cursor.take() else {
            return Ok(());
        };
        if let Err(e) = doc.set_cursor(session, cursor) {
            self.error(ErrorCode::InvalidCursor, &e)
        }
        Ok(())
    }

    /// Waits for the message budget (`MAX_MESSAGES_PER_SECOND`): a client
    /// sending faster is read more slowly — nothing it sent is dropped —
    /// and told so once per episode with the `rate_limited` error.
    async fn pace(&mut self) -> Result<(), End> {
        let Some(bucket) = &mut self.messages else {
            return Ok(());
        };
        match bucket.take() {
            Ok(()) => {
                self.throttled = false;
                return Ok(());
            }
            Err(wait) => {
                if !self.throttled {
                    self.throttled = true;
                    self.registry.metrics.refused("rate_limited");
                    let message = format!(
                        "more than {} messages per second; reading more slowly",
                        self.registry.config.max_messages_per_second
                    );
                    self.error(ErrorCode::RateLimited, &message);
                }
                tokio::time::sleep(wait).await;
            }
        }
        // The wait earned exactly one token (or more); take it.
        if let Some(bucket) = &mut self.messages {
            while let Err(wait) = bucket.take() {
                tokio::time::sleep(wait).await;
            }
        }
        Ok(())
    }

    /// Queues an `Error` reply. It is sent by the main loop right after
    /// the message being handled, behind every change made before (a reply
    /// never overtakes them: tests use an error reply as a barrier).
    fn error(&mut self, code: ErrorCode, message: &str) {
        self.registry.metrics.error(code);
        self.replies.push(encode::error(code, message));
    }

    async fn send(&mut self, msg: Message) -> Result<(), End> {
        let limit = self.registry.config.ws_write_timeout;
        match timeout(limit, self.tx.send(msg)).await {
            Err(_) => Err(End::Gone("write timeout")),
            Ok(Err(_)) => Err(End::Gone("write failed")),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Sends messages with one flush at the end, under one write timeout.
    async fn send_all(&mut self, msgs: Vec<String>) -> Result<(), End> {
        if msgs.is_empty() {
            return Ok(());
        }
        let limit = self.registry.config.ws_write_timeout;
        let tx = &mut *self.tx;
        let result = timeout(limit, async move {
            for m in msgs {
                tx.feed(Message::text(m)).await?;
            }
            tx.flush().await
        })
        .await;
        match result {
            Err(_) => Err(End::Gone("write timeout")),
            Ok(Err(_)) => Err(End::Gone("write failed")),
            Ok(Ok(())) => Ok(()),
        }
    }
}

/// Sleeps until `until`; never returns for `None`.
async fn sleep_until_some(until: Option<Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// The next text message, skipping pings and pongs.
async fn next_text(rx: &mut Rx) -> Result<String, End> {
    loop {
        match rx.next().await {
            None => return Err(End::Gone("closed by the client")),
            Some(Err(e)) => return Err(read_error(e)),
            Some(Ok(m)) if m.is_ping() || m.is_pong() => continue,
            Some(Ok(m)) if m.is_close() => return Err(End::Gone("closed by the client")),
            Some(Ok(m)) => match m.to_str() {
                Ok(s) => return Ok(s.to_owned()),
                Err(()) => {
                    return Err(Close::Malformed("binary frames are not accepted".into()).into())
                }
            },
        }
    }
}

/// Classifies a read error. The WebSocket library reports an oversized
/// message as a capacity error; its text is matched (tests pin the
/// behaviour).
fn read_error(e: crate::ws::Error) -> End {
    let text = e.to_string();
    if text.contains("too long") || text.contains("Space limit exceeded") {
        End::Close(Close::MessageTooLarge)
    } else if text.contains("invalid UTF-8") || text.contains("Utf8") || text.contains("utf-8") {
        End::Close(Close::Malformed("text frame is not valid UTF-8".into()))
    } else {
        End::Gone("read failed")
    }
}
