//! The WebSocket upgrade and the socket type [`connection`](crate::connection)
//! reads and writes.
//!
//! This replaces `warp::ws()` because warp's `Ws` cannot set tungstenite's
//! `read_buffer_size`: its 128 KiB default is allocated for every socket
//! and touched on the first read, which made an idle connection cost
//! about 136 KiB (docs/benchmarks.md, row d). Here the upgrade is answered
//! the way warp does it (same checks, same 101 reply), and the upgraded
//! connection is wrapped with a [`WebSocketConfig`] chosen by the caller.
//!
//! [`WebSocket`] and [`Message`] have the small part of warp's API the
//! connection code uses, so that code does not depend on which library
//! performed the upgrade.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_util::{Sink, Stream};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::{self, Role};
use tokio_tungstenite::WebSocketStream;
use warp::http::header::{self, HeaderMap, HeaderValue};
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

pub use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

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
    /// connection becomes a [`WebSocket`] with `config` and is given to
    /// `serve` on a task of its own. If the upgrade never completes (the
    /// client went away), `serve` is dropped without being called.
    pub fn accept<F, U>(self, config: WebSocketConfig, serve: F) -> warp::reply::Response
    where
        F: FnOnce(WebSocket) -> U + Send + 'static,
        U: Future<Output = ()> + Send + 'static,
    {
        match self.on_upgrade {
            Some(on_upgrade) => {
                tokio::spawn(async move {
                    match on_upgrade.await {
                        Ok(upgraded) => {
                            let inner = WebSocketStream::from_raw_socket(
                                TokioIo::new(upgraded),
                                Role::Server,
                                Some(config),
                            )
                            .await;
                            serve(WebSocket { inner }).await;
                        }
                        Err(e) => tracing::debug!("WebSocket upgrade failed: {e}"),
                    }
                });
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

/// An upgraded connection: a `Stream` of received messages and a `Sink`
/// for messages to send. Pings are answered as they are read.
pub struct WebSocket {
    inner: WebSocketStream<TokioIo<Upgraded>>,
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
        Pin::new(&mut self.inner).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        Pin::new(&mut self.inner).start_send(item.inner)
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

    #[test]
    fn refuses_each_missing_header() {
        for i in 0..VALID.len() {
            let mut pairs = VALID.to_vec();
            pairs.remove(i);
            assert!(check(&request(&pairs)).is_err(), "{pairs:?}");
        }
    }
}
