//! The on-disk cache of the last good ruleset: read once at start, replaced
//! atomically (temporary file in the same directory, fsync, rename) after every
//! ruleset the client accepts from the origin, so a restarted service has flags
//! even while the origin is unreachable.

use edgeflag_evaluator::Ruleset;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Reads and verifies the cached ruleset. A missing file is `Ok(None)`; an
/// unreadable or invalid one is an error the caller logs (the cache is then
/// ignored, and overwritten by the next accepted download).
pub(crate) fn load(path: &Path) -> Result<Option<(Ruleset, Vec<u8>)>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read cache file {}: {e}", path.display())),
    };
    match Ruleset::from_bytes(&bytes) {
        Ok(rs) => Ok(Some((rs, bytes))),
        Err(e) => Err(format!("cache file {} refused: {e}", path.display())),
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "edgeflag-cache".into());
    name.push(format!(
        ".{}.{:016x}.tmp",
        std::process::id(),
        fastrand::u64(..)
    ));
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically: readers (and a crash) see the old file or
/// the new one, never a mix.
pub(crate) fn store_blocking(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// [`store_blocking`] on tokio's blocking pool.
pub(crate) async fn store(path: PathBuf, bytes: std::sync::Arc<[u8]>) -> std::io::Result<()> {
    match tokio::task::spawn_blocking(move || store_blocking(&path, &bytes)).await {
        Ok(r) => r,
        Err(e) => Err(std::io::Error::other(format!("cache writer failed: {e}"))),
    }
}
