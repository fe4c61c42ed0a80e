//! The version scheme end to end, with the real `edgeflag` binary and the Rust
//! client: rulesets order by `(epoch, version)`. A compiled ruleset (epoch 0)
//! bootstraps a client that then follows the published origin; a wiped destination
//! starts a new epoch that running clients follow; a destination restored to an
//! older state is reported in the client's status, and `publish --new-epoch`
//! recovers from it. Also: the origin's directory watch applies the same policy.

use edgeflag_client::Client;
use edgeflag_evaluator::{Context, Ruleset};
use edgeflag_testkit::project::{ok, project, s, write_source, Server};
use std::path::Path;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn publish(src: &Path, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["publish", s(src), "--to", s(dir), "--env", "production"];
    args.extend_from_slice(extra);
    ok(&args)
}

fn client(url: &str) -> Client {
    Client::builder(url)
        .poll_interval(Duration::from_millis(100))
        .push(false)
        .start()
        .expect("client starts")
}

/// Polls the client's status until `f` holds; fails after [`WAIT`].
async fn until(client: &Client, what: &str, f: impl Fn(&edgeflag_client::Status) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let st = client.status();
        if f(&st) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compiled_ruleset_bootstraps_a_client_that_follows_the_published_origin() {
    let (src, dir) = project("versions-bootstrap", true, 0.1);
    let out = dir.with_file_name("compiled");
    ok(&["compile", s(&src), "--out", s(&out)]);
    let compiled =
        Ruleset::from_bytes(&std::fs::read(out.join("production.efr")).unwrap()).unwrap();
    assert_eq!((compiled.header().epoch, compiled.header().version), (0, 0));

    write_source(&src, false, 0.1);
    publish(&src, &dir, &[]);
    let server = Server::start(&dir, 0, &[]);
    let flags = Client::builder(format!("{}/production/current.efr", server.base))
        .bootstrap_file(out.join("production.efr"))
        .poll_interval(Duration::from_millis(100))
        .push(false)
        .start()
        .unwrap();
    let ctx = Context::new("user-1");
    // Before the first fetch the bootstrap answers.
    until(&flags, "the published v1", |st| st.version == Some(1)).await;
    let st = flags.status();
    assert!(st.epoch.is_some_and(|e| e > 0), "{st:?}");
    assert_eq!(st.origin_behind, None);
    assert!(!flags.bool_value("checkout", &ctx, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_destination_starts_a_new_epoch_that_running_clients_follow() {
    let (src, dir) = project("versions-wiped", true, 0.1);
    publish(&src, &dir, &[]);
    write_source(&src, false, 0.1);
    publish(&src, &dir, &[]);
    let server = Server::start(&dir, 0, &[]);
    let flags = client(&format!("{}/production/current.efr", server.base));
    until(&flags, "v2", |st| st.version == Some(2)).await;
    let first_epoch = flags.status().epoch.unwrap();

    std::fs::remove_dir_all(&dir).unwrap();
    write_source(&src, true, 0.1);
    let out = publish(&src, &dir, &[]);
    assert!(
        out.contains("published production v1") && out.contains("new epoch"),
        "{out}"
    );
    until(&flags, "v1 of a later epoch", |st| {
        st.version == Some(1) && st.epoch.is_some_and(|e| e > first_epoch)
    })
    .await;
    assert!(flags.bool_value("checkout", &Context::new("user-1"), false));
    assert_eq!(flags.status().refused_older, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_restored_to_an_older_state_is_reported_and_a_new_epoch_recovers() {
    let (src, dir) = project("versions-restored", true, 0.1);
    publish(&src, &dir, &[]);
    let backup = dir.with_file_name("backup");
    copy_dir(&dir, &backup);
    write_source(&src, false, 0.1);
    publish(&src, &dir, &[]);

    let mut server = Server::start(&dir, 0, &[]);
    let port = server.port();
    let flags = client(&format!("{}/production/current.efr", server.base));
    until(&flags, "v2", |st| st.version == Some(2)).await;
    let epoch = flags.status().epoch.unwrap();

    // Restore the backup (v1) and restart the origin on the same port.
    server.stop();
    std::fs::remove_dir_all(&dir).unwrap();
    copy_dir(&backup, &dir);
    let _server = Server::start(&dir, port, &[]);
    until(&flags, "the origin reported behind", |st| {
        st.origin_behind.is_some()
    })
    .await;
    let st = flags.status();
    let behind = st.origin_behind.unwrap();
    assert_eq!((behind.held.version, behind.served.version), (2, 1));
    assert_eq!((behind.held.epoch, behind.served.epoch), (epoch, epoch));
    assert!(st.refused_older >= 1);
    assert!(
        st.last_error
            .as_deref()
            .is_some_and(|e| e.contains("older")),
        "{st:?}"
    );
    // The held ruleset keeps answering.
    assert_eq!(st.version, Some(2));
    assert!(!flags.bool_value("checkout", &Context::new("user-1"), true));

    // The way out: publish the rules as a new epoch.
    let out = publish(&src, &dir, &["--new-epoch"]);
    assert!(out.contains("new epoch"), "{out}");
    until(&flags, "the new epoch", |st| {
        st.epoch.is_some_and(|e| e > epoch)
    })
    .await;
    let st = flags.status();
    assert_eq!(st.origin_behind, None);
    assert_eq!(st.version, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_origin_refuses_a_same_version_ruleset_with_other_content() {
    let (src, dir) = project("versions-origin-policy", true, 0.1);
    publish(&src, &dir, &[]);
    let server = Server::start(&dir, 0, &[]);
    let current = dir.join("production/current.efr");
    let served = std::fs::read(&current).unwrap();
    let held = Ruleset::from_bytes(&served).unwrap();

    // Other rules under the same (epoch, version), dropped in place.
    let (other_src, _) = project("versions-origin-policy-other", false, 0.5);
    let envs = edgeflag_compiler::compile_path(&other_src).unwrap();
    let body = &envs.iter().find(|e| e.name == "production").unwrap().body;
    let bytes = edgeflag_evaluator::format::encode(
        body,
        &edgeflag_evaluator::format::EncodeOptions {
            environment: "production",
            version: held.header().version,
            epoch: held.header().epoch,
            created_at_ms: held.header().created_at_ms,
        },
    )
    .unwrap();
    assert_ne!(bytes, served);
    let tmp = dir.join("production/.current.tmp");
    std::fs::write(&tmp, &bytes).unwrap();
    std::fs::rename(&tmp, &current).unwrap();

    // The directory watch (or its 1 s rescan) reads the file and refuses it.
    let deadline = Instant::now() + WAIT;
    loop {
        let m = get_text(&format!("{}/metrics", server.base)).await;
        let refused = m
            .lines()
            .find(|l| l.contains("result=\"refused\""))
            .unwrap_or_default()
            .to_owned();
        if !refused.ends_with(" 0") && !refused.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the file was not refused:\n{m}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = reqwest::get(format!("{}/production/current.efr", server.base))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        body.as_ref(),
        served.as_slice(),
        "the origin still serves the first ruleset"
    );
}

async fn get_text(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}
