//! A local directory as an object store. Writes go to a temporary file that is
//! renamed over the target, so a reader (or `edgeflag serve`) sees the old or the
//! new content, never half a file. Conditional writes hold an exclusive lock on
//! `<root>/.edgeflag.lock` (an OS file lock, released when its holder exits), so
//! they are enforced between processes too; a write gives up when the lock stays
//! taken past a deadline. Temporary names are random and created exclusively, so
//! a file or symlink planted beside the target is never written through.

use super::{Condition, Object, Put, StoreError};
use crate::layout::etag_of;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a conditional write waits for the directory lock by default.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// A directory store rooted at a path.
#[derive(Debug)]
pub struct DirStore {
    root: PathBuf,
    lock_timeout: Duration,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl DirStore {
    /// A store writing under `root` (created on the first write).
    pub fn new(root: PathBuf) -> DirStore {
        DirStore {
            root,
            lock_timeout: LOCK_TIMEOUT,
        }
    }

    /// How long a write waits for the lock before failing with
    /// [`StoreError::LockTimeout`] (default [`LOCK_TIMEOUT`]).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> DirStore {
        self.lock_timeout = timeout;
        self
    }

    /// Takes the exclusive lock on `<root>/.edgeflag.lock`, retrying until the
    /// deadline; the lock is held until the returned file drops.
    fn lock(&self) -> Result<File, StoreError> {
        let lock_path = self.root.join(".edgeflag.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        let start = Instant::now();
        loop {
            match lock.try_lock() {
                Ok(()) => return Ok(lock),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
            }
            let waited = start.elapsed();
            if waited >= self.lock_timeout {
                return Err(StoreError::LockTimeout {
                    path: lock_path.display().to_string(),
                    waited,
                });
            }
            let pause = Duration::from_millis(5 + fastrand::u64(0..20));
            std::thread::sleep(pause.min(self.lock_timeout - waited));
        }
    }

    pub(super) fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let path = self.root.join(key);
        match fs::read(&path) {
            Ok(bytes) => {
                let etag = etag_of(&bytes);
                Ok(Some(Object { bytes, etag }))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    pub(super) fn put(&self, key: &str, bytes: &[u8], cond: &Condition) -> Result<Put, StoreError> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        // Held until `_lock` drops at the end of this function.
        let _lock = self.lock()?;
        let current = self.get(key)?;
        let holds = match (cond, &current) {
            (Condition::Absent, existing) => existing.is_none(),
            (Condition::Matches(etag), Some(obj)) => &obj.etag == etag,
            (Condition::Matches(_), None) => false,
        };
        if !holds {
            return Ok(Put::Conflict);
        }
        write_atomic(&self.root.join(key), bytes)?;
        Ok(Put::Written)
    }
}

/// Creates a new temporary file `.<name>.<random>.tmp` in `dir`. `create_new`
/// (`O_CREAT | O_EXCL`) never opens an existing file and never follows a
/// symlink, so a name someone placed there first is skipped, not written through.
fn create_temp(dir: &Path, name: &str) -> Result<(PathBuf, File), StoreError> {
    let mut last = None;
    for _ in 0..8 {
        let tmp = dir.join(format!(".{name}.{:016x}.tmp", fastrand::u64(..)));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => last = Some((tmp, e)),
            Err(e) => return Err(io(&tmp)(e)),
        }
    }
    let (tmp, e) = last.unwrap_or_else(|| (dir.to_path_buf(), ErrorKind::AlreadyExists.into()));
    Err(io(&tmp)(e))
}

/// Writes `bytes` to `path` (creating its directory) through a synced temporary
/// file beside it that is renamed over the target, so a reader sees the old or
/// the new content, never half a file. The temporary file has a random name and
/// is created exclusively; it is removed when the write fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    let (tmp, mut file) = create_temp(dir, name)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    let renamed = written
        .map_err(io(&tmp))
        .and_then(|()| fs::rename(&tmp, path).map_err(io(path)));
    if renamed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    renamed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_writes_are_enforced() {
        let root = std::env::temp_dir().join(format!("edgeflag-dirstore-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let s = DirStore::new(root.clone());
        assert!(s.get("e/x.json").unwrap().is_none());
        assert_eq!(
            s.put("e/x.json", b"1", &Condition::Absent).unwrap(),
            Put::Written
        );
        assert_eq!(
            s.put("e/x.json", b"2", &Condition::Absent).unwrap(),
            Put::Conflict
        );
        let first = s.get("e/x.json").unwrap().unwrap();
        assert_eq!(first.bytes, b"1");
        let stale = Condition::Matches(etag_of(b"0"));
        assert_eq!(s.put("e/x.json", b"3", &stale).unwrap(), Put::Conflict);
        let fresh = Condition::Matches(first.etag);
        assert_eq!(s.put("e/x.json", b"3", &fresh).unwrap(), Put::Written);
        assert_eq!(s.get("e/x.json").unwrap().unwrap().bytes, b"3");
        assert_eq!(
            s.put("e/y.json", b"", &Condition::Matches(etag_of(b"")))
                .unwrap(),
            Put::Conflict
        );
        fs::remove_dir_all(&root).unwrap();
    }

    fn scratch(name: &str) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("edgeflag-dirstore-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        root
    }

    #[test]
    fn a_held_lock_fails_after_the_deadline_naming_the_lock_file() {
        let root = scratch("lock");
        let lock_path = root.join(".edgeflag.lock");
        let held = File::create(&lock_path).unwrap();
        held.lock().unwrap();
        let s = DirStore::new(root.clone()).with_lock_timeout(Duration::from_millis(300));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(s.put("e/x.json", b"1", &Condition::Absent));
        });
        let result = rx
            .recv_timeout(std::time::Duration::from_secs(3))
            .expect("the write gave up instead of waiting forever");
        let msg = result.expect_err("the lock is held").to_string();
        assert!(msg.contains(&lock_path.display().to_string()), "{msg}");
        assert!(msg.contains("another process holds it"), "{msg}");
        assert!(!root.join("e/x.json").exists());
        drop(held);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn temporary_names_differ_between_writes() {
        let root = scratch("tmpnames");
        let (a, fa) = create_temp(&root, "x.json").unwrap();
        let (b, fb) = create_temp(&root, "x.json").unwrap();
        assert_ne!(a, b);
        drop((fa, fb));
        fs::remove_dir_all(&root).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_temp_file_symlink_is_not_written_through() {
        let root = scratch("symlink");
        let victim = root.join("victim");
        fs::write(&victim, b"keep").unwrap();
        let dir = root.join("e");
        fs::create_dir_all(&dir).unwrap();
        // Where the old, predictable temporary name would be.
        let planted = dir.join(format!(".x.json.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let target = dir.join("x.json");
        write_atomic(&target, b"new").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert!(!fs::symlink_metadata(&target).unwrap().is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"new");
        fs::remove_dir_all(&root).unwrap();
    }
}
