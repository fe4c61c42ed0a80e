//! `openfeature::reason` and `error_code` follow `tests/vectors/openfeature.json`,
//! the mapping every provider and the OFREP endpoint share.

use edgeflag_evaluator::{openfeature, Detail, ErrorKind, FlagValue, Reason};

fn detail(kind: &str, in_rollout: bool) -> Detail<'static> {
    let reason = match kind {
        "OFF" => Reason::Off,
        "PREREQUISITE_FAILED" => Reason::PrerequisiteFailed { prerequisite: "p" },
        "TARGET_MATCH" => Reason::TargetMatch,
        "RULE_MATCH" => Reason::RuleMatch {
            rule_index: 0,
            rule_id: None,
        },
        "FALLTHROUGH" => Reason::Fallthrough,
        "DEFAULT" => Reason::Default,
        "ERROR" => Reason::Error(ErrorKind::FlagNotFound),
        other => panic!("unknown edgeflag reason {other} in the vectors"),
    };
    let error = matches!(reason, Reason::Error(_));
    Detail {
        value: (!error).then_some(FlagValue::Bool(true)),
        variation: (!error).then_some("on"),
        variation_index: (!error).then_some(0),
        reason,
        in_rollout,
    }
}

#[test]
fn reasons_and_error_codes_follow_the_shared_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/openfeature.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let reasons = v["reasons"].as_array().unwrap();
    assert!(reasons.len() >= 9);
    for case in reasons {
        let d = detail(
            case["edgeflag"].as_str().unwrap(),
            case["in_rollout"].as_bool().unwrap(),
        );
        assert_eq!(openfeature::reason(&d), case["openfeature"], "{case}");
        assert_eq!(
            openfeature::error_code(&d).is_some(),
            case["openfeature"] == "ERROR"
        );
    }
    for case in v["errors"].as_array().unwrap() {
        let kind = match case["edgeflag"].as_str().unwrap() {
            "FLAG_NOT_FOUND" => ErrorKind::FlagNotFound,
            "WRONG_TYPE" => ErrorKind::WrongType,
            other => panic!("unknown error kind {other}"),
        };
        assert_eq!(
            openfeature::error_code_of(kind),
            case["openfeature"],
            "{case}"
        );
        let d = Detail::<FlagValue> {
            value: None,
            variation: None,
            variation_index: None,
            reason: Reason::Error(kind),
            in_rollout: false,
        };
        assert_eq!(openfeature::error_code(&d), case["openfeature"].as_str());
    }
}
