//! `--watch SRC`: compile and publish into the served directory at start and on
//! every change of a source file. A source that fails validation is reported and
//! the last good ruleset keeps serving.

use crate::state::State;
use edgeflag_publish::store::{DirStore, Store};
use edgeflag_publish::{Outcome, Publication};
use notify::{RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Changes that arrive within this window are compiled once (editors write a
/// file in several steps).
const DEBOUNCE: Duration = Duration::from_millis(50);

/// Whether a file-system event changes content (not a mere open or read).
fn is_change(e: &notify::Event) -> bool {
    use notify::event::{EventKind, ModifyKind};
    match e.kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        _ => false,
    }
}

/// Compiles `src` and publishes every environment into the served directory.
pub async fn compile_and_publish(state: &State, src: &Path, actor: &str) {
    let compiled = match edgeflag_compiler::compile_path(src) {
        Ok(c) => c,
        Err(diagnostics) => {
            state.metrics.publish_failed.fetch_add(1, Relaxed);
            tracing::warn!(
                "{} error(s) in {}; still serving the last good rulesets\n{}",
                diagnostics.len(),
                src.display(),
                diagnostics.to_string().trim_end()
            );
            return;
        }
    };
    let store = Store::Dir(DirStore::new(state.dir.clone()));
    for env in &compiled {
        let p = Publication::new(&env.name, &env.body).actor(actor);
        match edgeflag_publish::publish(&store, &p).await {
            Ok(Outcome::Published {
                version, changes, ..
            }) => {
                state.metrics.publish_ok.fetch_add(1, Relaxed);
                tracing::info!(
                    env = %env.name,
                    version,
                    "published from the watched source\n  {}",
                    changes.join("\n  ")
                );
            }
            Ok(Outcome::Unchanged { .. }) => {}
            Err(e) => {
                state.metrics.publish_failed.fetch_add(1, Relaxed);
                tracing::error!(env = %env.name, "publishing failed: {e}");
            }
        }
    }
    state.refresh();
}

/// A watcher of `path` (recursive) that sends `()` on every content change. It
/// reacts only to changes: reading a watched directory raises access events, which
/// must not trigger another read. With `follow_links` false it does not descend
/// into symbolic links. Keep the watcher alive as long as the receiver.
fn change_watcher(
    path: &Path,
    follow_links: bool,
) -> notify::Result<(notify::RecommendedWatcher, mpsc::UnboundedReceiver<()>)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| is_change(&e)) {
            let _ = tx.send(());
        }
    };
    let config = notify::Config::default().with_follow_symlinks(follow_links);
    let mut watcher = notify::RecommendedWatcher::new(handler, config)?;
    watcher.watch(path, RecursiveMode::Recursive)?;
    Ok((watcher, rx))
}

/// Watches `src` and recompiles on change until the process ends.
pub fn spawn(state: Arc<State>, src: PathBuf, actor: String) -> notify::Result<()> {
    let (watcher, mut rx) = change_watcher(&src, true)?;
    tokio::spawn(async move {
        // The watcher lives as long as this task.
        let _watcher = watcher;
        while rx.recv().await.is_some() {
            tokio::time::sleep(DEBOUNCE).await;
            while rx.try_recv().is_ok() {}
            compile_and_publish(&state, &src, &actor).await;
        }
    });
    Ok(())
}

/// Watches the served directory, so versions published by other processes
/// (`edgeflag publish --to DIR`) are picked up at once; a periodic rescan covers
/// file systems without change events.
pub fn spawn_dir_watch(state: Arc<State>) -> notify::Result<()> {
    std::fs::create_dir_all(&state.dir).map_err(notify::Error::io)?;
    // Links in the served directory are never followed (see `confine`), so
    // they are not watched either.
    let (watcher, mut rx) = change_watcher(&state.dir, false)?;
    tokio::spawn(async move {
        let _watcher = watcher;
        let mut rescan = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                msg = rx.recv() => {
                    if msg.is_none() { break; }
                    while rx.try_recv().is_ok() {}
                }
                _ = rescan.tick() => {}
            }
            state.refresh();
        }
    });
    Ok(())
}
