//! A local directory as an object store. Writes go to a temporary file that is
//! renamed over the target, so a reader (or `edgeflag serve`) sees the old or the
//! new content, never half a file. Conditional writes hold an exclusive lock on
//! `<root>/.edgeflag.lock`, so they are enforced between processes too.

use super::{Condition, Object, Put, StoreError};
use crate::layout::etag_of;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// A directory store rooted at a path.
#[derive(Debug)]
pub struct DirStore {
    root: PathBuf,
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
        DirStore { root }
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
        let lock_path = self.root.join(".edgeflag.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        // Held until `lock` drops at the end of this function.
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

/// Writes `bytes` to `path` (creating its directory) through a synced temporary
/// file beside it that is renamed over the target, so a reader sees the old or
/// the new content, never half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("object");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io(path))
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
}
