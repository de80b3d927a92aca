//! The `exec` kind with real programs: `sh`, `python3`, `cargo --version`, a
//! runner whose children hang (the timeout kills them all), 1 GB on stdout
//! (bounded), non-UTF-8 output, a missing program, secrets in `env:`, and the
//! permission: without `--allow-exec` nothing runs and `check` lists it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

fn vouch(args: &[&str], file: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vouch"));
    command.args(args).arg(file).env("NO_COLOR", "1");
    command.env_remove("VOUCH_ALLOW_EXEC");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("vouch runs")
}

/// `vouch run --allow-exec --format json`: the exit code and report.
fn run(file: &Path, extra: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
    let mut args = vec!["run", "--format", "json"];
    args.extend_from_slice(extra);
    let output = vouch(&args, file, env);
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report)
}

/// A probe file in `dir` with one item per probe (each an `exec:` body).
fn probe_file(dir: &Path, probes: &[&str]) -> PathBuf {
    let mut text = String::from("version: 1\ndefaults:\n  timeout: 20s\nitems:\n");
    for (i, probe) in probes.iter().enumerate() {
        text.push_str(&format!("  - item: item {i}\n    probes:\n      - "));
        let mut lines = probe.lines();
        if let Some(first) = lines.next() {
            text.push_str(first);
            text.push('\n');
        }
        for line in lines {
            text.push_str(&format!("        {line}\n"));
        }
    }
    let path = dir.join("probes.yaml");
    std::fs::write(&path, text).expect("write");
    path
}

fn probes(report: &Value) -> Vec<&Value> {
    report["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| &i["probes"][0])
        .collect()
}

#[test]
fn real_programs_with_argv_shell_env_cwd_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("work")).expect("mkdir");
    std::fs::write(dir.path().join("work/data.txt"), "42\n").expect("write");
    let file = probe_file(
        dir.path(),
        &[
            "exec:\n  run: [cargo, --version]\n  expect:\n    stdout: { matches: '^cargo \\d+\\.\\d+' }\n    duration: { max: 15s }",
            "exec:\n  run: [python3, -c, 'import json, os; print(json.dumps({\"n\": int(open(\"data.txt\").read()), \"home\": os.environ.get(\"HOME\")}))']\n  cwd: work\n  expect:\n    json:\n      $.n: 42\n      $.home: { exists: true }",
            "exec:\n  sh: 'env | sort'\n  env: { ADDED: here }\n  expect:\n    stdout: { contains: ADDED=here, absent: VOUCH_TEST_LEAK }",
            "exec:\n  run: [sh, -c, 'echo boom >&2; exit 3']\n  expect:\n    exit: { one_of: [3] }\n    stderr: { contains: boom, absent: panicked }",
            "exec:\n  run: [sh, -c, 'exit 1']",
        ],
    );
    let (code, report) = run(&file, &["--allow-exec"], &[("VOUCH_TEST_LEAK", "1")]);
    assert_eq!(code, 1, "{report:#}");
    let p = probes(&report);
    for (i, probe) in p.iter().enumerate().take(4) {
        assert_eq!(probe["verdict"], "pass", "probe {i}: {probe:#}");
    }
    assert_eq!(p[4]["verdict"], "fail");
    let summary = p[4]["summary"].as_str().expect("summary");
    assert!(
        summary.starts_with("exec sh -c 'exit 1' → exit 1 in ")
            && summary.ends_with("; exit: expected 0, got 1"),
        "{summary}"
    );
    let evidence = &p[1]["evidence"];
    assert_eq!(evidence["argv"][0], "python3");
    assert!(evidence["cwd"].as_str().expect("cwd").ends_with("work"));
    assert_eq!(evidence["exit_code"], 0);
    assert_eq!(p[3]["evidence"]["stderr"]["first_lines"][0], "boom");
}

#[test]
fn without_the_permission_nothing_runs_and_check_lists_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("ran");
    let file = probe_file(
        dir.path(),
        &[&format!(
            "exec:\n  run: [touch, '{}']\n  exclusive: true",
            marker.display()
        )],
    );
    let (code, report) = run(&file, &[], &[]);
    assert_eq!(code, 0, "{report:#}");
    let p = probes(&report)[0];
    assert_eq!(p["verdict"], "skip");
    assert!(
        p["summary"]
            .as_str()
            .expect("summary")
            .contains("--allow-exec"),
        "{p:#}"
    );
    assert!(!marker.exists(), "the program ran without --allow-exec");

    let output = vouch(&["check"], &file, &[]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("1 probe would run programs"), "{stderr}");
    assert!(
        stderr.contains(&format!("exec touch {}", marker.display())),
        "{stderr}"
    );

    let output = vouch(&["run", "--dry-run"], &file, &[]);
    let plan = String::from_utf8_lossy(&output.stdout);
    assert!(plan.contains("isolated phase"), "{plan}");
    assert!(plan.contains("skipped without --allow-exec"), "{plan}");
    assert!(!marker.exists());

    // The environment variable allows it as the flag does.
    let (code, _) = run(&file, &[], &[("VOUCH_ALLOW_EXEC", "1")]);
    assert_eq!(code, 0);
    assert!(marker.exists());
}

/// Whether a process is gone (or a zombie nobody has reaped yet).
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn the_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pids = dir.path().join("pids");
    // A test runner that starts workers (and a grandchild) and hangs.
    let script = format!(
        "sleep 300 & echo $! >> {p}; (sleep 301 & echo $! >> {p}; wait) & echo $! >> {p}; echo started; wait",
        p = pids.display()
    );
    let file = probe_file(
        dir.path(),
        &[&format!("timeout: 1s\nexec:\n  sh: '{script}'")],
    );
    let started = Instant::now();
    let (code, report) = run(&file, &["--allow-exec"], &[]);
    let elapsed = started.elapsed();
    assert_eq!(code, 1, "{report:#}");
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
    let p = probes(&report)[0];
    assert_eq!(p["verdict"], "fail", "{p:#}");
    assert!(
        p["summary"]
            .as_str()
            .expect("summary")
            .contains("process group was killed"),
        "{p:#}"
    );
    assert_eq!(p["evidence"]["stdout"]["first_lines"][0], "started");
    let pids: Vec<u32> = std::fs::read_to_string(&pids)
        .expect("pids written")
        .lines()
        .map(|l| l.trim().parse().expect("pid"))
        .collect();
    assert_eq!(pids.len(), 3, "{pids:?}");
    // SIGKILL is delivered at once; give the kernel a moment to tear down.
    let deadline = Instant::now() + Duration::from_secs(3);
    while !pids.iter().all(|p| is_dead(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in pids {
        assert!(is_dead(pid), "process {pid} survived the timeout");
    }
}

#[test]
fn a_gigabyte_of_output_is_counted_not_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = probe_file(
        dir.path(),
        &[
            "timeout: 60s\nexec:\n  run: [head, -c, '1000000000', /dev/zero]\n  body_limit: 64KiB\n  expect:\n    stdout: { absent: nothing-here }",
        ],
    );
    let (code, report) = run(&file, &["--allow-exec"], &[]);
    assert_eq!(code, 0, "{report:#}");
    let stdout = &probes(&report)[0]["evidence"]["stdout"];
    assert_eq!(stdout["bytes"], 1_000_000_000u64);
    assert_eq!(stdout["captured_bytes"], 65536);
}

#[test]
fn non_utf8_output_is_shown_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = probe_file(
        dir.path(),
        &["exec:\n  run: [printf, '\\377\\376abc\\n']\n  expect:\n    stdout: { contains: abc }"],
    );
    let (code, report) = run(&file, &["--allow-exec"], &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        probes(&report)[0]["evidence"]["stdout"]["first_lines"][0],
        "\\xff\\xfeabc"
    );
}

#[test]
fn a_missing_program_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = probe_file(dir.path(), &["exec:\n  run: [no-such-program-vouch-test]"]);
    let (code, report) = run(&file, &["--allow-exec"], &[]);
    assert_eq!(code, 1);
    let p = probes(&report)[0];
    assert_eq!(p["verdict"], "error");
    let summary = p["summary"].as_str().expect("summary");
    assert!(
        summary.contains("program `no-such-program-vouch-test` not found"),
        "{summary}"
    );
}

#[test]
fn secrets_passed_in_env_are_redacted_from_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = "exec-S3cret-value-7f3a";
    let file = probe_file(
        dir.path(),
        &[
            "exec:\n  sh: 'echo \"token=$TOKEN\"; echo \"$TOKEN\" >&2; exit 1'\n  env: { TOKEN: '${env:VOUCH_TEST_EXEC_SECRET}' }",
        ],
    );
    let output = vouch(
        &["run", "--allow-exec", "--format", "json"],
        &file,
        &[("VOUCH_TEST_EXEC_SECRET", secret)],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("token="), "{stdout}");
    assert!(!stdout.contains(secret), "{stdout}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains(secret));
}
