//! Golden files under `tests/golden/`: compare output with the pinned text,
//! or rewrite the pinned text with `UPDATE_GOLDEN=1 cargo test`.
//!
//! Included with `#[path = "support/golden.rs"] mod golden;`.
#![allow(dead_code)]

use std::path::PathBuf;

/// The path of a golden file.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Whether this run rewrites golden files.
pub fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Asserts `actual` equals the golden file `name` (or rewrites it).
pub fn assert_golden(name: &str, actual: &str) {
    let path = path(name);
    if updating() {
        std::fs::create_dir_all(path.parent().expect("golden dir")).expect("create tests/golden");
        std::fs::write(&path, actual).expect("write golden file");
        eprintln!("updated {}", path.display());
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read golden file {} ({e}); create it with UPDATE_GOLDEN=1\n--- actual ---\n{actual}",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "output differs from {} (rewrite with UPDATE_GOLDEN=1 if the change is intended)\n{}",
            path.display(),
            diff(&expected, actual)
        );
    }
}

/// A line diff: `-` golden, `+` actual, with the first difference marked.
fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => out.push_str(&format!("  {x}\n")),
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("- {x}\n"));
                }
                if let Some(y) = y {
                    out.push_str(&format!("+ {y}\n"));
                }
            }
        }
    }
    if expected.ends_with('\n') != actual.ends_with('\n') {
        out.push_str("(the final newline differs)\n");
    }
    out
}
