//! The demo's `/metrics`: requests counted by path and code, and a latency
//! histogram by path, rendered as OpenMetrics when asked for it and as
//! Prometheus text 0.0.4 otherwise. It starts warm (a fixed history of
//! requests), so a first scrape already has quantiles to estimate.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;

/// Upper bounds of the latency buckets, in seconds (`+Inf` is implied).
const BOUNDS: [f64; 8] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// Requests and latencies of one path.
#[derive(Debug, Default, Clone)]
struct PathStats {
    by_code: BTreeMap<u16, u64>,
    /// Non-cumulative counts per bound; the last slot is above every bound.
    buckets: [u64; BOUNDS.len() + 1],
    sum: f64,
}

impl PathStats {
    fn observe(&mut self, code: u16, seconds: f64) {
        *self.by_code.entry(code).or_default() += 1;
        let slot = BOUNDS
            .iter()
            .position(|&b| seconds <= b)
            .unwrap_or(BOUNDS.len());
        self.buckets[slot] += 1;
        self.sum += seconds;
    }
}

fn registry() -> &'static Mutex<BTreeMap<&'static str, PathStats>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<&'static str, PathStats>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(warm_history()))
}

/// A fixed history: 1,000 requests to the products API (most under 25 ms),
/// 200 health checks, and the orders endpoint failing every time.
fn warm_history() -> BTreeMap<&'static str, PathStats> {
    let mut paths: BTreeMap<&'static str, PathStats> = BTreeMap::new();
    let products = paths.entry("/api/products").or_default();
    for i in 0..1000u32 {
        let ms = match i % 20 {
            0..=11 => 4.0,
            12..=16 => 9.0,
            17 | 18 => 20.0,
            _ => 60.0,
        };
        products.observe(200, ms / 1000.0);
    }
    let health = paths.entry("/health").or_default();
    for _ in 0..200 {
        health.observe(200, 0.001);
    }
    let orders = paths.entry("/api/orders").or_default();
    for _ in 0..40 {
        orders.observe(500, 0.002);
    }
    paths
}

/// The paths counted by name; every other one is `other`, so a scan of
/// random URLs cannot grow the exposition without bound.
fn path_label(path: &str) -> &'static str {
    match path {
        "/health" => "/health",
        "/ready" => "/ready",
        "/version" => "/version",
        "/api/products" => "/api/products",
        "/api/orders" => "/api/orders",
        "/metrics" => "/metrics",
        "/ws" => "/ws",
        _ => "other",
    }
}

/// Records one request.
pub fn observe(path: &str, code: u16, elapsed: Duration) {
    if let Ok(mut paths) = registry().lock() {
        paths
            .entry(path_label(path))
            .or_default()
            .observe(code, elapsed.as_secs_f64());
    }
}

/// `GET /metrics`: OpenMetrics when the `Accept` header asks for it.
pub fn response(accept: Option<&str>) -> Response<Full<Bytes>> {
    let openmetrics = accept.is_some_and(|a| a.contains("application/openmetrics-text"));
    let content_type = if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    };
    let mut response = Response::new(Full::new(Bytes::from(render(openmetrics))));
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

/// The exposition, as OpenMetrics or as text 0.0.4.
pub fn render(openmetrics: bool) -> String {
    let paths = registry()
        .lock()
        .map(|p| p.clone())
        .unwrap_or_else(|poisoned| poisoned.into_inner().clone());
    let mut out = String::new();
    // OpenMetrics names the counter family without `_total`; 0.0.4 with it.
    let counter = if openmetrics {
        "http_requests"
    } else {
        "http_requests_total"
    };
    out.push_str(&format!(
        "# HELP {counter} Requests served, by path and status code.\n# TYPE {counter} counter\n"
    ));
    for (path, stats) in &paths {
        for (code, n) in &stats.by_code {
            out.push_str(&format!(
                "http_requests_total{{path=\"{path}\",code=\"{code}\"}} {n}\n"
            ));
        }
    }
    let h = "http_request_duration_seconds";
    out.push_str(&format!(
        "# HELP {h} Time to answer a request, by path.\n# TYPE {h} histogram\n"
    ));
    if openmetrics {
        out.push_str(&format!("# UNIT {h} seconds\n"));
    }
    for (path, stats) in &paths {
        let mut cumulative = 0;
        for (i, bound) in BOUNDS.iter().enumerate() {
            cumulative += stats.buckets[i];
            out.push_str(&format!(
                "{h}_bucket{{path=\"{path}\",le=\"{bound}\"}} {cumulative}\n"
            ));
        }
        cumulative += stats.buckets[BOUNDS.len()];
        out.push_str(&format!(
            "{h}_bucket{{path=\"{path}\",le=\"+Inf\"}} {cumulative}\n"
        ));
        out.push_str(&format!(
            "{h}_sum{{path=\"{path}\"}} {}\n{h}_count{{path=\"{path}\"}} {cumulative}\n",
            stats.sum
        ));
    }
    out.push_str(
        "# HELP demo_build_info The demo's version.\n# TYPE demo_build_info gauge\ndemo_build_info{version=\"1.4.2\"} 1\n",
    );
    if openmetrics {
        out.push_str("# EOF\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{Mode, parse};

    #[test]
    fn both_formats_parse_and_openmetrics_strictly() {
        observe("/api/products", 200, Duration::from_millis(3));
        let om = render(true);
        let text = render(false);
        assert!(parse(&om, Mode::Strict).is_ok(), "{om}");
        let parsed = parse(&text, Mode::Lenient).expect("0.0.4 parses");
        assert_eq!(parsed.families.len(), 3);
    }

    #[test]
    fn unknown_paths_share_one_label() {
        assert_eq!(path_label("/wp-admin"), "other");
        assert_eq!(path_label("/health"), "/health");
    }
}
