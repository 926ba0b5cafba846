//! The HTTP surface: the WebSocket endpoint, the small JSON/text API,
//! health and metrics, and the web client's files (docs/protocol.md).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use futures_util::FutureExt;
use serde::Serialize;
use tokio::sync::watch;
use warp::filters::BoxedFilter;
use warp::http::{header, Response, StatusCode};

use warp::{Filter, Rejection, Reply};

use crate::access::{Access, Role};
use crate::guard::Refusal;
use crate::registry::{OtpChangeError, Registry};
use crate::{connection, validate, ws};

/// A plain-text reply with a status.
fn text(status: StatusCode, body: impl Into<String>) -> Response<String> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(body.into())
        .unwrap_or_default()
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<String> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(serde_json::to_string(value).unwrap_or_default())
        .unwrap_or_default()
}

const UNAUTHORIZED: &str =
    "unauthorized: this document is protected; open the full link with its otp";

const UNAUTHORIZED_VIEW: &str =
    "unauthorized: this read-only link is not valid (any more); ask an editor for the current one";

/// Checks the id and the OTP (`?otp=`) or view secret (`?view=`, for
/// read-only access) for a client at `address`, and returns the access
/// it was admitted with; `Err` is the reply to send instead. An address
/// that sent too many wrong secrets is refused before its secret is even
/// looked at, and a wrong secret of either kind counts against it.
async fn admit(
    registry: &Registry,
    id: &str,
    query: &HashMap<String, String>,
    address: IpAddr,
) -> Result<Access, Response<String>> {
    validate::document_id(id, registry.config.max_document_id_length)
        .map_err(|e| text(StatusCode::BAD_REQUEST, format!("invalid document id: {e}")))?;
    if let Some(wait) = registry.guard.otp_blocked(address) {
        registry.metrics.refused("otp_throttled");
        let secs = wait.as_secs() + 1;
        let mut reply = text(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many wrong OTPs from your address; try again in {secs} s"),
        );
        if let Ok(v) = header::HeaderValue::from_str(&secs.to_string()) {
            reply.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(reply);
    }
    let access = Access::new(
        query.get("otp").map(String::as_str),
        query.get("view").map(String::as_str),
    );
    match registry.authorize(id, &access).await {
        Ok(true) => Ok(access),
        Ok(false) => {
            registry.metrics.unauthorized.fetch_add(1, Relaxed);
            registry.guard.otp_failed(address);
            let body = match access.role() {
                Role::Editor => UNAUTHORIZED,
                Role::Viewer => UNAUTHORIZED_VIEW,
            };
            Err(text(StatusCode::UNAUTHORIZED, body))
        }
        Err(e) => {
            tracing::error!(doc = %id, "authorization lookup failed: {e}");
            Err(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: could not read the document",
            ))
        }
    }
}

/// `POST`/`DELETE /api/document/{id}/protect`, once admitted (as an
/// editor, with `otp`).
async fn protect(
    registry: &Registry,
    id: &str,
    otp: Option<&str>,
    enable: bool,
) -> Response<String> {
    let access = Access::Edit(otp.map(str::to_owned));
    // Retried if the loaded copy leaves memory before the change is made.
    for _ in 0..10 {
        let doc = match registry.get_or_load(id).await {
            Ok(doc) => doc,
            Err(e) => {
                tracing::error!(doc = %id, "loading failed: {e}");
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error: could not load the document",
                );
            }
        };
        // Admission was checked against the state before loading; check
        // again against the loaded document.
        if !doc.authorize(&access) {
            registry.metrics.unauthorized.fetch_add(1, Relaxed);
            return text(StatusCode::UNAUTHORIZED, UNAUTHORIZED);
        }
        return match registry.set_otp(&doc, None, enable, otp).await {
            Ok(Some(otp)) => json(StatusCode::OK, &serde_json::json!({ "otp": otp })),
            Ok(None) => text(StatusCode::NO_CONTENT, ""),
            Err(OtpChangeError::Evicted) => continue,
            Err(e) => {
                tracing::error!(doc = %id, "OTP change failed: {e}");
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("internal error: {e}"),
                )
            }
        };
    }
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "the document kept leaving memory; retry",
    )
}

/// Every route, under `config.base_path`.
pub fn routes(
    registry: Arc<Registry>,
    shutdown: watch::Receiver<bool>,
) -> BoxedFilter<(warp::reply::Response,)> {
    let with = {
        let registry = registry.clone();
        warp::any().map(move || registry.clone())
    };
    let query = warp::query::<HashMap<String, String>>();
    // The client's address (a trusted proxy's header, or the peer).
    let address = {
        let registry = registry.clone();
        warp::addr::remote()
            .and(warp::header::headers_cloned())
            .map(move |peer, headers| registry.guard.client_address(peer, &headers))
    };

    let socket = warp::path!("api" / "socket" / String)
        .and(warp::get())
        .and(ws::upgrade())
        .and(query)
        .and(address.clone())
        .and(warp::header::optional::<String>("origin"))
        .and(with.clone())
        .and(warp::any().map(move || shutdown.clone()))
        .then(
            |id: String,
             upgrade: ws::Upgrade,
             query: HashMap<String, String>,
             address: IpAddr,
             origin: Option<String>,
             registry: Arc<Registry>,
             shutdown: watch::Receiver<bool>| async move {
                if *shutdown.borrow() {
                    return text(StatusCode::SERVICE_UNAVAILABLE, "server is shutting down")
                        .into_response();
                }
                if !registry.guard.origin_allowed(origin.as_deref()) {
                    registry.metrics.refused("origin");
                    return text(
                        StatusCode::FORBIDDEN,
                        "forbidden: this origin may not open sockets here",
                    )
                    .into_response();
                }
                let permit = match registry.guard.admit(address) {
                    Ok(permit) => permit,
                    Err(Refusal::AddressFull) => {
                        registry.metrics.refused("connections_per_ip");
                        return text(
                            StatusCode::TOO_MANY_REQUESTS,
                            "too many connections from your address",
                        )
                        .into_response();
                    }
                    Err(Refusal::ServerFull) => {
                        registry.metrics.refused("connections");
                        return text(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "server busy: too many connections",
                        )
                        .into_response();
                    }
                };
                let access = match admit(&registry, &id, &query, address).await {
                    Ok(access) => access,
                    Err(reply) => return reply.into_response(),
                };
                let frame = registry.config.max_frame_bytes();
                // A combinator, not an async block awaiting `serve`: that
                // would hold `serve`'s future twice (docs/benchmarks.md, d).
                upgrade.accept(frame, move |socket| {
                    connection::serve(socket, registry, id, access, shutdown)
                        .map(move |()| drop(permit))
                })
            },
        );

    let text_api = warp::path!("api" / "text" / String)
        .and(warp::get())
        .and(query)
        .and(address.clone())
        .and(with.clone())
        .then(
            |id: String,
             query: HashMap<String, String>,
             address: IpAddr,
             registry: Arc<Registry>| async move {
                if let Err(reply) = admit(&registry, &id, &query, address).await {
                    return reply;
                }
                match registry.text(&id).await {
                    Ok(t) => text(StatusCode::OK, t),
                    Err(e) => {
                        tracing::error!(doc = %id, "reading failed: {e}");
                        text(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "internal error: could not read the document",
                        )
                    }
                }
            },
        );

    // The same checks as the socket upgrade, without reading the text: the
    // web client asks this after a failed upgrade to tell "protected"
    // from "unreachable".
    let access = warp::path!("api" / "text" / String)
        .and(warp::head())
        .and(query)
        .and(address.clone())
        .and(with.clone())
        .then(
            |id: String,
             query: HashMap<String, String>,
             address: IpAddr,
             registry: Arc<Registry>| async move {
                match admit(&registry, &id, &query, address).await {
                    Ok(_) => text(StatusCode::OK, ""),
                    Err(reply) => reply,
                }
            },
        );

    let stats = warp::path!("api" / "stats")
        .and(warp::get())
        .and(with.clone())
        .then(|registry: Arc<Registry>| async move {
            let database_size = match &registry.store {
                Some(store) => store.count().await.unwrap_or(0),
                None => 0,
            };
            json(
                StatusCode::OK,
                &serde_json::json!({
                    "start_time": registry.start_time,
                    "num_documents": registry.documents().len(),
                    "database_size": database_size,
                    "num_connections": registry.metrics.connections.load(Relaxed),
                }),
            )
        });

    let protect = warp::path!("api" / "document" / String / "protect")
        .and(
            warp::post()
                .map(|| true)
                .or(warp::delete().map(|| false))
                .unify(),
        )
        .and(query)
        .and(address)
        .and(with.clone())
        .then(
            |id: String,
             enable: bool,
             query: HashMap<String, String>,
             address: IpAddr,
             registry: Arc<Registry>| async move {
                match admit(&registry, &id, &query, address).await {
                    Ok(Access::Edit(otp)) => protect(&registry, &id, otp.as_deref(), enable).await,
                    Ok(Access::View(_)) => text(
                        StatusCode::FORBIDDEN,
                        "forbidden: a read-only link cannot change the protection",
                    ),
                    Err(reply) => reply,
                }
            },
        );

    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| text(StatusCode::OK, "ok"));

    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with.clone())
        .map(|registry: Arc<Registry>| {
            let mut gauges = vec![(
                "tandem_documents_in_memory",
                "Documents in memory.",
                registry.len() as f64,
            )];
            if let Some(store) = &registry.store {
                let s = store.stats();
                gauges.extend([
                    (
                        "tandem_persist_writes",
                        "Document snapshot writes committed.",
                        s.writes_committed.saturating_sub(s.journal_writes) as f64,
                    ),
                    (
                        "tandem_journal_writes",
                        "Journal appends committed (each holds every document's new edits).",
                        s.journal_writes as f64,
                    ),
                    (
                        "tandem_persist_write_errors",
                        "Document writes that failed.",
                        s.write_errors as f64,
                    ),
                    (
                        "tandem_persist_transactions",
                        "SQLite write transactions committed.",
                        s.transactions as f64,
                    ),
                    (
                        "tandem_persist_write_seconds_sum",
                        "Total time from a write's request to its commit.",
                        s.write_latency_total_seconds(),
                    ),
                    (
                        "tandem_persist_write_seconds_max",
                        "Longest time from a write's request to its commit.",
                        s.write_latency_max_seconds(),
                    ),
                ]);
            }
            Response::builder()
                .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
                .body(registry.metrics.render(&gauges))
                .unwrap_or_default()
        });

    let web = crate::web::routes(registry.config.web_dir.clone());

    let api = socket
        .map(Reply::into_response)
        .or(text_api.map(Reply::into_response))
        .unify()
        .or(access.map(Reply::into_response))
        .unify()
        .or(stats.map(Reply::into_response))
        .unify()
        .or(protect.map(Reply::into_response))
        .unify()
        .or(healthz.map(Reply::into_response))
        .unify()
        .or(metrics.map(Reply::into_response))
        .unify()
        .or(web)
        .unify()
        .recover(|r: Rejection| async move { Ok::<_, std::convert::Infallible>(rejection(r)) })
        .unify();

    let mut prefix: BoxedFilter<()> = warp::any().boxed();
    for segment in registry
        .config
        .base_path
        .split('/')
        .filter(|s| !s.is_empty())
    {
        prefix = prefix.and(warp::path(segment.to_owned())).boxed();
    }
    prefix.and(api).boxed()
}

/// Plain-text replies for requests no route took.
fn rejection(r: Rejection) -> warp::reply::Response {
    let (status, body) = if r.is_not_found() {
        (StatusCode::NOT_FOUND, "not found".to_owned())
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed".to_owned(),
        )
    } else if let Some(e) = r.find::<ws::NotAnUpgrade>() {
        (StatusCode::BAD_REQUEST, format!("bad request: {e}"))
    } else if r.find::<warp::reject::InvalidQuery>().is_some() {
        (StatusCode::BAD_REQUEST, "invalid query string".to_owned())
    } else {
        (StatusCode::BAD_REQUEST, format!("bad request: {r:?}"))
    };
    text(status, body).into_response()
}
