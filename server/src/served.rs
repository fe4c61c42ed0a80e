//! What this process's origin serves, kept equal to what is published — by
//! this process or, with several servers on one PostgreSQL, by any of them.
//!
//! After every publish the engine calls [`sync`] with the environments it
//! published. A directory store is the origin's own directory, so a rescan
//! suffices; from S3 each `<env>/current.efr` is read back and offered to the
//! origin ([`State::offer`], through the one acceptance policy: never an older
//! or foreign ruleset). On PostgreSQL the publisher then sends
//! `NOTIFY edgeflag_published, '<env>,<env>…'`; every server [`listen`]s and
//! syncs the environments named, so a change made through one process reaches
//! the event-stream subscribers of all of them within one round trip. A
//! notification missed while the listener reconnects is made up by the
//! periodic sync of every environment ([`SYNC_EVERY`]).

use edgeflag_origin::{Offered, State};
use edgeflag_publish::layout;
use edgeflag_publish::store::Store;
use std::time::Duration;

/// The PostgreSQL notification channel of publishes.
pub const CHANNEL: &str = "edgeflag_published";

/// How often every environment is synced whatever was heard.
pub const SYNC_EVERY: Duration = Duration::from_secs(15);

/// Brings `origin` up to what `store` holds for `envs`.
pub async fn sync(store: &Store, origin: &State, envs: &[String]) {
    match store {
        // The origin serves this very directory.
        Store::Dir(_) => origin.refresh(),
        _ => {
            for env in envs {
                match store.get(&layout::current(env)).await {
                    Ok(Some(object)) => match origin.offer(env, object.bytes) {
                        Ok(Offered::New { version }) => {
                            tracing::debug!(env = %env, version, "synced from the store");
                        }
                        Ok(Offered::Same) => {}
                        Err(e) => {
                            tracing::warn!(env = %env, "not serving the store's ruleset: {e}")
                        }
                    },
                    Ok(None) => {}
                    Err(e) => tracing::warn!(env = %env, "reading the store: {e}"),
                }
            }
        }
    }
}

/// The payload announcing `envs` (at most PostgreSQL's 8000 bytes: beyond
/// that, an empty payload, which makes listeners sync every environment).
pub fn payload(envs: &[String]) -> String {
    let joined = envs.join(",");
    if joined.len() < 8000 {
        joined
    } else {
        String::new()
    }
}

/// The environments a payload names (`None`: sync them all).
pub fn named(payload: &str) -> Option<Vec<String>> {
    let envs: Vec<String> = payload
        .split(',')
        .filter(|e| edgeflag_compiler::is_valid_environment(e))
        .map(str::to_owned)
        .collect();
    (!envs.is_empty()).then_some(envs)
}

/// Listens on [`CHANNEL`] at `url` (PostgreSQL) until the task is aborted,
/// calling `heard(Some(envs))` for each notification and `heard(None)` after
/// the connection was lost and regained (notifications may have been missed).
pub async fn listen<F, Fut>(url: String, heard: F)
where
    F: Fn(Option<Vec<String>>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("listening for other servers' publishes: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::warn!("LISTEN {CHANNEL}: {e}");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        heard(None).await;
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => heard(named(n.payload())).await,
                // The connection was lost; the next call reconnects.
                Ok(None) => heard(None).await,
                Err(e) => {
                    tracing::warn!("listening for other servers' publishes: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_valid_environments_only() {
        let envs = vec!["production".to_owned(), "production.client".to_owned()];
        assert_eq!(named(&payload(&envs)), Some(envs));
        assert_eq!(named(""), None);
        assert_eq!(named("../etc,"), None);
        let many: Vec<String> = (0..2000).map(|i| format!("env-{i}")).collect();
        assert_eq!(payload(&many), "", "too long: listeners sync everything");
    }
}
