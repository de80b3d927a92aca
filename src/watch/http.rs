//! `vouch watch`'s HTTP endpoints: `/metrics` (negotiated text format),
//! `/report.json`, a small self-contained status page at `/`, and
//! `/-/healthy`, `/-/ready`. Served with hyper directly: five GET routes need
//! no router, and hyper is already how vouch's probes and test servers speak
//! HTTP (axum would add its tree of crates for nothing the daemon uses).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Shared;
use crate::export::{Metrics, TextFormat, item_states};
use crate::report::html::ItemRef;

/// Accepts connections until the task is dropped.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, most likely: wait rather than spin.
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(respond(&request, &shared)) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(request: &Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    match request.uri().path() {
        "/metrics" => {
            let accept = request
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let format = TextFormat::negotiate(accept);
            let snapshot = shared.snapshot();
            let text = Metrics::of(
                snapshot.report.as_deref(),
                &snapshot.since,
                Some(&snapshot.daemon),
            )
            .encode(format);
            with_type(StatusCode::OK, format.content_type(), text)
        }
        "/report.json" => match shared.snapshot().report_json {
            Some(json) => with_type(
                StatusCode::OK,
                "application/json",
                Bytes::from(json.as_bytes().to_vec()),
            ),
            None => plain(StatusCode::SERVICE_UNAVAILABLE, "no complete run yet\n"),
        },
        "/-/healthy" => plain(StatusCode::OK, "vouch is healthy\n"),
        "/-/ready" => match shared.snapshot().report {
            Some(_) => plain(StatusCode::OK, "vouch is ready\n"),
            None => plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "vouch is not ready: no complete run yet\n",
            ),
        },
        "/" => with_type(
            StatusCode::OK,
            "text/html; charset=utf-8",
            status_page(shared, SystemTime::now()),
        ),
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    with_type(status, "text/plain; charset=utf-8", text)
}

fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

/// The status page: the HTML report of the last complete run, each item
/// with how long it has been in its state (the daemon's `since`), or a
/// short page before the first run ends.
fn status_page(shared: &Shared, now: SystemTime) -> String {
    let snapshot = shared.snapshot();
    let Some(report) = snapshot.report.as_deref() else {
        return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>vouch watch</title></head>\n\
                <body>\n<h1>vouch watch</h1>\n<p>No complete run yet.</p>\n</body></html>\n"
            .to_owned();
    };
    // `item_states` lists the checklist's items in checklist order, or the
    // probe-file items in report order: the page's two kinds of item.
    let since: Vec<Option<String>> = item_states(report)
        .iter()
        .map(|s| {
            snapshot
                .since
                .get(&s.checklist, &s.id)
                .map(|at| ago(at, now))
        })
        .collect();
    let lookup = |item: ItemRef| match item {
        ItemRef::Checklist(i) | ItemRef::Item(i) => since.get(i).cloned().flatten(),
    };
    crate::report::html::render_watched(report, &lookup)
}

/// `3m ago` from Unix seconds.
fn ago(at: f64, now: SystemTime) -> String {
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let seconds = (now - at).max(0.0) as u64;
    format!(
        "{} ago",
        humantime::format_duration(std::time::Duration::from_secs(seconds))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ago_is_never_negative() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
        assert_eq!(ago(820.0, now), "3m ago");
        assert_eq!(ago(2000.0, now), "0s ago");
    }
}
