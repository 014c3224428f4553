//! Where a session's files live: one folder per session under the data dir, holding at most the segment
//! being played, the next one and the seed being repainted. The data dir is locked while a server uses it,
//! and whatever a crashed server left behind is removed at start-up.

use std::fs::File;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::encoding::{Encoded, Stored};

const SESSION_PREFIX: &str = "session-";

/// The locked data dir.
pub struct DataDir {
    root: PathBuf,
    /// Held open for the server's lifetime: the lock goes with it.
    _lock: File,
}

impl DataDir {
    /// Creates (private to this user) and locks `root`, then removes stale session folders.
    pub fn open(root: &Path) -> Result<DataDir, String> {
        let unusable =
            |e: std::io::Error| format!("data dir {} is not usable: {e}", root.display());
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(unusable)?;
        let lock = File::create(root.join("tsuzuki.lock")).map_err(unusable)?;
        lock.try_lock().map_err(|_| {
            format!(
                "data dir {} is in use by another tsuzuki server; stop it or pass --data-dir",
                root.display()
            )
        })?;
        for entry in std::fs::read_dir(root).map_err(unusable)?.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(SESSION_PREFIX)
            {
                match std::fs::remove_dir_all(entry.path()) {
                    Ok(()) => {
                        tracing::info!(path = %entry.path().display(), "removed files left by an earlier run")
                    }
                    Err(e) => {
                        tracing::warn!(path = %entry.path().display(), "cannot remove stale files: {e}")
                    }
                }
            }
        }
        Ok(DataDir {
            root: root.to_path_buf(),
            _lock: lock,
        })
    }

    /// Creates the folder of session `id`.
    pub fn create_session(&self, id: &str) -> std::io::Result<SessionFiles> {
        let dir = self.root.join(format!("{SESSION_PREFIX}{id}"));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(SessionFiles { dir })
    }
}

/// The files of one session.
#[derive(Clone, Debug)]
pub struct SessionFiles {
    dir: PathBuf,
}

impl SessionFiles {
    /// Segment `index` as stored in `encoding`.
    pub fn segment(&self, index: u64, encoding: Stored) -> PathBuf {
        self.dir
            .join(format!("segment-{index:06}.{}", encoding.extension()))
    }

    /// Every file of segment `index`.
    pub fn segment_files(&self, index: u64) -> impl Iterator<Item = PathBuf> + '_ {
        Stored::ALL.into_iter().map(move |e| self.segment(index, e))
    }

    pub fn seed(&self, index: u64) -> PathBuf {
        self.dir.join(format!("seed-{index:06}.wav"))
    }

    /// Writes segment `index` in every stored encoding; returns the bytes written. A write that fails
    /// leaves none of the segment's files behind.
    pub fn store(&self, index: u64, encoded: &Encoded) -> std::io::Result<u64> {
        let mut written = 0;
        for encoding in Stored::ALL {
            let bytes = encoded.bytes(encoding);
            if let Err(e) = std::fs::write(self.segment(index, encoding), bytes) {
                self.segment_files(index)
                    .for_each(|path| self.delete(&path));
                return Err(e);
            }
            written += bytes.len() as u64;
        }
        Ok(written)
    }

    /// Deletes one file, logging it; a file already gone is fine.
    pub fn delete(&self, path: &Path) {
        match std::fs::remove_file(path) {
            Ok(()) => tracing::info!(file = %path.display(), "deleted"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(file = %path.display(), "cannot delete: {e}"),
        }
    }

    /// Deletes the whole session folder.
    pub fn remove_all(&self) {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => tracing::info!(dir = %self.dir.display(), "deleted session files"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(dir = %self.dir.display(), "cannot delete session files: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_removes_stale_sessions_and_keeps_other_files() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("session-old")).unwrap();
        std::fs::write(root.path().join("session-old/segment-000001.wav"), b"x").unwrap();
        std::fs::write(root.path().join("notes.txt"), b"mine").unwrap();
        let data = DataDir::open(root.path()).unwrap();
        assert!(!root.path().join("session-old").exists());
        assert!(root.path().join("notes.txt").exists());
        let files = data.create_session("abc").unwrap();
        for path in files.segment_files(3) {
            std::fs::write(path, b"x").unwrap();
        }
        assert!(root.path().join("session-abc/segment-000003.flac").exists());
        assert!(root.path().join("session-abc/segment-000003.opus").exists());
        files.remove_all();
        assert!(!root.path().join("session-abc").exists());
    }

    #[test]
    fn a_second_server_cannot_share_the_data_dir() {
        let root = tempfile::tempdir().unwrap();
        let _first = DataDir::open(root.path()).unwrap();
        let error = DataDir::open(root.path()).err().unwrap();
        assert!(
            error.contains("in use by another tsuzuki server"),
            "{error}"
        );
    }

    #[test]
    fn an_unusable_path_is_a_clear_error() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("plain-file");
        std::fs::write(&file, b"").unwrap();
        let error = DataDir::open(&file.join("sub")).err().unwrap();
        assert!(
            error.starts_with("data dir") && error.contains("not usable"),
            "{error}"
        );
    }
}
