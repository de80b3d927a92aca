//! Binding: each probe-file `item:` names one checklist item, by id or by its
//! normalised text (an unambiguous prefix is enough). No match, or several, is
//! a load error at the probe file's `file:line:column` with the nearest
//! candidates and their checklist lines.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Checklist, normalize, slug};
use crate::spec::diag::levenshtein;
use crate::spec::{Diagnostic, LoadOptions, Loaded, ProbeFile};

/// Probe files with their checklist and binding, when one is named.
pub type LoadedRun = (Vec<ProbeFile>, Option<(Arc<Checklist>, Binding)>);

/// Loads probe files and their checklist and binds them, with every problem
/// of the three steps in one pass: binding runs on the items that parsed
/// even when others did not, so a typo in an item's name shows beside a
/// typo in its probe (not one round of fixes later). One run verifies one
/// checklist: files that name different ones are an error.
pub fn load_bound(
    paths: &[PathBuf],
    options: &LoadOptions<'_>,
    checklist: Option<&Path>,
) -> Result<LoadedRun, Vec<Diagnostic>> {
    load_with(paths, options, |files| super::load_for(files, checklist))
}

/// Like [`load_bound`], for files that may name different checklists (`vouch
/// check probes/*.yaml`): each file binds to the checklist it names.
pub fn load_bound_each(
    paths: &[PathBuf],
    options: &LoadOptions<'_>,
    checklist: Option<&Path>,
) -> Result<(Vec<ProbeFile>, Vec<super::Bound>), Vec<Diagnostic>> {
    load_with(paths, options, |files| super::load_each(files, checklist))
}

/// Loads the files, then binds what loaded with `bind`; every diagnostic of
/// both steps, file by file in the order given.
fn load_with<T: Default>(
    paths: &[PathBuf],
    options: &LoadOptions<'_>,
    bind: impl FnOnce(&[ProbeFile]) -> Result<T, Vec<Diagnostic>>,
) -> Result<(Vec<ProbeFile>, T), Vec<Diagnostic>> {
    let Loaded {
        files,
        mut diagnostics,
    } = crate::spec::load_every(paths, options);
    let checklist = match bind(&files) {
        Ok(checklist) => checklist,
        Err(mut found) => {
            diagnostics.append(&mut found);
            T::default()
        }
    };
    if diagnostics.is_empty() {
        return Ok((files, checklist));
    }
    // File by file in the order given (the checklist's own last), each in
    // source order.
    let order = |d: &Diagnostic| {
        let file = paths.iter().position(|p| *p == d.file);
        (file.unwrap_or(paths.len()), d.pos)
    };
    diagnostics.sort_by_key(order);
    Err(diagnostics)
}

/// Which checklist item each probe-file item verifies.
#[derive(Debug, Clone, Default)]
pub struct Binding {
    /// Probe-file item location (`file:line:column`) → checklist item index.
    pub by_location: HashMap<String, usize>,
}

impl Binding {
    /// The checklist item bound to the probe-file item written at `location`.
    pub fn item_for(&self, location: &str) -> Option<usize> {
        self.by_location.get(location).copied()
    }

    /// Whether a checklist item is bound to at least one probe-file item.
    pub fn is_bound(&self, index: usize) -> bool {
        self.by_location.values().any(|&i| i == index)
    }
}

/// Binds every item of every file to the checklist, collecting all errors.
pub fn bind(checklist: &Checklist, files: &[&ProbeFile]) -> Result<Binding, Vec<Diagnostic>> {
    let normalized: Vec<String> = checklist.items.iter().map(|i| normalize(&i.text)).collect();
    let mut binding = Binding::default();
    let mut diagnostics = Vec::new();
    let sections = checklist.sections();
    for file in files {
        let source = || std::fs::read_to_string(&file.path).unwrap_or_default();
        for item in &file.items {
            let location = format!("{}:{}", file.path.display(), item.pos);
            match find(checklist, &normalized, &item.name) {
                // An item listed with neither probes nor an attestation stays manual.
                Ok(_) if item.probes.is_empty() && item.attested.is_none() => {}
                Ok(index) => {
                    binding.by_location.insert(location, index);
                }
                Err(message) => {
                    diagnostics.push(Diagnostic::new(&file.path, &source(), item.pos, message));
                }
            }
        }
        for weight in &file.weights {
            if !sections.iter().any(|s| is_same_section(&weight.section, s)) {
                diagnostics.push(Diagnostic::new(
                    &file.path,
                    &source(),
                    weight.pos,
                    format!(
                        "no top-level section `{}` in the checklist, expected one of `{}`",
                        weight.section,
                        sections.join("`, `")
                    ),
                ));
            }
        }
    }
    if diagnostics.is_empty() {
        Ok(binding)
    } else {
        Err(diagnostics)
    }
}

/// Whether a section name as written (in `weights:`) names a checklist section:
/// by normalised text, or by slug (which ignores emoji and mojibake).
pub fn is_same_section(written: &str, section: &str) -> bool {
    normalize(written) == normalize(section)
        || (!slug(written).is_empty() && slug(written) == slug(section))
}

/// Finds the one checklist item `name` refers to.
fn find(checklist: &Checklist, normalized: &[String], name: &str) -> Result<usize, String> {
    let name = name.trim();
    if let Some(index) = checklist.items.iter().position(|i| i.id == name) {
        return Ok(index);
    }
    let wanted = normalize(name);
    if wanted.is_empty() {
        return Err("empty item text: name a checklist item by its text or id".to_owned());
    }
    let exact: Vec<usize> = (0..normalized.len())
        .filter(|&i| normalized[i] == wanted)
        .collect();
    let candidates = if exact.is_empty() {
        (0..normalized.len())
            .filter(|&i| is_word_prefix(&wanted, &normalized[i]))
            .collect()
    } else {
        exact
    };
    let where_ = checklist
        .path
        .as_ref()
        .map(|p| format!(" `{}`", p.display()))
        .unwrap_or_default();
    match candidates.as_slice() {
        [one] => Ok(*one),
        [] => {
            let near = nearest(checklist, normalized, &wanted);
            let mut message = format!("no item of checklist{where_} matches `{name}`");
            if !near.is_empty() {
                message.push_str("; did you mean ");
                message.push_str(&describe(checklist, &near));
                message.push('?');
            }
            Err(message)
        }
        many => Err(format!(
            "`{name}` matches {} items of checklist{where_}: {}; name one by its id",
            many.len(),
            describe(checklist, &many[..many.len().min(5)])
        )),
    }
}

/// Whether `prefix` starts `text` at a word boundary.
fn is_word_prefix(prefix: &str, text: &str) -> bool {
    text.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

/// Up to three items nearest to `wanted`: by edit distance on the text, and
/// by shared words.
fn nearest(checklist: &Checklist, normalized: &[String], wanted: &str) -> Vec<usize> {
    let words: Vec<&str> = wanted.split(' ').collect();
    let mut scored: Vec<(usize, usize)> = normalized
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let cut: String = text.chars().take(wanted.chars().count() + 8).collect();
            let distance = levenshtein(wanted, &cut);
            let shared = words
                .iter()
                .filter(|w| text.split(' ').any(|t| t == **w))
                .count();
            (distance.saturating_sub(shared * 4), i)
        })
        .collect();
    scored.sort();
    let best = scored.first().map_or(0, |(score, _)| *score);
    let limit = wanted.chars().count().max(8).min(best * 3 / 2 + 2);
    scored
        .into_iter()
        .filter(|(score, _)| *score <= limit)
        .take(3)
        .map(|(_, i)| i)
        .filter(|&i| i < checklist.items.len())
        .collect()
}

fn describe(checklist: &Checklist, indices: &[usize]) -> String {
    indices
        .iter()
        .map(|&i| {
            let item = &checklist.items[i];
            format!("`{}` (line {}, id `{}`)", item.text, item.line, item.id)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checklist::parse;

    const LIST: &str = "# Ready\n\n## Core\n\n- [x] **Health** endpoint returns 200\n- [ ] Rate limiting configured (10 RPS)\n\n## Ops\n\n- [ ] Backups tested\n- [ ] Backups encrypted\n\n### Staging\n\n- [ ] Run smoke tests\n\n### Production\n\n- [ ] Run smoke tests\n";

    fn find_in(name: &str) -> Result<usize, String> {
        let checklist = parse(LIST);
        let normalized: Vec<String> = checklist.items.iter().map(|i| normalize(&i.text)).collect();
        find(&checklist, &normalized, name)
    }

    #[test]
    fn matches_normalised_text_ignoring_case_emphasis_and_punctuation() {
        assert_eq!(find_in("health endpoint returns 200"), Ok(0));
        assert_eq!(find_in("RATE LIMITING configured (10 rps)!"), Ok(1));
    }

    #[test]
    fn matches_by_id_and_by_unambiguous_prefix() {
        assert_eq!(find_in("ops/staging/run-smoke-tests"), Ok(4));
        assert_eq!(find_in("Rate limiting"), Ok(1));
    }

    #[test]
    fn ambiguous_prefix_lists_the_candidates_with_lines() {
        let err = find_in("Backups").expect_err("ambiguous");
        assert!(err.contains("matches 2 items"), "{err}");
        assert!(err.contains("line 10"), "{err}");
        let err = find_in("Run smoke tests").expect_err("duplicate text");
        assert!(err.contains("id `ops/production/run-smoke-tests`"), "{err}");
    }

    #[test]
    fn no_match_suggests_the_nearest_items() {
        let err = find_in("Healht endpoint returns 200").expect_err("typo");
        assert!(err.starts_with("no item of checklist matches"), "{err}");
        assert!(
            err.contains("did you mean `Health endpoint returns 200` (line 5"),
            "{err}"
        );
    }

    #[test]
    fn a_prefix_must_end_at_a_word() {
        assert!(find_in("Rate lim").is_err());
    }
}
