//! `vouch init`: a proposal engine from checklist items to probes. Each item
//! is split into claims ([`claims`]), its quantities read with their units
//! ([`numbers`]), its kind chosen by the rule table ([`rules`]) from its own
//! words, its parent item or its headings, and the probe written ([`file`])
//! so that the proposal passes `vouch check` unchanged; [`explain`] says why.

mod build;
pub mod claims;
mod explain;
mod file;
pub mod numbers;
pub mod render;
pub mod rules;
pub mod services;

use super::{Checklist, ChecklistItem};
pub use claims::Context;
use claims::{Facts, has_any};
pub use explain::explain;
pub use file::propose;
use render::one_line;
use rules::{Draft, RULES, inherits, vetoed};

/// Where a proposal's kind was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The claim's own words.
    Claim,
    /// A parent item or heading that hands its kind down to its children.
    Inherited(String),
    /// A parent item or heading, the claim's own words naming no kind.
    Context(String),
}

/// One proposed probe for one claim of an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The claim it verifies (the item's text, or the part of it).
    pub claim: String,
    /// The probe.
    pub draft: Draft,
    /// Where the kind came from.
    pub source: Source,
}

impl Proposal {
    /// The kind proposed.
    pub fn kind(&self) -> &'static str {
        self.draft.kind
    }

    /// Whether it is written commented out (with a TODO).
    pub fn is_commented(&self) -> bool {
        self.draft.todo.is_some()
    }
}

/// An item with its proposals.
#[derive(Debug)]
pub struct ItemProposals<'a> {
    /// The item.
    pub item: &'a ChecklistItem,
    /// Its proposals, one per claim; empty when no rule fits (an attestation then).
    pub probes: Vec<Proposal>,
}

/// The proposals for every item of `checklist`, in order.
pub fn proposals(checklist: &Checklist) -> Vec<ItemProposals<'_>> {
    checklist
        .items
        .iter()
        .map(|item| ItemProposals {
            item,
            probes: propose_for(&claim_text(item), &context_of(checklist, item)),
        })
        .collect()
}

/// The item's label as written, bold markers dropped: backticks stay, so
/// that commands and file names in code spans are seen as such.
pub fn claim_text(item: &ChecklistItem) -> String {
    item.display.replace("**", "").replace("__", "")
}

/// The context of an item: its parent items (nearest first), then its
/// headings (innermost first).
pub fn context_of(checklist: &Checklist, item: &ChecklistItem) -> Context {
    let mut parents = Vec::new();
    let mut parent = item.parent;
    while let Some(i) = parent {
        let Some(p) = checklist.items.get(i) else {
            break;
        };
        parents.push(p.text.clone());
        parent = p.parent;
    }
    Context {
        parents,
        headings: item.headings.iter().rev().cloned().collect(),
    }
}

/// The proposals for one item's text in its context: one per claim.
pub fn propose_for(text: &str, context: &Context) -> Vec<Proposal> {
    let parts = claims::split(text);
    let whole = classify(&Facts::new(text, context));
    // "Health endpoint lists Redis and Postgres", "TLS 1.0 and 1.1
    // refused": one claim about a list.
    let is_list = whole.as_ref().is_some_and(|p| {
        ["expect/dependencies", "expect/refuses"].iter().any(|key| {
            p.draft
                .settings
                .value(key)
                .is_some_and(|d| d.contains(", "))
        })
    });
    // "running and accessible": a part of one word is no claim of its own.
    let each_a_claim = parts.iter().all(|p| p.split_whitespace().count() > 1);
    if parts.len() > 1 && !is_list && each_a_claim {
        let each: Vec<Option<Proposal>> = parts
            .iter()
            .map(|p| classify(&Facts::new(p, context)))
            .collect();
        let all_own = each.iter().all(|p| {
            p.as_ref()
                .is_some_and(|p| p.source == Source::Claim && !p.is_commented())
        });
        // Two claims are two probes when they are of different kinds or aim
        // at different things ("MongoDB and Redis running"); "p50 < 20ms and
        // p99 < 150ms" is one load test.
        let aim = |p: &Option<Proposal>| {
            p.as_ref().map(|p| {
                let first = p.draft.settings.leaves().into_iter().next();
                (p.kind(), first)
            })
        };
        let distinct = each.windows(2).any(|w| aim(&w[0]) != aim(&w[1]));
        if all_own && distinct {
            return each.into_iter().flatten().flat_map(per_path).collect();
        }
    }
    whole.map(per_path).unwrap_or_default()
}

/// One probe per path for kinds that check one path ("`/health` and `/ready`").
fn per_path(proposal: Proposal) -> Vec<Proposal> {
    let facts = Facts::new(&proposal.claim, &Context::default());
    let path_kinds = ["health", "http"];
    let first = facts.paths.first().map(|p| render::scalar(p));
    let key = ["url", "get", "post", "put", "patch", "delete", "head"]
        .into_iter()
        .find(|k| proposal.draft.settings.get(k) == first);
    let Some(key) = key.filter(|_| facts.paths.len() > 1 && path_kinds.contains(&proposal.kind()))
    else {
        return vec![proposal];
    };
    facts
        .paths
        .iter()
        .map(|path| {
            let mut p = proposal.clone();
            p.draft.settings.set(key, render::Node::s(path.clone()));
            p
        })
        .collect()
}

/// The first rule that builds for these facts: handed down by a parent or
/// heading, else from the claim's own words, else from its context.
fn classify(facts: &Facts) -> Option<Proposal> {
    let proposal = |draft: Draft, source: Source| Proposal {
        claim: facts.text.clone(),
        draft,
        source,
    };
    for (context, raw) in facts.context.iter().zip(&facts.context_text) {
        for rule in RULES.iter().filter(|r| !r.inherit.is_empty()) {
            if inherits(rule, context)
                && !vetoed(rule, &facts.words)
                && let Some(draft) = (rule.build)(facts)
            {
                return Some(proposal(draft, Source::Inherited(one_line(raw))));
            }
        }
    }
    for rule in RULES {
        if (rule.words.is_empty() || has_any(&facts.words, rule.words))
            && !vetoed(rule, &facts.words)
            && let Some(draft) = (rule.build)(facts)
        {
            return Some(proposal(draft, Source::Claim));
        }
    }
    // Kinds come down from parent items and the nearest heading only: a
    // section title ("Operational Readiness") is too broad to name a kind.
    let near = facts.parents + 1;
    let mut blocked = vec![false; RULES.len()];
    for (context, raw) in facts.context.iter().zip(&facts.context_text).take(near) {
        for (i, rule) in RULES.iter().enumerate() {
            // A nearer parent that vetoes a kind keeps it from coming down
            // from a heading further out.
            if vetoed(rule, context) {
                blocked[i] = true;
            }
            if rule.words.is_empty() || blocked[i] || !has_any(context, rule.words) {
                continue;
            }
            if !vetoed(rule, &facts.words)
                && let Some(draft) = (rule.build)(facts)
            {
                return Some(proposal(draft, Source::Context(one_line(raw))));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds proposed for `text` under parents `parents` and heading `heading`.
    fn kinds(text: &str, parents: &[&str]) -> Vec<&'static str> {
        let context = Context {
            parents: parents.iter().map(|s| (*s).to_owned()).collect(),
            headings: vec![],
        };
        propose_for(text, &context)
            .iter()
            .map(Proposal::kind)
            .collect()
    }

    #[test]
    fn kinds_from_own_words_parents_and_headings() {
        assert_eq!(
            kinds("PostgreSQL running and accessible", &["Database"]),
            ["postgres"]
        );
        assert_eq!(kinds("Redis not exposed to the internet", &[]), ["tcp"]);
        assert_eq!(
            kinds("TLS 1.0 and 1.1 disabled", &[]),
            ["tls"],
            "one claim: the versions refused"
        );
        assert_eq!(
            kinds("No silences older than 7 days", &["Alerting"]),
            ["alertmanager"],
            "a heading that hands alert rules down does not take silences"
        );
        assert_eq!(
            kinds(
                "Service down (health check fails)",
                &["Critical alerts configured", "Alerting"]
            ),
            ["prometheus"]
        );
        assert_eq!(
            kinds("Preflight answered", &["CORS configured properly"]),
            ["cors"]
        );
        assert_eq!(kinds("Code of conduct adopted", &[]), Vec::<&str>::new());
        assert_eq!(
            kinds("Support rota and report exports", &[]),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn two_claims_two_probes() {
        assert_eq!(
            kinds("HTTP redirects to HTTPS and HSTS is set", &[]),
            ["http", "headers"]
        );
        assert_eq!(
            kinds("Health Endpoints - `/health` and `/ready`", &[]),
            ["health", "health"]
        );
    }

    #[test]
    fn a_nearer_veto_blocks_a_heading() {
        assert_eq!(
            kinds(
                "System health overview",
                &["Monitoring dashboard created", "Metrics & Monitoring"]
            ),
            Vec::<&str>::new()
        );
    }
}
