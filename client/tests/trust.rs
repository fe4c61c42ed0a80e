//! Signatures and freshness in the polling client, against a real HTTP origin on
//! loopback: trusted keys for downloads, the cache file and the bootstrap; refused
//! unsigned, unknown-key and tampered rulesets; key rotation; replayed (expired)
//! downloads; a held ruleset expiring and being reported stale.

use edgeflag_client::{Client, ClientBuilder, ClientError, Source};
use edgeflag_evaluator::accept::Refusal;
use edgeflag_evaluator::format::{self, HEADER_LEN};
use edgeflag_evaluator::model::Serve;
use edgeflag_evaluator::signature::{SecretKey, Signer, TrustedKeys};
use edgeflag_evaluator::{Context, Ruleset};
use edgeflag_testkit::origin::{Origin, Sse};
use edgeflag_testkit::rulesets::Builder;
use edgeflag_testkit::{dead_url, eventually, temp_path};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const FLAG: &str = "kill-switch";
const HOUR_MS: i64 = 60 * 60 * 1000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed([n; 32])
}

fn trusting(keys: &[&SecretKey]) -> TrustedKeys {
    let mut t = TrustedKeys::default();
    for k in keys {
        t.add(k.public_key()).unwrap();
    }
    t
}

/// An unsigned ruleset with one boolean flag `kill-switch` serving `on`.
fn unsigned(version: u64, on: bool) -> Vec<u8> {
    let mut b = Builder::default();
    b.bool_flag(FLAG, vec![], Serve::Variation(if on { 0 } else { 1 }));
    b.bytes("production", version)
}

/// [`unsigned`], signed by `key`, expiring at `expires_ms`.
fn signed(version: u64, on: bool, key: &SecretKey, expires_ms: i64) -> Vec<u8> {
    let mut bytes = unsigned(version, on);
    format::sign(&mut bytes, key, Some(expires_ms)).unwrap();
    bytes
}

/// Signed by `key` with the flag on, then the body swapped for the flag-off one
/// and the checksum recomputed: it decodes, but the signature does not match.
fn tampered(version: u64, key: &SecretKey) -> Vec<u8> {
    let mut bytes = signed(version, true, key, now_ms() + HOUR_MS);
    let other = unsigned(version, false);
    assert_eq!(bytes.len(), other.len());
    bytes[HEADER_LEN..].copy_from_slice(&other[HEADER_LEN..]);
    // The checksum (header bytes 120..128, see evaluator/src/format.rs) is xxh3
    // over the header before it and the body.
    const CHECKSUM_AT: usize = 120;
    let mut covered = bytes[..CHECKSUM_AT].to_vec();
    covered.extend_from_slice(&bytes[HEADER_LEN..]);
    let sum = xxhash_rust::xxh3::xxh3_64(&covered);
    bytes[CHECKSUM_AT..CHECKSUM_AT + 8].copy_from_slice(&sum.to_le_bytes());
    let rs = Ruleset::from_bytes(&bytes).expect("the tampered ruleset decodes");
    assert_eq!(rs.header().signature.unwrap().key_id, key.key_id());
    assert!(!rs.bool_value(FLAG, &ctx(), true), "the body was swapped");
    bytes
}

fn ctx() -> Context {
    Context::new("user-1")
}

fn fast(url: &str) -> ClientBuilder {
    Client::builder(url)
        .poll_interval(Duration::from_millis(100))
        .max_backoff(Duration::from_millis(400))
        .timeout(Duration::from_millis(500))
}

/// The kind of the client's last refusal, if any.
fn refusal_kind(client: &Client) -> Option<&'static str> {
    client.status().last_refusal.as_ref().map(Refusal::kind)
}

/// Waits until the client has refused a download with `kind` after `since`,
/// then checks it still serves `version` with the flag `on`.
async fn refused(client: &Client, since: SystemTime, kind: &str, version: u64, on: bool) {
    eventually(kind, || {
        let st = client.status();
        st.last_refusal.as_ref().map(Refusal::kind) == Some(kind)
            && st.last_error_at.is_some_and(|at| at > since)
    })
    .await;
    let st = client.status();
    let err = st.last_error.unwrap_or_default();
    assert!(err.contains(kind), "last_error {err:?} names {kind}");
    assert!(st.consecutive_failures >= 1);
    assert_eq!(st.version, Some(version), "keeps the last good ruleset");
    assert_eq!(client.bool_value(FLAG, &ctx(), !on), on);
}

fn counter() -> (Arc<AtomicUsize>, impl Fn(&Ruleset) + Send + Sync + 'static) {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    (n, move |_: &Ruleset| {
        m.fetch_add(1, Ordering::SeqCst);
    })
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_signed_ruleset_is_accepted_and_the_status_names_the_key() {
    let k1 = key(1);
    let expires = now_ms() + HOUR_MS;
    let origin = Origin::start(signed(1, true, &k1, expires)).await;
    let client = fast(&origin.url()).trust(trusting(&[&k1])).start().unwrap();
    assert!(client.status().signatures_required);
    assert_eq!(client.status().verified_by, None, "nothing held yet");
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    assert!(client.bool_value(FLAG, &ctx(), false));
    let st = client.status();
    assert_eq!(st.verified_by, Some(k1.key_id()));
    assert!(st.signatures_required);
    assert!(!st.stale);
    let at = st.expires_at.expect("expires_at");
    let at_ms = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert_eq!(at_ms, expires);
    assert_eq!(st.last_refusal, None);
    assert_eq!(st.last_error, None);
}

#[tokio::test]
async fn with_keys_an_unsigned_ruleset_is_refused_and_the_last_good_one_serves() {
    let k1 = key(1);
    let origin = Origin::start(unsigned(1, true)).await;
    let client = fast(&origin.url()).trust(trusting(&[&k1])).start().unwrap();
    // A fresh start: nothing to serve but the defaults.
    eventually("UNSIGNED", || refusal_kind(&client) == Some("UNSIGNED")).await;
    assert!(client.ruleset().is_none());
    assert!(!client.bool_value(FLAG, &ctx(), false));

    origin.set_body(signed(2, true, &k1, now_ms() + HOUR_MS));
    assert!(client.wait_for_version(2, Duration::from_secs(10)).await);
    assert_eq!(client.status().verified_by, Some(k1.key_id()));

    let since = SystemTime::now();
    origin.set_body(unsigned(3, false));
    refused(&client, since, "UNSIGNED", 2, true).await;
}

#[tokio::test]
async fn a_ruleset_signed_by_an_unknown_key_is_refused() {
    let (k1, k2) = (key(1), key(2));
    let origin = Origin::start(signed(1, true, &k1, now_ms() + HOUR_MS)).await;
    let client = fast(&origin.url()).trust(trusting(&[&k1])).start().unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    origin.set_body(signed(2, false, &k2, now_ms() + HOUR_MS));
    refused(&client, SystemTime::UNIX_EPOCH, "UNKNOWN_KEY", 1, true).await;
    let err = client.status().last_error.unwrap();
    assert!(err.contains(&k2.key_id().to_string()), "{err}");
    assert!(matches!(
        client.status().last_refusal,
        Some(Refusal::UnknownKey { key_id }) if key_id == k2.key_id()
    ));
}

#[tokio::test]
async fn a_tampered_ruleset_with_a_valid_checksum_is_refused() {
    let k1 = key(1);
    let origin = Origin::start(signed(1, true, &k1, now_ms() + HOUR_MS)).await;
    let client = fast(&origin.url()).trust(trusting(&[&k1])).start().unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    origin.set_body(tampered(2, &k1));
    refused(&client, SystemTime::UNIX_EPOCH, "BAD_SIGNATURE", 1, true).await;
}

#[tokio::test]
async fn keys_rotate_old_key_then_new_key() {
    let (old, new) = (key(1), key(2));
    // The new key from a KEY.pub file, the old one given in code.
    let key_file = temp_path("KEY.pub");
    std::fs::write(&key_file, format!("# the new key\n{}\n", new.public_key())).unwrap();
    let origin = Origin::start(signed(1, true, &old, now_ms() + HOUR_MS)).await;
    let client = fast(&origin.url())
        .trust(trusting(&[&old]))
        .trust_file(&key_file)
        .start()
        .unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    assert_eq!(client.status().verified_by, Some(old.key_id()));

    origin.set_body(signed(2, false, &new, now_ms() + HOUR_MS));
    assert!(client.wait_for_version(2, Duration::from_secs(10)).await);
    assert!(!client.bool_value(FLAG, &ctx(), true));
    assert_eq!(client.status().verified_by, Some(new.key_id()));
    drop(client);

    // Once the old key is dropped, what it signs is refused.
    origin.set_body(signed(3, true, &old, now_ms() + HOUR_MS));
    let client = fast(&origin.url()).trust_file(&key_file).start().unwrap();
    eventually("UNKNOWN_KEY", || {
        refusal_kind(&client) == Some("UNKNOWN_KEY")
    })
    .await;
    assert!(client.ruleset().is_none());
    let _ = std::fs::remove_dir_all(key_file.parent().unwrap());
}

#[tokio::test]
async fn without_keys_rulesets_are_accepted_unverified() {
    let k1 = key(1);
    let origin = Origin::start(unsigned(1, true)).await;
    let client = fast(&origin.url()).start().unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    assert!(client.bool_value(FLAG, &ctx(), false));
    let st = client.status();
    assert!(!st.signatures_required);
    assert_eq!(st.verified_by, None);
    assert_eq!(st.expires_at, None);
    assert!(!st.stale);

    // A signed one is taken too, but nobody checked its signature.
    origin.set_body(signed(2, false, &k1, now_ms() + HOUR_MS));
    assert!(client.wait_for_version(2, Duration::from_secs(10)).await);
    let st = client.status();
    assert_eq!(st.verified_by, None);
    assert!(st.expires_at.is_some());
}

#[tokio::test]
async fn an_expired_download_is_refused_on_a_fresh_start() {
    let k1 = key(1);
    // Validly signed, but expired a minute ago: a replay.
    let origin = Origin::start(signed(5, true, &k1, now_ms() - 60_000)).await;
    for client in [
        fast(&origin.url()).trust(trusting(&[&k1])).start().unwrap(),
        fast(&origin.url()).start().unwrap(),
    ] {
        eventually("EXPIRED", || refusal_kind(&client) == Some("EXPIRED")).await;
        assert!(client.ruleset().is_none());
        assert!(!client.bool_value(FLAG, &ctx(), false), "the default");
        assert_eq!(client.status().version, None);
    }
}

#[tokio::test]
async fn a_held_ruleset_that_expires_is_reported_stale_until_a_newer_one_arrives() {
    let k1 = key(1);
    let origin = Origin::start(signed(1, true, &k1, now_ms() + 2_500)).await;
    origin.set_link(true);
    origin.set_sse(Sse::On);
    let (stale_calls, on_stale) = counter();
    // Polls are an hour apart: only the expiry timer can notice the expiry, and
    // v2 arrives through the event stream.
    let client = fast(&origin.url())
        .poll_interval(Duration::from_secs(3600))
        .trust(trusting(&[&k1]))
        .on_stale(on_stale)
        .start()
        .unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(2)).await);
    assert!(!client.status().stale);
    assert_eq!(stale_calls.load(Ordering::SeqCst), 0);
    eventually("push connected", || client.status().push_connected).await;

    eventually("reported stale", || stale_calls.load(Ordering::SeqCst) == 1).await;
    let st = client.status();
    assert!(st.stale);
    assert!(st.expires_at.unwrap() <= SystemTime::now());
    assert_eq!(st.version, Some(1));
    assert!(
        client.bool_value(FLAG, &ctx(), false),
        "a stale ruleset serves"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stale_calls.load(Ordering::SeqCst), 1, "once");

    // A fresh, newer version clears it.
    origin.publish(signed(2, false, &k1, now_ms() + HOUR_MS));
    assert!(client.wait_for_version(2, Duration::from_secs(10)).await);
    let st = client.status();
    assert!(!st.stale);
    assert!(st.expires_at.unwrap() > SystemTime::now());
    assert!(!client.bool_value(FLAG, &ctx(), true));
    assert_eq!(stale_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_expired_cache_or_bootstrap_is_loaded_but_stale() {
    let k1 = key(1);
    let expired = signed(3, true, &k1, now_ms() - 60_000);
    let cache = temp_path("production.efr");
    std::fs::write(&cache, &expired).unwrap();
    let url = dead_url().await;

    let (stale_calls, on_stale) = counter();
    let client = fast(&url)
        .trust(trusting(&[&k1]))
        .cache_file(&cache)
        .on_stale(on_stale)
        .start()
        .unwrap();
    let st = client.status();
    assert_eq!(st.version, Some(3));
    assert_eq!(st.source, Some(Source::Cache));
    assert_eq!(st.verified_by, Some(k1.key_id()));
    assert!(st.stale);
    assert!(client.bool_value(FLAG, &ctx(), false));
    eventually("reported stale", || stale_calls.load(Ordering::SeqCst) == 1).await;
    drop(client);

    let client = fast(&url)
        .trust(trusting(&[&k1]))
        .bootstrap_bytes(expired)
        .start()
        .unwrap();
    let st = client.status();
    assert_eq!(st.version, Some(3));
    assert_eq!(st.source, Some(Source::Bootstrap));
    assert!(st.stale);
    assert!(client.bool_value(FLAG, &ctx(), false));
    let _ = std::fs::remove_dir_all(cache.parent().unwrap());
}

#[tokio::test]
async fn with_keys_an_untrusted_or_unsigned_cache_is_ignored() {
    let (k1, k2) = (key(1), key(2));
    let cache = temp_path("production.efr");
    let url = dead_url().await;
    for (bytes, kind) in [
        (signed(3, true, &k2, now_ms() + HOUR_MS), "UNKNOWN_KEY"),
        (unsigned(3, true), "UNSIGNED"),
        (tampered(3, &k1), "BAD_SIGNATURE"),
    ] {
        std::fs::write(&cache, &bytes).unwrap();
        let client = fast(&url)
            .trust(trusting(&[&k1]))
            .cache_file(&cache)
            .start()
            .unwrap();
        assert!(client.ruleset().is_none(), "{kind}: cache ignored");
        let st = client.status();
        assert_eq!(st.last_refusal.as_ref().map(Refusal::kind), Some(kind));
        let err = st.last_error.unwrap_or_default();
        assert!(err.contains("cache file") && err.contains(kind), "{err}");

        // Without keys, the same cache is loaded (unverified).
        let client = fast(&url).cache_file(&cache).start().unwrap();
        assert_eq!(client.status().version, Some(3), "{kind}");
        assert_eq!(client.status().verified_by, None);
    }
    let _ = std::fs::remove_dir_all(cache.parent().unwrap());
}

#[tokio::test]
async fn trust_settings_and_bootstraps_are_checked_at_start() {
    let k1 = key(1);
    let url = dead_url().await;

    let r = fast(&url)
        .trust(trusting(&[&k1]))
        .bootstrap_bytes(unsigned(1, true))
        .start();
    assert!(
        matches!(r, Err(ClientError::BootstrapRefused(Refusal::Unsigned))),
        "{r:?}"
    );
    let r = fast(&url)
        .trust(trusting(&[&k1]))
        .bootstrap_bytes(signed(1, true, &key(2), now_ms() + HOUR_MS))
        .start();
    assert!(
        matches!(
            r,
            Err(ClientError::BootstrapRefused(Refusal::UnknownKey { .. }))
        ),
        "{r:?}"
    );
    let client = fast(&url)
        .trust(trusting(&[&k1]))
        .bootstrap_bytes(signed(1, true, &k1, now_ms() + HOUR_MS))
        .start()
        .unwrap();
    assert_eq!(client.status().verified_by, Some(k1.key_id()));
    assert!(!client.status().stale);

    let r = fast(&url).trust(TrustedKeys::default()).start();
    assert!(matches!(r, Err(ClientError::Config(_))), "{r:?}");
    let missing = temp_path("missing.pub");
    let r = fast(&url).trust_file(&missing).start();
    assert!(matches!(r, Err(ClientError::KeyFile { .. })), "{r:?}");
    std::fs::write(&missing, "edgeflag-ed25519-secret:00\n").unwrap();
    let r = fast(&url).trust_file(&missing).start();
    assert!(matches!(r, Err(ClientError::InvalidKeys { .. })), "{r:?}");
    let _ = std::fs::remove_dir_all(missing.parent().unwrap());
}
