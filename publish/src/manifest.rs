//! The version index (`<env>/manifest.json`) and the audit records
//! (`<env>/audit/<version>.json`) written beside the rulesets.

use serde::{Deserialize, Serialize};

/// What created a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Compiled from source and published.
    Publish,
    /// A copy of an earlier version's rules, published as a new version.
    Rollback {
        /// The version whose rules were restored.
        to: u64,
    },
    /// The current rules signed again, with a new expiry, as a new version.
    Resign,
}

/// One published version, as listed in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The ruleset version.
    pub version: u64,
    /// Its epoch (see `edgeflag_evaluator::accept`).
    #[serde(default)]
    pub epoch: u64,
    /// Creation time, Unix milliseconds (also in the ruleset header).
    pub created_at_ms: i64,
    /// The ruleset checksum from its header, as 16 hex digits.
    pub checksum: String,
    /// Size of the ruleset in bytes.
    pub size: u64,
    /// What created it.
    pub action: Action,
    /// Who published it.
    pub actor: String,
    /// What changed from the version it replaced, one line per change.
    #[serde(default)]
    pub changes: Vec<String>,
}

/// `<env>/manifest.json`: every version of one environment, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The environment.
    pub environment: String,
    /// The highest version published.
    pub latest: u64,
    /// The epoch of the latest version: when this destination's version series
    /// began (Unix ms), or when `--new-epoch` started a new one.
    #[serde(default)]
    pub epoch: u64,
    /// Every version, oldest first.
    pub versions: Vec<Entry>,
}

impl Manifest {
    /// An empty manifest for `environment`.
    pub fn new(environment: &str) -> Manifest {
        Manifest {
            environment: environment.to_string(),
            latest: 0,
            epoch: 0,
            versions: Vec::new(),
        }
    }

    /// The entry of `version`, if it was published here.
    pub fn entry(&self, version: u64) -> Option<&Entry> {
        self.versions.iter().find(|e| e.version == version)
    }

    /// The version that was current at `at_ms`: the last one published at or
    /// before it. A client ruleset is published just before the server ruleset
    /// it comes with, so this finds the client version of a server version from
    /// the server version's `created_at_ms`.
    ///
    /// ```
    /// use edgeflag_publish::manifest::Manifest;
    /// let m: Manifest = serde_json::from_str(
    ///     r#"{"environment":"p","latest":2,"versions":[
    ///         {"version":1,"created_at_ms":100,"checksum":"a","size":1,"action":{"kind":"publish"},"actor":"x"},
    ///         {"version":2,"created_at_ms":300,"checksum":"b","size":1,"action":{"kind":"publish"},"actor":"x"}]}"#,
    /// ).unwrap();
    /// assert_eq!(m.current_at(250).map(|e| e.version), Some(1));
    /// assert_eq!(m.current_at(300).map(|e| e.version), Some(2));
    /// assert!(m.current_at(99).is_none());
    /// ```
    pub fn current_at(&self, at_ms: i64) -> Option<&Entry> {
        (self.versions.iter())
            .filter(|e| e.created_at_ms <= at_ms)
            .max_by_key(|e| (e.created_at_ms, e.version))
    }
}

/// `<env>/audit/<version>.json`: who did what, when. Written once, never changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The environment.
    pub environment: String,
    /// The version this action created.
    pub version: u64,
    /// Its epoch.
    #[serde(default)]
    pub epoch: u64,
    /// The version `current.efr` held before, if any.
    pub previous_version: Option<u64>,
    /// What was done.
    pub action: Action,
    /// Who did it (`--actor`, else `$EDGEFLAG_ACTOR`, `$GITHUB_ACTOR`, `$USER`).
    pub actor: String,
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// The new ruleset's checksum, 16 hex digits.
    pub checksum: String,
    /// What changed, one line per change.
    pub changes: Vec<String>,
    /// The tool that wrote the record.
    pub tool: String,
}
