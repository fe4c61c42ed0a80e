//! The evaluator's polling client against a real `edgeflag serve` process: a flag
//! flipped in the source reaches a polling client and a push-subscribed one; with
//! the origin stopped, evaluation keeps answering from the last good ruleset; when
//! the origin comes back on the same port, the client recovers.

use edgeflag_testkit::project as support;

use edgeflag_client::Client;
use edgeflag_evaluator::Context;
use std::time::Duration;
use support::{ok, project, s, write_source, Server};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_follow_the_origin_and_survive_its_outage() {
    let (src, dir) = project("client-e2e", true, 0.1);
    let mut server = Server::start(&dir, 0, &["--watch", s(&src)]);
    let port = server.port();
    let url = format!("{}/production/current.efr", server.base);
    let ctx = Context::new("user-1");

    let poller = Client::builder(&url)
        .poll_interval(Duration::from_millis(100))
        .push(false)
        .start()
        .unwrap();
    // Polls only once a minute: only the push channel can bring changes quickly.
    let pushed = Client::builder(&url)
        .poll_interval(Duration::from_secs(60))
        .start()
        .unwrap();
    assert!(poller.ready(WAIT).await && pushed.ready(WAIT).await);
    assert!(poller.bool_value("checkout", &ctx, false));
    assert!(pushed.bool_value("checkout", &ctx, false));
    assert_eq!(poller.status().environment.as_deref(), Some("production"));

    // Kill switch: flip it in the source; serve --watch republishes.
    write_source(&src, false, 0.1);
    assert!(
        poller.wait_for_version(2, WAIT).await,
        "{:?}",
        poller.status()
    );
    assert!(
        pushed.wait_for_version(2, WAIT).await,
        "{:?}",
        pushed.status()
    );
    assert!(!poller.bool_value("checkout", &ctx, true));
    assert!(!pushed.bool_value("checkout", &ctx, true));
    assert!(pushed.status().push_connected);

    // Origin down: evaluation keeps answering from v2, failures are counted.
    server.stop();
    let deadline = tokio::time::Instant::now() + WAIT;
    while poller.status().consecutive_failures < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "failures not noticed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!poller.bool_value("checkout", &ctx, true));
    assert_eq!(poller.status().version, Some(2));
    assert!(poller.status().last_error.is_some());

    // A change published while the origin is down, then the origin returns on
    // the same port: both clients recover.
    write_source(&src, true, 0.3);
    ok(&["publish", s(&src), "--to", s(&dir)]);
    let _server = Server::start(&dir, port, &[]);
    assert!(
        poller.wait_for_version(3, Duration::from_secs(40)).await,
        "{:?}",
        poller.status()
    );
    assert!(
        pushed.wait_for_version(3, Duration::from_secs(70)).await,
        "{:?}",
        pushed.status()
    );
    assert!(poller.bool_value("checkout", &ctx, false));
    assert_eq!(pushed.number_value("skip-rate", &ctx, 0.0), 0.3);
    assert_eq!(poller.status().consecutive_failures, 0);
}
