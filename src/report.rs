//! Reports: a run becomes a [`Report`] (the documented `vouch.report/v1`
//! model), which each format renders. Reports render outcomes and evidence,
//! never a probe kind's internals.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::checklist::Checklist;
use crate::checklist::bind::Binding;
use crate::outcome::{ChecklistOutcome, ItemOutcome, ItemVerdict, Verdict};
use crate::runner::{Run, RunInfo};
use crate::spec::ProbeFile;

pub mod escape;
pub mod gate;
pub mod github;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod output;
pub mod stream;

pub use gate::{Condition, FailOn, FailOnSet, Gate, GatePolicy, MinScore};

/// The JSON report's schema identifier.
pub const SCHEMA_ID: &str = "vouch.report/v1";

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Grouped, coloured on a terminal.
    Human,
    /// `vouch.report/v1`, documented by `schemas/vouch.report.v1.json`.
    Json,
    /// JUnit XML: a testsuite per checklist section (or probe file).
    Junit,
    /// The checklist written back with boxes and evidence (needs a checklist).
    Markdown,
    /// GitHub Actions annotations at the checklist lines of refuted, failed,
    /// error and flaky items.
    Github,
    /// One self-contained page for a readiness review.
    Html,
}

impl Format {
    /// The format a file name implies, when only one fits: `.json`,
    /// `.xml` (JUnit), `.html`/`.htm`, `.md`/`.markdown`, `.txt`/`.log`.
    pub fn from_extension(path: &std::path::Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "json" => Some(Format::Json),
            "xml" => Some(Format::Junit),
            "html" | "htm" => Some(Format::Html),
            "md" | "markdown" => Some(Format::Markdown),
            "txt" | "log" => Some(Format::Human),
            _ => None,
        }
    }
}

/// The report of one run: `vouch.report/v1`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "vouch report", deny_unknown_fields)]
pub struct Report {
    /// Always `vouch.report/v1`.
    pub schema: String,
    /// The vouch version that wrote it.
    pub vouch_version: String,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// When it ended (RFC 3339).
    pub finished_at: String,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// Whether Ctrl-C, SIGTERM or SIGHUP cut it short (unfinished probes are `skip`).
    pub interrupted: bool,
    /// The probe files and their targets.
    pub files: Vec<FileInfo>,
    /// Counts and the gate.
    pub summary: Summary,
    /// The markdown checklist, when one was given: sections, score,
    /// coverage and refutations.
    pub checklist: Option<ChecklistOutcome>,
    /// Which shard of `--shard K/N` this report is; absent for a whole run
    /// (and for the report `vouch merge` makes of the shards').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// Every probe-file item in file order.
    pub items: Vec<ItemOutcome>,
    /// The parsed checklist, for writing it back.
    #[serde(skip)]
    #[schemars(skip)]
    pub checklist_doc: Option<Arc<Checklist>>,
}

/// A checklist given to a run, with its binding.
pub struct ChecklistInput<'a> {
    /// The parsed checklist.
    pub checklist: Arc<Checklist>,
    /// Which probe-file items verify which checklist items.
    pub binding: &'a Binding,
}

/// A probe file of the run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct FileInfo {
    /// The path as given.
    pub path: String,
    /// `name:`.
    pub name: Option<String>,
    /// The target base URL.
    pub target: Option<String>,
    /// SHA-256 (hex) of the file's bytes, so `vouch merge` can tell whether
    /// shards ran the same probe files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// `--shard K/N`: this report holds the items of shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ShardInfo {
    /// K, from 0.
    pub index: u32,
    /// N, at least 1.
    pub count: u32,
}

/// Counts of the run and the gate's decision.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Summary {
    /// Items reported.
    pub items: usize,
    /// Items verified.
    pub verified: usize,
    /// Items failed.
    pub failed: usize,
    /// Items in error.
    pub error: usize,
    /// Items attested and still valid.
    pub attested: usize,
    /// Items with neither probes nor attestation.
    pub manual: usize,
    /// Items not run (interrupted).
    pub skipped: usize,
    /// Items where some probe passed only on a retry.
    pub flaky: usize,
    /// Checklist items ticked `[x]` that no probe or attestation verified.
    #[serde(default)]
    pub unverified: usize,
    /// Probe counts.
    pub probes: ProbeCounts,
    /// The `--fail-on` conditions (`failed`, `critical:failed`).
    pub fail_on: Vec<String>,
    /// Whether the gate passed.
    pub passed: bool,
    /// The gate's rules and which of them failed it.
    #[serde(default)]
    pub gate: Gate,
}

/// Probe verdict counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ProbeCounts {
    /// All probes.
    pub total: usize,
    /// `pass`.
    pub pass: usize,
    /// `fail`.
    pub fail: usize,
    /// `error`.
    pub error: usize,
    /// `skip`.
    pub skip: usize,
}

impl Report {
    /// Builds the report of a run (taking its outcomes), gated by `--fail-on` alone.
    pub fn new(
        run: Run,
        files: &[ProbeFile],
        fail_on: &FailOnSet,
        checklist: Option<ChecklistInput<'_>>,
    ) -> Report {
        Report::with_policy(run, files, &GatePolicy::fail_on(fail_on), checklist)
    }

    /// Builds the report of a run (taking its outcomes), gated by `policy`.
    pub fn with_policy(
        run: Run,
        files: &[ProbeFile],
        policy: &GatePolicy,
        checklist: Option<ChecklistInput<'_>>,
    ) -> Report {
        let info = RunInfo {
            started_at: run.started_at,
            finished_at: run.finished_at,
            duration: run.duration,
            interrupted: run.interrupted,
            items: run.items.len(),
        };
        let mut counts = Summary::counting(policy);
        run.items.iter().for_each(|item| counts.count(item));
        Report::assemble(&info, run.items, counts, files, policy, checklist)
    }

    /// Builds the report of a run whose items were counted into `counts`
    /// ([`Summary::count`]) as they finished: `items` may be only those the
    /// gate, the checklist and the markdown write-back look at (items that
    /// did not verify, flaky ones, those bound to the checklist).
    pub fn assemble(
        run: &RunInfo,
        items: Vec<ItemOutcome>,
        counts: Summary,
        files: &[ProbeFile],
        policy: &GatePolicy,
        checklist: Option<ChecklistInput<'_>>,
    ) -> Report {
        let mut secrets = crate::redact::Secrets::default();
        files.iter().for_each(|f| secrets.extend(&f.secrets));
        let redactor = crate::redact::Redactor::new(&secrets);
        let weights: Vec<crate::spec::Weight> = files
            .iter()
            .flat_map(|f| f.weights.iter().cloned())
            .collect();
        let assessed = checklist.as_ref().map(|input| {
            crate::checklist::verdict::assess(&input.checklist, input.binding, &items, &weights)
        });
        let mut summary = counts;
        summary.decide(&items, assessed.as_ref(), policy, run.interrupted);
        Report {
            schema: SCHEMA_ID.to_owned(),
            vouch_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: humantime::format_rfc3339_millis(run.started_at).to_string(),
            finished_at: humantime::format_rfc3339_millis(run.finished_at).to_string(),
            duration_ms: (run.duration.as_secs_f64() * 1e6).round() / 1e3,
            interrupted: run.interrupted,
            files: files
                .iter()
                .map(|f| FileInfo {
                    path: f.path.display().to_string(),
                    name: f.name.as_deref().map(|n| redactor.text(n).into_owned()),
                    target: f
                        .target
                        .as_ref()
                        .map(|t| redactor.text(t.as_str().trim_end_matches('/')).into_owned()),
                    sha256: None,
                })
                .collect(),
            summary,
            checklist: assessed,
            shard: None,
            items,
            checklist_doc: checklist.map(|input| input.checklist),
        }
    }

    /// The target of the first file, for headlines.
    pub fn target(&self) -> &str {
        self.files
            .iter()
            .find_map(|f| f.target.as_deref())
            .unwrap_or("(no target)")
    }

    /// Writes the report in a format. `color` applies to `human` only.
    pub fn write(
        &self,
        format: Format,
        color: bool,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        match format {
            Format::Human => out.write_all(human::render(self, color).as_bytes()),
            Format::Json => json::write(self, out),
            Format::Junit => out.write_all(junit::render(self).as_bytes()),
            Format::Markdown => out.write_all(markdown::render(self).as_bytes()),
            Format::Github => out.write_all(github::render(self).as_bytes()),
            Format::Html => out.write_all(html::render(self).as_bytes()),
        }
    }

    /// Renders the report in a format. `color` applies to `human` only.
    pub fn render(&self, format: Format, color: bool) -> String {
        match format {
            Format::Human => human::render(self, color),
            Format::Json => json::render(self),
            Format::Junit => junit::render(self),
            Format::Markdown => markdown::render(self),
            Format::Github => github::render(self),
            Format::Html => html::render(self),
        }
    }
}

/// The counts of `items` and the gate's decision over them and the
/// checklist's outcome: what a report says of its items, for a run, a shard
/// (its own items) and `vouch merge` (the union).
pub fn summarize(
    items: &[ItemOutcome],
    checklist: Option<&ChecklistOutcome>,
    policy: &GatePolicy,
    interrupted: bool,
) -> Summary {
    let mut summary = Summary::counting(policy);
    items.iter().for_each(|item| summary.count(item));
    summary.decide(items, checklist, policy, interrupted);
    summary
}

impl Summary {
    /// No items counted yet, under `policy`'s `--fail-on`.
    pub fn counting(policy: &GatePolicy) -> Summary {
        Summary {
            fail_on: policy.fail_on.0.iter().map(Condition::to_string).collect(),
            ..Summary::default()
        }
    }

    /// Counts one item and its probes.
    pub fn count(&mut self, item: &ItemOutcome) {
        self.items += 1;
        match item.verdict {
            ItemVerdict::Verified => self.verified += 1,
            ItemVerdict::Failed => self.failed += 1,
            ItemVerdict::Error => self.error += 1,
            ItemVerdict::Attested => self.attested += 1,
            ItemVerdict::Manual => self.manual += 1,
            ItemVerdict::Skipped | ItemVerdict::Partial => self.skipped += 1,
        }
        self.flaky += usize::from(item.flaky);
        for probe in &item.probes {
            self.probes.total += 1;
            match probe.verdict {
                Verdict::Pass => self.probes.pass += 1,
                Verdict::Fail => self.probes.fail += 1,
                Verdict::Error => self.probes.error += 1,
                Verdict::Skip => self.probes.skip += 1,
            }
        }
    }

    /// The gate's decision, once every item is counted. `items` need hold
    /// only those that did not verify, flaky ones and those bound to the
    /// checklist: the gate looks at no other.
    pub fn decide(
        &mut self,
        items: &[ItemOutcome],
        checklist: Option<&ChecklistOutcome>,
        policy: &GatePolicy,
        interrupted: bool,
    ) {
        self.unverified = checklist.map_or(0, |c| c.counts.unverified);
        self.gate = gate::decide(items, checklist, policy, interrupted);
        self.passed = self.gate.passed;
    }
}

/// The JSON Schema of `vouch.report/v1`.
pub fn json_schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Report)).unwrap_or_default();
    schema["$id"] = serde_json::Value::from("https://vouch.dev/schemas/vouch.report.v1.json");
    schema
}
