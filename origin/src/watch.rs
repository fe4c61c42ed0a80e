//! `--watch SRC`: compile and publish into the served directory at start and on
//! every change of a source file. A source that fails validation is reported and
//! the last good ruleset keeps serving.

use crate::state::State;
use edgeflag_evaluator::signature::Signer;
use edgeflag_publish::store::{DirStore, Store};
use edgeflag_publish::{Outcome, Publication, Signing};
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

/// The watched source and how its rulesets are published.
#[derive(Debug, Clone)]
pub struct Source {
    /// The source file or directory.
    pub path: PathBuf,
    /// Who publishes, in the audit log.
    pub actor: String,
    /// Signs each publish, when set.
    pub signer: Option<Arc<dyn Signer>>,
    /// Lifetime of signed rulesets.
    pub lifetime: Option<Duration>,
}

impl Source {
    /// How often to check whether the rulesets need signing again: an eighth of
    /// their lifetime (so a re-sign lands well before half of it has passed),
    /// between 1 s and 1 h; `None` when nothing expires.
    fn resign_every(&self) -> Option<Duration> {
        self.signer.as_ref()?;
        let lifetime = self.lifetime?;
        Some((lifetime / 8).clamp(Duration::from_secs(1), Duration::from_secs(3600)))
    }
}

/// Compiles the source and publishes every environment into the served
/// directory (signed, and signed again when due, if a signer is set).
pub async fn compile_and_publish(state: &State, source: &Source) {
    let src = source.path.as_path();
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
    for (name, body) in compiled.iter().flat_map(|env| env.rulesets()) {
        let signing = source
            .signer
            .as_deref()
            .map(|s| Signing::new(s).lifetime(source.lifetime));
        let p = Publication::new(&name, body)
            .actor(&source.actor)
            .signed(signing);
        match edgeflag_publish::publish(&store, &p).await {
            Ok(Outcome::Published {
                version, changes, ..
            }) => {
                state.metrics.publish_ok.fetch_add(1, Relaxed);
                tracing::info!(
                    env = %name,
                    version,
                    "published from the watched source\n  {}",
                    changes.join("\n  ")
                );
            }
            Ok(Outcome::Unchanged { .. }) => {}
            Err(e) => {
                state.metrics.publish_failed.fetch_add(1, Relaxed);
                tracing::error!(env = %name, "publishing failed: {e}");
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

/// Watches the source and recompiles on change until the process ends; with a
/// signer, also wakes up to sign again before the rulesets lapse.
pub fn spawn(state: Arc<State>, source: Source) -> notify::Result<()> {
    let (watcher, mut rx) = change_watcher(&source.path, true)?;
    let resign_every = source.resign_every();
    tokio::spawn(async move {
        // The watcher lives as long as this task.
        let _watcher = watcher;
        let mut resign = resign_every.map(|every| {
            let mut i = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        });
        loop {
            tokio::select! {
                msg = rx.recv() => {
                    if msg.is_none() { break; }
                    tokio::time::sleep(DEBOUNCE).await;
                    while rx.try_recv().is_ok() {}
                }
                () = next_tick(resign.as_mut()) => {}
            }
            compile_and_publish(&state, &source).await;
        }
    });
    Ok(())
}

/// The next tick of `interval`; never, without one.
async fn next_tick(interval: Option<&mut tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
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
