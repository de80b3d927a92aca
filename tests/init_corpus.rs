//! Scores `vouch init` on its labelled corpus (`tests/fixtures/init-corpus.yaml`):
//! every line becomes an item of one checklist (under its heading and parent),
//! the proposal engine runs on it, and each labelled probe counts as right
//! when the kind, every labelled value and the polarity match. Prints
//! `init corpus: N/M right (P%)` with the misses, and holds the score at 70%
//! or more. The proposal file for the whole corpus must pass `vouch check`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;
use vouch::checklist::init::{Proposal, proposals};

/// The score the engine must keep.
const MIN_PERCENT: f64 = 70.0;

/// One labelled line.
struct Entry {
    line: String,
    parent: Option<String>,
    heading: String,
    negation: bool,
    probes: Vec<Expected>,
}

/// One labelled probe.
struct Expected {
    kind: String,
    values: Vec<(String, String)>,
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn corpus() -> Vec<Entry> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/init-corpus.yaml");
    let source = std::fs::read_to_string(&path).expect("the corpus is readable");
    let json: Json = serde_saphyr::from_str(&source).expect("the corpus is valid YAML");
    let Json::Array(entries) = json else {
        panic!("the corpus is a list")
    };
    entries
        .iter()
        .map(|e| Entry {
            line: text(&e["line"]),
            parent: e.get("parent").map(text),
            heading: e.get("heading").map_or_else(|| "Corpus".to_owned(), text),
            negation: e.get("negation").and_then(Json::as_bool).unwrap_or(false),
            probes: e["probes"]
                .as_array()
                .expect("probes is a list")
                .iter()
                .map(|p| Expected {
                    kind: text(&p["kind"]),
                    values: p
                        .get("values")
                        .and_then(Json::as_object)
                        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .collect()
}

/// The corpus as one markdown checklist, and the line of each entry's item.
fn checklist(entries: &[Entry]) -> (String, Vec<usize>) {
    let mut md = String::from("# Corpus\n\n");
    let mut lines = Vec::new();
    for e in entries {
        let _ = write!(md, "## {}\n\n", e.heading);
        if let Some(parent) = &e.parent {
            let _ = writeln!(md, "- [ ] {parent}");
            md.push_str("  ");
        }
        let _ = writeln!(md, "- [ ] {}", e.line);
        lines.push(md.lines().count());
        md.push('\n');
    }
    (md, lines)
}

/// Whether `proposal` has every value `expected` labels; the first wrong
/// value otherwise.
fn matches(proposal: &Proposal, expected: &Expected) -> Result<(), String> {
    let draft = &proposal.draft;
    let mut commented = false;
    for (key, want) in &expected.values {
        let got = match key.as_str() {
            "@port" => {
                let port = format!(":{want}");
                let anywhere = draft.vars.iter().any(|v| v.value.contains(&port))
                    || draft
                        .settings
                        .leaves()
                        .iter()
                        .any(|(_, v)| v.contains(&port));
                if anywhere {
                    want.clone()
                } else {
                    "another port".to_owned()
                }
            }
            "@guessed" => draft.guessed.is_some().to_string(),
            "@commented" => {
                commented = want == "true";
                proposal.is_commented().to_string()
            }
            path => draft
                .settings
                .value(path)
                .unwrap_or_else(|| "(absent)".to_owned()),
        };
        if &got != want {
            return Err(format!("{key}: expected {want}, got {got}"));
        }
    }
    if proposal.is_commented() && !commented {
        return Err(format!(
            "commented out ({})",
            draft.todo.as_deref().unwrap_or("")
        ));
    }
    Ok(())
}

fn describe(p: &Proposal) -> String {
    let leaves: Vec<String> = p
        .draft
        .settings
        .leaves()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{}{} {{{}}}",
        p.kind(),
        if p.is_commented() { " (commented)" } else { "" },
        leaves.join(", ")
    )
}

#[test]
fn init_scores_on_its_corpus() {
    let entries = corpus();
    let (md, lines) = checklist(&entries);
    let parsed = vouch::checklist::parse(&md);
    let proposed = proposals(&parsed);
    let (mut right, mut total) = (0usize, 0usize);
    let (mut neg_right, mut neg_total) = (0usize, 0usize);
    let mut misses = String::new();
    for (entry, line) in entries.iter().zip(&lines) {
        let got: Vec<&Proposal> = proposed
            .iter()
            .find(|i| i.item.line == *line)
            .map(|i| i.probes.iter().collect())
            .unwrap_or_default();
        let mut used = vec![false; got.len()];
        let mut problems = Vec::new();
        let mut entry_right = 0;
        for want in &entry.probes {
            let candidate = (0..got.len()).find(|&i| !used[i] && got[i].kind() == want.kind);
            match candidate {
                Some(i) => {
                    used[i] = true;
                    match matches(got[i], want) {
                        Ok(()) => entry_right += 1,
                        Err(why) => problems.push(format!("{}: {why}", want.kind)),
                    }
                }
                None => problems.push(format!("expected {}", want.kind)),
            }
        }
        let extra: Vec<String> = got
            .iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .map(|(p, _)| describe(p))
            .collect();
        let (units, ok) = if entry.probes.is_empty() {
            (
                1 + extra.len().saturating_sub(1),
                usize::from(extra.is_empty()),
            )
        } else {
            (entry.probes.len() + extra.len(), entry_right)
        };
        if !extra.is_empty() {
            problems.push(format!("not expected: {}", extra.join("; ")));
        }
        total += units;
        right += ok;
        if entry.negation {
            neg_total += units;
            neg_right += ok;
        }
        if !problems.is_empty() {
            let _ = writeln!(
                misses,
                "  miss: \"{}\"{}: {}\n        got: {}",
                entry.line,
                entry
                    .parent
                    .as_ref()
                    .map_or_else(String::new, |p| format!(" (under \"{p}\")")),
                problems.join("; "),
                if got.is_empty() {
                    "nothing".to_owned()
                } else {
                    got.iter()
                        .map(|p| describe(p))
                        .collect::<Vec<_>>()
                        .join("; ")
                }
            );
        }
    }
    let percent = 100.0 * right as f64 / total as f64;
    let report = format!(
        "\ninit corpus: {right}/{total} right ({percent:.1}%) over {} lines; negations {neg_right}/{neg_total}\n{misses}",
        entries.len()
    );
    // Straight to stderr: the score is shown even when the test passes.
    {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{report}");
    }
    assert!(
        entries.len() >= 100,
        "the corpus has {} lines",
        entries.len()
    );
    assert!(percent >= MIN_PERCENT, "score below {MIN_PERCENT}%{report}");
}

#[test]
fn the_corpus_proposal_passes_check() {
    let entries = corpus();
    let (md, _) = checklist(&entries);
    let dir = tempfile::tempdir().expect("tempdir");
    let checklist = dir.path().join("CORPUS.md");
    std::fs::write(&checklist, md).expect("write the checklist");
    let out = dir.path().join("probes.yaml");
    let vouch = env!("CARGO_BIN_EXE_vouch");
    let init = Command::new(vouch)
        .args([
            "init",
            &checklist.display().to_string(),
            "-o",
            &out.display().to_string(),
        ])
        .output()
        .expect("run vouch init");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let check = Command::new(vouch)
        .args(["check", &out.display().to_string()])
        .env_remove("VOUCH_TARGET")
        .output()
        .expect("run vouch check");
    assert!(
        check.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&check.stderr),
        std::fs::read_to_string(&out).unwrap_or_default()
    ); // No proposal plans traffic over the caps: the plan needs no --allow-heavy.
    let plan = Command::new(vouch)
        .args(["run", &out.display().to_string(), "--dry-run"])
        .env_remove("VOUCH_TARGET")
        .output()
        .expect("run vouch run --dry-run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );
    assert!(plan.status.success(), "{text}");
    assert!(text.contains("nothing was sent"), "{text}");
    assert!(!text.contains("allow-heavy"), "{text}");
}

#[test]
fn init_without_boxes_says_so_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let checklist = dir.path().join("NOTES.md");
    std::fs::write(&checklist, "# Notes\n\n- a bullet, no box\n- [link](x)\n").expect("write");
    let out = dir.path().join("probes.yaml");
    let init = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args([
            "init",
            &checklist.display().to_string(),
            "-o",
            &out.display().to_string(),
        ])
        .output()
        .expect("run vouch init");
    assert_eq!(init.status.code(), Some(2));
    let err = String::from_utf8_lossy(&init.stderr);
    assert!(err.contains("has no task items"), "{err}");
    assert!(!out.exists(), "no file is written");
}

#[test]
fn init_explains_each_item_and_marks_guesses_and_addresses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let checklist = dir.path().join("READY.md");
    std::fs::write(
        &checklist,
        "# Ready\n\n## Alerts\n\n- [ ] Queue lag alert configured\n\n## Data\n\n- [ ] PostgreSQL reachable\n- [ ] Budget approved\n",
    )
    .expect("write");
    let out = dir.path().join("probes.yaml");
    let init = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args([
            "init",
            &checklist.display().to_string(),
            "-o",
            &out.display().to_string(),
            "--explain",
        ])
        .output()
        .expect("run vouch init");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let explained = String::from_utf8_lossy(&init.stdout);
    assert!(
        explained.contains("line 5 `alerts/queue-lag-alert-configured`"),
        "{explained}"
    );
    assert!(explained.contains("guessed: the rule name"), "{explained}");
    assert!(
        explained.contains("postgres: from its own words"),
        "{explained}"
    );
    assert!(explained.contains("no probe: no rule"), "{explained}");
    let file = std::fs::read_to_string(&out).expect("the file is written too");
    assert!(
        file.contains("# guessed from \"Queue lag alert configured\": the rule name"),
        "{file}"
    );
    assert!(
        file.contains(
            "  postgres_url: \"${env:DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}\""
        ),
        "{file}"
    );
    assert!(file.contains("url: \"${var:postgres_url}\""), "{file}");
    assert!(
        !file.contains("localhost"),
        "addresses come from variables:\n{file}"
    );
}
