//! Rebuild when the web client's built files change, so a release binary
//! always embeds the current `web/dist` (rust-embed cannot notice files
//! that appear in a folder that was missing or empty at compile time).
//!
//! The folder is created (empty) when it is missing: Cargo treats a
//! watched path that does not exist as changed on every build, which
//! would recompile this crate, and everything that depends on it, on
//! every `cargo` call until the web client is built. An empty folder is
//! what rust-embed's `allow_missing` embeds anyway, and files the web
//! build writes into it later change its modification time.

use std::path::Path;

fn main() {
    let dist = Path::new("../web/dist");
    if !dist.exists() {
        // Failure only costs the rebuilds described above.
        let _ = std::fs::create_dir_all(dist);
    }
    println!("cargo:rerun-if-changed=../web/dist");
}
