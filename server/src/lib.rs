//! Tandem's collaboration server.
//!
//! # Layout
//!
//! - [`config`]: settings from environment variables, `--help`.
//! - [`protocol`]: the wire format — the only module that knows it.
//! - [`document`]: one hot document (text, history, users, cursors) behind
//!   a lock, with its wake-up `Notify`; synchronous, no IO.
//! - [`access`]: who may do what with a document — the OTP (editors) and
//!   the read-only link's view secret (viewers); planned, then applied.
//! - [`registry`]: the map of hot documents; loading, saving, eviction.
//! - [`connection`]: one WebSocket: handshake, send/receive loop, close
//!   codes.
//! - [`routes`]: HTTP routes; [`web`]: the browser client's files.
//! - [`ws`]: the WebSocket upgrade (with a small read buffer) and the
//!   socket type [`connection`] uses.
//! - [`tasks`]: the lazy persister and the expiry cleaner.
//! - [`store`]: SQLite, on its own threads.
//! - [`guard`]: abuse controls at the door (client address, origins,
//!   connection limits, OTP throttling).
//! - [`otp`], [`validate`], [`metrics`]: small pieces with one job each.
//! - [`peer`]: a native client of the protocol (load generator, chaos and
//!   crash tests).
//! - [`server`]: wiring and graceful shutdown.
#![forbid(unsafe_code)]

pub mod access;
pub mod config;
pub mod connection;
pub mod document;
pub mod guard;
pub mod metrics;
pub mod otp;
pub mod peer;
pub mod protocol;
pub mod registry;
pub mod routes;
pub mod server;
pub mod store;
pub mod tasks;
pub mod validate;
pub mod web;
pub mod ws;
