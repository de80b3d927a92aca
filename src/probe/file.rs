//! `file`: what a repository or a host holds — a file or directory exists (or
//! must not), its kind, mode, size and age, how many match a glob, what its
//! text contains, values of a JSON/YAML/TOML document by JSONPath, and the
//! facts of a Dockerfile. Paths stay under the root (`root:` in `defaults:`,
//! else the probe file's directory), symlinks included, unless the probe says
//! `allow_outside_root: true`; reads are bounded by `body_limit`.

pub mod dockerfile;
mod paths;

use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::http::JsonExpect;
use super::{Budget, Check, Context, Findings, Probe, ProbeError};
use crate::expect::{self, Matcher, Pattern, Size};
use paths::{Finder, Found, MAX_MATCHES};

/// Settings of a `file` probe.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "FileSettings")]
#[schemars(with = "FileSettings")]
pub struct File {
    path: String,
    allow_outside_root: bool,
    body_limit: Option<u64>,
    expect: FileExpect,
}

/// The `file:` settings as written.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// A path relative to the root (`root:` in `defaults:`, else the probe
    /// file's directory), or a glob (`backups/*.tar.gz`, `docs/**/*.md`).
    path: String,
    /// Let the path (or a symlink it passes) leave the root. Off by default:
    /// a probe file from a pull request must not read `/etc/shadow`.
    #[serde(default)]
    allow_outside_root: bool,
    /// The most bytes of each file read (default: the run's `body_limit`).
    #[serde(default)]
    body_limit: Option<Size>,
    /// What must hold.
    #[serde(default)]
    expect: FileExpect,
}

/// Expectations of a `file` probe. With a glob, `count` and `age` (of the
/// newest match) look at the set; the others must hold for every match.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileExpect {
    /// `true` (default): something is there; `false`: nothing may be.
    #[serde(default)]
    pub exists: Option<bool>,
    /// `file`, `dir` or `symlink`.
    #[serde(default)]
    pub kind: Option<FileKind>,
    /// Permission bits, octal: `"0644"` exactly, `{max: "0644"}` no bit
    /// beyond these (not world-writable), `{min: "0400"}` at least these.
    #[serde(default)]
    pub mode: Option<ModeExpect>,
    /// Size in bytes (`{max: 10MiB}`).
    #[serde(default)]
    pub size: Option<Matcher>,
    /// Age of the newest match since its last modification (`{max: 24h}`).
    #[serde(default)]
    pub age: Option<Matcher>,
    /// How many paths the glob selects (`{min: 7}`).
    #[serde(default)]
    pub count: Option<Matcher>,
    /// Text each file must contain.
    #[serde(default, deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany")]
    pub contains: Vec<String>,
    /// A regex each file must match (multi-line: `^` and `$` match at lines).
    #[serde(default)]
    pub matches: Option<Pattern>,
    /// The number of lines.
    #[serde(default)]
    pub lines: Option<Matcher>,
    /// The file parsed as JSON; JSONPath → matcher.
    #[serde(default)]
    pub json: Option<JsonExpect>,
    /// The file parsed as YAML; JSONPath → matcher.
    #[serde(default)]
    pub yaml: Option<JsonExpect>,
    /// The file parsed as TOML; JSONPath → matcher.
    #[serde(default)]
    pub toml: Option<JsonExpect>,
    /// Facts of a Dockerfile.
    #[serde(default)]
    pub dockerfile: Option<DockerfileExpect>,
}

/// What a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (not followed).
    Symlink,
}

impl FileKind {
    fn as_str(self) -> &'static str {
        match self {
            FileKind::File => "file",
            FileKind::Dir => "dir",
            FileKind::Symlink => "symlink",
        }
    }
}

/// Expectations of a Dockerfile's final image.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DockerfileExpect {
    /// The number of stages (`{min: 2}`: multi-stage).
    #[serde(default)]
    pub stages: Option<Matcher>,
    /// The final stage's effective user, `root` when unset or `0`
    /// (`{ne: root}`: runs as non-root).
    #[serde(default)]
    pub user: Option<Matcher>,
    /// Whether a `HEALTHCHECK` is in effect (`NONE` counts as none).
    #[serde(default)]
    pub healthcheck: Option<bool>,
    /// The final stage's `FROM` image, `ARG` defaults substituted.
    #[serde(default)]
    pub base: Option<Matcher>,
    /// Ports the final image must `EXPOSE`.
    #[serde(default)]
    pub expose: Vec<u16>,
}

/// Permission bits expected, written in octal.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(with = "ModeWritten")]
pub struct ModeExpect {
    exact: Option<u32>,
    max: Option<u32>,
    min: Option<u32>,
}

/// `"0644"` or `{min, max}` (schema only).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ModeWritten {
    Exact(String),
    Range {
        min: Option<String>,
        max: Option<String>,
    },
}

impl<'de> Deserialize<'de> for ModeExpect {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Json::deserialize(deserializer)?;
        let octal = |v: &Json| -> Result<u32, String> {
            let text = match v {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                other => {
                    return Err(format!(
                        "invalid mode {other}: expected octal, like \"0644\""
                    ));
                }
            };
            u32::from_str_radix(text.trim().trim_start_matches("0o"), 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| format!("invalid mode `{text}`: expected octal, like \"0644\""))
        };
        let parsed = match &value {
            Json::Object(map) => (|| {
                let mut mode = ModeExpect {
                    exact: None,
                    max: None,
                    min: None,
                };
                for (key, v) in map {
                    match key.as_str() {
                        "max" => mode.max = Some(octal(v)?),
                        "min" => mode.min = Some(octal(v)?),
                        "eq" => mode.exact = Some(octal(v)?),
                        other => {
                            return Err(format!(
                                "unknown mode matcher `{other}`: expected `eq`, `min` or `max`"
                            ));
                        }
                    }
                }
                Ok(mode)
            })(),
            v => octal(v).map(|m| ModeExpect {
                exact: Some(m),
                max: None,
                min: None,
            }),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

impl ModeExpect {
    fn check(&self, mode: u32) -> bool {
        self.exact.is_none_or(|e| mode == e)
            && self.max.is_none_or(|m| mode & !m == 0)
            && self.min.is_none_or(|m| mode & m == m)
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = self.exact {
            parts.push(format!("{e:04o}"));
        }
        if let Some(m) = self.max {
            parts.push(format!("no bits beyond {m:04o}"));
        }
        if let Some(m) = self.min {
            parts.push(format!("at least {m:04o}"));
        }
        parts.join(" and ")
    }
}

/// One string or a list of strings (schema only).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    match Json::deserialize(deserializer)? {
        Json::String(s) => Ok(vec![s]),
        Json::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Json::String(s) => Ok(s),
                other => Ok(other.to_string()),
            })
            .collect(),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or a list of strings, found {other}"
        ))),
    }
}

impl TryFrom<FileSettings> for File {
    type Error = String;

    fn try_from(s: FileSettings) -> Result<File, String> {
        if s.path.trim().is_empty() {
            return Err("`path` is empty".to_owned());
        }
        let e = &s.expect;
        if e.exists == Some(false) && (e.kind.is_some() || e.mode.is_some() || reads(e)) {
            return Err(
                "`exists: false` checks that nothing is there: it takes no other expectations but `count`"
                    .to_owned(),
            );
        }
        let parsed = [e.json.is_some(), e.yaml.is_some(), e.toml.is_some()];
        if parsed.iter().filter(|p| **p).count() > 1 {
            return Err("give one of `json`, `yaml` or `toml`: a file has one format".to_owned());
        }
        Ok(File {
            path: s.path,
            allow_outside_root: s.allow_outside_root,
            body_limit: s.body_limit.map(|b| b.0),
            expect: s.expect,
        })
    }
}

/// Whether any expectation needs the file's content.
fn reads(e: &FileExpect) -> bool {
    !e.contains.is_empty()
        || e.matches.is_some()
        || e.lines.is_some()
        || e.json.is_some()
        || e.yaml.is_some()
        || e.toml.is_some()
        || e.dockerfile.is_some()
}

impl File {
    /// `file Dockerfile`, `file backups/*.tar.gz must not exist`.
    pub fn describe(&self) -> String {
        if self.expect.exists == Some(false) {
            format!("file {} must not exist", self.path)
        } else {
            format!("file {}", self.path)
        }
    }
}

/// A file's content, read up to a limit.
struct Content {
    bytes: Vec<u8>,
    truncated: bool,
}

impl Content {
    fn read(path: &Path, limit: u64) -> Result<Content, String> {
        // Only regular files: a FIFO would block the read forever, and a
        // device (`/dev/zero`) has no end.
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
        if !meta.is_file() {
            return Err("not a regular file: not read".to_owned());
        }
        let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
        let mut bytes = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read: {e}"))?;
        let truncated = bytes.len() as u64 > limit;
        bytes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(Content { bytes, truncated })
    }

    fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes).ok()
    }
}

/// Bytes as text, control and non-UTF-8 bytes escaped (`\x00`), cut at `max` characters.
pub fn escaped(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    expect::excerpt(&out, max).into_owned()
}

/// JSONPath checks against a parsed document (or why there is none).
pub fn check_json_doc(expect: &JsonExpect, doc: Result<&Json, &str>, prefix: &str) -> Vec<Check> {
    expect
        .0
        .iter()
        .map(|(key, m)| {
            let name = format!("{prefix}{}", key.text);
            let doc = match doc {
                Ok(doc) => doc,
                Err(why) => return Check::new(name, m.to_string(), why, false),
            };
            let nodes = key.path.query(doc).all();
            if nodes.is_empty() {
                let ok = m.check(None).is_ok();
                return Check::new(name, m.to_string(), "no match", ok);
            }
            let failing = nodes.iter().find(|n| m.check(Some(n)).is_err());
            let shown = match failing {
                Some(n) => expect::show(n),
                None if nodes.len() == 1 => expect::show(nodes[0]),
                None => format!("{} nodes, all matching", nodes.len()),
            };
            Check::new(
                name,
                m.to_string(),
                expect::excerpt(&shown, 120).into_owned(),
                failing.is_none(),
            )
        })
        .collect()
}

/// A check over every match: passes when each holds; shows the first that
/// does not (or the only value).
fn per_match(
    name: &str,
    expected: String,
    results: Vec<(String, Result<String, String>)>,
) -> Check {
    let failed = results.iter().find(|(_, r)| r.is_err());
    let actual = match (failed, results.as_slice()) {
        (Some((_, Err(why))), [_]) => why.clone(),
        (Some((path, Err(why))), _) => format!("{path}: {why}"),
        (_, [(_, Ok(v))]) => v.clone(),
        _ => format!("{} matches, all holding", results.len()),
    };
    Check::new(name, expected, actual, failed.is_none())
}

fn age_of(found: &Found, now: SystemTime) -> Option<std::time::Duration> {
    found
        .modified
        .map(|m| now.duration_since(m).unwrap_or_default())
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

impl Probe for File {
    async fn run(&self, cx: &Context) -> Result<Findings, ProbeError> {
        let root = Finder::root(cx);
        let limit = self.body_limit.unwrap_or(cx.body_limit);
        // File system work blocks: off the probe threads, so a slow disk or
        // a large tree never holds up the network probes beside it.
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.evaluate(&root, limit))
            .await
            .map_err(|e| ProbeError::Setup(format!("the file probe stopped: {e}")))?
    }

    /// Reads the file system and sends nothing.
    fn budget(&self) -> Budget {
        Budget {
            max_requests: 0,
            ..Budget::SINGLE
        }
    }
}

impl File {
    /// Finds, reads and checks: the whole probe, on a blocking thread.
    fn evaluate(&self, root: &Path, limit: u64) -> Result<Findings, ProbeError> {
        let finder = Finder {
            root: root.to_owned(),
            allow_outside_root: self.allow_outside_root,
        };
        let (found, truncated, searched) = finder.find(&self.path)?;
        let e = &self.expect;
        let now = SystemTime::now();
        let mut record = json!({
            "root": root.display().to_string(),
            "path": self.path,
            "matches": found.iter().map(|f| {
                let mut m = json!({
                    "path": f.shown,
                    "kind": f.kind,
                    "size": f.size,
                    "mode": format!("{:04o}", f.mode),
                });
                if let Some(owner) = f.owner {
                    m["owner_uid"] = json!(owner);
                }
                if let Some(t) = f.modified {
                    m["modified"] = json!(rfc3339(t));
                    m["age_s"] = json!(age_of(f, now).unwrap_or_default().as_secs());
                }
                m
            }).collect::<Vec<_>>(),
        });
        if truncated {
            record["matches_truncated"] =
                json!(format!("more than {MAX_MATCHES}: the rest were not read"));
        }
        let mut checks = Vec::new();
        let missing = format!("missing (searched {})", searched.display());
        let present = |n: usize| match n {
            1 => "present".to_owned(),
            n => format!("{n} matches"),
        };
        let wants_present = e.exists.unwrap_or(true);
        if e.exists.is_some() || e.count.is_none() {
            let passed = wants_present != found.is_empty();
            let actual = if found.is_empty() {
                missing.clone()
            } else {
                format!(
                    "{}: {}",
                    present(found.len()),
                    found
                        .iter()
                        .take(3)
                        .map(|f| f.shown.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let expected = if wants_present { "present" } else { "absent" };
            checks.push(Check::new("exists", expected, actual, passed));
        }
        if !found.is_empty() {
            record["searched"] = json!(searched.display().to_string());
        }
        if let Some(m) = &e.count {
            let ok = m.check(Some(&json!(found.len()))).is_ok();
            checks.push(Check::new(
                "count",
                m.to_string(),
                found.len().to_string(),
                ok,
            ));
        }
        let mut facts_line = None;
        if !found.is_empty() && wants_present {
            if let Some(kind) = e.kind {
                let results = found
                    .iter()
                    .map(|f| {
                        let r = if f.kind == kind.as_str() {
                            Ok(f.kind.to_owned())
                        } else {
                            Err(f.kind.to_owned())
                        };
                        (f.shown.clone(), r)
                    })
                    .collect();
                checks.push(per_match("kind", kind.as_str().to_owned(), results));
            }
            if let Some(mode) = &e.mode {
                let results = found
                    .iter()
                    .map(|f| {
                        let shown = format!("{:04o}", f.mode);
                        (
                            f.shown.clone(),
                            if mode.check(f.mode) {
                                Ok(shown)
                            } else {
                                Err(shown)
                            },
                        )
                    })
                    .collect();
                checks.push(per_match("mode", mode.describe(), results));
            }
            if let Some(m) = &e.size {
                let results = found
                    .iter()
                    .map(|f| {
                        let shown = expect::format_size(f.size);
                        let ok = m.check(Some(&json!(f.size))).is_ok();
                        (f.shown.clone(), if ok { Ok(shown) } else { Err(shown) })
                    })
                    .collect();
                checks.push(per_match("size", m.to_string(), results));
            }
            if let Some(m) = &e.age {
                // The newest match: "the latest backup is younger than a day".
                let newest = found
                    .iter()
                    .filter_map(|f| age_of(f, now).map(|a| (a, f)))
                    .min_by_key(|(a, _)| *a);
                let check = match newest {
                    Some((age, f)) => {
                        let shown = format!(
                            "{} ({})",
                            humantime::format_duration(std::time::Duration::from_secs(
                                age.as_secs()
                            )),
                            f.shown
                        );
                        let ok = m.check(Some(&json!(age.as_secs_f64()))).is_ok();
                        Check::new("age", m.to_string(), shown, ok)
                    }
                    None => Check::new("age", m.to_string(), "no modification time", false),
                };
                checks.push(check);
            }
            if reads(e) {
                let mut contents = Vec::new();
                for f in &found {
                    let read = if f.kind == "dir" {
                        Err("a directory, not a file".to_owned())
                    } else {
                        Content::read(&f.path, limit)
                    };
                    contents.push((f, read));
                }
                let mut records = Vec::new();
                for (f, read) in &contents {
                    let mut r = json!({"path": f.shown});
                    match read {
                        Ok(c) => {
                            r["bytes_read"] = json!(c.bytes.len());
                            if c.truncated {
                                r["truncated"] =
                                    json!(format!("cut at {}", expect::format_size(limit)));
                            }
                            if c.text().is_none() {
                                r["binary"] = json!(true);
                                r["excerpt"] = json!(escaped(&c.bytes, 200));
                            }
                        }
                        Err(why) => r["error"] = json!(why),
                    }
                    records.push(r);
                }
                let (content_checks, line, shown_lines) =
                    self.content_checks(&contents, &mut records);
                checks.extend(content_checks);
                facts_line = line;
                for (r, lines) in records.iter_mut().zip(shown_lines) {
                    if !lines.is_empty() {
                        r["matched_lines"] = json!(lines);
                    }
                }
                record["contents"] = json!(records);
            }
        }
        // The parsed values the expectations named, as they were found.
        let values: Vec<Json> = checks
            .iter()
            .filter(|c| c.name.contains('$'))
            .map(|c| json!({"path": c.name, "value": c.actual}))
            .collect();
        if !values.is_empty() {
            record["values"] = json!(values);
        }
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed).collect();
        let mut summary = match (&facts_line, found.as_slice()) {
            (Some(facts), _) => facts.clone(),
            (None, []) if e.count.is_some() => {
                format!("{}: no match in {}", self.path, searched.display())
            }
            (None, []) if wants_present => format!("{}: {missing}", self.path),
            (None, []) => format!("{}: absent", self.path),
            (None, [one]) => format!(
                "{}: {}, {}, mode {:04o}",
                one.shown,
                one.kind,
                expect::format_size(one.size),
                one.mode
            ),
            (None, many) => format!("{}: {} matches", self.path, many.len()),
        };
        if failed.is_empty() {
            for c in checks.iter().filter(|c| c.name.starts_with('$')).take(2) {
                summary.push_str(&format!("; {} = {}", c.name, c.actual));
            }
        }
        super::append_failures(&mut summary, &failed, 2, true);
        Ok(Findings {
            checks,
            summary,
            evidence: record,
        })
    }
}

/// Per file: the lines each matched, for evidence.
type ShownLines = Vec<Vec<Json>>;

impl File {
    /// Checks of content: text, parsed documents, Dockerfile facts. Returns
    /// them, a summary line of Dockerfile facts, and matched lines per file.
    fn content_checks(
        &self,
        contents: &[(&Found, Result<Content, String>)],
        records: &mut [Json],
    ) -> (Vec<Check>, Option<String>, ShownLines) {
        let e = &self.expect;
        let mut checks = Vec::new();
        let mut shown_lines: ShownLines = vec![Vec::new(); contents.len()];
        for needle in &e.contains {
            let results = contents
                .iter()
                .enumerate()
                .map(|(i, (f, read))| {
                    let r = match read {
                        Err(why) => Err(why.clone()),
                        Ok(c) => match find_bytes(&c.bytes, needle.as_bytes()) {
                            Some(at) => {
                                let (n, line) = line_at(&c.bytes, at);
                                shown_lines[i].push(json!({"line": n, "text": line}));
                                Ok(format!("line {n}: {line}"))
                            }
                            None => Err(not_found(c)),
                        },
                    };
                    (f.shown.clone(), r)
                })
                .collect();
            checks.push(per_match(
                &format!("contains {needle:?}"),
                "present".to_owned(),
                results,
            ));
        }
        if let Some(Pattern(re)) = &e.matches {
            // Multi-line, over bytes: a binary file is matched as it is.
            let bytes_re = regex::bytes::RegexBuilder::new(re.as_str())
                .multi_line(true)
                .size_limit(1 << 20)
                .build();
            let results = contents
                .iter()
                .enumerate()
                .map(|(i, (f, read))| {
                    let r = match (read, &bytes_re) {
                        (Err(why), _) => Err(why.clone()),
                        (_, Err(e)) => Err(e.to_string()),
                        (Ok(c), Ok(re)) => match re.find(&c.bytes) {
                            Some(m) => {
                                let (n, line) = line_at(&c.bytes, m.start());
                                shown_lines[i].push(json!({"line": n, "text": line}));
                                Ok(format!("line {n}: {line}"))
                            }
                            None => Err(not_found(c)),
                        },
                    };
                    (f.shown.clone(), r)
                })
                .collect();
            checks.push(per_match("matches", format!("/{}/", re.as_str()), results));
        }
        if let Some(m) = &e.lines {
            let results = contents
                .iter()
                .map(|(f, read)| {
                    let r = match read {
                        Err(why) => Err(why.clone()),
                        Ok(c) if c.truncated => {
                            Err(format!("{} (cut at the size limit)", count_lines(&c.bytes)))
                        }
                        Ok(c) => {
                            let n = count_lines(&c.bytes);
                            if m.check(Some(&json!(n))).is_ok() {
                                Ok(n.to_string())
                            } else {
                                Err(n.to_string())
                            }
                        }
                    };
                    (f.shown.clone(), r)
                })
                .collect();
            checks.push(per_match("lines", m.to_string(), results));
        }
        for (format, expect_of) in [("json", &e.json), ("yaml", &e.yaml), ("toml", &e.toml)] {
            let Some(expect_of) = expect_of else { continue };
            for (i, (f, read)) in contents.iter().enumerate() {
                let prefix = if contents.len() > 1 {
                    format!("{}: ", f.shown)
                } else {
                    String::new()
                };
                let doc = match read {
                    Err(why) => Err(why.clone()),
                    Ok(c) if c.truncated => Err("cut at the size limit: not parsed".to_owned()),
                    Ok(c) => parse_document(format, c),
                };
                let doc_ref = doc.as_ref().map_err(String::as_str);
                checks.extend(check_json_doc(expect_of, doc_ref, &prefix));
                if let Err(why) = &doc {
                    records[i]["parse_error"] = json!(why);
                }
            }
        }
        let mut line = None;
        if let Some(d) = &e.dockerfile {
            for (i, (f, read)) in contents.iter().enumerate() {
                let facts = match read {
                    Err(why) => Err(why.clone()),
                    Ok(c) => match c.text() {
                        Some(text) => dockerfile::parse(text),
                        None => Err("not text".to_owned()),
                    },
                };
                let prefix = if contents.len() > 1 {
                    format!("{}: ", f.shown)
                } else {
                    String::new()
                };
                match facts {
                    Ok(facts) => {
                        checks.extend(dockerfile_checks(d, &facts, &prefix));
                        if line.is_none() {
                            line = Some(format!("{}: {}", f.shown, facts.summary()));
                        }
                        records[i]["dockerfile"] =
                            serde_json::to_value(&facts).unwrap_or(Json::Null);
                    }
                    Err(why) => checks.push(Check::new(
                        format!("{prefix}dockerfile"),
                        "a Dockerfile",
                        why,
                        false,
                    )),
                }
            }
        }
        (checks, line, shown_lines)
    }
}

fn parse_document(format: &str, c: &Content) -> Result<Json, String> {
    let Some(text) = c.text() else {
        return Err("not UTF-8 text".to_owned());
    };
    match format {
        "json" => serde_json::from_str(text).map_err(|e| format!("not JSON ({e})")),
        "yaml" => serde_saphyr::from_str::<Json>(text).map_err(|e| {
            format!(
                "not YAML ({})",
                e.to_string().lines().next().unwrap_or_default()
            )
        }),
        _ => toml::from_str::<Json>(text).map_err(|e| {
            format!(
                "not TOML ({})",
                e.to_string().lines().next().unwrap_or_default()
            )
        }),
    }
}

fn dockerfile_checks(d: &DockerfileExpect, facts: &dockerfile::Facts, prefix: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut matcher = |name: &str, m: &Matcher, value: Json, shown: String| {
        let ok = m.check(Some(&value)).is_ok();
        checks.push(Check::new(
            format!("{prefix}{name}"),
            m.to_string(),
            shown,
            ok,
        ));
    };
    if let Some(m) = &d.stages {
        matcher(
            "stages",
            m,
            json!(facts.stages.len()),
            facts.stages.len().to_string(),
        );
    }
    if let Some(m) = &d.user {
        // Matched as `root` whenever the user is root, however it is written.
        let value = if facts.root {
            "root".to_owned()
        } else {
            facts.user.clone().unwrap_or_default()
        };
        let shown = match &facts.user {
            None => "root (no USER)".to_owned(),
            Some(u) if facts.root && u != "root" => format!("{u} (root)"),
            Some(u) => u.clone(),
        };
        matcher("user", m, json!(value), shown);
    }
    if let Some(m) = &d.base {
        matcher("base", m, json!(facts.base), facts.base.clone());
    }
    if let Some(want) = d.healthcheck {
        let shown = facts.healthcheck.clone().map_or_else(
            || "none".to_owned(),
            |h| expect::excerpt(&h, 80).into_owned(),
        );
        checks.push(Check::new(
            format!("{prefix}healthcheck"),
            if want { "present" } else { "none" },
            shown,
            want == facts.healthcheck.is_some(),
        ));
    }
    for port in &d.expose {
        let shown = if facts.expose.is_empty() {
            "nothing exposed".to_owned()
        } else {
            facts.expose.join(", ")
        };
        checks.push(Check::new(
            format!("{prefix}expose {port}"),
            "exposed",
            shown,
            facts.exposes(*port),
        ));
    }
    checks
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The 1-based line number of byte `at`, and that line shown escaped.
fn line_at(bytes: &[u8], at: usize) -> (usize, String) {
    let at = at.min(bytes.len());
    let start = bytes[..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    let end = bytes[at..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |p| at + p);
    let number = bytes[..start].iter().filter(|b| **b == b'\n').count() + 1;
    (number, escaped(&bytes[start..end], 160))
}

fn count_lines(bytes: &[u8]) -> usize {
    let newlines = bytes.iter().filter(|b| **b == b'\n').count();
    newlines + usize::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

fn not_found(c: &Content) -> String {
    if c.truncated {
        format!(
            "not found in the first {}",
            expect::format_size(c.bytes.len() as u64)
        )
    } else {
        "not found".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal_bit_sets() {
        let m: ModeExpect = serde_json::from_value(json!({"max": "0644"})).expect("ok");
        assert!(m.check(0o644) && m.check(0o600) && !m.check(0o666));
        let m: ModeExpect = serde_json::from_value(json!("0755")).expect("ok");
        assert!(m.check(0o755) && !m.check(0o775));
        assert!(serde_json::from_value::<ModeExpect>(json!("0999")).is_err());
    }

    #[test]
    fn binary_is_shown_escaped() {
        assert_eq!(escaped(b"a\x00\xffb\n", 80), "a\\x00\\xffb\\n");
        assert_eq!(count_lines(b"a\nb"), 2);
        assert_eq!(line_at(b"one\ntwo\nthree", 5), (2, "two".to_owned()));
    }
}
