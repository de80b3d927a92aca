//! Traffic probes (the isolated phase: `rate_limit`, `load`) under `watch`:
//! left out of most cycles, and their last outcomes put back into the runs
//! that skip them, marked with their age, so the items keep a verdict.

use std::collections::HashMap;
use std::time::SystemTime;

use crate::outcome::{ItemOutcome, ItemVerdict, ProbeOutcome, Verdict};
use crate::probe::Phase;
use crate::redact::{Redactor, Secrets};
use crate::runner::{self, Run};
use crate::spec::{ProbeEntry, ProbeFile};

/// The last outcome of each traffic probe, by its location.
#[derive(Debug, Default)]
pub struct Kept {
    outcomes: HashMap<String, ProbeOutcome>,
}

fn is_traffic(entry: &ProbeEntry) -> bool {
    entry.budget().phase == Phase::Isolated
}

/// Whether the files have any traffic probe.
pub fn has_traffic(files: &[ProbeFile]) -> bool {
    files
        .iter()
        .flat_map(|f| &f.items)
        .flat_map(|i| &i.probes)
        .any(is_traffic)
}

/// The files without their traffic probes (items keep their place, so
/// every location stays the same).
pub fn without_traffic(files: &[ProbeFile]) -> Vec<ProbeFile> {
    files
        .iter()
        .map(|file| {
            let mut file = file.clone();
            for item in &mut file.items {
                item.probes.retain(|p| !is_traffic(p));
            }
            file
        })
        .collect()
}

impl Kept {
    /// Remembers the traffic probes' outcomes of a run that ran them.
    pub fn remember(&mut self, run: &Run) {
        for probe in run.items.iter().flat_map(|i| &i.probes) {
            if let Some(kept) = self.outcomes.get_mut(&probe.location) {
                kept.clone_from(probe);
            }
        }
    }

    /// Registers which probes are traffic probes (on each load).
    pub fn track(&mut self, files: &[ProbeFile]) {
        let redactor = redactor(files);
        let mut outcomes = HashMap::new();
        for file in files {
            let name = file.path.display().to_string();
            for entry in file.items.iter().flat_map(|i| &i.probes) {
                if is_traffic(entry) {
                    let location = format!("{name}:{}", entry.pos);
                    let kept = self
                        .outcomes
                        .remove(&location)
                        .unwrap_or_else(|| not_yet(entry, &location, &redactor));
                    outcomes.insert(location, kept);
                }
            }
        }
        self.outcomes = outcomes;
    }

    /// Puts the kept traffic outcomes back into a run made without them,
    /// in file order, and rolls the items' verdicts up again.
    pub fn restore(&self, run: &mut Run, files: &[ProbeFile], only: Option<&str>) {
        let now = SystemTime::now();
        let redactor = redactor(files);
        let items = files
            .iter()
            .flat_map(|f| f.items.iter().map(move |i| (f, i)))
            .filter(|(_, i)| runner::is_selected(i, only));
        for (outcome, (file, item)) in run.items.iter_mut().zip(items) {
            if !item.probes.iter().any(is_traffic) {
                continue;
            }
            let name = file.path.display().to_string();
            let mut ran = std::mem::take(&mut outcome.probes).into_iter();
            for entry in &item.probes {
                let probe = if is_traffic(entry) {
                    let location = format!("{name}:{}", entry.pos);
                    self.outcomes
                        .get(&location)
                        .map(|kept| aged(kept, now))
                        .unwrap_or_else(|| not_yet(entry, &location, &redactor))
                } else {
                    match ran.next() {
                        Some(p) => p,
                        None => continue,
                    }
                };
                outcome.probes.push(probe);
            }
            roll_up(outcome);
        }
    }
}

/// A kept outcome, its summary saying when it ran.
fn aged(kept: &ProbeOutcome, now: SystemTime) -> ProbeOutcome {
    let mut probe = kept.clone();
    if probe.verdict == Verdict::Skip {
        return probe;
    }
    let age = probe
        .started_at
        .as_deref()
        .and_then(|at| humantime::parse_rfc3339_weak(at).ok())
        .and_then(|at| now.duration_since(at).ok())
        .map(|d| humantime::format_duration(std::time::Duration::from_secs(d.as_secs())));
    if let Some(age) = age {
        probe.summary = format!("{} (traffic probe, last run {age} ago)", probe.summary);
    }
    probe
}

/// A traffic probe that has not run yet under this watch.
fn not_yet(entry: &ProbeEntry, location: &str, redactor: &Redactor) -> ProbeOutcome {
    let name = entry
        .settings()
        .name
        .clone()
        .unwrap_or_else(|| entry.describe());
    ProbeOutcome {
        kind: entry.kind().to_owned(),
        name: redactor.text(&name).into_owned(),
        location: location.to_owned(),
        verdict: Verdict::Skip,
        flaky: false,
        summary: redactor
            .text(&format!(
                "{}: traffic probe, not run by `vouch watch` yet (see --traffic-every)",
                entry.describe()
            ))
            .into_owned(),
        checks: Vec::new(),
        evidence: serde_json::value::RawValue::from_string("null".to_owned())
            .expect("`null` is JSON"),
        attempts: Vec::new(),
        started_at: None,
        duration_ms: 0.0,
    }
}

fn redactor(files: &[ProbeFile]) -> Redactor {
    let mut secrets = Secrets::default();
    files.iter().for_each(|f| secrets.extend(&f.secrets));
    Redactor::new(&secrets)
}

/// The item's verdict from its probes again, as the runner rolls it up.
fn roll_up(item: &mut ItemOutcome) {
    if item.attestation.is_some() {
        return;
    }
    item.verdict = ItemVerdict::from_probes(item.probes.iter().map(|p| p.verdict));
    item.flaky = item.probes.iter().any(|p| p.flaky);
    item.reason = item
        .probes
        .iter()
        .find(|p| p.verdict != Verdict::Pass)
        .map(|p| p.summary.clone());
}
