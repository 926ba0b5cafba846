//! The WebSocket upgrade and the socket type [`connection`](crate::connection)
//! reads and writes.
//!
//! This replaces `warp::ws()` because warp's `Ws` cannot set tungstenite's
//! buffer sizes: its 128 KiB read buffer is allocated for every socket and
//! touched on the first read, which made an idle connection cost about
//! 136 KiB (docs/benchmarks.md, row d). Here the upgrade is answered the
//! way warp does it (same checks, same 101 reply), and the upgraded
//! connection gets a 1 KiB read buffer and no write buffer of its own
//! between messages (see [`Batched`]).
//!
//! [`WebSocket`] and [`Message`] have the small part of warp's API the
//! connection code uses, so that code does not depend on which library
//! performed the upgrade.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_util::{FutureExt, Sink, Stream, TryFutureExt};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::{self, Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use warp::http::header::{self, HeaderMap, HeaderValue};
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

/// Each socket's read buffer, and the most one `read(2)` asks for.
/// tungstenite allocates it when the socket opens and zero-fills it before
/// reads, so it is resident for every connection, idle or not. Client
/// messages are small (an edit, a cursor: about 100 B); one larger than
/// the buffer is read in several calls, into a buffer grown to its size.
const READ_BUFFER_BYTES: usize = 1024;

/// Most bytes [`Batched`] collects before writing them without waiting
/// for the flush: tungstenite's own default write buffer size.
const MAX_BATCH_BYTES: usize = 128 * 1024;

/// The configuration of every server socket; `max_frame` bounds frames
/// and messages.
fn config(max_frame: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        // Each frame goes straight on to `Batched`, which collects them
        // until the flush; tungstenite's own buffer then never holds more
        // than the frame being written.
        .write_buffer_size(0)
        .max_message_size(Some(max_frame))
        .max_frame_size(Some(max_frame))
}

/// Errors reading or writing a socket (tungstenite's; the same errors,
/// with the same texts, that warp's socket wrapped).
pub type Error = tokio_tungstenite::tungstenite::Error;

/// A request that is not a well-formed WebSocket upgrade; answered 400.
#[derive(Debug)]
pub struct NotAnUpgrade(&'static str);

impl fmt::Display for NotAnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a WebSocket upgrade: {}", self.0)
    }
}

impl warp::reject::Reject for NotAnUpgrade {}

/// A valid upgrade request, extracted by [`upgrade`]; finished with
/// [`Upgrade::accept`].
pub struct Upgrade {
    /// `Sec-WebSocket-Accept` for the reply.
    accept: String,
    /// hyper's handle on the connection once the 101 has been sent.
    /// `None` when the connection cannot be upgraded (not HTTP/1.1).
    on_upgrade: Option<OnUpgrade>,
}

impl fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgrade").finish_non_exhaustive()
    }
}

/// Accepts a request only if it asks for a WebSocket upgrade, with the
/// checks of `warp::ws()`: `Connection` lists `upgrade`, `Upgrade` is
/// `websocket` (any case), `Sec-WebSocket-Version` is `13`, and
/// `Sec-WebSocket-Key` is present. Anything else is rejected with
/// [`NotAnUpgrade`]. The method is the caller's to check.
pub fn upgrade() -> impl Filter<Extract = (Upgrade,), Error = Rejection> + Clone {
    warp::header::headers_cloned()
        .and(warp::ext::optional::<OnUpgrade>())
        .and_then(
            |headers: HeaderMap, on_upgrade: Option<OnUpgrade>| async move {
                check(&headers)
                    .map(|accept| Upgrade { accept, on_upgrade })
                    .map_err(warp::reject::custom)
            },
        )
}

/// The `Sec-WebSocket-Accept` value for a valid upgrade request.
fn check(headers: &HeaderMap) -> Result<String, NotAnUpgrade> {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if !connection_upgrade {
        return Err(NotAnUpgrade("Connection does not include upgrade"));
    }
    let websocket = headers
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if !websocket {
        return Err(NotAnUpgrade("Upgrade is not websocket"));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v != "13")
    {
        return Err(NotAnUpgrade("Sec-WebSocket-Version is not 13"));
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or(NotAnUpgrade("no Sec-WebSocket-Key"))?;
    Ok(derive_accept_key(key.as_bytes()))
}

impl Upgrade {
    /// The `101 Switching Protocols` reply. Once it has been sent, the
    /// connection becomes a [`WebSocket`] that takes frames and messages
    /// of up to `max_frame` bytes, and is given to `serve` on a task of
    /// its own. If the upgrade never completes (the client went away),
    /// `serve` is dropped without being called.
    pub fn accept<F, U>(self, max_frame: usize, serve: F) -> warp::reply::Response
    where
        F: FnOnce(WebSocket) -> U + Send + 'static,
        U: Future<Output = ()> + Send + 'static,
    {
        match self.on_upgrade {
            Some(on_upgrade) => {
                // Stages chained with combinators rather than one async
                // block: each stage's state (and `serve` itself) is gone
                // once the next one runs, so the task, which lives as long
                // as the connection, is no larger than `serve`'s future.
                let task = on_upgrade
                    .map_err(|e| tracing::debug!("WebSocket upgrade failed: {e}"))
                    .and_then(move |upgraded| {
                        let io = Batched::new(TokioIo::new(upgraded));
                        WebSocketStream::from_raw_socket(io, Role::Server, Some(config(max_frame)))
                            .map(Ok)
                    })
                    .and_then(move |inner| serve(WebSocket { inner }).map(Ok))
                    .map(|_: Result<(), ()>| ());
                tokio::spawn(task);
            }
            None => tracing::debug!("WebSocket upgrade impossible on this connection"),
        }
        let mut reply = warp::reply().into_response();
        *reply.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = reply.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&self.accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        reply
    }
}

/// The upgraded connection under tungstenite, which hands it each frame
/// as it is sent. Between a [`WebSocket`] send and the next flush those
/// frames are collected and go out in one write on the flush (what
/// tungstenite's own write buffer did), and the buffer is freed after it:
/// tungstenite keeps its write buffer's capacity for good, which for a
/// connection that was once sent a batch (a joiner is sent every other
/// user at once) stayed allocated while it idled. Writes outside a send
/// (the pongs and close replies tungstenite sends while reading) go
/// straight to the socket, as before.
struct Batched<S> {
    io: S,
    /// Collected bytes; empty and unallocated after a flush.
    buf: Vec<u8>,
    /// How much of `buf` has been written.
    written: usize,
    /// Whether writes are collected: from a send until the next flush.
    collecting: bool,
}

impl<S> Batched<S> {
    fn new(io: S) -> Batched<S> {
        Batched {
            io,
            buf: Vec::new(),
            written: 0,
            collecting: false,
        }
    }
}

impl<S: AsyncWrite + Unpin> Batched<S> {
    /// Writes out everything collected.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.buf[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.buf.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S> Batched<S> {
    /// Appends a final, unmasked text frame carrying `text` to the batch
    /// (RFC 6455, section 5.2: a server's frames are never masked).
    ///
    /// Text messages are framed here rather than by tungstenite because
    /// tungstenite formats each frame into a buffer of its own first, and
    /// that buffer keeps the capacity of the largest frame it ever held:
    /// every joiner of a 200 KB document kept 200 KB for as long as it
    /// stayed connected (docs/benchmarks.md, row c′). Here the frame goes
    /// straight into the batch, which is freed on the flush — and the
    /// text is copied once instead of twice.
    fn push_text_frame(&mut self, text: &[u8]) {
        const FIN_TEXT: u8 = 0x81;
        let len = text.len();
        self.buf.reserve(len + 10);
        self.buf.push(FIN_TEXT);
        match u16::try_from(len) {
            Ok(short) if short < 126 => self.buf.push(short as u8),
            Ok(medium) => {
                self.buf.push(126);
                self.buf.extend_from_slice(&medium.to_be_bytes());
            }
            Err(_) => {
                self.buf.push(127);
                self.buf.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        self.buf.extend_from_slice(text);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Batched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Batched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if !self.collecting || self.buf.len() + data.len() > MAX_BATCH_BYTES {
            ready!(self.poll_drain(cx))?;
        }
        if !self.collecting || data.len() >= MAX_BATCH_BYTES {
            // Nothing is collected at this point, so the order is kept.
            return Pin::new(&mut self.io).poll_write(cx, data);
        }
        self.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        self.collecting = false;
        self.buf = Vec::new();
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// An upgraded connection: a `Stream` of received messages and a `Sink`
/// for messages to send. Pings are answered as they are read.
pub struct WebSocket {
    inner: WebSocketStream<Batched<TokioIo<Upgraded>>>,
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket").finish_non_exhaustive()
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(Pin::new(&mut self.inner).poll_next(cx));
        Poll::Ready(item.map(|r| r.map(|inner| Message { inner })))
    }
}

impl Sink<Message> for WebSocket {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(Pin::new(&mut self.inner).poll_ready(cx))?;
        // A batch already this large is written out before more is added.
        let io = self.inner.get_mut();
        if io.buf.len() >= MAX_BATCH_BYTES {
            ready!(io.poll_drain(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        // Collected until the flush (`Batched`).
        let io = self.inner.get_mut();
        io.collecting = true;
        match item.inner {
            // Framed here (see `push_text_frame`). The order is kept:
            // after `poll_ready`, tungstenite holds no unwritten frame
            // (its own buffer is written through at once, as its write
            // buffer size is 0, and `poll_ready` finishes a blocked write).
            protocol::Message::Text(text) => {
                io.push_text_frame(text.as_bytes());
                Ok(())
            }
            other => Pin::new(&mut self.inner).start_send(other),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// One WebSocket message.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    inner: protocol::Message,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Message {
        Message {
            inner: protocol::Message::text(text.into()),
        }
    }

    /// A ping with this payload.
    pub fn ping(payload: impl Into<Vec<u8>>) -> Message {
        Message {
            inner: protocol::Message::Ping(payload.into().into()),
        }
    }

    /// A close message with a code and a reason.
    pub fn close_with(code: u16, reason: impl Into<String>) -> Message {
        Message {
            inner: protocol::Message::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into().into(),
            })),
        }
    }

    /// Whether this is a close message.
    pub fn is_close(&self) -> bool {
        self.inner.is_close()
    }

    /// Whether this is a ping.
    pub fn is_ping(&self) -> bool {
        self.inner.is_ping()
    }

    /// Whether this is a pong.
    pub fn is_pong(&self) -> bool {
        self.inner.is_pong()
    }

    /// The text of a text message; `Err` for any other kind (binary
    /// messages are not text, even when they are valid UTF-8).
    #[allow(clippy::result_unit_err)]
    pub fn to_str(&self) -> Result<&str, ()> {
        match &self.inner {
            protocol::Message::Text(text) => Ok(text.as_str()),
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    const VALID: [(&str, &str); 4] = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn accepts_the_rfc_example_and_derives_its_accept_key() {
        // RFC 6455, section 1.3.
        assert_eq!(
            check(&request(&VALID)).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn connection_upgrade_may_be_in_any_connection_header() {
        let mut pairs = VALID.to_vec();
        pairs[0] = ("connection", "keep-alive");
        pairs.push(("connection", "upgrade"));
        assert!(check(&request(&pairs)).is_ok());
    }

    #[test]
    fn refuses_each_wrong_header() {
        for (i, wrong) in ["close", "h2c", "8"].into_iter().enumerate() {
            let mut pairs = VALID.to_vec();
            pairs[i].1 = wrong;
            assert!(check(&request(&pairs)).is_err(), "{pairs:?}");
        }
    }

    /// What the other end has received so far.
    async fn received(peer: &mut tokio::io::DuplexStream) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let mut out = vec![0; 1 << 20];
        match tokio::time::timeout(std::time::Duration::from_millis(50), peer.read(&mut out)).await
        {
            Ok(n) => out.truncate(n.unwrap()),
            Err(_) => out.clear(),
        }
        out
    }

    #[tokio::test]
    async fn sends_are_collected_until_the_flush_and_the_buffer_is_freed() {
        use tokio::io::AsyncWriteExt;
        let (io, mut peer) = tokio::io::duplex(1 << 20);
        let mut b = Batched::new(io);
        b.collecting = true;
        b.write_all(b"one ").await.unwrap();
        b.write_all(b"two").await.unwrap();
        assert_eq!(received(&mut peer).await, b"");
        b.flush().await.unwrap();
        assert_eq!(received(&mut peer).await, b"one two");
        assert!(!b.collecting);
        assert_eq!(b.buf.capacity(), 0);
    }

    #[tokio::test]
    async fn other_writes_go_straight_through() {
        use tokio::io::AsyncWriteExt;
        let (io, mut peer) = tokio::io::duplex(1 << 20);
        let mut b = Batched::new(io);
        b.write_all(b"pong").await.unwrap();
        assert_eq!(received(&mut peer).await, b"pong");
        assert_eq!(b.buf.capacity(), 0);
    }

    #[tokio::test]
    async fn a_large_batch_is_written_before_the_flush_in_order() {
        use tokio::io::AsyncWriteExt;
        let (io, mut peer) = tokio::io::duplex(4 << 20);
        let mut b = Batched::new(io);
        b.collecting = true;
        let small = vec![1u8; MAX_BATCH_BYTES - 10];
        let large = vec![2u8; MAX_BATCH_BYTES];
        b.write_all(&small).await.unwrap();
        b.write_all(&[3u8; 20]).await.unwrap();
        b.write_all(&large).await.unwrap();
        b.write_all(b"end").await.unwrap();
        b.flush().await.unwrap();
        let mut all = Vec::new();
        loop {
            let got = received(&mut peer).await;
            if got.is_empty() {
                break;
            }
            all.extend(got);
        }
        let expected = [small, vec![3u8; 20], large, b"end".to_vec()].concat();
        assert!(
            all == expected,
            "{} bytes, expected {}",
            all.len(),
            expected.len()
        );
    }

    #[test]
    fn text_frames_are_formatted_as_tungstenite_formats_them() {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        for len in [0, 1, 125, 126, 127, 65_535, 65_536, 200_000] {
            let text: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let mut b = Batched::new(());
            b.push_text_frame(&text);
            let mut expected = Vec::new();
            Frame::message(text, OpCode::Data(Data::Text), true)
                .format(&mut expected)
                .unwrap();
            assert!(b.buf == expected, "length {len}");
        }
    }

    #[test]
    fn refuses_each_missing_header() {
        for i in 0..VALID.len() {
            let mut pairs = VALID.to_vec();
            pairs.remove(i);
            assert!(check(&request(&pairs)).is_err(), "{pairs:?}");
        }
    }
}
