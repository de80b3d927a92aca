//! Scheduling in two phases. First every probe of every file runs
//! concurrently (bounded by `--concurrency`), each under its timeout and retry
//! policy. Then the probes whose kind asks for the isolated phase (bursts,
//! load) run one at a time, a cool-down before each, never retried, under a
//! deadline of their planned traffic plus one timeout. An item's chained
//! probes (`capture:` and `${capture:…}`) run in order as one unit. Outcomes
//! are redacted, stamped and handed out item by item as each completes
//! ([`run_each`]), or put back in file order ([`run`]). A run whose probes
//! can learn secrets (captured credentials, OAuth2 tokens) holds every item
//! until it ends, so what was redacted before a secret was learnt is
//! redacted again before anyone sees it. Ctrl-C (and SIGTERM or SIGHUP)
//! stops the run and keeps what finished.

use std::collections::HashMap;
use std::ops::Range;
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

use crate::probe::ProbeSpec;
use crate::probe::fetch::{Clients, Recorder, Response};
use crate::probe::oauth2::{self, OAuth2, Obtained};
use crate::probe::progress::{Progress, Reached};
use crate::probe::{Budget, Check, Context, DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUT, Findings, Phase};
use crate::redact::{REDACTED, Redactor, RunSecrets, Secrets};
use crate::spec::capture::Capture;
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
                let budget = entry.budget();
                let timeout = timeout_of(entry, file, options);
                planned.push(Planned {
                    item: item.name.clone(),
                    location: format!("{file_name}:{}", entry.pos),
                    name: probe_name(entry),
                    kind: entry.kind(),
                    budget,
                    timeout,
                    deadline: deadline_of(budget, timeout),
                    attempts: attempts_of(budget, entry, file.defaults.retries),
                    runs_programs: entry.runs_programs(),
                });
            }
        }
    }
    planned.sort_by_key(|p| p.budget.phase == Phase::Isolated);
    planned
}

fn timeout_of(entry: &ProbeEntry, file: &ProbeFile, options: &RunOptions) -> Duration {
    entry
        .settings()
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

/// The jobs of a unit (its indices are held in 32 bits).
fn jobs_of(unit: &Range<u32>) -> Range<usize> {
    unit.start as usize..unit.end as usize
}

/// An index of the run's jobs, items or probes, held in 32 bits.
fn job_index(index: usize) -> u32 {
    // At 80 bytes a job, 2^32 jobs would be 320 GiB.
    u32::try_from(index).expect("a run holds fewer than 2^32 probes")
}

/// Isolated probes are never retried: a second burst right after the first
/// would meet the limiter the first one tripped.
fn attempts_of(budget: Budget, entry: &ProbeEntry, file_retries: Option<u32>) -> u32 {
    match budget.phase {
        Phase::Concurrent => entry
            .settings()
            .retries
            .or(file_retries)
            .unwrap_or(0)
            .saturating_add(1),
        Phase::Isolated => 1,
    }
}

struct Job {
    /// The item's index among the selected items.
    item: u32,
    probe: u32,
    /// How many probes the item has: its outcome is complete with the last.
    of: u32,
    entry: ProbeEntry,
    /// What the probes of its file share.
    file: Arc<FileJobs>,
    /// Its context, with its timeout.
    cx: Arc<Context>,
}

// A run holds one job per probe: keep it small.
const _: () = assert!(std::mem::size_of::<Job>() <= 80);

/// What the jobs of one file share.
struct FileJobs {
    /// The probe file's name, for the outcome's `file:line:column`.
    name: String,
    /// `--allow-heavy`: probes over the caps run.
    allow_heavy: bool,
    /// `--allow-exec`: probes that run programs run.
    allow_exec: bool,
    /// `defaults:` `retries` and `retry_delay`.
    retries: Option<u32>,
    retry_delay: Option<Duration>,
    /// `defaults:` `oauth2`, for the kinds that send HTTP.
    oauth2: Option<Arc<OAuth2>>,
}

impl Job {
    /// Its declared traffic.
    fn budget(&self) -> Budget {
        self.entry.budget()
    }

    /// Why the probe is not run (over the caps without `--allow-heavy`).
    fn refused(&self) -> Option<String> {
        (!self.file.allow_heavy)
            .then(|| self.budget().heavy())
            .flatten()
    }

    /// Why the probe is skipped (it runs a program, without `--allow-exec`).
    fn unallowed(&self) -> Option<&'static str> {
        (self.entry.runs_programs() && !self.file.allow_exec).then_some(NOT_ALLOWED_EXEC)
    }

    /// Attempts after the first.
    fn retries(&self) -> u32 {
        attempts_of(self.budget(), &self.entry, self.file.retries) - 1
    }

    /// The first pause between attempts, doubled each time.
    fn retry_delay(&self) -> Duration {
        self.entry
            .settings()
            .retry_delay
            .or(self.file.retry_delay)
            .unwrap_or(DEFAULT_RETRY_DELAY)
    }

    /// The token to obtain first: the probe's own `oauth2:`, else the
    /// defaults', for kinds that send HTTP.
    fn oauth2(&self) -> Option<&Arc<OAuth2>> {
        self.entry.settings().oauth2.as_ref().or_else(|| {
            self.file
                .oauth2
                .as_ref()
                .filter(|_| self.entry.sends_http())
        })
    }

    /// `capture:` of the probe.
    fn captures(&self) -> &[Capture] {
        &self.entry.settings().capture
    }

    fn location(&self) -> String {
        format!("{}:{}", self.file.name, self.entry.pos)
    }

    /// Whether running it may add a secret to the run's [`RunSecrets`]: a
    /// `capture:` of a credential, or an OAuth2 token it obtains first.
    fn learns_secrets(&self) -> bool {
        self.oauth2().is_some() || self.captures().iter().any(|c| c.secret)
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

/// The values an item's probes captured so far, by name.
type Captured = HashMap<String, String>;

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
///
/// Except when the run can learn secrets as it goes: a probe that captures
/// a credential (`capture:` whose name says secret) or obtains an OAuth2
/// token adds it to the run's [`RunSecrets`], and an item already handed
/// out (its bytes perhaps written) was redacted without it. Such a run
/// holds every item until it ends and then hands them all out, in file
/// order, redacted again with every secret it learnt; it holds them all in
/// memory, as [`run`] does.
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
    // Values learnt during the run (captured credentials, OAuth2 tokens)
    // join these as they come.
    let run_secrets = Arc::new(RunSecrets::new(&secrets));
    let redactor = run_secrets.redactor();

    // Installed before any traffic, so a signal from here on ends the run
    // with a report rather than with the default action.
    let mut stop_signals = options.handle_ctrl_c.then(StopSignals::install);
    // The selected items in order: where each is in `files`.
    // Sized once: a run of a million probes would otherwise hold up to
    // twice what it needs while the vectors grow.
    let (items, probes) = files
        .iter()
        .flat_map(|f| &f.items)
        .filter(|item| is_selected(item, options.only.as_deref()))
        .fold((0, 0), |(i, p), item| (i + 1, p + item.probes.len()));
    let mut selected: Vec<(usize, usize)> = Vec::with_capacity(items);
    let mut jobs: Vec<Job> = Vec::with_capacity(probes);
    // Jobs run by one worker in order: one probe, or an item's chain of
    // probes that capture and use values; with the phase each runs in.
    let mut concurrent: Vec<Range<u32>> = Vec::with_capacity(probes);
    let mut isolated: Vec<Range<u32>> = Vec::new();
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
            authorization: None,
            recorder: None,
        });
        let mut by_timeout: HashMap<Duration, Arc<Context>> = HashMap::new();
        let file_jobs = Arc::new(FileJobs {
            name: file.path.display().to_string(),
            allow_heavy: options.allow_heavy,
            allow_exec: options.allow_exec,
            retries: file.defaults.retries,
            retry_delay: file.defaults.retry_delay.map(|d| d.0),
            oauth2: file.defaults.oauth2.clone().map(Arc::new),
        });
        for (i, item) in file.items.iter().enumerate() {
            if !is_selected(item, options.only.as_deref()) {
                continue;
            }
            let index = selected.len();
            selected.push((f, i));
            let first = jobs.len();
            for (p, entry) in item.probes.iter().enumerate() {
                let timeout = timeout_of(entry, file, options);
                // The probe's own timeout reaches it through its context,
                // one per timeout written in the file.
                let cx = if timeout == file_timeout {
                    Arc::clone(&cx)
                } else {
                    Arc::clone(by_timeout.entry(timeout).or_insert_with(|| {
                        Arc::new(Context {
                            timeout,
                            ..Context::clone(&cx)
                        })
                    }))
                };
                jobs.push(Job {
                    item: job_index(index),
                    probe: job_index(p),
                    of: job_index(item.probes.len()),
                    entry: entry.clone(),
                    file: Arc::clone(&file_jobs),
                    cx,
                });
            }
            let members = job_index(first)..job_index(jobs.len());
            let phase_of = |i: u32| jobs[i as usize].budget().phase;
            if item.probes.iter().any(ProbeEntry::is_chained) {
                // A chain runs in order, in the isolated phase when one of
                // its probes asks for it.
                if members.clone().any(|i| phase_of(i) == Phase::Isolated) {
                    isolated.push(members);
                } else {
                    concurrent.push(members);
                }
            } else {
                for i in members {
                    match phase_of(i) {
                        Phase::Isolated => isolated.push(i..i + 1),
                        Phase::Concurrent => concurrent.push(i..i + 1),
                    }
                }
            }
        }
    }
    // An item handed out keeps the redaction it had then: a secret learnt
    // later cannot reach bytes already written. So when a probe may learn
    // one (a credential it captures, an OAuth2 token it obtains), the run
    // holds every item until it ends and hands them out redacted with all
    // the secrets it learnt; otherwise no secret joins during the run, and
    // items go out as they finish.
    let hold = jobs.iter().any(Job::learns_secrets);
    let deliver = |each: &mut (dyn FnMut(usize, ItemOutcome) + Send),
                   index: usize,
                   mut probes: Vec<ProbeOutcome>| {
        let (f, i) = selected[index];
        let file = &files[f];
        let spec_item = &file.items[i];
        // Every secret known now; outcomes redacted before one of them was
        // learnt are redacted again.
        let redactor = run_secrets.redactor();
        if run_secrets.grew() {
            for probe in &mut probes {
                redact_outcome(probe, &redactor);
            }
        }
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
    let empty: Vec<usize> = (0..selected.len())
        .filter(|&index| {
            let (f, i) = selected[index];
            files[f].items[i].probes.is_empty()
        })
        .collect();
    if !hold {
        for &index in &empty {
            deliver(each, index, Vec::new());
        }
    }

    let concurrent = Arc::new(concurrent);
    let jobs = Arc::new(jobs);
    let collector = Arc::new(Collector::new(
        jobs.len(),
        progress_bar(options.progress, jobs.len()),
    ));
    let mut workers = JoinSet::new();
    {
        let (jobs, run_secrets, collector) = (
            Arc::clone(&jobs),
            Arc::clone(&run_secrets),
            Arc::clone(&collector),
        );
        let (concurrency, cool_down) = (options.concurrency, options.cool_down);
        workers.spawn(async move {
            run_concurrent(&jobs, &concurrent, concurrency, &run_secrets, &collector).await;
            // The isolated phase: one at a time, after everything else, a
            // cool-down before each so no burst meets the previous one's limiter.
            let mut ran_before = !concurrent.is_empty();
            for unit in isolated {
                let mut captured = Captured::new();
                for index in jobs_of(&unit) {
                    let job = &jobs[index];
                    if collector.is_stopped() {
                        break;
                    }
                    let runs = job.refused().is_none() && job.unallowed().is_none();
                    if ran_before && runs {
                        tokio::time::sleep(cool_down).await;
                    }
                    ran_before |= runs;
                    let outcome = run_probe(job, &run_secrets, &mut captured).await;
                    collector.put(job, index, outcome);
                }
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
            // A run that holds its items hands them out only at the end.
            _ = tick.tick(), if !hold => {
                for (index, probes) in collector.take_ready() {
                    deliver(each, index, probes);
                }
            }
        }
    }
    // What did not finish: skipped when the run was cut short, and
    // otherwise a worker died (a bug): say so rather than pass it off as
    // skipped.
    let redactor = run_secrets.redactor();
    for (index, job) in collector.unfinished().into_iter().map(|i| (i, &jobs[i])) {
        let outcome = if interrupted {
            skipped(job, &redactor)
        } else {
            crashed(job, &redactor)
        };
        collector.complete(job, index, outcome);
    }
    let mut ready = collector.take_ready();
    if hold {
        // Every item, in file order, now that no secret can join.
        ready.extend(empty.into_iter().map(|index| (index, Vec::new())));
        ready.sort_unstable_by_key(|&(index, _)| index);
    }
    for (index, probes) in ready {
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
    indices: &Arc<Vec<Range<u32>>>,
    concurrency: usize,
    run_secrets: &Arc<RunSecrets>,
    collector: &Arc<Collector>,
) {
    let next = Arc::new(AtomicUsize::new(0));
    let workers = concurrency.clamp(1, indices.len().max(1));
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, workers);
    let (done, mut finished) = mpsc::unbounded_channel::<()>();
    for thread in 0..threads {
        let share = workers / threads + usize::from(thread < workers % threads);
        let (jobs, indices, next) = (Arc::clone(jobs), Arc::clone(indices), Arc::clone(&next));
        let (run_secrets, collector, done) =
            (Arc::clone(run_secrets), Arc::clone(collector), done.clone());
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
                    let (run_secrets, collector) =
                        (Arc::clone(&run_secrets), Arc::clone(&collector));
                    pool.spawn(async move {
                        while !collector.is_stopped()
                            && let Some(unit) = indices.get(next.fetch_add(1, Ordering::Relaxed))
                        {
                            let mut captured = Captured::new();
                            for index in jobs_of(unit) {
                                if collector.is_stopped() {
                                    break;
                                }
                                let outcome =
                                    run_probe(&jobs[index], &run_secrets, &mut captured).await;
                                collector.put(&jobs[index], index, outcome);
                            }
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
        let (item, probe, of) = (job.item as usize, job.probe as usize, job.of as usize);
        if of <= 1 {
            self.ready.push((item, vec![outcome]));
            return;
        }
        let slots = self
            .partial
            .entry(item)
            .or_insert_with(|| (0..of).map(|_| None).collect());
        if let Some(slot) = slots.get_mut(probe) {
            *slot = Some(outcome);
        }
        if slots.iter().all(Option::is_some)
            && let Some(slots) = self.partial.remove(&item)
        {
            self.ready
                .push((item, slots.into_iter().flatten().collect()));
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
        kind: job.entry.kind().to_owned(),
        name: redactor.text(&probe_name(&job.entry)).into_owned(),
        location: job.location(),
        verdict: Verdict::Skip,
        flaky: false,
        summary: redactor
            .text(&format!("{}: not run (interrupted)", job.entry.describe()))
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
            job.entry.describe()
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
            job.entry.describe()
        ))
        .into_owned();
    outcome
}

fn probe_name(entry: &ProbeEntry) -> String {
    named_or(entry, || entry.describe())
}

/// The probe's `name:`, else `describe` (what it does).
fn named_or(entry: &ProbeEntry, describe: impl FnOnce() -> String) -> String {
    entry.settings().name.clone().unwrap_or_else(describe)
}

/// A probe that could not start: a capture it uses is missing, its
/// settings do not read with the captured values, no OAuth2 token.
fn not_run(
    job: &Job,
    verdict: Verdict,
    check: Option<Check>,
    why: &str,
    evidence: serde_json::Value,
    redactor: &Redactor,
) -> ProbeOutcome {
    let mut findings = Findings {
        checks: check.into_iter().collect(),
        summary: format!("{}: {why}", job.entry.describe()),
        evidence,
    };
    redact_findings(&mut findings, redactor);
    let mut outcome = skipped(job, redactor);
    outcome.verdict = verdict;
    outcome.summary = findings.summary;
    outcome.checks = findings.checks;
    outcome.evidence = raw(&findings.evidence);
    outcome.started_at = Some(humantime::format_rfc3339_millis(SystemTime::now()).to_string());
    outcome
}

/// The probe's settings with the item's captured values filled in; why not
/// when it cannot run.
fn filled_spec(
    job: &Job,
    captured: &Captured,
    redactor: &Redactor,
) -> Result<Arc<ProbeSpec>, Box<ProbeOutcome>> {
    let Some(template) = &job.entry.settings().template else {
        return job.entry.spec().map_err(|why| {
            let evidence = serde_json::json!({"error": why});
            Box::new(not_run(job, Verdict::Error, None, &why, evidence, redactor))
        });
    };
    let node = match crate::spec::capture::fill(template, captured) {
        Ok(node) => node,
        Err(name) => {
            let why = format!("not run: capture `{name}` missing");
            let check = Check::new(
                format!("capture {name}"),
                "a value captured by an earlier probe of the item",
                "missing",
                false,
            );
            let evidence = serde_json::json!({"probe": job.entry.describe(), "error": why});
            return Err(Box::new(not_run(
                job,
                Verdict::Fail,
                Some(check),
                &why,
                evidence,
                redactor,
            )));
        }
    };
    crate::spec::de::from_node::<ProbeSpec>(&node)
        .map(Arc::new)
        .map_err(|e| {
            let why = format!("could not run: with the captured values, {}", e.message);
            let evidence = serde_json::json!({"probe": job.entry.describe(), "error": why});
            Box::new(not_run(job, Verdict::Error, None, &why, evidence, redactor))
        })
}

/// The values of the probe's `capture:` in its response, each a check (and
/// the credentials among them secrets of the run from now on).
fn take_captures(
    job: &Job,
    response: Option<&Response>,
    findings: &mut Findings,
    run_secrets: &RunSecrets,
) -> Captured {
    let mut values = Captured::new();
    let mut record = serde_json::Map::new();
    for capture in job.captures() {
        let from = capture.source.describe();
        let name = format!("capture {}", capture.name);
        let expected = format!("a value at {from}");
        match response.and_then(|r| capture.source.extract(r)) {
            Some(value) => {
                let shown = if capture.secret {
                    run_secrets.add(&value);
                    REDACTED.to_owned()
                } else {
                    value.clone()
                };
                findings
                    .checks
                    .push(Check::new(name, expected, shown.clone(), true));
                record.insert(
                    capture.name.clone(),
                    serde_json::json!({"from": from, "value": shown}),
                );
                values.insert(capture.name.clone(), value);
            }
            None => {
                let actual = if response.is_some() {
                    "nothing there"
                } else {
                    "no HTTP response"
                };
                findings.summary.push_str(&format!(
                    "; capture `{}` missing ({from}: {actual})",
                    capture.name
                ));
                findings
                    .checks
                    .push(Check::new(name, expected, actual, false));
                record.insert(
                    capture.name.clone(),
                    serde_json::json!({"from": from, "missing": actual}),
                );
            }
        }
    }
    if let Some(evidence) = findings.evidence.as_object_mut() {
        evidence.insert("captures".to_owned(), serde_json::Value::Object(record));
    }
    values
}

/// Runs one probe with its timeout and retries, and redacts what it found.
/// The probes of a chain share `captured`: what one captures, the next use.
async fn run_probe(job: &Job, run_secrets: &RunSecrets, captured: &mut Captured) -> ProbeOutcome {
    let redactor = run_secrets.redactor();
    if let Some(why) = job.refused() {
        return refused(job, &why, &redactor);
    }
    if let Some(why) = job.unallowed() {
        let mut outcome = skipped(job, &redactor);
        outcome.summary = redactor
            .text(&format!("{}: {why}", job.entry.describe()))
            .into_owned();
        return outcome;
    }
    let spec = match filled_spec(job, captured, &redactor) {
        Ok(spec) => spec,
        Err(outcome) => return *outcome,
    };
    let (authorization, token_record) = match job.oauth2() {
        None => (None, None),
        Some(settings) => match oauth2::obtain(settings, &job.cx).await {
            Obtained::Token {
                authorization,
                token,
                record,
            } => {
                run_secrets.add(&token);
                (Some(authorization), Some(record))
            }
            Obtained::Failed { reason, record } => {
                let check = Check::new(
                    "oauth2 token",
                    "an access token from the token endpoint",
                    reason.clone(),
                    false,
                );
                let why = format!("not run: {reason}");
                let evidence = serde_json::json!({"probe": spec.describe(), "oauth2": record});
                return not_run(
                    job,
                    Verdict::Fail,
                    Some(check),
                    &why,
                    evidence,
                    &run_secrets.redactor(),
                );
            }
        },
    };
    let mut values = Captured::new();
    let first_start = SystemTime::now();
    let started = Instant::now();
    let mut attempts = Vec::new();
    let mut last: Option<(Verdict, Findings)> = None;
    for number in 1..=job.retries().saturating_add(1) {
        if number > 1 {
            let factor = 1u32 << (number - 2).min(5);
            let pause = job
                .retry_delay()
                .saturating_mul(factor)
                .min(Duration::from_secs(5));
            tokio::time::sleep(pause).await;
        }
        let attempt_start = SystemTime::now();
        let t = Instant::now();
        let recorder = (!job.captures().is_empty()).then(|| Arc::new(Recorder::default()));
        let (mut verdict, mut findings) = attempt(
            job,
            &spec,
            authorization.clone(),
            recorder.clone(),
            run_secrets.redactor(),
        )
        .await;
        if let Some(record) = &token_record
            && let Some(evidence) = findings.evidence.as_object_mut()
        {
            evidence.insert("oauth2".to_owned(), record.clone());
        }
        if let Some(recorder) = &recorder {
            let response = recorder.take();
            values = take_captures(job, response.as_ref(), &mut findings, run_secrets);
            if verdict == Verdict::Pass && !findings.passed() {
                verdict = Verdict::Fail;
            }
        }
        // Taken now: a capture may have added a secret.
        let redactor = run_secrets.redactor();
        redact_findings(&mut findings, &redactor);
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
    captured.extend(values);
    let (verdict, findings) = last.unwrap_or((Verdict::Error, Findings::default()));
    let flaky = verdict == Verdict::Pass && attempts.len() > 1;
    // From the spec read once (a probe kept as text is read again for each).
    let name = named_or(&job.entry, || spec.describe());
    ProbeOutcome {
        kind: spec.kind().to_owned(),
        name: redactor.text(&name).into_owned(),
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

async fn attempt(
    job: &Job,
    spec: &ProbeSpec,
    authorization: Option<Arc<str>>,
    recorder: Option<Arc<Recorder>>,
    redactor: Arc<Redactor>,
) -> (Verdict, Findings) {
    let describe = || spec.describe();
    let deadline = deadline_of(job.budget(), job.cx.timeout);
    // A fresh progress record per attempt: what the probe reached is all
    // that is left of it when the timeout drops it.
    let cx = Context {
        progress: Progress::default(),
        authorization,
        recorder,
        // With what the run learnt so far (kinds mask raw bytes with it).
        redactor,
        ..Context::clone(&job.cx)
    };
    match tokio::time::timeout(deadline, spec.run(&cx)).await {
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

/// Redacts a finished outcome again, with secrets learnt after it was
/// first redacted.
fn redact_outcome(outcome: &mut ProbeOutcome, redactor: &Redactor) {
    redactor.string(&mut outcome.name);
    redactor.string(&mut outcome.summary);
    for check in &mut outcome.checks {
        redactor.string(&mut check.name);
        redactor.string(&mut check.expected);
        redactor.string(&mut check.actual);
    }
    for attempt in &mut outcome.attempts {
        redactor.string(&mut attempt.summary);
    }
    if let Ok(mut evidence) = serde_json::from_str::<serde_json::Value>(outcome.evidence.get()) {
        redactor.json(&mut evidence);
        outcome.evidence = raw(&evidence);
    }
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
