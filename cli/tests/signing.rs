//! Signed rulesets end to end with the real binary: `keygen`, `publish
//! --signing-key` (and `$EDGEFLAG_SIGNING_KEY`), `verify`, `inspect`, `resign`,
//! expiry, and `serve --public-key` refusing what its keys did not sign.

use edgeflag_evaluator::Ruleset;
use edgeflag_testkit::project as support;
use edgeflag_testkit::rulesets::resum;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{edgeflag, edgeflag_env, ok, ok_env, project, s, Server};

fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(name);
    let out = ok(&["keygen", "--out", s(&key)]);
    assert!(out.contains("key id"), "{out}");
    (key.clone(), PathBuf::from(format!("{}.pub", key.display())))
}

fn current(dest: &Path, env: &str) -> PathBuf {
    dest.join(env).join("current.efr")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn keygen_writes_a_private_key_and_refuses_to_overwrite_it() {
    let dir = support::scratch("keygen");
    let (key, public) = keygen(&dir, "signing");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "secret key mode {mode:o}");
    }
    let text = std::fs::read_to_string(&public).unwrap();
    assert!(text.contains("edgeflag-ed25519-public:"), "{text}");
    assert!(!text.contains("secret:"), "{text}");
    let before = std::fs::read(&key).unwrap();
    let again = edgeflag(&["keygen", "--out", s(&key)]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("refusing to overwrite"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(&key).unwrap(), before);
    // Two keys are different keys.
    let (other, _) = keygen(&dir, "other");
    assert_ne!(std::fs::read(&other).unwrap(), before);
}

#[test]
fn a_signed_publish_verifies_and_every_forgery_is_refused() {
    let (src, dest) = project("sign-verify", true, 0.1);
    let keys = keys_dir(&dest);
    let (key, public) = keygen(&keys, "k");
    let (_, stranger) = keygen(&keys, "stranger");

    let out = publish_signed(&src, &dest, &key);
    assert!(out.contains("published production v1"), "{out}");
    let file = current(&dest, "production");

    let out = ok(&["verify", s(&file), "--public-key", s(&public)]);
    assert!(out.contains("good signature by key"), "{out}");
    assert!(out.contains("production v1"), "{out}");
    let inspect = ok(&["inspect", s(&file)]);
    assert!(inspect.contains("signature   ed25519, key"), "{inspect}");
    assert!(inspect.contains("expires     20"), "{inspect}");

    // Another key: unknown.
    let o = edgeflag(&["verify", s(&file), "--public-key", s(&stranger)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("UNKNOWN_KEY"), "{}", stderr(&o));
    // Both keys trusted (rotation): good.
    ok(&[
        "verify",
        s(&file),
        "--public-key",
        s(&stranger),
        "--public-key",
        s(&public),
    ]);

    // Tampered: another version, checksum fixed up.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[8] = 99;
    resum(&mut bytes);
    let tampered = dest.join("tampered.efr");
    std::fs::write(&tampered, &bytes).unwrap();
    assert_eq!(Ruleset::from_bytes(&bytes).unwrap().header().version, 99);
    let o = edgeflag(&["verify", s(&tampered), "--public-key", s(&public)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("BAD_SIGNATURE"), "{}", stderr(&o));

    // Unsigned.
    let unsigned = dest.parent().unwrap().join("unsigned");
    ok(&["compile", s(&src), "--out", s(&unsigned)]);
    let o = edgeflag(&[
        "verify",
        s(&unsigned.join("production.efr")),
        "--public-key",
        s(&public),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("UNSIGNED"), "{}", stderr(&o));
    // verify without a key is a usage error, not a pass.
    let o = edgeflag(&["verify", s(&file)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--public-key"), "{}", stderr(&o));
}

#[test]
fn the_key_can_come_from_the_environment_and_expiry_is_enforced() {
    let (src, dest) = project("sign-env", true, 0.1);
    let keys = keys_dir(&dest);
    let (key, public) = keygen(&keys, "k");
    let secret = std::fs::read_to_string(&key).unwrap();
    let secret = secret.lines().find(|l| !l.starts_with('#')).unwrap();
    ok_env(
        &["publish", s(&src), "--to", s(&dest), "--expires-in", "2s"],
        &[("EDGEFLAG_SIGNING_KEY", secret)],
    );
    let file = current(&dest, "production");
    ok(&["verify", s(&file), "--public-key", s(&public)]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let expired = loop {
        let o = edgeflag(&["verify", s(&file), "--public-key", s(&public)]);
        if !o.status.success() || Instant::now() > deadline {
            break o;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(stderr(&expired).contains("EXPIRED"), "{}", stderr(&expired));
    let out = ok(&[
        "verify",
        s(&file),
        "--public-key",
        s(&public),
        "--allow-expired",
    ]);
    assert!(out.contains("EXPIRED at"), "{out}");

    // Re-signing publishes the same rules as a new, fresh version.
    let out = ok(&[
        "resign",
        "--to",
        s(&dest),
        "--env",
        "production",
        "--signing-key",
        s(&key),
    ]);
    assert!(out.contains("published production v2"), "{out}");
    ok(&["verify", s(&file), "--public-key", s(&public)]);
    let history = ok(&["history", "--to", s(&dest), "--env", "production"]);
    assert!(history.contains("re-sign by"), "{history}");

    // --expires-in without a key is refused before anything is written.
    let o = edgeflag(&[
        "publish",
        s(&src),
        "--to",
        s(&dest),
        "--expires-in",
        "1d",
        "--force",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("needs a signing key"), "{}", stderr(&o));
    let o = edgeflag_env(
        &["publish", s(&src), "--to", s(&dest), "--expires-in", "soon"],
        &[("EDGEFLAG_SIGNING_KEY", secret)],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a duration"), "{}", stderr(&o));
}

/// `edgeflag publish SRC --to DEST --signing-key KEY`; returns stdout.
fn publish_signed(src: &Path, dest: &Path, key: &Path) -> String {
    ok(&["publish", s(src), "--to", s(dest), "--signing-key", s(key)])
}

/// A key directory beside the project's destination.
fn keys_dir(dest: &Path) -> PathBuf {
    let keys = dest.parent().expect("scratch root").join("keys");
    std::fs::create_dir_all(&keys).expect("keys dir");
    keys
}

/// Calls `check` every 100 ms until `done` holds of its answer, at most 100
/// times; returns the last answer.
async fn poll_until<T, F, Fut>(mut check: F, done: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut last = check().await;
    for _ in 0..100 {
        if done(&last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = check().await;
    }
    last
}

async fn version_served(base: &str) -> Option<u64> {
    let resp = reqwest::get(format!("{base}/production/current.efr"))
        .await
        .ok()?;
    let bytes = resp.bytes().await.ok()?;
    Ruleset::from_bytes(&bytes)
        .ok()
        .map(|rs| rs.header().version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_keys_serves_only_what_they_signed() {
    let (src, dest) = project("sign-serve", true, 0.1);
    let keys = keys_dir(&dest);
    let (key, public) = keygen(&keys, "k");
    let (stranger, _) = keygen(&keys, "stranger");
    publish_signed(&src, &dest, &key);
    let server = Server::start(&dest, 0, &["--public-key", s(&public)]);
    assert_eq!(version_served(&server.base).await, Some(1));

    // An unsigned v2 and a v3 by an untrusted key are refused; v1 keeps serving.
    support::write_source(&src, false, 0.1);
    ok(&["publish", s(&src), "--to", s(&dest)]);
    support::write_source(&src, true, 0.2);
    publish_signed(&src, &dest, &stranger);
    let refused = poll_until(
        || async {
            let m = reqwest::get(format!("{}/metrics", server.base))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            m.lines()
                .find_map(|l| l.strip_prefix("edgeflag_serve_reloads_total{result=\"refused\"} "))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        },
        |&n| n >= 1,
    )
    .await;
    assert!(refused >= 1, "the watch refused the files");
    assert_eq!(version_served(&server.base).await, Some(1));

    // A v4 signed by the trusted key is served.
    support::write_source(&src, false, 0.3);
    publish_signed(&src, &dest, &key);
    let served = poll_until(|| version_served(&server.base), |v| *v == Some(4)).await;
    assert_eq!(served, Some(4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_watch_signs_and_signs_again_before_the_ruleset_lapses() {
    let (src, dest) = project("sign-watch", true, 0.1);
    let keys = keys_dir(&dest);
    let (key, public) = keygen(&keys, "k");
    let server = Server::start(
        &dest,
        0,
        &[
            "--watch",
            s(&src),
            "--signing-key",
            s(&key),
            "--expires-in",
            "4s",
            "--public-key",
            s(&public),
        ],
    );
    assert_eq!(version_served(&server.base).await, Some(1));
    // No source change: within one lifetime a re-signed version replaces v1,
    // so what is served never lapses.
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut seen = 1;
    while Instant::now() < deadline && seen < 2 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen = version_served(&server.base).await.unwrap_or(seen);
    }
    assert!(seen >= 2, "re-signed within the lifetime (still v{seen})");
    let file = current(&dest, "production");
    ok(&["verify", s(&file), "--public-key", s(&public)]);
    let history = ok(&["history", "--to", s(&dest), "--env", "production"]);
    assert!(history.contains("re-sign by"), "{history}");
}
