//! Where a `file` probe may look: paths resolved against the root, `..`
//! resolved before anything is read, symlinks resolved and held to the same
//! root, globs (`*`, `**`, `?`, `[…]`, `{a,b}`) walked with bounds.

use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use crate::expect;
use crate::probe::{Context, ProbeError};

/// The most paths a glob may select; more is reported, not read.
pub const MAX_MATCHES: usize = 1000;

/// The most directory entries a glob walks.
const MAX_WALKED: usize = 100_000;

/// `{a,b}c` → `ac`, `bc` (nested and several groups too); at most 64.
pub(super) fn expand_braces(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_owned()];
    };
    // The matching close brace, and the commas at this depth.
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, c) in pattern[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(open + i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_owned()];
    };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for pair in bounds.windows(2) {
        let alternative = &pattern[pair[0] + 1..pair[1]];
        for expanded in expand_braces(&format!("{head}{alternative}{tail}")) {
            if out.len() < 64 {
                out.push(expanded);
            }
        }
    }
    out
}

/// Whether a path as written is a glob.
pub(super) fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// One path found, with its stat.
#[derive(Debug)]
pub(super) struct Found {
    pub path: PathBuf,
    pub shown: String,
    pub kind: &'static str,
    pub size: u64,
    pub mode: u32,
    pub owner: Option<u32>,
    pub modified: Option<SystemTime>,
}

/// Where paths start and stay, with whether they may leave it.
pub(super) struct Finder {
    /// The root, absolute and without `..`.
    pub root: PathBuf,
    /// `allow_outside_root: true`.
    pub allow_outside_root: bool,
}

impl Finder {
    /// The root paths stay under, made absolute.
    pub fn root(cx: &Context) -> PathBuf {
        let root = match &cx.root {
            Some(r) => cx.base_dir.join(r),
            None => cx.base_dir.clone(),
        };
        normalize(&std::path::absolute(&root).unwrap_or(root))
    }

    /// Finds the paths the setting names (each alternative of `{a,b}`),
    /// refusing any outside the root.
    pub fn find(&self, path: &str) -> Result<(Vec<Found>, bool, PathBuf), ProbeError> {
        let root = self.root.as_path();
        let mut all: Vec<Found> = Vec::new();
        let mut truncated = false;
        let mut searched = None;
        for pattern in expand_braces(path) {
            let (found, cut, dir) = self.find_one(&pattern)?;
            truncated |= cut;
            searched.get_or_insert(dir);
            for f in found {
                if all.len() == MAX_MATCHES {
                    truncated = true;
                    break;
                }
                if !all.iter().any(|a| a.path == f.path) {
                    all.push(f);
                }
            }
        }
        let searched = searched.unwrap_or_else(|| root.to_owned());
        Ok((all, truncated, searched))
    }

    fn find_one(&self, pattern: &str) -> Result<(Vec<Found>, bool, PathBuf), ProbeError> {
        let root = self.root.as_path();
        let written = Path::new(pattern);
        let joined = normalize(&root.join(written));
        let canonical_root = root.canonicalize().map_err(|e| {
            ProbeError::Setup(format!("root `{}` cannot be read: {e}", root.display()))
        })?;
        if !self.allow_outside_root && !joined.starts_with(root) {
            return Err(ProbeError::Setup(format!(
                "`{pattern}` leaves the root `{}`: paths stay under `root:` unless the probe says `allow_outside_root: true`",
                root.display()
            )));
        }
        let mut found = Vec::new();
        let mut truncated = false;
        let searched;
        if is_glob(pattern) {
            // The literal directories before the first glob component.
            let mut base = PathBuf::new();
            let mut pattern = Vec::new();
            for c in joined.components() {
                let text = c.as_os_str().to_string_lossy();
                if pattern.is_empty() && !is_glob(&text) {
                    base.push(c);
                } else {
                    pattern.push(text.into_owned());
                }
            }
            let regex = glob_regex(&pattern.join("/"))?;
            let depth = if pattern.iter().any(|p| p == "**") {
                64
            } else {
                pattern.len()
            };
            let mut paths = Vec::new();
            for entry in walkdir::WalkDir::new(&base)
                .min_depth(1)
                .max_depth(depth)
                .sort_by_file_name()
                .into_iter()
                .take(MAX_WALKED)
                .flatten()
            {
                let Ok(rel) = entry.path().strip_prefix(&base) else {
                    continue;
                };
                let rel = rel.to_string_lossy().replace('\\', "/");
                if regex.is_match(&rel) {
                    if paths.len() == MAX_MATCHES {
                        truncated = true;
                        break;
                    }
                    paths.push(entry.path().to_owned());
                }
            }
            searched = base;
            for path in paths {
                found.push(self.stat(&path, &canonical_root)?);
            }
        } else {
            searched = joined
                .parent()
                .map_or_else(|| joined.clone(), Path::to_owned);
            if std::fs::symlink_metadata(&joined).is_ok() {
                found.push(self.stat(&joined, &canonical_root)?);
            }
        }
        Ok((found, truncated, searched))
    }

    fn stat(&self, path: &Path, canonical_root: &Path) -> Result<Found, ProbeError> {
        let root = self.root.as_path();
        let shown = path
            .strip_prefix(root)
            .map_or_else(|_| path.display().to_string(), |p| p.display().to_string());
        let link = std::fs::symlink_metadata(path)
            .map_err(|e| ProbeError::Setup(format!("`{shown}` cannot be read: {e}")))?;
        if !self.allow_outside_root
            && let Ok(real) = path.canonicalize()
            && !real.starts_with(canonical_root)
        {
            return Err(ProbeError::Setup(format!(
                "`{shown}` resolves to `{}`, outside the root `{}`: a symlink may not leave the root unless the probe says `allow_outside_root: true`",
                real.display(),
                root.display()
            )));
        }
        // Kind from the link itself; size, mode and age from what it points to.
        let meta = std::fs::metadata(path).unwrap_or_else(|_| link.clone());
        let kind = if link.file_type().is_symlink() {
            "symlink"
        } else if meta.is_dir() {
            "dir"
        } else {
            "file"
        };
        Ok(Found {
            path: path.to_owned(),
            shown,
            kind,
            size: meta.len(),
            mode: mode_of(&meta),
            owner: owner_of(&meta),
            modified: meta.modified().ok(),
        })
    }
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

#[cfg(unix)]
fn owner_of(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    Some(meta.uid())
}

#[cfg(not(unix))]
fn owner_of(_: &std::fs::Metadata) -> Option<u32> {
    None
}

/// Resolves `.` and `..` without touching the file system, so an escape
/// through `..` is seen before anything is read.
pub(super) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A glob over `/`-separated relative paths as a regex: `*` and `?` within a
/// component, `**` across components, `[…]` as a class.
pub(super) fn glob_regex(glob: &str) -> Result<regex::Regex, ProbeError> {
    let mut re = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                    re.push_str("(?:.*/)?");
                } else {
                    re.push_str(".*");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                re.push('[');
                if chars.peek() == Some(&'!') {
                    chars.next();
                    re.push('^');
                }
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    if c == '\\' || c == '[' {
                        re.push('\\');
                    }
                    re.push(c);
                }
                re.push(']');
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    expect::compile_regex(&re).map_err(ProbeError::Setup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_become_anchored_regexes() {
        let re = glob_regex("backups/*.tar.gz").expect("ok");
        assert!(re.is_match("backups/db-1.tar.gz"));
        assert!(!re.is_match("backups/old/db.tar.gz"));
        let re = glob_regex("docs/**/*.md").expect("ok");
        assert!(re.is_match("docs/a.md") && re.is_match("docs/x/y/a.md"));
        assert!(glob_regex("f[!0-9].txt").expect("ok").is_match("fa.txt"));
    }

    #[test]
    fn braces_expand_to_alternatives() {
        assert_eq!(expand_braces("{a,b/c}.md"), ["a.md", "b/c.md"]);
        assert_eq!(expand_braces("x{1,{2,3}}"), ["x1", "x2", "x3"]);
        assert_eq!(expand_braces("plain"), ["plain"]);
    }

    #[test]
    fn parent_components_are_resolved_before_anything_is_read() {
        assert_eq!(
            normalize(Path::new("/r/a/../../etc/x")),
            PathBuf::from("/etc/x")
        );
    }
}
