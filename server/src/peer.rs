//! A native client of the protocol: one simulated user with the OT client
//! state machine and a local replica of the text, which reconnects with
//! its identity and resends what is pending. The load generator and the
//! chaos and crash tests drive the real server with it; the browser does
//! the same in TypeScript.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tandem_ot::{Applied, Operation, Replica, Submission, UserId};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::protocol::client::{self as wire, ServerMsg};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What can go wrong talking to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerError {
    /// The upgrade was refused with this HTTP status and body.
    Refused(u16, String),
    /// The server closed the socket with this code and reason (1006: the
    /// connection dropped without a close frame).
    Closed(u16, String),
    /// Not connected.
    NotConnected,
    /// Nothing arrived in time.
    Timeout,
    /// The server said something this client cannot follow.
    Protocol(String),
    /// Network failure.
    Io(String),
}

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerError::Refused(status, body) => write!(f, "refused with HTTP {status}: {body}"),
            PeerError::Closed(code, reason) => write!(f, "closed {code}: {reason}"),
            PeerError::NotConnected => f.write_str("not connected"),
            PeerError::Timeout => f.write_str("timed out"),
            PeerError::Protocol(e) => write!(f, "protocol error: {e}"),
            PeerError::Io(e) => write!(f, "network error: {e}"),
        }
    }
}

impl std::error::Error for PeerError {}

/// What one message from the server meant.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A `History` message was applied. One message can carry both our
    /// acknowledgements and others' edits, so both are reported.
    Entries {
        /// Sequence numbers of our edits it acknowledged, in order.
        acked: Vec<u64>,
        /// Authors of the other entries, in order.
        remote: Vec<UserId>,
    },
    /// Anything else (metadata, errors), decoded.
    Other(ServerMsg),
}

/// The replica and the epoch it belongs to, which outlive connections.
struct Joined {
    /// The texts and the OT state machine.
    replica: Replica,
    /// The document epoch the revision belongs to (from the last
    /// `Snapshot`), sent back with `Hello`.
    epoch: String,
}

/// One simulated user of one document.
pub struct Peer {
    /// `ws://host:port` plus any base path, without a trailing slash.
    base: String,
    /// The document id.
    doc: String,
    /// The OTP, if the document is protected.
    otp: Option<String>,
    /// The client identity (a secret), kept across reconnects.
    pub key: String,
    /// Name and colour sent with `Hello`.
    info: Option<(String, u32)>,
    /// The open socket.
    socket: Option<Socket>,
    /// The text and OT state; `None` until the first join.
    joined: Option<Joined>,
    /// Our user id.
    user: Option<UserId>,
    /// An edit to send as soon as the current message is handled: the
    /// buffered edit that became outstanding with an acknowledgement.
    pending_send: Option<String>,
}

impl Peer {
    /// A peer of document `doc` on the server at `base` (`ws://host:port`),
    /// with a fresh random identity.
    pub fn new(base: &str, doc: &str, otp: Option<&str>) -> Peer {
        Peer {
            base: base.trim_end_matches('/').to_owned(),
            doc: doc.to_owned(),
            otp: otp.map(str::to_owned),
            key: random_key(),
            info: None,
            socket: None,
            joined: None,
            user: None,
            pending_send: None,
        }
    }

    /// Sets the name and colour announced in `Hello`.
    pub fn with_info(mut self, name: &str, hue: u32) -> Peer {
        self.info = Some((name.to_owned(), hue));
        self
    }

    /// Our user id, once joined.
    pub fn user(&self) -> Option<UserId> {
        self.user
    }

    /// Whether a socket is open.
    pub fn is_connected(&self) -> bool {
        self.socket.is_some()
    }

    /// The local text.
    pub fn text(&self) -> String {
        self.joined
            .as_ref()
            .map(|j| j.replica.text().to_string())
            .unwrap_or_default()
    }

    /// Length of the local text in code points.
    pub fn len(&self) -> usize {
        self.joined
            .as_ref()
            .map_or(0, |j| j.replica.text().len_chars())
    }

    /// Whether the local text is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The server revision the replica is at.
    pub fn revision(&self) -> u64 {
        self.joined.as_ref().map_or(0, |j| j.replica.revision())
    }

    /// Whether every local edit is acknowledged.
    pub fn is_synchronized(&self) -> bool {
        self.joined
            .as_ref()
            .is_none_or(|j| j.replica.is_synchronized())
    }

    /// Opens a socket, says `Hello` (with our revision when we have one),
    /// processes the catch-up and resends what is outstanding.
    pub async fn connect(&mut self, wait: Duration) -> Result<(), PeerError> {
        self.socket = None;
        if let Some(j) = &mut self.joined {
            j.replica.disconnected();
        }
        let mut url = format!("{}/api/socket/{}", self.base, self.doc);
        if let Some(otp) = &self.otp {
            url.push_str("?otp=");
            url.push_str(otp);
        }
        let socket = match timeout(wait, tokio_tungstenite::connect_async(url.as_str())).await {
            Err(_) => return Err(PeerError::Timeout),
            Ok(Ok((socket, _))) => socket,
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp))) => {
                let body = resp
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                return Err(PeerError::Refused(resp.status().as_u16(), body));
            }
            Ok(Err(e)) => return Err(PeerError::Io(e.to_string())),
        };
        self.socket = Some(socket);
        let hello = {
            let revision = self.joined.as_ref().map(|j| j.replica.revision());
            let epoch = self.joined.as_ref().map(|j| j.epoch.as_str());
            let info = self.info.as_ref().map(|(n, h)| (n.as_str(), *h));
            wire::hello(&self.key, revision, epoch, info)
        };
        self.send(hello).await?;
        match self.recv(wait).await? {
            ServerMsg::Identity(user) => self.user = Some(user),
            other => {
                return Err(PeerError::Protocol(format!(
                    "expected Identity, got {other:?}"
                )))
            }
        }
        let user = self.user.unwrap_or_default();
        match self.recv(wait).await? {
            ServerMsg::History(h) => {
                if self.joined.is_none() {
                    return Err(PeerError::Protocol("History for a fresh join".into()));
                }
                self.apply_history(h.start, h.operations)?;
            }
            ServerMsg::Snapshot(s) => match &mut self.joined {
                // Further behind than the server's history, or the server
                // lost edits we saw (a crash): keep our pending edits by
                // rebasing them onto the snapshot.
                Some(j) => {
                    j.replica
                        .rebase(&s.text, s.revision, s.last_seq)
                        .map_err(|e| PeerError::Protocol(format!("rebase: {e}")))?;
                    j.epoch = s.epoch;
                }
                None => {
                    self.joined = Some(Joined {
                        replica: Replica::new(&s.text, s.revision),
                        epoch: s.epoch,
                    });
                }
            },
            other => {
                return Err(PeerError::Protocol(format!(
                    "expected a catch-up, got {other:?}"
                )))
            }
        }
        let replica = &mut self.joined.as_mut().ok_or(PeerError::NotConnected)?.replica;
        replica.identified(user);
        if let Some(s) = replica.resume() {
            self.submit(s).await?;
        }
        Ok(())
    }

    /// Drops the connection (as a network failure would); pending edits
    /// are kept for the next [`Peer::connect`].
    pub fn disconnect(&mut self) {
        self.socket = None;
        if let Some(j) = &mut self.joined {
            j.replica.disconnected();
        }
    }

    /// Closes the connection politely.
    pub async fn close(&mut self) {
        if let Some(mut s) = self.socket.take() {
            let _ = timeout(Duration::from_secs(2), s.close(None)).await;
        }
        if let Some(j) = &mut self.joined {
            j.replica.disconnected();
        }
    }

    /// A local edit: applied to the replica at once, sent when nothing
    /// else is in flight (otherwise buffered). Works offline too.
    pub async fn edit(&mut self, op: Operation) -> Result<(), PeerError> {
        let replica = &mut self.joined.as_mut().ok_or(PeerError::NotConnected)?.replica;
        let submission = replica
            .apply_local(op)
            .map_err(|e| PeerError::Protocol(format!("local edit: {e}")))?;
        match submission {
            Some(s) if self.socket.is_some() => self.submit(s).await,
            _ => Ok(()),
        }
    }

    /// [`Peer::edit`] of "replace `delete` code points at `pos` with
    /// `insert`" (positions clamped to the text).
    pub async fn splice(
        &mut self,
        pos: usize,
        delete: usize,
        insert: &str,
    ) -> Result<(), PeerError> {
        let len = self.len();
        let pos = pos.min(len);
        let delete = delete.min(len - pos);
        let op = Operation::splice(len, pos, delete, insert)
            .map_err(|e| PeerError::Protocol(e.to_string()))?;
        self.edit(op).await
    }

    /// Sends raw text (cursor or info messages built with
    /// [`crate::protocol::client`]).
    pub async fn send(&mut self, text: String) -> Result<(), PeerError> {
        let socket = self.socket.as_mut().ok_or(PeerError::NotConnected)?;
        let sent = socket.send(Message::text(text)).await;
        sent.map_err(|e| {
            self.socket = None;
            PeerError::Io(e.to_string())
        })
    }

    /// Reads and handles one message, waiting at most `wait`.
    pub async fn next(&mut self, wait: Duration) -> Result<Event, PeerError> {
        match self.recv(wait).await? {
            ServerMsg::History(h) => {
                let own = self.user;
                let authors: Vec<UserId> = h.operations.iter().map(|e| e.id).collect();
                let acked = self.apply_history(h.start, h.operations)?;
                if let Some(text) = self.pending_send.take() {
                    self.send(text).await?;
                }
                let remote = authors.into_iter().filter(|a| Some(*a) != own).collect();
                Ok(Event::Entries { acked, remote })
            }
            other => Ok(Event::Other(other)),
        }
    }

    /// Handles messages until every local edit is acknowledged.
    pub async fn sync(&mut self, wait: Duration) -> Result<(), PeerError> {
        let deadline = tokio::time::Instant::now() + wait;
        while !self.is_synchronized() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(PeerError::Timeout);
            }
            self.next(left).await?;
        }
        Ok(())
    }

    /// Handles messages until the replica reaches `revision`.
    pub async fn catch_up(&mut self, revision: u64, wait: Duration) -> Result<(), PeerError> {
        let deadline = tokio::time::Instant::now() + wait;
        while self.revision() < revision {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(PeerError::Timeout);
            }
            self.next(left).await?;
        }
        Ok(())
    }

    /// Applies history entries (skipping ones already seen); returns the
    /// sequence numbers of our edits they acknowledged.
    fn apply_history(
        &mut self,
        start: u64,
        entries: Vec<wire::EntryMsg>,
    ) -> Result<Vec<u64>, PeerError> {
        let replica = &mut self.joined.as_mut().ok_or(PeerError::NotConnected)?.replica;
        let mut acked = Vec::new();
        let mut next = Vec::new();
        for (revision, entry) in (start..).zip(entries) {
            let applied = replica
                .receive_at(revision, entry.id, &entry.operation)
                .map_err(|e| PeerError::Protocol(format!("history entry {revision}: {e}")))?;
            if let Some(Applied::Acknowledged {
                seq,
                next: submission,
            }) = applied
            {
                acked.push(seq);
                next.extend(submission);
            }
        }
        // At most one submission can follow (the buffer becoming
        // outstanding); the caller sends it.
        if let Some(s) = next.pop() {
            self.pending_send = Some(wire::edit(s.revision, s.seq, &s.operation));
        }
        Ok(acked)
    }

    async fn submit(&mut self, s: Submission) -> Result<(), PeerError> {
        self.send(wire::edit(s.revision, s.seq, &s.operation)).await
    }

    /// The next decoded message.
    async fn recv(&mut self, wait: Duration) -> Result<ServerMsg, PeerError> {
        let socket = self.socket.as_mut().ok_or(PeerError::NotConnected)?;
        let result = timeout(wait, async {
            loop {
                match socket.next().await {
                    None => return Err(PeerError::Closed(1006, "connection dropped".into())),
                    Some(Err(e)) => return Err(PeerError::Io(e.to_string())),
                    Some(Ok(Message::Text(t))) => {
                        return wire::decode(&t).map_err(PeerError::Protocol)
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return Err(match frame {
                            Some(f) => PeerError::Closed(u16::from(f.code), f.reason.to_string()),
                            None => PeerError::Closed(1005, String::new()),
                        })
                    }
                    Some(Ok(_)) => continue,
                }
            }
        })
        .await;
        match result {
            Err(_) => Err(PeerError::Timeout),
            Ok(Err(e)) => {
                self.disconnect();
                Err(e)
            }
            Ok(Ok(msg)) => Ok(msg),
        }
    }
}

/// A fresh random client identity: 22 URL-safe characters from the OS
/// random source.
pub fn random_key() -> String {
    let mut bytes = [0u8; 16];
    let _ = getrandom::getrandom(&mut bytes);
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
