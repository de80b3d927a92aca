//! Scheduling in two phases. First every probe of every file runs
//! concurrently (bounded by `--concurrency`), each under its timeout and retry
//! policy. Then the probes whose kind asks for the isolated phase (bursts,
//! load) run one at a time, a cool-down before each, never retried, under a
//! deadline of their planned traffic plus one timeout. Outcomes are redacted,
//! stamped and put back in file order whatever finished first. Ctrl-C (and
//! SIGTERM or SIGHUP) stops the run and keeps what finished.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::outcome::bound;
use crate::outcome::{Attempt, AttestationRecord, ItemOutcome, ItemVerdict, ProbeOutcome, Verdict};
use crate::probe::fetch::Clients;
use crate::probe::progress::{Progress, Reached};
use crate::probe::{Budget, Check, Context, DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUT, Findings, Phase};
use crate::redact::{Redactor, Secrets};
use crate::spec::{Item, ProbeEntry, ProbeFile};

/// The default `--concurrency`.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// The default first pause between attempts (doubled each time, at most 5 s).
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_millis(200);

/// The default pause before each probe of the isolated phase (`--cool-down`).
pub const DEFAULT_COOL_DOWN: Duration = Duration::from_secs(1);

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Probes in flight at once.
    pub concurrency: usize,
    /// `--timeout`: replaces `defaults.timeout` (a probe's own `timeout:` still wins).
    pub timeout: Option<Duration>,
    /// `--only`: run only items whose text contains this (case-insensitive).
    pub only: Option<String>,
    /// `--ca-file`: an extra CA bundle, for probes and defaults that name none.
    pub ca_file: Option<std::path::PathBuf>,
    /// `--body-limit`: replaces `defaults.body_limit`.
    pub body_limit: Option<u64>,
    /// Show a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Stop on Ctrl-C, SIGTERM or SIGHUP and keep what finished.
    pub handle_ctrl_c: bool,
    /// The pause before each probe of the isolated phase, so a limiter or a
    /// queue left by the previous burst does not colour the next one.
    pub cool_down: Duration,
    /// Run probes over the traffic caps (`--allow-heavy`); without it they
    /// are not run and end as `error`.
    pub allow_heavy: bool,
    /// Run probes that run programs (`--allow-exec`); without it they are
    /// not run and end as `skip`.
    pub allow_exec: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            concurrency: DEFAULT_CONCURRENCY,
            timeout: None,
            only: None,
            ca_file: None,
            body_limit: None,
            progress: false,
            handle_ctrl_c: false,
            cool_down: DEFAULT_COOL_DOWN,
            allow_heavy: false,
            allow_exec: false,
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Run {
    /// Items in file order.
    pub items: Vec<ItemOutcome>,
    /// When the run started.
    pub started_at: SystemTime,
    /// When it ended.
    pub finished_at: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// Whether Ctrl-C, SIGTERM or SIGHUP cut it short.
    pub interrupted: bool,
}

/// Whether an item is selected by `--only`.
pub fn is_selected(item: &Item, only: Option<&str>) -> bool {
    only.is_none_or(|pattern| item.name.to_lowercase().contains(&pattern.to_lowercase()))
}

/// One probe as it will run: what `vouch run --dry-run` prints.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The item's text.
    pub item: String,
    /// `file:line:column` of the probe.
    pub location: String,
    /// The probe's name or description.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Its declared traffic.
    pub budget: Budget,
    /// The timeout of each attempt (each request, for isolated probes).
    pub timeout: Duration,
    /// How long the runner lets one attempt take.
    pub deadline: Duration,
    /// Attempts at most.
    pub attempts: u32,
    /// Whether it runs a program (and so needs `--allow-exec`).
    pub runs_programs: bool,
}

/// The plan of a run, probes in the order they run (the concurrent phase in
/// file order, then the isolated phase): no network.
pub fn plan(files: &[ProbeFile], options: &RunOptions) -> Vec<Planned> {
    let mut planned = Vec::new();
    for file in files {
        let file_name = file.path.display().to_string();
        for item in &file.items {
            if !is_selected(item, options.only.as_deref()) {
                continue;
            }
            for entry in &item.probes {
                let budget = entry.spec.budget();
                let timeout = timeout_of(entry, file, options);
                planned.push(Planned {
                    item: item.name.clone(),
                    location: format!("{file_name}:{}", entry.pos),
                    name: probe_name(entry),
                    kind: entry.spec.kind(),
                    budget,
                    timeout,
                    deadline: deadline_of(budget, timeout),
                    attempts: attempts_of(budget, entry, file),
                    runs_programs: entry.spec.runs_programs(),
                });
            }
        }
    }
    planned.sort_by_key(|p| p.budget.phase == Phase::Isolated);
    planned
}

fn timeout_of(entry: &ProbeEntry, file: &ProbeFile, options: &RunOptions) -> Duration {
    entry
        .timeout
        .or(options.timeout)
        .or(file.defaults.timeout.map(|d| d.0))
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// A single exchange gets its timeout; a probe with planned traffic gets that
/// traffic plus one timeout (it applies the timeout to each request itself).
fn deadline_of(budget: Budget, timeout: Duration) -> Duration {
    match budget.phase {
        Phase::Concurrent => timeout.max(budget.deadline(timeout)),
        Phase::Isolated => budget.deadline(timeout),
    }
}

/// Isolated probes are never retried: a second burst right after the first
/// would meet the limiter the first one tripped.
fn attempts_of(budget: Budget, entry: &ProbeEntry, file: &ProbeFile) -> u32 {
    match budget.phase {
        Phase::Concurrent => entry
            .retries
            .or(file.defaults.retries)
            .unwrap_or(0)
            .saturating_add(1),
        Phase::Isolated => 1,
    }
}

struct Job {
    item: usize,
    probe: usize,
    /// How many probes the item has: its outcome is complete with the last.
    of: usize,
    entry: ProbeEntry,
    /// The probe file's name, for the outcome's `file:line:column`.
    file_name: Arc<str>,
    cx: Arc<Context>,
    timeout: Duration,
    budget: Budget,
    /// Why the probe is not run (over the caps without `--allow-heavy`).
    refused: Option<String>,
    /// Why the probe is skipped (it runs a program, without `--allow-exec`).
    unallowed: Option<&'static str>,
    retries: u32,
    retry_delay: Duration,
}

impl Job {
    fn location(&self) -> String {
        format!("{}:{}", self.file_name, self.entry.pos)
    }
}

/// How a run went, without its items (which went to the caller one by one).
#[derive(Debug, Clone, Copy)]
pub struct RunInfo {
    /// When the run started.
    pub started_at: SystemTime,
    /// When it ended.
    pub finished_at: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// Whether Ctrl-C, SIGTERM or SIGHUP cut it short.
    pub interrupted: bool,
    /// Items handed out.
    pub items: usize,
}

/// How often the run hands finished items to the caller: often enough that
/// few wait in memory, seldom enough that the coordinating task is not woken
/// per probe.
const DELIVER_EVERY: Duration = Duration::from_millis(20);

/// Runs every selected item of every file and keeps their outcomes.
pub async fn run(files: &[ProbeFile], options: &RunOptions) -> Run {
    let selected = files
        .iter()
        .flat_map(|f| &f.items)
        .filter(|i| is_selected(i, options.only.as_deref()))
        .count();
    let mut items: Vec<Option<ItemOutcome>> = vec![None; selected];
    let info = run_each(files, options, &mut |index, outcome| {
        if let Some(slot) = items.get_mut(index) {
            *slot = Some(outcome);
        }
    })
    .await;
    Run {
        items: items.into_iter().flatten().collect(),
        started_at: info.started_at,
        finished_at: info.finished_at,
        duration: info.duration,
        interrupted: info.interrupted,
    }
}

/// Runs every selected item of every file and hands each item's outcome to
/// `each` as soon as its last probe finished, with the item's index among
/// the selected items in file order: every item exactly once, in whatever
/// order they finish, from the calling task. Nothing of an item is kept
/// after it was handed out, so a run holds only the probes in flight and
/// the items that wait for a probe.
pub async fn run_each(
    files: &[ProbeFile],
    options: &RunOptions,
    each: &mut (dyn FnMut(usize, ItemOutcome) + Send),
) -> RunInfo {
    let started_at = SystemTime::now();
    let started = Instant::now();
    let clients = Arc::new(Clients::default());
    let mut secrets = Secrets::default();
    files.iter().for_each(|f| secrets.extend(&f.secrets));
    let redactor = Arc::new(Redactor::new(&secrets));

    // Installed before any traffic, so a signal from here on ends the run
    // with a report rather than with the default action.
    let mut stop_signals = options.handle_ctrl_c.then(StopSignals::install);
    // The selected items in order: where each is in `files`.
    let mut selected: Vec<(usize, usize)> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    for (f, file) in files.iter().enumerate() {
        let base_dir = file.base_dir();
        let mut tls = file.defaults.tls();
        if tls.ca.is_none() {
            tls.ca.clone_from(&options.ca_file);
        }
        let file_timeout = options
            .timeout
            .or(file.defaults.timeout.map(|d| d.0))
            .unwrap_or(DEFAULT_TIMEOUT);
        let cx = Arc::new(Context {
            timeout: file_timeout,
            target: file.target.clone(),
            tls,
            body_limit: options
                .body_limit
                .or(file.defaults.body_limit.map(|s| s.0))
                .unwrap_or(DEFAULT_BODY_LIMIT),
            base_dir,
            root: file.defaults.root.clone(),
            clients: Arc::clone(&clients),
            progress: Default::default(),
            redactor: Arc::clone(&redactor),
        });
        let file_name: Arc<str> = Arc::from(file.path.display().to_string());
        for (i, item) in file.items.iter().enumerate() {
            if !is_selected(item, options.only.as_deref()) {
                continue;
            }
            let index = selected.len();
            selected.push((f, i));
            for (p, entry) in item.probes.iter().enumerate() {
                let timeout = timeout_of(entry, file, options);
                let budget = entry.spec.budget();
                // The probe's own timeout reaches it through its context.
                let cx = if timeout == file_timeout {
                    Arc::clone(&cx)
                } else {
                    Arc::new(Context {
                        timeout,
                        ..Context::clone(&cx)
                    })
                };
                let refused = match budget.heavy() {
                    Some(why) if !options.allow_heavy => Some(why),
                    _ => None,
                };
                let unallowed =
                    (entry.spec.runs_programs() && !options.allow_exec).then_some(NOT_ALLOWED_EXEC);
                jobs.push(Job {
                    item: index,
                    probe: p,
                    of: item.probes.len(),
                    entry: entry.clone(),
                    file_name: Arc::clone(&file_name),
                    cx,
                    timeout,
                    budget,
                    refused,
                    unallowed,
                    retries: attempts_of(budget, entry, file) - 1,
                    retry_delay: entry
                        .retry_delay
                        .or(file.defaults.retry_delay.map(|d| d.0))
                        .unwrap_or(DEFAULT_RETRY_DELAY),
                });
            }
        }
    }
    let deliver = |each: &mut (dyn FnMut(usize, ItemOutcome) + Send),
                   index: usize,
                   probes: Vec<ProbeOutcome>| {
        let (f, i) = selected[index];
        let file = &files[f];
        let spec_item = &file.items[i];
        let mut item = item_skeleton(spec_item, &file.path.display().to_string());
        item.probes = probes;
        redactor.string(&mut item.item);
        roll_up(&mut item, spec_item, SystemTime::now());
        if let Some(reason) = &mut item.reason {
            redactor.string(reason);
        }
        if let Some(a) = &mut item.attestation {
            redactor.string(&mut a.by);
            if let Some(note) = &mut a.note {
                redactor.string(note);
            }
        }
        each(index, item);
    };
    // Items without probes are complete before anything runs.
    for (index, &(f, i)) in selected.iter().enumerate() {
        if files[f].items[i].probes.is_empty() {
            deliver(each, index, Vec::new());
        }
    }

    let (concurrent, isolated): (Vec<usize>, Vec<usize>) =
        (0..jobs.len()).partition(|&i| jobs[i].budget.phase == Phase::Concurrent);
    let jobs = Arc::new(jobs);
    let collector = Arc::new(Collector::new(
        jobs.len(),
        progress_bar(options.progress, jobs.len()),
    ));
    let mut workers = JoinSet::new();
    {
        let (jobs, redactor, collector) = (
            Arc::clone(&jobs),
            Arc::clone(&redactor),
            Arc::clone(&collector),
        );
        let (concurrency, cool_down) = (options.concurrency, options.cool_down);
        workers.spawn(async move {
            run_concurrent(&jobs, &concurrent, concurrency, &redactor, &collector).await;
            // The isolated phase: one at a time, after everything else, a
            // cool-down before each so no burst meets the previous one's limiter.
            let mut ran_before = !concurrent.is_empty();
            for index in isolated {
                let job = &jobs[index];
                if collector.is_stopped() {
                    break;
                }
                let runs = job.refused.is_none() && job.unallowed.is_none();
                if ran_before && runs {
                    tokio::time::sleep(cool_down).await;
                }
                ran_before |= runs;
                let outcome = run_probe(job, &redactor).await;
                collector.put(job, index, outcome);
            }
        });
    }

    let mut interrupted = false;
    let stop = async {
        match &mut stop_signals {
            Some(signals) => signals.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(DELIVER_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = workers.join_next() => break,
            why = &mut stop => {
                interrupted = true;
                // Probes in flight finish on their threads; none starts after this.
                collector.stop();
                workers.abort_all();
                collector.progress.println(format!("{why}: reporting what finished"));
                break;
            }
            _ = tick.tick() => {
                for (index, probes) in collector.take_ready() {
                    deliver(each, index, probes);
                }
            }
        }
    }
    // What did not finish: skipped when the run was cut short, and
    // otherwise a worker died (a bug): say so rather than pass it off as
    // skipped.
    for (index, job) in collector.unfinished().into_iter().map(|i| (i, &jobs[i])) {
        let outcome = if interrupted {
            skipped(job, &redactor)
        } else {
            crashed(job, &redactor)
        };
        collector.complete(job, index, outcome);
    }
    for (index, probes) in collector.take_ready() {
        deliver(each, index, probes);
    }
    collector.progress.finish_and_clear();
    RunInfo {
        started_at,
        finished_at: SystemTime::now(),
        duration: started.elapsed(),
        interrupted,
        items: selected.len(),
    }
}

/// The concurrent phase: a fixed pool of workers pulls jobs in file order
/// (no task or permit per probe). Like the `load` kind and oha, the workers
/// run on one single-threaded runtime per core, with their share of the
/// pool, so a probe and its connection's task never wake each other across
/// threads; each thread has its own HTTP clients ([`Clients`] is per thread).
async fn run_concurrent(
    jobs: &Arc<Vec<Job>>,
    indices: &[usize],
    concurrency: usize,
    redactor: &Arc<Redactor>,
    collector: &Arc<Collector>,
) {
    let indices: Arc<[usize]> = Arc::from(indices);
    let next = Arc::new(AtomicUsize::new(0));
    let workers = concurrency.clamp(1, indices.len().max(1));
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, workers);
    let (done, mut finished) = mpsc::unbounded_channel::<()>();
    for thread in 0..threads {
        let share = workers / threads + usize::from(thread < workers % threads);
        let (jobs, indices, next) = (Arc::clone(jobs), Arc::clone(&indices), Arc::clone(&next));
        let (redactor, collector, done) =
            (Arc::clone(redactor), Arc::clone(collector), done.clone());
        let work = move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    tracing::warn!("cannot start a probe thread's runtime: {e}");
                    return;
                }
            };
            runtime.block_on(async move {
                let mut pool = JoinSet::new();
                for _ in 0..share {
                    let (jobs, indices, next) =
                        (Arc::clone(&jobs), Arc::clone(&indices), Arc::clone(&next));
                    let (redactor, collector) = (Arc::clone(&redactor), Arc::clone(&collector));
                    pool.spawn(async move {
                        while !collector.is_stopped()
                            && let Some(&index) = indices.get(next.fetch_add(1, Ordering::Relaxed))
                        {
                            let outcome = run_probe(&jobs[index], &redactor).await;
                            collector.put(&jobs[index], index, outcome);
                        }
                    });
                }
                while pool.join_next().await.is_some() {}
            });
            let _ = done.send(());
        };
        if let Err(e) = std::thread::Builder::new()
            .name("vouch-probes".to_owned())
            .spawn(work)
        {
            // Left undone, its jobs are reported as crashed, not lost.
            tracing::warn!("cannot start a probe thread: {e}");
        }
    }
    drop(done);
    while finished.recv().await.is_some() {}
}

/// Where outcomes land, from whichever thread ran them, until their item
/// is complete and handed out. Behind one lock rather than a channel to
/// the coordinating task: waking that task once per probe cost ~6% of a
/// 10,000-probe run; it takes the complete items every [`DELIVER_EVERY`].
struct Collector {
    state: Mutex<Collected>,
    stopped: AtomicBool,
    progress: ProgressBar,
}

struct Collected {
    /// Whether each job's outcome came in.
    done: Vec<bool>,
    /// Outcomes of items with several probes, until the last comes in.
    partial: HashMap<usize, Vec<Option<ProbeOutcome>>>,
    /// Complete items (index, probes in file order), to hand out.
    ready: Vec<(usize, Vec<ProbeOutcome>)>,
}

/// The signals that stop a run the way Ctrl-C does: SIGINT, SIGTERM (a CI
/// cancel, `timeout(1)`, Kubernetes stopping a pod) and SIGHUP (the terminal
/// went away). Each gets a partial report and exit 3, not the default
/// action's death with no report (exit 143).
struct StopSignals {
    #[cfg(unix)]
    streams: Vec<(&'static str, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    /// Installs the handlers now; a signal that cannot be handled keeps its
    /// default action.
    fn install() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = [
                ("interrupted", SignalKind::interrupt()),
                ("terminated (SIGTERM)", SignalKind::terminate()),
                ("hung up (SIGHUP)", SignalKind::hangup()),
            ]
            .into_iter()
            .filter_map(|(why, kind)| match signal(kind) {
                Ok(stream) => Some((why, stream)),
                Err(e) => {
                    tracing::debug!("cannot handle a signal ({why}): {e}");
                    None
                }
            })
            .collect();
            StopSignals { streams }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Waits for the first signal and says which it was.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            if self.streams.is_empty() {
                return std::future::pending().await;
            }
            let waits = self.streams.iter_mut().map(|(why, stream)| {
                Box::pin(async move {
                    // A closed stream never fires.
                    if stream.recv().await.is_none() {
                        std::future::pending::<()>().await;
                    }
                    *why
                })
            });
            futures_util::future::select_all(waits).await.0
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            "interrupted"
        }
    }
}

impl Collector {
    fn new(jobs: usize, progress: ProgressBar) -> Collector {
        Collector {
            state: Mutex::new(Collected {
                done: vec![false; jobs],
                partial: HashMap::new(),
                ready: Vec::new(),
            }),
            stopped: AtomicBool::new(false),
            progress,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Collected> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn put(&self, job: &Job, index: usize, outcome: ProbeOutcome) {
        // After Ctrl-C the report is already being written: late outcomes
        // are dropped, not mixed in.
        if self.is_stopped() {
            return;
        }
        let mut state = self.lock();
        if self.is_stopped() {
            return;
        }
        state.complete(job, index, outcome);
        drop(state);
        self.progress.inc(1);
    }

    /// Takes in an outcome even after a stop (for what did not finish).
    fn complete(&self, job: &Job, index: usize, outcome: ProbeOutcome) {
        self.lock().complete(job, index, outcome);
    }

    /// No job starts after this, and no outcome is taken in.
    fn stop(&self) {
        // Under the lock, so no `put` that saw the run going lands after.
        let state = self.lock();
        self.stopped.store(true, Ordering::Relaxed);
        drop(state);
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// The jobs whose outcome never came in.
    fn unfinished(&self) -> Vec<usize> {
        let state = self.lock();
        (0..state.done.len()).filter(|&i| !state.done[i]).collect()
    }

    /// The items completed since the last call.
    fn take_ready(&self) -> Vec<(usize, Vec<ProbeOutcome>)> {
        std::mem::take(&mut self.lock().ready)
    }
}

impl Collected {
    fn complete(&mut self, job: &Job, index: usize, outcome: ProbeOutcome) {
        match self.done.get_mut(index) {
            Some(done) if !*done => *done = true,
            _ => return,
        }
        if job.of <= 1 {
            self.ready.push((job.item, vec![outcome]));
            return;
        }
        let slots = self
            .partial
            .entry(job.item)
            .or_insert_with(|| (0..job.of).map(|_| None).collect());
        if let Some(slot) = slots.get_mut(job.probe) {
            *slot = Some(outcome);
        }
        if slots.iter().all(Option::is_some)
            && let Some(slots) = self.partial.remove(&job.item)
        {
            self.ready
                .push((job.item, slots.into_iter().flatten().collect()));
        }
    }
}

fn item_skeleton(item: &Item, file_name: &str) -> ItemOutcome {
    ItemOutcome {
        item: item.name.clone(),
        file: file_name.to_owned(),
        location: format!("{file_name}:{}", item.pos),
        verdict: ItemVerdict::Manual,
        severity: item.severity,
        reason: None,
        flaky: false,
        attestation: None,
        probes: Vec::new(),
        not_in_shard: false,
    }
}

fn roll_up(outcome: &mut ItemOutcome, item: &Item, now: SystemTime) {
    if let Some(a) = &item.attested {
        let expires = a.expires();
        let stale = now > expires;
        let on = humantime::format_rfc3339(a.on.0).to_string();
        outcome.attestation = Some(AttestationRecord {
            by: a.by.clone(),
            on: on.get(..10).unwrap_or(&on).to_owned(),
            expires: humantime::format_rfc3339_seconds(expires).to_string(),
            stale,
            note: a.note.clone(),
        });
        if stale {
            outcome.verdict = ItemVerdict::Failed;
            outcome.reason = Some(format!(
                "attestation by {} is stale: it ran out on {}",
                a.by,
                &humantime::format_rfc3339(expires).to_string()[..10]
            ));
        } else {
            outcome.verdict = ItemVerdict::Attested;
            let note = a
                .note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            outcome.reason = Some(format!(
                "attested by {} on {}, valid until {}{note}",
                a.by,
                &humantime::format_rfc3339(a.on.0).to_string()[..10],
                &humantime::format_rfc3339(expires).to_string()[..10]
            ));
        }
        return;
    }
    outcome.verdict = ItemVerdict::from_probes(outcome.probes.iter().map(|p| p.verdict));
    outcome.flaky = outcome.probes.iter().any(|p| p.flaky);
    outcome.reason = outcome
        .probes
        .iter()
        .find(|p| p.verdict != Verdict::Pass)
        .map(|p| p.summary.clone());
}

/// Why a probe that runs programs was skipped.
pub const NOT_ALLOWED_EXEC: &str = "not run: it runs a program on this machine; pass --allow-exec (or VOUCH_ALLOW_EXEC=1) to run it";

fn skipped(job: &Job, redactor: &Redactor) -> ProbeOutcome {
    ProbeOutcome {
        kind: job.entry.spec.kind().to_owned(),
        name: redactor.text(&probe_name(&job.entry)).into_owned(),
        location: job.location(),
        verdict: Verdict::Skip,
        flaky: false,
        summary: redactor
            .text(&format!(
                "{}: not run (interrupted)",
                job.entry.spec.describe()
            ))
            .into_owned(),
        checks: Vec::new(),
        evidence: raw(&serde_json::Value::Null),
        attempts: Vec::new(),
        started_at: None,
        duration_ms: 0.0,
    }
}

fn crashed(job: &Job, redactor: &Redactor) -> ProbeOutcome {
    let mut outcome = skipped(job, redactor);
    outcome.verdict = Verdict::Error;
    outcome.summary = redactor
        .text(&format!(
            "{}: vouch failed while running this probe (a bug: please report it)",
            job.entry.spec.describe()
        ))
        .into_owned();
    outcome
}

fn refused(job: &Job, why: &str, redactor: &Redactor) -> ProbeOutcome {
    let mut outcome = skipped(job, redactor);
    outcome.verdict = Verdict::Error;
    outcome.summary = redactor
        .text(&format!(
            "{}: not run: it plans {why}; pass --allow-heavy to run it",
            job.entry.spec.describe()
        ))
        .into_owned();
    outcome
}

fn probe_name(entry: &ProbeEntry) -> String {
    entry.name.clone().unwrap_or_else(|| entry.spec.describe())
}

/// Runs one probe with its timeout and retries, and redacts what it found.
async fn run_probe(job: &Job, redactor: &Redactor) -> ProbeOutcome {
    if let Some(why) = &job.refused {
        return refused(job, why, redactor);
    }
    if let Some(why) = job.unallowed {
        let mut outcome = skipped(job, redactor);
        outcome.summary = redactor
            .text(&format!("{}: {why}", job.entry.spec.describe()))
            .into_owned();
        return outcome;
    }
    let first_start = SystemTime::now();
    let started = Instant::now();
    let mut attempts = Vec::new();
    let mut last: Option<(Verdict, Findings)> = None;
    for number in 1..=job.retries.saturating_add(1) {
        if number > 1 {
            let factor = 1u32 << (number - 2).min(5);
            let pause = job
                .retry_delay
                .saturating_mul(factor)
                .min(Duration::from_secs(5));
            tokio::time::sleep(pause).await;
        }
        let attempt_start = SystemTime::now();
        let t = Instant::now();
        let (verdict, mut findings) = attempt(job).await;
        redact_findings(&mut findings, redactor);
        bound::findings(&mut findings);
        attempts.push(Attempt {
            number,
            verdict,
            summary: findings.summary.clone(),
            started_at: humantime::format_rfc3339_millis(attempt_start).to_string(),
            duration_ms: millis(t.elapsed()),
        });
        let retry = verdict == Verdict::Fail;
        last = Some((verdict, findings));
        if !retry {
            break;
        }
    }
    let (verdict, findings) = last.unwrap_or((Verdict::Error, Findings::default()));
    let flaky = verdict == Verdict::Pass && attempts.len() > 1;
    ProbeOutcome {
        kind: job.entry.spec.kind().to_owned(),
        name: redactor.text(&probe_name(&job.entry)).into_owned(),
        location: job.location(),
        verdict,
        flaky,
        summary: if flaky {
            bound::summary_with(
                findings.summary,
                &format!(" (flaky: passed on attempt {})", attempts.len()),
            )
        } else {
            findings.summary
        },
        checks: findings.checks,
        evidence: raw(&findings.evidence),
        attempts,
        started_at: Some(humantime::format_rfc3339_millis(first_start).to_string()),
        duration_ms: millis(started.elapsed()),
    }
}

async fn attempt(job: &Job) -> (Verdict, Findings) {
    let describe = || job.entry.spec.describe();
    let deadline = deadline_of(job.budget, job.timeout);
    // A fresh progress record per attempt: what the probe reached is all
    // that is left of it when the timeout drops it.
    let cx = Context {
        progress: Progress::default(),
        ..Context::clone(&job.cx)
    };
    match tokio::time::timeout(deadline, job.entry.spec.run(&cx)).await {
        Ok(Ok(findings)) => {
            let verdict = if findings.passed() {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            (verdict, findings)
        }
        Ok(Err(e)) => (
            Verdict::Error,
            Findings {
                checks: Vec::new(),
                summary: format!("{}: could not run: {e}", describe()),
                evidence: serde_json::json!({"probe": describe(), "error": e.to_string()}),
            },
        ),
        Err(_) => (
            Verdict::Fail,
            timed_out(&describe(), deadline, &cx.progress.reached()),
        ),
    }
}

/// Findings of an attempt the timeout ended: the phase it was in and what it
/// had reached (`timed out after 2s waiting for the TLS ServerHello
/// (connected in 1 ms)`).
fn timed_out(probe: &str, deadline: Duration, reached: &Reached) -> Findings {
    let limit = humantime::format_duration(deadline).to_string();
    let error = match reached.describe() {
        Some(phase) => format!("timed out after {limit} {phase}"),
        None => format!("timed out after {limit}"),
    };
    let mut evidence = serde_json::json!({
        "probe": probe,
        "error": error,
        "timeout_ms": millis(deadline),
    });
    if !reached.phase.is_empty() {
        evidence["progress"] = reached.to_json();
    }
    Findings {
        checks: vec![Check::new(
            "response",
            format!("a complete response within {limit}"),
            error.clone(),
            false,
        )],
        summary: format!("{probe} → {error}"),
        evidence,
    }
}

fn redact_findings(findings: &mut Findings, redactor: &Redactor) {
    redactor.string(&mut findings.summary);
    for check in &mut findings.checks {
        redactor.string(&mut check.name);
        redactor.string(&mut check.expected);
        redactor.string(&mut check.actual);
    }
    redactor.json(&mut findings.evidence);
}

/// A record serialised once, compactly.
fn raw(value: &serde_json::Value) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| {
        serde_json::value::RawValue::from_string("null".to_owned()).expect("`null` is JSON")
    })
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn progress_bar(enabled: bool, total: usize) -> ProgressBar {
    if !enabled || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {pos}/{len} probes [{bar:30}] {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
