//! The polling client against a real HTTP origin on loopback, whose behaviour each
//! test switches: ETag/304, Link + Server-Sent Events, errors, Retry-After,
//! stalls, truncated and corrupt bodies, older or foreign rulesets, and being
//! stopped and restarted on the same port.

use edgeflag_client::{Client, ClientBuilder, ClientError, Redirects, Source, PUSH_FETCH_SPACING};
use edgeflag_evaluator::model::Serve;
use edgeflag_evaluator::Context;
use edgeflag_testkit::origin::{
    etag_of, version_of, Mode, Origin, Sse, EVENTS_PATH, MOVED_PATH, RULESET_PATH,
};
use edgeflag_testkit::rulesets::Builder;
use edgeflag_testkit::{dead_url, eventually, temp_path};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FLAG: &str = "kill-switch";

/// A ruleset with one boolean flag `kill-switch` serving `on`.
fn ruleset(env: &str, version: u64, on: bool) -> Vec<u8> {
    let mut b = Builder::default();
    b.bool_flag(FLAG, vec![], Serve::Variation(if on { 0 } else { 1 }));
    b.bytes(env, version)
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

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn first_fetch_then_conditional_polls_get_304s() {
    let origin = Origin::start(ruleset("production", 1, true)).await;
    let client = fast(&origin.url()).start().unwrap();
    assert!(client.ready(Duration::from_secs(10)).await);
    assert!(client.bool_value(FLAG, &ctx(), false));
    assert_eq!(client.ruleset().unwrap().header().version, 1);

    eventually("three 304s", || origin.count(RULESET_PATH, 304) >= 3).await;
    // One download, then only conditional requests carrying the ETag.
    let reqs = origin.ruleset_requests();
    assert_eq!(origin.count(RULESET_PATH, 200), 1);
    assert_eq!(reqs[0].if_none_match, None);
    let etag = etag_of(&ruleset("production", 1, true));
    assert!(reqs[1..]
        .iter()
        .all(|r| r.if_none_match.as_deref() == Some(etag.as_str())));

    let st = client.status();
    assert_eq!(st.version, Some(1));
    assert_eq!(st.environment.as_deref(), Some("production"));
    assert_eq!(st.source, Some(Source::Origin));
    assert_eq!(st.consecutive_failures, 0);
    assert!(st.last_error.is_none());
    assert!(st.checked_at.is_some() && st.updated_at.is_some());
    assert!(st.age().is_some());
    assert!(st.fetches >= 4);
    assert!(!st.push_connected);
}

#[tokio::test]
async fn a_new_version_is_swapped_in_and_reported_to_every_callback() {
    let origin = Origin::start(ruleset("production", 1, false)).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = Arc::new(Mutex::new(Vec::new()));
    let (s1, s2) = (seen.clone(), seen2.clone());
    let client = fast(&origin.url())
        .environment("production")
        .on_change(move |rs| s1.lock().unwrap().push(rs.header().version))
        .on_change(move |rs| {
            s2.lock()
                .unwrap()
                .push(rs.bool_value(FLAG, &Context::new("x"), false))
        })
        .start()
        .unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    let before = client.ruleset().unwrap();
    assert!(!client.bool_value(FLAG, &ctx(), true));

    origin.set_body(ruleset("production", 2, true));
    assert!(client.wait_for_version(2, Duration::from_secs(10)).await);
    assert!(client.bool_value(FLAG, &ctx(), false));
    // A snapshot taken before the swap is unchanged.
    assert_eq!(before.header().version, 1);
    assert!(!before.bool_value(FLAG, &ctx(), true));
    eventually("both callbacks ran twice", || {
        seen2.lock().unwrap().len() == 2
    })
    .await;
    assert_eq!(*seen.lock().unwrap(), [1, 2]);
    assert_eq!(*seen2.lock().unwrap(), [false, true]);
    assert!(!client.wait_for_version(3, Duration::from_millis(300)).await);
}

/// Starts a client on v1 (flag on), applies `fault`, waits for failures, checks the
/// client still answers from v1, then lets the origin recover with v2 (flag off).
async fn fault_case(fault: impl FnOnce(&Origin), error_contains: &str, timeout: Duration) {
    let origin = Origin::start(ruleset("production", 1, true)).await;
    let client = fast(&origin.url()).timeout(timeout).start().unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    fault(&origin);
    eventually("two consecutive failures", || {
        client.status().consecutive_failures >= 2
    })
    .await;
    let st = client.status();
    let err = st.last_error.clone().unwrap_or_default();
    assert!(
        err.contains(error_contains),
        "last_error {err:?} does not mention {error_contains:?}"
    );
    assert_eq!(st.version, Some(1));
    assert!(client.bool_value(FLAG, &ctx(), false), "answers from v1");

    origin.set_mode(Mode::Serve);
    origin.set_body(ruleset("production", 2, false));
    assert!(client.wait_for_version(2, Duration::from_secs(10)).await);
    assert!(!client.bool_value(FLAG, &ctx(), true));
    eventually("failures reset", || {
        client.status().consecutive_failures == 0
    })
    .await;
}

#[tokio::test]
async fn server_errors_keep_the_last_good_ruleset() {
    fault_case(
        |o| o.set_mode(Mode::Status(500, None)),
        "500",
        Duration::from_millis(500),
    )
    .await;
}

#[tokio::test]
async fn a_stalled_response_times_out_and_keeps_the_last_good_ruleset() {
    fault_case(
        |o| o.set_mode(Mode::Stall),
        "timed out",
        Duration::from_millis(300),
    )
    .await;
}

#[tokio::test]
async fn a_truncated_body_is_refused() {
    fault_case(
        |o| {
            o.set_body(ruleset("production", 5, false));
            o.set_mode(Mode::Truncate);
        },
        "truncated",
        Duration::from_millis(500),
    )
    .await;
}

#[tokio::test]
async fn corrupt_bytes_are_refused() {
    fault_case(
        |o| {
            let mut b = ruleset("production", 5, false);
            let last = b.len() - 1;
            b[last] ^= 0x5a;
            o.set_body(b);
        },
        "checksum",
        Duration::from_millis(500),
    )
    .await;
}

#[tokio::test]
async fn garbage_is_refused() {
    fault_case(
        |o| o.set_body(b"<html>502 Bad Gateway</html>".to_vec()),
        "refused",
        Duration::from_millis(500),
    )
    .await;
}

#[tokio::test]
async fn an_older_version_is_refused() {
    let origin = Origin::start(ruleset("production", 3, true)).await;
    let client = fast(&origin.url()).start().unwrap();
    assert!(client.wait_for_version(3, Duration::from_secs(10)).await);
    origin.set_body(ruleset("production", 2, false));
    eventually("two failures", || client.status().consecutive_failures >= 2).await;
    assert!(client.status().last_error.unwrap().contains("older"));
    assert_eq!(client.status().version, Some(3));
    assert!(client.bool_value(FLAG, &ctx(), false));
    // The same version with other content is refused too.
    origin.set_body(ruleset("production", 3, false));
    eventually("a same-version refusal", || {
        client
            .status()
            .last_error
            .is_some_and(|e| e.contains("same version") || e.contains("checksum"))
    })
    .await;
    assert!(client.bool_value(FLAG, &ctx(), false));
    // The same bytes again under a new ETag are no change, and no error: the
    // client takes the new ETag and gets 304s with it.
    origin.set_body(ruleset("production", 3, true));
    origin.state.lock().unwrap().etag = "\"other\"".to_owned();
    eventually("304s for the new ETag", || {
        origin
            .ruleset_requests()
            .iter()
            .any(|r| r.status == 304 && r.if_none_match.as_deref() == Some("\"other\""))
    })
    .await;
    let st = client.status();
    assert_eq!(st.consecutive_failures, 0);
    assert_eq!(st.version, Some(3));
    assert!(client.bool_value(FLAG, &ctx(), false));
}

#[tokio::test]
async fn a_ruleset_of_another_environment_is_refused() {
    // Configured environment: nothing accepted.
    let origin = Origin::start(ruleset("staging", 1, true)).await;
    let client = fast(&origin.url())
        .environment("production")
        .start()
        .unwrap();
    eventually("a refusal", || client.status().consecutive_failures >= 2).await;
    assert!(client.ruleset().is_none());
    assert!(client.status().last_error.unwrap().contains("staging"));
    // Without a ruleset every getter returns the caller's default.
    assert!(!client.bool_value(FLAG, &ctx(), false));
    assert!(client.bool_value(FLAG, &ctx(), true));
    assert_eq!(client.number_value(FLAG, &ctx(), 1.5), 1.5);
    assert_eq!(client.string_value(FLAG, &ctx(), "dflt"), "dflt");
    assert_eq!(client.json_value(FLAG, &ctx(), "{}"), "{}");
    assert!(!client.ready(Duration::from_millis(200)).await);
    // The origin switches to the right environment: accepted.
    origin.set_body(ruleset("production", 1, true));
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    assert!(client.bool_value(FLAG, &ctx(), false));
    drop(client);

    // Learned environment: the first accepted ruleset sets it.
    let origin = Origin::start(ruleset("production", 1, true)).await;
    let client = fast(&origin.url()).start().unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    origin.set_body(ruleset("staging", 2, false));
    eventually("a refusal", || client.status().consecutive_failures >= 2).await;
    assert!(client.status().last_error.unwrap().contains("environment"));
    assert_eq!(client.status().environment.as_deref(), Some("production"));
    assert!(client.bool_value(FLAG, &ctx(), false));
}

#[tokio::test]
async fn the_client_rides_out_an_origin_restart_on_the_same_port() {
    let origin = Origin::start(ruleset("production", 1, true)).await;
    let client = fast(&origin.url()).start().unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    origin.stop();
    eventually("failures while the origin is down", || {
        client.status().consecutive_failures >= 3
    })
    .await;
    assert!(client.bool_value(FLAG, &ctx(), false));
    origin.set_body(ruleset("production", 2, false));
    origin.restart().await;
    assert!(client.wait_for_version(2, Duration::from_secs(10)).await);
    assert!(!client.bool_value(FLAG, &ctx(), true));
}

#[tokio::test]
async fn retry_after_seconds_is_honoured() {
    let origin = Origin::start(ruleset("production", 1, true)).await;
    origin.queue(Mode::Status(503, Some("2".into())));
    let client = fast(&origin.url()).start().unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    let reqs = origin.ruleset_requests();
    assert_eq!(reqs[0].status, 503);
    assert_eq!(reqs[1].status, 200);
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_millis(1950), "retried after {gap:?}");
    assert!(client.status().last_error.unwrap().contains("503"));
}

#[tokio::test]
async fn retry_after_http_date_is_honoured() {
    let origin = Origin::start(ruleset("production", 1, true)).await;
    let client = fast(&origin.url()).start().unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    // An HTTP date 3 s ahead (truncated to whole seconds: 2 to 3 s from now).
    let until = std::time::SystemTime::now() + Duration::from_secs(3);
    let date = httpdate::fmt_http_date(until);
    let until = httpdate::parse_http_date(&date).unwrap();
    origin.queue(Mode::Status(429, Some(date)));
    eventually("a 429", || origin.count(RULESET_PATH, 429) == 1).await;
    eventually("a request after the 429", || {
        origin.ruleset_requests().last().unwrap().status != 429
    })
    .await;
    let reqs = origin.ruleset_requests();
    let i = reqs.iter().position(|r| r.status == 429).unwrap();
    // No request before the date (the 429 was served at most ~1 poll after
    // `queue`, so the wait was at least about 1.9 s).
    assert!(
        reqs[i + 1].wall + Duration::from_millis(20) >= until,
        "retried {:?} before the Retry-After date",
        until.duration_since(reqs[i + 1].wall).unwrap_or_default()
    );
    let gap = reqs[i + 1].at - reqs[i].at;
    assert!(gap >= Duration::from_millis(1500), "retried after {gap:?}");
}

#[tokio::test]
async fn bootstrap_bytes_serve_before_and_without_the_origin() {
    let url = dead_url().await;
    let client = fast(&url)
        .bootstrap_bytes(ruleset("production", 4, true))
        .start()
        .unwrap();
    assert!(client.ready(Duration::ZERO).await);
    assert!(client.bool_value(FLAG, &ctx(), false));
    let st = client.status();
    assert_eq!(st.version, Some(4));
    assert_eq!(st.source, Some(Source::Bootstrap));
    assert_eq!(st.environment.as_deref(), Some("production"));
    eventually("connection failures", || {
        client.status().consecutive_failures >= 2
    })
    .await;
    assert!(client.bool_value(FLAG, &ctx(), false));
}

#[tokio::test]
async fn bootstrap_file_and_invalid_bootstraps() {
    let url = dead_url().await;
    let path = temp_path("bootstrap.efr");
    std::fs::write(&path, ruleset("production", 9, true)).unwrap();
    let client = fast(&url).bootstrap_file(&path).start().unwrap();
    assert_eq!(client.status().version, Some(9));
    assert!(client.bool_value(FLAG, &ctx(), false));
    drop(client);

    let missing = fast(&url)
        .bootstrap_file(path.with_extension("missing"))
        .start();
    assert!(
        matches!(missing, Err(ClientError::BootstrapFile { .. })),
        "{missing:?}"
    );
    let mut corrupt = ruleset("production", 1, true);
    corrupt[200] ^= 1;
    let bad = fast(&url).bootstrap_bytes(corrupt).start();
    assert!(matches!(bad, Err(ClientError::Bootstrap(_))), "{bad:?}");
    let other = fast(&url)
        .environment("production")
        .bootstrap_bytes(ruleset("staging", 1, true))
        .start();
    assert!(
        matches!(other, Err(ClientError::EnvironmentMismatch { .. })),
        "{other:?}"
    );
    let bad_url = Client::builder("ftp://example.com/x").start();
    assert!(matches!(bad_url, Err(ClientError::InvalidUrl { .. })));
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn start_outside_a_runtime_is_an_error() {
    let r = Client::builder("http://127.0.0.1:9/production/current.efr").start();
    assert!(matches!(r, Err(ClientError::NoRuntime)), "{r:?}");
}

#[tokio::test]
async fn the_disk_cache_serves_a_restart_while_the_origin_is_down() {
    let cache = temp_path("production.efr");
    let origin = Origin::start(ruleset("production", 3, true)).await;
    let client = fast(&origin.url()).cache_file(&cache).start().unwrap();
    assert!(client.wait_for_version(3, Duration::from_secs(10)).await);
    eventually("the cache file holds v3", || {
        std::fs::read(&cache).is_ok_and(|b| version_of(&b) == 3)
    })
    .await;
    origin.set_body(ruleset("production", 4, false));
    assert!(client.wait_for_version(4, Duration::from_secs(10)).await);
    eventually("the cache file holds v4", || {
        std::fs::read(&cache).is_ok_and(|b| version_of(&b) == 4)
    })
    .await;
    drop(client);
    origin.stop();

    // A restart with the origin down: the cached ruleset serves at once.
    let client = fast(&origin.url()).cache_file(&cache).start().unwrap();
    let st = client.status();
    assert_eq!(st.version, Some(4));
    assert_eq!(st.source, Some(Source::Cache));
    assert!(!client.bool_value(FLAG, &ctx(), true));
    eventually("failures while down", || {
        client.status().consecutive_failures >= 2
    })
    .await;
    assert!(!client.bool_value(FLAG, &ctx(), true));

    // The origin comes back with a newer version.
    origin.set_body(ruleset("production", 5, true));
    origin.restart().await;
    assert!(client.wait_for_version(5, Duration::from_secs(10)).await);
    assert!(client.bool_value(FLAG, &ctx(), false));

    eventually("the cache file holds v5", || {
        std::fs::read(&cache).is_ok_and(|b| version_of(&b) == 5)
    })
    .await;

    // A corrupt cache file is ignored, not fatal.
    drop(client);
    origin.stop();
    std::fs::write(&cache, b"not a ruleset").unwrap();
    let client = fast(&origin.url()).cache_file(&cache).start().unwrap();
    assert!(client.ruleset().is_none());
    // Only the cache file remains in its directory (temporary files renamed).
    let names: Vec<_> = std::fs::read_dir(cache.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [cache.file_name().unwrap()]);
    drop(client);
    let _ = std::fs::remove_dir_all(cache.parent().unwrap());
}

#[tokio::test]
async fn a_pushed_event_makes_a_slow_poller_fetch_at_once() {
    let origin = Origin::start(ruleset("production", 1, true)).await;
    origin.set_link(true);
    origin.set_sse(Sse::On);
    let client = Client::builder(origin.url())
        .poll_interval(Duration::from_secs(60))
        .start()
        .unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    eventually("push connected", || client.status().push_connected).await;
    assert_eq!(origin.count(EVENTS_PATH, 200), 1);

    origin.publish(ruleset("production", 2, false));
    assert!(client.wait_for_version(2, Duration::from_secs(10)).await);
    assert!(!client.bool_value(FLAG, &ctx(), true));
    origin.publish(ruleset("production", 3, true));
    assert!(client.wait_for_version(3, Duration::from_secs(10)).await);
    // Three downloads, each prompted (the poll interval is a minute).
    let reqs = origin.ruleset_requests();
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert!(reqs.iter().all(|r| r.status == 200));
    // An announcement of a version already held fetches nothing.
    origin.announce(3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(origin.ruleset_requests().len(), 3);
}

#[tokio::test]
async fn without_a_stream_the_client_keeps_polling() {
    // The origin announces a stream that is not there.
    let origin = Origin::start(ruleset("production", 1, true)).await;
    origin.set_link(true);
    let client = fast(&origin.url()).start().unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    eventually("a stream attempt", || origin.count(EVENTS_PATH, 404) >= 1).await;
    origin.set_body(ruleset("production", 2, false));
    assert!(client.wait_for_version(2, Duration::from_secs(10)).await);
    assert!(!client.status().push_connected);

    // With push disabled the stream is never opened.
    let origin = Origin::start(ruleset("production", 1, true)).await;
    origin.set_link(true);
    origin.set_sse(Sse::On);
    let client = fast(&origin.url()).push(false).start().unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    eventually("several polls", || origin.count(RULESET_PATH, 304) >= 3).await;
    assert_eq!(origin.count(EVENTS_PATH, 200), 0);
    assert!(!client.status().push_connected);
}

#[tokio::test]
async fn a_lost_stream_falls_back_to_polling_and_reconnects() {
    let origin = Origin::start(ruleset("production", 1, true)).await;
    origin.set_link(true);
    origin.set_sse(Sse::On);
    let client = Client::builder(origin.url())
        .poll_interval(Duration::from_millis(200))
        .push_poll_interval(Duration::from_secs(60))
        .max_backoff(Duration::from_secs(1))
        .start()
        .unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    eventually("push connected", || client.status().push_connected).await;
    // Connected: polling is slow, so a silent change is not picked up soon.
    let polls = origin.ruleset_requests().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(origin.ruleset_requests().len() <= polls + 1);

    // The stream drops and the origin refuses new ones: polling takes over.
    origin.set_sse(Sse::Off);
    origin.drop_streams();
    eventually("push disconnected", || !client.status().push_connected).await;
    origin.set_body(ruleset("production", 2, false));
    assert!(client.wait_for_version(2, Duration::from_secs(10)).await);

    // The stream comes back: the client reconnects.
    origin.set_sse(Sse::On);
    eventually("push reconnected", || client.status().push_connected).await;
    assert!(origin.count(EVENTS_PATH, 200) >= 2);
}

#[tokio::test]
async fn a_silent_stream_is_detected_as_dead() {
    let origin = Origin::start(ruleset("production", 1, true)).await;
    origin.set_link(true);
    origin.set_sse(Sse::Silent);
    let client = fast(&origin.url())
        .push_idle_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    // Each silent stream is dropped after the idle timeout and reopened.
    eventually("three stream connections", || {
        origin.count(EVENTS_PATH, 200) >= 3
    })
    .await;
    origin.set_body(ruleset("production", 2, false));
    assert!(client.wait_for_version(2, Duration::from_secs(10)).await);
}

#[tokio::test]
async fn close_and_drop_stop_the_background_task() {
    let origin = Origin::start(ruleset("production", 1, true)).await;
    let client = fast(&origin.url()).start().unwrap();
    let clone = client.clone();
    assert!(clone.wait_for_version(1, Duration::from_secs(10)).await);
    client.close();
    assert!(clone.status().closed);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let n = origin.ruleset_requests().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(origin.ruleset_requests().len(), n);
    // The held ruleset still answers.
    assert!(clone.bool_value(FLAG, &ctx(), false));

    let origin = Origin::start(ruleset("production", 1, true)).await;
    let client = fast(&origin.url()).start().unwrap();
    let clone = client.clone();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    drop(client);
    // One clone left: still polling.
    let n = origin.ruleset_requests().len();
    eventually("more polls", || origin.ruleset_requests().len() > n).await;
    drop(clone);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let n = origin.ruleset_requests().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(origin.ruleset_requests().len(), n);
}

#[tokio::test]
async fn an_event_that_never_ends_is_cut_off_and_the_stream_reopened() {
    let origin = Origin::start(ruleset("production", 1, true)).await;
    origin.set_link(true);
    origin.set_sse(Sse::Flood);
    let client = fast(&origin.url()).start().unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    // The origin streams `data:` lines without a blank line: the client drops the
    // stream soon after its event limit (64 KiB), and opens a new one.
    eventually("two flooded streams ended", || origin.flooded().len() >= 2).await;
    let cap = 64 * 1024 + 1024 * 1024;
    let flooded = origin.flooded();
    eprintln!("bytes written per flooded stream: {flooded:?}");
    assert!(
        flooded.iter().all(|&n| n < cap),
        "the client read {flooded:?} bytes of one event"
    );
    let err = client.status().last_error.unwrap_or_default();
    assert!(err.contains("event"), "last_error {err:?}");
    // Meanwhile the client keeps evaluating and polling.
    assert!(client.bool_value(FLAG, &ctx(), false));
    origin.set_body(ruleset("production", 2, false));
    assert!(client.wait_for_version(2, Duration::from_secs(10)).await);
    assert!(!client.bool_value(FLAG, &ctx(), true));
}

#[tokio::test]
async fn an_announcement_storm_is_coalesced_into_spaced_fetches() {
    let spacing = PUSH_FETCH_SPACING;
    let origin = Origin::start(ruleset("production", 1, true)).await;
    origin.set_link(true);
    origin.set_sse(Sse::On);
    let client = Client::builder(origin.url())
        .poll_interval(Duration::from_secs(60))
        .start()
        .unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);
    eventually("push connected", || client.status().push_connected).await;

    // A newer version announced every millisecond for 2 s.
    let before = origin.ruleset_requests().len();
    let start = std::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut version = 1;
    while start.elapsed() < Duration::from_secs(2) && version < 3000 {
        tick.tick().await;
        version += 1;
        origin.publish(ruleset("production", version, version % 2 == 0));
    }
    let window = start.elapsed();
    let during = origin.ruleset_requests().len() - before;
    assert!(
        client
            .wait_for_version(version, Duration::from_secs(5))
            .await
    );
    assert_eq!(client.status().version, Some(version));
    let allowed = (window.as_millis() / spacing.as_millis()) as usize + 3;
    eprintln!(
        "{} announcements in {window:?}: {during} ruleset requests ({:.0}/s), allowed {allowed}",
        version - 1,
        during as f64 / window.as_secs_f64()
    );
    assert!(during <= allowed, "{during} fetches in {window:?}");
}

#[tokio::test]
async fn redirects_to_another_origin_are_refused_by_default() {
    let origin = Origin::start(ruleset("production", 1, true)).await;
    let other = Origin::start(ruleset("production", 9, false)).await;
    let client = fast(&origin.url()).start().unwrap();
    assert!(client.wait_for_version(1, Duration::from_secs(10)).await);

    // Another port is another origin: refused, the ruleset held is kept.
    origin.set_mode(Mode::Redirect(other.url()));
    eventually("two refused redirects", || {
        client.status().consecutive_failures >= 2
    })
    .await;
    let err = client.status().last_error.unwrap_or_default();
    eprintln!("last_error: {err}");
    assert!(err.contains("redirect"), "last_error {err:?}");
    assert_eq!(client.status().version, Some(1));
    assert!(client.bool_value(FLAG, &ctx(), false));
    assert!(other.requests().is_empty(), "{:?}", other.requests());

    // A redirect within the origin is followed.
    origin.set_body(ruleset("production", 2, false));
    origin.set_mode(Mode::Redirect(MOVED_PATH.to_owned()));
    assert!(client.wait_for_version(2, Duration::from_secs(10)).await);
    assert!(origin.count(MOVED_PATH, 200) >= 1);
    assert!(!client.bool_value(FLAG, &ctx(), true));
}

#[tokio::test]
async fn redirects_none_and_any() {
    let other = Origin::start(ruleset("production", 9, false)).await;

    // Redirects::None: even a same-origin redirect is refused.
    let origin = Origin::start(ruleset("production", 1, true)).await;
    origin.set_mode(Mode::Redirect(MOVED_PATH.to_owned()));
    let client = fast(&origin.url())
        .redirects(Redirects::None)
        .start()
        .unwrap();
    eventually("two refused redirects", || {
        client.status().consecutive_failures >= 2
    })
    .await;
    let err = client.status().last_error.unwrap_or_default();
    assert!(err.contains("Redirects::None"), "last_error {err:?}");
    assert!(client.ruleset().is_none());
    assert_eq!(origin.count(MOVED_PATH, 200), 0);
    drop(client);

    // Redirects::Any: another origin is followed (plain http to plain http).
    let origin = Origin::start(ruleset("production", 1, true)).await;
    origin.set_mode(Mode::Redirect(other.url()));
    let client = fast(&origin.url())
        .redirects(Redirects::Any)
        .start()
        .unwrap();
    assert!(client.wait_for_version(9, Duration::from_secs(10)).await);
    assert!(!client.bool_value(FLAG, &ctx(), true));
    assert!(other.count(RULESET_PATH, 200) >= 1);
}
