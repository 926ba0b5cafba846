//! The web client's files: embedded in the binary from `web/dist` (release
//! builds; debug builds read the same folder at run time), or read from
//! `WEB_DIR` when set. Every file gets the security headers; the page gets
//! a Content-Security-Policy that allows exactly its own inline scripts;
//! text and WASM are gzipped when the client accepts it. Without a built
//! client, `/` explains how to build one instead of failing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;

use base64::Engine as _;
use parking_lot::Mutex;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};
use warp::filters::BoxedFilter;
use warp::http::{header, HeaderValue, Response, StatusCode};
use warp::hyper::body::Bytes;
use warp::{Filter, Reply};

/// `web/dist`, as built by `scripts/build-web.sh`.
#[derive(RustEmbed)]
#[folder = "../web/dist"]
#[allow_missing = true]
struct Assets;

const PLACEHOLDER: &str = "<!doctype html><meta charset=utf-8><title>Tandem</title>\
<p>Tandem's server is running, but this binary was built without the web editor. \
Build it with <code>make build</code> (or set <code>WEB_DIR</code>).";

/// Where the files come from.
#[derive(Clone)]
enum Source {
    /// Inside the binary (or `web/dist` on disk, in debug builds).
    Embedded,
    /// A directory (`WEB_DIR`).
    Dir(PathBuf),
}

/// One file to serve.
struct File {
    /// Its bytes.
    data: Cow<'static, [u8]>,
    /// Its MIME type.
    mime: String,
    /// SHA-256 of the bytes: the gzip cache key.
    hash: [u8; 32],
}

impl Source {
    async fn get(&self, path: &str) -> Option<File> {
        match self {
            Source::Embedded => {
                let f = Assets::get(path)?;
                Some(File {
                    mime: f.metadata.mimetype().to_owned(),
                    hash: f.metadata.sha256_hash(),
                    data: f.data,
                })
            }
            Source::Dir(dir) => {
                // Only plain relative paths: no `..`, no roots.
                let rel = Path::new(path);
                if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
                    return None;
                }
                let data = tokio::fs::read(dir.join(rel)).await.ok()?;
                Some(File {
                    mime: mime_guess::from_path(rel)
                        .first_or_octet_stream()
                        .essence_str()
                        .to_owned(),
                    hash: Sha256::digest(&data).into(),
                    data: Cow::Owned(data),
                })
            }
        }
    }
}

/// Routes for the web files (everything that is not API).
pub fn routes(web_dir: Option<String>) -> BoxedFilter<(warp::reply::Response,)> {
    let source = match web_dir {
        Some(dir) => Source::Dir(PathBuf::from(dir)),
        None => Source::Embedded,
    };
    warp::get()
        .and(warp::path::tail())
        .and(warp::header::optional::<String>("accept-encoding"))
        .and_then(move |tail: warp::path::Tail, encoding: Option<String>| {
            let source = source.clone();
            async move {
                let gzip = encoding.is_some_and(|e| accepts_gzip(&e));
                serve(&source, tail.as_str(), gzip)
                    .await
                    .ok_or_else(warp::reject::not_found)
            }
        })
        .boxed()
}

/// The response for `path` (`""` is the index page).
async fn serve(source: &Source, path: &str, gzip: bool) -> Option<warp::reply::Response> {
    let path = if path.is_empty() { "index.html" } else { path };
    let Some(file) = source.get(path).await else {
        return (path == "index.html").then(|| {
            let page = Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
                .body(PLACEHOLDER.into())
                .unwrap_or_default();
            with_headers(page, Some(content_security_policy(PLACEHOLDER.as_bytes())))
        });
    };
    // Vite puts content-hashed files under assets/: they never change.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let csp = file
        .mime
        .starts_with("text/html")
        .then(|| content_security_policy(&file.data));
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, file.mime.as_str())
        .header(header::CACHE_CONTROL, cache)
        .header(header::VARY, "accept-encoding");
    let response = if gzip && compressible(&file.mime) {
        builder
            .header(header::CONTENT_ENCODING, "gzip")
            .body(gzipped(&file).into())
    } else {
        builder.body(Bytes::from(file.data.into_owned()).into())
    };
    Some(with_headers(response.ok()?, csp))
}

/// Whether an `Accept-Encoding` value allows gzip (and does not forbid it
/// with `q=0`).
fn accepts_gzip(header: &str) -> bool {
    header.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.replace(' ', "") == "q=0");
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

/// Gzipped copies of files by content hash, made on first request. The
/// set of files is small and fixed per build.
static GZIPPED: LazyLock<Mutex<HashMap<[u8; 32], Bytes>>> = LazyLock::new(Default::default);

/// The gzipped bytes of `file`, compressed once.
fn gzipped(file: &File) -> Bytes {
    if let Some(b) = GZIPPED.lock().get(&file.hash) {
        return b.clone();
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(&file.data);
    let bytes = Bytes::from(enc.finish().unwrap_or_default());
    GZIPPED.lock().insert(file.hash, bytes.clone());
    bytes
}

/// Worth compressing: text and WASM (images and fonts already are).
fn compressible(mime: &str) -> bool {
    mime.starts_with("text/")
        || mime.contains("javascript")
        || mime.contains("json")
        || mime.contains("wasm")
        || mime.contains("svg")
}

/// The page's Content-Security-Policy: its own files, WASM compilation,
/// exactly the inline scripts it contains (by hash), inline styles (the
/// editor injects them), and no framing, plugins or foreign connections.
fn content_security_policy(page: &[u8]) -> String {
    let hashes: String = inline_scripts(&String::from_utf8_lossy(page))
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
            format!(" 'sha256-{b64}'")
        })
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
         font-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'self'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The contents of the `<script>` elements without a `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attrs, body) = rest.split_once('>')?;
        if attrs.contains("src=") {
            return None;
        }
        body.split_once("</script>").map(|(script, _)| script)
    })
}

/// Headers every page and asset gets.
fn with_headers(mut response: warp::reply::Response, csp: Option<String>) -> warp::reply::Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The OTP travels in the URL (`#id?otp=`): never leak it in a Referer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Some(value) = csp.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("identity"));
    }

    #[test]
    fn csp_hashes_exactly_the_inline_scripts() {
        let page = "<script>a()</script><script type=module src=\"x.js\"></script>\
                    <script type=\"text/javascript\">b()</script>";
        let scripts: Vec<&str> = inline_scripts(page).collect();
        assert_eq!(scripts, ["a()", "b()"]);
        let csp = content_security_policy(page.as_bytes());
        // sha256("a()") in base64.
        let a = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"a()"));
        assert!(csp.contains(&format!("'sha256-{a}'")), "{csp}");
        assert_eq!(csp.matches("'sha256-").count(), 2);
        assert!(csp.contains("frame-ancestors 'none'"));
    }
}
