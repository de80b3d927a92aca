//! `vouch init --explain`: per item, which kind was proposed and why — the
//! words, parent or heading it came from — and where each value came from.

use std::fmt::Write;

use super::file::short;
use super::render::one_line;
use super::{Source, claim_text, proposals};
use crate::checklist::Checklist;

/// The explanation of every proposal for `checklist`, one block per item.
pub fn explain(checklist: &Checklist) -> String {
    let mut out = String::new();
    let items = proposals(checklist);
    let probeable = items.iter().filter(|i| !i.probes.is_empty()).count();
    for entry in &items {
        let item = entry.item;
        let _ = writeln!(
            out,
            "line {} `{}`: {}",
            item.line,
            item.id,
            one_line(&item.text)
        );
        if entry.probes.is_empty() {
            let _ = writeln!(
                out,
                "  no probe: no rule of `init` fits these words, its parent or its headings; attest it"
            );
        }
        for p in &entry.probes {
            let from = match &p.source {
                Source::Claim => "its own words".to_owned(),
                Source::Inherited(ctx) => format!("\"{}\", which hands its kind down", short(ctx)),
                Source::Context(ctx) => format!("\"{}\" (its own words name no kind)", short(ctx)),
            };
            let claim = if p.claim == claim_text(item) {
                String::new()
            } else {
                format!(" for \"{}\"", short(&p.claim))
            };
            let state = if p.is_commented() {
                ", commented out"
            } else {
                ""
            };
            let _ = writeln!(out, "  {}{claim}{state}: from {from}", p.kind());
            for why in &p.draft.why {
                let _ = writeln!(out, "    - {why}");
            }
            if let Some(guess) = &p.draft.guessed {
                let _ = writeln!(out, "    - guessed: {guess}");
            }
            if let Some(todo) = &p.draft.todo {
                let _ = writeln!(out, "    - TODO: {todo}");
            }
            for (key, value) in p.draft.settings.leaves() {
                let _ = writeln!(out, "    {key}: {value}");
            }
        }
    }
    let _ = writeln!(
        out,
        "{probeable} of {} items have a proposed probe; the others get an attestation template",
        items.len()
    );
    out
}
