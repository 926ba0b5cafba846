//! The fuzz targets' checks, shared with the server's regression tests
//! (`tests/server/fuzz_regressions.rs` compiles `checks.rs` directly).
#![forbid(unsafe_code)]

pub mod checks;
