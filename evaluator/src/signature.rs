//! Ruleset signatures: who published this ruleset, and has it changed since?
//!
//! A signed ruleset carries an Ed25519 signature (RFC 8032, verified strictly) over
//! a SHA-512 digest of everything but the signature itself:
//!
//! ```text
//! digest    = SHA-512("edgeflag ruleset signature v1\0" ‖ header bytes 0..128 ‖ body)
//! signature = Ed25519-sign(secret key, digest)
//! ```
//!
//! The signed header bytes hold the environment, the version, the epoch, the
//! expiry, the key id and the checksum, so none of them can be changed without
//! breaking the signature. Signing a digest (as minisign does) keeps the message a
//! signer sees at 64 bytes, so a KMS or HSM behind [`Signer`] never receives the
//! ruleset.
//!
//! Keys are named by a [`KeyId`]: the first 8 bytes of SHA-512 over the public key.
//! The header carries the id, so a reader trusting several keys ([`TrustedKeys`])
//! knows which one to try and keys can rotate: trust the new key, publish with it,
//! then drop the old one.
//!
//! Keys travel as one line of text:
//!
//! ```text
//! edgeflag-ed25519-public:<64 hex digits>     (KEY.pub; give it to every reader)
//! edgeflag-ed25519-secret:<64 hex digits>     (KEY; mode 0600, the publisher's only)
//! ```
//!
//! ```
//! use edgeflag_evaluator::signature::{SecretKey, Signer, TrustedKeys};
//!
//! let secret = SecretKey::from_seed([7; 32]);
//! let public = secret.public_key();
//! let keys = TrustedKeys::parse(&public.to_string()).unwrap();
//! assert_eq!(keys.get(secret.key_id()), Some(&public));
//! assert!(SecretKey::parse(&secret.to_text()).is_ok());
//! ```
//!
//! Signing a ruleset is [`crate::format::sign`]; checking one is
//! [`crate::accept::Policy::trust`].

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha512};
use std::fmt;
use thiserror::Error;

/// Prefix of a public key's text form.
pub const PUBLIC_PREFIX: &str = "edgeflag-ed25519-public:";
/// Prefix of a secret key's text form.
pub const SECRET_PREFIX: &str = "edgeflag-ed25519-secret:";
/// Most keys a reader may trust at once (rotation needs two; a few spare).
pub const MAX_TRUSTED_KEYS: usize = 16;

const DOMAIN: &[u8] = b"edgeflag ruleset signature v1\0";

/// The name of a key: the first 8 bytes of SHA-512 over its public key. Shown as
/// 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u64);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl KeyId {
    fn of(public: &[u8; 32]) -> KeyId {
        let d = Sha512::digest(public);
        let mut id = [0u8; 8];
        id.copy_from_slice(&d[..8]);
        KeyId(u64::from_be_bytes(id))
    }
}

/// Why a key could not be read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The text does not start with the expected prefix.
    #[error("not an edgeflag {kind} key: expected a line starting with {prefix:?}")]
    Prefix {
        /// `public` or `secret`.
        kind: &'static str,
        /// The expected prefix.
        prefix: &'static str,
    },
    /// The key material is not 64 hex digits.
    #[error("malformed {kind} key: expected 64 hex digits after the prefix")]
    Hex {
        /// `public` or `secret`.
        kind: &'static str,
    },
    /// The bytes are not a valid Ed25519 public key (or a weak one).
    #[error("invalid Ed25519 public key")]
    Invalid,
    /// No key in the text.
    #[error("no key found")]
    Empty,
    /// More keys than a reader trusts at once.
    #[error("too many keys: at most {MAX_TRUSTED_KEYS}")]
    TooMany,
    /// Two keys share an id (the same key twice).
    #[error("key {0} is listed twice")]
    Duplicate(KeyId),
}

/// Why signing failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The signing backend (a KMS, an HSM) failed; its message.
    #[error("signer failed: {0}")]
    Backend(String),
    /// The bytes to sign are not a valid ruleset.
    #[error("cannot sign: {0}")]
    NotARuleset(crate::DecodeError),
}

/// Something that signs ruleset digests: a [`SecretKey`] in memory, or a KMS or
/// HSM that holds the key. It is handed the 64-byte digest described in the
/// [module docs](self), never the ruleset. `Send + Sync`, so publishing can run
/// on any thread of an async runtime; `Debug` must never show key material.
pub trait Signer: Send + Sync + fmt::Debug {
    /// The id of the key that signs.
    fn key_id(&self) -> KeyId;
    /// An Ed25519 signature over `digest` (the 64 bytes are the message).
    fn sign_digest(&self, digest: &[u8; 64]) -> Result<[u8; 64], SignError>;
}

/// A public key a reader trusts.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    id: KeyId,
    key: VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id)
    }
}

impl fmt::Display for PublicKey {
    /// The text form, `edgeflag-ed25519-public:<hex>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PUBLIC_PREFIX)?;
        write_hex(f, self.key.as_bytes())
    }
}

impl PublicKey {
    /// Reads the text form (surrounding whitespace is ignored).
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let bytes = parse_line(text.trim(), PUBLIC_PREFIX, "public")?;
        PublicKey::from_bytes(&bytes)
    }

    /// A key from its 32 raw bytes. Weak (small-order) keys are refused.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, KeyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::Invalid)?;
        if key.is_weak() {
            return Err(KeyError::Invalid);
        }
        Ok(PublicKey {
            id: KeyId::of(bytes),
            key,
        })
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Whether `signature` is this key's signature over `digest`.
    pub fn verifies(&self, digest: &[u8; 64], signature: &[u8; 64]) -> bool {
        self.key
            .verify_strict(digest, &Signature::from_bytes(signature))
            .is_ok()
    }
}

/// The public keys a reader trusts; at most [`MAX_TRUSTED_KEYS`], no duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
}

impl TrustedKeys {
    /// Reads one key per line; blank lines and lines starting with `#` are
    /// skipped. At least one key is required.
    pub fn parse(text: &str) -> Result<TrustedKeys, KeyError> {
        let mut keys = TrustedKeys::default();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            keys.add(PublicKey::parse(line)?)?;
        }
        if keys.keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(keys)
    }

    /// Adds a key.
    pub fn add(&mut self, key: PublicKey) -> Result<(), KeyError> {
        if self.get(key.id).is_some() {
            return Err(KeyError::Duplicate(key.id));
        }
        if self.keys.len() == MAX_TRUSTED_KEYS {
            return Err(KeyError::TooMany);
        }
        self.keys.push(key);
        Ok(())
    }

    /// The trusted key with this id.
    pub fn get(&self, id: KeyId) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// The trusted keys.
    pub fn iter(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.iter()
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// An Ed25519 secret key held in memory. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretKey {
    key: SigningKey,
    id: KeyId,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.id)
    }
}

impl SecretKey {
    /// The key whose 32-byte seed is `seed` (take it from a CSPRNG).
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        let key = SigningKey::from_bytes(&seed);
        let id = KeyId::of(key.verifying_key().as_bytes());
        SecretKey { key, id }
    }

    /// Reads the text form `edgeflag-ed25519-secret:<hex>` (surrounding
    /// whitespace is ignored).
    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        parse_line(text.trim(), SECRET_PREFIX, "secret").map(SecretKey::from_seed)
    }

    /// The text form, for the key file.
    pub fn to_text(&self) -> String {
        let mut s = String::from(SECRET_PREFIX);
        for b in self.key.as_bytes() {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            id: self.id,
            key: self.key.verifying_key(),
        }
    }
}

impl Signer for SecretKey {
    fn key_id(&self) -> KeyId {
        self.id
    }

    fn sign_digest(&self, digest: &[u8; 64]) -> Result<[u8; 64], SignError> {
        use ed25519_dalek::Signer as _;
        Ok(self.key.sign(digest).to_bytes())
    }
}

/// The digest a signature covers: `signed_header` is header bytes 0..128.
pub(crate) fn digest(signed_header: &[u8], body: &[u8]) -> [u8; 64] {
    let mut h = Sha512::new();
    h.update(DOMAIN);
    h.update(signed_header);
    h.update(body);
    let mut out = [0u8; 64];
    out.copy_from_slice(&h.finalize());
    out
}

fn parse_line(text: &str, prefix: &'static str, kind: &'static str) -> Result<[u8; 32], KeyError> {
    let hex = text
        .strip_prefix(prefix)
        .ok_or(KeyError::Prefix { kind, prefix })?;
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return Err(KeyError::Hex { kind });
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        let hi = nibble(pair[0]).ok_or(KeyError::Hex { kind })?;
        let lo = nibble(pair[1]).ok_or(KeyError::Hex { kind })?;
        out[i] = hi << 4 | lo;
    }
    Ok(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_text() {
        let secret = SecretKey::from_seed([1; 32]);
        let text = secret.to_text();
        assert!(text.starts_with(SECRET_PREFIX));
        assert_eq!(
            SecretKey::parse(&format!("{text}\n")).unwrap().key_id(),
            secret.key_id()
        );
        let public = secret.public_key();
        assert_eq!(PublicKey::parse(&public.to_string()).unwrap(), public);
        assert_eq!(
            format!("{:?}", secret),
            format!("SecretKey({})", secret.key_id())
        );
        assert!(!format!("{:?}", secret).contains(&text[SECRET_PREFIX.len()..]));
    }

    #[test]
    fn bad_key_text_says_what_is_wrong() {
        let public = SecretKey::from_seed([1; 32]).public_key().to_string();
        assert_eq!(
            PublicKey::parse("ssh-ed25519 AAAA"),
            Err(KeyError::Prefix {
                kind: "public",
                prefix: PUBLIC_PREFIX
            })
        );
        assert_eq!(
            PublicKey::parse(&public[..public.len() - 1]),
            Err(KeyError::Hex { kind: "public" })
        );
        let mut bad = public.clone();
        bad.replace_range(bad.len() - 1.., "g");
        assert_eq!(
            PublicKey::parse(&bad),
            Err(KeyError::Hex { kind: "public" })
        );
        // The identity point is a weak key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::Invalid));
        // A secret key is not a public key, and the other way round.
        let secret = SecretKey::from_seed([1; 32]).to_text();
        assert!(matches!(
            PublicKey::parse(&secret),
            Err(KeyError::Prefix { .. })
        ));
        assert!(matches!(
            SecretKey::parse(&public),
            Err(KeyError::Prefix { .. })
        ));
    }

    #[test]
    fn trusted_keys_skip_comments_and_refuse_duplicates() {
        let a = SecretKey::from_seed([1; 32]).public_key();
        let b = SecretKey::from_seed([2; 32]).public_key();
        let keys = TrustedKeys::parse(&format!("# current\n{a}\n\n# next\n{b}\n")).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.get(b.id()), Some(&b));
        assert_eq!(
            TrustedKeys::parse(&format!("{a}\n{a}")),
            Err(KeyError::Duplicate(a.id()))
        );
        assert_eq!(TrustedKeys::parse("# none\n"), Err(KeyError::Empty));
    }

    #[test]
    fn a_signature_verifies_only_its_digest_under_its_key() {
        let secret = SecretKey::from_seed([3; 32]);
        let d = digest(&[1; 128], b"body");
        let sig = secret.sign_digest(&d).unwrap();
        assert!(secret.public_key().verifies(&d, &sig));
        assert!(!secret
            .public_key()
            .verifies(&digest(&[1; 128], b"bodY"), &sig));
        assert!(!SecretKey::from_seed([4; 32])
            .public_key()
            .verifies(&d, &sig));
        let mut flipped = sig;
        flipped[10] ^= 1;
        assert!(!secret.public_key().verifies(&d, &flipped));
    }
}
