//! The crate map of ARCHITECTURE.md, enforced: reads `cargo metadata` and fails
//! when a dependency edge appears that the architecture forbids (the evaluator
//! learning HTTP, the compiler pulling in tokio, anything depending on the CLI…).

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Each workspace crate and the workspace crates it may depend on (normal and
/// build dependencies). A crate missing here fails the test: add it with its
/// allowed edges when you add it to the workspace.
const ALLOWED: &[(&str, &[&str])] = &[
    ("edgeflag-evaluator", &[]),
    ("edgeflag-compiler", &["edgeflag-evaluator"]),
    ("edgeflag-client", &["edgeflag-evaluator"]),
    (
        "edgeflag-publish",
        &["edgeflag-evaluator", "edgeflag-compiler"],
    ),
    (
        "edgeflag-origin",
        &[
            "edgeflag-evaluator",
            "edgeflag-compiler",
            "edgeflag-publish",
        ],
    ),
    (
        "edgeflag-server",
        &[
            "edgeflag-evaluator",
            "edgeflag-compiler",
            "edgeflag-publish",
            "edgeflag-origin",
        ],
    ),
    (
        "edgeflag-cli",
        &[
            "edgeflag-evaluator",
            "edgeflag-compiler",
            "edgeflag-publish",
            "edgeflag-origin",
            "edgeflag-server",
        ],
    ),
    ("edgeflag-testkit", &["edgeflag-evaluator"]),
    (
        "edgeflag-bench",
        &["edgeflag-evaluator", "edgeflag-compiler"],
    ),
    ("edgeflag-wasm", &["edgeflag-evaluator"]),
    // The server's project validation built to WASM for the dashboard.
    ("edgeflag-validate", &["edgeflag-compiler"]),
    (
        "edgeflag-openfeature",
        &["edgeflag-client", "edgeflag-evaluator"],
    ),
];

/// Crates that must not appear anywhere in a crate's (normal) dependency tree.
const FORBIDDEN_BELOW: &[(&str, &[&str])] = &[
    // "The evaluator knows nothing of HTTP", nor of async.
    (
        "edgeflag-evaluator",
        &["tokio", "reqwest", "hyper", "axum", "aws-sdk-s3", "notify"],
    ),
    // The compiler is a library that builds for wasm32: no runtime, no network.
    (
        "edgeflag-compiler",
        &[
            "tokio",
            "reqwest",
            "hyper",
            "axum",
            "aws-sdk-s3",
            "aws-config",
            "notify",
            "clap",
        ],
    ),
    (
        "edgeflag-wasm",
        &["tokio", "reqwest", "hyper", "axum", "aws-sdk-s3"],
    ),
    (
        "edgeflag-validate",
        &[
            "tokio",
            "reqwest",
            "hyper",
            "axum",
            "aws-sdk-s3",
            "sqlx",
            "utoipa",
        ],
    ),
    // The client talks HTTP but has no server or store in it.
    ("edgeflag-client", &["axum", "aws-sdk-s3", "notify", "clap"]),
    // The OpenFeature provider is the client plus the SDK: no more.
    (
        "edgeflag-openfeature",
        &["axum", "aws-sdk-s3", "notify", "clap"],
    ),
    // Libraries do not parse arguments.
    ("edgeflag-publish", &["clap", "axum"]),
    ("edgeflag-origin", &["clap"]),
    ("edgeflag-server", &["clap"]),
    // Only the control plane holds a database.
    ("edgeflag-origin", &["sqlx"]),
    ("edgeflag-publish", &["sqlx"]),
];

struct Graph {
    /// Package id → name.
    names: BTreeMap<String, String>,
    /// Package id → (dependency id, kinds) for normal/build edges.
    normal: BTreeMap<String, Vec<String>>,
    /// Package id → dependency ids for dev edges.
    dev: BTreeMap<String, Vec<String>>,
    members: Vec<String>,
}

fn metadata() -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(&root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let mut names = BTreeMap::new();
    for p in v["packages"].as_array().expect("packages") {
        names.insert(
            p["id"].as_str().expect("id").to_owned(),
            p["name"].as_str().expect("name").to_owned(),
        );
    }
    let (mut normal, mut dev) = (BTreeMap::new(), BTreeMap::new());
    for node in v["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let id = node["id"].as_str().expect("node id").to_owned();
        let (mut n, mut d) = (Vec::new(), Vec::new());
        for dep in node["deps"].as_array().expect("deps") {
            let pkg = dep["pkg"].as_str().expect("pkg").to_owned();
            for kind in dep["dep_kinds"].as_array().expect("dep_kinds") {
                match kind["kind"].as_str() {
                    Some("dev") => d.push(pkg.clone()),
                    _ => n.push(pkg.clone()),
                }
            }
        }
        normal.insert(id.clone(), n);
        dev.insert(id, d);
    }
    let members = v["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .map(|m| m.as_str().expect("member id").to_owned())
        .collect();
    Graph {
        names,
        normal,
        dev,
        members,
    }
}

impl Graph {
    fn id(&self, name: &str) -> &str {
        self.members
            .iter()
            .find(|m| self.names[*m] == name)
            .unwrap_or_else(|| panic!("{name} is not a workspace member"))
    }

    fn name(&self, id: &str) -> &str {
        &self.names[id]
    }

    /// Every package reachable from `id` through normal and build edges.
    fn below(&self, id: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![id.to_owned()];
        while let Some(p) = stack.pop() {
            for d in self.normal.get(&p).into_iter().flatten() {
                if seen.insert(self.name(d).to_owned()) {
                    stack.push(d.clone());
                }
            }
        }
        seen
    }
}

#[test]
fn workspace_crates_depend_only_on_what_the_architecture_allows() {
    let g = metadata();
    let mut problems = Vec::new();
    for member in &g.members {
        let name = g.name(member);
        let Some((_, allowed)) = ALLOWED.iter().find(|(n, _)| *n == name) else {
            problems.push(format!(
                "{name}: not in the crate map (testkit/tests/architecture.rs)"
            ));
            continue;
        };
        for dep in &g.normal[member] {
            let dep = g.name(dep);
            if dep.starts_with("edgeflag-") && !allowed.contains(&dep) {
                problems.push(format!("{name} → {dep}: forbidden edge"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn nothing_depends_on_the_cli_and_only_tests_use_the_testkit() {
    let g = metadata();
    for member in &g.members {
        let name = g.name(member);
        for dep in g.normal[member].iter().chain(&g.dev[member]) {
            assert_ne!(g.name(dep), "edgeflag-cli", "{name} depends on the CLI");
        }
        for dep in &g.normal[member] {
            assert_ne!(
                g.name(dep),
                "edgeflag-testkit",
                "{name} depends on the testkit outside its tests"
            );
        }
    }
}

#[test]
fn libraries_keep_runtimes_and_servers_out_of_their_trees() {
    let g = metadata();
    let mut problems = Vec::new();
    for (name, forbidden) in FORBIDDEN_BELOW {
        let below = g.below(g.id(name));
        for f in *forbidden {
            if below.contains(*f) {
                problems.push(format!("{name} has {f} in its dependency tree"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_itself_sees_real_edges() {
    // Guards against a vacuous pass (an empty or misparsed graph).
    let g = metadata();
    let below = g.below(g.id("edgeflag-origin"));
    assert!(
        below.contains("tokio") && below.contains("axum") && below.contains("edgeflag-evaluator")
    );
    assert!(g.below(g.id("edgeflag-client")).contains("reqwest"));
}
