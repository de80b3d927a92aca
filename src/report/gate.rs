//! The gate: whether a run lets a release through, and why not. Rules are
//! `--fail-on` conditions (a verdict, optionally limited to a severity),
//! `--min-score` (overall or per section) and `--min-coverage`; every rule
//! that trips is kept with the items or scores that tripped it, so each
//! report can say which rule failed the gate.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::outcome::{ChecklistOutcome, ItemOutcome, ItemVerdict};
use crate::spec::Severity;

/// What makes the gate fail (`--fail-on`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FailOn {
    /// An item failed.
    Failed,
    /// An item could not be evaluated.
    Error,
    /// An item the checklist claims done failed.
    Refuted,
    /// A probe passed only on a retry.
    Flaky,
}

impl FailOn {
    /// The spelling on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Failed => "failed",
            FailOn::Error => "error",
            FailOn::Refuted => "refuted",
            FailOn::Flaky => "flaky",
        }
    }
}

/// One `--fail-on` condition: a verdict, for items of one severity or of any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Condition {
    /// `critical:` in `critical:failed`; `None` for every severity.
    pub severity: Option<Severity>,
    /// The verdict.
    pub on: FailOn,
}

impl Condition {
    /// Whether an item of `severity` falls under this condition.
    fn covers(&self, severity: Severity) -> bool {
        self.severity.is_none_or(|s| s == severity)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.severity {
            Some(s) => write!(f, "{}:{}", s.as_str(), self.on.as_str()),
            None => f.write_str(self.on.as_str()),
        }
    }
}

/// A set of conditions, written `failed,error` or `critical:failed,refuted`:
/// a `SEVERITY:` prefix limits only the word it is written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailOnSet(pub BTreeSet<Condition>);

impl Default for FailOnSet {
    fn default() -> Self {
        FailOnSet(BTreeSet::from([
            Condition {
                severity: None,
                on: FailOn::Failed,
            },
            Condition {
                severity: None,
                on: FailOn::Error,
            },
        ]))
    }
}

const EXPECTED: &str = "expected `failed`, `error`, `refuted` or `flaky`, optionally after `critical:`, `major:` or `minor:`";

impl FromStr for FailOnSet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let (severity, verdict) = match word.split_once(':') {
                Some((severity, verdict)) => (
                    Some(match severity.trim() {
                        "critical" => Severity::Critical,
                        "major" => Severity::Major,
                        "minor" => Severity::Minor,
                        other => return Err(format!("unknown severity `{other}`; {EXPECTED}")),
                    }),
                    verdict.trim(),
                ),
                None => (None, word),
            };
            let on = match verdict {
                "failed" => FailOn::Failed,
                "error" => FailOn::Error,
                "refuted" => FailOn::Refuted,
                "flaky" => FailOn::Flaky,
                other => return Err(format!("unknown condition `{other}`, {EXPECTED}")),
            };
            set.insert(Condition { severity, on });
        }
        if set.is_empty() {
            return Err(format!("no condition given; {EXPECTED}"));
        }
        Ok(FailOnSet(set))
    }
}

impl fmt::Display for FailOnSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<String> = self.0.iter().map(Condition::to_string).collect();
        f.write_str(&words.join(","))
    }
}

/// `--min-score N` or `--min-score SECTION=N`.
#[derive(Debug, Clone, PartialEq)]
pub struct MinScore {
    /// The top-level section, or `None` for the overall score.
    pub section: Option<String>,
    /// The least score that passes, 0–100.
    pub score: f64,
}

impl FromStr for MinScore {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        // A section name may hold `=`; the number never does.
        let (section, number) = match s.rsplit_once('=') {
            Some((section, number)) if !section.trim().is_empty() => {
                (Some(section.trim().to_owned()), number)
            }
            Some(_) => return Err(format!("expected N or SECTION=N, found `{s}`")),
            None => (None, s),
        };
        Ok(MinScore {
            section,
            score: parse_percent(number)?,
        })
    }
}

/// A number from 0 to 100 (`80`, `72.5`, `80%`).
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let bare = text.trim().trim_end_matches('%');
    match bare.parse::<f64>() {
        Ok(n) if (0.0..=100.0).contains(&n) => Ok(n),
        _ => Err(format!("expected a number from 0 to 100, found `{text}`")),
    }
}

/// Everything that decides the gate.
#[derive(Debug, Clone, Default)]
pub struct GatePolicy {
    /// `--fail-on`.
    pub fail_on: FailOnSet,
    /// `--min-score`, each.
    pub min_scores: Vec<MinScore>,
    /// `--min-coverage`.
    pub min_coverage: Option<f64>,
}

impl GatePolicy {
    /// The policy of `--fail-on` alone.
    pub fn fail_on(fail_on: &FailOnSet) -> GatePolicy {
        GatePolicy {
            fail_on: fail_on.clone(),
            ..GatePolicy::default()
        }
    }

    /// Whether a rule needs the checklist's scores.
    pub fn needs_checklist(&self) -> bool {
        !self.min_scores.is_empty() || self.min_coverage.is_some()
    }
}

/// The gate's decision, as reported.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Gate {
    /// Whether it passed.
    pub passed: bool,
    /// Every rule in force, as written on the command line
    /// (`--fail-on critical:failed`, `--min-score Security=90`).
    pub rules: Vec<String>,
    /// The rules that failed it, in the order above; empty when it passed.
    pub tripped: Vec<Tripped>,
}

/// A rule that failed the gate.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Tripped {
    /// The rule as written (`--fail-on critical:failed`, `--min-score 80`,
    /// `interrupted`).
    pub rule: String,
    /// Why, in one line (`2 critical items failed`, `readiness 62 is below 80`).
    pub reason: String,
    /// The items that tripped it (probe-file item or checklist item text).
    pub items: Vec<String>,
}

/// Decides the gate over a run's items and its checklist outcome.
pub fn decide(
    items: &[ItemOutcome],
    checklist: Option<&ChecklistOutcome>,
    policy: &GatePolicy,
    interrupted: bool,
) -> Gate {
    let mut gate = Gate::default();
    let fail_on: Vec<String> = policy.fail_on.0.iter().map(Condition::to_string).collect();
    gate.rules.push(format!("--fail-on {}", fail_on.join(",")));
    for condition in &policy.fail_on.0 {
        let tripped: Vec<String> = match condition.on {
            FailOn::Refuted => refuted(items, checklist, condition),
            on => items
                .iter()
                .filter(|item| condition.covers(item.severity))
                .filter(|item| match on {
                    FailOn::Failed => item.verdict == ItemVerdict::Failed,
                    FailOn::Error => item.verdict == ItemVerdict::Error,
                    FailOn::Flaky => item.flaky,
                    FailOn::Refuted => false,
                })
                .map(|item| item.item.clone())
                .collect(),
        };
        if !tripped.is_empty() {
            let whose = condition
                .severity
                .map(|s| format!("{} ", s.as_str()))
                .unwrap_or_default();
            let (one, many) = match condition.on {
                FailOn::Failed => ("failed", "failed"),
                FailOn::Error => ("could not be evaluated", "could not be evaluated"),
                FailOn::Refuted => (
                    "is ticked but refuted by the deployment",
                    "are ticked but refuted by the deployment",
                ),
                FailOn::Flaky => ("passed only on a retry", "passed only on a retry"),
            };
            let reason = if tripped.len() == 1 {
                format!("1 {whose}item {one}")
            } else {
                format!("{} {whose}items {many}", tripped.len())
            };
            gate.tripped.push(Tripped {
                rule: format!("--fail-on {condition}"),
                reason,
                items: tripped,
            });
        }
    }
    for min in &policy.min_scores {
        let rule = match &min.section {
            Some(section) => format!("--min-score {section}={}", number(min.score)),
            None => format!("--min-score {}", number(min.score)),
        };
        gate.rules.push(rule.clone());
        let reason = match (checklist, &min.section) {
            (None, _) => Some("no checklist was given, so there is no readiness score".to_owned()),
            (Some(c), None) => (c.score < min.score).then(|| {
                format!(
                    "readiness {} is below {}",
                    number(c.score),
                    number(min.score)
                )
            }),
            (Some(c), Some(name)) => {
                match c
                    .sections
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(name))
                {
                    Some(s) => (s.score < min.score).then(|| {
                        format!(
                            "section `{}` scores {}, below {}",
                            s.name,
                            number(s.score),
                            number(min.score)
                        )
                    }),
                    None => {
                        let names: Vec<String> =
                            c.sections.iter().map(|s| format!("`{}`", s.name)).collect();
                        Some(format!(
                            "the checklist has no section `{name}` (it has {})",
                            names.join(", ")
                        ))
                    }
                }
            }
        };
        if let Some(reason) = reason {
            gate.tripped.push(Tripped {
                rule,
                reason,
                items: Vec::new(),
            });
        }
    }
    if let Some(min) = policy.min_coverage {
        let rule = format!("--min-coverage {}", number(min));
        gate.rules.push(rule.clone());
        let reason = match checklist {
            None => Some("no checklist was given, so there is no coverage".to_owned()),
            Some(c) => (c.coverage < min)
                .then(|| format!("coverage {}% is below {}%", number(c.coverage), number(min))),
        };
        if let Some(reason) = reason {
            gate.tripped.push(Tripped {
                rule,
                reason,
                items: Vec::new(),
            });
        }
    }
    if interrupted {
        gate.tripped.push(Tripped {
            rule: "interrupted".to_owned(),
            reason: "the run was cut short, so unfinished items were not verified".to_owned(),
            items: Vec::new(),
        });
    }
    gate.passed = gate.tripped.is_empty();
    gate
}

/// Refuted checklist items under `condition`: an item's severity is the
/// highest of the probe-file items bound to it.
fn refuted(
    items: &[ItemOutcome],
    checklist: Option<&ChecklistOutcome>,
    condition: &Condition,
) -> Vec<String> {
    let Some(checklist) = checklist else {
        return Vec::new();
    };
    checklist
        .items
        .iter()
        .filter(|c| c.refuted)
        .filter(|c| {
            let severity = items
                .iter()
                .filter(|i| c.bound.contains(&i.location))
                .map(|i| i.severity)
                .max()
                .unwrap_or_default();
            condition.covers(severity)
        })
        .map(|c| format!("{} (line {})", c.text, c.line))
        .collect()
}

/// `80`, `72.5`: scores as people write them.
fn number(n: f64) -> String {
    let rounded = (n * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fail_on_lists() {
        let set: FailOnSet = "failed, refuted".parse().expect("valid");
        assert_eq!(set.to_string(), "failed,refuted");
        assert!("failed,nope".parse::<FailOnSet>().is_err());
        assert!("".parse::<FailOnSet>().is_err());
        assert_eq!(FailOnSet::default().to_string(), "failed,error");
        assert!("flaky".parse::<FailOnSet>().is_ok());
    }

    #[test]
    fn parses_severity_prefixes() {
        let set: FailOnSet = "critical:failed,refuted".parse().expect("valid");
        assert_eq!(set.to_string(), "refuted,critical:failed");
        assert!("urgent:failed".parse::<FailOnSet>().is_err());
        assert!("critical:".parse::<FailOnSet>().is_err());
    }

    #[test]
    fn parses_min_scores() {
        let overall: MinScore = "80".parse().expect("valid");
        assert_eq!(overall.section, None);
        let section: MinScore = "Security = 90%".parse().expect("valid");
        assert_eq!(section.section.as_deref(), Some("Security"));
        assert_eq!(section.score, 90.0);
        assert!("101".parse::<MinScore>().is_err());
        assert!("=5".parse::<MinScore>().is_err());
        assert!("Ops=x".parse::<MinScore>().is_err());
    }
}
