//! The web client's files: embedded in the binary from `web/dist` (release
//! builds; debug builds read the same folder at run time), or served from
//! `WEB_DIR` when set. Without a built client, `/` explains how to build
//! one instead of failing.

use rust_embed::RustEmbed;
use warp::filters::BoxedFilter;
use warp::http::{header, Response, StatusCode};
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
            .and_then(|tail: warp::path::Tail| async move {
                embedded(tail.as_str()).ok_or_else(warp::reject::not_found)
            })
            .boxed(),
    }
}

/// An embedded file by path (`""` is the index page).
fn embedded(path: &str) -> Option<warp::reply::Response> {
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
    let response = Response::builder()
        .header(header::CONTENT_TYPE, file.metadata.mimetype())
        .header(header::CACHE_CONTROL, cache)
        .body(warp::hyper::body::Bytes::from(file.data.into_owned()).into())
        .ok()?;
    Some(with_headers(response))
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
