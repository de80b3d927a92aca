//! The command line: clap arguments and the commands they run. Returns an
//! exit code; `main.rs` only maps errors and broken pipes.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::demo;
use crate::expect::{parse_duration, parse_size};
use crate::history::{self, DiffFormat, History};
use std::sync::Arc;

use crate::checklist::Checklist;
use crate::checklist::bind::Binding;
use crate::report::output::ReportFile;
use crate::report::{ChecklistInput, FailOnSet, Format, GatePolicy, MinScore, Report};
use crate::runner::{self, RunOptions};
use crate::spec::{self, Diagnostic, LoadOptions, ProbeFile};

/// Exit codes, as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The gate passed.
    Passed = 0,
    /// An item failed (per `--fail-on`).
    Failed = 1,
    /// The probe files or arguments are invalid; nothing was run.
    Invalid = 2,
    /// vouch itself could not finish (e.g. could not write the report, or was interrupted).
    Broken = 3,
}

/// Errors that stop a command: vouch's side, exit 3.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    // The messages carry their cause, which is therefore not also a
    // `source`: `main` prints the whole chain, and would print it twice.
    /// The report could not be written.
    #[error("cannot write the report to `{path}`: {error}")]
    Output {
        /// Where.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// A streamed run's spool file could not be made or written.
    #[error("cannot spool the report's items to a temporary file: {0}")]
    Spool(std::io::Error),
    /// Writing to stdout failed (a broken pipe is not reported).
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
    /// The demo deployment could not start.
    #[error("cannot start the demo deployment: {0}")]
    Demo(std::io::Error),
    /// The report could not be stored in `--history`.
    #[error(transparent)]
    History(#[from] history::HistoryError),
    /// `vouch watch` could not serve.
    #[error(transparent)]
    Watch(#[from] crate::watch::WatchError),
}

/// vouch: verify production-readiness checklists against live deployments.
#[derive(Debug, Parser)]
#[command(name = "vouch", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run probe files against a target and report every item.
    Run(RunArgs),
    /// Validate probe files without touching the network.
    Check(CheckArgs),
    /// Start the embedded demo deployment and verify it end to end.
    Demo(DemoArgs),
    /// Propose a probe file for a markdown checklist.
    Init(InitArgs),
    /// Print the JSON Schema of probe files (or of the JSON report).
    Schema(SchemaArgs),
    /// Which items changed verdict between two reports (exit 1 on a regression).
    Diff(DiffArgs),
    /// Run probe files on a schedule and serve the results as Prometheus metrics.
    Watch(WatchArgs),
    /// Check an evidence bundle (`run --evidence`): every hash, and the signature.
    VerifyBundle(VerifyBundleArgs),
    /// One report of the reports of `run --shard K/N` (exit 2 when shards overlap or are missing).
    Merge(MergeArgs),
    /// Print a shell completion script (`vouch completions bash > /etc/bash_completion.d/vouch`).
    Completions(CompletionsArgs),
    /// Print the man page (roff: `vouch man > vouch.1; man ./vouch.1`).
    Man,
}

/// `vouch verify-bundle`.
#[derive(Debug, Args)]
pub struct VerifyBundleArgs {
    /// The bundle: a directory or a `.tar.gz` written by `run --evidence`.
    #[arg(value_name = "DIR|FILE.tar.gz")]
    pub bundle: PathBuf,
    /// Also check `manifest.json.sig` against this ed25519 public key (PEM).
    #[arg(long, value_name = "FILE")]
    pub pub_key: Option<PathBuf>,
}

/// `vouch merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' JSON reports (gzipped or not), or directories of them.
    #[arg(required = true, value_name = "REPORTS")]
    pub reports: Vec<PathBuf>,
    /// The checklist the shards verified, when not where their reports say
    /// (it must be the same file, by its SHA-256).
    #[arg(long, value_name = "FILE")]
    pub checklist: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Write the report to a file: `-o FILE` or `-o FORMAT=FILE`; repeatable.
    #[arg(long, short, value_name = "[FORMAT=]FILE", value_parser = parse_output)]
    pub output: Vec<OutputArg>,
    /// Print nothing on stdout when writing reports with `-o`.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `vouch completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// How `vouch watch` writes its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per line.
    Json,
}

/// `vouch watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Probe files (YAML).
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Base URL of the deployment; overrides `target:` in every file.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Variables: `--set NAME=VALUE`, overriding `vars:`.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
    pub sets: Vec<(String, String)>,
    /// The markdown checklist the items belong to (overrides `checklist:`).
    #[arg(long, value_name = "FILE")]
    pub checklist: Option<PathBuf>,
    /// Start a run this often (a run longer than this is followed at once by the next).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5m")]
    pub every: Duration,
    /// Vary each wait by up to this share of the interval, so watchers do not fire at once.
    #[arg(long, value_name = "SHARE", value_parser = crate::watch::parse_jitter, default_value = "10%")]
    pub jitter: f64,
    /// Serve /metrics, /report.json, / and /-/healthy, /-/ready here.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9469")]
    pub listen: std::net::SocketAddr,
    /// Run traffic probes (`rate_limit`, `load`) at most this often; never without it.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub traffic_every: Option<Duration>,
    /// Refuse probe files that could export more series than this.
    #[arg(long, value_name = "N", default_value_t = crate::export::DEFAULT_MAX_SERIES)]
    pub max_series: usize,
    /// Log lines as text or JSON.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Run only items whose text contains PATTERN (case-insensitive).
    #[arg(long, value_name = "PATTERN")]
    pub only: Option<String>,
    /// Probes in flight at once.
    #[arg(long, default_value_t = runner::DEFAULT_CONCURRENCY, value_parser = parse_concurrency)]
    pub concurrency: usize,
    /// Timeout per probe attempt (replaces `defaults.timeout`; a probe's own `timeout:` wins).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// What fails a run (counted in `vouch_runs_total{result}`).
    #[arg(long, default_value = "failed,error", value_name = "CONDITIONS")]
    pub fail_on: FailOnSet,
    /// A PEM bundle of extra trusted CAs for probes that name none.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// The most bytes of a response body read (replaces `defaults.body_limit`).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub body_limit: Option<u64>,
    /// Pause before each traffic probe.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1s")]
    pub cool_down: Duration,
    /// Allow probes that plan more than 10000 requests or 60s of traffic.
    #[arg(long)]
    pub allow_heavy: bool,
    /// Run `exec` probes (programs on this machine); without it they are skipped.
    #[arg(long, env = "VOUCH_ALLOW_EXEC", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_exec: bool,
    #[command(flatten)]
    /// Where to keep the reports.
    pub history: HistoryFlags,
}

impl Cli {
    /// Whether logs are JSON lines, and the level logged when `VOUCH_LOG`
    /// is unset: the daemon logs each run, other commands only errors.
    pub fn logging(&self) -> (LogFormat, &'static str) {
        match &self.command {
            Command::Watch(args) => (args.log_format, "info"),
            _ => (LogFormat::Text, "error"),
        }
    }
}

/// `vouch diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old and the new report (`vouch.report/v1`, gzipped or not).
    #[arg(
        value_names = ["OLD", "NEW"],
        num_args = 2,
        required_unless_present = "history",
        conflicts_with = "history"
    )]
    pub reports: Vec<PathBuf>,
    /// Compare the last two reports stored in this `--history` directory.
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: DiffFormat,
}

/// `--history` and its retention, for `run` and `watch`.
#[derive(Debug, Clone, Args)]
pub struct HistoryFlags {
    /// Keep each run's JSON report (gzipped, time-stamped) in DIR, and the
    /// checklist written back beside them.
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// Reports kept in the history at most.
    #[arg(long, value_name = "N", default_value_t = history::DEFAULT_KEEP, requires = "history")]
    pub history_keep: usize,
    /// Reports older than this are removed from the history.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30d", requires = "history")]
    pub history_max_age: Duration,
}

impl HistoryFlags {
    /// The history, when `--history` was given.
    pub fn history(&self) -> Option<History> {
        self.history.as_ref().map(|dir| History {
            dir: dir.clone(),
            keep: self.history_keep,
            max_age: self.history_max_age,
        })
    }
}

/// `vouch init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The markdown checklist.
    #[arg(value_name = "CHECKLIST")]
    pub checklist: PathBuf,
    /// Write the probe file here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print, per item, why that kind and those values were proposed (on
    /// stdout; the probe file is still written with `-o`).
    #[arg(long)]
    pub explain: bool,
}

/// `vouch run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Probe files (YAML).
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Base URL of the deployment; overrides `target:` in every file.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Variables: `--set NAME=VALUE`, overriding `vars:`.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
    pub sets: Vec<(String, String)>,
    /// The markdown checklist the items belong to (overrides `checklist:`).
    #[arg(long, value_name = "FILE")]
    pub checklist: Option<PathBuf>,
    /// Print the plan (each probe's phase, most requests, deadline) and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run only shard K of N (K from 0): the items whose stable id hashes
    /// there (FNV-1a 64 mod N); `vouch merge` joins the shards' reports.
    #[arg(long, value_name = "K/N", value_parser = crate::shard::parse)]
    pub shard: Option<crate::report::ShardInfo>,
    #[command(flatten)]
    /// How to run and report.
    pub run: RunFlags,
    #[command(flatten)]
    /// Where to keep the report.
    pub history: HistoryFlags,
    /// Write an evidence bundle (reports, each probe's evidence, the inputs,
    /// hashes) to DIR, or to FILE.tar.gz.
    #[arg(long, value_name = "DIR|FILE.tar.gz")]
    pub evidence: Option<PathBuf>,
    /// Sign the bundle's manifest with this ed25519 private key (PEM PKCS#8).
    #[arg(long, value_name = "FILE", requires = "evidence")]
    pub sign_key: Option<PathBuf>,
    #[command(flatten)]
    /// Where to push the metrics.
    pub push: Box<PushFlags>,
}

/// `--push` and its settings, for `run`.
#[derive(Debug, Clone, Args)]
pub struct PushFlags {
    /// After the run, PUT its metrics to this Prometheus Pushgateway (replacing the group).
    #[arg(long, value_name = "URL")]
    pub push: Option<url::Url>,
    /// The `job` grouping label of the push.
    #[arg(long, value_name = "NAME", default_value = "vouch", requires = "push")]
    pub push_job: String,
    /// The `instance` grouping label (default: the first probe file's name without extension).
    #[arg(long, value_name = "NAME", requires = "push")]
    pub push_instance: Option<String>,
    /// A further grouping label, `--push-label shard=3`; repeatable.
    #[arg(long = "push-label", value_name = "NAME=VALUE", value_parser = parse_push_label, requires = "push")]
    pub push_labels: Vec<(String, String)>,
    /// Basic-auth user for the gateway (the password from --push-password-env).
    #[arg(
        long,
        value_name = "USER",
        requires = "push_password_env",
        requires = "push"
    )]
    pub push_user: Option<String>,
    /// The environment variable holding the gateway's basic-auth password.
    #[arg(long, value_name = "NAME", requires = "push_user")]
    pub push_password_env: Option<String>,
    /// The environment variable holding a bearer token for the gateway.
    #[arg(
        long,
        value_name = "NAME",
        requires = "push",
        conflicts_with = "push_user"
    )]
    pub push_token_env: Option<String>,
    /// How long the push may take.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s", requires = "push")]
    pub push_timeout: Duration,
    /// A failed push is reported but does not change the exit code (otherwise 3).
    #[arg(long, requires = "push")]
    pub push_optional: bool,
}

fn parse_push_label(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, found `{text}`"))?;
    crate::push::check_label_name(name)?;
    Ok((name.to_owned(), value.to_owned()))
}

impl PushFlags {
    /// The gateway to push to, when `--push` was given; an error names a
    /// missing credential variable (never its value).
    fn gateway(
        &self,
        files: &[PathBuf],
        ca_file: Option<&std::path::Path>,
    ) -> Result<Option<crate::push::Gateway>, String> {
        let Some(url) = &self.push else {
            return Ok(None);
        };
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err(format!(
                "--push: expected an http(s) URL, found `{}`",
                url.scheme()
            ));
        }
        let secret = |flag: &str, name: &str| {
            std::env::var(name)
                .map_err(|_| format!("{flag}: the environment variable `{name}` is not set"))
        };
        let auth = match (
            &self.push_user,
            &self.push_password_env,
            &self.push_token_env,
        ) {
            (Some(user), Some(env), _) => Some(crate::push::Auth::Basic {
                user: user.clone(),
                password: secret("--push-password-env", env)?,
            }),
            (_, _, Some(env)) => Some(crate::push::Auth::Bearer(secret("--push-token-env", env)?)),
            _ => None,
        };
        let instance = self.push_instance.clone().unwrap_or_else(|| {
            files
                .first()
                .and_then(|f| f.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "vouch".to_owned())
        });
        Ok(Some(crate::push::Gateway {
            url: url.clone(),
            job: self.push_job.clone(),
            instance,
            labels: self.push_labels.clone(),
            auth,
            ca_file: ca_file.map(absolute),
            timeout: self.push_timeout,
        }))
    }
}

/// `--color`: when the human report on stdout has colors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal and `NO_COLOR` is unset (or empty).
    Auto,
    /// Always, even into a pipe or with `NO_COLOR` (a flag beats the
    /// environment, as no-color.org asks).
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to color, given whether stdout is a terminal and whether
    /// `NO_COLOR` is set to a non-empty value.
    pub fn enabled(self, is_terminal: bool, no_color: bool) -> bool {
        match self {
            ColorChoice::Auto => is_terminal && !no_color,
            ColorChoice::Always => true,
            ColorChoice::Never => false,
        }
    }
}

/// Flags shared by `run` and `demo`.
#[derive(Debug, Args)]
pub struct RunFlags {
    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Write the report to a file: `-o FILE` (format from `--format`, else
    /// from the extension) or `-o FORMAT=FILE`; repeatable, one run for all.
    #[arg(long, short, value_name = "[FORMAT=]FILE", value_parser = parse_output)]
    pub output: Vec<OutputArg>,
    /// Print nothing on stdout when writing reports with `-o`.
    #[arg(long, short)]
    pub quiet: bool,
    /// Colors in the human report on stdout: `auto` (when stdout is a
    /// terminal and `NO_COLOR` is unset), `always` or `never`.
    #[arg(long, value_enum, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
    /// Run only items whose text contains PATTERN (case-insensitive).
    #[arg(long, value_name = "PATTERN")]
    pub only: Option<String>,
    /// Probes in flight at once.
    #[arg(long, default_value_t = runner::DEFAULT_CONCURRENCY, value_parser = parse_concurrency)]
    pub concurrency: usize,
    /// Timeout per probe attempt (replaces `defaults.timeout`; a probe's own `timeout:` wins).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// What fails the gate: any of `failed`, `error`, `refuted`, `flaky`,
    /// each optionally for one severity (`critical:failed,refuted`).
    #[arg(long, default_value = "failed,error", value_name = "CONDITIONS")]
    pub fail_on: FailOnSet,
    /// Fail the gate when the readiness score is below N (0–100), or a
    /// section's score with SECTION=N; repeatable.
    #[arg(long = "min-score", value_name = "[SECTION=]N")]
    pub min_scores: Vec<MinScore>,
    /// Fail the gate when the checklist's coverage is below P percent.
    #[arg(long, value_name = "P", value_parser = crate::report::gate::parse_percent)]
    pub min_coverage: Option<f64>,
    /// A PEM bundle of extra trusted CAs for probes that name none.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// The most bytes of a response body read (replaces `defaults.body_limit`).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub body_limit: Option<u64>,
    /// No progress bar on stderr.
    #[arg(long)]
    pub no_progress: bool,
    /// Pause before each probe of the isolated phase (rate_limit, load).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1s")]
    pub cool_down: Duration,
    /// Allow probes that plan more than 10000 requests or 60s of traffic.
    #[arg(long)]
    pub allow_heavy: bool,
    /// Run `exec` probes (programs on this machine); without it they are skipped.
    #[arg(long, env = "VOUCH_ALLOW_EXEC", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_exec: bool,
}

/// `vouch check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Probe files (YAML).
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Base URL, as for `run` (checks it is valid).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Variables, as for `run`.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_set)]
    pub sets: Vec<(String, String)>,
    /// The markdown checklist, as for `run` (checks every item binds).
    #[arg(long, value_name = "FILE")]
    pub checklist: Option<PathBuf>,
}

/// `vouch demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo deployment running after the demo, for your own probe
    /// files, until Ctrl-C or SIGTERM (prints its URL and CA file).
    #[arg(long)]
    pub serve: bool,
    #[command(flatten)]
    /// How to run and report.
    pub run: RunFlags,
}

/// `vouch schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the schema of the JSON report (`vouch.report/v1`) instead.
    #[arg(long)]
    pub report: bool,
}

fn parse_concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=100_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number from 1 to 100000, found `{text}`"
        )),
    }
}

/// `-o FILE` or `-o FORMAT=FILE`.
#[derive(Debug, Clone)]
pub struct OutputArg {
    /// `FORMAT=`, when written.
    pub format: Option<Format>,
    /// Where the report goes.
    pub path: PathBuf,
}

impl OutputArg {
    /// The format this file gets: as written, else `--format` when not the
    /// default, else from the extension, else human.
    fn resolve(&self, flag: Format) -> Format {
        self.format
            .or((flag != Format::Human).then_some(flag))
            .or_else(|| Format::from_extension(&self.path))
            .unwrap_or(Format::Human)
    }
}

fn parse_output(text: &str) -> Result<OutputArg, String> {
    // `json=out.json`; a path that merely holds `=` stays a path.
    if let Some((name, path)) = text.split_once('=')
        && let Ok(format) = <Format as clap::ValueEnum>::from_str(name, true)
    {
        if path.is_empty() {
            return Err(format!("expected FORMAT=FILE, found `{text}`"));
        }
        return Ok(OutputArg {
            format: Some(format),
            path: PathBuf::from(path),
        });
    }
    if text.is_empty() {
        return Err("expected FILE or FORMAT=FILE".to_owned());
    }
    Ok(OutputArg {
        format: None,
        path: PathBuf::from(text),
    })
}

fn parse_set(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected NAME=VALUE, found `{text}`"))
}

/// Runs a command and returns its exit code.
pub async fn execute(cli: Cli) -> Result<Exit, CliError> {
    match cli.command {
        Command::Run(args) => run(args).await,
        Command::Check(args) => Ok(check(&args)),
        Command::Demo(args) => demo(args).await,
        Command::Init(args) => init(&args),
        Command::Diff(args) => diff(&args),
        Command::Watch(args) => watch(args).await,
        Command::VerifyBundle(args) => verify_bundle(&args),
        Command::Merge(args) => merge(&args),
        Command::Completions(args) => {
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "vouch", &mut script);
            write_stdout(&String::from_utf8_lossy(&script))?;
            Ok(Exit::Passed)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(CliError::Stdout)?;
            write_stdout(&String::from_utf8_lossy(&page))?;
            Ok(Exit::Passed)
        }
        Command::Schema(args) => {
            let schema = if args.report {
                crate::report::json_schema()
            } else {
                spec::json_schema()
            };
            let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
            write_stdout(&format!("{text}\n"))?;
            Ok(Exit::Passed)
        }
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn print_diagnostics(diagnostics: &[Diagnostic]) {
    let mut stderr = std::io::stderr().lock();
    for d in diagnostics {
        let _ = writeln!(stderr, "{d}");
    }
    let files: std::collections::BTreeSet<_> = diagnostics.iter().map(|d| &d.file).collect();
    let _ = writeln!(
        stderr,
        "error: {} problem{} in {} file{}; nothing was run",
        diagnostics.len(),
        if diagnostics.len() == 1 { "" } else { "s" },
        files.len(),
        if files.len() == 1 { "" } else { "s" },
    );
}

/// A checklist and which probe-file items verify its items.
type BoundChecklist = (Arc<Checklist>, Binding);

/// Loads the files and their checklist; all diagnostics together.
fn load_run(
    files: &[PathBuf],
    target: Option<&str>,
    sets: &[(String, String)],
    checklist: Option<&std::path::Path>,
) -> Result<(Vec<ProbeFile>, Option<BoundChecklist>), Vec<Diagnostic>> {
    let options = LoadOptions {
        target,
        sets,
        env: &env_var,
    };
    crate::checklist::bind::load_bound(files, &options, checklist)
}

fn check(args: &CheckArgs) -> Exit {
    let options = LoadOptions {
        target: args.target.as_deref(),
        sets: &args.sets,
        env: &env_var,
    };
    // Each file against its own checklist: `vouch check probes/*.yaml` checks
    // files of different checklists together.
    match crate::checklist::bind::load_bound_each(&args.files, &options, args.checklist.as_deref())
    {
        Ok((files, checklists)) => {
            for (checklist, binding) in &checklists {
                let bound = (0..checklist.items.len())
                    .filter(|&i| binding.is_bound(i))
                    .count();
                eprintln!(
                    "ok: checklist {}: {} items, {bound} bound to probe-file items, {} manual",
                    checklist
                        .path
                        .as_deref()
                        .unwrap_or(std::path::Path::new("-"))
                        .display(),
                    checklist.items.len(),
                    checklist.items.len() - bound
                );
            }
            let items: usize = files.iter().map(|f| f.items.len()).sum();
            let probes: usize = files
                .iter()
                .flat_map(|f| &f.items)
                .map(|i| i.probes.len())
                .sum();
            let plural =
                |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
            eprintln!(
                "ok: {}, {}, {}",
                plural(files.len(), "file"),
                plural(items, "item"),
                plural(probes, "probe")
            );
            // Which variables the secrets policy masks (names only, never values).
            let mut secrets = crate::redact::Secrets::default();
            files.iter().for_each(|f| secrets.extend(&f.secrets));
            let named: Vec<String> = secrets
                .variables()
                .map(|(name, source)| format!("{name} ({source})"))
                .collect();
            if !named.is_empty() {
                eprintln!("secrets: {}", named.join(", "));
            }
            print_programs(&files);
            Exit::Passed
        }
        Err(diagnostics) => {
            print_diagnostics(&diagnostics);
            Exit::Invalid
        }
    }
}

/// `vouch check`: the programs `exec` probes would run, so a reviewer sees
/// them before anyone passes `--allow-exec`.
fn print_programs(files: &[ProbeFile]) {
    let mut secrets = crate::redact::Secrets::default();
    files.iter().for_each(|f| secrets.extend(&f.secrets));
    let redactor = crate::redact::Redactor::new(&secrets);
    let programs: Vec<String> = files
        .iter()
        .flat_map(|f| {
            f.items.iter().flat_map(move |i| {
                i.probes
                    .iter()
                    .filter(|p| p.runs_programs())
                    .map(move |p| format!("  {}:{}  {}", f.path.display(), p.pos, p.describe()))
            })
        })
        .collect();
    if !programs.is_empty() {
        eprintln!(
            "{} would run programs (only with --allow-exec or VOUCH_ALLOW_EXEC=1):",
            if programs.len() == 1 {
                "1 probe".to_owned()
            } else {
                format!("{} probes", programs.len())
            }
        );
        for line in programs {
            eprintln!("{}", redactor.text(&line));
        }
    }
}

async fn run(args: RunArgs) -> Result<Exit, CliError> {
    let started = std::time::Instant::now();
    let loaded = load_run(
        &args.files,
        args.target.as_deref(),
        &args.sets,
        args.checklist.as_deref(),
    );
    tracing::debug!("loaded probe files in {:?}{}", started.elapsed(), memory());
    let (files, checklist) = match loaded {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            print_diagnostics(&diagnostics);
            return Ok(Exit::Invalid);
        }
    };
    if let Some(only) = &args.run.only
        && !files
            .iter()
            .flat_map(|f| &f.items)
            .any(|i| runner::is_selected(i, Some(only)))
    {
        eprintln!("error: --only `{only}` matches no item; nothing was run");
        return Ok(Exit::Invalid);
    }
    let markdown = args.run.output.is_empty() && args.run.format == Format::Markdown
        || args
            .run
            .output
            .iter()
            .any(|o| o.resolve(args.run.format) == Format::Markdown);
    if markdown && checklist.is_none() {
        eprintln!(
            "error: --format markdown writes a checklist back: give `checklist:` in the probe file or --checklist FILE"
        );
        return Ok(Exit::Invalid);
    }
    if gate_policy(&args.run).needs_checklist() && checklist.is_none() {
        eprintln!(
            "error: --min-score and --min-coverage judge a checklist: give `checklist:` in the probe file or --checklist FILE"
        );
        return Ok(Exit::Invalid);
    }
    if let Some(ca) = &args.run.ca_file
        && let Err(message) = spec::pem::check(
            spec::pem::Role::Ca,
            &absolute(ca),
            std::path::Path::new("."),
        )
    {
        eprintln!("error: --ca-file: {message}; nothing was run");
        return Ok(Exit::Invalid);
    }
    let gateway = match args.push.gateway(&args.files, args.run.ca_file.as_deref()) {
        Ok(gateway) => gateway,
        Err(message) => {
            eprintln!("error: {message}; nothing was run");
            return Ok(Exit::Invalid);
        }
    };
    let options = run_options(&args.run);
    if args.dry_run {
        let files = match args.shard {
            Some(shard) => {
                crate::shard::select(&files, checklist.as_ref().map(|(c, b)| (&**c, b)), shard)
            }
            None => files,
        };
        write_stdout(&render_plan(&files, &options))?;
        return Ok(Exit::Passed);
    }
    let heavy = heavy_probes(&files, &options);
    if !heavy.is_empty() {
        print_diagnostics(&heavy);
        return Ok(Exit::Invalid);
    }
    let evidence = match prepare_evidence(&args, &files, checklist.as_ref()) {
        Ok(evidence) => evidence,
        Err(message) => {
            eprintln!("error: {message}; nothing was run");
            return Ok(Exit::Invalid);
        }
    };
    if streams(&args, gateway.is_some(), evidence.is_some())
        && let Some(exit) = run_streamed(&files, checklist.as_ref(), &args.run).await?
    {
        // As below: the OS reclaims the files faster than freeing them.
        std::mem::forget(files);
        return Ok(exit);
    }
    let report = run_and_report(&files, checklist.as_ref(), &args.run, args.shard).await?;
    if let Some(history) = args.history.history() {
        history.store(&report)?;
    }
    let mut exit = exit_for(&report);
    // Written after the report was emitted: a bundle that cannot be
    // written is exit 3, the report is out all the same.
    if let Some((path, inputs, key)) = evidence
        && let Err(e) = write_evidence(&report, &files, &inputs, key.as_ref(), &path)
    {
        eprintln!("error: cannot write the evidence bundle: {e}");
        exit = Exit::Broken;
    }
    // An interrupted run holds only some items: pushing it would replace
    // the group's full set with a part.
    if let Some(gateway) = gateway
        && !report.interrupted
        && let Err(error) = gateway.push(&report).await
    {
        eprintln!(
            "error: {}",
            crate::report::escape::terminal(&error.to_string())
        );
        if !args.push.push_optional {
            exit = Exit::Broken;
        }
    }
    // Freeing thousands of outcomes just before exit costs more than letting
    // the OS reclaim them (measured: ~6% of a 10,000-probe run).
    std::mem::forget((report, files));
    Ok(exit)
}

/// What `--evidence` needs, checked before any traffic: a place to write,
/// the signing key, and the probe files and checklist as loaded.
type Evidence = (
    PathBuf,
    crate::bundle::Inputs,
    Option<ed25519_dalek::SigningKey>,
);

fn prepare_evidence(
    args: &RunArgs,
    files: &[ProbeFile],
    checklist: Option<&BoundChecklist>,
) -> Result<Option<Evidence>, String> {
    let Some(path) = &args.evidence else {
        return Ok(None);
    };
    crate::bundle::check_destination(path)
        .map_err(|e| format!("--evidence `{}`: {e}", path.display()))?;
    let key = args
        .sign_key
        .as_deref()
        .map(crate::bundle::read_signing_key)
        .transpose()
        .map_err(|e| format!("--sign-key: {e}"))?;
    let inputs = crate::bundle::Inputs::read(files, checklist.map(|(c, _)| c.as_ref()))
        .map_err(|e| format!("--evidence: {e}"))?;
    Ok(Some((path.clone(), inputs, key)))
}

/// Builds the bundle from the report in memory and writes it.
fn write_evidence(
    report: &Report,
    files: &[ProbeFile],
    inputs: &crate::bundle::Inputs,
    key: Option<&ed25519_dalek::SigningKey>,
    path: &std::path::Path,
) -> Result<(), crate::bundle::BundleError> {
    let command_line: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let redactor = crate::bundle::redactor(files);
    crate::bundle::Bundle::build(report, inputs, &command_line, &redactor, key)?.write(path)
}

/// `vouch verify-bundle`: exit 0 when every hash (and the signature) holds,
/// 1 when not, 2 when the bundle or key cannot be read.
fn verify_bundle(args: &VerifyBundleArgs) -> Result<Exit, CliError> {
    let key = match args
        .pub_key
        .as_deref()
        .map(crate::bundle::read_verifying_key)
        .transpose()
    {
        Ok(key) => key,
        Err(e) => {
            eprintln!("error: --pub-key: {e}");
            return Ok(Exit::Invalid);
        }
    };
    let files = match crate::bundle::read(&args.bundle) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Invalid);
        }
    };
    let verification = crate::bundle::verify(&files, key.as_ref());
    write_stdout(&verification.render())?;
    Ok(if verification.ok() {
        Exit::Passed
    } else {
        Exit::Failed
    })
}

/// Whether a run streams its items into its reports as they finish
/// ([`crate::report::stream`]), holding a few numbers per item instead of
/// every outcome: when every report it writes is JSON, human or markdown,
/// and nothing after the report needs the items (`--history`, `--push`,
/// `--evidence`, `--shard`, a GitHub step summary). `VOUCH_STREAM=0` keeps
/// the outcomes in memory (to compare the two).
fn streams(args: &RunArgs, push: bool, evidence: bool) -> bool {
    let flags = &args.run;
    let formats = flags
        .output
        .iter()
        .map(|o| o.resolve(flags.format))
        .chain(console_format(flags.format, flags.quiet, &flags.output));
    env_var("VOUCH_STREAM").is_none_or(|v| v != "0")
        && !push
        && !evidence
        && args.shard.is_none()
        && args.history.history().is_none()
        && std::env::var_os("GITHUB_STEP_SUMMARY").is_none_or(|p| p.is_empty())
        && { formats }.all(crate::report::stream::supports)
}

/// [`run_and_report`] and [`emit`] with the items streamed to disk as
/// they finish; the reports are the same bytes. `None`, before any
/// traffic, when no temporary file can be made (a read-only file system
/// without a writable `TMPDIR`): the run keeps its outcomes in memory then.
async fn run_streamed(
    files: &[ProbeFile],
    checklist: Option<&BoundChecklist>,
    flags: &RunFlags,
) -> Result<Option<Exit>, CliError> {
    let console = console_format(flags.format, flags.quiet, &flags.output);
    let color = console_color(flags.color);
    let mut formats: Vec<(Format, bool)> = flags
        .output
        .iter()
        .map(|o| (o.resolve(flags.format), false))
        .collect();
    formats.extend(console.map(|f| (f, color)));
    let options = run_options(flags);
    let policy = gate_policy(flags);
    let selected = files
        .iter()
        .flat_map(|f| &f.items)
        .filter(|i| runner::is_selected(i, options.only.as_deref()))
        .count();
    let bound = checklist.map(|(c, b)| (&**c, b));
    let mut streamer = match crate::report::stream::Streamer::new(
        &formats,
        selected,
        &policy,
        bound.map(|(_, b)| b),
    ) {
        Ok(streamer) => streamer,
        Err(e) => {
            tracing::debug!("cannot spool the report's items ({e}): keeping them in memory");
            return Ok(None);
        }
    };
    let outputs = open_outputs(flags)?;
    let hashes = crate::merge::SourceHashes::of(files, bound.map(|(c, _)| c));
    let started = std::time::Instant::now();
    let info = runner::run_each(files, &options, &mut |index, item| {
        streamer.item(index, item)
    })
    .await;
    tracing::debug!("ran probes in {:?}{}", started.elapsed(), memory());
    let input = checklist.map(|(checklist, binding)| ChecklistInput {
        checklist: Arc::clone(checklist),
        binding,
    });
    let started = std::time::Instant::now();
    let mut streamed = streamer
        .finish(&info, files, &policy, input)
        .map_err(CliError::Spool)?;
    hashes.record(streamed.report_mut());
    emit_with(
        &|format, color, out| streamed.write(format, color, out),
        console,
        color,
        outputs,
    )?;
    tracing::debug!("wrote the report in {:?}{}", started.elapsed(), memory());
    let exit = exit_for(streamed.report());
    std::mem::forget(streamed);
    Ok(Some(exit))
}

/// Opens every `-o [FORMAT=]FILE`, each as a temporary file beside FILE
/// until its report is complete.
fn open_outputs(flags: &RunFlags) -> Result<Vec<(Format, &PathBuf, ReportFile)>, CliError> {
    flags
        .output
        .iter()
        .map(|output| {
            let file = ReportFile::create(&output.path).map_err(|error| CliError::Output {
                path: output.path.display().to_string(),
                error,
            })?;
            Ok((output.resolve(flags.format), &output.path, file))
        })
        .collect()
}

async fn run_and_report(
    files: &[ProbeFile],
    checklist: Option<&BoundChecklist>,
    flags: &RunFlags,
    shard: Option<crate::report::ShardInfo>,
) -> Result<Report, CliError> {
    // Open the report file first: an unwritable path should not cost a run.
    // It is a temporary file beside FILE until the report is complete.
    let outputs = open_outputs(flags)?;
    let options = run_options(flags);
    let started = std::time::Instant::now();
    let bound = checklist.map(|(c, b)| (&**c, b));
    let hashes = crate::merge::SourceHashes::of(files, bound.map(|(c, _)| c));
    let selected = shard.map(|shard| crate::shard::select(files, bound, shard));
    let outcome = runner::run(selected.as_deref().unwrap_or(files), &options).await;
    tracing::debug!("ran probes in {:?}{}", started.elapsed(), memory());
    let input = checklist.map(|(checklist, binding)| ChecklistInput {
        checklist: Arc::clone(checklist),
        binding,
    });
    let policy = gate_policy(flags);
    let mut report = Report::with_policy(outcome, files, &policy, input);
    if let Some(shard) = shard {
        crate::shard::complete(
            &mut report,
            files,
            bound,
            shard,
            flags.only.as_deref(),
            &policy,
        );
    }
    hashes.record(&mut report);
    let started = std::time::Instant::now();
    emit(&report, flags, outputs)?;
    append_step_summary(&report);
    tracing::debug!("wrote the report in {:?}{}", started.elapsed(), memory());
    Ok(report)
}

/// `; RSS 41 MiB, peak 63 MiB` from `/proc/self/status`, for the phase
/// timings of `VOUCH_LOG=vouch=debug` (empty where there is no procfs).
fn memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return String::new();
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(rss), Some(peak)) => format!("; RSS {} MiB, peak {} MiB", rss / 1024, peak / 1024),
        _ => String::new(),
    }
}

fn gate_policy(flags: &RunFlags) -> GatePolicy {
    GatePolicy {
        fail_on: flags.fail_on.clone(),
        min_scores: flags.min_scores.clone(),
        min_coverage: flags.min_coverage,
    }
}

fn run_options(flags: &RunFlags) -> RunOptions {
    RunOptions {
        concurrency: flags.concurrency,
        timeout: flags.timeout,
        only: flags.only.clone(),
        // Relative to where vouch runs, not to each probe file.
        ca_file: flags.ca_file.as_deref().map(absolute),
        body_limit: flags.body_limit,
        progress: !flags.no_progress,
        handle_ctrl_c: true,
        cool_down: flags.cool_down,
        allow_heavy: flags.allow_heavy,
        allow_exec: flags.allow_exec,
    }
}

/// `path` made absolute against the current directory (as given when that fails).
fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Probes over the traffic caps, as diagnostics: without `--allow-heavy`,
/// the run stops before any traffic (exit 2).
fn heavy_probes(files: &[ProbeFile], options: &RunOptions) -> Vec<Diagnostic> {
    if options.allow_heavy {
        return Vec::new();
    }
    let mut diagnostics = Vec::new();
    for file in files {
        // Read only to quote a line: a large file is not read twice for nothing.
        let mut source: Option<String> = None;
        for item in &file.items {
            if !runner::is_selected(item, options.only.as_deref()) {
                continue;
            }
            for entry in &item.probes {
                if let Some(why) = entry.budget().heavy() {
                    let source = source.get_or_insert_with(|| {
                        std::fs::read_to_string(&file.path).unwrap_or_default()
                    });
                    diagnostics.push(
                        Diagnostic::new(
                            &file.path,
                            source,
                            entry.pos,
                            format!("`{}` probe plans {why}", entry.kind()),
                        )
                        .with_help(
                            "pass --allow-heavy to run it, or lower `burst`, `requests`, `max_requests`, `rate` or `duration`",
                        ),
                    );
                }
            }
        }
    }
    diagnostics
}

/// `vouch run --dry-run`: every probe, its phase and its most traffic.
fn render_plan(files: &[ProbeFile], options: &RunOptions) -> String {
    use std::fmt::Write as _;
    let mut secrets = crate::redact::Secrets::default();
    files.iter().for_each(|f| secrets.extend(&f.secrets));
    let redactor = crate::redact::Redactor::new(&secrets);
    let plan = runner::plan(files, options);
    let human = |d: Duration| humantime::format_duration(d).to_string();
    let plural = |n: u64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut out = String::new();
    let mut phase = None;
    let mut total: u64 = 0;
    for p in &plan {
        if phase != Some(p.budget.phase) {
            phase = Some(p.budget.phase);
            let _ = match p.budget.phase {
                crate::probe::Phase::Concurrent => writeln!(
                    out,
                    "concurrent phase (up to {} at once):",
                    options.concurrency
                ),
                crate::probe::Phase::Isolated => writeln!(
                    out,
                    "isolated phase (one at a time, {} cool-down before each):",
                    human(options.cool_down)
                ),
            };
        }
        let requests = p.budget.max_requests.saturating_mul(u64::from(p.attempts));
        total = total.saturating_add(requests);
        let _ = writeln!(
            out,
            "  {}  {}  {}",
            p.location,
            p.kind,
            redactor.text(&p.name)
        );
        let _ = writeln!(out, "      item: {}", redactor.text(&p.item));
        let traffic = match p.budget.duration {
            Some(d) => format!(
                "at most {} over {}, timeout {} per request, deadline {}",
                plural(p.budget.max_requests, "request"),
                human(d),
                human(p.timeout),
                human(p.deadline)
            ),
            None => format!(
                "at most {} per attempt, {}, timeout {}",
                plural(p.budget.max_requests, "request"),
                plural(u64::from(p.attempts), "attempt"),
                human(p.timeout)
            ),
        };
        let _ = writeln!(out, "      {traffic}");
        if let Some(why) = p.budget.heavy()
            && !options.allow_heavy
        {
            let _ = writeln!(out, "      over the caps ({why}): needs --allow-heavy");
        }
        if p.runs_programs {
            let _ = writeln!(
                out,
                "      runs a program on this machine{}",
                if options.allow_exec {
                    ""
                } else {
                    ": skipped without --allow-exec"
                }
            );
        }
    }
    let _ = writeln!(
        out,
        "plan: {}, at most {} in all; nothing was sent",
        plural(plan.len() as u64, "probe"),
        plural(total, "request")
    );
    out
}

fn exit_for(report: &Report) -> Exit {
    if report.interrupted {
        Exit::Broken
    } else if report.summary.passed {
        Exit::Passed
    } else {
        Exit::Failed
    }
}

/// Writes every `-o` file, then the console: the report in `--format`
/// without `-o`; with `FORMAT=FILE` or several files, the human report
/// (unless `--quiet`); a single `-o FILE` stays silent, as it always was.
fn emit(
    report: &Report,
    flags: &RunFlags,
    files: Vec<(Format, &PathBuf, ReportFile)>,
) -> Result<(), CliError> {
    emit_to(
        report,
        flags.format,
        flags.quiet,
        &flags.output,
        flags.color,
        files,
    )
}

/// [`emit`], for any command's `--format`, `--quiet` and `-o`.
fn emit_to(
    report: &Report,
    format: Format,
    quiet: bool,
    output: &[OutputArg],
    color: ColorChoice,
    files: Vec<(Format, &PathBuf, ReportFile)>,
) -> Result<(), CliError> {
    emit_with(
        &|format, color, out| report.write(format, color, out),
        console_format(format, quiet, output),
        console_color(color),
        files,
    )
}

/// What the console shows: the report in `--format` without `-o`; with
/// `FORMAT=FILE` or several files, the human report (unless `--quiet`); a
/// single `-o FILE` stays silent, as it always was.
fn console_format(format: Format, quiet: bool, output: &[OutputArg]) -> Option<Format> {
    if output.is_empty() {
        Some(format)
    } else if quiet || (output.len() == 1 && output.iter().all(|o| o.format.is_none())) {
        None
    } else {
        Some(Format::Human)
    }
}

/// Whether the console report is coloured.
fn console_color(color: ColorChoice) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    color.enabled(std::io::stdout().is_terminal(), no_color)
}

/// Writes every `-o` file with `write`, then the console's report.
fn emit_with(
    write: &dyn Fn(Format, bool, &mut dyn Write) -> std::io::Result<()>,
    console: Option<Format>,
    color: bool,
    files: Vec<(Format, &PathBuf, ReportFile)>,
) -> Result<(), CliError> {
    for (format, path, file) in files {
        file.commit(|out| write(format, false, out))
            .map_err(|error| CliError::Output {
                path: path.display().to_string(),
                error,
            })?;
    }
    let Some(format) = console else {
        return Ok(());
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match write(format, color, &mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(CliError::Stdout),
    }
}

/// In a GitHub Actions job, whatever the format: the job summary appended
/// to the file `$GITHUB_STEP_SUMMARY` names. A summary that cannot be
/// written is a warning; the report is what counts.
fn append_step_summary(report: &Report) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let path = PathBuf::from(path);
    if let Err(error) = crate::report::github::append_step_summary(report, &path) {
        eprintln!(
            "warning: cannot append the step summary to `{}`: {error}",
            path.display()
        );
    }
}

/// Writes to stdout; a closed pipe (`vouch run | head`) is not an error.
fn write_stdout(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(CliError::Stdout),
    }
}

async fn demo(args: DemoArgs) -> Result<Exit, CliError> {
    // Before the run: a Ctrl-C during it must end `--serve` too.
    let stop = if args.serve {
        Some(demo::StopSignal::install().map_err(CliError::Demo)?)
    } else {
        None
    };
    let deployment = demo::Deployment::start().await.map_err(CliError::Demo)?;
    let target = deployment.url();
    let dir = demo::write_files().map_err(CliError::Demo)?;
    let ca = dir.join("demo-ca.pem");
    std::fs::write(&ca, deployment.ca_pem()).map_err(CliError::Demo)?;
    let mut args = args;
    args.run.ca_file.get_or_insert(ca.clone());
    let probe_file = dir.join("demo.yaml");
    let (files, checklist) = match load_run(&[probe_file], Some(&target), &[], None) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            print_diagnostics(&diagnostics);
            return Ok(Exit::Broken);
        }
    };
    eprintln!(
        "vouch demo: a demo deployment is listening on {target}; verifying its checklist now.\n\
         Some items fail on purpose: the demo deployment is broken in places, to show what vouch reports then.\n"
    );
    let inputs = crate::bundle::Inputs::read(&files, checklist.as_ref().map(|(c, _)| c.as_ref()))
        .map_err(|e| CliError::Demo(std::io::Error::other(e.to_string())))?;
    let report = run_and_report(&files, checklist.as_ref(), &args.run, None).await?;
    let bundle = dir.join("demo-evidence");
    write_evidence(&report, &files, &inputs, None, &bundle).map_err(|e| CliError::Output {
        path: bundle.display().to_string(),
        error: std::io::Error::other(e.to_string()),
    })?;
    let written = dir.join("demo-checklist.verified.md");
    let page = dir.join("demo-report.html");
    for (path, format) in [(&written, Format::Markdown), (&page, Format::Html)] {
        std::fs::write(path, report.render(format, false)).map_err(|error| CliError::Output {
            path: path.display().to_string(),
            error,
        })?;
    }
    eprintln!("\n{}", demo::closing(&report, &written, &page));
    eprintln!(
        "The evidence bundle (check it with `vouch verify-bundle {0}`): {0}",
        bundle.display()
    );
    match stop {
        Some(stop) if !report.interrupted => {
            eprintln!("{}", demo::serving(&target, &ca));
            stop.wait().await;
            eprintln!("vouch demo: stopped");
        }
        _ => {}
    }
    deployment.stop().await;
    // The demo fails some items on purpose; it succeeded if it ran.
    Ok(if report.interrupted {
        Exit::Broken
    } else {
        Exit::Passed
    })
}

/// `vouch watch`: the same loading as `run`, handed to the daemon so it
/// can load again on each reload.
async fn watch(args: WatchArgs) -> Result<Exit, CliError> {
    let options = RunOptions {
        concurrency: args.concurrency,
        timeout: args.timeout,
        only: args.only.clone(),
        ca_file: args.ca_file.clone(),
        body_limit: args.body_limit,
        progress: false,
        // The daemon handles its signals itself.
        handle_ctrl_c: false,
        cool_down: args.cool_down,
        allow_heavy: args.allow_heavy,
        allow_exec: args.allow_exec,
    };
    let settings = crate::watch::Settings {
        files: args.files.clone(),
        every: args.every,
        jitter: args.jitter,
        listen: args.listen,
        traffic_every: args.traffic_every,
        max_series: args.max_series,
        history: args.history.history(),
        options,
        fail_on: args.fail_on.clone(),
    };
    let load = Box::new(move || {
        load_run(
            &args.files,
            args.target.as_deref(),
            &args.sets,
            args.checklist.as_deref(),
        )
    });
    Ok(match crate::watch::watch(settings, load).await? {
        crate::watch::Ended::Gracefully => Exit::Passed,
        crate::watch::Ended::Invalid => Exit::Invalid,
    })
}

/// `vouch diff`: exit 1 when an item regressed, 2 when an input is not a
/// report or the reports are of different checklists.
fn diff(args: &DiffArgs) -> Result<Exit, CliError> {
    let paths = match (&args.history, args.reports.as_slice()) {
        (Some(dir), _) => history::last_two(dir),
        (None, [old, new]) => Ok((old.clone(), new.clone())),
        (None, _) => {
            eprintln!("error: give two reports, or --history DIR");
            return Ok(Exit::Invalid);
        }
    };
    let compared = paths.and_then(|(old, new)| {
        let (old, new) = (history::load(&old)?, history::load(&new)?);
        history::diff(&old, &new)
    });
    match compared {
        Ok(diff) => {
            write_stdout(&history::render(&diff, args.format))?;
            Ok(if diff.has_regressions() {
                Exit::Failed
            } else {
                Exit::Passed
            })
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(Exit::Invalid)
        }
    }
}

/// `vouch merge`: exit 0 or 1 by the gate over the union, 2 when the
/// reports cannot be merged, 3 when vouch cannot write the report.
fn merge(args: &MergeArgs) -> Result<Exit, CliError> {
    let markdown = args.output.is_empty() && args.format == Format::Markdown
        || args
            .output
            .iter()
            .any(|o| o.resolve(args.format) == Format::Markdown);
    let merged = crate::merge::inputs(&args.reports).and_then(|paths| {
        let mut reports = Vec::with_capacity(paths.len());
        for path in paths {
            let report = history::load(&path)?;
            reports.push((path, report));
        }
        crate::merge::merge(&reports, args.checklist.as_deref(), None)
    });
    let report = match merged {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Invalid);
        }
    };
    if markdown && report.checklist_doc.is_none() {
        eprintln!("error: --format markdown writes a checklist back, and the shards had none");
        return Ok(Exit::Invalid);
    }
    let mut outputs = Vec::with_capacity(args.output.len());
    for output in &args.output {
        let file = ReportFile::create(&output.path).map_err(|error| CliError::Output {
            path: output.path.display().to_string(),
            error,
        })?;
        outputs.push((output.resolve(args.format), &output.path, file));
    }
    emit_to(
        &report,
        args.format,
        args.quiet,
        &args.output,
        ColorChoice::Auto,
        outputs,
    )?;
    Ok(exit_for(&report))
}

fn init(args: &InitArgs) -> Result<Exit, CliError> {
    let checklist = match Checklist::read(&args.checklist) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Invalid);
        }
    };
    if checklist.items.is_empty() {
        eprintln!(
            "error: `{}` has no task items (`- [ ] …` or `- [x] …`): init proposes probes for checklist boxes, so nothing was written",
            args.checklist.display()
        );
        return Ok(Exit::Invalid);
    }
    // The proposed file names the checklist relative to where it is written.
    let relative = relative_path(&args.checklist, args.output.as_deref());
    let text = crate::checklist::init::propose(&checklist, &relative);
    if args.explain {
        write_stdout(&crate::checklist::init::explain(&checklist))?;
        if args.output.is_none() {
            return Ok(Exit::Passed);
        }
    }
    match &args.output {
        Some(path) => {
            ReportFile::create(path)
                .and_then(|file| file.commit(|out| out.write_all(text.as_bytes())))
                .map_err(|error| CliError::Output {
                    path: path.display().to_string(),
                    error,
                })?;
            eprintln!(
                "wrote {} ({} items); check it with `vouch check {}`",
                path.display(),
                checklist.items.len(),
                path.display()
            );
        }
        None => write_stdout(&text)?,
    }
    Ok(Exit::Passed)
}

/// `checklist` as seen from the directory of `output` (or the current one).
fn relative_path(checklist: &std::path::Path, output: Option<&std::path::Path>) -> String {
    let absolute = |p: &std::path::Path| {
        let p = if p.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            p
        };
        std::fs::canonicalize(p)
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_owned())
    };
    let target = absolute(checklist);
    let base = output
        .and_then(std::path::Path::parent)
        .map(absolute)
        .unwrap_or_else(|| absolute(std::path::Path::new(".")));
    let (t, b): (Vec<_>, Vec<_>) = (target.components().collect(), base.components().collect());
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); b.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}
