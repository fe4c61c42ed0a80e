//! `edgeflag server` as a process: the first start prints an admin token once,
//! and a change committed but not published (the process killed between the
//! two) is published by the next start.

use edgeflag_evaluator::{Context, Ruleset};
use edgeflag_testkit::project::{s, scratch, ControlPlane};
use serde_json::json;
use std::path::Path;

/// `edgeflag server --data <data>` on a free port.
fn start(data: &Path, env: &[(&str, &str)]) -> (ControlPlane, String, Option<String>) {
    let cp = ControlPlane::start(&["--data", s(data)], env);
    let (base, token) = (cp.base.clone(), cp.token.clone());
    (cp, base, token)
}

fn served(data: &Path, env: &str) -> Ruleset {
    let bytes = std::fs::read(data.join("published").join(env).join("current.efr")).unwrap();
    Ruleset::from_bytes(&bytes).unwrap()
}

#[tokio::test]
async fn a_change_committed_but_not_published_is_published_at_the_next_start() {
    let data = scratch("server-crash");
    let (mut first, base, token) = start(&data, &[]);
    let token = token.expect("the first start prints an admin token");
    assert!(token.starts_with("efk_") && token.len() == 68, "{token}");
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{base}/api/v1/flags"))
        .bearer_auth(&token)
        .json(&json!({"key": "k", "definition": {"fallthrough": "on"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let on = served(&data, "production");
    assert!(on.bool_value("k", &Context::new("u"), false));
    first.kill().unwrap();
    first.wait().unwrap();

    // Killed between commit and publish.
    let (mut crashing, base, again) = start(&data, &[("EDGEFLAG_TEST_CRASH_AFTER_COMMIT", "1")]);
    assert_eq!(again, None, "the token is shown once");
    let result = http
        .post(format!(
            "{base}/api/v1/flags/k/environments/production/toggle"
        ))
        .bearer_auth(&token)
        .json(&json!({"enabled": false}))
        .send()
        .await;
    assert!(
        result.is_err(),
        "the process died before answering: {result:?}"
    );
    let status = crashing.wait().unwrap();
    assert!(!status.success());
    let still = served(&data, "production");
    assert_eq!(
        still.header().version,
        on.header().version,
        "nothing was published"
    );
    assert!(still.bool_value("k", &Context::new("u"), false));

    // The next start publishes what was committed.
    let (mut repaired, base, _) = start(&data, &[]);
    let now = served(&data, "production");
    assert!(now.header().version > on.header().version);
    assert!(
        !now.bool_value("k", &Context::new("u"), true),
        "the committed kill switch is live"
    );
    let audit: serde_json::Value = http
        .get(format!("{base}/api/v1/audit?key=k"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit[0]["action"], "flag.turn_off");
    let served_over_http = http
        .get(format!("{base}/production/current.efr"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        Ruleset::from_bytes(&served_over_http)
            .unwrap()
            .header()
            .version,
        now.header().version
    );
    repaired.kill().unwrap();
    repaired.wait().unwrap();
}

/// push → pull → push: the second push changes nothing; a dry run applies
/// nothing; an edit of a pulled file is one audited change; an invalid tree is
/// refused with its file and line.
#[tokio::test]
async fn push_and_pull_flags_as_code() {
    use edgeflag_testkit::project::command;
    let data = scratch("server-push");
    let token = "efk_push_test_token_0123456789abcdef0123456789";
    let (mut server, base, _) = start(&data, &[("EDGEFLAG_BOOTSTRAP_TOKEN", token)]);
    let env = [("EDGEFLAG_TOKEN", token)];
    let run = |args: &[&str]| {
        let out = command(args, &env).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let examples = format!("{}/../examples", env!("CARGO_MANIFEST_DIR"));

    let (ok, dry, err) = run(&["push", &examples, "--server", &base, "--dry-run"]);
    assert!(ok, "{err}");
    assert!(
        dry.contains("+ flag search-v2") && dry.contains("+ segment internal-testers"),
        "{dry}"
    );
    assert!(
        dry.contains("production:") && dry.contains("dry run: nothing applied"),
        "{dry}"
    );
    assert!(served(&data, "production").flag_id("search-v2").is_none());

    let (ok, pushed, err) = run(&["push", &examples, "--server", &base, "--comment", "from CI"]);
    assert!(ok, "{err}");
    assert!(pushed.contains("applied as revision"), "{pushed}");
    let compiled = edgeflag_compiler::compile_path(Path::new(&examples)).unwrap();
    let production = compiled.iter().find(|e| e.name == "production").unwrap();
    let same = |a: &Ruleset, b: &edgeflag_compiler::CompiledEnv| {
        edgeflag_compiler::diff::diff(a, &b.to_ruleset().unwrap()).is_empty()
    };
    assert!(
        same(&served(&data, "production"), production),
        "the server serves what the compiler makes of the tree"
    );
    assert!(data
        .join("published/production.client/current.efr")
        .exists());

    let pulled = scratch("server-pulled");
    let (ok, out, err) = run(&["pull", "--server", &base, "--out", s(&pulled)]);
    assert!(ok, "{err}");
    assert!(out.contains("wrote"), "{out}");
    let (ok, again, err) = run(&["push", s(&pulled), "--server", &base]);
    assert!(ok, "{err}");
    assert!(
        again.starts_with("no changes"),
        "push → pull → push is a no-op: {again}"
    );
    // The pulled tree compiles to the same rules.
    let repulled = edgeflag_compiler::compile_path(&pulled).unwrap();
    assert_eq!(repulled.len(), compiled.len());
    for (a, b) in repulled.iter().zip(&compiled) {
        assert_eq!(a.name, b.name);
        assert!(same(&a.to_ruleset().unwrap(), b), "{} differs", a.name);
    }

    // One edit in the pulled tree: one change.
    let file = pulled.join("flags/search-v2.json");
    let mut def: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    def["flags"]["search-v2"]["enabled"] = json!(true);
    std::fs::write(&file, def.to_string()).unwrap();
    let (ok, one, err) = run(&["push", s(&pulled), "--server", &base]);
    assert!(ok, "{err}");
    assert!(one.starts_with("~ flag search-v2\n"), "{one}");
    let resources = one
        .lines()
        .filter(|l| l.starts_with(['+', '-', '~']))
        .count();
    assert_eq!(resources, 1, "{one}");
    assert!(
        one.contains("production:\n  ~ flag search-v2\n  kill switch released"),
        "{one}"
    );
    let audit: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/audit?key=search-v2"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit[0]["action"], "push");
    assert_eq!(audit[0]["after"]["enabled"], true);
    assert_eq!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["comment"] == "from CI")
            .count(),
        1
    );

    // An invalid tree: refused, with the file and line; nothing changes.
    let before = served(&data, "production").header().version;
    std::fs::write(
        pulled.join("flags/broken.yaml"),
        "flags:\n  broken:\n    fallthrough: maybe\n",
    )
    .unwrap();
    let (ok, _, err) = run(&["push", s(&pulled), "--server", &base]);
    assert!(!ok);
    assert!(
        err.contains("broken.yaml") && err.contains("unknown variation"),
        "{err}"
    );
    assert_eq!(served(&data, "production").header().version, before);
    server.kill().unwrap();
    server.wait().unwrap();
}
