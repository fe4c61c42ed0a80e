//! The flag metadata of a resolution: what OpenFeature's reason leaves out.
//!
//! | key | value | present |
//! |---|---|---|
//! | [`REASON`] | the edgeflag reason kind: `OFF`, `PREREQUISITE_FAILED`, `TARGET_MATCH`, `RULE_MATCH`, `FALLTHROUGH`, `DEFAULT` | always |
//! | [`RULE_INDEX`] | 0-based position of the matched rule | `RULE_MATCH` |
//! | [`RULE_ID`] | the matched rule's id | `RULE_MATCH` of a rule with an id |
//! | [`PREREQUISITE`] | key of the failed prerequisite | `PREREQUISITE_FAILED` |
//! | [`VERSION`], [`EPOCH`] | the ruleset's version and epoch (rulesets order by `(epoch, version)`) | always |
//! | [`ENVIRONMENT`] | the ruleset's environment | always |
//! | [`STALE`] | `true`: the ruleset has expired and is still served | only then |
//!
//! ```
//! use edgeflag_openfeature::metadata;
//! use open_feature::FlagMetadataValue;
//! # let details = open_feature::EvaluationDetails::<bool> {
//! #     flag_metadata: open_feature::FlagMetadata::default()
//! #         .with_value(metadata::REASON, "RULE_MATCH")
//! #         .with_value(metadata::RULE_ID, "internal"),
//! #     ..Default::default()
//! # };
//! // details: from client.get_bool_details(..)
//! let values = &details.flag_metadata.values;
//! if values.get(metadata::REASON) == Some(&FlagMetadataValue::String("RULE_MATCH".into())) {
//!     println!("rule {:?}", values.get(metadata::RULE_ID));
//! }
//! ```

use edgeflag_evaluator::{Reason, Ruleset};
use open_feature::{FlagMetadata, FlagMetadataValue};
use std::collections::HashMap;
use std::time::SystemTime;

/// The edgeflag reason kind ([`Reason::kind`]).
pub const REASON: &str = "reason";
/// The matched rule's 0-based index.
pub const RULE_INDEX: &str = "rule_index";
/// The matched rule's id.
pub const RULE_ID: &str = "rule_id";
/// The failed prerequisite's key.
pub const PREREQUISITE: &str = "prerequisite";
/// The ruleset's version.
pub const VERSION: &str = "version";
/// The ruleset's epoch.
pub const EPOCH: &str = "epoch";
/// The ruleset's environment.
pub const ENVIRONMENT: &str = "environment";
/// Set (to `true`) when the ruleset has expired.
pub const STALE: &str = "stale";

/// The metadata of a result served by `rs` for `reason`.
pub(crate) fn of(rs: &Ruleset, reason: &Reason<'_>) -> FlagMetadata {
    let h = rs.header();
    let int = |n: u64| FlagMetadataValue::Int(i64::try_from(n).unwrap_or(i64::MAX));
    // Sized once: inserting into an empty map would grow it twice.
    let mut values = HashMap::with_capacity(7);
    values.insert(
        REASON.to_owned(),
        FlagMetadataValue::String(reason.kind().to_owned()),
    );
    match reason {
        Reason::RuleMatch {
            rule_index,
            rule_id,
        } => {
            values.insert(RULE_INDEX.to_owned(), int(u64::from(*rule_index)));
            if let Some(id) = rule_id {
                values.insert(
                    RULE_ID.to_owned(),
                    FlagMetadataValue::String((*id).to_owned()),
                );
            }
        }
        Reason::PrerequisiteFailed { prerequisite } => {
            values.insert(
                PREREQUISITE.to_owned(),
                FlagMetadataValue::String((*prerequisite).to_owned()),
            );
        }
        _ => {}
    }
    values.insert(VERSION.to_owned(), int(h.version));
    values.insert(EPOCH.to_owned(), int(h.epoch));
    values.insert(
        ENVIRONMENT.to_owned(),
        FlagMetadataValue::String(h.environment.clone()),
    );
    if h.expires_at_ms.is_some() && h.is_expired(now_ms()) {
        values.insert(STALE.to_owned(), FlagMetadataValue::Bool(true));
    }
    FlagMetadata { values }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
