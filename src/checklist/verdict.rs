//! Verdicts for checklist items: each bound item takes its probe-file items'
//! verdict, parents roll up their children, refutations are flagged, and the
//! sections' scores add up to the readiness score. Pure functions of data.

use super::Checklist;
use super::bind::{Binding, is_same_section};
use crate::outcome::{
    ChecklistItemOutcome, ChecklistOutcome, Counts, ItemOutcome, ItemVerdict, SectionOutcome,
};
use crate::spec::Weight;

/// The section name of items above the first heading.
pub const NO_SECTION: &str = "(no section)";

/// Assesses a checklist from the outcomes of the probe-file items bound to it.
/// `outcomes` are the items that ran; bound items that did not run are `skipped`.
pub fn assess(
    checklist: &Checklist,
    binding: &Binding,
    outcomes: &[ItemOutcome],
    weights: &[Weight],
) -> ChecklistOutcome {
    let n = checklist.items.len();
    // Each item's own verdict, from the probe-file items bound to it.
    let mut own: Vec<Option<ItemVerdict>> = vec![None; n];
    let mut bound: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut reasons: Vec<Option<String>> = vec![None; n];
    for (location, &index) in &binding.by_location {
        bound[index].push(location.clone());
    }
    for (index, locations) in bound.iter_mut().enumerate() {
        if locations.is_empty() {
            continue;
        }
        locations.sort();
        let ran: Vec<&ItemOutcome> = outcomes
            .iter()
            .filter(|o| locations.contains(&o.location))
            .collect();
        let verdicts: Vec<ItemVerdict> = if ran.is_empty() {
            vec![ItemVerdict::Skipped]
        } else {
            ran.iter().map(|o| o.verdict).collect()
        };
        own[index] = Some(combine(&verdicts));
        reasons[index] = ran
            .iter()
            .find(|o| o.verdict != ItemVerdict::Verified && o.verdict != ItemVerdict::Attested)
            .or(ran.first())
            .and_then(|o| {
                o.reason
                    .clone()
                    .or_else(|| o.probes.first().map(|p| p.summary.clone()))
            });
    }
    // Roll up: children come after their parent, so walk backwards.
    let mut rolled: Vec<ItemVerdict> = vec![ItemVerdict::Manual; n];
    for index in (0..n).rev() {
        let mut verdicts: Vec<ItemVerdict> = own[index].into_iter().collect();
        verdicts.extend(checklist.children(index).map(|(child, _)| rolled[child]));
        rolled[index] = if verdicts.is_empty() {
            ItemVerdict::Manual
        } else {
            combine(&verdicts)
        };
        if reasons[index].is_none() && own[index].is_none() && rolled[index] == ItemVerdict::Failed
        {
            let failed_child = checklist
                .children(index)
                .find(|(child, _)| rolled[*child] == ItemVerdict::Failed);
            reasons[index] = failed_child.map(|(_, c)| format!("sub-item failed: {}", c.text));
        }
    }

    let mut counts = Counts::default();
    let mut sections: Vec<SectionOutcome> = Vec::new();
    let mut items = Vec::with_capacity(n);
    for (index, item) in checklist.items.iter().enumerate() {
        let verdict = rolled[index];
        counts.add(verdict, item.claimed);
        let name = item
            .section
            .clone()
            .unwrap_or_else(|| NO_SECTION.to_owned());
        match sections.iter_mut().find(|s| s.name == name) {
            Some(section) => section.counts.add(verdict, item.claimed),
            None => {
                let mut section_counts = Counts::default();
                section_counts.add(verdict, item.claimed);
                sections.push(SectionOutcome {
                    name,
                    counts: section_counts,
                    score: 0.0,
                    weight: 0.0,
                });
            }
        }
        items.push(ChecklistItemOutcome {
            id: item.id.clone(),
            text: item.text.clone(),
            line: item.line,
            section: item.section.clone(),
            parent: item.parent.map(|p| checklist.items[p].id.clone()),
            claimed: item.claimed,
            verdict,
            refuted: item.claimed && verdict == ItemVerdict::Failed,
            bound: std::mem::take(&mut bound[index]),
            reason: reasons[index].take(),
            not_in_shard: false,
        });
    }
    for section in &mut sections {
        section.score = percent(
            section.counts.verified + section.counts.attested,
            section.counts.items,
        );
    }
    assign_weights(&mut sections, weights);
    let total_weight: f64 = sections.iter().map(|s| s.weight).sum();
    let score = if total_weight > 0.0 {
        sections.iter().map(|s| s.score * s.weight).sum::<f64>() / total_weight
    } else {
        0.0
    };
    let covered = (0..n).filter(|&i| own[i].is_some()).count();
    ChecklistOutcome {
        refuted: items
            .iter()
            .filter(|i| i.refuted)
            .map(|i| i.id.clone())
            .collect(),
        path: checklist.path.as_ref().map(|p| p.display().to_string()),
        title: checklist.title.clone(),
        counts,
        coverage: percent(covered, n),
        score: round1(score),
        sections,
        items,
        sha256: None,
    }
}

/// Combines verdicts of one item's parts (its own probes and its children).
pub fn combine(verdicts: &[ItemVerdict]) -> ItemVerdict {
    use ItemVerdict::*;
    let has = |v: ItemVerdict| verdicts.contains(&v);
    if verdicts.is_empty() {
        Manual
    } else if has(Failed) {
        Failed
    } else if has(Error) {
        Error
    } else if has(Skipped) {
        Skipped
    } else if verdicts.iter().all(|v| *v == Attested) {
        Attested
    } else if verdicts.iter().all(|v| matches!(v, Verified | Attested)) {
        Verified
    } else if verdicts.iter().all(|v| *v == Manual) {
        Manual
    } else {
        Partial
    }
}

/// Weights: listed sections get theirs; when some are listed, the others share
/// what is left of 100 equally; when none are, all weigh the same.
fn assign_weights(sections: &mut [SectionOutcome], weights: &[Weight]) {
    if weights.is_empty() {
        sections.iter_mut().for_each(|s| s.weight = 1.0);
        return;
    }
    let mut listed = 0.0;
    let mut unlisted = 0;
    for section in sections.iter_mut() {
        match weights
            .iter()
            .find(|w| is_same_section(&w.section, &section.name))
        {
            Some(w) => {
                section.weight = w.weight;
                listed += w.weight;
            }
            None => {
                section.weight = f64::NAN;
                unlisted += 1;
            }
        }
    }
    let share = if unlisted > 0 {
        (100.0 - listed).max(0.0) / unlisted as f64
    } else {
        0.0
    };
    for section in sections.iter_mut().filter(|s| s.weight.is_nan()) {
        section.weight = round1(share);
    }
}

pub(crate) fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round1(100.0 * part as f64 / whole as f64)
    }
}

pub(crate) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checklist::parse;
    use crate::spec::node::Pos;
    use ItemVerdict::*;

    const LIST: &str = "# T\n\n## Core\n\n- [x] Health\n- [x] Parent\n  - [x] Child one\n  - [ ] Child two\n\n## Ops\n\n- [ ] Backups\n- [x] Paging\n";

    fn outcome(location: &str, verdict: ItemVerdict) -> ItemOutcome {
        ItemOutcome {
            item: location.to_owned(),
            file: "p.yaml".to_owned(),
            location: location.to_owned(),
            verdict,
            severity: Default::default(),
            reason: (verdict == Failed).then(|| format!("{location} broke")),
            flaky: false,
            attestation: None,
            probes: Vec::new(),
            not_in_shard: false,
        }
    }

    fn run(bound: &[(&str, usize, ItemVerdict)], weights: &[Weight]) -> ChecklistOutcome {
        let checklist = parse(LIST);
        let mut binding = Binding::default();
        let mut outcomes = Vec::new();
        for (location, index, verdict) in bound {
            binding.by_location.insert((*location).to_owned(), *index);
            outcomes.push(outcome(location, *verdict));
        }
        assess(&checklist, &binding, &outcomes, weights)
    }

    fn verdicts(c: &ChecklistOutcome) -> Vec<ItemVerdict> {
        c.items.iter().map(|i| i.verdict).collect()
    }

    #[test]
    fn unbound_items_are_manual_and_parents_roll_up() {
        let c = run(&[("a", 0, Verified), ("b", 2, Verified)], &[]);
        assert_eq!(
            verdicts(&c),
            vec![Verified, Partial, Verified, Manual, Manual, Manual]
        );
        let c = run(&[("b", 2, Verified), ("c", 3, Attested)], &[]);
        assert_eq!(c.items[1].verdict, Verified);
    }

    #[test]
    fn one_failed_child_fails_the_parent_and_refutes_claims() {
        let c = run(&[("b", 2, Verified), ("c", 3, Failed)], &[]);
        assert_eq!(c.items[1].verdict, Failed);
        assert!(c.items[1].refuted, "parent is claimed [x]");
        assert!(!c.items[3].refuted, "child two is not claimed");
        assert_eq!(c.counts.refuted, 1);
        assert_eq!(
            c.items[1].reason.as_deref(),
            Some("sub-item failed: Child two")
        );
    }

    #[test]
    fn scores_sections_and_weights_them() {
        let c = run(&[("a", 0, Verified), ("e", 5, Attested)], &[]);
        assert_eq!(c.sections[0].name, "Core");
        assert_eq!(c.sections[0].score, 25.0);
        assert_eq!(c.sections[1].score, 50.0);
        assert_eq!(c.score, 37.5);
        assert_eq!(c.coverage, 33.3);
        let weights = [Weight {
            section: "core".to_owned(),
            weight: 75.0,
            pos: Pos::default(),
        }];
        let c = run(&[("a", 0, Verified), ("e", 5, Attested)], &weights);
        assert_eq!(c.sections[1].weight, 25.0);
        assert_eq!(c.score, 31.3);
    }

    #[test]
    fn bound_items_that_did_not_run_are_skipped() {
        let checklist = parse(LIST);
        let mut binding = Binding::default();
        binding.by_location.insert("x".to_owned(), 4);
        let c = assess(&checklist, &binding, &[], &[]);
        assert_eq!(c.items[4].verdict, Skipped);
    }

    #[test]
    fn combining_prefers_failure_then_error() {
        assert_eq!(combine(&[Verified, Error, Failed]), Failed);
        assert_eq!(combine(&[Verified, Error]), Error);
        assert_eq!(combine(&[Attested, Attested]), Attested);
        assert_eq!(combine(&[Verified, Manual]), Partial);
        assert_eq!(combine(&[Manual, Manual]), Manual);
    }
}
