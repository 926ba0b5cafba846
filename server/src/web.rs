//! The web client's files: embedded in the binary from `web/dist` (release
//! builds; debug builds read the same folder at run time), or served from
//! `WEB_DIR` when set. Without a built client, `/` explains how to build
//! one instead of failing.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::LazyLock;

use parking_lot::Mutex;
use rust_embed::RustEmbed;
use warp::filters::BoxedFilter;
use warp::http::{header, Response, StatusCode};
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

/// Routes for the web files (everything that is not API).
pub fn routes(web_dir: Option<String>) -> BoxedFilter<(warp::reply::Response,)> {
    match web_dir {
        Some(dir) => warp::get()
            .and(warp::fs::dir(dir))
            .map(|reply: warp::filters::fs::File| with_headers(reply.into_response()))
            .boxed(),
        None => warp::get()
            .and(warp::path::tail())
            .and(warp::header::optional::<String>("accept-encoding"))
            .and_then(
                |tail: warp::path::Tail, encoding: Option<String>| async move {
                    let gzip = encoding.is_some_and(|e| accepts_gzip(&e));
                    embedded(tail.as_str(), gzip).ok_or_else(warp::reject::not_found)
                },
            )
            .boxed(),
    }
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

/// Gzipped copies of embedded files, made on first request.
static GZIPPED: LazyLock<Mutex<HashMap<String, Bytes>>> = LazyLock::new(Default::default);

/// The gzipped bytes of embedded file `path`, compressed once.
fn gzipped(path: &str, data: &[u8]) -> Bytes {
    if let Some(b) = GZIPPED.lock().get(path) {
        return b.clone();
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    let bytes = Bytes::from(enc.finish().unwrap_or_default());
    GZIPPED.lock().insert(path.to_owned(), bytes.clone());
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

/// An embedded file by path (`""` is the index page), gzipped when the
/// client accepts it and the type is worth it.
fn embedded(path: &str, gzip: bool) -> Option<warp::reply::Response> {
    let path = if path.is_empty() { "index.html" } else { path };
    let Some(file) = Assets::get(path) else {
        return (path == "index.html").then(|| {
            with_headers(
                Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
                    .body(PLACEHOLDER.into())
                    .unwrap_or_default(),
            )
        });
    };
    // Vite puts content-hashed files under assets/: they never change.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mime = file.metadata.mimetype();
    let builder = Response::builder()
        .header(header::CONTENT_TYPE, mime)
        .header(header::CACHE_CONTROL, cache)
        .header(header::VARY, "accept-encoding");
    let response = if gzip && compressible(mime) {
        builder
            .header(header::CONTENT_ENCODING, "gzip")
            .body(gzipped(path, &file.data).into())
    } else {
        builder.body(Bytes::from(file.data.into_owned()).into())
    };
    Some(with_headers(response.ok()?))
}

/// Headers every page and asset gets.
fn with_headers(mut response: warp::reply::Response) -> warp::reply::Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    // The OTP travels in the URL (`#id?otp=`): never leak it in a Referer.
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn accept_encoding() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("identity"));
    }
}
