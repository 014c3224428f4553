//! A new config applied to the running services, and the three ways one arrives: SIGHUP, a change of the
//! config file, and `POST /api/v1/config/reload`. What changed is decided by `config::diff`; each service's
//! actor then carries it out when it is safe (see `actor.rs`): a removed or changed service goes once idle,
//! an unchanged one is not touched at all. An invalid file changes nothing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use app::api::ReloadResponse;
use notify::Watcher;
use tokio::sync::mpsc;

use super::actor::Command;
use super::handle::Containers;
use super::manager::Manager;
use crate::config::{self, Restart, ServiceConfig, Source};

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("no config file to reload: start the server with --config")]
    NoConfigFile,
    #[error("{0}")]
    Invalid(String),
}

/// Editors write a file in several steps (truncate, write, rename): one reload after they settle.
const SETTLE: Duration = Duration::from_millis(300);

impl Containers {
    /// Reads the config file again (flags and environment still win over it) and applies its services and
    /// GPU budget. Other settings take effect at the next start. An invalid file is refused as a whole.
    pub async fn reload(&self) -> Result<ReloadResponse, ReloadError> {
        let manager = self.manager();
        let source = manager.source.get().ok_or(ReloadError::NoConfigFile)?;
        let _one_at_a_time = manager.reloading.lock().await;
        let config = source.load().map_err(ReloadError::Invalid)?;
        let containers = config.containers;
        Ok(self.apply(&containers.services, containers.gpu_memory_budget_gb))
    }

    /// Makes `services` and `budget` the ones in force.
    pub(super) fn apply(&self, services: &[ServiceConfig], budget: Option<f64>) -> ReloadResponse {
        let manager = self.manager();
        let before: Vec<ServiceConfig> = manager
            .declared()
            .iter()
            .map(|e| (*e.declared).clone())
            .collect();
        let diff = config::diff(&before, services);
        manager.registry_mut().budget = budget;
        for service in &diff.added {
            // A service removed a moment ago may still be stopping: its actor takes it back.
            if !redeclare(manager, service) {
                manager.add(service.clone());
            }
        }
        for service in diff.changed.iter().chain(&diff.updated) {
            redeclare(manager, service);
        }
        for id in &diff.removed {
            let entry = manager.registry().entries.get(id).cloned();
            if let Some(entry) = entry {
                entry.slot.retire();
                let _ = entry.sender.send(Command::Reconfigure {
                    config: None,
                    immediately: entry.declared.restart == Restart::Immediately,
                });
            }
        }
        let ids = |list: &[ServiceConfig]| list.iter().map(|s| s.id.clone()).collect();
        ReloadResponse {
            added: ids(&diff.added),
            changed: ids(&diff.changed),
            updated: ids(&diff.updated),
            removed: diff.removed,
            unchanged: diff.unchanged,
            gpu_memory_budget_gb: budget,
        }
    }

    /// Reloads on SIGHUP and whenever the config file changes, logging one line for each reload.
    pub fn watch(&self, source: Source) {
        let Some(file) = source.flags_file() else {
            return;
        };
        let manager = Arc::downgrade(self.manager());
        if self.manager().source.set(source).is_err() {
            return; // Already watching.
        }
        let (nudge, nudges) = mpsc::unbounded_channel();
        match watch_file(&file, nudge.clone()) {
            // The watcher stops when dropped: it lives as long as the loop below.
            Ok(watcher) => {
                tokio::spawn(reload_on(nudges, manager, file, Some(watcher)));
            }
            Err(e) => {
                tracing::warn!(file = %file.display(), "config file changes are not watched ({e}); SIGHUP still reloads");
                tokio::spawn(reload_on(nudges, manager, file, None));
            }
        }
        tokio::spawn(async move {
            let Ok(mut hangups) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                return;
            };
            while hangups.recv().await.is_some() {
                if nudge.send(()).is_err() {
                    return;
                }
            }
        });
    }
}

/// Hands a service's new declaration to its actor (and the registry); false if it has no actor.
fn redeclare(manager: &Manager, service: &ServiceConfig) -> bool {
    let mut registry = manager.registry_mut();
    let Some(entry) = registry.entries.get_mut(&service.id) else {
        return false;
    };
    entry.declared = Arc::new(service.clone());
    entry.slot.unretire();
    let _ = entry.sender.send(Command::Reconfigure {
        config: Some(service.clone()),
        immediately: service.restart == Restart::Immediately,
    });
    true
}

/// Watches the folder (editors replace the file rather than write it) for events on the file.
fn watch_file(
    file: &Path,
    nudge: mpsc::UnboundedSender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    let name = file.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let ours = event.is_ok_and(|e| {
            !e.kind.is_access() && e.paths.iter().any(|p| p.file_name() == name.as_deref())
        });
        if ours {
            let _ = nudge.send(());
        }
    })?;
    let folder = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    watcher.watch(&folder, notify::RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

async fn reload_on(
    mut nudges: mpsc::UnboundedReceiver<()>,
    manager: Weak<Manager>,
    file: PathBuf,
    _watcher: Option<notify::RecommendedWatcher>,
) {
    while nudges.recv().await.is_some() {
        tokio::time::sleep(SETTLE).await;
        while nudges.try_recv().is_ok() {}
        let Some(manager) = manager.upgrade() else {
            return;
        };
        let containers = Containers::from_manager(manager);
        match containers.reload().await {
            Ok(done) => tracing::info!(
                added = ?done.added,
                changed = ?done.changed,
                updated = ?done.updated,
                removed = ?done.removed,
                "config file {} reloaded",
                file.display()
            ),
            Err(e) => {
                tracing::error!("config file not reloaded, the running config stays in force: {e}")
            }
        }
    }
}
