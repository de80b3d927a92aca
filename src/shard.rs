//! `vouch run --shard K/N`: which items a shard runs, and its report.
//!
//! An item belongs to shard `fnv1a64(id) mod N`, where `id` is the UTF-8
//! text of the item's stable id and FNV-1a 64 is written out below (offset
//! basis 0xcbf29ce484222325, prime 0x100000001b3): the same item lands in
//! the same shard on every machine and every vouch version. The id is the
//! checklist item's id (`security/rate-limiting-configured`) when the
//! probe-file item is bound to one, so every probe-file item verifying one
//! checklist item runs in the same shard, and checklist items with no probe
//! belong to a shard too; without a checklist it is the item text as
//! written in the probe file. Isolated-phase probes go with their item, so
//! each runs once across the shards.

use std::collections::HashSet;

use crate::checklist::Checklist;
use crate::checklist::bind::Binding;
use crate::checklist::verdict::{NO_SECTION, percent, round1};
use crate::outcome::{ChecklistOutcome, Counts, ItemOutcome, ItemVerdict};
use crate::report::{GatePolicy, Report, ShardInfo};
use crate::runner::is_selected;
use crate::spec::{Item, ProbeFile};

/// FNV-1a, 64 bits, of `bytes`: stable, unlike `std::hash`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The shard (of `count`) a stable id belongs to.
pub fn shard_of(id: &str, count: u32) -> u32 {
    let count = u64::from(count.max(1));
    // The remainder is below `count`, itself a `u32`.
    u32::try_from(fnv1a64(id.as_bytes()) % count).unwrap_or(0)
}

/// `K/N` with N ≥ 1 and K in 0..N, for clap.
pub fn parse(text: &str) -> Result<ShardInfo, String> {
    let bad = || format!("expected K/N with N at least 1 and K from 0 to N-1, found `{text}`");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (index, count) = (
        k.trim().parse::<u32>().map_err(|_| bad())?,
        n.trim().parse::<u32>().map_err(|_| bad())?,
    );
    if count == 0 || index >= count {
        return Err(bad());
    }
    Ok(ShardInfo { index, count })
}

/// A checklist and which probe-file items verify its items.
pub type Bound<'a> = (&'a Checklist, &'a Binding);

/// The stable id a probe-file item is sharded by (see the module docs).
fn key<'a>(item: &'a Item, location: &str, checklist: Option<Bound<'a>>) -> &'a str {
    checklist
        .and_then(|(doc, binding)| binding.item_for(location).and_then(|i| doc.items.get(i)))
        .map_or(item.name.as_str(), |c| c.id.as_str())
}

fn location(file: &ProbeFile, item: &Item) -> String {
    format!("{}:{}", file.path.display(), item.pos)
}

/// Whether a probe-file item is in `shard`.
fn is_in(file: &ProbeFile, item: &Item, checklist: Option<Bound<'_>>, shard: ShardInfo) -> bool {
    shard_of(key(item, &location(file, item), checklist), shard.count) == shard.index
}

/// The files with only the items of `shard`: what the shard runs.
pub fn select(
    files: &[ProbeFile],
    checklist: Option<Bound<'_>>,
    shard: ShardInfo,
) -> Vec<ProbeFile> {
    files
        .iter()
        .map(|file| {
            let mut own = file.clone();
            own.items.retain(|item| is_in(file, item, checklist, shard));
            own
        })
        .collect()
}

/// Makes the report of a run of [`select`]ed files a shard's report: the
/// other shards' items listed (`not_in_shard`, skipped, no probes) in file
/// order, and counts, score, coverage and gate over this shard's items only.
pub fn complete(
    report: &mut Report,
    files: &[ProbeFile],
    checklist: Option<Bound<'_>>,
    shard: ShardInfo,
    only: Option<&str>,
    policy: &GatePolicy,
) {
    report.shard = Some(shard);
    let reason = format!("not in this shard ({}/{})", shard.index, shard.count);
    if let Some(outcome) = &mut report.checklist {
        for item in &mut outcome.items {
            item.not_in_shard = shard_of(&item.id, shard.count) != shard.index;
            // Skipped, not manual: no renderer calls another shard's tick
            // unverified, and the write-back leaves its line alone.
            if item.not_in_shard {
                item.verdict = ItemVerdict::Skipped;
                item.refuted = false;
                item.reason = Some(reason.clone());
            }
        }
        restrict(outcome);
    }
    report.summary = crate::report::summarize(
        &report.items,
        report.checklist.as_ref(),
        policy,
        report.interrupted,
    );
    let mut secrets = crate::redact::Secrets::default();
    files.iter().for_each(|f| secrets.extend(&f.secrets));
    let redactor = crate::redact::Redactor::new(&secrets);
    let mut own = std::mem::take(&mut report.items).into_iter().peekable();
    let mut items = Vec::new();
    for file in files {
        let file_name = file.path.display().to_string();
        for item in file.items.iter().filter(|i| is_selected(i, only)) {
            let location = location(file, item);
            if own.peek().is_some_and(|o| o.location == location) {
                items.extend(own.next());
            } else if !is_in(file, item, checklist, shard) {
                items.push(ItemOutcome {
                    item: redactor.text(&item.name).into_owned(),
                    file: file_name.clone(),
                    location,
                    verdict: ItemVerdict::Skipped,
                    severity: item.severity,
                    reason: Some(reason.clone()),
                    flaky: false,
                    attestation: None,
                    probes: Vec::new(),
                    not_in_shard: true,
                });
            }
        }
    }
    // None are left unless the files changed under us; keep them rather than lose them.
    items.extend(own);
    report.items = items;
}

/// Counts, section scores, the score, coverage and refutations of a
/// checklist outcome over the items in this shard only.
fn restrict(outcome: &mut ChecklistOutcome) {
    let mut counts = Counts::default();
    for section in &mut outcome.sections {
        section.counts = Counts::default();
    }
    let mut covered = 0;
    for item in outcome.items.iter().filter(|i| !i.not_in_shard) {
        counts.add(item.verdict, item.claimed);
        let name = item.section.as_deref().unwrap_or(NO_SECTION);
        if let Some(section) = outcome.sections.iter_mut().find(|s| s.name == name) {
            section.counts.add(item.verdict, item.claimed);
        }
        covered += usize::from(!item.bound.is_empty());
    }
    // Sections with none of this shard's items do not weigh in.
    let (mut weighted, mut weight) = (0.0, 0.0);
    for section in &mut outcome.sections {
        let c = &section.counts;
        section.score = percent(c.verified + c.attested, c.items);
        if c.items > 0 {
            weighted += section.score * section.weight;
            weight += section.weight;
        }
    }
    outcome.score = if weight > 0.0 {
        round1(weighted / weight)
    } else {
        0.0
    };
    outcome.coverage = percent(covered, counts.items);
    outcome.counts = counts;
    let own: HashSet<&str> = outcome
        .items
        .iter()
        .filter(|i| !i.not_in_shard)
        .map(|i| i.id.as_str())
        .collect();
    outcome.refuted.retain(|id| own.contains(id.as_str()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn shards_are_pinned_for_known_ids() {
        // If these change, every deployed Indexed Job reshuffles its items.
        assert_eq!(shard_of("security/rate-limiting-configured", 1), 0);
        let pinned: Vec<u32> = ["a", "foobar", "ops/backups-tested"]
            .iter()
            .map(|id| shard_of(id, 7))
            .collect();
        assert_eq!(pinned, vec![5, 6, 4]);
        assert_eq!(shard_of("security/rate-limiting-configured", 3), 0);
    }

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!(parse("0/1"), Ok(ShardInfo { index: 0, count: 1 }));
        assert_eq!(parse("2/3"), Ok(ShardInfo { index: 2, count: 3 }));
        for bad in ["3/3", "x", "1/0", "0/0", "-1/3", "1", "/3", "1/", "a/b"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
