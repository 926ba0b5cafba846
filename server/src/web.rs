//! The web client's files. Until the browser editor is built (its own
//! issue), a small page says so; with `WEB_DIR` the files are served from
//! disk.

use warp::filters::BoxedFilter;
use warp::http::{header, Response, StatusCode};
use warp::{Filter, Reply};

const PLACEHOLDER: &str = "<!doctype html><meta charset=utf-8><title>Tandem</title>\
<p>Tandem's server is running. The web editor is not part of this build.";

/// Routes for the web files (everything not under `/api`).
pub fn routes(web_dir: Option<String>) -> BoxedFilter<(warp::reply::Response,)> {
    match web_dir {
        Some(dir) => warp::get()
            .and(warp::fs::dir(dir))
            .map(Reply::into_response)
            .boxed(),
        None => warp::get()
            .and(warp::path::end())
            .map(|| {
                Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
                    .body(PLACEHOLDER.to_owned())
                    .unwrap_or_default()
                    .into_response()
            })
            .boxed(),
    }
}
