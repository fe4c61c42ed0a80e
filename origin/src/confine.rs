//! Opening files under the publish directory without leaving it: no component
//! of a served path may be a symbolic link (a link inside the directory could
//! point anywhere, e.g. at `/etc` or another service's secrets), and only
//! regular files are read.
//!
//! Every component below the root is checked with `symlink_metadata` (the root
//! itself is the operator's choice and may be a link). A component swapped for a
//! link between the check and the `open` is caught by comparing the opened file
//! with the checked one (device and inode), so the check cannot be raced into
//! reading a file elsewhere.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Why a path under the root is not read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    /// A component is a symbolic link.
    #[error("{} is a symbolic link; links in the publish directory are not followed", path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
        /// The link's own size and modification time (not its target's), so a
        /// scan can tell a changed link from one already refused.
        stamp: (u64, Option<SystemTime>),
    },
    /// A component is not a directory, or the file is not a regular file.
    #[error("{} is not a regular file or directory", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file changed between the check and the open.
    #[error("{} was replaced while being opened", path.display())]
    Replaced {
        /// The path.
        path: PathBuf,
    },
    /// The file is larger than the bound.
    #[error("{} is {len} bytes, more than the {max} served", path.display())]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The bound.
        max: u64,
    },
    /// Reading failed (including: it does not exist).
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl Refused {
    /// Whether this is worth a warning (a link, a swap, an oversized file), as
    /// opposed to a file that simply is not there.
    pub(crate) fn is_suspicious(&self) -> bool {
        !matches!(self, Refused::Io { .. } | Refused::NotAFile { .. })
    }
}

/// The metadata of `root/rel` (a `/`-separated relative path), refusing a
/// symbolic link in any component below `root`, a component that is not a
/// directory, and a final component that is not a regular file.
pub(crate) fn metadata(root: &Path, rel: &str) -> Result<Metadata, Refused> {
    let mut path = root.to_path_buf();
    let mut parts = rel.split('/').peekable();
    while let Some(part) = parts.next() {
        path.push(part);
        let meta = std::fs::symlink_metadata(&path).map_err(|source| Refused::Io {
            path: path.clone(),
            source,
        })?;
        if meta.file_type().is_symlink() {
            let stamp = (meta.len(), meta.modified().ok());
            return Err(Refused::Symlink { path, stamp });
        }
        let last = parts.peek().is_none();
        if (last && !meta.is_file()) || (!last && !meta.is_dir()) {
            return Err(Refused::NotAFile { path });
        }
        if last {
            return Ok(meta);
        }
    }
    Err(Refused::NotAFile { path })
}

/// Opens `root/rel` for reading after [`metadata`]'s checks, and at most `max`
/// bytes long. Returns the file and its length.
pub(crate) fn open(root: &Path, rel: &str, max: u64) -> Result<(File, u64), Refused> {
    let checked = metadata(root, rel)?;
    let path = root.join(rel);
    let file = File::open(&path).map_err(|source| Refused::Io {
        path: path.clone(),
        source,
    })?;
    let opened = file.metadata().map_err(|source| Refused::Io {
        path: path.clone(),
        source,
    })?;
    if !same_file(&checked, &opened) || !opened.is_file() {
        return Err(Refused::Replaced { path });
    }
    let len = opened.len();
    if len > max {
        return Err(Refused::TooLarge { path, len, max });
    }
    Ok((file, len))
}

/// Reads `root/rel` whole, with [`open`]'s checks.
pub(crate) fn read(root: &Path, rel: &str, max: u64) -> Result<Vec<u8>, Refused> {
    let (file, len) = open(root, rel, max)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // `take` keeps a file growing under us within the bound.
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| Refused::Io {
            path: root.join(rel),
            source,
        })?;
    if bytes.len() as u64 > max {
        return Err(Refused::TooLarge {
            path: root.join(rel),
            len: bytes.len() as u64,
            max,
        });
    }
    Ok(bytes)
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn refuses_links_in_any_component() {
        let root = std::env::temp_dir().join(format!("edgeflag-confine-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let outside = root.join("outside");
        let served = root.join("served");
        std::fs::create_dir_all(outside.join("versions")).unwrap();
        std::fs::create_dir_all(served.join("prod/versions")).unwrap();
        std::fs::write(outside.join("secret"), "secret").unwrap();
        std::fs::write(outside.join("versions/1.efr"), "secret").unwrap();
        std::fs::write(served.join("prod/versions/2.efr"), "ok").unwrap();
        std::os::unix::fs::symlink(&outside, served.join("linked")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), served.join("prod/versions/1.efr"))
            .unwrap();

        assert_eq!(read(&served, "prod/versions/2.efr", 10).unwrap(), b"ok");
        for rel in ["linked/versions/1.efr", "prod/versions/1.efr"] {
            let err = read(&served, rel, 10).unwrap_err();
            assert!(matches!(err, Refused::Symlink { .. }), "{rel}: {err}");
            assert!(err.is_suspicious());
        }
        assert!(matches!(
            read(&served, "prod/versions", 10).unwrap_err(),
            Refused::NotAFile { .. }
        ));
        assert!(matches!(
            read(&served, "prod/versions/2.efr", 1).unwrap_err(),
            Refused::TooLarge { .. }
        ));
        let _ = std::fs::remove_dir_all(&root);
    }
}
