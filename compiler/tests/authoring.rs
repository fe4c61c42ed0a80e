//! The authoring model: metadata from YAML and JSON sources, the same diagnostics
//! as compiling, and nothing of it in the compiled ruleset.

use edgeflag_compiler::authoring::{
    check_path, check_sources, compile_project, compile_project_path, Expires, Flag, FlagMetadata,
    Location, Project, Segment,
};
use edgeflag_compiler::{compile_path, compile_sources};
use edgeflag_evaluator::format::{encode, EncodeOptions};
use serde_json::json;
use std::path::PathBuf;

const YAML: &str = "\
environments: [staging, production]
flags:
  new-checkout:
    description: One-page checkout.
    owner: team-checkout
    tags: [checkout, experiment]
    temporary: true
    expires: 2026-09-30
    rules:
      - clauses: [{op: in_segment, values: [staff]}]
        serve: on
    fallthrough: off
  kill-switch: {}
  bare:
  owned:
    owner: team-core
    tags: []
    temporary: false
segments:
  staff:
    description: Everyone at the company.
    include: [u1]
  nobody: {}
";

const JSON: &str = r#"{
  "environments": ["staging", "production"],
  "flags": {
    "new-checkout": {
      "description": "One-page checkout.",
      "owner": "team-checkout",
      "tags": ["checkout", "experiment"],
      "temporary": true,
      "expires": "2026-09-30",
      "rules": [{"clauses": [{"op": "in_segment", "values": ["staff"]}], "serve": "on"}],
      "fallthrough": "off"
    },
    "kill-switch": {},
    "bare": null,
    "owned": {"owner": "team-core", "tags": [], "temporary": false}
  },
  "segments": {
    "staff": {"description": "Everyone at the company.", "include": ["u1"]},
    "nobody": {}
  }
}"#;

fn file(name: &str, text: &str) -> Vec<(String, String)> {
    vec![(name.to_owned(), text.to_owned())]
}

fn at(file: &str, line: u32, column: u32) -> Location {
    Location {
        file: file.to_owned(),
        line,
        column,
    }
}

fn expires_2026_09_30() -> Expires {
    Expires {
        date: "2026-09-30".to_owned(),
        year: 2026,
        month: 9,
        day: 30,
        start_ms: 1_790_726_400_000,
    }
}

fn checkout_metadata() -> FlagMetadata {
    FlagMetadata {
        description: Some("One-page checkout.".to_owned()),
        owner: Some("team-checkout".to_owned()),
        tags: vec!["checkout".to_owned(), "experiment".to_owned()],
        temporary: true,
        expires: Some(expires_2026_09_30()),
    }
}

fn owned_metadata() -> FlagMetadata {
    FlagMetadata {
        owner: Some("team-core".to_owned()),
        ..FlagMetadata::default()
    }
}

/// The project with every location blanked (they differ between YAML and JSON).
fn without_locations(mut p: Project) -> Project {
    for f in &mut p.flags {
        f.location = Location::default();
    }
    for s in &mut p.segments {
        s.location = Location::default();
    }
    p
}

#[test]
fn metadata_round_trips_from_yaml() {
    let project = check_sources(&file("flags.yaml", YAML)).unwrap();
    let flag = |key: &str, line, metadata| Flag {
        key: key.to_owned(),
        location: at("flags.yaml", line, 3),
        metadata,
    };
    assert_eq!(
        project,
        Project {
            environments: vec!["staging".to_owned(), "production".to_owned()],
            flags: vec![
                flag("new-checkout", 3, checkout_metadata()),
                flag("kill-switch", 13, FlagMetadata::default()),
                flag("bare", 14, FlagMetadata::default()),
                flag("owned", 15, owned_metadata()),
            ],
            segments: vec![
                Segment {
                    key: "staff".to_owned(),
                    location: at("flags.yaml", 20, 3),
                    description: Some("Everyone at the company.".to_owned()),
                },
                Segment {
                    key: "nobody".to_owned(),
                    location: at("flags.yaml", 23, 3),
                    description: None,
                },
            ],
        }
    );
    assert_eq!(project.flag("owned").unwrap().metadata, owned_metadata());
    assert!(project.flag("missing").is_none());
    assert_eq!(project.segment("nobody").unwrap().description, None);
}

#[test]
fn metadata_round_trips_from_json() {
    let json = check_sources(&file("flags.json", JSON)).unwrap();
    let yaml = check_sources(&file("flags.yaml", YAML)).unwrap();
    assert_eq!(without_locations(json.clone()), without_locations(yaml));
    let checkout = json.flag("new-checkout").unwrap();
    assert_eq!(checkout.location, at("flags.json", 4, 5));
    assert_eq!(checkout.metadata, checkout_metadata());
    assert_eq!(json.flag("bare").unwrap().metadata, FlagMetadata::default());
    assert_eq!(
        json.segment("staff").unwrap().location,
        at("flags.json", 18, 5)
    );
}

#[test]
fn without_environments_the_project_has_default() {
    let project = check_sources(&file("f.yaml", "flags: {a: {tags: [x, x]}}\n")).unwrap();
    assert_eq!(project.environments, ["default"]);
    // Tags come as listed, repeats included.
    assert_eq!(project.flags[0].metadata.tags, ["x", "x"]);
    let empty = check_sources(&[]).unwrap();
    assert_eq!(empty.environments, ["default"]);
    assert!(empty.flags.is_empty() && empty.segments.is_empty());
}

#[test]
fn compile_project_returns_what_compile_sources_does() {
    for files in [file("flags.yaml", YAML), file("flags.json", JSON)] {
        let (project, envs) = compile_project(&files).unwrap();
        assert_eq!(project, check_sources(&files).unwrap());
        assert_eq!(envs, compile_sources(&files).unwrap());
        let names: Vec<_> = envs.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, project.environments);
    }
}

#[test]
fn metadata_is_not_in_the_ruleset() {
    let stripped: String = YAML
        .lines()
        .filter(|l| {
            !["description:", "owner:", "tags:", "temporary:", "expires:"]
                .iter()
                .any(|f| l.trim_start().starts_with(f))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let with = compile_sources(&file("flags.yaml", YAML)).unwrap();
    let without = compile_sources(&file("flags.yaml", &stripped)).unwrap();
    assert_eq!(with, without);
    for env in &with {
        let opts = EncodeOptions {
            environment: &env.name,
            version: 1,
            epoch: 1,
            created_at_ms: 0,
        };
        let bytes = encode(&env.body, &opts).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for meta in [
            "One-page checkout.",
            "team-checkout",
            "experiment",
            "2026-09-30",
        ] {
            assert!(
                !text.contains(meta),
                "{meta:?} is in the {} ruleset",
                env.name
            );
        }
    }
}

#[test]
fn errors_are_the_diagnostics_of_compile_sources() {
    let cases: Vec<Vec<(String, String)>> = vec![
        file(
            "flags.yaml",
            "flags:\n  a:\n    expires: 2026-02-30\n    owner: 7\n    tags: x\n    temporary: maybe\n    description: [x]\n",
        ),
        file(
            "flags.yaml",
            "segments:\n  s: {description: 1}\nflags:\n  a: {fallthrough: nope, owner: me}\n",
        ),
        file(
            "flags.yaml",
            "flags:\n  a: {prerequisites: [{flag: b, variations: [on]}]}\n  b: {prerequisites: [{flag: a, variations: [on]}]}\n",
        ),
        file("flags.json", "{\"flags\": {\"a\": {\"owner\": \"x\",}}}"),
        vec![
            ("a.yaml".to_owned(), "flags: {a: {owner: x}}\n".to_owned()),
            ("b.json".to_owned(), "{\"flags\": {\"a\": {}}}".to_owned()),
        ],
    ];
    for files in &cases {
        let compiled = compile_sources(files).unwrap_err();
        assert!(!compiled.is_empty());
        assert_eq!(check_sources(files).unwrap_err(), compiled, "{files:?}");
        assert_eq!(compile_project(files).unwrap_err(), compiled, "{files:?}");
    }
    let errors = check_sources(&cases[0]).unwrap_err();
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            r#"flags.yaml:3:14: flag "a" expires: invalid date "2026-02-30": expected YYYY-MM-DD"#,
            r#"flags.yaml:4:12: flag "a" owner: expected a string, found a number"#,
            r#"flags.yaml:5:11: flag "a" tags: expected a list, found a string"#,
            r#"flags.yaml:6:16: flag "a" temporary: expected a boolean, found a string"#,
            r#"flags.yaml:7:18: flag "a" description: expected a string, found a list"#,
        ]
    );
}

/// A fresh, empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    edgeflag_testkit::project::scratch(&format!("compiler-authoring-{name}"))
}

#[test]
fn check_path_reads_and_merges_like_compile_path() {
    let dir = temp_dir("merge");
    std::fs::create_dir_all(dir.join("team")).unwrap();
    std::fs::write(
        dir.join("b.json"),
        JSON.replace("\"bare\"", "\"bare-json\""),
    )
    .unwrap();
    std::fs::write(
        dir.join("team/a.yaml"),
        "flags:\n  team-flag: {owner: team-a, expires: 2030-01-01}\n",
    )
    .unwrap();
    std::fs::write(dir.join(".hidden.yaml"), "flags: {hidden: {}}\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "not a source").unwrap();

    let project = check_path(&dir).unwrap();
    let keys: Vec<_> = project.flags.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "new-checkout",
            "kill-switch",
            "bare-json",
            "owned",
            "team-flag"
        ]
    );
    let team = project.flag("team-flag").unwrap();
    assert_eq!(
        team.location.file,
        dir.join("team/a.yaml").display().to_string()
    );
    assert_eq!(team.metadata.owner.as_deref(), Some("team-a"));
    assert_eq!(team.metadata.expires.as_ref().unwrap().date, "2030-01-01");

    let (same, envs) = compile_project_path(&dir).unwrap();
    assert_eq!(same, project);
    assert_eq!(envs, compile_path(&dir).unwrap());

    // Errors, including unreadable paths, are compile_path's.
    std::fs::write(dir.join("team/c.yaml"), "flags: {a: {temporary: 1}}\n").unwrap();
    let compiled = compile_path(&dir).unwrap_err();
    assert_eq!(check_path(&dir).unwrap_err(), compiled);
    assert_eq!(compile_project_path(&dir).unwrap_err(), compiled);
    let missing = dir.join("missing");
    assert_eq!(
        check_path(&missing).unwrap_err(),
        compile_path(&missing).unwrap_err()
    );
    let empty = temp_dir("empty");
    assert_eq!(
        check_path(&empty).unwrap_err(),
        compile_path(&empty).unwrap_err()
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn project_serializes_to_json_and_back() {
    let project = check_sources(&file("flags.yaml", YAML)).unwrap();
    let value = serde_json::to_value(&project).unwrap();
    assert_eq!(value["environments"], json!(["staging", "production"]));
    assert_eq!(
        value["flags"][0],
        json!({
            "key": "new-checkout",
            "location": {"file": "flags.yaml", "line": 3, "column": 3},
            "metadata": {
                "description": "One-page checkout.",
                "owner": "team-checkout",
                "tags": ["checkout", "experiment"],
                "temporary": true,
                "expires": {
                    "date": "2026-09-30",
                    "year": 2026,
                    "month": 9,
                    "day": 30,
                    "start_ms": 1_790_726_400_000_i64
                }
            }
        })
    );
    assert_eq!(
        value["flags"][1]["metadata"],
        json!({"description": null, "owner": null, "tags": [], "temporary": false, "expires": null})
    );
    assert_eq!(
        value["segments"][1],
        json!({
            "key": "nobody",
            "location": {"file": "flags.yaml", "line": 23, "column": 3},
            "description": null
        })
    );
    let back: Project = serde_json::from_value(value).unwrap();
    assert_eq!(back, project);
}
