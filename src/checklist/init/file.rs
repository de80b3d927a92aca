//! The proposed probe file: header, `vars:` the proposals use, then every
//! item by id with its line and text as a comment, its probes (guesses
//! marked, TODOs commented out) or an attestation template.

use std::fmt::Write;

use super::render::{one_line, quoted, scalar};
use super::rules::Var;
use super::{ItemProposals, Proposal, proposals};
use crate::checklist::Checklist;

/// The proposed probe file for `checklist`, which the file names as `checklist_path`.
pub fn propose(checklist: &Checklist, checklist_path: &str) -> String {
    let items = proposals(checklist);
    let mut out = String::new();
    let title = checklist.title.as_deref().unwrap_or("checklist");
    let _ = writeln!(
        out,
        "# Probe file proposed by `vouch init` for {checklist_path}."
    );
    let _ = writeln!(
        out,
        "# Keep what fits, fill in the TODOs, then: vouch run THIS_FILE --target https://your.service"
    );
    let _ = writeln!(
        out,
        "# `# guessed from` marks a value init guessed rather than read; `vouch init --explain` says why each."
    );
    if items
        .iter()
        .flat_map(|i| &i.probes)
        .any(|p| p.kind() == "exec" && !p.is_commented())
    {
        let _ = writeln!(
            out,
            "# `exec` probes run programs here: only with --allow-exec; `vouch check` lists them."
        );
    }
    let _ = writeln!(out, "version: 1");
    let _ = writeln!(out, "name: {}", quoted(title));
    let _ = writeln!(out, "checklist: {}", quoted(checklist_path));
    let _ = writeln!(out, "target: ${{env:VOUCH_TARGET:-http://127.0.0.1:8080}}");
    let vars = vars_of(&items);
    if !vars.is_empty() {
        let _ = writeln!(
            out,
            "vars:                             # addresses: set the variables, or edit here"
        );
        for var in &vars {
            let _ = writeln!(out, "  {}: {}", var.name, scalar(&var.value));
        }
    }
    let _ = writeln!(out, "items:");
    let mut section: Option<&str> = None;
    for entry in &items {
        if entry.item.section.as_deref() != section {
            section = entry.item.section.as_deref();
            let _ = writeln!(
                out,
                "\n  # ── {} ──",
                one_line(section.unwrap_or("(no section)"))
            );
        }
        write_item(&mut out, entry);
    }
    out
}

/// Every variable the proposals use, first declaration first.
fn vars_of(items: &[ItemProposals<'_>]) -> Vec<Var> {
    let mut vars: Vec<Var> = Vec::new();
    for var in items
        .iter()
        .flat_map(|i| &i.probes)
        .flat_map(|p| &p.draft.vars)
    {
        if !vars.iter().any(|v| v.name == var.name) {
            vars.push(var.clone());
        }
    }
    vars
}

fn write_item(out: &mut String, entry: &ItemProposals<'_>) {
    let item = entry.item;
    let _ = writeln!(out, "  # line {}: {}", item.line, one_line(&item.display));
    let _ = writeln!(out, "  - item: {}", quoted(&item.id));
    let active: Vec<&Proposal> = entry.probes.iter().filter(|p| !p.is_commented()).collect();
    if active.is_empty() {
        for p in &entry.probes {
            write_commented(out, p, "    ", true);
        }
        attested_template(out);
        return;
    }
    let _ = writeln!(out, "    probes:");
    for p in &entry.probes {
        if p.is_commented() {
            write_commented(out, p, "      ", false);
            continue;
        }
        if let Some(what) = &p.draft.guessed {
            let _ = writeln!(out, "      # guessed from \"{}\": {what}", short(&p.claim));
        }
        let _ = writeln!(out, "      - {}:", p.kind());
        p.draft.settings.write_block(out, "          ");
    }
}

/// A probe written as comments, with its TODO; `list` adds the `probes:` key.
fn write_commented(out: &mut String, p: &Proposal, indent: &str, list: bool) {
    let todo = p.draft.todo.as_deref().unwrap_or("complete it");
    let _ = writeln!(out, "{indent}# TODO ({}): {todo}", p.kind());
    let mut block = String::new();
    if list {
        block.push_str("probes:\n");
    }
    let _ = writeln!(block, "{}- {}:", if list { "  " } else { "" }, p.kind());
    p.draft
        .settings
        .write_block(&mut block, if list { "      " } else { "    " });
    for line in block.lines() {
        let _ = writeln!(out, "{indent}# {line}");
    }
}

fn attested_template(out: &mut String) {
    let _ = writeln!(out, "    # manual until a probe verifies it; or attest it:");
    let _ = writeln!(
        out,
        "    # attested: {{ by: you@example.com, on: 2026-01-31, valid_for: 90d, note: \"how it was checked\" }}"
    );
}

/// The claim as quoted in a comment: one line, at most 60 characters.
pub fn short(text: &str) -> String {
    let text = one_line(text).replace('"', "'");
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}
