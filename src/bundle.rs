//! The evidence bundle (`vouch run --evidence DIR|FILE.tar.gz`): what a run
//! verified, kept for an auditor. The report (JSON and HTML), the checklist
//! written back, each probe's evidence as its own file, the probe files and
//! checklist as they were loaded, and `manifest.json` with the SHA-256 of
//! every file; `SHA256SUMS` lets `sha256sum -c` check it without vouch, and
//! `--sign-key` signs the manifest with ed25519.
//!
//! Everything is built from the report in memory: writing a bundle never
//! touches the target again. `vouch verify-bundle` recomputes every hash.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::pkcs8::spki::DecodePublicKey;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::redact::Redactor;
use crate::report::{Format, Report};

/// The manifest's schema identifier.
pub const SCHEMA_ID: &str = "vouch.bundle/v1";
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The signature of the manifest (hex ed25519, one line).
pub const SIGNATURE: &str = "manifest.json.sig";
/// The `sha256sum` list.
pub const SUMS: &str = "SHA256SUMS";

/// A file as vouch loaded it: its path as given and its bytes, read once at
/// load time so the bundle holds what the run used.
#[derive(Debug, Clone)]
pub struct Input {
    /// The path as given.
    pub path: PathBuf,
    /// The bytes read.
    pub bytes: Vec<u8>,
}

impl Input {
    /// Reads `path`.
    pub fn read(path: &Path) -> io::Result<Input> {
        Ok(Input {
            path: path.to_owned(),
            bytes: std::fs::read(path)?,
        })
    }
}

/// What a run loaded: the probe files and the checklist.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The probe files, in the order given.
    pub probe_files: Vec<Input>,
    /// The checklist, when there was one.
    pub checklist: Option<Input>,
}

impl Inputs {
    /// Reads the probe files and checklist of a run once more, right after
    /// they were loaded, so the bundle holds them byte for byte.
    pub fn read(
        files: &[crate::spec::ProbeFile],
        checklist: Option<&crate::checklist::Checklist>,
    ) -> Result<Inputs, BundleError> {
        let probe_files = files
            .iter()
            .map(|f| Input::read(&f.path).map_err(|e| io_error(&f.path, e)))
            .collect::<Result<_, _>>()?;
        let checklist = match checklist.and_then(|c| c.path.as_deref()) {
            Some(path) => Some(Input::read(path).map_err(|e| io_error(path, e))?),
            None => None,
        };
        Ok(Inputs {
            probe_files,
            checklist,
        })
    }
}

/// The redactor of a run: every secret of every probe file.
pub fn redactor(files: &[crate::spec::ProbeFile]) -> Redactor {
    let mut secrets = crate::redact::Secrets::default();
    files.iter().for_each(|f| secrets.extend(&f.secrets));
    Redactor::new(&secrets)
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `vouch.bundle/v1`.
    pub schema: String,
    /// The vouch version that wrote the bundle.
    pub vouch_version: String,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// When it ended (RFC 3339).
    pub finished_at: String,
    /// The target (the first probe file's).
    pub target: String,
    /// The command line, every secret of the run redacted.
    pub command_line: Vec<String>,
    /// The probe files and checklist as loaded: where they were, where they
    /// are in the bundle, and their SHA-256.
    pub inputs: Vec<InputRecord>,
    /// The SHA-256 (hex) of every other file of the bundle, by its path in it.
    pub files: BTreeMap<String, String>,
}

/// One loaded file in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputRecord {
    /// `probe_file` or `checklist`.
    pub role: String,
    /// The path vouch read it from.
    pub path: String,
    /// Its copy in the bundle.
    pub bundle_path: String,
    /// The SHA-256 (hex) of the bytes loaded.
    pub sha256: String,
}

/// A bundle in memory: file paths (with `/`) and contents, in order.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    files: BTreeMap<String, Vec<u8>>,
}

/// Errors of bundles and keys.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// Where.
        path: String,
        /// Why.
        error: io::Error,
    },
    /// A key file is not an ed25519 key in PEM.
    #[error("{path}: not an ed25519 {what} in PEM (PKCS#8): {why}")]
    Key {
        /// Where.
        path: String,
        /// `private key` or `public key`.
        what: &'static str,
        /// What the decoder said.
        why: String,
    },
    /// The input is neither a bundle directory nor a readable `.tar.gz`.
    #[error("{0}")]
    Unreadable(String),
    /// A file of the bundle could not be serialised.
    #[error("cannot serialise {what}: {error}")]
    Serialise {
        /// Which file.
        what: &'static str,
        /// Why.
        error: serde_json::Error,
    },
}

fn io_error(path: &Path, error: io::Error) -> BundleError {
    BundleError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// The SHA-256 of `bytes` in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Whether `path` names a tarball (`.tar.gz`, `.tgz`) rather than a directory.
pub fn is_tarball(path: &Path) -> bool {
    let name = path.to_string_lossy().to_ascii_lowercase();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// Reads an ed25519 private key (`openssl genpkey -algorithm ed25519`).
pub fn read_signing_key(path: &Path) -> Result<SigningKey, BundleError> {
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, e))?;
    SigningKey::from_pkcs8_pem(&text).map_err(|e| BundleError::Key {
        path: path.display().to_string(),
        what: "private key",
        why: e.to_string(),
    })
}

/// Reads an ed25519 public key (`openssl pkey -in key.pem -pubout`).
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, BundleError> {
    let text = std::fs::read_to_string(path).map_err(|e| io_error(path, e))?;
    VerifyingKey::from_public_key_pem(&text).map_err(|e| BundleError::Key {
        path: path.display().to_string(),
        what: "public key",
        why: e.to_string(),
    })
}

/// A path component from text: lowercase letters, digits and `-`, at most
/// 48 characters (`health-works-get-health`).
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 48 {
            break;
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "probe".to_owned()
    } else {
        out.to_owned()
    }
}

/// The file name of a path, made safe for a bundle path.
fn file_name(path: &Path, fallback: &str) -> String {
    let name: String = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        fallback.to_owned()
    } else {
        name
    }
}

/// One probe's evidence file: which item, and the probe's whole outcome.
#[derive(Serialize)]
struct ProbeEvidence<'a> {
    item: &'a str,
    file: &'a str,
    item_location: &'a str,
    probe: &'a crate::outcome::ProbeOutcome,
}

impl Bundle {
    /// Builds the bundle of a finished run from its report, the files it
    /// loaded and its command line (redacted here with `redactor`); signs
    /// the manifest with `key` when given.
    pub fn build(
        report: &Report,
        inputs: &Inputs,
        command_line: &[String],
        redactor: &Redactor,
        key: Option<&SigningKey>,
    ) -> Result<Bundle, BundleError> {
        let mut files = BTreeMap::new();
        let json = report.render(Format::Json, false);
        files.insert("report.json".to_owned(), json.into_bytes());
        files.insert(
            "report.html".to_owned(),
            report.render(Format::Html, false).into_bytes(),
        );
        if report.checklist_doc.is_some() {
            files.insert(
                "checklist.verified.md".to_owned(),
                report.render(Format::Markdown, false).into_bytes(),
            );
        }
        let mut number = 0usize;
        for item in &report.items {
            for probe in &item.probes {
                number += 1;
                let name = format!(
                    "probes/{number:03}-{}.json",
                    slug(&format!("{} {}", item.item, probe.name))
                );
                let record = ProbeEvidence {
                    item: &item.item,
                    file: &item.file,
                    item_location: &item.location,
                    probe,
                };
                let mut bytes =
                    serde_json::to_vec_pretty(&record).map_err(|error| BundleError::Serialise {
                        what: "a probe's evidence",
                        error,
                    })?;
                bytes.push(b'\n');
                files.insert(name, bytes);
            }
        }
        let mut records = Vec::new();
        for (index, input) in inputs.probe_files.iter().enumerate() {
            let name = format!(
                "inputs/probe-files/{:02}-{}",
                index + 1,
                file_name(&input.path, "probes.yaml")
            );
            records.push(record("probe_file", input, &name));
            files.insert(name, input.bytes.clone());
        }
        if let Some(input) = &inputs.checklist {
            let name = format!(
                "inputs/checklist/{}",
                file_name(&input.path, "checklist.md")
            );
            records.push(record("checklist", input, &name));
            files.insert(name, input.bytes.clone());
        }
        let manifest = Manifest {
            schema: SCHEMA_ID.to_owned(),
            vouch_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: report.started_at.clone(),
            finished_at: report.finished_at.clone(),
            target: report.target().to_owned(),
            command_line: command_line
                .iter()
                .map(|arg| redactor.text(arg).into_owned())
                .collect(),
            inputs: records,
            files: files
                .iter()
                .map(|(name, bytes)| (name.clone(), sha256_hex(bytes)))
                .collect(),
        };
        let mut manifest =
            serde_json::to_vec_pretty(&manifest).map_err(|error| BundleError::Serialise {
                what: "the manifest",
                error,
            })?;
        manifest.push(b'\n');
        if let Some(key) = key {
            let signature = key.sign(&manifest);
            files.insert(
                SIGNATURE.to_owned(),
                format!("{}\n", hex(&signature.to_bytes())).into_bytes(),
            );
        }
        files.insert(MANIFEST.to_owned(), manifest);
        let sums: String = files
            .iter()
            .map(|(name, bytes)| format!("{}  {name}\n", sha256_hex(bytes)))
            .collect();
        files.insert(SUMS.to_owned(), sums.into_bytes());
        Ok(Bundle { files })
    }

    /// The files, by path in the bundle.
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }

    /// Writes the bundle to `path`: a `.tar.gz` when the name says so, else
    /// a directory. A directory is written beside and renamed into place; an
    /// existing directory is replaced only when it is empty or an earlier
    /// bundle (it holds `manifest.json`).
    pub fn write(&self, path: &Path) -> Result<(), BundleError> {
        if is_tarball(path) {
            let file =
                crate::report::output::ReportFile::create(path).map_err(|e| io_error(path, e))?;
            file.commit(|out| self.write_tarball(out))
                .map_err(|e| io_error(path, e))
        } else {
            self.write_dir(path).map_err(|e| io_error(path, e))
        }
    }

    fn write_tarball(&self, out: &mut dyn Write) -> io::Result<()> {
        let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        // Fixed owner, mode and time: the same bundle gives the same bytes.
        for (name, bytes) in &self.files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, name, bytes.as_slice())?;
        }
        tar.into_inner()?.finish()?.flush()
    }

    fn write_dir(&self, path: &Path) -> io::Result<()> {
        check_destination(path)?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a directory name"))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".tmp-{}", std::process::id()));
        let temp = parent.join(temp_name);
        let written = (|| {
            std::fs::create_dir(&temp)?;
            for (name, bytes) in &self.files {
                let file = temp.join(name);
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&file, bytes)?;
            }
            if path.exists() {
                std::fs::remove_dir_all(path)?;
            }
            std::fs::rename(&temp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_dir_all(&temp);
        }
        written
    }
}

/// Whether a bundle may be written at `path`: a new path, an empty
/// directory, or an earlier bundle. Checked before a run, so a wrong
/// `--evidence` costs no traffic.
pub fn check_destination(path: &Path) -> io::Result<()> {
    if is_tarball(path) {
        return Ok(());
    }
    match std::fs::read_dir(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(mut entries) => {
            if entries.next().is_none() || path.join(MANIFEST).is_file() {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "is a directory that holds other files than an evidence bundle",
                ))
            }
        }
    }
}

fn record(role: &str, input: &Input, bundle_path: &str) -> InputRecord {
    InputRecord {
        role: role.to_owned(),
        path: input.path.display().to_string(),
        bundle_path: bundle_path.to_owned(),
        sha256: sha256_hex(&input.bytes),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// Reads a bundle from a directory or a `.tar.gz` into memory.
pub fn read(path: &Path) -> Result<BTreeMap<String, Vec<u8>>, BundleError> {
    let mut files = BTreeMap::new();
    let metadata = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
    if metadata.is_dir() {
        for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
            let entry = entry.map_err(|e| BundleError::Unreadable(e.to_string()))?;
            if entry.file_type().is_dir() {
                continue;
            }
            let relative = entry
                .path()
                .strip_prefix(path)
                .map_err(|e| BundleError::Unreadable(e.to_string()))?;
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let bytes = std::fs::read(entry.path()).map_err(|e| io_error(entry.path(), e))?;
            files.insert(name, bytes);
        }
        return Ok(files);
    }
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let unreadable = |e: io::Error| {
        BundleError::Unreadable(format!(
            "{}: not a directory or a readable .tar.gz: {e}",
            path.display()
        ))
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        let name = entry
            .path()
            .map_err(unreadable)?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(unreadable)?;
        files.insert(name, bytes);
    }
    Ok(files)
}

/// What `verify-bundle` found.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Files whose content differs from their recorded hash.
    pub changed: Vec<String>,
    /// Files in the bundle that no hash list names.
    pub added: Vec<String>,
    /// Files a hash list names that are not in the bundle.
    pub missing: Vec<String>,
    /// Other problems (an unparsable manifest or hash list).
    pub problems: Vec<String>,
    /// Files whose hash matched.
    pub verified: usize,
    /// The signature check, when a public key was given: `Ok` or why not.
    pub signature: Option<Result<(), String>>,
}

impl Verification {
    /// Whether the bundle is intact (and signed by the key, when one was given).
    pub fn ok(&self) -> bool {
        self.changed.is_empty()
            && self.added.is_empty()
            && self.missing.is_empty()
            && self.problems.is_empty()
            && !matches!(self.signature, Some(Err(_)))
    }

    /// The human report of the check, one finding per line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for name in &self.changed {
            out.push_str(&format!("changed: {name}\n"));
        }
        for name in &self.added {
            out.push_str(&format!("added: {name}\n"));
        }
        for name in &self.missing {
            out.push_str(&format!("missing: {name}\n"));
        }
        for problem in &self.problems {
            out.push_str(&format!("problem: {problem}\n"));
        }
        match &self.signature {
            Some(Ok(())) => out.push_str("signature: valid for the given public key\n"),
            Some(Err(why)) => out.push_str(&format!("signature: INVALID: {why}\n")),
            None => {}
        }
        if self.ok() {
            out.push_str(&format!(
                "ok: {} files match their SHA-256\n",
                self.verified
            ));
        } else {
            out.push_str("FAILED: the bundle is not as vouch wrote it\n");
        }
        out
    }
}

/// Parses `SHA256SUMS` (`HASH  NAME` or `HASH *NAME` lines).
fn parse_sums(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut sums = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let parsed = line.split_once(' ').and_then(|(hash, rest)| {
            let name = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*'))?;
            (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (name.to_owned(), hash.to_ascii_lowercase()))
        });
        match parsed {
            Some((name, hash)) => {
                sums.insert(name, hash);
            }
            None => return Err(format!("{SUMS} line {}: not `HASH  NAME`", number + 1)),
        }
    }
    Ok(sums)
}

/// Checks a bundle read with [`read`]: every hash in `SHA256SUMS` and in
/// the manifest, files added or missing, and the signature when `key` is given.
pub fn verify(files: &BTreeMap<String, Vec<u8>>, key: Option<&VerifyingKey>) -> Verification {
    let mut result = Verification::default();
    // name -> every hash recorded for it (SHA256SUMS, manifest).
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    match files.get(SUMS) {
        None => result.missing.push(SUMS.to_owned()),
        Some(bytes) => match parse_sums(&String::from_utf8_lossy(bytes)) {
            Ok(sums) => {
                for (name, hash) in sums {
                    expected.entry(name).or_default().push(hash);
                }
            }
            Err(problem) => result.problems.push(problem),
        },
    }
    let manifest = files.get(MANIFEST);
    match manifest {
        None => {
            if !result.missing.iter().any(|m| m == MANIFEST) {
                result.missing.push(MANIFEST.to_owned());
            }
        }
        Some(bytes) => match serde_json::from_slice::<Manifest>(bytes) {
            Ok(m) if m.schema == SCHEMA_ID => {
                for (name, hash) in m.files {
                    expected.entry(name).or_default().push(hash);
                }
            }
            Ok(m) => result.problems.push(format!(
                "{MANIFEST}: schema `{}`, expected `{SCHEMA_ID}`",
                m.schema
            )),
            Err(e) => result.problems.push(format!("{MANIFEST}: {e}")),
        },
    }
    for (name, hashes) in &expected {
        match files.get(name) {
            None => result.missing.push(name.clone()),
            Some(bytes) => {
                let actual = sha256_hex(bytes);
                if hashes.iter().all(|h| *h == actual) {
                    result.verified += 1;
                } else {
                    result.changed.push(name.clone());
                }
            }
        }
    }
    result.missing.sort();
    result.missing.dedup();
    let known: BTreeSet<&str> = expected.keys().map(String::as_str).collect();
    result.added = files
        .keys()
        .filter(|name| name.as_str() != SUMS && !known.contains(name.as_str()))
        .cloned()
        .collect();
    if let Some(key) = key {
        result.signature = Some(check_signature(files, key));
    }
    result
}

fn check_signature(files: &BTreeMap<String, Vec<u8>>, key: &VerifyingKey) -> Result<(), String> {
    let manifest = files.get(MANIFEST).ok_or(format!("no {MANIFEST}"))?;
    let text = files
        .get(SIGNATURE)
        .ok_or(format!("no {SIGNATURE}: the bundle is not signed"))?;
    let bytes = unhex(&String::from_utf8_lossy(text))
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .ok_or(format!("{SIGNATURE}: not a hex ed25519 signature"))?;
    key.verify_strict(manifest, &Signature::from_bytes(&bytes))
        .map_err(|_| "the manifest was not signed by this key, or was changed".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_path_safe() {
        assert_eq!(slug("Health works GET /health"), "health-works-get-health");
        assert_eq!(slug("../../etc"), "etc");
        assert_eq!(slug("«»"), "probe");
    }

    #[test]
    fn sums_parse_both_spellings() {
        let hash = "a".repeat(64);
        let sums = parse_sums(&format!("{hash}  report.json\n{hash} *b c\n")).expect("parses");
        assert_eq!(sums.len(), 2);
        assert!(sums.contains_key("b c"));
        assert!(parse_sums("nothex  x\n").is_err());
    }

    #[test]
    fn a_tarball_is_the_same_bytes_each_time() {
        let mut files = BTreeMap::new();
        files.insert("b/c.json".to_owned(), b"{}".to_vec());
        files.insert("a.txt".to_owned(), b"one".to_vec());
        let bundle = Bundle { files };
        let (mut first, mut second) = (Vec::new(), Vec::new());
        bundle.write_tarball(&mut first).expect("write");
        bundle.write_tarball(&mut second).expect("write");
        assert_eq!(first, second);
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("b.tar.gz");
        std::fs::write(&path, &first).expect("write");
        assert_eq!(read(&path).expect("read back"), bundle.files);
    }

    #[test]
    fn a_changed_file_is_named() {
        let mut files = BTreeMap::new();
        files.insert("a.txt".to_owned(), b"one".to_vec());
        files.insert(
            SUMS.to_owned(),
            format!(
                "{}  a.txt\n{}  gone.txt\n",
                sha256_hex(b"two"),
                sha256_hex(b"x")
            )
            .into_bytes(),
        );
        files.insert("new.txt".to_owned(), b"x".to_vec());
        let v = verify(&files, None);
        assert_eq!(v.changed, ["a.txt"]);
        assert_eq!(v.missing, ["gone.txt", "manifest.json"]);
        assert_eq!(v.added, ["new.txt"]);
        assert!(!v.ok());
    }
}
