//! Follows one flag through the polling client.
//!
//! ```text
//! cargo run -p edgeflag-client --example poll -- [--trust KEY.pub] \
//!     http://127.0.0.1:8080/production/current.efr new-checkout '{"key":"user-42","country":"DE"}'
//! ```
//!
//! With `--trust`, only rulesets signed by a key in that file are accepted.
//! Prints a line (timestamp, version, value) at start and whenever the flag's value
//! changes, and a status line when fetching fails or recovers, and when the ruleset
//! becomes stale or fresh again. `RUST_LOG`-style
//! logging is not set up; the client's `tracing` events are not printed.

use edgeflag_client::{Client, Status};
use edgeflag_evaluator::{Context, FlagValue};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn usage() -> ! {
    eprintln!("usage: poll [--trust <KEY.pub>] <URL of current.efr> <FLAG> [<context JSON>]");
    std::process::exit(2)
}

/// `HH:MM:SS.mmm` (UTC) of now.
fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        now.subsec_millis()
    )
}

fn render(v: &FlagValue<'_>) -> String {
    match v {
        FlagValue::Bool(b) => b.to_string(),
        FlagValue::Number(n) => n.to_string(),
        FlagValue::String(s) => format!("{s:?}"),
        FlagValue::Json(j) => (*j).to_owned(),
    }
}

/// Version and rendered value (with the reason) of the flag now.
fn observe(client: &Client, flag: &str, ctx: &Context) -> (Option<u64>, String) {
    match client.ruleset() {
        None => (None, "<no ruleset yet>".to_owned()),
        Some(rs) => {
            let d = rs.evaluate(flag, ctx);
            let value = match &d.value {
                Some(v) => render(v),
                None => "<none>".to_owned(),
            };
            (
                Some(rs.header().version),
                format!("{value} ({})", d.reason.kind()),
            )
        }
    }
}

fn status_line(s: &Status) -> String {
    format!(
        "status: failures={} push={} verified_by={} stale={} last_error={}",
        s.consecutive_failures,
        if s.push_connected { "connected" } else { "off" },
        s.verified_by
            .map_or("- (unverified)".to_owned(), |k| k.to_string()),
        s.stale,
        s.last_error.as_deref().unwrap_or("-"),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let trust = if args.peek().is_some_and(|a| a == "--trust") {
        args.next();
        Some(args.next().unwrap_or_else(|| usage()))
    } else {
        None
    };
    let url = args.next().unwrap_or_else(|| usage());
    let flag = args.next().unwrap_or_else(|| usage());
    let ctx: Context = match args.next() {
        None => Context::new("anonymous"),
        Some(json) => match serde_json::from_str(&json) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("invalid context JSON: {e}");
                std::process::exit(2)
            }
        },
    };

    let mut builder = Client::builder(url);
    if let Some(path) = trust {
        builder = builder.trust_file(path);
    }
    let client = match builder.start() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot start the client: {e}");
            std::process::exit(1)
        }
    };
    let ready = client.ready(Duration::from_secs(2)).await;
    let (mut version, mut value) = observe(&client, &flag, &ctx);
    println!(
        "{} version={} {flag}={value}",
        timestamp(),
        version.map_or("-".to_owned(), |v| v.to_string())
    );
    if !ready {
        println!("{} {}", timestamp(), status_line(&client.status()));
    }
    let mut failures = client.status().consecutive_failures;
    let mut push = client.status().push_connected;
    let mut stale = client.status().stale;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tick.tick().await;
        let (v, val) = observe(&client, &flag, &ctx);
        if val != value {
            println!(
                "{} version={} {flag}={val}",
                timestamp(),
                v.map_or("-".to_owned(), |v| v.to_string())
            );
            value = val;
        }
        version = v.or(version);
        let st = client.status();
        // A line when failing starts, every 5th failure, on recovery, and when push
        // connects or disconnects.
        let fail_change = st.consecutive_failures != failures
            && (failures == 0 || st.consecutive_failures == 0 || st.consecutive_failures % 5 == 0);
        if fail_change || st.push_connected != push || st.stale != stale {
            println!(
                "{} version={} {}",
                timestamp(),
                version.map_or("-".to_owned(), |v| v.to_string()),
                status_line(&st)
            );
        }
        failures = st.consecutive_failures;
        push = st.push_connected;
        stale = st.stale;
    }
}
