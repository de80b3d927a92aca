//! `vouch merge`: one report of the reports of `vouch run --shard K/N`,
//! as if one process had run every item. Here rather than in `history.rs`
//! (stored reports and `vouch diff`), which is long enough already; it
//! reads reports with [`crate::history::load`].
//!
//! Every item comes from the one shard that ran it; the summary, the gate,
//! the checklist's verdicts, score and coverage are computed again over the
//! union, from the checklist file (the same bytes as the shards', by its
//! SHA-256) and the binding and section weights the shards recorded.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::checklist::Checklist;
use crate::checklist::bind::Binding;
use crate::history;
use crate::outcome::ItemOutcome;
use crate::report::{FailOnSet, GatePolicy, MinScore, Report};

/// Why shard reports cannot be merged: bad input, exit 2.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A report could not be read.
    #[error(transparent)]
    Load(#[from] history::HistoryError),
    /// A directory could not be listed, or the checklist read.
    #[error("cannot read `{path}`: {error}")]
    Io {
        /// Which.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// Anything else, in one sentence.
    #[error("{0}")]
    Invalid(String),
}

/// SHA-256 of `bytes`, in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// SHA-256 of the file at `path`, in lowercase hex, read a block at a time:
/// a probe file of a million probes is not held twice.
fn file_sha256_hex(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut block = vec![0; 64 << 10];
    loop {
        match file.read(&mut block) {
            Ok(0) => return Ok(hex(context.finish())),
            Ok(n) => context.update(&block[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn hex(digest: ring::digest::Digest) -> String {
    use std::fmt::Write as _;
    digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// The SHA-256 of each probe file and of the checklist, read as the run
/// starts (a file that cannot be read gets none).
#[derive(Debug, Clone, Default)]
pub struct SourceHashes {
    files: Vec<Option<String>>,
    checklist: Option<String>,
}

impl SourceHashes {
    /// Hashes the files the run loaded, by the paths they were loaded from.
    pub fn of(files: &[crate::spec::ProbeFile], checklist: Option<&Checklist>) -> SourceHashes {
        let hash = |path: &Path| file_sha256_hex(path).ok();
        SourceHashes {
            files: files.iter().map(|f| hash(&f.path)).collect(),
            checklist: checklist.and_then(|c| c.path.as_deref()).and_then(hash),
        }
    }

    /// Records them in the report of the run (`files[].sha256`, `checklist.sha256`).
    pub fn record(self, report: &mut Report) {
        for (file, hash) in report.files.iter_mut().zip(self.files) {
            file.sha256 = hash;
        }
        if let Some(checklist) = &mut report.checklist {
            checklist.sha256 = self.checklist;
        }
    }
}

/// The reports named: files as given, directories as the `*.json` and
/// `*.json.gz` files in them, in name order.
pub fn inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, MergeError> {
    let mut found = Vec::new();
    for path in paths {
        if !path.is_dir() {
            found.push(path.clone());
            continue;
        }
        let io = |error| MergeError::Io {
            path: path.display().to_string(),
            error,
        };
        let mut names: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                p.is_file() && (name.ends_with(".json") || name.ends_with(".json.gz"))
            })
            .collect();
        names.sort();
        found.extend(names);
    }
    Ok(found)
}

/// Merges shard reports (each with the path it was read from).
/// `checklist` overrides the path the reports record; `policy`, the gate
/// they record.
pub fn merge(
    reports: &[(PathBuf, Report)],
    checklist: Option<&Path>,
    policy: Option<&GatePolicy>,
) -> Result<Report, MergeError> {
    let invalid = |m: String| Err(MergeError::Invalid(m));
    let Some((first_path, first)) = reports.first() else {
        return invalid("give the reports of the shards to merge".to_owned());
    };
    let name = |p: &Path| p.display().to_string();
    // Every report a shard, of the same N, each K once.
    let mut by_index: BTreeMap<u32, &Path> = BTreeMap::new();
    let mut count = None;
    for (path, report) in reports {
        let Some(shard) = report.shard else {
            return invalid(format!(
                "`{}` is not the report of a shard (it was not run with --shard K/N)",
                name(path)
            ));
        };
        match count {
            None => count = Some(shard.count),
            Some(n) if n != shard.count => {
                return invalid(format!(
                    "`{}` is shard {}/{}, but `{}` is of {n} shards",
                    name(path),
                    shard.index,
                    shard.count,
                    name(first_path)
                ));
            }
            Some(_) => {}
        }
        if let Some(other) = by_index.insert(shard.index, path) {
            return invalid(format!(
                "shards overlap: `{}` and `{}` are both shard {}/{}",
                name(other),
                name(path),
                shard.index,
                shard.count
            ));
        }
    }
    let count = count.unwrap_or(1);
    let missing: Vec<String> = (0..count)
        .filter(|k| !by_index.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return invalid(format!(
            "shard{} {} missing: {} of {count} shard reports given",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            by_index.len()
        ));
    }
    // The same probe files and checklist, by their bytes.
    let sources = |r: &Report| {
        let files: Vec<(String, Option<String>)> = r
            .files
            .iter()
            .map(|f| (f.path.clone(), f.sha256.clone()))
            .collect();
        (files, r.checklist.as_ref().map(|c| c.sha256.clone()))
    };
    let expected = sources(first);
    if expected.0.iter().any(|(_, hash)| hash.is_none()) {
        return invalid(format!(
            "`{}` records no hash of its probe files: write shard reports with this version of vouch",
            name(first_path)
        ));
    }
    for (path, report) in &reports[1..] {
        if sources(report) != expected {
            return invalid(format!(
                "`{}` and `{}` come from different probe files or checklists (their SHA-256 differ)",
                name(first_path),
                name(path)
            ));
        }
    }
    // Every item from the one shard that ran it, in file order.
    let mut owners: HashMap<&str, (&Path, &ItemOutcome)> = HashMap::new();
    for (path, report) in reports {
        for item in report.items.iter().filter(|i| !i.not_in_shard) {
            if let Some((other, _)) = owners.insert(&item.location, (path, item)) {
                return invalid(format!(
                    "shards overlap: `{}` and `{}` both ran the item at {}",
                    name(other),
                    name(path),
                    item.location
                ));
            }
        }
    }
    let mut items = Vec::with_capacity(first.items.len());
    for item in &first.items {
        match owners.remove(item.location.as_str()) {
            Some((_, owned)) => items.push(owned.clone()),
            None => {
                return invalid(format!(
                    "no shard ran the item at {}: were the shards run with the same --only?",
                    item.location
                ));
            }
        }
    }
    if let Some(location) = owners.keys().next() {
        return invalid(format!(
            "the item at {location} is not in `{}`: the shards listed different items",
            name(first_path)
        ));
    }

    let policy = match policy {
        Some(policy) => policy.clone(),
        None => recorded_policy(first)?,
    };
    let interrupted = reports.iter().any(|(_, r)| r.interrupted);
    let (checklist_outcome, checklist_doc) = match &first.checklist {
        None => (None, None),
        Some(recorded) => {
            let path = checklist
                .map(Path::to_path_buf)
                .or_else(|| recorded.path.as_deref().map(PathBuf::from))
                .ok_or_else(|| {
                    MergeError::Invalid(
                        "the reports record no checklist path: give --checklist FILE".to_owned(),
                    )
                })?;
            let bytes = std::fs::read(&path).map_err(|error| MergeError::Io {
                path: name(&path),
                error,
            })?;
            if recorded.sha256.as_deref() != Some(sha256_hex(&bytes).as_str()) {
                return invalid(format!(
                    "the checklist `{}` is not the one the shards verified (its SHA-256 differs)",
                    name(&path)
                ));
            }
            let doc = Checklist::read(&path).map_err(|e| MergeError::Invalid(e.to_string()))?;
            // The binding and weights as every shard recorded them.
            let index: HashMap<&str, usize> = doc
                .items
                .iter()
                .enumerate()
                .map(|(i, c)| (c.id.as_str(), i))
                .collect();
            let mut binding = Binding::default();
            for item in &recorded.items {
                let Some(&i) = index.get(item.id.as_str()) else {
                    return invalid(format!(
                        "the checklist `{}` has no item `{}`",
                        name(&path),
                        item.id
                    ));
                };
                for location in &item.bound {
                    binding.by_location.insert(location.clone(), i);
                }
            }
            let weights: Vec<crate::spec::Weight> = recorded
                .sections
                .iter()
                .map(|s| crate::spec::Weight {
                    section: s.name.clone(),
                    weight: s.weight,
                    pos: Default::default(),
                })
                .collect();
            let mut outcome = crate::checklist::verdict::assess(&doc, &binding, &items, &weights);
            outcome.path.clone_from(&recorded.path);
            outcome.sha256.clone_from(&recorded.sha256);
            (Some(outcome), Some(std::sync::Arc::new(doc)))
        }
    };
    let summary =
        crate::report::summarize(&items, checklist_outcome.as_ref(), &policy, interrupted);
    let earliest = reports.iter().map(|(_, r)| &r.started_at).min();
    let latest = reports.iter().map(|(_, r)| &r.finished_at).max();
    let (started_at, finished_at) = (
        earliest.cloned().unwrap_or_default(),
        latest.cloned().unwrap_or_default(),
    );
    // The shards ran side by side: the merged run took from the first
    // start to the last end.
    let duration_ms = match (
        humantime::parse_rfc3339(&started_at),
        humantime::parse_rfc3339(&finished_at),
    ) {
        (Ok(start), Ok(end)) => end
            .duration_since(start)
            .map_or(0.0, |d| (d.as_secs_f64() * 1e6).round() / 1e3),
        _ => reports
            .iter()
            .map(|(_, r)| r.duration_ms)
            .fold(0.0, f64::max),
    };
    Ok(Report {
        schema: first.schema.clone(),
        vouch_version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at,
        finished_at,
        duration_ms,
        interrupted,
        files: first.files.clone(),
        summary,
        checklist: checklist_outcome,
        shard: None,
        items,
        checklist_doc,
    })
}

/// The gate the shards ran with, from the rules their report records
/// (`--fail-on failed,error`, `--min-score Security=90`, `--min-coverage 80`).
fn recorded_policy(report: &Report) -> Result<GatePolicy, MergeError> {
    let bad = |rule: &str, why: String| {
        MergeError::Invalid(format!("cannot read the gate rule `{rule}`: {why}"))
    };
    let mut policy = GatePolicy {
        fail_on: FailOnSet::from_str(&report.summary.fail_on.join(","))
            .map_err(|e| bad("--fail-on", e.to_string()))?,
        ..GatePolicy::default()
    };
    for rule in &report.summary.gate.rules {
        if let Some(min) = rule.strip_prefix("--min-score ") {
            policy
                .min_scores
                .push(MinScore::from_str(min).map_err(|e| bad(rule, e))?);
        } else if let Some(min) = rule.strip_prefix("--min-coverage ") {
            policy.min_coverage =
                Some(crate::report::gate::parse_percent(min).map_err(|e| bad(rule, e))?);
        }
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_matches_the_fips_test_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_file_is_hashed_block_by_block_as_its_bytes_are() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("probes.yaml");
        // Several blocks, the last one partial.
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(file_sha256_hex(&path).expect("hashed"), sha256_hex(&bytes));
        assert!(file_sha256_hex(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn nothing_to_merge_is_an_error() {
        let error = merge(&[], None, None).map(|_| ()).expect_err("no reports");
        assert!(error.to_string().contains("give the reports"), "{error}");
    }
}
