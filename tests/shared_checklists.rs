//! The four real checklists in `../shared/checklists`, when present: exact item
//! counts, claimed counts and sections, counted by hand from the files. When
//! they are absent (a fresh clone), each test says *skipped* on the terminal
//! rather than passing silently.

use std::path::PathBuf;

use vouch::checklist::Checklist;

/// What one shared checklist must parse to.
struct Expected {
    file: &'static str,
    items: usize,
    claimed: usize,
    /// Items with no parent item.
    roots: usize,
    /// Each top-level section holding items: name, items, claimed.
    sections: &'static [(&'static str, usize, usize)],
}

const EXPECTED: &[Expected] = &[
    // Flat `- [x] **Lead** - text` items under `## ✅ …`; unticked items under
    // `###` below "Production Deployment Checklist"; numbered lists, tables and
    // code blocks that hold no boxes.
    Expected {
        file: "acai.md",
        items: 62,
        claimed: 43,
        roots: 62,
        sections: &[
            ("✅ Infrastructure", 6, 6),
            ("✅ Security", 6, 6),
            ("✅ Reliability", 5, 5),
            ("✅ Observability", 5, 5),
            ("✅ Testing", 6, 6),
            ("✅ Code Quality", 5, 5),
            ("✅ CI/CD", 5, 5),
            ("✅ Operations", 5, 5),
            ("Production Deployment Checklist", 19, 0),
        ],
    },
    // 91 top-level items, most of them bold with nested children (254 in
    // all); code blocks inside items, tables, a table of contents, `---`
    // rules and a sign-off list that mixes task and plain bullets.
    Expected {
        file: "axon.md",
        items: 345,
        claimed: 0,
        roots: 91,
        sections: &[
            ("Pre-Deployment Checklist", 35, 0),
            ("Security Checklist", 53, 0),
            ("Performance Checklist", 45, 0),
            ("Monitoring & Observability", 58, 0),
            ("Data & Backup", 31, 0),
            ("Deployment Verification", 35, 0),
            ("Rollback Procedures", 23, 0),
            ("Post-Deployment Checklist", 49, 0),
            ("Support & Escalation", 4, 0),
            ("Compliance & Legal", 5, 0),
            ("Sign-Off", 7, 0),
        ],
    },
    // `###` subsections with the list right under the heading.
    Expected {
        file: "conexus.md",
        items: 91,
        claimed: 74,
        roots: 91,
        sections: &[
            ("✅ Infrastructure & Deployment", 10, 10),
            ("✅ Performance & Scalability", 9, 9),
            ("✅ Reliability & Monitoring", 9, 9),
            ("✅ Security & Compliance", 9, 9),
            ("✅ Operations & Maintenance", 8, 8),
            ("✅ Testing & Quality Assurance", 8, 8),
            ("✅ MCP Protocol Compliance", 9, 9),
            ("✅ Documentation & Support", 8, 8),
            ("Pre-Launch Checklist", 10, 0),
            ("Sign-Off", 11, 4),
        ],
    },
    // Emoji in headings read as Windows-1252 and saved again as UTF-8.
    Expected {
        file: "parallax.md",
        items: 88,
        claimed: 0,
        roots: 88,
        sections: &[
            ("âœ… Core Systems", 13, 0),
            ("âœ… Control Plane API", 10, 0),
            ("âœ… Monitoring & Observability", 18, 0),
            ("âœ… Security", 13, 0),
            ("âœ… High Availability", 8, 0),
            ("âœ… Data Management", 8, 0),
            ("âœ… Operational Readiness", 12, 0),
            ("ðŸ“‹ Sign-off", 6, 0),
        ],
    },
];

/// `../shared/checklists` beside the package (or two levels up, for a package
/// kept one folder deeper); `VOUCH_SHARED_CHECKLISTS` overrides.
fn shared_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("VOUCH_SHARED_CHECKLISTS") {
        return Some(PathBuf::from(dir));
    }
    [
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/checklists"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/checklists"),
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|dir| dir.is_dir())
}

/// Says on the terminal that `test` did not run. Written to stderr directly,
/// not with `eprintln!`, which the test harness captures and hides for a
/// test that passes.
fn skipped(test: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\ntest {test} ... skipped: no ../shared/checklists beside the package (set VOUCH_SHARED_CHECKLISTS=DIR to run it)"
    );
}

#[test]
fn shared_checklists_parse_to_known_counts() {
    let Some(dir) = shared_dir() else {
        skipped("shared_checklists_parse_to_known_counts");
        return;
    };
    for expected in EXPECTED {
        let path = dir.join(expected.file);
        let checklist = Checklist::read(&path).unwrap_or_else(|err| panic!("{err}"));
        let file = expected.file;
        assert_eq!(checklist.items.len(), expected.items, "{file}: items");
        assert_eq!(
            checklist.claimed_count(),
            expected.claimed,
            "{file}: claimed"
        );
        let roots = checklist
            .items
            .iter()
            .filter(|item| item.parent.is_none())
            .count();
        assert_eq!(roots, expected.roots, "{file}: root items");
        let sections: Vec<(&str, usize, usize)> = checklist
            .sections()
            .into_iter()
            .map(|section| {
                let items = checklist
                    .items
                    .iter()
                    .filter(|item| item.section.as_deref() == Some(section));
                let claimed = items.clone().filter(|item| item.claimed).count();
                (section, items.count(), claimed)
            })
            .collect();
        assert_eq!(sections, expected.sections, "{file}: sections");
        assert!(
            checklist.items.iter().all(|item| item.section.is_some()),
            "{file}: every item sits in a section"
        );
    }
}

#[test]
fn shared_checklists_have_unique_ids_and_exact_boxes() {
    let Some(dir) = shared_dir() else {
        skipped("shared_checklists_have_unique_ids_and_exact_boxes");
        return;
    };
    for expected in EXPECTED {
        let path = dir.join(expected.file);
        let source = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{err}"));
        let checklist = Checklist::read(&path).unwrap_or_else(|err| panic!("{err}"));
        let mut ids: Vec<&str> = checklist
            .items
            .iter()
            .map(|item| item.id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            checklist.items.len(),
            "{}: ids are unique",
            expected.file
        );
        for item in &checklist.items {
            let line = source.lines().nth(item.line - 1).unwrap_or_default();
            let mark = &source[item.box_range.clone()];
            assert!(
                line.contains(mark),
                "{}:{}: box on its line",
                expected.file,
                item.line
            );
            assert!(
                source[..item.line_end].ends_with(line),
                "{}:{}: line_end ends the item line",
                expected.file,
                item.line
            );
        }
    }
}

/// The share of probeable items `vouch init` must propose a kind for.
const MIN_PROPOSED: f64 = 75.0;

/// For each shared checklist: of the items judged probeable by hand
/// (`tests/fixtures/init-probeable/NAME.txt`, by stable id), how many `init`
/// proposes a kind for (active or commented out with a TODO), printed per
/// checklist with the ones it misses; at least 75% each.
#[test]
fn init_proposes_a_kind_for_the_probeable_items() {
    let Some(dir) = shared_dir() else {
        skipped("init_proposes_a_kind_for_the_probeable_items");
        return;
    };
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/init-probeable");
    let mut report = String::from("\n");
    let mut low = Vec::new();
    for name in ["conexus", "parallax", "acai", "axon"] {
        let checklist =
            Checklist::read(&dir.join(format!("{name}.md"))).expect("read the checklist");
        let judged = std::fs::read_to_string(fixtures.join(format!("{name}.txt")))
            .expect("read the judgment");
        let probeable: Vec<&str> = judged
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let proposed = vouch::checklist::init::proposals(&checklist);
        let mut hit = 0;
        let mut active = 0;
        let mut missed = Vec::new();
        for id in &probeable {
            let item = proposed
                .iter()
                .find(|p| p.item.id == *id)
                .unwrap_or_else(|| panic!("{name}: no item `{id}` (ids are stable: was the judgment list edited by hand?)"));
            if item.probes.is_empty() {
                missed.push(*id);
            } else {
                hit += 1;
                active += usize::from(item.probes.iter().any(|p| !p.is_commented()));
            }
        }
        let percent = 100.0 * hit as f64 / probeable.len() as f64;
        let total = checklist.items.len();
        let any = proposed.iter().filter(|p| !p.probes.is_empty()).count();
        report.push_str(&format!(
            "init on {name}.md: a kind for {hit}/{} probeable items ({percent:.0}%), {active} of them active; {any}/{total} items proposed in all\n",
            probeable.len()
        ));
        for id in &missed {
            report.push_str(&format!("  no proposal: {id}\n"));
        }
        if percent < MIN_PROPOSED {
            low.push(name);
        }
    }
    {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{report}");
    }
    assert!(low.is_empty(), "below {MIN_PROPOSED}% on {low:?}{report}");
}
