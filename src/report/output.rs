//! A report file (`--output FILE`) written whole or not at all: into a
//! temporary file beside it, renamed over it at the end. The previous report
//! stays readable for the whole run, and a run killed half-way leaves no
//! empty or cut file where a CI job looks for its report.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A report file being written. Created before the run, so an unwritable
/// place is found before any traffic; dropped without [`ReportFile::commit`],
/// it removes its temporary file and leaves the previous report as it was.
#[derive(Debug)]
pub struct ReportFile {
    /// Where the report lands (symbolic links followed).
    target: PathBuf,
    /// The temporary file beside `target`; `None` when writing straight to a
    /// device or a pipe (`-o /dev/stdout`), which cannot be replaced.
    temp: Option<PathBuf>,
    file: Option<File>,
}

impl ReportFile {
    /// Opens the temporary file beside `path` (or `path` itself when it is a
    /// device, a pipe or under `/dev` or `/proc`).
    pub fn create(path: &Path) -> io::Result<ReportFile> {
        let metadata = std::fs::metadata(path);
        if let Ok(m) = &metadata
            && m.is_dir()
        {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            ));
        }
        let special = path.starts_with("/dev") || path.starts_with("/proc");
        if special || metadata.as_ref().is_ok_and(|m| !m.is_file()) {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)?;
            return Ok(ReportFile {
                target: path.to_owned(),
                temp: None,
                file: Some(file),
            });
        }
        // Replace the file a symbolic link points to, not the link.
        let target = match &metadata {
            Ok(_) => std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()),
            Err(_) => path.to_owned(),
        };
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        let (temp, file) = create_beside(&target, name)?;
        // The new report keeps the old one's permissions (a report readable
        // by a group stays so).
        if let Ok(m) = &metadata {
            let _ = file.set_permissions(m.permissions());
        }
        Ok(ReportFile {
            target,
            temp: Some(temp),
            file: Some(file),
        })
    }

    /// Writes the report with `write`, then puts it in place in one rename.
    /// On an error the previous report is left as it was.
    pub fn commit(
        mut self,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("the report file was already written"))?;
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        if let Some(temp) = &self.temp {
            // On disk before the rename, so a crash leaves the old report or
            // the new one, never an empty file.
            file.sync_all()?;
            drop(file);
            std::fs::rename(temp, &self.target)?;
            self.temp = None;
        }
        Ok(())
    }
}

impl Drop for ReportFile {
    fn drop(&mut self) {
        if let Some(temp) = &self.temp {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// Creates `.NAME.vouch-PID-N.tmp` beside `target`, a name no other run
/// (nor an earlier report file of this one) holds.
fn create_beside(target: &Path, name: &std::ffi::OsStr) -> io::Result<(PathBuf, File)> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut last = None;
    for _ in 0..100 {
        let mut temp_name = OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(
            ".vouch-{}-{}.tmp",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let temp = dir.join(temp_name);
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_previous_report_stays_until_the_new_one_replaces_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("out.json");
        std::fs::write(&path, "old").expect("write");
        let file = ReportFile::create(&path).expect("create");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "old");
        assert_eq!(entries(dir.path()).len(), 2, "{:?}", entries(dir.path()));
        file.commit(|out| out.write_all(b"new")).expect("commit");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
        assert_eq!(entries(dir.path()), ["out.json"]);
    }

    #[test]
    fn a_report_never_written_leaves_the_old_one_and_no_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("out.json");
        std::fs::write(&path, "old").expect("write");
        drop(ReportFile::create(&path).expect("create"));
        let failed = ReportFile::create(&path)
            .expect("create")
            .commit(|_| Err(io::Error::other("disk full")));
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "old");
        assert_eq!(entries(dir.path()), ["out.json"]);
    }

    #[test]
    fn an_unwritable_place_is_an_error_at_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(ReportFile::create(&dir.path().join("missing/out.json")).is_err());
        let e = ReportFile::create(dir.path()).expect_err("a directory");
        assert_eq!(e.kind(), io::ErrorKind::IsADirectory);
        std::fs::write(dir.path().join("file"), "").expect("write");
        assert!(ReportFile::create(&dir.path().join("file/out.json")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_is_followed_and_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let real = dir.path().join("real.json");
        std::fs::write(&real, "old").expect("write");
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        ReportFile::create(&link)
            .expect("create")
            .commit(|out| out.write_all(b"new"))
            .expect("commit");
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("link")
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).expect("read"), "new");
    }

    #[test]
    fn devices_are_written_in_place() {
        ReportFile::create(Path::new("/dev/null"))
            .expect("create")
            .commit(|out| out.write_all(b"report"))
            .expect("commit");
    }
}
