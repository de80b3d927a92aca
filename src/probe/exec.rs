//! `exec`: runs a program where vouch runs (a CI job, a deployment host) and
//! checks its exit status, output, JSON on stdout and duration — `cargo
//! audit`, a test suite, `logrotate -d`. Only with `--allow-exec` (or
//! `VOUCH_ALLOW_EXEC=1`): a probe file alone never makes vouch run a program.
//! The program gets a minimal environment, its own process group (the
//! timeout kills the whole group), and output bounded per stream.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use super::file::{check_json_doc, escaped};
use super::http::JsonExpect;
use super::{Budget, Check, Context, Findings, Phase, Probe, ProbeError};
use crate::expect::{self, Matcher, Pattern, Size};

/// The end of each stream kept for evidence besides its start.
const TAIL: usize = 4096;

/// Lines of each stream's start and end shown in evidence.
const EXCERPT_LINES: usize = 5;

/// How long the output pipes may stay open once the program has exited.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// Settings of an `exec` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "ExecSettings")]
#[schemars(with = "ExecSettings")]
pub struct Exec {
    argv: Vec<String>,
    /// Whether `argv` came from `sh:`.
    shell: bool,
    cwd: Option<PathBuf>,
    env: BTreeMap<String, String>,
    exclusive: bool,
    body_limit: Option<u64>,
    expect: ExecExpect,
}

/// The `exec:` settings as written.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecSettings {
    /// The program and its arguments (no shell): `[cargo, audit, --json]`.
    #[serde(default)]
    run: Option<Vec<String>>,
    /// A shell line, run by `sh -c`, only when written explicitly.
    #[serde(default)]
    sh: Option<String>,
    /// The working directory, relative to the probe file (default: its directory).
    #[serde(default)]
    cwd: Option<PathBuf>,
    /// Variables added to a minimal environment (`PATH`, `HOME`, `LANG`);
    /// `${secret:…}` values are redacted from the captured output.
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// Run alone, in the isolated phase (a test suite that needs the machine).
    #[serde(default)]
    exclusive: bool,
    /// The most bytes of each stream kept (default: the run's `body_limit`);
    /// the rest is read and counted.
    #[serde(default)]
    body_limit: Option<Size>,
    /// What must hold.
    #[serde(default)]
    expect: ExecExpect,
}

/// Expectations of an `exec` probe.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecExpect {
    /// The exit code (default `0`): a number or a matcher (`{one_of: [0, 1]}`).
    #[serde(default)]
    pub exit: Option<Matcher>,
    /// Standard output.
    #[serde(default)]
    pub stdout: Option<TextExpect>,
    /// Standard error.
    #[serde(default)]
    pub stderr: Option<TextExpect>,
    /// Standard output parsed as JSON; JSONPath → matcher.
    #[serde(default)]
    pub json: Option<JsonExpect>,
    /// How long the program took (`{max: 5m}`).
    #[serde(default)]
    pub duration: Option<Matcher>,
}

/// Expectations on captured text.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextExpect {
    /// Text that must appear.
    #[serde(default)]
    pub contains: Option<String>,
    /// Text that must not appear (`panicked`).
    #[serde(default)]
    pub absent: Option<String>,
    /// A regex that must match (multi-line).
    #[serde(default)]
    pub matches: Option<Pattern>,
    /// Whether the stream must be empty.
    #[serde(default)]
    pub empty: Option<bool>,
}

impl TryFrom<ExecSettings> for Exec {
    type Error = String;

    fn try_from(s: ExecSettings) -> Result<Exec, String> {
        let (argv, shell) = match (s.run, s.sh) {
            (Some(_), Some(_)) => {
                return Err("give `run:` (argv) or `sh:` (a shell line), not both".to_owned());
            }
            (Some(argv), None) => (argv, false),
            (None, Some(line)) => (vec!["sh".to_owned(), "-c".to_owned(), line], true),
            (None, None) => {
                return Err(
                    "missing command: write `run: [program, args…]` or `sh: \"…\"`".to_owned(),
                );
            }
        };
        if argv.first().is_none_or(|p| p.trim().is_empty()) {
            return Err("`run` is empty: the first element is the program".to_owned());
        }
        if let Some(name) = s
            .env
            .keys()
            .find(|k| k.is_empty() || k.contains(['=', '\0']))
        {
            return Err(format!("invalid variable name `{name}` in `env`"));
        }
        Ok(Exec {
            argv,
            shell,
            cwd: s.cwd,
            env: s.env,
            exclusive: s.exclusive,
            body_limit: s.body_limit.map(|b| b.0),
            expect: s.expect,
        })
    }
}

impl Exec {
    /// `exec cargo audit --json`, `exec sh -c "make check"`.
    pub fn describe(&self) -> String {
        if self.shell {
            // One line for plans and reports: a trailing newline dropped, the rest escaped.
            let line = self.argv.get(2).map_or("", |l| l.trim_end());
            let quoted = shell_words(&[line.to_owned()]);
            format!("exec sh -c {}", expect::one_line(&quoted))
        } else {
            format!("exec {}", shell_words(&self.argv))
        }
    }

    fn environment(&self) -> Vec<(String, String)> {
        let inherited = |name: &str, fallback: &str| {
            std::env::var(name).unwrap_or_else(|_| fallback.to_owned())
        };
        let mut env = vec![
            (
                "PATH".to_owned(),
                inherited("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ),
            ("HOME".to_owned(), inherited("HOME", "/")),
            ("LANG".to_owned(), inherited("LANG", "C.UTF-8")),
        ];
        env.extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env
    }
}

/// argv as one line people can copy: words with spaces or quotes quoted.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty()
                || a.contains(|c: char| c.is_whitespace() || "'\"$`\\*?;&|<>()".contains(c))
            {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One output stream: its start up to the limit, its end, and its size.
#[derive(Debug, Default)]
struct Captured {
    head: Vec<u8>,
    tail: Vec<u8>,
    total: u64,
    error: Option<String>,
}

impl Captured {
    fn truncated(&self) -> bool {
        self.total > self.head.len() as u64
    }

    /// Evidence: the first and last lines, the total size.
    fn record(&self) -> Json {
        let head_text = escaped_lines(&self.head, EXCERPT_LINES, true);
        let mut record = json!({
            "bytes": self.total,
            "first_lines": head_text,
        });
        let tail_source = if self.truncated() {
            &self.tail
        } else {
            &self.head
        };
        let lines = tail_source
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        if self.truncated() || lines > EXCERPT_LINES {
            record["last_lines"] = json!(escaped_lines(tail_source, EXCERPT_LINES, false));
        }
        if self.truncated() {
            record["captured_bytes"] = json!(self.head.len());
            record["note"] = json!("output past the limit was read and counted, not kept");
        }
        if let Some(e) = &self.error {
            record["error"] = json!(e);
        }
        record
    }
}

fn escaped_lines(bytes: &[u8], n: usize, first: bool) -> Vec<String> {
    let lines: Vec<&[u8]> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let chosen: Vec<&[u8]> = if first {
        lines.into_iter().take(n).collect()
    } else {
        let skip = lines.len().saturating_sub(n);
        lines.into_iter().skip(skip).collect()
    };
    chosen.into_iter().map(|l| escaped(l, 200)).collect()
}

/// Reads a stream to its end: keeps `limit` bytes of its start and the last
/// [`TAIL`] bytes, counts the rest. Memory stays bounded whatever is written.
async fn capture(mut stream: impl AsyncRead + Unpin, limit: usize) -> Captured {
    let mut out = Captured::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                let chunk = &buf[..n];
                out.total += n as u64;
                let room = limit.saturating_sub(out.head.len());
                out.head.extend_from_slice(&chunk[..room.min(n)]);
                out.tail.extend_from_slice(chunk);
                if out.tail.len() > TAIL {
                    let cut = out.tail.len() - TAIL;
                    out.tail.drain(..cut);
                }
            }
            Err(e) => {
                out.error = Some(e.to_string());
                break;
            }
        }
    }
    out
}

/// Kills the process group when dropped, unless the program was reaped and
/// its group cleaned: a cancelled run (Ctrl-C, the runner's deadline) leaves
/// nothing behind.
struct GroupGuard {
    pgid: Option<u32>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            kill_group(pgid);
        }
    }
}

/// SIGKILL to every process of the group (the program and its children).
#[cfg(target_os = "linux")]
fn kill_group(pgid: u32) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    if let Ok(pid) = i32::try_from(pgid) {
        // ESRCH (the group is gone) is the expected end.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

#[cfg(not(target_os = "linux"))]
fn kill_group(_pgid: u32) {}

/// How the program ended.
#[derive(Debug)]
enum Ended {
    Exited(i32),
    Signal(i32),
    TimedOut(Duration),
}

impl Ended {
    fn describe(&self) -> String {
        match self {
            Ended::Exited(code) => format!("exit {code}"),
            Ended::Signal(sig) => format!("killed by signal {sig}"),
            Ended::TimedOut(after) => format!(
                "timed out after {}; its process group was killed",
                humantime::format_duration(*after)
            ),
        }
    }
}

#[cfg(unix)]
fn signal_of(status: std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn signal_of(_: std::process::ExitStatus) -> Option<i32> {
    None
}

impl Probe for Exec {
    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let cwd = match &self.cwd {
            Some(dir) => cx.base_dir.join(dir),
            None => cx.base_dir.clone(),
        };
        if !cwd.is_dir() {
            return Err(ProbeError::Setup(format!(
                "`cwd` `{}` is not a directory",
                cwd.display()
            )));
        }
        let limit = usize::try_from(self.body_limit.unwrap_or(cx.body_limit)).unwrap_or(usize::MAX);
        let mut command = tokio::process::Command::new(&self.argv[0]);
        command
            .args(&self.argv[1..])
            .current_dir(&cwd)
            .env_clear()
            .envs(self.environment())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        command.process_group(0);
        let started = Instant::now();
        let mut child = command.spawn().map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "program `{}` not found (searched PATH, or the path as written, from `{}`)",
                    self.argv[0],
                    cwd.display()
                ),
                std::io::ErrorKind::PermissionDenied => {
                    format!("program `{}` is not executable", self.argv[0])
                }
                _ => format!("cannot start `{}`: {e}", self.argv[0]),
            };
            ProbeError::Setup(why)
        })?;
        let mut guard = GroupGuard { pgid: child.id() };
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(ProbeError::Setup("no pipes to the program".to_owned()));
        };
        let out_task = tokio::spawn(capture(stdout, limit));
        let err_task = tokio::spawn(capture(stderr, limit));
        // Our own deadline, a little inside the runner's, so the group is
        // killed and what it wrote is reported rather than lost.
        let budget = cx
            .timeout
            .saturating_sub((cx.timeout / 20).min(Duration::from_millis(250)));
        let ended = match tokio::time::timeout(budget, child.wait()).await {
            Ok(Ok(status)) => match (status.code(), signal_of(status)) {
                (Some(code), _) => Ended::Exited(code),
                (None, Some(sig)) => Ended::Signal(sig),
                (None, None) => Ended::Signal(0),
            },
            Ok(Err(e)) => {
                return Err(ProbeError::Setup(format!("waiting for the program: {e}")));
            }
            Err(_) => Ended::TimedOut(budget),
        };
        let elapsed = started.elapsed();
        // Whatever the program left running in its group goes now, so the
        // pipes close and nothing outlives the probe.
        if let Some(pgid) = guard.pgid.take() {
            kill_group(pgid);
        }
        let _ = child.start_kill();
        let _ = child.wait().await;
        let join = |task: tokio::task::JoinHandle<Captured>| async move {
            match tokio::time::timeout(DRAIN_GRACE + Duration::from_secs(2), task).await {
                Ok(Ok(c)) => c,
                _ => Captured {
                    error: Some("the stream did not close".to_owned()),
                    ..Captured::default()
                },
            }
        };
        let stdout = join(out_task).await;
        let stderr = join(err_task).await;
        Ok(self.findings(&cwd, &ended, elapsed, &stdout, &stderr))
    }

    fn budget(&self) -> Budget {
        Budget {
            phase: if self.exclusive {
                Phase::Isolated
            } else {
                Phase::Concurrent
            },
            max_requests: 0,
            duration: None,
        }
    }

    /// Always: the runner skips it unless the run allows programs.
    fn runs_programs(&self) -> bool {
        true
    }
}

impl Exec {
    fn findings(
        &self,
        cwd: &std::path::Path,
        ended: &Ended,
        elapsed: Duration,
        stdout: &Captured,
        stderr: &Captured,
    ) -> Findings {
        let e = &self.expect;
        let mut record = json!({
            "argv": self.argv,
            "cwd": cwd.display().to_string(),
            "env_added": self.env.keys().collect::<Vec<_>>(),
            "duration_ms": super::fetch::millis(elapsed),
            "stdout": stdout.record(),
            "stderr": stderr.record(),
        });
        match ended {
            Ended::Exited(code) => record["exit_code"] = json!(code),
            Ended::Signal(sig) => record["signal"] = json!(sig),
            Ended::TimedOut(after) => {
                record["timed_out_after_ms"] = json!(super::fetch::millis(*after));
            }
        }
        let mut checks = Vec::new();
        let exit = e.exit.clone().unwrap_or_else(|| Matcher::eq(0));
        let exit_check = match ended {
            Ended::Exited(code) => Check::new(
                "exit",
                exit.to_string(),
                code.to_string(),
                exit.check(Some(&json!(code))).is_ok(),
            ),
            other => Check::new("exit", exit.to_string(), other.describe(), false),
        };
        checks.push(exit_check);
        if let Some(t) = &e.stdout {
            checks.extend(text_checks("stdout", t, stdout));
        }
        if let Some(t) = &e.stderr {
            checks.extend(text_checks("stderr", t, stderr));
        }
        if let Some(j) = &e.json {
            let doc = if stdout.truncated() {
                Err("stdout cut at the size limit: not parsed".to_owned())
            } else {
                serde_json::from_slice::<Json>(&stdout.head)
                    .map_err(|e| format!("stdout is not JSON ({e})"))
            };
            let json_checks = check_json_doc(j, doc.as_ref().map_err(String::as_str), "");
            record["json"] = json!(
                json_checks
                    .iter()
                    .map(|c| json!({"path": c.name, "value": c.actual}))
                    .collect::<Vec<_>>()
            );
            checks.extend(json_checks);
        }
        if let Some(m) = &e.duration {
            let ok = m.check(Some(&json!(elapsed.as_secs_f64()))).is_ok();
            checks.push(Check::new(
                "duration",
                m.to_string(),
                super::fetch::format_latency(elapsed),
                ok,
            ));
        }
        let mut summary = format!(
            "{} → {} in {}",
            self.describe(),
            ended.describe(),
            super::fetch::format_latency(elapsed)
        );
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
        if failed.is_empty() {
            summary.push_str(&format!(
                "; stdout {}, stderr {}",
                expect::format_size(stdout.total),
                expect::format_size(stderr.total)
            ));
        } else {
            super::append_failures(&mut summary, &failed, 2, true);
        }
        Findings {
            checks,
            summary,
            evidence: record,
        }
    }
}

fn text_checks(stream: &str, t: &TextExpect, c: &Captured) -> Vec<Check> {
    let text = String::from_utf8_lossy(&c.head);
    let cut = if c.truncated() {
        format!(
            " (in the first {})",
            expect::format_size(c.head.len() as u64)
        )
    } else {
        String::new()
    };
    let mut checks = Vec::new();
    if let Some(needle) = &t.contains {
        let at = text.find(needle.as_str());
        let actual = match at {
            Some(at) => line_of(&text, at),
            None => format!("not found{cut}"),
        };
        checks.push(Check::new(
            format!("{stream} contains"),
            format!("{needle:?}"),
            actual,
            at.is_some(),
        ));
    }
    if let Some(needle) = &t.absent {
        let at = text.find(needle.as_str());
        let actual = match at {
            Some(at) => line_of(&text, at),
            None => format!("not found{cut}"),
        };
        checks.push(Check::new(
            format!("{stream} absent"),
            format!("no {needle:?}"),
            actual,
            at.is_none(),
        ));
    }
    if let Some(Pattern(re)) = &t.matches {
        let multi = regex::RegexBuilder::new(re.as_str())
            .multi_line(true)
            .size_limit(1 << 20)
            .build()
            .unwrap_or_else(|_| re.clone());
        let found = multi.find(&text).map(|m| m.start());
        let actual = match found {
            Some(at) => line_of(&text, at),
            None => format!("no match{cut}"),
        };
        checks.push(Check::new(
            format!("{stream} matches"),
            format!("/{}/", re.as_str()),
            actual,
            found.is_some(),
        ));
    }
    if let Some(want) = t.empty {
        let actual = if c.total == 0 {
            "empty".to_owned()
        } else {
            expect::format_size(c.total)
        };
        checks.push(Check::new(
            format!("{stream} empty"),
            if want { "empty" } else { "some output" },
            actual,
            want == (c.total == 0),
        ));
    }
    checks
}

/// The line containing byte `at`, for a check's actual value.
fn line_of(text: &str, at: usize) -> String {
    let start = text[..at].rfind('\n').map_or(0, |p| p + 1);
    let end = text[at..].find('\n').map_or(text.len(), |p| at + p);
    let number = text[..start].matches('\n').count() + 1;
    format!("line {number}: {}", expect::excerpt(&text[start..end], 160))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(yaml: &str) -> Result<Exec, String> {
        crate::spec::de::from_yaml(yaml)
    }

    #[test]
    fn argv_or_an_explicit_shell_line() {
        assert_eq!(
            exec("run: [cargo, audit, --json]\n")
                .expect("ok")
                .describe(),
            "exec cargo audit --json"
        );
        assert_eq!(
            exec("sh: make check\n").expect("ok").describe(),
            "exec sh -c 'make check'"
        );
        assert!(
            exec("run: [a]\nsh: b\n")
                .expect_err("both")
                .contains("not both")
        );
        assert!(exec("{}").expect_err("none").contains("missing command"));
        assert!(exec("run: []\n").expect_err("empty").contains("empty"));
    }

    #[test]
    fn exclusive_asks_for_the_isolated_phase() {
        assert_eq!(
            exec("run: [true]\n").expect("ok").budget().phase,
            Phase::Concurrent
        );
        assert_eq!(
            exec("run: [true]\nexclusive: true\n")
                .expect("ok")
                .budget()
                .phase,
            Phase::Isolated
        );
    }
}
