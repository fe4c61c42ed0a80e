//! `edgeflag server` as a process: the first start prints an admin token once,
//! and a change committed but not published (the process killed between the
//! two) is published by the next start.

use edgeflag_evaluator::{Context, Ruleset};
use edgeflag_testkit::project::{bin, s, scratch};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A started `edgeflag server`: the child, its base URL, and the token it
/// printed (if any).
fn start(data: &Path, env: &[(&str, &str)]) -> (Child, String, Option<String>) {
    let mut child = Command::new(bin())
        .args(["server", "--data", s(data), "--listen", "127.0.0.1:0"])
        .envs(env.iter().copied())
        .env_remove("EDGEFLAG_BOOTSTRAP_TOKEN")
        .env("EDGEFLAG_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn edgeflag server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first line").unwrap();
    let base = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    let mut token = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(t) = line.trim().strip_prefix("export EDGEFLAG_TOKEN=") {
            token = Some(t.to_owned());
        }
        if line.contains("curl") || line.contains("sign in with") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (child, base, token)
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
