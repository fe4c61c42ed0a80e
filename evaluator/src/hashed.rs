//! Hashed values: how a client ruleset names user ids and other attribute values
//! without listing them.
//!
//! A client ruleset (the one browsers download; see
//! [`Body::client`](crate::model::Body::client)) stores every target key, every
//! segment include and exclude key and the string values of `in` clauses on
//! attributes that are not declared clear as salted hashes:
//! the first 16 bytes of `SHA-512("edgeflag client value v1\0" ‖ salt ‖ value)`,
//! as 32 lowercase hex digits. Evaluation hashes the context's value the same way,
//! into a buffer on the stack, and looks the result up in the same sorted lists as
//! a server ruleset's clear strings, so answers are the same and nothing allocates.
//!
//! ```
//! use edgeflag_evaluator::hashed;
//! let salt = [7u8; 16];
//! let h = hashed::hash(&salt, b"alice@example.com");
//! assert_eq!(h.as_str().len(), hashed::HASH_LEN);
//! assert!(hashed::is_hash(h.as_str()));
//! assert_eq!(h, hashed::hash(&salt, b"alice@example.com"));
//! assert_ne!(h, hashed::hash(&[8u8; 16], b"alice@example.com"));
//! ```
//!
//! A salt differs between rulesets, so the hashes of one ruleset say nothing
//! about another's, and no table of precomputed hashes applies. A hash does not
//! hide a value that can be guessed (a country code, a plan name): whoever holds
//! the file can hash candidates. `docs/security.md` says what this protects.

use sha2::{Digest, Sha512};

/// Length of a hashed value in characters (16 bytes as hex).
pub const HASH_LEN: usize = 32;

/// Bytes of a client ruleset's salt.
pub const SALT_LEN: usize = 16;

const DOMAIN: &[u8] = b"edgeflag client value v1\0";

/// A hashed value: [`HASH_LEN`] lowercase hex digits, held inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hashed([u8; HASH_LEN]);

impl Hashed {
    /// The hex digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into the buffer.
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The hex digits as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl core::fmt::Debug for Hashed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The hashed form of `value` under `salt`.
pub fn hash(salt: &[u8; SALT_LEN], value: &[u8]) -> Hashed {
    let mut h = Sha512::new();
    h.update(DOMAIN);
    h.update(salt);
    h.update(value);
    let digest = h.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; HASH_LEN];
    for (i, b) in digest.iter().take(HASH_LEN / 2).enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
    Hashed(out)
}

/// The salt for a client body: the first [`SALT_LEN`] bytes of
/// `SHA-512("edgeflag client salt v1\0" ‖ content)`, where `content` is the
/// body's encoding with every value still in clear. It differs between
/// projects and changes with the client ruleset's content (and only then), and
/// compiling the same sources gives the same bytes.
pub fn salt_for(content: &crate::model::Body) -> [u8; SALT_LEN] {
    let mut h = Sha512::new();
    h.update(b"edgeflag client salt v1\0");
    // Encoding a body into a vector cannot fail (postcard fails only on a
    // full fixed buffer); an empty encoding still gives a salt.
    h.update(postcard::to_allocvec(content).unwrap_or_default());
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&h.finalize()[..SALT_LEN]);
    salt
}

/// Whether `s` has the form of a hashed value ([`HASH_LEN`] lowercase hex digits).
pub fn is_hash(s: &str) -> bool {
    s.len() == HASH_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // SHA-512("edgeflag client value v1\0" ‖ 16 zero bytes ‖ "u1"), first 16 bytes;
        // pinned so every build (native, wasm32) and later versions agree.
        let h = hash(&[0; SALT_LEN], b"u1");
        let mut d = Sha512::new();
        d.update(b"edgeflag client value v1\0");
        d.update([0u8; 16]);
        d.update(b"u1");
        let full = d.finalize();
        let expect: String = full[..16].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(h.as_str(), expect);
        assert!(is_hash(h.as_str()));
        assert!(!is_hash(&expect.to_uppercase()));
        assert!(!is_hash(&expect[..31]));
    }

    #[test]
    fn the_value_and_the_salt_both_matter() {
        let s = [1; SALT_LEN];
        assert_ne!(hash(&s, b"a"), hash(&s, b"b"));
        assert_ne!(hash(&s, b""), hash(&[2; SALT_LEN], b""));
    }
}
