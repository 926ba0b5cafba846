//! Tandem's operational-transformation core.
//!
//! Everything that decides what a document's text *is* lives here, once,
//! and runs both natively in the server and as WASM in every browser.
//! The crate does no IO, holds no `unsafe`, and returns an [`OtError`]
//! instead of panicking on any input, because much of its input arrives
//! from the network.
//!
//! # Layout
//!
//! - [`operation`]: [`Operation`] and [`Component`] — the canonical
//!   retain / insert / delete sequence, its builder, `apply` and `invert`
//!   on plain strings.
//! - `compose`, `transform`: [`Operation::compose`] and
//!   [`Operation::transform`] (with the insert tie-break documented there).
//! - `cursor`: [`Operation::transform_index`] and
//!   [`Operation::transform_index_back`] for cursors and selections.
//! - [`text`]: [`Text`], the rope-backed document the server edits in
//!   O(log n + edit size).
//! - [`client`]: the sans-IO client state machine ([`Client`]).
//! - [`replica`]: [`Replica`], a client's local text and server text
//!   kept in step with its [`Client`] — what every client (browser, test
//!   peer, load generator) is built on.
//! - [`diff`]: the operation between two texts (for rebasing onto a
//!   snapshot).
//! - `json` (feature `serde`, on by default): the wire form
//!   `[10, "hello", -3]`.
//!
//! All lengths and positions count Unicode code points (Rust `char`s).
//! Converting from UTF-16 offsets, which browsers use, is the WASM edge's
//! job, not this crate's.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
mod compose;
mod cursor;
pub mod diff;
mod error;
#[cfg(feature = "serde")]
mod json;
pub mod operation;
mod parts;
pub mod replica;
pub mod text;
mod transform;
pub mod wire;

pub use client::{Client, Pending, Received, Submission, UserId};
pub use error::OtError;
pub use operation::{Component, Operation, MAX_LEN};
pub use replica::{Applied, Replica};
pub use text::Text;
pub use wire::DecodeError;
