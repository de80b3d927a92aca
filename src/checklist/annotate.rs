//! Writing the checklist back: every bound item's box set by the evidence,
//! one evidence line under it, and a summary at the top. Everything else is
//! left as it was; earlier annotations are removed first, so running it again
//! replaces them rather than piling up.

use super::Checklist;
use crate::outcome::{ChecklistOutcome, ItemVerdict};

/// Marks every line vouch writes into a checklist.
pub const MARK: &str = "<!-- vouch -->";
/// Marks an evidence line whose item's box vouch changed, remembering the
/// claim the team made, so a later run still sees it (and stays stable).
const MARK_WAS_TICKED: &str = "<!-- vouch: was [x] -->";
const MARK_WAS_OPEN: &str = "<!-- vouch: was [ ] -->";
/// The words under a ticked item that no probe or attestation verified.
pub const UNVERIFIED: &str = "claimed, not verified";
const SUMMARY_START: &str = "<!-- vouch:summary -->";
const SUMMARY_END: &str = "<!-- /vouch:summary -->";

/// Removes everything an earlier write-back added (and the blank line that
/// set the summary apart).
pub fn strip(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut in_summary = false;
    let mut skip_blank_after = false;
    for line in source.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']).trim_end();
        if bare.trim_start() == SUMMARY_START {
            in_summary = true;
            // The blank line written before the summary goes with it.
            let before = out.trim_end_matches(['\n', '\r']).len();
            let blank_before = out[before..].matches('\n').count() >= 2;
            if blank_before {
                let cut = out[..out.len() - 1].rfind('\n').map_or(0, |i| i + 1);
                out.truncate(cut);
            }
            skip_blank_after = !blank_before;
            continue;
        }
        if in_summary {
            if bare.trim_start() == SUMMARY_END {
                in_summary = false;
            }
            continue;
        }
        if skip_blank_after {
            skip_blank_after = false;
            if bare.is_empty() {
                continue;
            }
        }
        if bare.ends_with(MARK_WAS_TICKED) || bare.ends_with(MARK_WAS_OPEN) {
            restore_box(
                &mut out,
                if bare.ends_with(MARK_WAS_TICKED) {
                    "[x]"
                } else {
                    "[ ]"
                },
            );
            continue;
        }
        if bare.ends_with(MARK) {
            continue;
        }
        out.push_str(line);
    }
    out
}

/// Puts the team's original box back on the nearest item line above.
fn restore_box(out: &mut String, original: &str) {
    let mut end = out.len();
    for _ in 0..10 {
        let start = out[..end.saturating_sub(1)]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line = &out[start..end];
        if let Some(at) = ["[ ]", "[x]", "[X]"]
            .iter()
            .filter_map(|b| line.find(b))
            .min()
        {
            out.replace_range(start + at..start + at + 3, original);
            return;
        }
        if start == 0 {
            return;
        }
        end = start;
    }
}

/// The checklist with boxes and evidence from `outcome`; `headline` opens the
/// summary (who verified what, when).
pub fn annotate(checklist: &Checklist, outcome: &ChecklistOutcome, headline: &str) -> String {
    let source = &checklist.source;
    let newline = if source.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    // Edits as (offset, text to insert or replace-range), applied back to front.
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    for (item, result) in checklist.items.iter().zip(&outcome.items) {
        // A tick nothing checked is named, so it does not pass for verified;
        // its box is the team's to keep.
        let unverified = item.claimed && result.verdict == ItemVerdict::Manual;
        // Otherwise not bound, or bound but not run: nothing to write.
        if !unverified && (result.bound.is_empty() || result.verdict == ItemVerdict::Skipped) {
            continue;
        }
        let ticked = unverified
            || matches!(
                result.verdict,
                ItemVerdict::Verified | ItemVerdict::Attested
            );
        let wanted = if ticked { "[x]" } else { "[ ]" };
        let mark = if ticked == item.claimed {
            MARK
        } else {
            edits.push((item.box_range.clone(), wanted.to_owned()));
            if item.claimed {
                MARK_WAS_TICKED
            } else {
                MARK_WAS_OPEN
            }
        };
        let line_start = source[..item.box_range.start]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let prefix = &source[line_start..item.box_range.start];
        // Sub-items sit where the label starts; block quotes keep their `>`.
        let indent: String = prefix
            .chars()
            .map(|c| if c == '>' || c == '\t' { c } else { ' ' })
            .collect();
        let line = format!("{newline}{indent}- {} {mark}", evidence_line(result));
        edits.push((item.line_end..item.line_end, line));
    }
    let at = summary_offset(checklist);
    let block = summary(outcome, headline, newline);
    let block = if at.start == usize::from(source.starts_with('\u{feff}')) * 3
        && checklist.title.is_none()
    {
        format!("{block}{newline}")
    } else {
        format!("{newline}{block}")
    };
    edits.push((at, block));
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut out = source.clone();
    for (range, text) in edits {
        out.replace_range(range, &text);
    }
    out
}

fn evidence_line(item: &crate::outcome::ChecklistItemOutcome) -> String {
    // Target text is shown, never markup: one line that can forge no item,
    // box or marker, so the line still ends in ours and `strip` finds it.
    let reason = crate::report::escape::markdown(item.reason.as_deref().unwrap_or(""));
    match item.verdict {
        ItemVerdict::Verified => format!("✔ {reason}"),
        ItemVerdict::Attested => format!("≈ {reason}"),
        ItemVerdict::Failed if item.refuted => format!("✘ refuted: {reason}"),
        ItemVerdict::Failed => format!("✘ {reason}"),
        ItemVerdict::Error => format!("! could not verify: {reason}"),
        ItemVerdict::Skipped => "- not run".to_owned(),
        ItemVerdict::Manual if item.claimed => format!("· {UNVERIFIED}"),
        ItemVerdict::Partial | ItemVerdict::Manual => format!("· {}", item.verdict.as_str()),
    }
}

/// After the title heading's line, or at the very start.
fn summary_offset(checklist: &Checklist) -> std::ops::Range<usize> {
    let source = &checklist.source;
    let start = usize::from(source.starts_with('\u{feff}')) * 3;
    if checklist.title.is_some() {
        let mut offset = start;
        for line in source[start..].split_inclusive('\n') {
            offset += line.len();
            if line.trim_start().starts_with("# ") {
                return offset..offset;
            }
        }
    }
    start..start
}

fn summary(outcome: &ChecklistOutcome, headline: &str, nl: &str) -> String {
    let c = &outcome.counts;
    let mut s = format!("{SUMMARY_START}{nl}");
    s.push_str(&format!(
        "> **vouch** {headline}: readiness **{:.0}/100**, coverage {:.0}% — claimed {}/{}, verified {}, attested {}, failed {}, refuted {}, ticked but unverified {}, manual {}.{nl}>{nl}",
        outcome.score, outcome.coverage, c.claimed, c.items, c.verified, c.attested, c.failed, c.refuted, c.unverified, c.manual
    ));
    let refuted: Vec<String> = outcome
        .items
        .iter()
        .filter(|i| i.refuted)
        .map(|i| format!("{} (line {})", i.text, i.line))
        .collect();
    if !refuted.is_empty() {
        s.push_str(&format!(
            "> **Refuted** — ticked, but the deployment says otherwise: {}.{nl}>{nl}",
            refuted.join("; ")
        ));
    }
    let unverified: Vec<String> = outcome
        .items
        .iter()
        .filter(|i| i.claimed && i.verdict == ItemVerdict::Manual)
        .map(|i| format!("{} (line {})", i.text, i.line))
        .collect();
    if !unverified.is_empty() {
        s.push_str(&format!(
            "> **Ticked but unverified** — no probe or attestation behind the tick: {}.{nl}>{nl}",
            unverified.join("; ")
        ));
    }
    s.push_str(&format!("> | section | items | claimed | verified | attested | failed | refuted | manual | score |{nl}"));
    s.push_str(&format!(
        "> |---|---:|---:|---:|---:|---:|---:|---:|---:|{nl}"
    ));
    for section in &outcome.sections {
        let k = &section.counts;
        s.push_str(&format!(
            "> | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} |{nl}",
            section.name.replace('|', "\\|"),
            k.items,
            k.claimed,
            k.verified,
            k.attested,
            k.failed,
            k.refuted,
            k.manual,
            section.score
        ));
    }
    s.push_str(&format!("{SUMMARY_END}{nl}"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checklist::bind::Binding;
    use crate::checklist::{parse, verdict};
    use crate::outcome::ItemOutcome;

    const LIST: &str = "# Ready\n\nIntro prose.\n\n## Core\n\n- [x] Health works\n- [ ] Orders work\n1. [ ] Numbered\n\n> - [ ] Quoted\n";

    fn written(source: &str, verdicts: &[(usize, ItemVerdict)]) -> String {
        written_with(source, verdicts, |index| format!("GET /{index} → evidence"))
    }

    fn written_with(
        source: &str,
        verdicts: &[(usize, ItemVerdict)],
        reason: impl Fn(usize) -> String,
    ) -> String {
        let checklist = parse(source);
        let mut binding = Binding::default();
        let mut outcomes = Vec::new();
        for (index, verdict) in verdicts {
            let location = format!("p.yaml:{index}:1");
            binding.by_location.insert(location.clone(), *index);
            outcomes.push(ItemOutcome {
                item: String::new(),
                file: "p.yaml".to_owned(),
                location,
                verdict: *verdict,
                severity: Default::default(),
                reason: Some(reason(*index)),
                flaky: false,
                attestation: None,
                probes: Vec::new(),
                not_in_shard: false,
            });
        }
        let outcome = verdict::assess(&checklist, &binding, &outcomes, &[]);
        annotate(&checklist, &outcome, "verified `http://t`")
    }

    #[test]
    fn sets_boxes_and_adds_evidence_under_bound_items() {
        let out = written(
            LIST,
            &[
                (0, ItemVerdict::Failed),
                (1, ItemVerdict::Verified),
                (2, ItemVerdict::Verified),
                (3, ItemVerdict::Verified),
            ],
        );
        assert!(
            out.contains(
                "- [ ] Health works\n  - ✘ refuted: GET /0 → evidence <!-- vouch: was [x] -->\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("- [x] Orders work\n  - ✔ GET /1 → evidence <!-- vouch: was [ ] -->\n"),
            "{out}"
        );
        assert!(
            out.contains("1. [x] Numbered\n   - ✔ GET /2 → evidence <!-- vouch: was [ ] -->\n"),
            "{out}"
        );
        assert!(out.contains("> - [x] Quoted\n>   - ✔"), "{out}");
        assert!(
            out.starts_with("# Ready\n\n<!-- vouch:summary -->\n> **vouch** verified `http://t`"),
            "{out}"
        );
        assert!(out.contains("Intro prose."));
    }

    #[test]
    fn a_ticked_item_without_probe_is_marked_claimed_not_verified() {
        // Only item 1 is bound: "Health works" is ticked with nothing behind it.
        let out = written(LIST, &[(1, ItemVerdict::Verified)]);
        assert!(
            out.contains("- [x] Health works\n  - · claimed, not verified <!-- vouch -->\n"),
            "{out}"
        );
        assert!(out.contains("ticked but unverified 1"), "{out}");
        assert!(
            out.contains("**Ticked but unverified** — no probe or attestation behind the tick: Health works (line 7)"),
            "{out}"
        );
        // Unticked manual items get no line; writing back again is stable.
        assert!(!out.contains("1. [ ] Numbered\n   - ·"), "{out}");
        let checklist = parse(&out);
        assert_eq!(strip(&out), LIST);
        assert_eq!(checklist.items.len(), 4);
    }

    #[test]
    fn writing_back_twice_is_stable() {
        let verdicts = [
            (0, ItemVerdict::Failed),
            (1, ItemVerdict::Verified),
            (3, ItemVerdict::Failed),
        ];
        let once = written(LIST, &verdicts);
        let twice = written(&strip(&once), &verdicts);
        assert_eq!(once, twice);
        assert_eq!(strip(&once), LIST);
    }

    /// A target's text in an evidence line: no markup, no forged item, box,
    /// marker or line, and a re-run on the written file is stable.
    #[test]
    fn hostile_evidence_is_escaped_and_writing_back_stays_stable() {
        let hostile = |_| {
            "500; body: \x1b[2J<script>x</script>\n- [x] forged <!-- vouch: was [ ] -->\r\n## Done\n* [ ] also\u{202e} <!-- vouch -->"
                .to_owned()
        };
        let verdicts = [(0, ItemVerdict::Failed), (1, ItemVerdict::Verified)];
        let once = written_with(LIST, &verdicts, hostile);
        assert!(
            once.contains(
                "- [ ] Health works\n  - ✘ refuted: 500; body: \\x1b\\[2J&lt;script&gt;x&lt;/script&gt;\\n- \\[x\\] forged &lt;!-- vouch: was \\[ \\] --&gt;\\r\\n## Done\\n* \\[ \\] also\\u{202e} &lt;!-- vouch --&gt; <!-- vouch: was [x] -->\n"
            ),
            "{once}"
        );
        assert!(!once.contains(['\x1b', '\r', '\u{202e}']), "{once}");
        assert_eq!(
            once.lines().count(),
            written(LIST, &verdicts).lines().count()
        );
        assert_eq!(strip(&once), LIST);
        let twice = written_with(&strip(&once), &verdicts, hostile);
        assert_eq!(once, twice);
        let reparsed = parse(&strip(&once));
        assert_eq!(reparsed.items.len(), parse(LIST).items.len());
    }

    #[test]
    fn a_checklist_without_title_gets_the_summary_on_top() {
        let source = "- [ ] One\n- [x] Two\n";
        let out = written(source, &[(0, ItemVerdict::Verified)]);
        assert!(out.starts_with("<!-- vouch:summary -->\n"), "{out}");
        assert!(
            out.ends_with(
                "- [x] One\n  - ✔ GET /0 → evidence <!-- vouch: was [ ] -->\n- [x] Two\n  - · claimed, not verified <!-- vouch -->\n"
            ),
            "{out}"
        );
        assert_eq!(strip(&out), source, "the team's own claims come back");
    }

    #[test]
    fn keeps_crlf_line_endings() {
        let crlf = LIST.replace('\n', "\r\n");
        let out = written(&crlf, &[(0, ItemVerdict::Verified)]);
        assert!(
            !out.replace("\r\n", "").contains('\n'),
            "a bare LF was written"
        );
        assert_eq!(strip(&out), crlf);
    }
}
