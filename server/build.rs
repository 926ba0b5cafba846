//! Rebuild when the web client's built files change, so a release binary
//! always embeds the current `web/dist` (rust-embed cannot notice files
//! that appear in a folder that was missing or empty at compile time).

fn main() {
    println!("cargo:rerun-if-changed=../web/dist");
}
