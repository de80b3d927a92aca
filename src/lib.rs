//! vouch verifies production-readiness checklists against live deployments.
//!
//! Probe files (YAML) bind checklist items to probes; the [`runner`] executes
//! them concurrently against a target and the [`report`] marks every item
//! verified, failed, attested or manual, with the evidence that decided it.
//!
//! Data flows one way: [`spec`] (load) → [`runner`] (run [`probe`]s) →
//! [`outcome`] → [`report`].

pub mod bundle;
pub mod checklist;
pub mod cli;
pub mod demo;
pub mod expect;
pub mod export;
pub mod exposition;
pub mod history;
pub mod merge;
pub mod outcome;
pub mod probe;
pub mod push;
pub mod redact;
pub mod report;
pub mod runner;
pub mod shard;
pub mod spec;
pub mod watch;
