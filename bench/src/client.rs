//! One simulated editor: a WebSocket and a `tandem_ot::Replica`, speaking
//! the protocol through the server's own encoders
//! (`tandem_server::protocol::client`).
//!
//! This is a leaner relative of `tandem_server::peer::Peer` (both are
//! built on the same replica), shaped for measuring rather than for
//! scripted tests: it reads frames without handling them
//! ([`SimClient::recv`], cancel-safe inside `select!`), skips decoding the
//! cursor and user messages it only counts, keeps no log of entries and
//! never reconnects (a disconnect is a measured failure), and can use
//! small socket buffers so that 10,000 idle connections fit in the load
//! generator's memory.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tandem_ot::{Applied, Replica, UserId};
use tandem_server::peer::PeerError;
use tandem_server::protocol::client::{self as wire, ServerMsg};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How to connect.
#[derive(Debug, Clone)]
pub struct JoinOptions {
    /// Name and colour for `Hello` (the web client always sends them;
    /// without a name a user is not announced, nor its cursor sent).
    pub info: Option<(String, u32)>,
    /// 4 KiB socket buffers instead of tungstenite's 128 KiB (idle mode).
    pub small_buffers: bool,
    /// `revision` of `Hello` (`None`: a fresh join, answered by a
    /// snapshot).
    pub revision: Option<u64>,
    /// Bound on the connection and each greeting message.
    pub wait: Duration,
}

/// What the server sent on joining.
#[derive(Debug, Clone, Default)]
pub struct Greeting {
    /// Bytes of every text frame of the greeting (identity to `OTP`).
    pub bytes: usize,
    /// Bytes of the catch-up frame (`Snapshot` or `History`).
    pub catch_up_bytes: usize,
    /// Which catch-up it was.
    pub catch_up: &'static str,
    /// Number of messages in the greeting.
    pub messages: usize,
    /// From starting the TCP connection to the `OTP` message.
    pub elapsed: Duration,
}

/// What one frame from the server meant.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// History entries: the authors of the others' entries in order, and
    /// the sequence number of our edit they acknowledged, if any.
    Entries {
        /// Authors of remote entries.
        remote: Vec<UserId>,
        /// Our acknowledged edit.
        acked: Option<u64>,
    },
    /// A `UserCursor` (not decoded).
    Cursor,
    /// A `UserInfo` (not decoded).
    UserInfo,
    /// An `Error` with this code; the connection stays open.
    Error(String),
    /// Anything else (language, OTP, ping).
    Other,
}

/// One simulated user of one document.
pub struct SimClient {
    /// The open socket.
    ws: Socket,
    /// The texts and the OT state machine.
    replica: Replica,
    /// Our user id.
    user: UserId,
}

/// The URL of document `doc`'s socket on `base` (`ws://host:port`).
pub fn socket_url(base: &str, doc: &str) -> String {
    format!("{base}/api/socket/{doc}")
}

/// Opens a socket to `url` without saying anything.
async fn open(url: &str, small_buffers: bool, wait: Duration) -> Result<Socket, PeerError> {
    let config = small_buffers.then(|| {
        WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0)
    });
    match timeout(
        wait,
        tokio_tungstenite::connect_async_with_config(url, config, true),
    )
    .await
    {
        Err(_) => Err(PeerError::Timeout),
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp))) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err(PeerError::Refused(resp.status().as_u16(), body))
        }
        Ok(Err(e)) => Err(PeerError::Io(e.to_string())),
    }
}

/// The next text frame (pings are answered by tungstenite itself).
async fn next_text(ws: &mut Socket, wait: Duration) -> Result<String, PeerError> {
    let read = async {
        loop {
            match ws.next().await {
                None => return Err(PeerError::Closed(1006, "connection dropped".into())),
                Some(Err(e)) => return Err(PeerError::Io(e.to_string())),
                Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
                Some(Ok(Message::Close(f))) => return Err(closed(f)),
                Some(Ok(_)) => continue,
            }
        }
    };
    timeout(wait, read).await.map_err(|_| PeerError::Timeout)?
}

fn closed(frame: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> PeerError {
    match frame {
        Some(f) => PeerError::Closed(u16::from(f.code), f.reason.to_string()),
        None => PeerError::Closed(1005, String::new()),
    }
}

/// Reads a greeting after `Hello` up to its last message (`OTP`),
/// calling `each` with every decoded message and its size.
async fn read_greeting(
    ws: &mut Socket,
    started: Instant,
    wait: Duration,
    mut each: impl FnMut(&ServerMsg, usize) -> Result<(), PeerError>,
) -> Result<Greeting, PeerError> {
    let mut g = Greeting::default();
    // A greeting is identity, catch-up, language, two messages per other
    // user and OTP; the bound only guards against a server that never
    // sends `OTP`.
    for _ in 0..1_000_000 {
        let text = next_text(ws, wait).await?;
        g.bytes += text.len();
        g.messages += 1;
        let msg = wire::decode(&text).map_err(PeerError::Protocol)?;
        match &msg {
            ServerMsg::Snapshot(_) => {
                g.catch_up = "Snapshot";
                g.catch_up_bytes = text.len();
            }
            ServerMsg::History(_) => {
                g.catch_up = "History";
                g.catch_up_bytes = text.len();
            }
            _ => {}
        }
        each(&msg, text.len())?;
        if matches!(msg, ServerMsg::Otp(_)) {
            g.elapsed = started.elapsed();
            return Ok(g);
        }
    }
    Err(PeerError::Protocol("greeting never ended".into()))
}

/// Joins document `doc` as a bystander and measures the greeting only
/// (for "what does a new joiner receive"); closes the socket after.
pub async fn probe_greeting(
    base: &str,
    doc: &str,
    options: &JoinOptions,
) -> Result<Greeting, PeerError> {
    let started = Instant::now();
    let mut ws = open(&socket_url(base, doc), false, options.wait).await?;
    let key = tandem_server::peer::random_key();
    let info = options.info.as_ref().map(|(n, h)| (n.as_str(), *h));
    send_text(
        &mut ws,
        wire::hello(&key, options.revision, None, info),
        options.wait,
    )
    .await?;
    let g = read_greeting(&mut ws, started, options.wait, |_, _| Ok(())).await?;
    let _ = timeout(Duration::from_secs(2), ws.close(None)).await;
    Ok(g)
}

async fn send_text(ws: &mut Socket, text: String, wait: Duration) -> Result<(), PeerError> {
    match timeout(wait, ws.send(Message::text(text))).await {
        Err(_) => Err(PeerError::Timeout),
        Ok(Err(e)) => Err(PeerError::Io(e.to_string())),
        Ok(Ok(())) => Ok(()),
    }
}

impl SimClient {
    /// Connects to `doc`, says `Hello` with a fresh identity and reads the
    /// greeting (a fresh join: the catch-up is a snapshot).
    pub async fn join(
        base: &str,
        doc: &str,
        options: &JoinOptions,
    ) -> Result<SimClient, PeerError> {
        let started = Instant::now();
        let mut ws = open(&socket_url(base, doc), options.small_buffers, options.wait).await?;
        let key = tandem_server::peer::random_key();
        let info = options.info.as_ref().map(|(n, h)| (n.as_str(), *h));
        send_text(&mut ws, wire::hello(&key, None, None, info), options.wait).await?;
        let mut user = None;
        let mut replica = None;
        read_greeting(&mut ws, started, options.wait, |msg, _| {
            match msg {
                ServerMsg::Identity(u) => user = Some(*u),
                ServerMsg::Snapshot(s) => replica = Some(Replica::new(&s.text, s.revision)),
                ServerMsg::History(_) => {
                    return Err(PeerError::Protocol("History for a fresh join".into()))
                }
                _ => {}
            }
            Ok(())
        })
        .await?;
        let user = user.ok_or_else(|| PeerError::Protocol("no Identity".into()))?;
        let mut replica = replica.ok_or_else(|| PeerError::Protocol("no Snapshot".into()))?;
        // A simulated client never reconnects, so it has no lost edits to
        // resurrect: no log of entries, and no inverses computed per entry.
        replica.set_log_capacity(0);
        replica.identified(user);
        // Nothing is pending on a fresh join, so there is nothing to resend.
        let _ = replica.resume();
        Ok(SimClient { ws, replica, user })
    }

    /// Our user id in the document.
    pub fn user(&self) -> UserId {
        self.user
    }

    /// The local text.
    pub fn text(&self) -> String {
        self.replica.text().to_string()
    }

    /// Length of the local text in code points.
    pub fn len(&self) -> usize {
        self.replica.text().len_chars()
    }

    /// The server revision the replica has.
    pub fn revision(&self) -> u64 {
        self.replica.revision()
    }

    /// Whether every local edit is acknowledged.
    pub fn is_synchronized(&self) -> bool {
        self.replica.is_synchronized()
    }

    /// Replaces `delete` code points at `pos` with `insert` (clamped to
    /// the text), locally at once; sent at once when nothing else is in
    /// flight, otherwise buffered by the state machine. Returns the
    /// sequence number sent, if one was.
    pub async fn splice(
        &mut self,
        pos: usize,
        delete: usize,
        insert: &str,
        wait: Duration,
    ) -> Result<Option<u64>, PeerError> {
        let len = self.len();
        let pos = pos.min(len);
        let delete = delete.min(len - pos);
        let submission = self
            .replica
            .splice(pos, delete, insert)
            .map_err(|e| PeerError::Protocol(format!("local edit: {e}")))?;
        match submission {
            Some(s) => {
                let seq = s.seq;
                self.send(wire::edit(s.revision, s.seq, &s.operation), wait)
                    .await?;
                Ok(Some(seq))
            }
            None => Ok(None),
        }
    }

    /// Sends our caret at local position `pos` (mapped to the server text
    /// at our revision, as the web client does).
    pub async fn send_cursor(&mut self, pos: usize, wait: Duration) -> Result<(), PeerError> {
        let remote = self
            .replica
            .local_index_to_remote(pos.min(self.len()))
            .map_err(|e| PeerError::Protocol(e.to_string()))?;
        let revision = self.replica.revision();
        self.send(wire::cursor(&[remote], &[], Some(revision)), wait)
            .await
    }

    /// Sends a raw message (built with `protocol::client`).
    pub async fn send(&mut self, text: String, wait: Duration) -> Result<(), PeerError> {
        send_text(&mut self.ws, text, wait).await
    }

    /// The next frame, unhandled. Cancel-safe: use it inside `select!`,
    /// then pass the result to [`SimClient::handle`].
    pub async fn recv(&mut self) -> Option<Result<Message, String>> {
        self.ws.next().await.map(|r| r.map_err(|e| e.to_string()))
    }

    /// Handles a frame from [`SimClient::recv`].
    pub async fn handle(
        &mut self,
        frame: Option<Result<Message, String>>,
        wait: Duration,
    ) -> Result<Incoming, PeerError> {
        let text = match frame {
            None => return Err(PeerError::Closed(1006, "connection dropped".into())),
            Some(Err(e)) => return Err(PeerError::Io(e)),
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(f))) => return Err(closed(f)),
            Some(Ok(_)) => return Ok(Incoming::Other),
        };
        let text = text.as_str();
        // Cursors and user infos are the bulk of the traffic with many
        // users; they are counted, not decoded.
        if text.starts_with(r#"{"UserCursor""#) {
            return Ok(Incoming::Cursor);
        }
        if text.starts_with(r#"{"UserInfo""#) {
            return Ok(Incoming::UserInfo);
        }
        match wire::decode(text).map_err(PeerError::Protocol)? {
            ServerMsg::History(h) => self.apply_history(h, wait).await,
            ServerMsg::Error(e) => Ok(Incoming::Error(e.code)),
            ServerMsg::Snapshot(_) | ServerMsg::Identity(_) => Err(PeerError::Protocol(
                "unexpected Snapshot/Identity after the greeting".into(),
            )),
            _ => Ok(Incoming::Other),
        }
    }

    /// Waits (at most `wait`) for one frame and handles it.
    pub async fn next(&mut self, wait: Duration) -> Result<Incoming, PeerError> {
        let frame = timeout(wait, self.recv())
            .await
            .map_err(|_| PeerError::Timeout)?;
        self.handle(frame, wait).await
    }

    /// Handles frames until every local edit is acknowledged, and then
    /// until the replica reaches `revision`; at most `wait` in all.
    pub async fn settle(&mut self, revision: u64, wait: Duration) -> Result<(), PeerError> {
        let deadline = Instant::now() + wait;
        while !self.is_synchronized() || self.revision() < revision {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(PeerError::Timeout);
            }
            self.next(left).await?;
        }
        Ok(())
    }

    /// Closes politely (bounded).
    pub async fn close(mut self) {
        let _ = timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }

    async fn apply_history(
        &mut self,
        h: wire::HistoryMsg,
        wait: Duration,
    ) -> Result<Incoming, PeerError> {
        let mut remote = Vec::new();
        let mut acked = None;
        let mut next = None;
        for (revision, entry) in (h.start..).zip(h.operations) {
            let applied = self
                .replica
                .receive_at(revision, entry.id, &entry.operation)
                .map_err(|e| PeerError::Protocol(format!("history entry {revision}: {e}")))?;
            match applied {
                Some(Applied::Acknowledged {
                    seq,
                    next: submission,
                }) => {
                    acked = Some(seq);
                    next = submission;
                }
                Some(Applied::Remote(_)) => remote.push(entry.id),
                None => {}
            }
        }
        if let Some(s) = next {
            self.send(wire::edit(s.revision, s.seq, &s.operation), wait)
                .await?;
        }
        Ok(Incoming::Entries { remote, acked })
    }
}
