//! The builders of the rule table: one function per rule, from a claim's
//! facts to the settings of its probe, with why each value and what was
//! guessed. A builder returns `None` when its rule does not fit the claim.
//! Grouped by what they verify; the helpers they share are here.

mod datastore;
mod observe;
mod protocol;
mod reach;
mod repo;
mod traffic;
mod web;

pub use datastore::datastore;
pub use observe::{
    alert_routing, alert_rule, metric_named, metrics, prometheus_query, prometheus_targets,
};
pub use protocol::{jsonrpc, mcp, websocket};
pub use reach::{dependency, ports, service};
pub use repo::{dockerfile, exec_command, exec_named, file_fact, file_named, image};
pub use traffic::{load, rate_limit};
pub use web::{auth, cors, headers, health, http, http_explicit, https_redirect, tls};

use super::claims::Facts;
use super::render::Node;
use super::rules::Draft;
use super::services;

/// `${var:prometheus_url}`, declared with the URL the text gives or the default port.
pub(super) fn prometheus_url(d: &mut Draft, f: &Facts) -> String {
    let default = f
        .urls
        .iter()
        .find(|u| services::by_port(u).is_some_and(|s| s.name == "prometheus"))
        .map_or_else(
            || "http://127.0.0.1:9090".to_owned(),
            |u| services::base_of(u),
        );
    d.var("prometheus_url", "PROMETHEUS_URL", &default)
}

/// The request of a traffic probe: `get: /path`, or the method the text names.
pub(super) fn request(f: &Facts, settings: &mut Node) -> String {
    let method = f.method.unwrap_or("GET");
    let path = f.path().unwrap_or("/");
    settings.set(&method.to_ascii_lowercase(), Node::s(path));
    format!("{method} {path}")
}

/// The most requests a proposal may plan (the runner's cap without `--allow-heavy`).
pub(super) const CAP_REQUESTS: u64 = 10_000;
/// The longest traffic a proposal may plan, in seconds.
pub(super) const CAP_SECONDS: u64 = 60;

/// `text` without its parenthesised parts.
pub(super) fn strip_parens(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}
