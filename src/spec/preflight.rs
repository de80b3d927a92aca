//! What loading checks beyond the format, still without any traffic: that a
//! target is set for every probe that resolves a path against it, that URLs
//! parse, and that the TLS files each probe names are readable PEM of the
//! right kind. These are the user's mistakes: exit 2, not a failed probe.

use std::path::{Path, PathBuf};

use super::Loader;
use super::node::{Key, Node, Pos, Value};
use super::pem::{self, Role};
use crate::probe::{ProbeSpec, absolute_url};

/// The client identity fields written at one level (`defaults:` or a
/// probe's settings), with where each value was written.
#[derive(Debug, Clone, Default)]
pub(super) struct Identity {
    cert: Option<(PathBuf, Pos)>,
    key: Option<(PathBuf, Pos)>,
}

/// A check whose answer is kept: files are read once however many probes name them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Checked {
    File(Role, PathBuf),
    Pair(PathBuf, PathBuf),
}

impl Loader<'_> {
    /// Checks every TLS file named directly in `settings` (a kind's settings
    /// or `defaults:`) and returns the client identity written there.
    pub(super) fn tls_files(&mut self, settings: &Node<'_>) -> Identity {
        let mut identity = Identity::default();
        let Some(entries) = settings.as_map() else {
            return identity;
        };
        for (key, value) in entries {
            let Some(role) = Role::ALL
                .iter()
                .find(|(field, _)| *field == key.name)
                .map(|(_, role)| *role)
            else {
                continue;
            };
            // Anything but a string is a type error the settings report.
            let Some(text) = value.as_str() else {
                continue;
            };
            // Left empty by a variable, it was unset (`without_unset_tls_files`);
            // written empty, it is a mistake: the directory would be read.
            if text.is_empty() {
                self.error(
                    value.pos,
                    format!(
                        "`{}` is empty: give a PEM file or remove the setting",
                        key.name
                    ),
                );
                continue;
            }
            let written = PathBuf::from(text);
            let base_dir = self.base_dir.clone();
            let result = self.remember(Checked::File(role, written.clone()), || {
                pem::check(role, &written, &base_dir)
            });
            if let Err(message) = result {
                self.error(value.pos, message);
            }
            match role {
                Role::Ca => {}
                Role::ClientCert => identity.cert = Some((written, value.pos)),
                Role::ClientKey => identity.key = Some((written, value.pos)),
            }
        }
        identity
    }

    /// `settings` without the TLS file fields (`ca`, `client_cert`,
    /// `client_key`) that variables left empty — `ca: ${env:CA:-}` means
    /// "no private CA" — or `None` when there is none to drop.
    pub(super) fn without_unset_tls_files<'s>(&self, settings: &Node<'s>) -> Option<Node<'s>> {
        let unset = |key: &Key<'_>, value: &Node<'_>| {
            Role::ALL.iter().any(|(field, _)| *field == key.name)
                && value.as_str() == Some("")
                && self.emptied.contains(&value.pos)
        };
        let entries = settings.as_map()?;
        if !entries.iter().any(|(key, value)| unset(key, value)) {
            return None;
        }
        let kept = entries
            .iter()
            .filter(|(key, value)| !unset(key, value))
            .cloned()
            .collect();
        Some(Node {
            pos: settings.pos,
            value: Value::Map(kept),
        })
    }

    /// Checks a probe's client identity: its own `client_cert` and
    /// `client_key` complete those of `defaults:`; the two must come together
    /// and belong together. A mistake in `defaults:` is reported once, there.
    pub(super) fn check_identity(&mut self, own: &Identity) {
        let given = |i: &Identity| i.cert.is_some() || i.key.is_some();
        if !given(own) && !given(&self.defaults_identity) {
            return;
        }
        let inherited = self.defaults_identity.clone();
        let cert = own.cert.as_ref().or(inherited.cert.as_ref());
        let key = own.key.as_ref().or(inherited.key.as_ref());
        let where_ = if given(own) && given(&inherited) {
            " (here or in `defaults:`)"
        } else {
            ""
        };
        // A kind that checks the pair itself (`tls`) has said so on this line.
        let said = |diagnostics: &[super::Diagnostic], pos: &Pos| {
            diagnostics
                .iter()
                .any(|d| d.pos.line == pos.line && d.message.contains("must be given together"))
        };
        match (cert, key) {
            (Some((_, pos)), None) if !said(&self.diagnostics, pos) => self.error_once(
                *pos,
                format!("`client_cert` is given without `client_key`: mTLS needs both{where_}"),
            ),
            (None, Some((_, pos))) if !said(&self.diagnostics, pos) => self.error_once(
                *pos,
                format!("`client_key` is given without `client_cert`: mTLS needs both{where_}"),
            ),
            (Some(_), None) | (None, Some(_)) | (None, None) => {}
            (Some((cert, cert_pos)), Some((key, key_pos))) => {
                let pos = if own.cert.is_none() && own.key.is_some() {
                    *key_pos
                } else {
                    *cert_pos
                };
                let (cert, key) = (cert.clone(), key.clone());
                let base_dir = self.base_dir.clone();
                let result = self.remember(Checked::Pair(cert.clone(), key.clone()), || {
                    pem::check_pair(&cert, &key, &base_dir)
                });
                match result {
                    // An unreadable file is reported where it is named.
                    Err(message) if !message.starts_with("cannot read ") => {
                        self.error_once(pos, message);
                    }
                    _ => {}
                }
            }
        }
    }

    /// An error, unless the same one is already reported at `pos` (a
    /// mistake in `defaults:` seen from every probe).
    fn error_once(&mut self, pos: Pos, message: String) {
        if !self
            .diagnostics
            .iter()
            .any(|d| d.pos == pos && d.message == message)
        {
            self.error(pos, message);
        }
    }

    /// Checks the paths and URLs a probe resolves against the target: a URL
    /// must parse, and a path needs a target.
    pub(super) fn check_target(&mut self, spec: &ProbeSpec, kind: &Key<'_>, settings: &Node<'_>) {
        for path in spec.target_paths() {
            // An unset `${…}` was reported where it is written.
            if path.contains("${") || absolute_url(path).is_some() {
                continue;
            }
            let pos = || find_str(settings, path).unwrap_or(kind.pos);
            if has_scheme(path) {
                let why = match url::Url::parse(path) {
                    Ok(_) => "it has no host".to_owned(),
                    Err(e) => e.to_string(),
                };
                self.error(pos(), format!("invalid URL `{path}`: {why}"));
                continue;
            }
            if self.has_target {
                continue;
            }
            let (message, own) = if path.is_empty() {
                let own = match kind.name.as_ref() {
                    "tcp" => "`address: host:port`",
                    "tls" => "`endpoint: host:port`",
                    _ => "`url:` with an absolute URL",
                };
                (
                    format!(
                        "this `{}` probe connects to the target, but no target is set",
                        kind.name
                    ),
                    own,
                )
            } else {
                (
                    format!("`{path}` is a path on the target, but no target is set"),
                    "an absolute URL here",
                )
            };
            self.error(pos(), message);
            if let Some(last) = self.diagnostics.last_mut() {
                last.help = Some(format!(
                    "give `target: https://…` at the top of the file or `--target URL` on the command line, or {own}"
                ));
            }
        }
    }

    /// The answer of a check, computed once.
    fn remember(
        &mut self,
        what: Checked,
        check: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), String> {
        self.checked.entry(what).or_insert_with(check).clone()
    }
}

/// Whether `text` starts like a URL (`scheme://`), not a path.
fn has_scheme(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// Where the string `text` is written in `node`: its own entries first, then
/// nested ones, so `get: /x` is found before a header that happens to equal it.
fn find_str(node: &Node<'_>, text: &str) -> Option<Pos> {
    let children: Vec<&Node<'_>> = match &node.value {
        Value::Map(entries) => entries.iter().map(|(_, v)| v).collect(),
        Value::Seq(items) => items.iter().collect(),
        _ => return None,
    };
    children
        .iter()
        .find(|n| n.as_str() == Some(text))
        .map(|n| n.pos)
        .or_else(|| children.iter().find_map(|n| find_str(n, text)))
}

/// The directory relative paths of the probe file at `path` are read from.
pub(super) fn base_dir(path: &Path) -> PathBuf {
    path.parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_told_from_paths() {
        assert!(!has_scheme("http//x://y"));
        assert!(has_scheme("https://exa mple.com"));
        assert!(!has_scheme("/redirect?to=http://x"));
        assert!(!has_scheme("health"));
    }
}
