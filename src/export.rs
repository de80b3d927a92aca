//! A report as Prometheus metric families: the same families for `vouch
//! watch`'s `/metrics` and for a push, built by one function of a
//! [`Report`] and written with the `prometheus-client` crate in OpenMetrics
//! 1.0 or the Prometheus text format 0.0.4.
//!
//! `prometheus-client` has no OpenMetrics stateset type, so `vouch_item_state`
//! takes the common fallback: a gauge with one series per state, told apart
//! by a `state` label, 1 for the item's state and 0 for the others (what
//! kube-state-metrics does for pod phases).
//!
//! Labels carry ids, never free text: `item` is the checklist item's stable
//! id (or, without a checklist, the slug of the probe-file item), `section`
//! the slug of the top-level heading, `probe` the probe's name as the report
//! shows it. The number of series is bounded by the probe files; see
//! [`series_bound`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use serde_json::Value;

use crate::checklist::slug;
use crate::outcome::{ItemVerdict, ProbeOutcome, Verdict};
use crate::report::Report;

/// The default cap on series (`--max-series`): a probe file that could
/// export more is a load error.
pub const DEFAULT_MAX_SERIES: usize = 50_000;

/// The `Content-Type` of OpenMetrics 1.0 text.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `Content-Type` of the Prometheus text format 0.0.4.
pub const PROMETHEUS_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// An item's state as exported: a verdict, with `refuted` for an item the
/// checklist claims done that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Every probe passed.
    Verified,
    /// A probe failed (and the checklist does not claim the item done).
    Failed,
    /// Claimed done in the checklist, but failed.
    Refuted,
    /// A probe could not be evaluated.
    Error,
    /// Attested by a person, still valid.
    Attested,
    /// No probes (also a checklist parent only partly verified).
    Manual,
    /// Not run.
    Skipped,
}

impl State {
    /// Every state, in the order the series are written.
    pub const ALL: [State; 7] = [
        State::Verified,
        State::Failed,
        State::Refuted,
        State::Error,
        State::Attested,
        State::Manual,
        State::Skipped,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Verified => "verified",
            State::Failed => "failed",
            State::Refuted => "refuted",
            State::Error => "error",
            State::Attested => "attested",
            State::Manual => "manual",
            State::Skipped => "skipped",
        }
    }

    /// The state of a verdict. A parent only partly verified is `manual`:
    /// some of it still rests on a person's word.
    pub fn of(verdict: ItemVerdict, refuted: bool) -> State {
        match verdict {
            ItemVerdict::Failed if refuted => State::Refuted,
            ItemVerdict::Verified => State::Verified,
            ItemVerdict::Failed => State::Failed,
            ItemVerdict::Error => State::Error,
            ItemVerdict::Attested => State::Attested,
            ItemVerdict::Manual | ItemVerdict::Partial => State::Manual,
            ItemVerdict::Skipped => State::Skipped,
        }
    }

    /// Whether the deployment (or a person) vouches for the item.
    pub fn is_good(self) -> bool {
        matches!(self, State::Verified | State::Attested)
    }

    /// Whether the item is known to be wrong or could not be checked.
    pub fn is_bad(self) -> bool {
        matches!(self, State::Failed | State::Refuted | State::Error)
    }
}

/// One item of a report as exported: its id and state.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemState {
    /// The `checklist` label: the checklist's path, empty without one.
    pub checklist: String,
    /// The slug of its top-level section, empty without one.
    pub section: String,
    /// Its stable id.
    pub id: String,
    /// Its text, for people (never a label).
    pub text: String,
    /// Its state.
    pub state: State,
    /// Indices in [`Report::items`] of the probe-file items that decide it.
    pub sources: Vec<usize>,
}

/// The items of a report with their ids and states: the checklist's items
/// when the run had one (every probe-file item is bound to one of them),
/// otherwise the probe-file items, with the slug of their text as id.
pub fn item_states(report: &Report) -> Vec<ItemState> {
    let ids = item_ids(report);
    let Some(checklist) = &report.checklist else {
        return report
            .items
            .iter()
            .zip(ids)
            .enumerate()
            .map(|(index, (item, id))| ItemState {
                checklist: String::new(),
                section: String::new(),
                id,
                text: item.item.clone(),
                state: State::of(item.verdict, false),
                sources: vec![index],
            })
            .collect();
    };
    let name = checklist_label(report);
    checklist
        .items
        .iter()
        .map(|item| ItemState {
            checklist: name.clone(),
            section: item.section.as_deref().map(slug).unwrap_or_default(),
            id: item.id.clone(),
            text: item.text.clone(),
            state: State::of(item.verdict, item.refuted),
            sources: report
                .items
                .iter()
                .enumerate()
                .filter(|(_, o)| item.bound.contains(&o.location))
                .map(|(index, _)| index)
                .collect(),
        })
        .collect()
}

/// The id of each of [`Report::items`]: the checklist item it is bound to,
/// or the slug of its text (`-2`, `-3`, … for repeats).
pub fn item_ids(report: &Report) -> Vec<String> {
    let bound: HashMap<&str, &str> = report
        .checklist
        .iter()
        .flat_map(|c| &c.items)
        .flat_map(|item| item.bound.iter().map(|l| (l.as_str(), item.id.as_str())))
        .collect();
    let mut taken = HashSet::new();
    report
        .items
        .iter()
        .map(|item| {
            if let Some(id) = bound.get(item.location.as_str()) {
                return (*id).to_owned();
            }
            let base = match slug(&item.item) {
                s if s.is_empty() => "item".to_owned(),
                s => s,
            };
            let mut id = base.clone();
            let mut n = 2;
            while !taken.insert(id.clone()) {
                id = format!("{base}-{n}");
                n += 1;
            }
            id
        })
        .collect()
}

fn checklist_label(report: &Report) -> String {
    report
        .checklist
        .as_ref()
        .and_then(|c| c.path.clone().or_else(|| c.title.clone()))
        .unwrap_or_default()
}

/// When each item entered its current state, carried from run to run.
#[derive(Debug, Clone, Default)]
pub struct Since {
    entered: HashMap<(String, String), (State, f64)>,
}

/// An item that changed state between two runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// Its id.
    pub id: String,
    /// The state before (`None`: not in the previous run).
    pub from: Option<State>,
    /// The state now.
    pub to: State,
}

impl Since {
    /// Takes in the states of a run finished at `at` (Unix seconds) and
    /// returns the items whose state changed. Items no longer reported are
    /// forgotten.
    pub fn observe(&mut self, states: &[ItemState], at: f64) -> Vec<Transition> {
        let mut changes = Vec::new();
        let mut next = HashMap::with_capacity(states.len());
        for s in states {
            let key = (s.checklist.clone(), s.id.clone());
            let entry = match self.entered.get(&key) {
                Some(&(state, since)) if state == s.state => (state, since),
                before => {
                    changes.push(Transition {
                        id: s.id.clone(),
                        from: before.map(|b| b.0),
                        to: s.state,
                    });
                    (s.state, at)
                }
            };
            next.insert(key, entry);
        }
        self.entered = next;
        changes
    }

    /// When the item entered its state (Unix seconds).
    pub fn get(&self, checklist: &str, id: &str) -> Option<f64> {
        self.entered
            .get(&(checklist.to_owned(), id.to_owned()))
            .map(|e| e.1)
    }
}

/// What a daemon adds about itself.
#[derive(Debug, Clone, Default)]
pub struct DaemonStats {
    /// Runs by result (`passed`, `failed`, `interrupted`).
    pub runs: BTreeMap<&'static str, u64>,
    /// Runs that took longer than the interval.
    pub overruns: u64,
    /// Whether the last reload loaded.
    pub reload_ok: bool,
    /// Item state changes, by the state entered.
    pub transitions: BTreeMap<State, u64>,
}

/// The families of one report, as plain data ready to encode.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    families: Vec<Family>,
}

#[derive(Debug, Clone)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    samples: Vec<(Labels, f64)>,
}

type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Gauge,
    Counter,
    /// Name without `_info`; every sample is 1.
    Info,
}

impl Family {
    fn new(name: &'static str, kind: Kind, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    fn push(&mut self, labels: Labels, value: f64) {
        self.samples.push((labels, value));
    }
}

/// Text formats of `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// OpenMetrics 1.0 (`application/openmetrics-text`).
    OpenMetrics,
    /// The Prometheus text format 0.0.4 (`text/plain`).
    Prometheus,
}

impl TextFormat {
    /// The format an `Accept` header asks for: OpenMetrics when it is listed
    /// with a higher (or equal, and earlier) quality than `text/plain`, else
    /// 0.0.4, as Prometheus's own exporters negotiate.
    pub fn negotiate(accept: Option<&str>) -> TextFormat {
        let Some(accept) = accept else {
            return TextFormat::Prometheus;
        };
        let mut best: Option<(f32, TextFormat)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let mut quality = 1.0f32;
            for param in parts {
                if let Some(q) = param.strip_prefix("q=") {
                    quality = q.parse().unwrap_or(0.0);
                }
            }
            let format = match media.as_str() {
                "application/openmetrics-text" => TextFormat::OpenMetrics,
                "text/plain" | "*/*" | "text/*" => TextFormat::Prometheus,
                _ => continue,
            };
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, format));
            }
        }
        best.map_or(TextFormat::Prometheus, |(_, f)| f)
    }

    /// The `Content-Type` of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            TextFormat::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            TextFormat::Prometheus => PROMETHEUS_CONTENT_TYPE,
        }
    }
}

impl Metrics {
    /// The families of a report. `since` should have observed the report
    /// (items it has not seen are stamped with the report's end);
    /// `daemon` adds the daemon's own families.
    pub fn of(report: Option<&Report>, since: &Since, daemon: Option<&DaemonStats>) -> Metrics {
        let mut families = Vec::new();
        if let Some(report) = report {
            report_families(report, since, &mut families);
        }
        let mut build = Family::new("vouch_build", Kind::Info, "The vouch version.");
        build.push(vec![("version", env!("CARGO_PKG_VERSION").to_owned())], 1.0);
        families.push(build);
        if let Some(d) = daemon {
            daemon_families(d, &mut families);
        }
        Metrics { families }
    }

    /// How many series (sample lines) the families hold.
    pub fn series(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }

    /// Encodes the families in a text format.
    pub fn encode(&self, format: TextFormat) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Encoded(Arc::new(self.clone()))));
        let mut out = String::new();
        let written = match format {
            TextFormat::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &registry)
            }
            TextFormat::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
            }
        };
        // Writing to a String fails only if a label value could not be
        // encoded, which the crate never reports for strings.
        if let Err(e) = written {
            tracing::warn!("cannot encode the metrics: {e}");
        }
        out
    }
}

/// The families handed to `prometheus-client` on each encoding: its
/// custom-collector hook, so no metric objects outlive a run.
#[derive(Debug)]
struct Encoded(Arc<Metrics>);

impl Collector for Encoded {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.0.families {
            let kind = match family.kind {
                Kind::Gauge => MetricType::Gauge,
                Kind::Counter => MetricType::Counter,
                Kind::Info => MetricType::Info,
            };
            let mut metric = encoder.encode_descriptor(family.name, family.help, None, kind)?;
            for (labels, value) in &family.samples {
                match family.kind {
                    Kind::Gauge => metric.encode_family(labels)?.encode_gauge(value)?,
                    Kind::Counter => metric
                        .encode_family(labels)?
                        .encode_counter::<NoLabelSet, f64, f64>(value, None)?,
                    Kind::Info => metric.encode_info(labels)?,
                }
            }
        }
        Ok(())
    }
}

fn report_families(report: &Report, since: &Since, out: &mut Vec<Family>) {
    let finished = unix_seconds(&report.finished_at).unwrap_or_else(now);
    let started = unix_seconds(&report.started_at).unwrap_or(finished);
    let ids = item_ids(report);

    let mut success = Family::new(
        "vouch_probe_success",
        Kind::Gauge,
        "1 when the probe passed in the last run, 0 otherwise.",
    );
    let mut duration = Family::new(
        "vouch_probe_duration_seconds",
        Kind::Gauge,
        "How long the probe took in the last run, all attempts included.",
    );
    let mut failure = Family::new(
        "vouch_probe_failure",
        Kind::Info,
        "Why the probe did not pass in the last run, as a short reason class.",
    );
    let mut leaf = Family::new(
        "vouch_tls_cert_not_after_timestamp_seconds",
        Kind::Gauge,
        "When the leaf certificate a tls probe saw expires (kept after expiry).",
    );
    let mut chain = Family::new(
        "vouch_tls_chain_earliest_not_after_timestamp_seconds",
        Kind::Gauge,
        "The earliest expiry among the certificates a tls probe saw (like blackbox's probe_ssl_earliest_cert_expiry).",
    );
    let names = probe_labels(report, &ids);
    for ((item, id), names) in report.items.iter().zip(&ids).zip(names) {
        for (probe, name) in item.probes.iter().zip(names) {
            let labels = vec![
                ("file", item.file.clone()),
                ("item", id.clone()),
                ("probe", name.clone()),
                ("kind", probe.kind.clone()),
            ];
            if probe.verdict == Verdict::Skip {
                continue;
            }
            success.push(labels.clone(), f64::from(probe.verdict == Verdict::Pass));
            duration.push(labels.clone(), probe.duration_ms / 1e3);
            let evidence: Value = serde_json::from_str(probe.evidence.get()).unwrap_or(Value::Null);
            if let Some(reason) = failure_reason(probe, &evidence) {
                let mut labels = labels;
                labels.push(("reason", reason.to_owned()));
                failure.push(labels, 1.0);
            }
            // Read by the evidence's shape, not the kind's name: whatever
            // records a certificate chain this way exports its dates.
            {
                let pair = |subject: &Value, not_after: &Value| {
                    Some((
                        subject.as_str().unwrap_or_default().to_owned(),
                        unix_seconds(not_after.as_str()?)?,
                    ))
                };
                let labels = |subject: String| {
                    vec![
                        ("item", id.clone()),
                        ("probe", name.clone()),
                        ("subject", subject),
                    ]
                };
                let first = &evidence["certificates"][0];
                if let Some((subject, at)) = pair(&first["subject"], &first["not_after"]) {
                    leaf.push(labels(subject), at);
                }
                let earliest = &evidence["chain_expires"];
                if let Some((subject, at)) = pair(&earliest["subject"], &earliest["not_after"]) {
                    chain.push(labels(subject), at);
                }
            }
        }
    }

    let states = item_states(report);
    let mut state = Family::new(
        "vouch_item_state",
        Kind::Gauge,
        "The item's state: one series per state, 1 for the current one (a stateset as gauges).",
    );
    let mut entered = Family::new(
        "vouch_item_state_since_timestamp_seconds",
        Kind::Gauge,
        "When the item entered its current state.",
    );
    for s in &states {
        for each in State::ALL {
            state.push(
                vec![
                    ("checklist", s.checklist.clone()),
                    ("section", s.section.clone()),
                    ("item", s.id.clone()),
                    ("state", each.as_str().to_owned()),
                ],
                f64::from(each == s.state),
            );
        }
        entered.push(
            vec![("checklist", s.checklist.clone()), ("item", s.id.clone())],
            since.get(&s.checklist, &s.id).unwrap_or(finished),
        );
    }

    let checklist = checklist_label(report);
    let mut score = Family::new(
        "vouch_readiness_score",
        Kind::Gauge,
        "Readiness 0-100: verified and attested over all items, per section and weighted overall.",
    );
    let mut coverage = Family::new(
        "vouch_coverage_ratio",
        Kind::Gauge,
        "Items bound to probes or attested over all items.",
    );
    let mut counts = Family::new("vouch_items", Kind::Gauge, "Items per state.");
    match &report.checklist {
        Some(c) => {
            score.push(vec![("checklist", checklist.clone())], c.score);
            for section in &c.sections {
                score.push(
                    vec![
                        ("checklist", checklist.clone()),
                        ("section", slug(&section.name)),
                    ],
                    section.score,
                );
            }
            coverage.push(vec![("checklist", checklist.clone())], c.coverage / 100.0);
        }
        None => {
            // Without a checklist the probe-file items are the checklist.
            let all = states.len().max(1) as f64;
            let good = states.iter().filter(|s| s.state.is_good()).count() as f64;
            let bound = states.iter().filter(|s| s.state != State::Manual).count() as f64;
            score.push(vec![("checklist", String::new())], 100.0 * good / all);
            coverage.push(vec![("checklist", String::new())], bound / all);
        }
    }
    for each in State::ALL {
        let n = states.iter().filter(|s| s.state == each).count();
        counts.push(
            vec![
                ("checklist", checklist.clone()),
                ("state", each.as_str().to_owned()),
            ],
            n as f64,
        );
    }

    let mut run = Family::new(
        "vouch_run_duration_seconds",
        Kind::Gauge,
        "How long the last complete run took.",
    );
    run.push(Vec::new(), report.duration_ms / 1e3);
    let mut last = Family::new(
        "vouch_last_run_timestamp_seconds",
        Kind::Gauge,
        "When the last complete run ended.",
    );
    last.push(Vec::new(), finished.max(started));

    // Empty families are left out: OpenMetrics allows them, but they only
    // add metadata lines.
    out.extend(
        [
            success, duration, failure, state, entered, score, coverage, counts, leaf, chain, run,
            last,
        ]
        .into_iter()
        .filter(|f| !f.samples.is_empty()),
    );
}

fn daemon_families(d: &DaemonStats, out: &mut Vec<Family>) {
    let mut runs = Family::new("vouch_runs", Kind::Counter, "Runs finished, by result.");
    for result in ["passed", "failed", "interrupted"] {
        runs.push(
            vec![("result", result.to_owned())],
            d.runs.get(result).copied().unwrap_or(0) as f64,
        );
    }
    let mut overrun = Family::new(
        "vouch_runs_overrun",
        Kind::Counter,
        "Runs that took longer than the interval (the next started at once).",
    );
    overrun.push(Vec::new(), d.overruns as f64);
    let mut reload = Family::new(
        "vouch_config_last_reload_successful",
        Kind::Gauge,
        "1 when the last (re)load of the probe files and checklist succeeded.",
    );
    reload.push(Vec::new(), f64::from(d.reload_ok));
    let mut transitions = Family::new(
        "vouch_item_transitions",
        Kind::Counter,
        "Item state changes, by the state entered.",
    );
    for state in State::ALL {
        transitions.push(
            vec![("to", state.as_str().to_owned())],
            d.transitions.get(&state).copied().unwrap_or(0) as f64,
        );
    }
    out.extend([runs, overrun, reload, transitions]);
}

/// The `probe` label of every probe, per item: the name the report shows,
/// with `#2`, `#3`… from the second probe on that shares its file, item id
/// and name (probe-file items bound to one checklist item share its id), so
/// no two series collide.
fn probe_labels(report: &Report, ids: &[String]) -> Vec<Vec<String>> {
    let mut seen: HashMap<(&str, &str, &str), usize> = HashMap::new();
    report
        .items
        .iter()
        .zip(ids)
        .map(|(item, id)| {
            item.probes
                .iter()
                .map(|probe| {
                    let n = seen
                        .entry((item.file.as_str(), id.as_str(), probe.name.as_str()))
                        .or_insert(0);
                    *n += 1;
                    if *n == 1 {
                        probe.name.clone()
                    } else {
                        format!("{}#{n}", probe.name)
                    }
                })
                .collect()
        })
        .collect()
}

/// Why a probe did not pass, as one of the documented reason classes, read
/// from its checks and evidence: `None` when it passed or was not run.
pub fn failure_reason(probe: &ProbeOutcome, evidence: &Value) -> Option<&'static str> {
    match probe.verdict {
        Verdict::Pass | Verdict::Skip => return None,
        Verdict::Error => return Some("error"),
        Verdict::Fail => {}
    }
    // The verifier's verdict, where the evidence records one (by shape, not
    // by the kind's name).
    let verification = &evidence["verification"];
    if verification.is_object() {
        match verification["reason"].as_str() {
            Some("expired") => return Some("tls_expired"),
            Some("unknown_issuer" | "bad_signature" | "invalid") => return Some("tls_untrusted"),
            Some("name_mismatch") => return Some("tls_hostname"),
            _ if verification["hostname"] == Value::Bool(false) => return Some("tls_hostname"),
            _ => {}
        }
    }
    // No response at all: the transport error says why.
    if let Some(error) = evidence["error"].as_str() {
        return Some(transport_reason(error));
    }
    let failed = probe.checks.iter().find(|c| !c.passed)?;
    let actual = failed.actual.to_lowercase();
    Some(match failed.name.as_str() {
        "status" => "status",
        "response" | "connect" | "send" | "receive" | "tls handshake" => transport_reason(&actual),
        "protocol" | "exposition" | "envelope" | "jsonrpc" => "protocol",
        "body size" | "body" if actual.contains("limit") || actual.contains("more than") => {
            "body_limit"
        }
        _ if actual.contains("timed out") => "timeout",
        _ => "assertion",
    })
}

fn transport_reason(error: &str) -> &'static str {
    let error = error.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| error.contains(w));
    if has(&["timed out", "timeout", "deadline"]) {
        "timeout"
    } else if has(&["refused"]) {
        "refused"
    } else if has(&["dns", "lookup", "resolve", "name or service not known"]) {
        "dns"
    } else if has(&["expired"]) {
        "tls_expired"
    } else if has(&[
        "notvalidforname",
        "not valid for name",
        "hostname",
        "name_mismatch",
    ]) {
        "tls_hostname"
    } else if has(&[
        "unknownissuer",
        "unknown issuer",
        "certificate",
        "untrusted",
    ]) {
        "tls_untrusted"
    } else if has(&["body limit", "body_limit", "too large"]) {
        "body_limit"
    } else {
        "protocol"
    }
}

/// An upper bound on the series a run of these probe files exports:
///
/// `4·P + 2·T + 8·I + S + 24`
///
/// for `P` probes (success, duration, at most one failure reason, plus the
/// build info share), `T` of them `tls` (leaf and chain expiry), `I` items
/// (seven states and a "since"; the checklist's items when there is one),
/// and `S` checklist sections (a score each); 24 covers the overall score,
/// coverage, the seven counts, the run and the daemon's own series.
pub fn series_bound(probes: usize, tls_probes: usize, items: usize, sections: usize) -> usize {
    probes
        .saturating_mul(4)
        .saturating_add(tls_probes.saturating_mul(2))
        .saturating_add(items.saturating_mul(8))
        .saturating_add(sections)
        .saturating_add(24)
}

/// Unix seconds of an RFC 3339 time.
pub fn unix_seconds(text: &str) -> Option<f64> {
    let at = humantime::parse_rfc3339_weak(text).ok()?;
    Some(match at.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    })
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{self, Mode};

    fn report() -> Report {
        let json = include_str!("../tests/fixtures/export/report.json");
        serde_json::from_str(json).expect("the fixture is a report")
    }

    fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let parsed = exposition::parse(text, Mode::Lenient).expect("parses");
        parsed
            .families
            .iter()
            .flat_map(|f| &f.samples)
            .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
            .map(|s| s.value)
    }

    #[test]
    fn openmetrics_output_passes_the_strict_parser() {
        let report = report();
        let mut since = Since::default();
        since.observe(&item_states(&report), 1000.0);
        let daemon = DaemonStats {
            reload_ok: true,
            ..DaemonStats::default()
        };
        let text =
            Metrics::of(Some(&report), &since, Some(&daemon)).encode(TextFormat::OpenMetrics);
        exposition::parse(&text, Mode::Strict).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(text.ends_with("# EOF\n"));
        assert!(text.contains("# TYPE vouch_probe_failure info\n"));
        assert!(text.contains("# TYPE vouch_runs counter\n"));
    }

    #[test]
    fn prometheus_text_names_counters_and_infos_in_full() {
        let report = report();
        let text = Metrics::of(
            Some(&report),
            &Since::default(),
            Some(&DaemonStats::default()),
        )
        .encode(TextFormat::Prometheus);
        exposition::parse(&text, Mode::Lenient).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(!text.contains("# EOF"));
        assert!(text.contains("# TYPE vouch_runs_total counter\n"));
        assert!(text.contains("# TYPE vouch_probe_failure_info gauge\n"));
    }

    #[test]
    fn refuted_items_and_status_failures_have_their_series() {
        let report = report();
        let text =
            Metrics::of(Some(&report), &Since::default(), None).encode(TextFormat::OpenMetrics);
        let refuted = item_states(&report)
            .into_iter()
            .find(|s| s.state == State::Refuted)
            .expect("the fixture refutes an item");
        assert_eq!(
            sample(
                &text,
                "vouch_item_state",
                &[("item", &refuted.id), ("state", "refuted")]
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "vouch_item_state",
                &[("item", &refuted.id), ("state", "verified")]
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(&text, "vouch_probe_failure_info", &[("reason", "status")]),
            Some(1.0)
        );
        // Labels are ids: no item text with spaces.
        let parsed = exposition::parse(&text, Mode::Strict).expect("parses");
        for s in parsed.families.iter().flat_map(|f| &f.samples) {
            if let Some(item) = s.label("item") {
                assert!(!item.contains(' '), "{item}");
            }
        }
    }

    #[test]
    fn series_stay_under_the_bound() {
        let report = report();
        let metrics = Metrics::of(
            Some(&report),
            &Since::default(),
            Some(&DaemonStats::default()),
        );
        let probes: usize = report.items.iter().map(|i| i.probes.len()).sum();
        let tls = report
            .items
            .iter()
            .flat_map(|i| &i.probes)
            .filter(|p| p.kind == "tls")
            .count();
        let c = report.checklist.as_ref().expect("fixture has a checklist");
        let bound = series_bound(probes, tls, c.items.len(), c.sections.len());
        assert!(metrics.series() <= bound, "{} > {bound}", metrics.series());
    }

    #[test]
    fn probes_sharing_a_name_get_distinct_labels() {
        let mut report = report();
        let first = report.items[0].probes[0].clone();
        report.items[0].probes.push(first.clone());
        let mut twin = report.items[0].clone();
        twin.location.push_str("-twin");
        // Bound to the same checklist item: the same `item` label.
        let checklist = report.checklist.as_mut().expect("checklist");
        let bound = checklist
            .items
            .iter_mut()
            .find(|i| i.bound.contains(&report.items[0].location))
            .expect("bound");
        bound.bound.push(twin.location.clone());
        report.items.push(twin);
        let ids = item_ids(&report);
        assert_eq!(ids[0], ids[ids.len() - 1]);
        let labels = probe_labels(&report, &ids);
        let mut all: Vec<(String, String)> = ids
            .iter()
            .zip(&labels)
            .flat_map(|(id, names)| names.iter().map(move |n| (id.clone(), n.clone())))
            .collect();
        let before = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), before, "a probe label repeats");
        let text =
            Metrics::of(Some(&report), &Since::default(), None).encode(TextFormat::OpenMetrics);
        exposition::parse(&text, Mode::Strict).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn since_keeps_the_time_a_state_was_entered() {
        let state = |s| ItemState {
            checklist: String::new(),
            section: String::new(),
            id: "a".to_owned(),
            text: "A".to_owned(),
            state: s,
            sources: Vec::new(),
        };
        let mut since = Since::default();
        let first = since.observe(&[state(State::Verified)], 10.0);
        assert_eq!(first.len(), 1);
        assert!(since.observe(&[state(State::Verified)], 20.0).is_empty());
        assert_eq!(since.get("", "a"), Some(10.0));
        let change = since.observe(&[state(State::Failed)], 30.0);
        assert_eq!(change[0].from, Some(State::Verified));
        assert_eq!(since.get("", "a"), Some(30.0));
    }

    #[test]
    fn negotiates_like_prometheus() {
        use TextFormat::*;
        assert_eq!(TextFormat::negotiate(None), Prometheus);
        assert_eq!(
            TextFormat::negotiate(Some(
                "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
            )),
            OpenMetrics
        );
        assert_eq!(
            TextFormat::negotiate(Some("text/plain;version=0.0.4")),
            Prometheus
        );
        assert_eq!(TextFormat::negotiate(Some("application/json")), Prometheus);
    }

    #[test]
    fn transport_errors_map_to_reasons() {
        assert_eq!(
            transport_reason("tcp connect error: connection refused"),
            "refused"
        );
        assert_eq!(
            transport_reason("dns error: failed to lookup address information"),
            "dns"
        );
        assert_eq!(transport_reason("timed out after 2s"), "timeout");
        assert_eq!(
            transport_reason("invalid peer certificate: UnknownIssuer"),
            "tls_untrusted"
        );
        assert_eq!(transport_reason("connection reset by peer"), "protocol");
    }
}
