//! What a run produced, as plain data: probe outcomes with every attempt,
//! item verdicts rolled up from them. The runner writes it, reports read it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::probe::Check;

pub mod bound;

/// A probe's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every expectation held.
    Pass,
    /// The deployment did not meet an expectation (an unreachable target too).
    Fail,
    /// The probe could not be evaluated: the agent's side.
    Error,
    /// Not run (interrupted).
    Skip,
}

impl Verdict {
    /// The lowercase name used in every report.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::Skip => "skip",
        }
    }
}

/// An item's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemVerdict {
    /// Every probe passed.
    Verified,
    /// A probe failed, or an attestation is stale.
    Failed,
    /// A probe could not be evaluated, and none failed.
    Error,
    /// Attested by a person, still valid.
    Attested,
    /// No probe and no attestation.
    Manual,
    /// Not run (interrupted, or left out by `--only`).
    Skipped,
    /// Some children verified or attested, others manual (checklist parents only).
    Partial,
}

impl ItemVerdict {
    /// The lowercase name used in every report.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemVerdict::Verified => "verified",
            ItemVerdict::Failed => "failed",
            ItemVerdict::Error => "error",
            ItemVerdict::Attested => "attested",
            ItemVerdict::Manual => "manual",
            ItemVerdict::Skipped => "skipped",
            ItemVerdict::Partial => "partial",
        }
    }

    /// Rolls probe verdicts up: a failure wins over an error, an error over a skip.
    pub fn from_probes(verdicts: impl IntoIterator<Item = Verdict>) -> ItemVerdict {
        let (mut any, mut fail, mut error, mut skip) = (false, false, false, false);
        for v in verdicts {
            any = true;
            match v {
                Verdict::Pass => {}
                Verdict::Fail => fail = true,
                Verdict::Error => error = true,
                Verdict::Skip => skip = true,
            }
        }
        match (any, fail, error, skip) {
            (false, ..) => ItemVerdict::Manual,
            (_, true, ..) => ItemVerdict::Failed,
            (_, _, true, _) => ItemVerdict::Error,
            (_, _, _, true) => ItemVerdict::Skipped,
            _ => ItemVerdict::Verified,
        }
    }
}

/// One attempt of a probe.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Attempt {
    /// 1-based.
    pub number: u32,
    /// This attempt's verdict.
    pub verdict: Verdict,
    /// This attempt's one-line summary.
    pub summary: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
}

/// The outcome of one probe, after retries.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ProbeOutcome {
    /// The kind (`http`).
    pub kind: String,
    /// `name:` of the probe, or what it does (`GET /health`).
    pub name: String,
    /// Where it was written: `file:line:column`.
    pub location: String,
    /// The final verdict.
    pub verdict: Verdict,
    /// Passed only after a failed attempt.
    pub flaky: bool,
    /// One line for people, from the final attempt.
    pub summary: String,
    /// The final attempt's checks.
    pub checks: Vec<Check>,
    /// The final attempt's structured record, kept serialised: thousands of
    /// outcomes stay small in memory until the report is written.
    #[schemars(with = "serde_json::Value")]
    pub evidence: Box<serde_json::value::RawValue>,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// When the first attempt started (RFC 3339); `null` when the probe
    /// never started (skipped, refused, or lost to a crash).
    #[schemars(required, extend("type" = ["string", "null"]))]
    pub started_at: Option<String>,
    /// Total time over all attempts and pauses, in milliseconds.
    pub duration_ms: f64,
}

/// The outcome of one item.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ItemOutcome {
    /// The item as written in the probe file.
    pub item: String,
    /// The probe file.
    pub file: String,
    /// Where `item:` was written: `file:line:column`.
    pub location: String,
    /// The verdict.
    pub verdict: ItemVerdict,
    /// `severity:` of the item (`major` when not written).
    #[serde(default)]
    pub severity: crate::spec::Severity,
    /// Why, in one line (stale attestation, which probe failed).
    pub reason: Option<String>,
    /// Some probe passed only on a retry.
    pub flaky: bool,
    /// The attestation, when attested.
    pub attestation: Option<AttestationRecord>,
    /// Each probe's outcome, in file order.
    pub probes: Vec<ProbeOutcome>,
    /// In a `--shard K/N` report: the item belongs to another shard and was
    /// not run here (its verdict is `skipped`, with no probes).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_in_shard: bool,
}

/// What the deployment says of a markdown checklist.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChecklistOutcome {
    /// Ids of the refuted items (claimed done, but failed), first.
    pub refuted: Vec<String>,
    /// The checklist file.
    pub path: Option<String>,
    /// Its title.
    pub title: Option<String>,
    /// Counts over all its items.
    pub counts: Counts,
    /// Items bound to probes or attested, in percent of all items.
    pub coverage: f64,
    /// The readiness score, 0–100: per top-level section, verified and
    /// attested over all items, weighted.
    pub score: f64,
    /// Per top-level section.
    pub sections: Vec<SectionOutcome>,
    /// Every checklist item in document order (refuted ones are flagged).
    pub items: Vec<ChecklistItemOutcome>,
    /// SHA-256 (hex) of the checklist file's bytes, so `vouch merge` can
    /// tell whether shards verified the same checklist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Item counts of a checklist or a section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    /// All items.
    pub items: usize,
    /// Items the checklist claims done (`[x]`).
    pub claimed: usize,
    /// Verified by probes.
    pub verified: usize,
    /// Attested and still valid.
    pub attested: usize,
    /// Failed (including stale attestations).
    pub failed: usize,
    /// Could not be evaluated.
    pub error: usize,
    /// Not bound to any probe.
    pub manual: usize,
    /// Parents with some children verified and others manual.
    pub partial: usize,
    /// Bound but not run.
    pub skipped: usize,
    /// Claimed done, but failed.
    pub refuted: usize,
    /// Claimed done, but nothing verified it: no probe, no attestation.
    #[serde(default)]
    pub unverified: usize,
}

impl Counts {
    /// Adds one item.
    pub fn add(&mut self, verdict: ItemVerdict, claimed: bool) {
        self.items += 1;
        self.claimed += usize::from(claimed);
        match verdict {
            ItemVerdict::Verified => self.verified += 1,
            ItemVerdict::Attested => self.attested += 1,
            ItemVerdict::Failed => self.failed += 1,
            ItemVerdict::Error => self.error += 1,
            ItemVerdict::Manual => self.manual += 1,
            ItemVerdict::Partial => self.partial += 1,
            ItemVerdict::Skipped => self.skipped += 1,
        }
        self.refuted += usize::from(claimed && verdict == ItemVerdict::Failed);
        self.unverified += usize::from(claimed && verdict == ItemVerdict::Manual);
    }
}

/// One top-level section of the checklist.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SectionOutcome {
    /// The heading text.
    pub name: String,
    /// Its counts.
    pub counts: Counts,
    /// Verified and attested over all items, 0–100.
    pub score: f64,
    /// Its weight in the overall score.
    pub weight: f64,
}

/// One checklist item and what the deployment says of it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChecklistItemOutcome {
    /// Stable id (heading path + text).
    pub id: String,
    /// Plain text.
    pub text: String,
    /// 1-based line in the checklist.
    pub line: usize,
    /// Top-level section.
    pub section: Option<String>,
    /// Id of the parent item.
    pub parent: Option<String>,
    /// Whether the checklist claims it done.
    pub claimed: bool,
    /// The verdict, children rolled up.
    pub verdict: ItemVerdict,
    /// Claimed done, but failed.
    pub refuted: bool,
    /// Locations of the probe-file items bound to it.
    pub bound: Vec<String>,
    /// Why it failed, or how it was verified, in one line.
    pub reason: Option<String>,
    /// In a `--shard K/N` report: the item belongs to another shard, and the
    /// counts, score and coverage leave it out.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_in_shard: bool,
}

/// An attestation as reported.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AttestationRecord {
    /// Who attested.
    pub by: String,
    /// When (YYYY-MM-DD).
    pub on: String,
    /// Until when it holds (RFC 3339).
    pub expires: String,
    /// Whether it ran out.
    pub stale: bool,
    /// Their note.
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_outranks_errors_and_skips() {
        use Verdict::*;
        assert_eq!(
            ItemVerdict::from_probes([Pass, Error, Fail]),
            ItemVerdict::Failed
        );
        assert_eq!(
            ItemVerdict::from_probes([Pass, Error, Skip]),
            ItemVerdict::Error
        );
        assert_eq!(ItemVerdict::from_probes([Pass, Skip]), ItemVerdict::Skipped);
        assert_eq!(
            ItemVerdict::from_probes([Pass, Pass]),
            ItemVerdict::Verified
        );
        assert_eq!(ItemVerdict::from_probes([]), ItemVerdict::Manual);
    }
}
