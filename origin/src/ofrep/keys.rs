//! The OFREP keys file (`edgeflag serve --ofrep-keys FILE`): which bearer
//! tokens may evaluate which environment, and whether they see every flag
//! (`server`) or only the client-side ones (`client`).
//!
//! ```text
//! # kind   environment  token
//! server   production   3f9c0f4e6b1d4c2a9e7d5b8a1c0f2e4d
//! client   production   pk-7a1e5c3b9d2f4a6c8e0b1d3f5a7c9e2b
//! ```
//!
//! One key a line, three fields separated by spaces or tabs; `#` starts a
//! comment, blank lines are ignored. The environment is the one a key belongs
//! to (`production`, never `production.client`: a client key always evaluates
//! the environment's client ruleset). Tokens are at least
//! [`MIN_TOKEN_LEN`] characters of the bearer-token alphabet (letters, digits,
//! `-._~+/`, trailing `=`), each used once. The file holds secrets: on Unix a
//! file readable by every user is refused.
//!
//! Only a SHA-256 digest of each token is kept; a presented token is hashed and
//! compared with every key's digest in constant time, so neither the time taken
//! nor an early exit tells how much of a token was right.

use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};

/// Shortest token accepted, in characters.
pub const MIN_TOKEN_LEN: usize = 16;

/// What a key may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// Every flag of its environment (and of the environment's client ruleset).
    Server,
    /// Only the flags marked `client_side`: evaluates `<env>.client`, whatever
    /// the path names.
    Client,
}

impl KeyKind {
    /// `server` or `client`, as the file spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Server => "server",
            KeyKind::Client => "client",
        }
    }
}

/// One key: its kind, its environment and its token's digest.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) kind: KeyKind,
    pub(crate) env: String,
    digest: [u8; 32],
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not even the digest: a log line is no place for it.
        f.debug_struct("Key")
            .field("kind", &self.kind)
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

/// The keys of an `--ofrep-keys` file.
#[derive(Debug, Clone)]
pub struct OfrepKeys {
    keys: Vec<Key>,
}

/// Why a keys file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OfrepKeysError {
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Every user of the machine may read the file (Unix permissions).
    #[error(
        "{} is readable by every user (mode {mode:o}); it holds secrets: `chmod o-rwx {}`",
        path.display(),
        path.display()
    )]
    WorldReadable {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A line is not `server|client <env> <token>`.
    #[error("{}:{line}: {message}", path.display())]
    Line {
        /// The file (`-` when parsed from text).
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file names no key at all (every OFREP request would be refused).
    #[error(
        "{}: no keys (lines `server <env> <token>` or `client <env> <token>`)",
        path.display()
    )]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

impl OfrepKeys {
    /// Reads and parses `path`, refusing a file every user may read (Unix).
    pub fn load(path: &Path) -> Result<OfrepKeys, OfrepKeysError> {
        let io = |source| OfrepKeysError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o004 != 0 {
                return Err(OfrepKeysError::WorldReadable {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = std::fs::read_to_string(path).map_err(io)?;
        OfrepKeys::parse_named(&text, path)
    }

    /// Parses the text of a keys file (errors name the file `-`).
    pub fn parse(text: &str) -> Result<OfrepKeys, OfrepKeysError> {
        OfrepKeys::parse_named(text, Path::new("-"))
    }

    fn parse_named(text: &str, path: &Path) -> Result<OfrepKeys, OfrepKeysError> {
        let mut keys: Vec<Key> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let err = |message: String| OfrepKeysError::Line {
                path: path.to_path_buf(),
                line: i + 1,
                message,
            };
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [kind, env, token] = fields[..] else {
                return Err(err(format!(
                    "expected `server|client <env> <token>`, found {} field{}",
                    fields.len(),
                    if fields.len() == 1 { "" } else { "s" }
                )));
            };
            let kind = match kind {
                "server" => KeyKind::Server,
                "client" => KeyKind::Client,
                other => {
                    return Err(err(format!(
                        "unknown key kind {other:?} (expected `server` or `client`)"
                    )))
                }
            };
            if !edgeflag_compiler::is_valid_environment(env) {
                return Err(err(format!("{env:?} is not an environment name")));
            }
            if let Some(base) = env.strip_suffix(edgeflag_compiler::client::CLIENT_SUFFIX) {
                return Err(err(format!(
                    "name the environment ({base:?}), not its client ruleset: a `client` \
                     key evaluates {env:?} already"
                )));
            }
            if token.len() < MIN_TOKEN_LEN {
                return Err(err(format!(
                    "the token is {} characters long, at least {MIN_TOKEN_LEN} are required",
                    token.len()
                )));
            }
            if !is_token68(token) {
                return Err(err(
                    "the token has characters a bearer token cannot carry (use letters, \
                     digits and -._~+/, with `=` only at the end)"
                        .into(),
                ));
            }
            let digest = digest(token.as_bytes());
            if keys.iter().any(|k| k.digest == digest) {
                return Err(err("this token is already listed on an earlier line".into()));
            }
            keys.push(Key {
                kind,
                env: env.to_string(),
                digest,
            });
        }
        if keys.is_empty() {
            return Err(OfrepKeysError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(OfrepKeys { keys })
    }

    /// How many keys the file lists.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it lists none (never true for a parsed file).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The `(kind, environment)` of every key, in file order.
    pub fn entries(&self) -> impl Iterator<Item = (KeyKind, &str)> {
        self.keys.iter().map(|k| (k.kind, k.env.as_str()))
    }

    /// The key whose token is `token`, by position: every key is compared,
    /// each in constant time.
    pub(crate) fn find(&self, token: &str) -> Option<(usize, &Key)> {
        let presented = digest(token.as_bytes());
        let mut found = usize::MAX;
        for (i, k) in self.keys.iter().enumerate() {
            // Branch-free selection: no early exit, no data-dependent jump.
            let hit = ct_eq(&presented, &k.digest);
            let mask = (hit as usize).wrapping_neg();
            found = (i & mask) | (found & !mask);
        }
        self.keys.get(found).map(|k| (found, k))
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Equality of two digests that reads every byte whatever they hold.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(diff) == 0
}

/// RFC 7235 `token68`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaa-server";
    const B: &str = "bbbbbbbbbbbbbbbb-client";

    #[test]
    fn parses_kinds_envs_comments() {
        let keys = OfrepKeys::parse(&format!(
            "# keys\n\nserver production {A}   # ops\n\tclient  production\t{B}\n"
        ))
        .unwrap();
        assert_eq!(keys.len(), 2);
        let (i, k) = keys.find(A).unwrap();
        assert_eq!(
            (i, k.kind, k.env.as_str()),
            (0, KeyKind::Server, "production")
        );
        let (i, k) = keys.find(B).unwrap();
        assert_eq!((i, k.kind), (1, KeyKind::Client));
        assert!(keys.find("aaaaaaaaaaaaaaaa-serveR").is_none());
        assert!(keys.find("").is_none());
    }

    #[test]
    fn refuses_bad_lines_naming_them() {
        for (text, needle) in [
            ("server production", "found 2 fields"),
            ("admin production aaaaaaaaaaaaaaaaaaaa", "unknown key kind"),
            ("server ../x aaaaaaaaaaaaaaaaaaaa", "not an environment"),
            (
                "client production.client aaaaaaaaaaaaaaaaaaaa",
                "not its client ruleset",
            ),
            ("server production short", "at least 16"),
            ("server production aaaaaaaaaaaaaaaa=aa", "bearer token"),
            (
                "server p aaaaaaaaaaaaaaaaaaaa\nclient q aaaaaaaaaaaaaaaaaaaa",
                "already listed",
            ),
            ("# nothing\n", "no keys"),
        ] {
            let err = OfrepKeys::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
        let err = OfrepKeys::parse("\n\nserver production x").unwrap_err();
        assert!(err.to_string().starts_with("-:3:"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_world_readable_file() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("edgeflag-ofrep-keys-{}", std::process::id()));
        std::fs::write(&path, format!("server production {A}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = OfrepKeys::load(&path).unwrap_err();
        assert!(
            matches!(err, OfrepKeysError::WorldReadable { mode: 0o644, .. }),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(OfrepKeys::load(&path).unwrap().len(), 1);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn debug_shows_no_secret() {
        let keys = OfrepKeys::parse(&format!("server production {A}")).unwrap();
        let text = format!("{keys:?}");
        assert!(!text.contains(A) && !text.contains("digest"), "{text}");
    }
}
