//! Caps on what one probe may put in a report, whatever the target sent:
//! every string, every list, the summary line and the number of checks, so a
//! report of N probes stays O(N). The runner applies them once, after
//! redaction (a secret cut in half by a cap would no longer be recognised).
//! Kinds that could build a huge structure first cap at their source too.

use serde_json::{Map, Value as Json, json};

use crate::expect::excerpt;
use crate::probe::{Check, Findings};

/// The most characters of one string in evidence or a check.
pub const MAX_VALUE_CHARS: usize = 1024;

/// The most characters of a summary line.
pub const MAX_SUMMARY_CHARS: usize = 300;

/// The most entries of one list or object in evidence; the rest are
/// counted in a last entry `{"omitted": N, "total": T}` (an object's under
/// the key `…`).
pub const MAX_ENTRIES: usize = 50;

/// The most checks of one probe; the rest are grouped.
pub const MAX_CHECKS: usize = 50;

/// Evidence nested deeper than this is cut.
pub const MAX_DEPTH: usize = 32;

/// Bytes of text (as JSON writes it) for the checks of one probe. Past it,
/// check fields shrink to [`SPENT_CHARS`].
pub const CHECKS_BUDGET: usize = 16 * 1024;

/// Bytes of text (as JSON writes it) for the evidence of one probe: its own
/// budget, so long checks never leave the record empty. Past it, lists and
/// objects are cut.
pub const EVIDENCE_BUDGET: usize = 32 * 1024;

/// The most characters of a check field once the budget is spent.
pub const SPENT_CHARS: usize = 80;

/// The key of an object's entry that counts what was cut from it.
pub const OMITTED_KEY: &str = "…";

/// What a scalar or a key costs beyond its text.
const ENTRY_COST: usize = 8;

/// Bounds one probe's findings in place.
pub fn findings(findings: &mut Findings) {
    summary(&mut findings.summary);
    let (mut checks_left, mut evidence_left) = (CHECKS_BUDGET, EVIDENCE_BUDGET);
    let omitted = checks(&mut findings.checks, &mut checks_left);
    evidence(&mut findings.evidence, &mut evidence_left);
    if let (Some(omitted), Json::Object(record)) = (omitted, &mut findings.evidence) {
        record.insert("checks_omitted".to_owned(), omitted);
    }
}

/// Cuts a summary line to [`MAX_SUMMARY_CHARS`], the mark of the cut included.
pub fn summary(line: &mut String) {
    cut(line, MAX_SUMMARY_CHARS - 1);
}

/// A summary line with `note` appended, the line cut so the note survives.
pub fn summary_with(mut line: String, note: &str) -> String {
    cut(
        &mut line,
        MAX_SUMMARY_CHARS.saturating_sub(note.chars().count() + 1),
    );
    line.push_str(note);
    line
}

/// Cuts `text` to `max` characters plus `…` when longer.
fn cut(text: &mut String, max: usize) {
    if let std::borrow::Cow::Owned(short) = excerpt(text, max) {
        *text = short;
    }
}

/// The bytes JSON needs for `text`: quotes, escapes and all.
fn json_len(text: &str) -> usize {
    2 + text
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' => 2,
            c if c < ' ' => 6,
            c => c.len_utf8(),
        })
        .sum::<usize>()
}

/// Cuts a string to what it may take, and charges it to the budget.
fn cut_charged(text: &mut String, max: usize, budget: &mut usize) {
    cut(text, max);
    *budget = budget.saturating_sub(json_len(text));
}

/// Keeps at most [`MAX_CHECKS`] checks: every failed one first, up to the
/// cap, so the reason for a fail is never cut; then passed ones; the rest
/// grouped by the first word of their names. Returns the counts of what was
/// grouped, for the evidence.
fn checks(checks: &mut Vec<Check>, budget: &mut usize) -> Option<Json> {
    let total = checks.len();
    let mut omitted = None;
    if total > MAX_CHECKS {
        // Two places left for the groups of failed and passed checks cut.
        let room = MAX_CHECKS - 2;
        let failed = checks.iter().filter(|c| !c.passed).count();
        let keep_failed = failed.min(room);
        let mut keep_passed = room - keep_failed;
        let mut kept_failed = 0;
        let (mut kept, mut dropped_failed, mut dropped_passed) =
            (Vec::new(), Vec::new(), Vec::new());
        for check in checks.drain(..) {
            if !check.passed && kept_failed < keep_failed {
                kept_failed += 1;
                kept.push(check);
            } else if check.passed && keep_passed > 0 {
                keep_passed -= 1;
                kept.push(check);
            } else if check.passed {
                dropped_passed.push(check);
            } else {
                dropped_failed.push(check);
            }
        }
        omitted = Some(json!({
            "failed": dropped_failed.len(),
            "passed": dropped_passed.len(),
            "total": total,
        }));
        kept.extend(group(&dropped_failed, false));
        kept.extend(group(&dropped_passed, true));
        *checks = kept;
    }
    for check in checks.iter_mut() {
        let max = if *budget == 0 {
            SPENT_CHARS
        } else {
            MAX_VALUE_CHARS
        };
        cut_charged(&mut check.name, max, budget);
        cut_charged(&mut check.expected, max, budget);
        cut_charged(&mut check.actual, max, budget);
    }
    omitted
}

/// One check standing for `cut` checks that all held or all failed:
/// `49,990 more dependency checks` → `49,990 failed`.
fn group(cut: &[Check], passed: bool) -> Option<Check> {
    let first = cut.first()?;
    let word = |c: &Check| c.name.split_whitespace().next().unwrap_or("").to_owned();
    let common = word(first);
    let what = if !common.is_empty() && cut.iter().all(|c| word(c) == common) {
        format!("`{common}` checks")
    } else {
        "checks".to_owned()
    };
    let expected = if cut.iter().all(|c| c.expected == first.expected) {
        first.expected.clone()
    } else {
        "each as above".to_owned()
    };
    let n = format_count(cut.len());
    Some(Check::new(
        format!("{n} more {what}"),
        expected,
        if passed {
            format!("{n} held")
        } else {
            format!("{n} failed (first: {})", first.name)
        },
        passed,
    ))
}

/// Bounds a structured record: strings, entries per list and object, depth,
/// and the text of the whole.
pub fn evidence(value: &mut Json, budget: &mut usize) {
    walk(value, 0, budget);
}

fn walk(value: &mut Json, depth: usize, budget: &mut usize) {
    match value {
        Json::String(text) => cut_charged(text, MAX_VALUE_CHARS, budget),
        Json::Array(items) if depth >= MAX_DEPTH && !items.is_empty() => {
            *value = Json::from(format!("… ({} entries nested too deep)", items.len()));
        }
        Json::Object(map) if depth >= MAX_DEPTH && !map.is_empty() => {
            *value = Json::from(format!("… ({} entries nested too deep)", map.len()));
        }
        Json::Array(items) => {
            let total = items.len();
            let mut kept = 0;
            for item in items.iter_mut() {
                if kept == MAX_ENTRIES || *budget == 0 {
                    break;
                }
                *budget = budget.saturating_sub(ENTRY_COST);
                walk(item, depth + 1, budget);
                kept += 1;
            }
            if kept < total {
                items.truncate(kept);
                items.push(omitted(total - kept, total));
            }
        }
        Json::Object(map) => {
            let total = map.len();
            // Only an object with a long key or too many entries is rebuilt.
            if total <= MAX_ENTRIES && map.keys().all(|k| k.len() <= MAX_VALUE_CHARS) {
                let mut kept = 0;
                for (key, item) in map.iter_mut() {
                    if *budget == 0 {
                        break;
                    }
                    *budget = budget.saturating_sub(ENTRY_COST + json_len(key));
                    walk(item, depth + 1, budget);
                    kept += 1;
                }
                if kept < total {
                    let mut seen = 0;
                    map.retain(|_, _| {
                        seen += 1;
                        seen <= kept
                    });
                    map.insert(OMITTED_KEY.to_owned(), omitted(total - kept, total));
                }
                return;
            }
            let old = std::mem::take(map);
            let mut rebuilt = Map::new();
            let mut kept = 0;
            for (mut key, mut item) in old {
                if kept == MAX_ENTRIES || *budget == 0 {
                    break;
                }
                cut_charged(&mut key, MAX_VALUE_CHARS, budget);
                *budget = budget.saturating_sub(ENTRY_COST);
                walk(&mut item, depth + 1, budget);
                rebuilt.insert(key, item);
                kept += 1;
            }
            if kept < total {
                rebuilt.insert(OMITTED_KEY.to_owned(), omitted(total - kept, total));
            }
            *map = rebuilt;
        }
        Json::Null | Json::Bool(_) | Json::Number(_) => {
            *budget = budget.saturating_sub(ENTRY_COST);
        }
    }
}

/// A count as people read it: `99,990`.
pub fn format_count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// The entry that says how many were cut, the total kept as a number.
fn omitted(omitted: usize, total: usize) -> Json {
    json!({"omitted": omitted, "total": total})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(f: &Findings) -> usize {
        serde_json::to_string(f).expect("serialises").len()
    }

    #[test]
    fn a_huge_string_is_cut_to_the_value_cap() {
        let mut f = Findings {
            checks: vec![Check::new("x", "y", "z".repeat(1_000_000), false)],
            summary: "s".repeat(10_000),
            evidence: json!({"line": "a".repeat(3_000_000)}),
        };
        findings(&mut f);
        assert_eq!(f.summary.chars().count(), MAX_SUMMARY_CHARS);
        assert!(f.summary.ends_with('…'));
        assert_eq!(f.checks[0].actual.chars().count(), MAX_VALUE_CHARS + 1);
        assert_eq!(
            f.evidence["line"].as_str().map(|s| s.chars().count()),
            Some(MAX_VALUE_CHARS + 1)
        );
    }

    #[test]
    fn a_long_list_keeps_its_total_as_a_number() {
        let mut f = Findings {
            evidence: json!({"deps": (0..100_000).collect::<Vec<_>>()}),
            ..Findings::default()
        };
        findings(&mut f);
        let deps = f.evidence["deps"].as_array().expect("a list");
        assert_eq!(deps.len(), MAX_ENTRIES + 1);
        assert_eq!(
            deps[MAX_ENTRIES],
            json!({"omitted": 99_950, "total": 100_000})
        );
    }

    #[test]
    fn an_object_with_many_keys_is_cut_with_a_count() {
        let map: Map<String, Json> = (0..10_000)
            .map(|i| (format!("k{i}"), Json::from(i)))
            .collect();
        let mut f = Findings {
            evidence: json!({"statuses": map}),
            ..Findings::default()
        };
        findings(&mut f);
        let statuses = f.evidence["statuses"].as_object().expect("an object");
        assert_eq!(statuses.len(), MAX_ENTRIES + 1);
        assert_eq!(statuses[OMITTED_KEY]["total"], 10_000);
    }

    #[test]
    fn failed_checks_are_kept_before_passed_ones_and_the_rest_grouped() {
        let mut checks: Vec<Check> = (0..100_000)
            .map(|i| Check::new(format!("dependency d{i}"), "healthy", "x", i % 2 == 1))
            .collect();
        checks.insert(0, Check::new("status", "healthy", "healthy", true));
        let mut f = Findings {
            checks,
            evidence: json!({}),
            ..Findings::default()
        };
        findings(&mut f);
        assert_eq!(f.checks.len(), MAX_CHECKS);
        assert!(!f.passed());
        let failed = f.checks.iter().filter(|c| !c.passed).count();
        assert_eq!(failed, MAX_CHECKS - 1, "48 failed kept + their group");
        let last_two: Vec<&str> = f.checks[MAX_CHECKS - 2..]
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            last_two,
            ["49,952 more `dependency` checks", "50,001 more checks"]
        );
        assert_eq!(
            f.evidence["checks_omitted"],
            json!({"failed": 49_952, "passed": 50_001, "total": 100_001})
        );
    }

    #[test]
    fn a_deep_or_wide_record_stays_within_the_budget() {
        let mut deep = json!("leaf");
        for _ in 0..100 {
            deep = json!([deep, {"a": "b".repeat(5000)}]);
        }
        let wide: Vec<Json> = (0..100)
            .map(|_| json!((0..100).map(|_| "c".repeat(2000)).collect::<Vec<_>>()))
            .collect();
        let mut f = Findings {
            checks: (0..1000)
                .map(|i| Check::new(format!("c{i}"), "e".repeat(5000), "a".repeat(5000), false))
                .collect(),
            summary: String::new(),
            evidence: json!({"deep": deep, "wide": wide}),
        };
        findings(&mut f);
        assert!(size(&f) < 160 * 1024, "{} bytes", size(&f));
    }

    #[test]
    fn counts_read_with_thousands_separators() {
        assert_eq!(format_count(7), "7");
        assert_eq!(format_count(1000), "1,000");
        assert_eq!(format_count(99_990), "99,990");
        assert_eq!(format_count(1_234_567), "1,234,567");
    }

    #[test]
    fn long_checks_leave_the_evidence_its_own_budget() {
        let mut f = Findings {
            checks: (0..50)
                .map(|i| Check::new(format!("c{i}"), "e".repeat(5000), "a".repeat(5000), false))
                .collect(),
            summary: String::new(),
            evidence: json!({"request": {"url": "http://x/"}}),
        };
        findings(&mut f);
        assert_eq!(f.evidence["request"]["url"], "http://x/");
        assert_eq!(f.checks[49].actual.chars().count(), SPENT_CHARS + 1);
    }

    #[test]
    fn small_findings_are_left_alone() {
        let original = Findings {
            checks: vec![Check::new("status", "200", "200", true)],
            summary: "GET / → 200".to_owned(),
            evidence: json!({"request": {"url": "http://x/"}, "list": [1, 2, 3]}),
        };
        let mut f = original.clone();
        findings(&mut f);
        assert_eq!(
            serde_json::to_string(&f).ok(),
            serde_json::to_string(&original).ok()
        );
    }
}
