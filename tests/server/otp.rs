//! (to be written)
mod common;
