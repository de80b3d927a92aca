//! `vouch watch`: the daemon. Runs the probe files now and then every
//! interval (with jitter, never overlapping), reloads them on `SIGHUP` or
//! when they change on disk (keeping the running ones when the new ones do
//! not load), and serves the last report as metrics, JSON and a status page.
//! Each cycle is one call of [`runner::run`], exactly as `vouch run` makes it.

mod http;
mod traffic;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::checklist::Checklist;
use crate::checklist::bind::Binding;
use crate::export::{self, DaemonStats, Since, item_states};
use crate::history::History;
use crate::report::{ChecklistInput, FailOnSet, Report};
use crate::runner::{self, RunOptions};
use crate::spec::{Diagnostic, ProbeFile};

/// Probe files and their checklist, as loaded.
pub type Loaded = (Vec<ProbeFile>, Option<(Arc<Checklist>, Binding)>);

/// Loads the probe files and their checklist (the same loading as `vouch
/// run`, handed in by the command line); called again on each reload.
pub type Loader = Box<dyn Fn() -> Result<Loaded, Vec<Diagnostic>> + Send + Sync>;

/// How to watch.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The probe files as given (watched for changes with their checklist).
    pub files: Vec<PathBuf>,
    /// The interval between run starts.
    pub every: Duration,
    /// Each wait is the interval times `1 ± jitter` (a fraction).
    pub jitter: f64,
    /// Where to serve.
    pub listen: SocketAddr,
    /// How often traffic probes run at most; never when `None`.
    pub traffic_every: Option<Duration>,
    /// The most series the files may export.
    pub max_series: usize,
    /// Where to keep reports.
    pub history: Option<History>,
    /// How each run runs.
    pub options: RunOptions,
    /// What fails a run (for `vouch_runs_total{result}`).
    pub fail_on: FailOnSet,
}

/// How the daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// On a signal, after the run in progress finished.
    Gracefully,
    /// The probe files did not load at start; nothing was run.
    Invalid,
}

/// Why the daemon could not serve.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// `--listen` could not be bound.
    #[error("cannot listen on `{addr}`: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The files could not be watched for changes.
    #[error("cannot watch the probe files for changes: {0}")]
    Notify(#[from] notify::Error),
    /// Signal handlers could not be installed.
    #[error("cannot handle signals: {0}")]
    Signals(#[source] std::io::Error),
}

/// Why a (re)load failed.
#[derive(Debug)]
enum LoadError {
    Diagnostics(Vec<Diagnostic>),
    TooManySeries { bound: usize, cap: usize },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Diagnostics(diagnostics) => {
                for d in diagnostics {
                    writeln!(f, "{d}")?;
                }
                write!(f, "{} problem(s) in the probe files", diagnostics.len())
            }
            LoadError::TooManySeries { bound, cap } => write!(
                f,
                "error: these probe files could export up to {bound} series, over the cap of {cap} (--max-series)"
            ),
        }
    }
}

/// A loaded configuration.
struct Config {
    files: Vec<ProbeFile>,
    /// The files without their traffic probes, for the cycles that skip them.
    light: Option<Vec<ProbeFile>>,
    checklist: Option<(Arc<Checklist>, Binding)>,
    /// The files and checklist, as paths notify reports.
    watched: HashSet<PathBuf>,
}

/// What the endpoints serve, replaced after each run.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    report: Option<Arc<Report>>,
    report_json: Option<Arc<String>>,
    since: Since,
    daemon: DaemonStats,
}

/// The snapshot behind a lock the endpoints hold only to clone it.
#[derive(Debug, Default)]
struct Shared {
    inner: Mutex<Snapshot>,
}

impl Shared {
    fn snapshot(&self) -> Snapshot {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        change(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// `10%` or `0.1` as a fraction from 0 to 1.
pub fn parse_jitter(text: &str) -> Result<f64, String> {
    let value = match text.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.trim().parse::<f64>(),
    };
    match value {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a share from 0% to 100%, found `{text}`")),
    }
}

/// Runs the daemon until SIGTERM or SIGINT. A second signal during a run
/// exits the process at once (exit 3).
pub async fn watch(settings: Settings, load: Loader) -> Result<Ended, WatchError> {
    let mut config = match load_config(&settings, &load) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}\nerror: nothing was run");
            return Ok(Ended::Invalid);
        }
    };
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| WatchError::Bind {
            addr: settings.listen,
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(settings.listen);
    let shared = Arc::new(Shared::default());
    shared.update(|s| {
        s.daemon.reload_ok = true;
        s.since = seed_since(settings.history.as_ref());
    });
    let server = tokio::spawn(http::serve(listener, Arc::clone(&shared)));
    tracing::info!(
        "listening on http://{addr}; running {} probe file(s) every {}",
        config.files.len(),
        humantime::format_duration(settings.every)
    );

    let (changed, mut changes) = mpsc::unbounded_channel();
    let watched = Arc::new(Mutex::new(config.watched.clone()));
    let mut watcher = file_watcher(Arc::clone(&watched), changed)?;
    let mut watched_dirs = HashSet::new();
    watch_dirs(&mut watcher, &config.watched, &mut watched_dirs);

    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(WatchError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(WatchError::Signals)?;
    let mut hup = signal(SignalKind::hangup()).map_err(WatchError::Signals)?;

    let mut kept = traffic::Kept::default();
    kept.track(&config.files);
    let mut last_traffic: Option<Instant> = None;
    let mut next = Instant::now();
    loop {
        let reload_why = tokio::select! {
            () = tokio::time::sleep_until(next) => None,
            Some(()) = changes.recv() => {
                // Editors write in several steps: let them finish.
                tokio::time::sleep(Duration::from_millis(200)).await;
                while changes.try_recv().is_ok() {}
                Some("a file changed")
            }
            _ = hup.recv() => Some("SIGHUP"),
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        if let Some(why) = reload_why {
            if reload(&mut config, &settings, &load, &shared, why) {
                kept.track(&config.files);
                *watched.lock().unwrap_or_else(PoisonError::into_inner) = config.watched.clone();
                watch_dirs(&mut watcher, &config.watched, &mut watched_dirs);
                next = Instant::now();
            }
            continue;
        }

        let started = Instant::now();
        let mut stopping = false;
        let mut reload_after = false;
        let report = {
            let cycle = run_cycle(&config, &settings, &mut kept, &mut last_traffic);
            tokio::pin!(cycle);
            loop {
                tokio::select! {
                    report = &mut cycle => break report,
                    _ = term.recv() => stop_signal(&mut stopping),
                    _ = int.recv() => stop_signal(&mut stopping),
                    _ = hup.recv() => reload_after = true,
                }
            }
        };
        publish(report, &shared, settings.history.as_ref());
        if stopping {
            break;
        }
        let elapsed = started.elapsed();
        if elapsed >= settings.every {
            shared.update(|s| s.daemon.overruns += 1);
            tracing::warn!(
                "the run took {}, longer than the interval ({}): the next starts now",
                humantime::format_duration(round_ms(elapsed)),
                humantime::format_duration(settings.every)
            );
            next = Instant::now();
        } else {
            next = started + jittered(settings.every, settings.jitter);
        }
        if reload_after && reload(&mut config, &settings, &load, &shared, "SIGHUP") {
            kept.track(&config.files);
            *watched.lock().unwrap_or_else(PoisonError::into_inner) = config.watched.clone();
            watch_dirs(&mut watcher, &config.watched, &mut watched_dirs);
            next = Instant::now();
        }
    }
    tracing::info!("stopped");
    server.abort();
    Ok(Ended::Gracefully)
}

/// The first SIGTERM or SIGINT lets the run finish; the second exits.
fn stop_signal(stopping: &mut bool) {
    if *stopping {
        tracing::warn!("second signal: exiting at once");
        std::process::exit(3);
    }
    *stopping = true;
    tracing::info!(
        "stopping after the current run (its probes' timeouts bound it); a second signal exits at once"
    );
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis().try_into().unwrap_or(u64::MAX))
}

/// The interval times a random factor in `1 ± jitter`.
fn jittered(every: Duration, jitter: f64) -> Duration {
    let factor = 1.0 + jitter * (fastrand::f64() * 2.0 - 1.0);
    every.mul_f64(factor.max(0.0))
}

/// One run: traffic probes only when due, their last outcomes otherwise.
async fn run_cycle(
    config: &Config,
    settings: &Settings,
    kept: &mut traffic::Kept,
    last_traffic: &mut Option<Instant>,
) -> Report {
    let due = settings
        .traffic_every
        .is_some_and(|every| last_traffic.is_none_or(|t| t.elapsed() >= every));
    let run = match &config.light {
        Some(light) if !due => {
            let mut run = runner::run(light, &settings.options).await;
            kept.restore(&mut run, &config.files, settings.options.only.as_deref());
            run
        }
        light => {
            let run = runner::run(&config.files, &settings.options).await;
            if light.is_some() {
                kept.remember(&run);
                *last_traffic = Some(Instant::now());
            }
            run
        }
    };
    let input = config
        .checklist
        .as_ref()
        .map(|(checklist, binding)| ChecklistInput {
            checklist: Arc::clone(checklist),
            binding,
        });
    Report::new(run, &config.files, &settings.fail_on, input)
}

/// Makes a finished run's report the one served: item changes logged and
/// counted, one log line for the run, the report stored in the history.
fn publish(report: Report, shared: &Shared, history: Option<&History>) {
    let states = item_states(&report);
    let finished = export::unix_seconds(&report.finished_at).unwrap_or_default();
    let json = Arc::new(crate::report::json::render(&report));
    if let Some(history) = history
        && let Err(e) = history.store(&report)
    {
        tracing::warn!("cannot store the report: {e}");
    }
    let result = if report.interrupted {
        "interrupted"
    } else if report.summary.passed {
        "passed"
    } else {
        "failed"
    };
    let report = Arc::new(report);
    let mut changes = Vec::new();
    let mut previous = None;
    shared.update(|s| {
        previous = s.report.take();
        changes = s.since.observe(&states, finished);
        for change in changes.iter().filter(|c| c.from.is_some()) {
            *s.daemon.transitions.entry(change.to).or_insert(0) += 1;
        }
        *s.daemon.runs.entry(result).or_insert(0) += 1;
        s.report = Some(Arc::clone(&report));
        s.report_json = Some(json);
    });
    let changed: Vec<_> = changes.iter().filter(|c| c.from.is_some()).collect();
    // The same comparison as `vouch diff`, for the evidence of each change.
    let diff = previous.and_then(|old| crate::history::diff(&old, &report).ok());
    for change in &changed {
        let evidence = diff
            .as_ref()
            .and_then(|d| d.items.iter().find(|i| i.id == change.id))
            .map(|i| i.evidence.join("; "))
            .unwrap_or_default();
        tracing::info!(
            item = %change.id,
            from = change.from.map_or("", export::State::as_str),
            to = change.to.as_str(),
            evidence,
            "item changed state"
        );
    }
    let count = |state| states.iter().filter(|s| s.state == state).count();
    use export::State::*;
    tracing::info!(
        items = states.len(),
        verified = count(Verified),
        failed = count(Failed),
        refuted = count(Refuted),
        error = count(Error),
        attested = count(Attested),
        manual = count(Manual),
        skipped = count(Skipped),
        changes = changed.len(),
        duration_ms = report.duration_ms,
        result,
        "run finished"
    );
}

/// "Since" from the last stored report, so a restart does not reset it.
fn seed_since(history: Option<&History>) -> Since {
    let mut since = Since::default();
    let last = history
        .and_then(|h| crate::history::list(&h.dir).ok())
        .and_then(|mut stored| stored.pop())
        .and_then(|path| crate::history::load(&path).ok());
    if let Some(report) = last {
        let at = export::unix_seconds(&report.finished_at).unwrap_or_default();
        since.observe(&item_states(&report), at);
    }
    since
}

/// Loads and checks the series cap.
fn load_config(settings: &Settings, load: &Loader) -> Result<Config, LoadError> {
    let (files, checklist) = load().map_err(LoadError::Diagnostics)?;
    let only = settings.options.only.as_deref();
    let entries = || {
        files
            .iter()
            .flat_map(|f| &f.items)
            .filter(|i| runner::is_selected(i, only))
            .flat_map(|i| &i.probes)
    };
    let probes = entries().count();
    let tls = entries()
        .filter(|e| e.spec().is_ok_and(|spec| spec.exports_certificates()))
        .count();
    let (items, sections) = match &checklist {
        Some((c, _)) => {
            let sections: HashSet<_> = c.items.iter().filter_map(|i| i.section.as_ref()).collect();
            (c.items.len(), sections.len())
        }
        None => (
            files
                .iter()
                .flat_map(|f| &f.items)
                .filter(|i| runner::is_selected(i, only))
                .count(),
            0,
        ),
    };
    let bound = export::series_bound(probes, tls, items, sections);
    if bound > settings.max_series {
        return Err(LoadError::TooManySeries {
            bound,
            cap: settings.max_series,
        });
    }
    let mut watched: HashSet<PathBuf> = settings.files.iter().map(|p| notify_path(p)).collect();
    if let Some(path) = checklist.as_ref().and_then(|(c, _)| c.path.as_ref()) {
        watched.insert(notify_path(path));
    }
    let light = traffic::has_traffic(&files).then(|| traffic::without_traffic(&files));
    Ok(Config {
        files,
        light,
        checklist,
        watched,
    })
}

/// Loads again; on failure keeps `config`, logs why and flips the metric.
fn reload(
    config: &mut Config,
    settings: &Settings,
    load: &Loader,
    shared: &Shared,
    why: &str,
) -> bool {
    match load_config(settings, load) {
        Ok(new) => {
            *config = new;
            shared.update(|s| s.daemon.reload_ok = true);
            tracing::info!("reloaded the probe files ({why})");
            true
        }
        Err(e) => {
            shared.update(|s| s.daemon.reload_ok = false);
            tracing::error!("reload ({why}) failed; still running the previous files:\n{e}");
            false
        }
    }
}

/// A path as notify reports it: its directory resolved, then its name.
fn notify_path(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    match path.file_name() {
        Some(name) => dir.join(name),
        None => dir,
    }
}

/// A watcher that sends `()` when one of `watched` is written, created,
/// renamed over or removed.
fn file_watcher(
    watched: Arc<Mutex<HashSet<PathBuf>>>,
    changed: mpsc::UnboundedSender<()>,
) -> Result<notify::RecommendedWatcher, WatchError> {
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        let watched = watched.lock().unwrap_or_else(PoisonError::into_inner);
        if event.paths.iter().any(|p| watched.contains(p)) {
            let _ = changed.send(());
        }
    })?;
    Ok(watcher)
}

/// Watches the directories of the files (editors replace files by
/// renaming, which a watch on the file itself would lose).
fn watch_dirs(
    watcher: &mut notify::RecommendedWatcher,
    files: &HashSet<PathBuf>,
    dirs: &mut HashSet<PathBuf>,
) {
    use notify::Watcher as _;
    for dir in files.iter().filter_map(|f| f.parent()) {
        if dirs.contains(dir) {
            continue;
        }
        match watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
            Ok(()) => {
                dirs.insert(dir.to_owned());
            }
            Err(e) => tracing::warn!("cannot watch `{}` for changes: {e}", dir.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jitter_as_a_share() {
        assert_eq!(parse_jitter("10%"), Ok(0.1));
        assert_eq!(parse_jitter("0.25"), Ok(0.25));
        assert!(parse_jitter("150%").is_err());
        assert!(parse_jitter("x").is_err());
    }

    #[test]
    fn jitter_stays_within_its_share() {
        let every = Duration::from_secs(100);
        for _ in 0..1000 {
            let d = jittered(every, 0.1);
            assert!(
                d >= Duration::from_secs(90) && d <= Duration::from_secs(110),
                "{d:?}"
            );
        }
        assert_eq!(jittered(every, 0.0), every);
    }
}
