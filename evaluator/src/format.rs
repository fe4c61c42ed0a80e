//! The binary ruleset container: a fixed 192-byte header followed by a postcard body.
//!
//! ```text
//! offset size field
//!      0    4 magic  b"EFRS"
//!      4    2 format version, u16 LE (this crate writes and reads 3)
//!      6    2 header length, u16 LE (192 for version 3)
//!      8    8 ruleset version, u64 LE (a counter within the epoch, <= 2^53 - 1)
//!     16    8 created at, i64 LE, Unix milliseconds
//!     24    4 body length, u32 LE
//!     28    1 environment name length (1..=64)
//!     29    1 signature algorithm (0 = unsigned, 1 = Ed25519)
//!     30    2 reserved, zero
//!     32   64 environment name, zero padded; a valid name
//!             ([`is_valid_environment`]: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`)
//!     96    8 epoch, u64 LE: when the destination's version series began (Unix
//!             ms); 0 for a ruleset that was compiled but never published
//!    104    8 expires at, i64 LE, Unix ms; 0 = never (only signed rulesets expire)
//!    112    8 key id, u64 LE ([`crate::signature::KeyId`]); 0 when unsigned
//!    120    8 checksum: xxh3_64 (seed 0) of bytes 0..120 followed by the body
//!    128   64 signature (zero when unsigned): Ed25519 over SHA-512 of bytes
//!             0..128 and the body ([`crate::signature`])
//!    192    … body: postcard encoding of [`crate::model::Body`]
//! ```
//!
//! Rulesets order by `(epoch, version)`: see [`crate::accept`]. [`encode`] writes
//! an unsigned ruleset; [`sign`] signs one in place.
//!
//! `docs/binary-format.md` describes the body field by field.

use crate::model::Body;
use crate::signature::{self, KeyId, SignError, Signer};
use thiserror::Error;
use xxhash_rust::xxh3::Xxh3;

/// The four bytes every ruleset starts with.
pub const MAGIC: [u8; 4] = *b"EFRS";
/// The format version this crate writes and the one it reads. Versions 1 (no
/// epoch) and 2 (no signatures) predate the first release and are refused.
pub const FORMAT_VERSION: u16 = 3;
/// Length of the version-3 header.
pub const HEADER_LEN: usize = 192;
/// Longest environment name.
pub const MAX_ENV_LEN: usize = 64;
/// Largest body accepted (64 MiB): a bound on what decoding may allocate.
pub const MAX_BODY_LEN: usize = 64 << 20;

/// Largest ruleset version: 2^53 - 1, the largest integer JavaScript represents
/// exactly, so every reader compares versions the same way.
pub const MAX_VERSION: u64 = (1 << 53) - 1;

const ALG_AT: usize = 29;
const EPOCH_AT: usize = 96;
const EXPIRES_AT: usize = 104;
const KEY_ID_AT: usize = 112;
const CHECKSUM_AT: usize = 120;
const SIGNATURE_AT: usize = 128;

const ALG_NONE: u8 = 0;
const ALG_ED25519: u8 = 1;

/// Whether `name` is a valid environment name: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`,
/// that is 1 to [`MAX_ENV_LEN`] ASCII bytes, starting with a letter or digit,
/// then letters, digits, `.`, `_` and `-`.
///
/// This is the one definition of the rule: the compiler applies it to
/// `environments:`, [`encode`] and [`read_header`] refuse any other name. Such a
/// name is safe as one path segment in a directory, a bucket key and a URL
/// segment: it has no `/` or `\`, is never `.` or `..` and never starts with `.`
/// or `-`. Allocation-free.
///
/// ```
/// use edgeflag_evaluator::format::is_valid_environment;
/// assert!(is_valid_environment("eu-west.prod"));
/// assert!(!is_valid_environment("../prod"));
/// assert!(!is_valid_environment(".hidden"));
/// assert!(!is_valid_environment(""));
/// ```
pub const fn is_valid_environment(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() || b.len() > MAX_ENV_LEN || !b[0].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 1;
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// The metadata carried by the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Format version of the container.
    pub format_version: u16,
    /// Environment this ruleset is for; always a valid name
    /// ([`is_valid_environment`]) in a header [`read_header`] returned.
    pub environment: String,
    /// Ruleset version: a counter within [`Header::epoch`]; higher is newer.
    pub version: u64,
    /// When the version series began (Unix ms); 0 when never published. A later
    /// epoch is newer whatever the versions (a destination that was reset starts
    /// a new series). See [`crate::accept`].
    pub epoch: u64,
    /// Creation time in Unix milliseconds.
    pub created_at_ms: i64,
    /// Body length in bytes.
    pub body_len: u32,
    /// The checksum stored in (and verified against) the header.
    pub checksum: u64,
    /// When the ruleset stops being fresh (Unix ms), if it expires. Only signed
    /// rulesets expire: an unsigned expiry would protect nothing.
    pub expires_at_ms: Option<i64>,
    /// The signature, if the ruleset is signed. [`read_header`] only checks its
    /// shape; [`crate::accept::Policy`] verifies it against trusted keys.
    pub signature: Option<Seal>,
}

impl Header {
    /// Whether the ruleset has expired at `now_ms` (never, without an expiry).
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|at| now_ms >= at)
    }
}

/// The signature of a signed ruleset, as the header carries it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seal {
    /// The key that signed.
    pub key_id: KeyId,
    /// The Ed25519 signature.
    pub signature: [u8; 64],
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Seal(ed25519, key {})", self.key_id)
    }
}

/// Why bytes were refused as a ruleset.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the header and body need.
    #[error("truncated ruleset: need {needed} bytes, got {got}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// Not an edgeflag ruleset.
    #[error("not an edgeflag ruleset (bad magic bytes)")]
    BadMagic,
    /// Written by a newer edgeflag.
    #[error("unsupported ruleset format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// Version in the header.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// A header field is out of range.
    #[error("malformed header: {0}")]
    BadHeader(&'static str),
    /// Bytes after the body.
    #[error("{0} unexpected bytes after the body")]
    TrailingBytes(usize),
    /// The content does not match its checksum.
    #[error("checksum mismatch: header says {expected:#018x}, content hashes to {actual:#018x}")]
    ChecksumMismatch {
        /// Checksum in the header.
        expected: u64,
        /// Checksum of the content.
        actual: u64,
    },
    /// The body is not valid postcard for this format version.
    #[error("malformed body: {0}")]
    Body(String),
    /// The body decodes but breaks an invariant (bad index, cycle, …); the
    /// [`Invariant`](crate::Invariant) says which.
    #[error("invalid ruleset: {0}")]
    Invalid(crate::Invariant),
}

/// Metadata for [`encode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOptions<'a> {
    /// Environment name: 1 to 64 bytes, a valid name ([`is_valid_environment`]).
    pub environment: &'a str,
    /// Ruleset version (a counter within the epoch).
    pub version: u64,
    /// The version series (Unix ms when it began; 0 = unpublished).
    pub epoch: u64,
    /// Creation time in Unix milliseconds.
    pub created_at_ms: i64,
}

impl<'a> EncodeOptions<'a> {
    /// Options for an unpublished ruleset of `environment`: epoch 0, version 0,
    /// created at 0 (any published ruleset replaces it).
    pub fn unpublished(environment: &'a str) -> EncodeOptions<'a> {
        EncodeOptions {
            environment,
            version: 0,
            epoch: 0,
            created_at_ms: 0,
        }
    }
}

/// Why a body could not be encoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The environment name is empty or longer than 64 bytes.
    #[error("environment name must be 1 to {MAX_ENV_LEN} bytes, got {0}")]
    EnvironmentName(usize),
    /// The environment name has the right length but is not a valid name
    /// ([`is_valid_environment`]); it holds the name.
    #[error("invalid environment name {0:?}: expected [A-Za-z0-9][A-Za-z0-9._-]{{0,63}}")]
    InvalidEnvironmentName(String),
    /// The body is larger than [`MAX_BODY_LEN`].
    #[error("ruleset body of {0} bytes exceeds the {MAX_BODY_LEN}-byte limit")]
    TooLarge(usize),
    /// Serialization failed.
    #[error("cannot encode body: {0}")]
    Body(String),
    /// The version is above [`MAX_VERSION`].
    #[error("ruleset version {0} exceeds the largest version, 2^53 - 1")]
    VersionTooLarge(u64),
}

/// Encodes a body into a complete, checksummed, unsigned ruleset ([`sign`] signs
/// it).
///
/// ```
/// use edgeflag_evaluator::{format, model::Body, Ruleset};
/// let bytes = format::encode(&Body::default(), &format::EncodeOptions {
///     environment: "production", version: 7, epoch: 1, created_at_ms: 0,
/// }).unwrap();
/// let rs = Ruleset::from_bytes(&bytes).unwrap();
/// assert_eq!(rs.header().version, 7);
/// assert_eq!(rs.header().environment, "production");
/// ```
pub fn encode(body: &Body, opts: &EncodeOptions<'_>) -> Result<Vec<u8>, EncodeError> {
    let env = opts.environment.as_bytes();
    if opts.version > MAX_VERSION {
        return Err(EncodeError::VersionTooLarge(opts.version));
    }
    if env.is_empty() || env.len() > MAX_ENV_LEN {
        return Err(EncodeError::EnvironmentName(env.len()));
    }
    if !is_valid_environment(opts.environment) {
        return Err(EncodeError::InvalidEnvironmentName(
            opts.environment.to_owned(),
        ));
    }
    let mut out = postcard::to_extend(body, vec![0u8; HEADER_LEN])
        .map_err(|e| EncodeError::Body(e.to_string()))?;
    let body_len = out.len() - HEADER_LEN;
    if body_len > MAX_BODY_LEN {
        return Err(EncodeError::TooLarge(body_len));
    }
    out[0..4].copy_from_slice(&MAGIC);
    out[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
    out[8..16].copy_from_slice(&opts.version.to_le_bytes());
    out[16..24].copy_from_slice(&opts.created_at_ms.to_le_bytes());
    out[24..28].copy_from_slice(&(body_len as u32).to_le_bytes());
    out[28] = env.len() as u8;
    out[32..32 + env.len()].copy_from_slice(env);
    out[EPOCH_AT..EXPIRES_AT].copy_from_slice(&opts.epoch.to_le_bytes());
    let sum = checksum(&out[..CHECKSUM_AT], &out[HEADER_LEN..]);
    out[CHECKSUM_AT..SIGNATURE_AT].copy_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// Signs an encoded ruleset in place: sets the expiry (`None`: never) and the
/// signer's key id, recomputes the checksum and writes the signature. Signing a
/// signed ruleset again replaces its signature.
///
/// ```
/// use edgeflag_evaluator::accept::{Policy, Verdict};
/// use edgeflag_evaluator::signature::{SecretKey, TrustedKeys};
/// use edgeflag_evaluator::{format, model::Body, Ruleset};
///
/// let key = SecretKey::from_seed([9; 32]);
/// let mut bytes = format::encode(&Body::default(), &format::EncodeOptions {
///     environment: "production", version: 7, epoch: 1, created_at_ms: 0,
/// }).unwrap();
/// format::sign(&mut bytes, &key, Some(2_000_000_000_000)).unwrap();
///
/// let rs = Ruleset::from_bytes(&bytes).unwrap();
/// let mut trusted = TrustedKeys::default();
/// trusted.add(key.public_key()).unwrap();
/// let policy = Policy::new().trust(trusted);
/// assert_eq!(policy.check(None, &rs, Some(1_900_000_000_000)), Ok(Verdict::Newer));
/// ```
pub fn sign(
    bytes: &mut [u8],
    signer: &dyn Signer,
    expires_at_ms: Option<i64>,
) -> Result<(), SignError> {
    read_header(bytes).map_err(SignError::NotARuleset)?;
    if expires_at_ms.is_some_and(|at| at <= 0) {
        return Err(SignError::NotARuleset(DecodeError::BadHeader(
            "expiry must be after 1970",
        )));
    }
    bytes[ALG_AT] = ALG_ED25519;
    bytes[EXPIRES_AT..KEY_ID_AT].copy_from_slice(&expires_at_ms.unwrap_or(0).to_le_bytes());
    bytes[KEY_ID_AT..CHECKSUM_AT].copy_from_slice(&signer.key_id().0.to_le_bytes());
    let sum = checksum(&bytes[..CHECKSUM_AT], &bytes[HEADER_LEN..]);
    bytes[CHECKSUM_AT..SIGNATURE_AT].copy_from_slice(&sum.to_le_bytes());
    let digest = signed_digest(bytes);
    let signature = signer.sign_digest(&digest)?;
    bytes[SIGNATURE_AT..HEADER_LEN].copy_from_slice(&signature);
    Ok(())
}

/// The digest a ruleset's signature covers (see [`crate::signature`]); `bytes`
/// is a whole ruleset whose header [`read_header`] accepted.
pub(crate) fn signed_digest(bytes: &[u8]) -> [u8; 64] {
    signature::digest(&bytes[..SIGNATURE_AT], &bytes[HEADER_LEN..])
}

fn checksum(header: &[u8], body: &[u8]) -> u64 {
    let mut h = Xxh3::new();
    h.update(header);
    h.update(body);
    h.digest()
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Reads and verifies the header (including the checksum over the whole content)
/// and returns it with the body bytes. Never panics, whatever the input.
pub fn read_header(bytes: &[u8]) -> Result<(Header, &[u8]), DecodeError> {
    if bytes.len() < 8 {
        if bytes.len() >= 4 && bytes[..4] != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        return Err(DecodeError::Truncated {
            needed: HEADER_LEN,
            got: bytes.len(),
        });
    }
    if bytes[..4] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let format_version = u16_at(bytes, 4);
    if format_version != FORMAT_VERSION && format_version != 0 {
        return Err(DecodeError::UnsupportedVersion {
            found: format_version,
            supported: FORMAT_VERSION,
        });
    }
    if format_version == 0 {
        return Err(DecodeError::BadHeader("format version 0"));
    }
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::Truncated {
            needed: HEADER_LEN,
            got: bytes.len(),
        });
    }
    if usize::from(u16_at(bytes, 6)) != HEADER_LEN {
        return Err(DecodeError::BadHeader("header length is not 192"));
    }
    let body_len = u32_at(bytes, 24);
    if body_len as usize > MAX_BODY_LEN {
        return Err(DecodeError::BadHeader("body length exceeds 64 MiB"));
    }
    let needed = HEADER_LEN + body_len as usize;
    if bytes.len() < needed {
        return Err(DecodeError::Truncated {
            needed,
            got: bytes.len(),
        });
    }
    if bytes.len() > needed {
        return Err(DecodeError::TrailingBytes(bytes.len() - needed));
    }
    let body = &bytes[HEADER_LEN..];
    let expected = u64_at(bytes, CHECKSUM_AT);
    let actual = checksum(&bytes[..CHECKSUM_AT], body);
    if expected != actual {
        return Err(DecodeError::ChecksumMismatch { expected, actual });
    }
    let env_len = usize::from(bytes[28]);
    if env_len == 0 || env_len > MAX_ENV_LEN {
        return Err(DecodeError::BadHeader("environment name length"));
    }
    let environment = std::str::from_utf8(&bytes[32..32 + env_len])
        .map_err(|_| DecodeError::BadHeader("environment name is not UTF-8"))?;
    // The name becomes a path segment, a bucket key and a URL segment downstream.
    if !is_valid_environment(environment) {
        return Err(DecodeError::BadHeader(
            "environment name is not a valid name",
        ));
    }
    let environment = environment.to_owned();
    if bytes[32 + env_len..EPOCH_AT].iter().any(|&b| b != 0) {
        return Err(DecodeError::BadHeader(
            "environment name padding is not zero",
        ));
    }
    if bytes[30] != 0 || bytes[31] != 0 {
        return Err(DecodeError::BadHeader("reserved bytes are not zero"));
    }
    let version = u64_at(bytes, 8);
    if version > MAX_VERSION {
        return Err(DecodeError::BadHeader("version exceeds 2^53 - 1"));
    }
    let expires_at = u64_at(bytes, EXPIRES_AT) as i64;
    let key_id = u64_at(bytes, KEY_ID_AT);
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&bytes[SIGNATURE_AT..HEADER_LEN]);
    let signature = match bytes[ALG_AT] {
        ALG_NONE => {
            if expires_at != 0 || key_id != 0 || sig != [0; 64] {
                return Err(DecodeError::BadHeader(
                    "an unsigned ruleset has an expiry, key id or signature",
                ));
            }
            None
        }
        ALG_ED25519 => Some(Seal {
            key_id: KeyId(key_id),
            signature: sig,
        }),
        _ => return Err(DecodeError::BadHeader("unknown signature algorithm")),
    };
    if expires_at < 0 {
        return Err(DecodeError::BadHeader("expiry is before 1970"));
    }
    Ok((
        Header {
            format_version,
            environment,
            version,
            epoch: u64_at(bytes, EPOCH_AT),
            created_at_ms: u64_at(bytes, 16) as i64,
            body_len,
            checksum: expected,
            expires_at_ms: (expires_at != 0).then_some(expires_at),
            signature,
        },
        body,
    ))
}

/// Decodes a verified body. The body must be consumed exactly and be in canonical
/// form (shortest varints), which is what [`encode`] writes: a padded varint would
/// decode on 64-bit targets but not on wasm32, and every build must accept exactly
/// the same bytes.
///
/// Decoding allocates at most [`crate::limits::decode_budget`] bytes for the body.
pub fn decode_body(body: &[u8]) -> Result<Body, DecodeError> {
    let (decoded, rest) =
        crate::limits::decode_bounded(body.len(), || postcard::take_from_bytes::<Body>(body))
            .map_err(|budget| {
                DecodeError::Body(format!(
                    "decoding needs more than {budget} bytes, the budget of a {}-byte body",
                    body.len()
                ))
            })?
            .map_err(|e| DecodeError::Body(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::Body(format!(
            "{} bytes left after the body",
            rest.len()
        )));
    }
    let canonical =
        postcard::serialize_with_flavor(&decoded, postcard::ser_flavors::Size::default())
            .map_err(|e| DecodeError::Body(e.to_string()))?;
    if canonical != body.len() {
        return Err(DecodeError::Body(format!(
            "non-canonical encoding ({} bytes, canonical form has {canonical})",
            body.len()
        )));
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_environment_names() {
        for ok in [
            "a",
            "0",
            "prod",
            "eu-west.prod",
            "a_b-c.d",
            "A9",
            "a..b",
            "x-",
        ] {
            assert!(is_valid_environment(ok), "{ok}");
        }
        assert!(is_valid_environment(&"a".repeat(MAX_ENV_LEN)));
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a\\b",
            ".hidden",
            "-a",
            "_a",
            "a b",
            "a:b",
            "a%2f",
            "caf\u{e9}",
            "a\0",
            "a\n",
        ] {
            assert!(!is_valid_environment(bad), "{bad:?}");
        }
        assert!(!is_valid_environment(&"a".repeat(MAX_ENV_LEN + 1)));
    }
}
