//! `edgeflag publish`, `rollback` and `history` against a local directory: the
//! object layout, increasing versions, unchanged skips, rollback as a new version,
//! the audit log, and racing publishers (the directory store enforces
//! conditional writes with a lock file).

use edgeflag_testkit::project as support;

use edgeflag_evaluator::{Context, Ruleset};
use serde_json::Value;
use support::{
    assert_every_racer_landed, edgeflag, ok, project, publish_concurrently, s, write_source,
};

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("file exists")).expect("valid JSON")
}

fn current(dir: &std::path::Path, env: &str) -> Ruleset {
    let bytes = std::fs::read(dir.join(env).join("current.efr")).expect("current.efr");
    Ruleset::from_bytes(&bytes).expect("current.efr loads")
}

#[test]
fn publish_writes_the_layout_and_versions_increase() {
    let (src, dest) = project("publish-layout", true, 0.1);

    let out = ok(&["publish", s(&src), "--to", s(&dest)]);
    assert!(out.contains("published staging v1"), "{out}");
    assert!(out.contains("published production v1"), "{out}");
    assert!(out.contains("+ flag checkout"), "{out}");
    for env in ["staging", "production"] {
        let d = dest.join(env);
        assert!(d.join("current.efr").is_file());
        assert!(d.join("versions/00000000000000000001.efr").is_file());
        assert!(d.join("audit/00000000000000000001.json").is_file());
        assert_eq!(
            std::fs::read(d.join("current.efr")).unwrap(),
            std::fs::read(d.join("versions/00000000000000000001.efr")).unwrap()
        );
        let rs = current(&dest, env);
        assert_eq!(rs.header().version, 1);
        assert_eq!(rs.header().environment, env);
    }

    // Same rules again: nothing written.
    let out = ok(&["publish", s(&src), "--to", s(&dest)]);
    assert!(out.contains("unchanged production: v1"), "{out}");
    assert!(!dest
        .join("production/versions/00000000000000000002.efr")
        .exists());

    // A change, for one environment only.
    write_source(&src, false, 0.1);
    let out = ok(&[
        "publish",
        s(&src),
        "--to",
        &format!("file://{}", s(&dest)),
        "--env",
        "production",
        "--actor",
        "ann",
    ]);
    assert!(out.contains("published production v2 (was v1)"), "{out}");
    assert!(out.contains("checkout"), "{out}");
    assert!(!out.contains("staging"), "{out}");
    assert_eq!(current(&dest, "production").header().version, 2);
    assert_eq!(current(&dest, "staging").header().version, 1);
    let ctx = Context::new("u1");
    assert!(!current(&dest, "production").bool_value("checkout", &ctx, true));
    assert!(current(&dest, "staging").bool_value("checkout", &ctx, false));

    let manifest = read_json(&dest.join("production/manifest.json"));
    assert_eq!(manifest["latest"], 2);
    let versions = manifest["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1]["actor"], "ann");
    assert_eq!(versions[1]["action"]["kind"], "publish");
    assert_eq!(
        versions[1]["checksum"],
        format!("{:016x}", current(&dest, "production").header().checksum)
    );
    let audit = read_json(&dest.join("production/audit/00000000000000000002.json"));
    assert_eq!(audit["actor"], "ann");
    assert_eq!(audit["previous_version"], 1);
    assert!(audit["at"].as_str().unwrap().ends_with('Z'));
    let changes = audit["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c.as_str().unwrap().contains("checkout")),
        "{changes:?}"
    );

    // --force writes a new version even without changes.
    let out = ok(&[
        "publish",
        s(&src),
        "--to",
        s(&dest),
        "--env",
        "production",
        "--force",
    ]);
    assert!(out.contains("published production v3"), "{out}");
}

#[test]
fn rollback_republishes_old_rules_as_a_new_version_and_history_lists_all() {
    let (src, dest) = project("publish-rollback", true, 0.1);
    ok(&["publish", s(&src), "--to", s(&dest)]);
    write_source(&src, false, 0.2);
    ok(&["publish", s(&src), "--to", s(&dest)]);
    let ctx = Context::new("u1");
    assert!(!current(&dest, "production").bool_value("checkout", &ctx, true));

    let out = ok(&[
        "rollback",
        "--to",
        s(&dest),
        "--env",
        "production",
        "--version",
        "1",
        "--actor",
        "oncall",
    ]);
    assert!(
        out.contains("rolled back production to the rules of v1, as v3"),
        "{out}"
    );
    let rs = current(&dest, "production");
    assert_eq!(rs.header().version, 3);
    assert!(rs.bool_value("checkout", &ctx, false));
    assert_eq!(rs.number_value("skip-rate", &ctx, 0.0), 0.1);

    let manifest = read_json(&dest.join("production/manifest.json"));
    assert_eq!(manifest["versions"][2]["action"]["kind"], "rollback");
    assert_eq!(manifest["versions"][2]["action"]["to"], 1);
    assert_eq!(manifest["versions"][2]["actor"], "oncall");

    let out = ok(&["history", "--to", s(&dest), "--env", "production"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("latest v3"), "{out}");
    let v3 = out.find("v3 ").expect("v3 listed");
    let v1 = out.find("v1 ").expect("v1 listed");
    assert!(v3 < v1, "newest first:\n{out}");
    assert!(out.contains("rollback to v1 by oncall"), "{out}");
    assert!(out.contains("publish by test-suite"), "{out}");

    let json: Value = serde_json::from_str(&ok(&[
        "history",
        "--to",
        s(&dest),
        "--env",
        "production",
        "--json",
    ]))
    .unwrap();
    assert_eq!(json["latest"], 3);

    // Unknown version, unknown environment: clear errors, nothing changes.
    let o = edgeflag(&[
        "rollback",
        "--to",
        s(&dest),
        "--env",
        "production",
        "--version",
        "9",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("version 9 not found"), "{err}");
    assert_eq!(current(&dest, "production").header().version, 3);
    let o = edgeflag(&["history", "--to", s(&dest), "--env", "nope"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing published for environment nope"));
}

#[test]
fn a_failed_publish_leaves_the_previous_ruleset_serving() {
    let (src, dest) = project("publish-invalid", true, 0.1);
    ok(&["publish", s(&src), "--to", s(&dest)]);
    let before = std::fs::read(dest.join("production/current.efr")).unwrap();
    std::fs::write(
        src.join("flags.yaml"),
        "flags:\n  checkout:\n    enabled: maybe\n",
    )
    .unwrap();
    let o = edgeflag(&["publish", s(&src), "--to", s(&dest)]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("flags.yaml:3"),
        "error names file and line: {err}"
    );
    assert_eq!(
        std::fs::read(dest.join("production/current.efr")).unwrap(),
        before
    );

    let o = edgeflag(&["publish", s(&src), "--to", "gs://bucket"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unsupported scheme"));
    write_source(&src, true, 0.1);
    let o = edgeflag(&["publish", s(&src), "--to", s(&dest), "--env", "qa"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--env qa: no such environment"));
}

#[test]
fn racing_publishers_each_get_their_own_version() {
    let (src, dest) = project("publish-race", true, 0.5);
    const N: usize = 6;
    publish_concurrently(
        N,
        &[
            "publish",
            s(&src),
            "--to",
            s(&dest),
            "--env",
            "production",
            "--force",
        ],
        &[],
    );
    let manifest = read_json(&dest.join("production/manifest.json"));
    let versions = assert_every_racer_landed(&manifest, N);
    assert_eq!(
        current(&dest, "production").header().version,
        versions[N - 1]
    );
    for v in &versions {
        let audit = dest.join(format!("production/audit/{v:020}.json"));
        assert!(audit.is_file(), "audit record for v{v}");
    }
}

/// Every file under `root` with its content, for "nothing was written" checks.
fn files(root: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("readable file");
                out.insert(path, bytes);
            }
        }
    }
    out
}

#[test]
fn environment_names_that_leave_the_destination_are_refused() {
    use edgeflag_evaluator::format::{encode, EncodeOptions};
    let (src, dest) = project("publish-env-escape", true, 0.1);
    ok(&["publish", s(&src), "--to", s(&dest)]);
    // A version and a manifest for environment "../x" planted beside the
    // destination, where `--env ../x` would reach.
    let root = dest.parent().expect("project root").to_path_buf();
    let outside = root.join("x");
    std::fs::create_dir_all(outside.join("versions")).unwrap();
    let planted = encode(
        &edgeflag_evaluator::model::Body::default(),
        &EncodeOptions {
            // The encoder refuses "../x" itself; the planted file's own name
            // does not matter, only where it lies.
            environment: "x",
            version: 1,
            epoch: 1,
            created_at_ms: 1,
        },
    )
    .unwrap();
    std::fs::write(outside.join("versions/00000000000000000001.efr"), planted).unwrap();
    std::fs::write(
        outside.join("manifest.json"),
        r#"{"environment":"../x","latest":1,"epoch":1,"versions":[]}"#,
    )
    .unwrap();
    let before = files(&root);

    let o = edgeflag(&[
        "rollback",
        "--to",
        s(&dest),
        "--env",
        "../x",
        "--version",
        "1",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("\"../x\""), "names the environment: {err}");
    assert!(
        err.contains("[A-Za-z0-9][A-Za-z0-9._-]{0,63}"),
        "states the rule: {err}"
    );

    let o = edgeflag(&["history", "--to", s(&dest), "--env", "../x"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(err.contains("\"../x\""), "names the environment: {err}");
    assert!(
        err.contains("[A-Za-z0-9][A-Za-z0-9._-]{0,63}"),
        "states the rule: {err}"
    );

    assert_eq!(files(&root), before, "nothing written inside or outside");
}

#[test]
fn a_destination_at_the_last_version_refuses_to_publish_and_writes_nothing() {
    use edgeflag_evaluator::format::{encode, EncodeOptions};
    let (src, dest) = project("publish-exhausted", true, 0.1);
    ok(&["publish", s(&src), "--to", s(&dest)]);
    // current.efr holds the last version there is, and the manifest claims the
    // highest u64 (`latest + 1` would wrap). Readers refuse headers above 2^53 - 1.
    let held = current(&dest, "production");
    let at_max = encode(
        held.body(),
        &EncodeOptions {
            environment: "production",
            version: edgeflag_evaluator::format::MAX_VERSION,
            epoch: held.header().epoch,
            created_at_ms: held.header().created_at_ms,
        },
    )
    .unwrap();
    std::fs::write(dest.join("production/current.efr"), &at_max).unwrap();
    let mut manifest = read_json(&dest.join("production/manifest.json"));
    manifest["latest"] = Value::from(u64::MAX);
    std::fs::write(
        dest.join("production/manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let before = files(&dest);

    write_source(&src, false, 0.1);
    for extra in [&[][..], &["--new-epoch"][..]] {
        let mut args = vec!["publish", s(&src), "--to", s(&dest), "--env", "production"];
        args.extend_from_slice(extra);
        let o = edgeflag(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains("production"), "{err}");
        assert!(err.contains("9007199254740991"), "names the limit: {err}");
        assert!(err.contains("move"), "says how to recover: {err}");
        assert_eq!(files(&dest), before, "nothing written");
    }
    assert_eq!(
        std::fs::read(dest.join("production/current.efr")).unwrap(),
        at_max
    );
}

#[test]
fn a_closed_stdout_does_not_stop_the_publish() {
    let (src, dest) = project("publish-closed-stdout", true, 0.1);
    // `edgeflag publish … | head -0`: the reader is gone before the first line.
    let mut child = support::command(&["publish", s(&src), "--to", s(&dest)], &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn edgeflag");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("edgeflag ran");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{:?}: {err}", o.status);
    assert!(!err.contains("panicked"), "{err}");
    for env in ["staging", "production"] {
        assert_eq!(current(&dest, env).header().version, 1, "{env} published");
    }
}
