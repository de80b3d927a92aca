//! Probe files: the YAML model, loading with positions, variables and
//! diagnostics. Loading never touches the network; every problem in every
//! file is collected before anything runs.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::Deserialize;
use url::Url;

use crate::expect::{Dur, Size};
use crate::probe::{Budget, KINDS, ProbeSpec, TlsSettings};
use crate::redact::{Redactor, Secrets, is_credential_header, is_token_param};

pub mod capture;
pub mod de;
pub mod diag;
pub mod node;
pub mod pem;
mod preflight;
mod text;
pub mod vars;

pub use text::TEXT_FROM;
use text::{FileText, ItemText, Origin, TextSpec, text_from};

pub use diag::Diagnostic;
use node::{Key, Node, Pos, Value};

/// The probe-file format version this build reads.
pub const VERSION: u32 = 1;

/// Keys a probe entry may carry besides its kind.
const PROBE_KEYS: &[&str] = &[
    "name",
    "timeout",
    "retries",
    "retry_delay",
    "capture",
    "oauth2",
];

/// A loaded, valid probe file.
#[derive(Debug, Clone)]
pub struct ProbeFile {
    /// The path it was read from.
    pub path: PathBuf,
    /// `name:`.
    pub name: Option<String>,
    /// The target base URL (`--target` wins over `target:`).
    pub target: Option<Url>,
    /// `checklist:`, relative to the probe file.
    pub checklist: Option<PathBuf>,
    /// `defaults:`.
    pub defaults: Defaults,
    /// `weights:` per checklist section, in written order.
    pub weights: Vec<Weight>,
    /// The items, in file order.
    pub items: Vec<Item>,
    /// Secret values (`${secret:…}`, credential-named `${env:…}`, every
    /// credential): redacted in every output. Also the variables they came from.
    pub secrets: Secrets,
}

impl ProbeFile {
    /// The directory relative paths in this file are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        preflight::base_dir(&self.path)
    }
}

/// One `weights:` entry: a checklist section's weight in the readiness score.
#[derive(Debug, Clone, PartialEq)]
pub struct Weight {
    /// The section's heading text, as written.
    pub section: String,
    /// Its weight (relative; see the README).
    pub weight: f64,
    /// Where the section name was written.
    pub pos: Pos,
}

/// `defaults:` — settings every probe of the file inherits.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Per-probe timeout (default 10s), covering connect, TLS, headers and body.
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// Retries after a failed attempt (default 0).
    #[serde(default)]
    pub retries: Option<u32>,
    /// The first pause between attempts, doubled each time (default 200ms).
    #[serde(default)]
    pub retry_delay: Option<Dur>,
    /// The most bytes of a response body read (default 1MiB).
    #[serde(default)]
    pub body_limit: Option<Size>,
    /// A PEM bundle of extra trusted roots for every HTTPS probe.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// A PEM client certificate for mTLS.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's PEM key.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// Skip certificate verification everywhere (shown in evidence).
    #[serde(default)]
    pub insecure: bool,
    /// Where `file` paths start and must stay (relative to the probe file;
    /// default: the probe file's directory).
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// An OAuth2 client-credentials token for every probe that sends HTTP
    /// requests (a probe's own `oauth2:` wins).
    #[serde(default)]
    pub oauth2: Option<crate::probe::oauth2::OAuth2>,
}

impl Defaults {
    /// The TLS part of the defaults.
    pub fn tls(&self) -> TlsSettings {
        TlsSettings {
            ca: self.ca.clone(),
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
            insecure: self.insecure,
        }
    }
}

/// One `item:` of a probe file.
#[derive(Debug, Clone)]
pub struct Item {
    /// The item text (or checklist id) as written.
    pub name: String,
    /// Where `item:` was written.
    pub pos: Pos,
    /// Its probes.
    pub probes: Vec<ProbeEntry>,
    /// A human attestation, for items no probe can verify (boxed: few
    /// items have one, and a large file holds many items).
    pub attested: Option<Box<Attestation>>,
    /// `severity:`, for the gate (`--fail-on critical:failed`).
    pub severity: Severity,
}

/// How much an item matters to the gate: `severity: critical|major|minor`
/// on a probe-file item (`major` when not written).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    serde::Serialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth fixing, not worth stopping a release for.
    Minor,
    /// The default.
    #[default]
    Major,
    /// Stops a release.
    Critical,
}

impl Severity {
    /// The lowercase name used in every report.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

/// One probe with its generic settings. Small, because a large probe file
/// holds one per probe and the runner one more per job: the settings most
/// probes leave out live in [`EntrySettings`], shared and absent when empty.
#[derive(Debug, Clone)]
pub struct ProbeEntry {
    /// The kind and its settings, or where to read them again.
    spec: Spec,
    /// Where the probe was written.
    pub pos: Pos,
    /// `name:`, `timeout:`, `retries:`, `capture:`… when any is given.
    settings: Option<Arc<EntrySettings>>,
}

// A large file holds one entry per probe, and the runner one more per job.
const _: () = assert!(std::mem::size_of::<ProbeEntry>() <= 48);

/// A probe's kind and settings: read, or kept as where their text is. A
/// file of [`TEXT_FROM`] bytes or more keeps its probes that way (a probe
/// read takes several hundred bytes, where it is a few): each is read again
/// from the file, with the same variables, when it runs.
#[derive(Debug, Clone)]
enum Spec {
    Read(Arc<ProbeSpec>),
    Text(TextSpec),
}

/// The settings of a probe entry besides its kind, all optional.
#[derive(Debug, Clone, Default)]
pub struct EntrySettings {
    /// `name:`, shown in reports.
    pub name: Option<String>,
    /// `timeout:`, overriding the defaults.
    pub timeout: Option<Duration>,
    /// `retries:`, overriding the defaults.
    pub retries: Option<u32>,
    /// `retry_delay:`, overriding the defaults: the first pause between
    /// attempts, doubled each time.
    pub retry_delay: Option<Duration>,
    /// `capture:`: values taken from the probe's response for the later
    /// probes of its item.
    pub capture: Vec<capture::Capture>,
    /// `oauth2:`, overriding the defaults' (only on kinds that send HTTP).
    pub oauth2: Option<Arc<crate::probe::oauth2::OAuth2>>,
    /// The kind and its settings as written, when they refer to captures
    /// (`${capture:NAME}`): filled in and read again when the probe runs.
    pub template: Option<Arc<Node<'static>>>,
    /// The `${capture:NAME}` references of its settings.
    pub uses: Vec<capture::Use>,
}

/// The settings of an entry that gives none.
static NO_SETTINGS: EntrySettings = EntrySettings {
    name: None,
    timeout: None,
    retries: None,
    retry_delay: None,
    capture: Vec::new(),
    oauth2: None,
    template: None,
    uses: Vec::new(),
};

impl EntrySettings {
    fn is_empty(&self) -> bool {
        let EntrySettings {
            name,
            timeout,
            retries,
            retry_delay,
            capture,
            oauth2,
            template,
            uses,
        } = self;
        name.is_none()
            && timeout.is_none()
            && retries.is_none()
            && retry_delay.is_none()
            && capture.is_empty()
            && oauth2.is_none()
            && template.is_none()
            && uses.is_empty()
    }
}

impl ProbeEntry {
    /// An entry of `spec` written at `pos` with `settings`.
    pub fn new(spec: ProbeSpec, pos: Pos, settings: EntrySettings) -> ProbeEntry {
        ProbeEntry {
            spec: Spec::Read(Arc::new(spec)),
            pos,
            settings: (!settings.is_empty()).then(|| Arc::new(settings)),
        }
    }

    /// The kind and its settings; a probe kept as text is read again (an
    /// error only if it cannot be, a bug).
    pub fn spec(&self) -> Result<Arc<ProbeSpec>, String> {
        match &self.spec {
            Spec::Read(spec) => Ok(Arc::clone(spec)),
            Spec::Text(text) => text.read(self.pos),
        }
    }

    /// Its declared traffic (one exchange for a probe kept as text).
    pub fn budget(&self) -> Budget {
        match &self.spec {
            Spec::Read(spec) => spec.budget(),
            Spec::Text(_) => Budget::SINGLE,
        }
    }

    /// Whether it sends HTTP requests (and so takes an OAuth2 token).
    pub fn sends_http(&self) -> bool {
        match &self.spec {
            Spec::Read(spec) => spec.sends_http(),
            Spec::Text(text) => text.sends_http(),
        }
    }

    /// Whether it runs a program (never for a probe kept as text).
    pub fn runs_programs(&self) -> bool {
        match &self.spec {
            Spec::Read(spec) => spec.runs_programs(),
            Spec::Text(_) => false,
        }
    }

    /// Whether it is kept as text, to be read again when it runs.
    pub fn is_text(&self) -> bool {
        matches!(self.spec, Spec::Text(_))
    }

    /// Its kind's name.
    pub fn kind(&self) -> &'static str {
        match &self.spec {
            Spec::Read(spec) => spec.kind(),
            Spec::Text(text) => text.kind(),
        }
    }

    /// What it does, in a few words (`GET http://…/health`).
    pub fn describe(&self) -> String {
        match self.spec() {
            Ok(spec) => spec.describe(),
            Err(_) => format!("the probe at line {}", self.pos.line),
        }
    }

    /// Keeps the probe as its item's text from `offset` (line `line` of
    /// `file`), when it can be read again from there alone: one exchange, no
    /// program, no settings besides the kind.
    fn keep_as_text(&mut self, file: &Arc<FileText>, item: ItemText, probe: usize) {
        let Spec::Read(spec) = &self.spec else {
            return;
        };
        if self.settings.is_some() {
            return;
        }
        if let Some(text) = TextSpec::new(file, item, probe, spec) {
            self.spec = Spec::Text(text);
        }
    }

    /// Its settings besides the kind.
    pub fn settings(&self) -> &EntrySettings {
        self.settings.as_deref().unwrap_or(&NO_SETTINGS)
    }

    /// Its settings, to change while the file loads.
    fn settings_mut(&mut self) -> &mut EntrySettings {
        Arc::make_mut(self.settings.get_or_insert_with(Default::default))
    }

    /// Whether the probe takes part in a chain of its item (it captures, or
    /// uses a capture): the item's probes then run one after another.
    pub fn is_chained(&self) -> bool {
        let settings = self.settings();
        !settings.capture.is_empty() || !settings.uses.is_empty()
    }
}

/// `attested: {by, on, valid_for, note}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// Who attests.
    pub by: String,
    /// The day of the attestation, `YYYY-MM-DD`.
    pub on: Day,
    /// How long it holds (`90d`).
    pub valid_for: Dur,
    /// Why it can be trusted (a ticket, a drill).
    #[serde(default)]
    pub note: Option<String>,
}

impl Attestation {
    /// When the attestation runs out (loading guarantees it is before the year 10000).
    pub fn expires(&self) -> SystemTime {
        self.on.0.checked_add(self.valid_for.0).unwrap_or(self.on.0)
    }

    /// Whether it ends at a time reports can print (before the year 10000).
    fn is_printable(&self) -> bool {
        const YEAR_10000: Duration = Duration::from_secs(253_402_300_800);
        self.on
            .0
            .checked_add(self.valid_for.0)
            .is_some_and(|end| end < SystemTime::UNIX_EPOCH + YEAR_10000)
    }
}

/// A calendar day, `YYYY-MM-DD`, as the instant it starts (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(with = "String")]
pub struct Day(pub SystemTime);

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_rfc3339_weak(&format!("{} 00:00:00", text.trim()))
            .map(Day)
            .map_err(|_| {
                serde::de::Error::custom(format!("invalid date `{text}`: expected `YYYY-MM-DD`"))
            })
    }
}

/// How files are loaded: overrides from the command line and the environment.
pub struct LoadOptions<'a> {
    /// `--target`, overriding every file's `target:`.
    pub target: Option<&'a str>,
    /// `--set NAME=VALUE`, overriding `vars:`.
    pub sets: &'a [(String, String)],
    /// Reads an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// Loads every file, collecting all diagnostics of all files.
pub fn load_all(
    paths: &[PathBuf],
    options: &LoadOptions<'_>,
) -> Result<Vec<ProbeFile>, Vec<Diagnostic>> {
    let Loaded { files, diagnostics } = load_every(paths, options);
    if diagnostics.is_empty() {
        Ok(files)
    } else {
        Err(diagnostics)
    }
}

/// What loading found: every file as far as it could be read, and every
/// diagnostic of every file.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The files that parsed. When there are diagnostics, a file may lack
    /// the items and probes that had mistakes: use them only to find more
    /// mistakes (binding to the checklist), never to run.
    pub files: Vec<ProbeFile>,
    /// Every problem, each file's in source order, files in the order given.
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads every file and keeps what parsed even when some did not, so that
/// later checks (binding) can report their problems in the same pass.
pub fn load_every(paths: &[PathBuf], options: &LoadOptions<'_>) -> Loaded {
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    for path in paths {
        let (file, mut found) = load_file(path, options);
        files.extend(file);
        diagnostics.append(&mut found);
    }
    Loaded { files, diagnostics }
}

/// Reads and loads one probe file.
fn load_file(path: &Path, options: &LoadOptions<'_>) -> (Option<ProbeFile>, Vec<Diagnostic>) {
    match read_file(path) {
        Ok((source, opened)) => read_str(path, &source, opened, options),
        Err(e) => {
            let message = format!("cannot read `{}`: {e}", path.display());
            (
                None,
                vec![Diagnostic::new(path, "", Pos::default(), message)],
            )
        }
    }
}

/// A file's text, and the file kept open when it is a regular one: the
/// probes of a large file are read again from it.
fn read_file(path: &Path) -> std::io::Result<(String, Option<std::fs::File>)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut source = String::new();
    file.read_to_string(&mut source)?;
    // Elsewhere, the text is kept in memory.
    let regular = cfg!(unix) && file.metadata().is_ok_and(|m| m.is_file());
    Ok((source, regular.then_some(file)))
}

/// Loads one probe file from its text.
pub fn load_str(
    path: &Path,
    source: &str,
    options: &LoadOptions<'_>,
) -> Result<ProbeFile, Vec<Diagnostic>> {
    match read_str(path, source, None, options) {
        (Some(file), diagnostics) if diagnostics.is_empty() => Ok(file),
        (_, diagnostics) => Err(diagnostics),
    }
}

/// Reads one probe file: the file as far as it parsed, and its diagnostics.
///
/// Each entry of `items:` is read as soon as the parser completes it and its
/// nodes freed, so a large file is never held as one tree. When `vars:`,
/// `target:` or `defaults:` come after `items:`, the items were read without
/// them: the file is then read again, whole.
fn read_str(
    path: &Path,
    source: &str,
    file: Option<std::fs::File>,
    options: &LoadOptions<'_>,
) -> (Option<ProbeFile>, Vec<Diagnostic>) {
    read_keeping_text(path, source, file, options, source.len() >= text_from())
}

/// [`read_str`], keeping the probes as text when `keep_text`, to be read
/// again from `file` (or from a copy of `source` without one).
fn read_keeping_text(
    path: &Path,
    source: &str,
    file: Option<std::fs::File>,
    options: &LoadOptions<'_>,
    keep_text: bool,
) -> (Option<ProbeFile>, Vec<Diagnostic>) {
    let text = source.strip_prefix('\u{feff}').unwrap_or(source);
    let markdown = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("md") || e.eq_ignore_ascii_case("markdown"));
    if markdown {
        return (None, vec![not_a_probe_file(path, text, Pos::default())]);
    }
    // What the file reads from the environment, for the probes kept as text.
    let seen: RefCell<HashMap<String, Option<String>>> = RefCell::default();
    let env = |name: &str| {
        let value = (options.env)(name);
        seen.borrow_mut().insert(name.to_owned(), value.clone());
        value
    };
    let options = &LoadOptions {
        env: &env,
        ..*options
    };
    let mut cx = Loader::new(path, source);
    let mut stream = Stream {
        cx: &mut cx,
        options,
        head: None,
        items: Vec::new(),
        source,
        file,
        bom: source.len() - text.len(),
        text: None,
        fast: true,
        keep_text,
        cursor: (1, 0),
    };
    let parsed = node::parse_items(text, &mut stream);
    let Stream {
        head,
        items,
        text: file_text,
        ..
    } = stream;
    let mut root = match parsed {
        Ok(root) => root,
        Err(e) => return (None, vec![yaml_error(path, text, e)]),
    };
    let file = match head {
        Some(head) if !reads_after_items(&root) => {
            cx.file(&mut root, options, Some(Streamed { head, items }))
        }
        Some(_) => {
            drop((items, root));
            cx = Loader::new(path, source);
            match node::parse(text) {
                Ok(mut root) => cx.file(&mut root, options, None),
                Err(e) => return (None, vec![yaml_error(path, text, e)]),
            }
        }
        None => cx.file(&mut root, options, None),
    };
    if let Some(file_text) = file_text {
        let _ = file_text.env.set(seen.take());
        let _ = file_text.checked.set(cx.checked.clone());
        let probes = file.iter().flat_map(|f| &f.items).flat_map(|i| &i.probes);
        let kept = probes.filter(|p| p.is_text()).count();
        tracing::debug!(
            "{}: {kept} probes kept as text, read again when they run",
            path.display()
        );
    }
    if !cx.diagnostics.is_empty() {
        cx.diagnostics.sort_by_key(|d| d.pos);
        // A message may quote an interpolated value (`invalid duration `…``).
        let redactor = Redactor::new(&cx.secrets);
        for d in &mut cx.diagnostics {
            redactor.string(&mut d.message);
            if let Some(help) = &mut d.help {
                redactor.string(help);
            }
        }
    }
    (file, cx.diagnostics)
}

/// The diagnostic for a document that is not YAML: a markdown checklist's
/// advice when it looks like one.
fn yaml_error(path: &Path, source: &str, e: node::ParseError) -> Diagnostic {
    if let Some(line) = first_task_line(source) {
        let pos = Pos { line, column: 1 };
        return not_a_probe_file(path, source, pos);
    }
    let message = format!("invalid YAML: {}", e.message);
    Diagnostic::new(path, source, e.pos, message)
}

/// Whether `vars:`, `target:` or `defaults:` is written after `items:`.
fn reads_after_items(root: &Node<'_>) -> bool {
    let Some(entries) = root.as_map() else {
        return false;
    };
    entries
        .iter()
        .skip_while(|(key, _)| key.name != "items")
        .any(|(key, _)| matches!(key.name.as_ref(), "vars" | "target" | "defaults"))
}

/// What a file says before its items: what every item is read with.
#[derive(Clone)]
struct Head {
    /// `vars:`, after `--set`.
    vars: BTreeMap<String, String>,
    /// Variables (and the target) whose value is unresolved: a reference to
    /// one is a follow-on of the unset variable, not reported again.
    unresolved: BTreeSet<String>,
    target: Option<Url>,
    defaults: Defaults,
}

impl Head {
    fn scope<'h>(&'h self, env: &'h dyn Fn(&str) -> Option<String>) -> vars::Scope<'h> {
        vars::Scope {
            env,
            vars: &self.vars,
            target: self
                .target
                .as_ref()
                .map(|u| u.as_str().trim_end_matches('/')),
            credential: false,
            unresolved: &self.unresolved,
        }
    }
}

/// The items read while the file was parsed, and what they were read with.
struct Streamed {
    head: Head,
    items: Vec<Item>,
}

/// Reads each entry of `items:` as the parser completes it.
struct Stream<'l, 'a, 'o> {
    cx: &'l mut Loader<'a>,
    options: &'l LoadOptions<'o>,
    /// Read from the root's entries when the first item comes.
    head: Option<Head>,
    items: Vec<Item>,
    source: &'l str,
    /// The file the source was read from, until a probe is kept as text.
    file: Option<std::fs::File>,
    /// The length of the byte order mark the parser does not see.
    bom: usize,
    /// The file's text and head, once a probe is kept as text.
    text: Option<Arc<FileText>>,
    /// Whether the fast path reads the document (granit's documents may
    /// hold anchors: their probes are not kept as text).
    fast: bool,
    /// Whether probes are kept as text (the file is large).
    keep_text: bool,
    /// A line number and the byte offset (in the parsed text) where it starts.
    cursor: (usize, usize),
}

impl Stream<'_, '_, '_> {
    /// The byte offset in the parsed text of line `line`, at or after the cursor.
    fn offset_of(&mut self, line: usize) -> Option<usize> {
        let text = self.source.get(self.bom..)?;
        let (mut at, mut offset) = self.cursor;
        while at < line {
            offset += text.get(offset..)?.find('\n')? + 1;
            at += 1;
        }
        self.cursor = (at, offset);
        (at == line).then_some(offset)
    }

    /// Keeps the probes of `item` (whose `- ` starts line `line`) as text.
    fn keep_as_text(&mut self, item: &mut Item, line: usize) {
        let Some(offset) = self.offset_of(line) else {
            return;
        };
        let Some(item_text) = ItemText::at(self.source, self.bom + offset) else {
            return;
        };
        let Some(head) = &self.head else {
            return;
        };
        let cx = &self.cx;
        let (source, file) = (self.source, &mut self.file);
        let file = self.text.get_or_insert_with(|| {
            let origin = match file.take() {
                Some(file) => Origin::File(file),
                None => Origin::Memory(source.to_owned()),
            };
            Arc::new(FileText {
                path: cx.path.to_owned(),
                origin,
                head: head.clone(),
                has_target: cx.has_target,
                defaults_identity: cx.defaults_identity.clone(),
                env: OnceLock::new(),
                checked: OnceLock::new(),
            })
        });
        for (p, probe) in item.probes.iter_mut().enumerate() {
            probe.keep_as_text(file, item_text, p);
        }
    }
}

impl<'s> node::ItemSink<'s> for Stream<'_, '_, '_> {
    fn item(&mut self, top: &mut [(Key<'s>, Node<'s>)], mut node: Node<'s>) {
        let (cx, options) = (&mut *self.cx, self.options);
        let head = self.head.get_or_insert_with(|| cx.head(top, options));
        cx.interpolate(&mut node, &head.scope(options.env));
        let Some(mut item) = cx.item(&node) else {
            return;
        };
        if self.fast && self.keep_text {
            self.keep_as_text(&mut item, node.pos.line);
        }
        self.items.push(item);
    }

    fn restart(&mut self) {
        *self.cx = Loader::new(self.cx.path, self.cx.source);
        self.head = None;
        self.items.clear();
        self.text = None;
        self.fast = false;
        self.cursor = (1, 0);
    }
}

/// The error for a markdown checklist given where a probe file is expected
/// (`vouch run READINESS.md`): what to do instead, not a YAML parse error.
fn not_a_probe_file(path: &Path, source: &str, pos: Pos) -> Diagnostic {
    let name = path.display();
    let mut d = Diagnostic::new(
        path,
        source,
        pos,
        format!("`{name}` is a markdown checklist, not a probe file"),
    );
    d.help = Some(format!(
        "propose a probe file for it with `vouch init {name} -o probes.yaml`, then name it there (`checklist: {name}`) or pass it with `--checklist {name}`"
    ));
    d
}

/// The 1-based line of the first markdown task item (`- [ ] …`, `* [x] …`,
/// `1. [X] …`), if any.
fn first_task_line(source: &str) -> Option<usize> {
    source.lines().position(is_task_line).map(|i| i + 1)
}

fn is_task_line(line: &str) -> bool {
    let line = line.trim_start().trim_start_matches('>').trim_start();
    let rest = match line.strip_prefix(['-', '*', '+']) {
        Some(rest) => rest,
        None => {
            let digits = line.trim_start_matches(|c: char| c.is_ascii_digit());
            if digits.len() == line.len() {
                return false;
            }
            match digits.strip_prefix(['.', ')']) {
                Some(rest) => rest,
                None => return false,
            }
        }
    };
    let Some(rest) = rest.strip_prefix([' ', '\t']) else {
        return false;
    };
    let rest = rest.trim_start();
    ["[ ]", "[x]", "[X]"].iter().any(|b| {
        rest.strip_prefix(b)
            .is_some_and(|after| after.is_empty() || after.starts_with([' ', '\t']))
    })
}

struct Loader<'a> {
    path: &'a Path,
    source: &'a str,
    /// The lines of `source`, once a diagnostic quotes one.
    lines: Option<diag::Lines<'a>>,
    diagnostics: Vec<Diagnostic>,
    secrets: Secrets,
    /// Where relative paths (`ca: certs/ca.pem`) are read from.
    base_dir: PathBuf,
    /// Whether a target is given (`target:` or `--target`), valid or not.
    has_target: bool,
    /// `client_cert` / `client_key` of `defaults:`, which probes complete.
    defaults_identity: preflight::Identity,
    /// Files read and pairs matched, with their answers.
    checked: HashMap<preflight::Checked, Result<(), String>>,
    /// Where a value holds a reference that could not be resolved (an unset
    /// variable): reported once, and the text left behind is not validated.
    unresolved: BTreeSet<Pos>,
    /// Where a value made only of references came out empty
    /// (`ca: ${env:CA:-}`): a TLS file left empty that way is unset.
    emptied: BTreeSet<Pos>,
}

/// For "unknown field `timout`, expected one of …" inside a kind's settings
/// (they have an `expect`; MCP and JSON-RPC calls too, but they name their
/// tool or method and take `arguments` or `params`), the probe entry's field
/// it is a typo of.
fn misspelt_probe_key(message: &str) -> Option<&'static str> {
    let rest = message.strip_prefix("unknown field `")?;
    let (given, expected) = rest.split_once('`')?;
    let is_kind = expected.contains("`expect`")
        && !expected.contains("`arguments`")
        && !expected.contains("`params`");
    if !is_kind {
        return None;
    }
    diag::closest(given, PROBE_KEYS)
}

impl<'a> Loader<'a> {
    fn new(path: &'a Path, source: &'a str) -> Loader<'a> {
        Loader {
            path,
            source,
            lines: None,
            diagnostics: Vec::new(),
            secrets: Secrets::default(),
            base_dir: preflight::base_dir(path),
            has_target: false,
            defaults_identity: preflight::Identity::default(),
            checked: HashMap::new(),
            unresolved: BTreeSet::new(),
            emptied: BTreeSet::new(),
        }
    }

    /// Reports a problem at `pos`, unless `pos` is a value left unresolved
    /// (its unset variable is the problem, already reported).
    fn error(&mut self, pos: Pos, message: impl Into<String>) {
        if self.unresolved.contains(&pos) {
            return;
        }
        self.report(pos, message);
    }

    fn report(&mut self, pos: Pos, message: impl Into<String>) {
        let line = self.line(pos.line);
        self.diagnostics
            .push(Diagnostic::quoting(self.path, line, pos, message));
    }

    /// Source line `number` (1-based), as `str::lines` gives it.
    fn line(&mut self, number: usize) -> Option<&'a str> {
        let source = self.source;
        self.lines
            .get_or_insert_with(|| diag::Lines::new(source))
            .get(number)
    }

    fn de_error(&mut self, fallback: Pos, error: de::DeError) {
        let pos = error.pos.unwrap_or(fallback);
        if self.unresolved.contains(&pos) {
            return;
        }
        let misplaced = PROBE_KEYS
            .iter()
            .find(|k| error.message.starts_with(&format!("unknown field `{k}`")));
        self.error(pos, plain_types(&error.message));
        let Some(last) = self.diagnostics.last_mut() else {
            return;
        };
        // The exact name, or a typo of it that no field of the kind is nearer to.
        let (key, subject) = match misplaced {
            Some(key) => (*key, format!("`{key}`")),
            None if last.help.is_none() => match misspelt_probe_key(&error.message) {
                Some(key) => (key, format!("did you mean `{key}`? It")),
                None => return,
            },
            None => return,
        };
        last.help = Some(format!(
            "{subject} belongs to the probe entry, beside the kind: `- {key}: …` then `http: {{…}}`"
        ));
    }

    fn parse<'n, T: Deserialize<'n>>(&mut self, node: &'n Node<'_>) -> Option<T> {
        match de::from_node(node) {
            Ok(v) => Some(v),
            Err(e) => {
                self.de_error(node.pos, e);
                None
            }
        }
    }

    /// Reads the file from its root. `streamed`: the items read while it
    /// was parsed (its `items:` then comes back empty), with the head they
    /// were read with.
    fn file(
        &mut self,
        root: &mut Node<'_>,
        options: &LoadOptions<'_>,
        streamed: Option<Streamed>,
    ) -> Option<ProbeFile> {
        let Value::Map(entries) = &mut root.value else {
            let shape = root.shape();
            self.error(
                root.pos,
                format!("expected a mapping with `version` and `items`, found {shape}"),
            );
            return None;
        };
        const TOP: &[&str] = &[
            "version",
            "name",
            "target",
            "checklist",
            "vars",
            "defaults",
            "weights",
            "items",
        ];
        for (key, _) in entries.iter() {
            if !TOP.contains(&key.name.as_ref()) {
                self.unknown_key(key, "field", TOP);
            }
        }
        let (head, mut items) = match streamed {
            Some(Streamed { head, items }) => {
                // The entries after `items:` were not read with the head yet
                // (`vars:`, `target:` and `defaults:` are never among them).
                let after = entries
                    .iter()
                    .position(|(k, _)| k.name == "items")
                    .map_or(entries.len(), |i| i + 1);
                let scope = head.scope(options.env);
                for (_, node) in &mut entries[after..] {
                    self.interpolate(node, &scope);
                }
                (head, Some(items))
            }
            None => (self.head(entries, options), None),
        };
        let mut version_seen = false;
        let mut file = ProbeFile {
            path: self.path.to_owned(),
            name: None,
            target: head.target,
            checklist: None,
            defaults: head.defaults,
            weights: Vec::new(),
            items: Vec::new(),
            secrets: Secrets::default(),
        };
        let mut items_seen = false;
        for (key, node) in entries.iter_mut() {
            match key.name.as_ref() {
                "version" => {
                    version_seen = true;
                    if let Some(v) = self.parse::<u32>(node)
                        && v != VERSION
                    {
                        self.error(
                            node.pos,
                            format!("unsupported version {v}: this vouch reads version {VERSION}"),
                        );
                    }
                }
                "name" => file.name = self.parse(node),
                "checklist" => file.checklist = self.parse(node),
                "weights" => file.weights = self.weights(node),
                "items" => {
                    items_seen = true;
                    file.items = match items.take() {
                        Some(items) => items,
                        None => self.items(node),
                    };
                }
                _ => {}
            }
        }
        if !version_seen {
            self.error(
                Pos { line: 1, column: 1 },
                format!("missing `version: {VERSION}` at the top of the file"),
            );
        }
        if !items_seen {
            self.error(
                Pos { line: 1, column: 1 },
                "missing `items:`: the list of checklist items and their probes",
            );
        }
        // Kept here too: diagnostics are redacted with them at the end.
        file.secrets = self.secrets.clone();
        Some(file)
    }

    /// Reads what the items are read with — `vars:`, `target:` (or
    /// `--target`), `defaults:` — and resolves the references of every entry
    /// of `entries` but those two.
    fn head(&mut self, entries: &mut [(Key<'_>, Node<'_>)], options: &LoadOptions<'_>) -> Head {
        let find = |entries: &[(Key<'_>, Node<'_>)], name: &str| {
            entries.iter().position(|(k, _)| k.name == name)
        };
        // vars first: they may read the environment, and everything else may read them.
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        let mut unresolved: BTreeSet<String> = BTreeSet::new();
        if let Some(i) = find(entries, "vars") {
            let (_, node) = &mut entries[i];
            match &mut node.value {
                Value::Map(var_entries) => {
                    for (key, value) in var_entries.iter_mut() {
                        let no_vars = BTreeMap::new();
                        let none = BTreeSet::new();
                        let scope = vars::Scope {
                            env: options.env,
                            vars: &no_vars,
                            target: None,
                            credential: false,
                            unresolved: &none,
                        };
                        if !self.interpolate(value, &scope) {
                            unresolved.insert(key.name.to_string());
                        }
                        match value
                            .as_str()
                            .map(str::to_owned)
                            .or_else(|| match &value.value {
                                Value::Int(i) => Some(i.to_string()),
                                Value::Float(f) => Some(f.to_string()),
                                Value::Bool(b) => Some(b.to_string()),
                                _ => None,
                            }) {
                            Some(text) => {
                                vars.insert(key.name.to_string(), text);
                            }
                            None => self.error(
                                value.pos,
                                format!(
                                    "variable `{}` must be a scalar, found {}",
                                    key.name,
                                    value.shape()
                                ),
                            ),
                        }
                    }
                }
                Value::Null => {}
                _ => {
                    let shape = node.shape();
                    self.error(node.pos, format!("`vars` must be a mapping, found {shape}"));
                }
            }
        }
        for (name, value) in options.sets {
            vars.insert(name.clone(), value.clone());
            unresolved.remove(name);
        }

        // The target: `--target` wins; `target:` may use env and vars.
        let mut target_text: Option<(String, Pos)> = None;
        if let Some(i) = find(entries, "target") {
            let (_, node) = &mut entries[i];
            let scope = vars::Scope {
                env: options.env,
                vars: &vars,
                target: None,
                credential: false,
                unresolved: &unresolved,
            };
            // The target is shown in every report: it follows the policy like
            // any value (`${env:STAGING_URL}` is shown, userinfo is not).
            if !self.interpolate(node, &scope) && options.target.is_none() {
                unresolved.insert("target".to_owned());
            }
            match node.as_str() {
                Some(t) => target_text = Some((t.to_owned(), node.pos)),
                None if matches!(node.value, Value::Null) => {}
                None => {
                    let shape = node.shape();
                    self.error(node.pos, format!("`target` must be a URL, found {shape}"));
                }
            }
        }
        if let Some(t) = options.target {
            target_text = Some((t.to_owned(), Pos::default()));
        }
        // An invalid target is its own error, not one per probe.
        self.has_target = target_text.is_some();
        let target = match target_text {
            Some((text, pos)) => match parse_target(&text) {
                Ok(url) => Some(url),
                Err(message) => {
                    if pos == Pos::default() {
                        self.error(pos, format!("--target: {message}"));
                    } else {
                        self.error(pos, message);
                    }
                    None
                }
            },
            None => None,
        };

        let mut head = Head {
            vars,
            unresolved,
            target,
            defaults: Defaults::default(),
        };
        // Everything else may use `${target}` too.
        let scope = head.scope(options.env);
        for (key, node) in entries.iter_mut() {
            if !matches!(key.name.as_ref(), "vars" | "target") {
                self.interpolate(node, &scope);
            }
        }
        // Defaults before items: probes inherit their TLS files.
        if let Some(i) = find(entries, "defaults") {
            let stripped = self.without_unset_tls_files(&entries[i].1);
            let node = stripped.as_ref().unwrap_or(&entries[i].1);
            head.defaults = self.parse(node).unwrap_or_default();
            self.defaults_identity = self.tls_files(node);
        }
        head
    }

    /// Deserializes a probe's settings, reporting every mistake: serde stops
    /// at the first, so the offending entry is removed and the rest tried
    /// again (a few times at most; never reporting a "missing field" that the
    /// removal itself caused). The settings read without the wrong entries
    /// come back too, marked not clean: checks that need the settings (a
    /// target for their paths) still run on them in the same pass.
    fn settings(&mut self, pos: Pos, key: &Key<'_>, value: &Node<'_>) -> Option<(ProbeSpec, bool)> {
        // A valid probe, the common case, is read in place; only mistakes
        // need the copy they are taken out of.
        if let Some(spec) = de::enum_from_entry(key, value) {
            return Some((spec, true));
        }
        let mut one = Node {
            pos,
            value: Value::Map(vec![(key.clone(), value.clone())]),
        };
        let mut reported = 0;
        // Where entries were removed: an error there now is our doing.
        let mut touched: Vec<Pos> = Vec::new();
        loop {
            match de::from_node::<ProbeSpec>(&one) {
                Ok(spec) => return Some((spec, reported == 0)),
                Err(e) => {
                    let caused_by_removal = e.message.starts_with("missing field")
                        || e.pos.is_some_and(|p| touched.contains(&p));
                    if reported > 0 && caused_by_removal {
                        return None;
                    }
                    let pos = e.pos;
                    // A value (or a mapping holding one) left unresolved
                    // fails for want of its variable: not reported again.
                    let follow_on = pos
                        .and_then(|p| node_at(&one, p))
                        .is_some_and(|n| holds_any(n, &self.unresolved));
                    if !follow_on {
                        self.de_error(one.pos, e);
                    }
                    reported += 1;
                    let container = pos.and_then(|pos| remove_at(&mut one, pos));
                    match container {
                        Some(container) if reported < 10 => touched.push(container),
                        _ => return None,
                    }
                }
            }
        }
    }

    fn weights(&mut self, node: &Node<'_>) -> Vec<Weight> {
        let Some(entries) = node.as_map() else {
            let shape = node.shape();
            self.error(
                node.pos,
                format!("`weights` must map section names to numbers, found {shape}"),
            );
            return Vec::new();
        };
        let mut weights = Vec::new();
        for (key, value) in entries {
            let weight = match value.value {
                Value::Int(i) => i as f64,
                Value::Float(f) => f,
                _ => f64::NAN,
            };
            if weight.is_finite() && weight >= 0.0 {
                weights.push(Weight {
                    section: key.name.to_string(),
                    weight,
                    pos: key.pos,
                });
            } else {
                let shape = value.shape();
                self.error(
                    value.pos,
                    format!("a weight must be a number ≥ 0, found {shape}"),
                );
            }
        }
        weights
    }

    fn unknown_key(&mut self, key: &Key<'_>, what: &str, expected: &[&str]) {
        self.error(
            key.pos,
            format!(
                "unknown {what} `{}`, expected one of `{}`",
                key.name,
                expected.join("`, `")
            ),
        );
    }

    /// Resolves the references in `node`; false when one could not be
    /// (reported, and the node marked unresolved).
    fn interpolate(&mut self, node: &mut Node<'_>, scope: &vars::Scope<'_>) -> bool {
        match &mut node.value {
            // Most strings refer to nothing: leave them as they are.
            Value::Str(text) if !text.contains("${") => {
                crate::redact::add_url_credentials(text, &mut self.secrets);
            }
            Value::Str(text) => match vars::interpolate(text, scope, &mut self.secrets) {
                Ok(out) => {
                    crate::redact::add_url_credentials(&out, &mut self.secrets);
                    if out.is_empty() {
                        self.emptied.insert(node.pos);
                    }
                    *text = out.into();
                }
                Err(errors) => {
                    let quoted = self
                        .line(node.pos.line.max(1))
                        .and_then(|l| l.chars().nth(node.pos.column.saturating_sub(1)))
                        .is_some_and(|c| c == '"' || c == '\'');
                    for e in errors.into_iter().filter(|e| !e.follow_on) {
                        let column = node.pos.column
                            + text[..e.offset].chars().count()
                            + usize::from(quoted);
                        self.report(
                            Pos {
                                line: node.pos.line,
                                column,
                            },
                            e.message,
                        );
                    }
                    self.unresolved.insert(node.pos);
                    return false;
                }
            },
            Value::Seq(items) => {
                let mut all = true;
                for item in items.iter_mut() {
                    all &= self.interpolate(item, scope);
                }
                return all;
            }
            Value::Map(entries) => {
                // `{name: X-API-Key, value: …}` (the `auth` kind's `header:`
                // and `query:`): the value is a credential when the name is a
                // credential header or a token-like query parameter.
                let named = entries.iter().any(|(k, v)| {
                    k.name == "name"
                        && v.as_str()
                            .is_some_and(|n| is_credential_header(n) || is_token_param(n))
                });
                let mut all = true;
                for (key, value) in entries.iter_mut() {
                    // `capture: {token: $.access_token}` names where a value
                    // comes from: the source is not the credential.
                    if key.name == "capture"
                        && let Value::Map(captures) = &mut value.value
                    {
                        for (_, source) in captures.iter_mut() {
                            all &= self.interpolate(source, scope);
                        }
                        continue;
                    }
                    // A credential (`authorization: Bearer …`, `password: …`),
                    // written literally or read from any variable, is a secret.
                    let credential = (crate::redact::is_credential_setting(&key.name)
                        || (named && key.name == "value"))
                        && value.as_str().is_some();
                    if credential {
                        let scope = vars::Scope {
                            credential: true,
                            ..*scope
                        };
                        all &= self.interpolate(value, &scope);
                        if let Some(text) = value.as_str() {
                            self.add_credential(text);
                        }
                    } else {
                        all &= self.interpolate(value, scope);
                    }
                }
                // `basic: {user, password}`: the pair travels base64-encoded.
                let get = |name: &str| {
                    entries
                        .iter()
                        .find(|(k, _)| k.name == name)
                        .and_then(|(_, v)| v.as_str())
                };
                if let (Some(user), Some(password)) = (get("user"), get("password")) {
                    self.secrets.add_pair(user, password);
                }
                self.redis_auth(entries);
                return all;
            }
            _ => {}
        }
        true
    }

    /// A credential value and, after a scheme (`Bearer …`), its token.
    fn add_credential(&mut self, text: &str) {
        self.secrets.add(text);
        if let Some((_, token)) = text.split_once(' ') {
            self.secrets.add(token.trim());
        }
    }

    /// `send: "AUTH [user] password\r\n"` (Redis): the password is a credential.
    fn redis_auth(&mut self, entries: &[(Key<'_>, Node<'_>)]) {
        let Some(send) = entries
            .iter()
            .find(|(k, _)| k.name == "send")
            .and_then(|(_, v)| v.as_str())
        else {
            return;
        };
        for line in send.lines() {
            let mut words = line.split_whitespace();
            if words.next().is_some_and(|w| w.eq_ignore_ascii_case("auth"))
                && let Some(password) = words.last()
            {
                self.secrets.add(password);
            }
        }
    }

    fn items(&mut self, node: &mut Node<'_>) -> Vec<Item> {
        let Value::Seq(nodes) = &mut node.value else {
            let shape = node.shape();
            self.error(node.pos, format!("`items` must be a list, found {shape}"));
            return Vec::new();
        };
        // Each item's nodes are freed once it is read, for the next items to reuse.
        let nodes = std::mem::take(nodes);
        let mut items = Vec::with_capacity(nodes.len());
        items.extend(nodes.into_iter().filter_map(|n| self.item(&n)));
        items
    }

    fn item(&mut self, node: &Node<'_>) -> Option<Item> {
        let Some(entries) = node.as_map() else {
            let shape = node.shape();
            self.error(
                node.pos,
                format!("expected an item (`- item: …` with `probes:`), found {shape}"),
            );
            return None;
        };
        const ITEM: &[&str] = &["item", "probes", "attested", "severity"];
        let mut name = None;
        let mut severity = Severity::default();
        let mut probes = Vec::new();
        let mut attested = None;
        let mut pos = node.pos;
        let mut ok = true;
        for (key, value) in entries {
            match key.name.as_ref() {
                "item" => {
                    pos = value.pos;
                    name = self.parse::<String>(value);
                    ok &= name.is_some();
                }
                "probes" => match &value.value {
                    Value::Seq(list) => {
                        probes.reserve_exact(list.len());
                        for p in list {
                            match self.probe(p) {
                                Some(p) => probes.push(p),
                                None => ok = false,
                            }
                        }
                    }
                    Value::Null => {}
                    _ => {
                        let shape = value.shape();
                        self.error(value.pos, format!("`probes` must be a list, found {shape}"));
                        ok = false;
                    }
                },
                "severity" => match self.parse::<Severity>(value) {
                    Some(s) => severity = s,
                    None => ok = false,
                },
                "attested" => {
                    attested = self.parse::<Attestation>(value);
                    if let Some(a) = &attested
                        && !a.is_printable()
                    {
                        self.error(
                            value.pos,
                            "the attestation would run past the year 9999: shorten `valid_for`",
                        );
                        attested = None;
                    }
                    ok &= attested.is_some();
                }
                _ => {
                    self.unknown_key(key, "field", ITEM);
                    ok = false;
                }
            }
        }
        self.chain(&mut probes);
        let Some(name) = name else {
            if ok {
                self.error(
                    node.pos,
                    "missing `item:`: the checklist item this entry verifies",
                );
            }
            return None;
        };
        if attested.is_some() && !probes.is_empty() {
            self.error(
                pos,
                "an item is either probed or attested: remove `attested:` or `probes:`",
            );
        }
        // Kept with a mistake too (the file is then rejected): its name is
        // still bound to the checklist, so a typo there shows in the same pass.
        Some(Item {
            name,
            pos,
            probes,
            attested: attested.map(Box::new),
            severity,
        })
    }

    /// Checks that every `${capture:NAME}` of an item's probes is captured
    /// by an earlier probe of the item, and marks the captures later sent as
    /// credentials secret.
    fn chain(&mut self, probes: &mut [ProbeEntry]) {
        let mut captured: Vec<String> = Vec::new();
        let mut credential: BTreeSet<String> = BTreeSet::new();
        for probe in probes.iter() {
            for used in &probe.settings().uses {
                if used.credential {
                    credential.insert(used.name.clone());
                }
                if captured.contains(&used.name) {
                    continue;
                }
                let own = probe.settings().capture.iter().any(|c| c.name == used.name);
                let known: Vec<&str> = captured.iter().map(String::as_str).collect();
                let message = match diag::closest(&used.name, &known) {
                    _ if own => format!(
                        "`${{capture:{}}}` is captured by this same probe: only later probes of the item can use it",
                        used.name
                    ),
                    Some(near) => format!(
                        "no earlier probe of this item captures `{}`; did you mean `{near}`?",
                        used.name
                    ),
                    None => format!(
                        "no earlier probe of this item captures `{}`: add `capture: {{{}: $.path}}` to a probe before this one",
                        used.name, used.name
                    ),
                };
                self.error(used.pos, message);
            }
            captured.extend(probe.settings().capture.iter().map(|c| c.name.clone()));
        }
        if credential.is_empty() {
            return;
        }
        for probe in probes
            .iter_mut()
            .filter(|p| !p.settings().capture.is_empty())
        {
            for c in &mut probe.settings_mut().capture {
                c.secret |= credential.contains(&c.name);
            }
        }
    }

    fn probe(&mut self, node: &Node<'_>) -> Option<ProbeEntry> {
        let Some(entries) = node.as_map() else {
            let shape = node.shape();
            self.error(
                node.pos,
                format!("expected a probe such as `http: {{get: /health}}`, found {shape}"),
            );
            return None;
        };
        let (mut name, mut timeout, mut retries, mut spec) = (None, None, None, None);
        let mut retry_delay = None;
        let mut captures = Vec::new();
        let mut oauth2: Option<(crate::probe::oauth2::OAuth2, Pos)> = None;
        let mut kind: Option<(&Key<'_>, &Node<'_>)> = None;
        let mut ok = true;
        for (key, value) in entries {
            match key.name.as_ref() {
                "name" => {
                    name = self.parse(value);
                    ok &= name.is_some();
                }
                "timeout" => match self.parse::<Dur>(value) {
                    Some(Dur(d)) if d.is_zero() => {
                        self.error(value.pos, "`timeout` must be more than zero");
                        ok = false;
                    }
                    Some(Dur(d)) => timeout = Some(d),
                    None => ok = false,
                },
                "retries" => {
                    retries = self.parse(value);
                    ok &= retries.is_some();
                }
                "retry_delay" => match self.parse::<Dur>(value) {
                    Some(Dur(d)) => retry_delay = Some(d),
                    None => ok = false,
                },
                "capture" => match capture::parse(value) {
                    Ok(found) => captures = found,
                    Err(errors) => {
                        for (pos, message) in errors {
                            self.error(pos, message);
                        }
                        ok = false;
                    }
                },
                "oauth2" => match self.parse(value) {
                    Some(settings) => oauth2 = Some((settings, key.pos)),
                    None => ok = false,
                },
                name if KINDS.contains(&name) => {
                    if let Some((first, _)) = kind {
                        self.error(
                            key.pos,
                            format!(
                                "one probe per entry: `{}` and `{}` here; start a new `- ` entry",
                                first.name, key.name
                            ),
                        );
                        ok = false;
                        continue;
                    }
                    kind = Some((key, value));
                    // A TLS file left empty by a variable is unset.
                    let stripped = self.without_unset_tls_files(value);
                    let value = stripped.as_ref().unwrap_or(value);
                    // Files are checked even when other settings are wrong.
                    let identity = self.tls_files(value);
                    match self.settings(node.pos, key, value) {
                        Some((parsed, clean)) => {
                            spec = Some(parsed);
                            ok &= clean;
                        }
                        None => ok = false,
                    }
                    self.check_identity(&identity);
                }
                _ => {
                    let mut expected: Vec<&str> = KINDS.to_vec();
                    expected.extend_from_slice(PROBE_KEYS);
                    self.error(
                        key.pos,
                        format!(
                            "unknown probe kind `{}`, expected one of `{}`",
                            key.name,
                            expected.join("`, `")
                        ),
                    );
                    ok = false;
                }
            }
        }
        if kind.is_none() && ok {
            self.error(
                node.pos,
                format!(
                    "missing probe kind: expected one of `{}`",
                    KINDS.join("`, `")
                ),
            );
            return None;
        }
        if let (Some((key, value)), Some(spec)) = (kind, &spec) {
            self.check_target(spec, key, value);
            let kind = spec.kind();
            if !captures.is_empty() && !spec.records_response() {
                self.error(
                    captures[0].pos,
                    format!("`capture` takes values from an HTTP response; `{kind}` probes keep none (use `http`)"),
                );
                ok = false;
            }
            if let Some((_, pos)) = &oauth2
                && !spec.sends_http()
            {
                self.error(
                    *pos,
                    format!(
                        "`oauth2` adds a token to HTTP requests; `{kind}` probes do not take one"
                    ),
                );
                ok = false;
            }
        }
        let (mut uses, mut template) = (Vec::new(), None);
        if let Some((key, value)) = kind {
            // The file's line index, built once: a scan per reference made
            // a file of many chained probes quadratic.
            let mut line = |n: usize| self.line(n).map(str::to_owned);
            uses = capture::uses(value, &mut line);
            if !uses.is_empty() {
                template = Some(Arc::new(capture::template(key, value)));
            }
        }
        let spec = spec.filter(|_| ok)?;
        let settings = EntrySettings {
            name,
            timeout,
            retries,
            retry_delay,
            capture: captures,
            oauth2: oauth2.map(|(settings, _)| Arc::new(settings)),
            template,
            uses,
        };
        Some(ProbeEntry::new(spec, node.pos, settings))
    }
}

/// serde's Rust type names in messages, said as people say them.
fn plain_types(message: &str) -> String {
    let mut out = message.to_owned();
    for (rust, plain) in [
        ("expected u8", "expected a whole number ≥ 0"),
        ("expected u16", "expected a whole number ≥ 0"),
        ("expected u32", "expected a whole number ≥ 0"),
        ("expected u64", "expected a whole number ≥ 0"),
        ("expected usize", "expected a whole number ≥ 0"),
        ("expected i64", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected a boolean", "expected `true` or `false`"),
    ] {
        if let Some(at) = out.find(rust)
            && !out[at + rust.len()..].starts_with(|c: char| c.is_alphanumeric())
        {
            out.replace_range(at..at + rust.len(), plain);
        }
    }
    out
}

/// Removes the innermost mapping entry or list element written at `pos`,
/// returning where the collection that held it starts.
fn remove_at(node: &mut Node<'_>, pos: Pos) -> Option<Pos> {
    let here = node.pos;
    match &mut node.value {
        Value::Map(entries) => {
            for (_, value) in entries.iter_mut() {
                if let Some(container) = remove_at(value, pos) {
                    return Some(container);
                }
            }
            let before = entries.len();
            entries.retain(|(key, value)| key.pos != pos && value.pos != pos);
            (entries.len() != before).then_some(here)
        }
        Value::Seq(items) => {
            for item in items.iter_mut() {
                if let Some(container) = remove_at(item, pos) {
                    return Some(container);
                }
            }
            let before = items.len();
            items.retain(|item| item.pos != pos);
            (items.len() != before).then_some(here)
        }
        _ => None,
    }
}

/// The node at `pos` inside `node`, itself included.
fn node_at<'n, 's>(node: &'n Node<'s>, pos: Pos) -> Option<&'n Node<'s>> {
    if node.pos == pos {
        return Some(node);
    }
    match &node.value {
        Value::Map(entries) => entries.iter().find_map(|(key, value)| {
            if key.pos == pos {
                Some(value)
            } else {
                node_at(value, pos)
            }
        }),
        Value::Seq(items) => items.iter().find_map(|item| node_at(item, pos)),
        _ => None,
    }
}

/// Whether `node` or a node inside it starts at one of `positions`.
fn holds_any(node: &Node<'_>, positions: &BTreeSet<Pos>) -> bool {
    positions.contains(&node.pos)
        || match &node.value {
            Value::Map(entries) => entries.iter().any(|(_, v)| holds_any(v, positions)),
            Value::Seq(items) => items.iter().any(|item| holds_any(item, positions)),
            _ => false,
        }
}

/// Parses a target base URL: absolute, `http` or `https`, with a host. A
/// bare host (`example.com`, `localhost:8080`) is an error that names the
/// URL meant: `https://example.com`, `http://localhost:8080` (plain HTTP only
/// for loopback, where TLS is rare).
pub fn parse_target(text: &str) -> Result<Url, String> {
    let trimmed = text.trim();
    let parsed = Url::parse(trimmed);
    if let Ok(url) = &parsed
        && matches!(url.scheme(), "http" | "https")
        && url.has_host()
    {
        return Ok(url.clone());
    }
    let why = match &parsed {
        Err(e) => e.to_string(),
        Ok(_) => "expected `http://host[:port][/path]` or `https://…`".to_owned(),
    };
    let mut message = format!("invalid target URL `{text}`: {why}");
    if let Some(suggestion) = with_scheme(trimmed) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    }
    Err(message)
}

/// `host[:port][/path]` with the scheme it most likely lacks, when it parses
/// as a target that way.
fn with_scheme(text: &str) -> Option<String> {
    if text.is_empty() || text.contains("://") || text.contains(char::is_whitespace) {
        return None;
    }
    let https = Url::parse(&format!("https://{text}")).ok()?;
    let host = https.host_str()?;
    let loopback = host == "localhost"
        || host.ends_with(".localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    // A host needs a dot, or to be loopback: `x:y` is more likely a typo.
    if !loopback && !host.contains('.') {
        return None;
    }
    Some(format!(
        "{}://{text}",
        if loopback { "http" } else { "https" }
    ))
}

/// The JSON Schema of probe files, for editors (`vouch schema`).
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(schema::ProbeFileSchema);
    serde_json::to_value(schema).unwrap_or_default()
}

/// Types that only describe the file format for `vouch schema`.
mod schema {
    use super::*;

    /// Where a captured value comes from.
    #[derive(JsonSchema)]
    #[serde(untagged)]
    #[allow(dead_code)]
    pub enum CaptureSchema {
        /// A JSONPath into the JSON body: its first node.
        Path(String),
        /// One of `json`, `header`, `regex`.
        Source(CaptureSourceSchema),
    }

    /// `{json: PATH}`, `{header: NAME}` or `{regex: PATTERN}`.
    #[derive(JsonSchema)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)]
    pub enum CaptureSourceSchema {
        /// A JSONPath into the JSON body.
        Json(String),
        /// A response header.
        Header(String),
        /// A regex on the body: its first group, else the whole match.
        Regex(String),
    }

    /// A vouch probe file: checklist items bound to probes.
    #[derive(JsonSchema)]
    #[schemars(title = "vouch probe file", deny_unknown_fields)]
    #[allow(dead_code)]
    pub struct ProbeFileSchema {
        /// The format version: 1.
        version: u32,
        /// A name for the deployment.
        name: Option<String>,
        /// The base URL probes' paths are resolved against (`--target` overrides).
        target: Option<String>,
        /// A markdown checklist, relative to this file.
        checklist: Option<String>,
        /// Variables for `${var:NAME}`; values may read `${env:NAME}`.
        vars: Option<BTreeMap<String, String>>,
        /// Settings every probe inherits.
        defaults: Option<Defaults>,
        /// Readiness-score weight per checklist section.
        weights: Option<BTreeMap<String, f64>>,
        /// Checklist items and their probes.
        items: Vec<ItemSchema>,
    }

    /// One checklist item.
    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    #[allow(dead_code)]
    pub struct ItemSchema {
        /// The checklist item's text or id.
        item: String,
        /// Probes that verify it.
        probes: Option<Vec<ProbeEntrySchema>>,
        /// A human attestation instead of probes.
        attested: Option<Attestation>,
        /// How much the item matters to the gate (default `major`).
        severity: Option<Severity>,
    }

    /// A probe: one kind key plus generic settings.
    #[derive(JsonSchema)]
    #[allow(dead_code)]
    pub struct ProbeEntrySchema {
        /// Shown in reports.
        name: Option<String>,
        /// Overrides `defaults.timeout`.
        timeout: Option<Dur>,
        /// Overrides `defaults.retries`.
        retries: Option<u32>,
        /// Overrides `defaults.retry_delay`.
        retry_delay: Option<Dur>,
        /// Values taken from this probe's HTTP response for the later probes
        /// of the item (`${capture:NAME}`): a JSONPath (`$.access_token`),
        /// `{json: PATH}`, `{header: NAME}` or `{regex: PATTERN}` (its first group).
        capture: Option<BTreeMap<String, CaptureSchema>>,
        /// An OAuth2 client-credentials token for this probe's requests
        /// (overrides `defaults.oauth2`).
        oauth2: Option<crate::probe::oauth2::OAuth2>,
        #[serde(flatten)]
        spec: ProbeSpec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(source: &str) -> Result<ProbeFile, Vec<Diagnostic>> {
        let env = |name: &str| match name {
            "TOKEN" => Some("tok-123456".to_owned()),
            "HOST" => Some("http://127.0.0.1:9".to_owned()),
            "PLAIN" => Some("plain-value-1".to_owned()),
            "OTHER" => Some("other-value-2".to_owned()),
            _ => None,
        };
        load_str(
            Path::new("p.yaml"),
            source,
            &LoadOptions {
                target: None,
                sets: &[],
                env: &env,
            },
        )
    }

    fn errors(source: &str) -> Vec<String> {
        load(source)
            .expect_err("invalid")
            .iter()
            .map(|d| format!("{}: {}", d.location(), d.message))
            .collect()
    }

    #[test]
    fn loads_a_complete_file() {
        let file = load(
            "version: 1\nname: t\ntarget: ${env:HOST}\nvars:\n  token: ${env:TOKEN}\n\
             defaults: {timeout: 2s, retries: 1}\nitems:\n  - item: Health\n    probes:\n      - name: h\n        timeout: 1s\n        http:\n          get: /health\n          headers:\n            authorization: Bearer ${var:token}\n",
        )
        .expect("valid");
        assert_eq!(
            file.target.as_ref().map(Url::as_str),
            Some("http://127.0.0.1:9/")
        );
        assert_eq!(
            file.items[0].probes[0].settings().timeout,
            Some(Duration::from_secs(1))
        );
        assert!(file.secrets.contains("tok-123456"));
        assert!(!file.secrets.contains("http://127.0.0.1:9"));
    }

    /// Each item's name and its probes' kind and settings, as `Debug` writes them.
    fn outline(file: &ProbeFile) -> Vec<String> {
        let probe = |p: &ProbeEntry| format!("{:?} {:?}", p.spec(), p.settings().timeout);
        let item = |i: &Item| {
            format!(
                "{}: {:?}",
                i.name,
                i.probes.iter().map(probe).collect::<Vec<_>>()
            )
        };
        file.items.iter().map(item).collect()
    }

    #[test]
    fn items_read_while_parsing_or_after_read_the_same() {
        let head = "version: 1\ntarget: ${env:HOST}\nvars:\n  token: ${env:TOKEN}\n  path: /ready\ndefaults:\n  timeout: 2s\n";
        let items = "items:\n  - item: Health\n    probes:\n      - http:\n          get: ${var:path}\n          headers:\n            authorization: Bearer ${var:token}\n  - item: Metrics\n    probes:\n      - timeout: 1s\n        http: {get: '${target}/metrics'}\n";
        // Read item by item; items before the head, read again whole; and
        // the fast path giving up at the last item's flow mapping.
        let streamed = load(&format!("{head}{items}")).expect("valid");
        let after = load(&format!(
            "version: 1\n{items}{}",
            &head["version: 1\n".len()..]
        ))
        .expect("valid");
        assert_eq!(outline(&streamed), outline(&after));
        assert_eq!(outline(&streamed).len(), 2);
        for file in [&streamed, &after] {
            assert!(file.secrets.contains("tok-123456"));
            assert_eq!(
                file.defaults.timeout.map(|d| d.0),
                Some(Duration::from_secs(2))
            );
            let first = format!("{:?}", file.items[0].probes[0].spec());
            assert!(first.contains("/ready"), "{first}");
            let second = format!("{:?}", file.items[1].probes[0].spec());
            assert!(second.contains("http://127.0.0.1:9/metrics"), "{second}");
        }
        // The same mistakes, once each, in either order.
        let broken = "items:\n  - item: A\n    probes:\n      - http: {get: /a, timout: 1s}\n  - item: B\n    probes:\n      - htp: {get: /b}\n";
        let before = errors(&format!("{head}{broken}"));
        let after = errors(&format!(
            "version: 1\n{broken}{}",
            &head["version: 1\n".len()..]
        ));
        assert_eq!(before.len(), 2, "{before:?}");
        let messages = |e: &[String]| -> Vec<String> {
            e.iter()
                .map(|m| m.split_once(": ").map_or(m.clone(), |(_, r)| r.to_owned()))
                .collect()
        };
        assert_eq!(messages(&before), messages(&after));
    }

    #[test]
    fn probes_kept_as_text_read_again_as_they_were_read() {
        let source = "\u{feff}version: 1\ntarget: ${env:HOST}\nvars:\n  path: /ready\nitems:\n  - item: Health\n    probes:\n      - http:\n          get: ${var:path}\n          headers:\n            authorization: Bearer ${env:TOKEN}\n\n      # a comment\n      - tcp:\n          address: 127.0.0.1:6379\n  - item: Timed\n    probes:\n      - timeout: 1s\n        http:\n          get: ${target}/slow\nname: after the items\n";
        let env = |name: &str| match name {
            "TOKEN" => Some("tok-123456".to_owned()),
            "HOST" => Some("http://127.0.0.1:9".to_owned()),
            _ => None,
        };
        let read = |keep: bool| {
            let options = LoadOptions {
                target: None,
                sets: &[],
                env: &env,
            };
            match read_keeping_text(Path::new("p.yaml"), source, None, &options, keep) {
                (Some(file), diagnostics) if diagnostics.is_empty() => file,
                (_, diagnostics) => panic!("{diagnostics:?}"),
            }
        };
        let (kept, read) = (read(true), read(false));
        let probes = |file: &ProbeFile| -> Vec<ProbeEntry> {
            file.items.iter().flat_map(|i| i.probes.clone()).collect()
        };
        // A probe with settings besides its kind is read and kept as it is.
        let text: Vec<bool> = probes(&kept).iter().map(ProbeEntry::is_text).collect();
        assert_eq!(text, [true, true, false]);
        assert!(probes(&read).iter().all(|p| !p.is_text()));
        for (kept, read) in probes(&kept).iter().zip(probes(&read)) {
            let (again, once) = (kept.spec().expect("read again"), read.spec().expect("read"));
            assert_eq!(format!("{again:?}"), format!("{once:?}"));
            assert_eq!(kept.pos, read.pos);
            assert_eq!(kept.budget(), once.budget());
            assert_eq!(kept.sends_http(), once.sends_http());
            assert_eq!(kept.kind(), once.kind());
        }
        // The environment as the load saw it, and the variables.
        let health = format!("{:?}", probes(&kept)[0].spec().expect("read again"));
        assert!(
            health.contains("tok-123456") && health.contains("/ready"),
            "{health}"
        );
        assert_eq!(
            probes(&kept)[1].pos,
            Pos {
                line: 14,
                column: 9
            }
        );
    }

    #[test]
    fn probes_kept_as_text_are_read_again_from_the_open_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.yaml");
        let source = "version: 1\ntarget: http://127.0.0.1:9\nitems:\n  - item: A\n    probes:\n      - http:\n          get: /a\n  - item: B\n    probes:\n      - http:\n          get: /b\n";
        std::fs::write(&path, source).expect("write");
        let env = |_: &str| None;
        let options = LoadOptions {
            target: None,
            sets: &[],
            env: &env,
        };
        let opened = std::fs::File::open(&path).expect("open");
        let (file, diagnostics) = read_keeping_text(&path, source, Some(opened), &options, true);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let file = file.expect("loaded");
        let (a, b) = (&file.items[0].probes[0], &file.items[1].probes[0]);
        assert!(a.is_text() && b.is_text());
        assert!(format!("{:?}", b.spec().expect("read again")).contains("/b"));
        // Another file renamed to the path: the open one is still read.
        let other = dir.path().join("other.yaml");
        std::fs::write(&other, source.replace("/a", "/z")).expect("write");
        std::fs::rename(&other, &path).expect("rename");
        assert!(format!("{:?}", a.spec().expect("read again")).contains("/a"));
        // The loaded file itself changed in place: an error, not another probe.
        let opened = std::fs::File::open(&path).expect("open");
        let (file, _) = read_keeping_text(
            &path,
            &source.replace("/a", "/z"),
            Some(opened),
            &options,
            true,
        );
        let file = file.expect("loaded");
        std::fs::write(&path, source.replace("/b", "/y")).expect("rewrite in place");
        let err = file.items[1].probes[0].spec().expect_err("changed");
        assert!(err.contains("changed since it was loaded"), "{err}");
        assert!(err.contains("p.yaml:10:9"), "{err}");
        // Cut short: the same error.
        std::fs::write(&path, &source[..source.len() - 8]).expect("truncate in place");
        let err = file.items[1].probes[0].spec().expect_err("changed");
        assert!(err.contains("changed since it was loaded"), "{err}");
    }

    #[test]
    fn values_used_as_credentials_are_secrets_whatever_their_source() {
        let file = load(
            r#"version: 1
target: http://127.0.0.1:9
items:
  - item: A
    probes:
      - auth: {url: /a, basic: {user: bob, password: "${env:PLAIN}"}}
      - auth: {url: /b, header: {name: X-API-Key, value: "${env:OTHER}"}}
      - http: {url: "http://u:literal-pw-9@127.0.0.1:9/x?token=literal-tok-8&page=2"}
      - tcp: {address: "127.0.0.1:9", send: "AUTH redis-pw-7\r\nPING\r\n"}
      - http: {get: "/p?from=${env:HOST}"}
"#,
        )
        .expect("valid");
        for secret in [
            "plain-value-1",
            "bob:plain-value-1",
            "other-value-2",
            "literal-pw-9",
            "u:literal-pw-9",
            "literal-tok-8",
            "redis-pw-7",
        ] {
            assert!(file.secrets.contains(secret), "{secret}");
        }
        assert!(!file.secrets.contains("http://127.0.0.1:9"));
        assert!(!file.secrets.contains("2"));
        let named: Vec<_> = file.secrets.variables().map(|(n, _)| n).collect();
        assert_eq!(named, ["OTHER", "PLAIN"]);
    }

    #[test]
    fn collects_every_error_with_positions() {
        let errs = errors(
            "version: 1\ntarget: http://x\nitems:\n  - item: A\n    probes:\n      - http: {get: /a, timout: 5s}\n  - item: B\n    probes:\n      - htp: {get: /b}\n      - http: {get: /c, expect: {latency: {max: soon}}}\n",
        );
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs[0].starts_with("p.yaml:6:25: unknown field `timout`"),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with("p.yaml:9:9: unknown probe kind `htp`"),
            "{errs:?}"
        );
        assert!(
            errs[2].starts_with("p.yaml:10:49: invalid duration `soon`"),
            "{errs:?}"
        );
    }

    #[test]
    fn every_mistake_in_one_probe_is_reported_without_cascades() {
        let errs = errors(
            "version: 1\ntarget: http://x\nitems:\n  - item: A\n    probes:\n      - http:\n          get: /a\n          hedaers: {a: b}\n          expect:\n            json:\n              $.a: { matches: \"(\" }\n",
        );
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].starts_with("p.yaml:8:11: unknown field `hedaers`"),
            "{errs:?}"
        );
        assert!(errs[1].contains("invalid regex"), "{errs:?}");
    }

    #[test]
    fn unset_variables_are_errors_at_their_column() {
        let errs = errors(
            "version: 1\ntarget: http://x\nitems:\n  - item: A\n    probes:\n      - http: {get: \"/a?k=${env:NOPE}\"}\n",
        );
        assert_eq!(
            errs,
            vec![
                "p.yaml:6:27: environment variable `NOPE` is not set (give a default with `${env:NOPE:-…}`)"
            ]
        );
    }

    #[test]
    fn yaml_syntax_errors_name_the_position() {
        let errs = errors("version: 1\nitems: [\n");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("p.yaml:2:"), "{errs:?}");
        assert!(errs[0].contains("invalid YAML"), "{errs:?}");
    }

    #[test]
    fn a_target_without_scheme_suggests_one() {
        let err = parse_target("example.com").expect_err("no scheme");
        assert!(err.contains("relative URL without a base"), "{err}");
        assert!(
            err.ends_with("did you mean `https://example.com`?"),
            "{err}"
        );
        let err = parse_target("localhost:8080/api").expect_err("no scheme");
        assert!(
            err.ends_with("did you mean `http://localhost:8080/api`?"),
            "{err}"
        );
        let err = parse_target("127.0.0.1:9").expect_err("no scheme");
        assert!(err.ends_with("did you mean `http://127.0.0.1:9`?"), "{err}");
        let err = parse_target("ftp://example.com").expect_err("wrong scheme");
        assert!(!err.contains("did you mean"), "{err}");
        assert!(parse_target("https://example.com").is_ok());
    }

    #[test]
    fn a_checklist_given_as_a_probe_file_says_so() {
        let errs =
            errors("# Readiness\n\n## Core\n\n- [x] Health endpoint returns 200\n- [ ] Backups\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(
            errs[0],
            "p.yaml:5:1: `p.yaml` is a markdown checklist, not a probe file"
        );
        let options = LoadOptions {
            target: None,
            sets: &[],
            env: &|_| None,
        };
        let errs =
            load_str(Path::new("READINESS.md"), "# Plain notes\n", &options).expect_err("markdown");
        assert!(errs[0].message.contains("is a markdown checklist"));
        let help = errs[0].help.as_deref().unwrap_or_default();
        assert!(help.contains("vouch init READINESS.md"), "{help}");
        // Still a YAML error when the text has no task items.
        let errs = errors("version: 1\nitems: [\n");
        assert!(errs[0].contains("invalid YAML"), "{errs:?}");
    }

    #[test]
    fn task_lines_are_recognised() {
        for line in [
            "- [ ] a",
            "  * [x] b",
            "1. [X] c",
            "> - [ ] quoted",
            "+ [ ]",
        ] {
            assert!(is_task_line(line), "{line}");
        }
        for line in [
            "- [] a",
            "-[ ] a",
            "status: [ ]",
            "- [y] a",
            "12 [ ] a",
            "- [x]a",
        ] {
            assert!(!is_task_line(line), "{line}");
        }
    }

    #[test]
    fn rejects_bad_targets_and_versions() {
        let errs = errors("version: 2\ntarget: ftp://x\nitems: []\n");
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].contains("unsupported version 2"));
        assert!(errs[1].contains("invalid target URL"));
    }

    #[test]
    fn an_endless_attestation_is_a_load_error() {
        let errs = errors(
            "version: 1\nitems:\n  - item: A\n    attested: {by: ops, on: 2026-11-01, valid_for: 10000y}\n",
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("past the year 9999"), "{errs:?}");
    }

    #[test]
    fn attested_items_need_no_probes() {
        let file = load(
            "version: 1\nitems:\n  - item: Backups tested\n    attested: {by: ops, on: 2026-11-01, valid_for: 90d, note: drill}\n",
        )
        .expect("valid");
        let a = file.items[0].attested.as_ref().expect("attested");
        assert_eq!(a.by, "ops");
        assert!(a.expires() > a.on.0);
    }

    fn load_with_target(source: &str, target: Option<&str>) -> Result<ProbeFile, Vec<Diagnostic>> {
        load_str(
            Path::new("p.yaml"),
            source,
            &LoadOptions {
                target,
                sets: &[],
                env: &|_: &str| None,
            },
        )
    }

    #[test]
    fn a_path_without_a_target_is_a_load_error_at_the_path() {
        let source = "version: 1\nitems:\n  - item: A\n    probes:\n      - http: {get: /health}\n      - http: {get: \"http://127.0.0.1:9/x\"}\n      - tcp: {}\n      - health: {}\n";
        let errs = load_with_target(source, None).expect_err("no target");
        let shown: Vec<String> = errs
            .iter()
            .map(|d| format!("{}: {}", d.location(), d.message))
            .collect();
        assert_eq!(
            shown,
            vec![
                "p.yaml:5:21: `/health` is a path on the target, but no target is set",
                "p.yaml:7:9: this `tcp` probe connects to the target, but no target is set",
                "p.yaml:8:9: `/health` is a path on the target, but no target is set",
            ]
        );
        let help = errs[0].help.as_deref().unwrap_or_default();
        assert!(
            help.contains("`--target URL`") && help.contains("`target:"),
            "{help}"
        );
        assert!(
            errs[1]
                .help
                .as_deref()
                .unwrap_or_default()
                .contains("`address: host:port`")
        );
        // `--target` satisfies every one of them.
        load_with_target(source, Some("http://127.0.0.1:9")).expect("a target");
    }

    #[test]
    fn a_url_that_does_not_parse_is_a_load_error() {
        let errs = errors(
            "version: 1\ntarget: http://x\nitems:\n  - item: A\n    probes:\n      - http: {get: \"https://exa mple.com/\"}\n",
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("p.yaml:6:21: invalid URL `https://exa mple.com/`"),
            "{errs:?}"
        );
    }

    #[test]
    fn tls_files_are_read_at_load_relative_to_the_probe_file() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("junk.pem"), "not pem\n").expect("write");
        let path = dir.path().join("p.yaml");
        let source = "version: 1\ntarget: https://x\ndefaults:\n  ca: missing.pem\nitems:\n  - item: A\n    probes:\n      - http: {get: /a, ca: junk.pem}\n      - http: {get: /b, client_cert: junk.pem}\n";
        let errs: Vec<String> = load_str(
            &path,
            source,
            &LoadOptions {
                target: None,
                sets: &[],
                env: &|_: &str| None,
            },
        )
        .expect_err("bad files")
        .iter()
        .map(|d| format!("{}: {}", d.pos, d.message))
        .collect();
        assert_eq!(errs.len(), 4, "{errs:?}");
        let tried = dir.path().join("missing.pem");
        assert_eq!(
            errs[0],
            format!(
                "4:7: cannot read the CA file `missing.pem`: no such file (tried `{}`, relative to the probe file)",
                tried.display()
            )
        );
        assert!(
            errs[1].starts_with("8:29: the CA file `junk.pem` holds no PEM certificate"),
            "{errs:?}"
        );
        assert!(
            errs[2].starts_with("9:38: the client certificate `junk.pem` holds no PEM"),
            "{errs:?}"
        );
        assert_eq!(
            errs[3],
            "9:38: `client_cert` is given without `client_key`: mTLS needs both"
        );
    }

    /// `ca: ""` read the probe file's directory as the CA at run time: written
    /// empty it is a load error; left empty by a variable it is unset.
    #[test]
    fn an_empty_tls_file_is_an_error_written_and_unset_from_a_variable() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.yaml");
        let options = LoadOptions {
            target: None,
            sets: &[],
            env: &|_: &str| None,
        };
        let written = "version: 1\ntarget: https://x\nitems:\n  - item: A\n    probes:\n      - http: {get: /a, ca: \"\"}\n      - tls: {client_key: '', client_cert: ''}\n";
        let errs: Vec<String> = load_str(&path, written, &options)
            .expect_err("empty files")
            .iter()
            .map(|d| format!("{}: {}", d.pos, d.message))
            .collect();
        assert_eq!(
            errs,
            [
                "6:29: `ca` is empty: give a PEM file or remove the setting",
                "7:27: `client_key` is empty: give a PEM file or remove the setting",
                "7:44: `client_cert` is empty: give a PEM file or remove the setting",
            ],
        );
        let from_env = "version: 1\ntarget: https://x\nvars:\n  ca: ${env:CA:-}\ndefaults:\n  ca: ${env:CA:-}\nitems:\n  - item: A\n    probes:\n      - http: {get: /a, ca: \"${var:ca}\"}\n";
        let file = load_str(&path, from_env, &options).expect("unset, not empty");
        assert_eq!(file.defaults.ca, None);
        // Set, the variable names the file, which is read at load.
        let set = |name: &str| (name == "CA").then(|| "missing.pem".to_owned());
        let options = LoadOptions {
            env: &set,
            ..options
        };
        let errs = load_str(&path, from_env, &options).expect_err("a missing file");
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs.iter()
                .all(|d| d.message.contains("cannot read the CA file `missing.pem`")),
            "{errs:?}"
        );
    }

    #[test]
    fn a_client_identity_may_be_split_between_defaults_and_a_probe_but_must_match() {
        let dir = tempfile::tempdir().expect("dir");
        let identity = |name: &str| {
            let key = rcgen::KeyPair::generate().expect("key");
            let params = rcgen::CertificateParams::new(vec!["client".to_owned()]).expect("params");
            let cert = params.self_signed(&key).expect("cert");
            std::fs::write(dir.path().join(format!("{name}.pem")), cert.pem()).expect("write");
            std::fs::write(
                dir.path().join(format!("{name}-key.pem")),
                key.serialize_pem(),
            )
            .expect("write");
        };
        identity("a");
        identity("b");
        let load_in = |source: &str| {
            load_str(
                &dir.path().join("p.yaml"),
                source,
                &LoadOptions {
                    target: None,
                    sets: &[],
                    env: &|_: &str| None,
                },
            )
        };
        let head = "version: 1\ntarget: https://x\ndefaults:\n  client_cert: a.pem\nitems:\n  - item: A\n    probes:\n";
        load_in(&format!(
            "{head}      - http: {{get: /a, client_key: a-key.pem}}\n"
        ))
        .expect("a pair across defaults and the probe");
        let errs = load_in(&format!(
            "{head}      - http: {{get: /a, client_key: b-key.pem}}\n      - tls: {{client_cert: a.pem}}\n"
        ))
        .expect_err("a stranger key, a cert alone");
        let shown: Vec<String> = errs
            .iter()
            .map(|d| format!("{}: {}", d.pos, d.message))
            .collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0].starts_with("8:37: the client certificate `a.pem` and the client key `b-key.pem` do not belong together"),
            "{shown:?}"
        );
        // The `tls` kind says it itself: once.
        assert!(
            shown[1].ends_with("`client_cert` and `client_key` must be given together"),
            "{shown:?}"
        );
    }

    #[test]
    fn schema_lists_every_kind() {
        let schema = json_schema().to_string();
        for kind in KINDS {
            assert!(schema.contains(&format!("\"{kind}\"")), "{kind} missing");
        }
    }
}
