//! `vouch watch`'s HTTP endpoints: `/metrics` (negotiated text format),
//! `/report.json`, a small self-contained status page at `/`, and
//! `/-/healthy`, `/-/ready`. Served with hyper directly: five GET routes need
//! no router, and hyper is already how vouch's probes and test servers speak
//! HTTP (axum would add its tree of crates for nothing the daemon uses).

use std::convert::Infallible;
use std::fmt::Write as _;
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
use crate::export::{Metrics, State, TextFormat, item_states};

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

/// Refuted first, then failed and in error, then the rest.
fn rank(state: State) -> u8 {
    match state {
        State::Refuted => 0,
        State::Failed => 1,
        State::Error => 2,
        State::Skipped => 3,
        State::Manual => 4,
        State::Attested => 5,
        State::Verified => 6,
    }
}

/// The status page: every item, its state, since when, and its last
/// evidence summary; one page, no scripts, no external resources.
fn status_page(shared: &Shared, now: SystemTime) -> String {
    let snapshot = shared.snapshot();
    let mut out = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>vouch watch</title>\n<style>\
         body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\
         .refuted,.failed,.error{color:#b00020;font-weight:bold}.verified,.attested{color:#1b5e20}\
         </style></head><body>\n<h1>vouch watch</h1>\n",
    );
    let Some(report) = snapshot.report.as_deref() else {
        out.push_str("<p>No complete run yet.</p>\n</body></html>\n");
        return out;
    };
    let _ = writeln!(
        out,
        "<p>Last run ended {} ({} ms). <a href=\"/metrics\">metrics</a> · <a href=\"/report.json\">report.json</a></p>",
        html(&report.finished_at),
        report.duration_ms.round()
    );
    let mut states = item_states(report);
    states.sort_by_key(|s| rank(s.state));
    out.push_str("<table>\n<tr><th>state</th><th>item</th><th>since</th><th>evidence</th></tr>\n");
    for s in &states {
        let reason = report
            .checklist
            .as_ref()
            .and_then(|c| c.items.iter().find(|i| i.id == s.id))
            .and_then(|i| i.reason.clone())
            .or_else(|| {
                s.sources
                    .iter()
                    .filter_map(|&i| report.items.get(i))
                    .find_map(|i| i.reason.clone())
            })
            .unwrap_or_default();
        let since = snapshot
            .since
            .get(&s.checklist, &s.id)
            .map(|at| ago(at, now))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td class=\"{0}\">{0}</td><td>{1}<br><small>{2}</small></td><td>{3}</td><td>{4}</td></tr>",
            s.state.as_str(),
            html(&s.text),
            html(&s.id),
            since,
            html(&reason)
        );
    }
    out.push_str("</table>\n</body></html>\n");
    out
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

/// Text from a target in HTML: data, never markup.
fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_target_text() {
        assert_eq!(
            html("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
    }

    #[test]
    fn refuted_items_come_first() {
        let mut states = vec![State::Verified, State::Refuted, State::Failed];
        states.sort_by_key(|s| rank(*s));
        assert_eq!(states, [State::Refuted, State::Failed, State::Verified]);
    }
}
