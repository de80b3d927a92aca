//! How far a probe got: the phase it is in and what it had reached, updated
//! by the kind as it goes, read by the runner when the timeout fires, so a
//! timeout says `waiting for the TLS ServerHello (connected in 1 ms)` instead
//! of just `timed out`.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value as Json, json};

/// The most facts kept; older ones give way (a probe that sends many
/// requests keeps what its latest ones reached).
const MAX_FACTS: usize = 8;

/// A probe attempt's progress, shared between the probe and the runner.
/// Cheap to clone and to update (one uncontended lock).
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Mutex<Reached>>);

/// What an attempt had reached.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reached {
    /// What it was doing: `waiting for the response headers`.
    pub phase: Cow<'static, str>,
    /// What the probe had reached, oldest first: `initialized`, `session abc…`.
    pub facts: Vec<String>,
    /// What the current exchange had reached: `connected in 1 ms`,
    /// `200 received after 3 ms`.
    pub steps: Vec<String>,
    /// Body bytes read, while a body is being read.
    pub body_bytes: Option<u64>,
}

impl Progress {
    fn lock(&self) -> MutexGuard<'_, Reached> {
        // A panic elsewhere leaves the record readable; it is only a record.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Enters a phase, named as what the probe now waits for or does
    /// (`waiting for the TLS ServerHello`, `reading the body`).
    pub fn phase(&self, phase: impl Into<Cow<'static, str>>) {
        let mut reached = self.lock();
        reached.phase = phase.into();
        reached.body_bytes = None;
    }

    /// Notes something the probe reached (`initialized`, `session abc…`).
    pub fn fact(&self, fact: impl Into<String>) {
        push_bounded(&mut self.lock().facts, fact.into());
    }

    /// Starts a new exchange (an HTTP request, a connection): what the
    /// previous one reached is forgotten, the probe's facts are kept.
    pub fn exchange(&self) {
        let mut reached = self.lock();
        reached.steps.clear();
        reached.body_bytes = None;
    }

    /// Notes something the current exchange reached (`connected in 1 ms`).
    pub fn step(&self, step: impl Into<String>) {
        push_bounded(&mut self.lock().steps, step.into());
    }

    /// Records the body bytes read so far.
    pub fn body_read(&self, bytes: usize) {
        self.lock().body_bytes = Some(bytes as u64);
    }

    /// A copy of what was reached.
    pub fn reached(&self) -> Reached {
        self.lock().clone()
    }
}

fn push_bounded(list: &mut Vec<String>, item: String) {
    if list.len() == MAX_FACTS {
        list.remove(0);
    }
    list.push(item);
}

impl Reached {
    /// `waiting for the response headers (connected in 1 ms)`, or `None`
    /// when no phase was entered.
    pub fn describe(&self) -> Option<String> {
        if self.phase.is_empty() {
            return None;
        }
        let mut details: Vec<String> = self.facts.iter().chain(&self.steps).cloned().collect();
        if let Some(bytes) = self.body_bytes {
            details.push(format!("{} read", crate::expect::format_size(bytes)));
        }
        Some(if details.is_empty() {
            self.phase.to_string()
        } else {
            format!("{} ({})", self.phase, details.join(", "))
        })
    }

    /// The record for evidence: `{"phase": …, "reached": […], "body_bytes": …}`.
    pub fn to_json(&self) -> Json {
        let reached: Vec<&String> = self.facts.iter().chain(&self.steps).collect();
        let mut record = json!({"phase": self.phase, "reached": reached});
        if let Some(bytes) = self.body_bytes {
            record["body_bytes"] = json!(bytes);
        }
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_the_phase_with_what_was_reached() {
        let progress = Progress::default();
        assert_eq!(progress.reached().describe(), None);
        progress.fact("initialized");
        progress.exchange();
        progress.step("left over");
        progress.exchange();
        progress.phase("waiting for the response headers");
        progress.step("connected in 1 ms");
        assert_eq!(
            progress.reached().describe().as_deref(),
            Some("waiting for the response headers (initialized, connected in 1 ms)")
        );
        progress.phase("reading the body");
        progress.step("200 received after 3 ms");
        progress.body_read(4096);
        assert_eq!(
            progress.reached().describe().as_deref(),
            Some(
                "reading the body (initialized, connected in 1 ms, 200 received after 3 ms, 4.0 KiB read)"
            )
        );
    }

    #[test]
    fn keeps_the_latest_facts_only() {
        let progress = Progress::default();
        progress.phase("sending");
        for i in 0..20 {
            progress.fact(format!("request {i}"));
        }
        let reached = progress.reached();
        assert_eq!(reached.facts.len(), MAX_FACTS);
        assert_eq!(reached.facts.last().map(String::as_str), Some("request 19"));
    }
}
