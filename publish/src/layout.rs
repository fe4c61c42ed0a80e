//! Where each object lives under a destination, and the HTTP metadata it carries.
//! The same layout is used in a bucket, in a directory and by `edgeflag serve`;
//! `docs/distribution.md` describes it for users.

/// Media type of a binary ruleset.
pub const RULESET_TYPE: &str = "application/vnd.edgeflag.ruleset";

/// What kind of object a key names; decides Content-Type and Cache-Control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `<env>/current.efr`: replaced on every publish, revalidated on every read.
    Current,
    /// `<env>/versions/<n>.efr`: written once, cacheable forever.
    Version,
    /// `<env>/manifest.json`: the version index, replaced on every publish.
    Manifest,
    /// `<env>/audit/<n>.json`: one record per publish or rollback, written once.
    Audit,
}

impl Kind {
    /// Classifies a key relative to the destination prefix, e.g.
    /// `production/current.efr`.
    pub fn of(key: &str) -> Option<Kind> {
        let (_env, rest) = key.split_once('/')?;
        match rest {
            "current.efr" => Some(Kind::Current),
            "manifest.json" => Some(Kind::Manifest),
            _ => {
                if let Some(file) = rest.strip_prefix("versions/") {
                    (file.ends_with(".efr") && !file.contains('/')).then_some(Kind::Version)
                } else if let Some(file) = rest.strip_prefix("audit/") {
                    (file.ends_with(".json") && !file.contains('/')).then_some(Kind::Audit)
                } else {
                    None
                }
            }
        }
    }

    /// The `Content-Type` to store and serve.
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Current | Kind::Version => RULESET_TYPE,
            Kind::Manifest | Kind::Audit => "application/json",
        }
    }

    /// The `Cache-Control` to store and serve: the mutable pointer is revalidated
    /// by ETag on every read (a 304 is a few hundred bytes); immutable versions
    /// are cached for a year.
    pub fn cache_control(self) -> &'static str {
        match self {
            Kind::Current => "public, max-age=0, must-revalidate",
            Kind::Version => "public, max-age=31536000, immutable",
            Kind::Manifest | Kind::Audit => "no-cache",
        }
    }
}

/// The strong ETag of a local file: a quoted 128-bit xxh3 of its content. Used by
/// the directory store for conditional writes and by `edgeflag serve`.
pub fn etag_of(bytes: &[u8]) -> String {
    format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// `<env>/current.efr`
pub fn current(env: &str) -> String {
    format!("{env}/current.efr")
}

/// `<env>/manifest.json`
pub fn manifest(env: &str) -> String {
    format!("{env}/manifest.json")
}

/// `<env>/versions/<20-digit version>.efr`
pub fn version(env: &str, version: u64) -> String {
    format!("{env}/versions/{version:020}.efr")
}

/// `<env>/audit/<20-digit version>.json`
pub fn audit(env: &str, version: u64) -> String {
    format!("{env}/audit/{version:020}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_classify_back_to_their_kind() {
        assert_eq!(Kind::of(&current("prod")), Some(Kind::Current));
        assert_eq!(Kind::of(&manifest("prod")), Some(Kind::Manifest));
        assert_eq!(Kind::of(&version("prod", 7)), Some(Kind::Version));
        assert_eq!(Kind::of(&audit("prod", 7)), Some(Kind::Audit));
        assert_eq!(version("prod", 7), "prod/versions/00000000000000000007.efr");
        assert_eq!(Kind::of("prod/other.txt"), None);
        assert_eq!(Kind::of("current.efr"), None);
        assert_eq!(Kind::of("prod/versions/a/b.efr"), None);
    }
}
