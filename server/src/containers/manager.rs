//! What every handle shares: the engine, the services declared now (each a slot and its actor's inbox),
//! and GPU admission as it is carried out. The set of services changes on a reload, so it sits behind a
//! lock taken only for lookups, never across an await.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::{mpsc, oneshot};

use super::actor::{Actor, Command};
use super::admission::{self, Claim};
use super::engine::ContainerEngine;
use super::error::ServiceError;
use super::lifecycle::State;
use super::slot::Slot;
use crate::config::{ServiceConfig, Source};
use crate::gpu::GpuMonitor;
use crate::metrics::Metrics;

/// What the handles share; the actors hold it weakly, so dropping the last handle ends them.
pub(super) struct Manager {
    pub engine: Arc<dyn ContainerEngine>,
    /// Labels this server's containers, so two servers on one engine never take each other's.
    pub instance: String,
    registry: RwLock<Registry>,
    /// Serialises GPU admission: deciding what to evict and claiming the memory happen as one step.
    admission: tokio::sync::Mutex<()>,
    pub http: reqwest::Client,
    pub metrics: Arc<Metrics>,
    /// Real GPU memory, when NVML is there.
    pub gpus: GpuMonitor,
    /// Where a reload reads the config from; set when the server watches its config file.
    pub source: OnceLock<Source>,
    /// One reload at a time: two racing ones could apply an older file last.
    pub reloading: tokio::sync::Mutex<()>,
}

pub(super) struct Registry {
    pub budget: Option<f64>,
    /// Every service with a live actor, by id; a retired one stays until its container is gone.
    pub entries: BTreeMap<String, Entry>,
}

#[derive(Clone)]
pub(super) struct Entry {
    pub slot: Arc<Slot>,
    pub sender: mpsc::UnboundedSender<Command>,
    /// As last declared; the slot's config may still be the previous one while its container runs.
    pub declared: Arc<ServiceConfig>,
}

pub(super) fn unknown(id: &str) -> ServiceError {
    ServiceError::UnknownService(id.to_string())
}

impl Manager {
    pub fn new(
        engine: Arc<dyn ContainerEngine>,
        instance: String,
        budget: Option<f64>,
        http: reqwest::Client,
        metrics: Arc<Metrics>,
    ) -> Manager {
        Manager {
            engine,
            instance,
            registry: RwLock::new(Registry {
                budget,
                entries: BTreeMap::new(),
            }),
            admission: tokio::sync::Mutex::new(()),
            http,
            metrics,
            gpus: GpuMonitor::new(),
            source: OnceLock::new(),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// A panicking holder leaves consistent data behind (every write is one insert or remove).
    pub fn registry(&self) -> RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn registry_mut(&self) -> RwLockWriteGuard<'_, Registry> {
        self.registry.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the slot and actor of a newly declared service and lists it.
    pub fn add(self: &Arc<Self>, config: ServiceConfig) {
        self.metrics.register_services([config.id.as_str()]);
        let slot = Arc::new(Slot::new(config.clone()));
        let (sender, inbox) = mpsc::unbounded_channel();
        let entry = Entry {
            slot: slot.clone(),
            sender,
            declared: Arc::new(config),
        };
        self.registry_mut()
            .entries
            .insert(entry.declared.id.clone(), entry);
        tokio::spawn(Actor::new(slot, self).run(inbox));
    }

    /// The service's entry, unless it is unknown or retired.
    pub fn entry(&self, id: &str) -> Result<Entry, ServiceError> {
        self.registry()
            .entries
            .get(id)
            .filter(|e| !e.slot.retired())
            .cloned()
            .ok_or_else(|| unknown(id))
    }

    /// Every declared (not retired) service, by id.
    pub fn declared(&self) -> Vec<Entry> {
        let registry = self.registry();
        let live = registry.entries.values().filter(|e| !e.slot.retired());
        live.cloned().collect()
    }

    /// Drops a retired service's entry once its actor has finished (if a new one has not taken the id).
    pub fn forget(&self, slot: &Arc<Slot>) {
        let mut registry = self.registry_mut();
        let id = slot.config().id.clone();
        if registry
            .entries
            .get(&id)
            .is_some_and(|e| Arc::ptr_eq(&e.slot, slot))
        {
            registry.entries.remove(&id);
        }
    }

    /// Stops the service's container, retired or not (eviction and shutdown stop those too).
    pub async fn stop(&self, id: &str, force: bool) -> Result<(), ServiceError> {
        let sender = self.registry().entries.get(id).map(|e| e.sender.clone());
        let (reply, answer) = oneshot::channel();
        sender
            .ok_or_else(|| unknown(id))?
            .send(Command::Stop { force, reply })
            .map_err(|_| ServiceError::ShuttingDown)?;
        answer.await.map_err(|_| ServiceError::ShuttingDown)?
    }

    /// Every service but `except` as GPU admission sees it; retired ones still hold their memory.
    pub fn claims(&self, except: Option<&str>) -> Vec<Claim> {
        let registry = self.registry();
        registry
            .entries
            .values()
            .filter(|e| Some(e.declared.id.as_str()) != except)
            .map(|e| {
                let view = e.slot.view();
                Claim {
                    id: e.declared.id.clone(),
                    state: view.state,
                    admitted: view.admitted,
                    gpu_memory_gb: e.slot.config().gpu_memory_gb,
                    in_use: e.slot.leases() > 0,
                    last_use: e.slot.usage().last_use,
                }
            })
            .collect()
    }

    /// Stops every idle ready service but `except`, whatever it declared: a full GPU may be full of memory
    /// nobody declared.
    pub async fn stop_idle_except(&self, except: &str) {
        let idle: Vec<String> = self
            .claims(Some(except))
            .into_iter()
            .filter(|c| c.state == State::Ready && !c.in_use)
            .map(|c| c.id)
            .collect();
        for id in idle {
            tracing::info!(service = except, stopping = id, "freeing GPU memory");
            if let Err(e) = self.stop(&id, false).await {
                tracing::info!(service = except, other = id, "not stopped: {e}");
            }
        }
    }

    pub fn budget(&self) -> Option<f64> {
        self.registry().budget
    }

    /// Makes room for `slot` in the GPU budget, stopping idle services if needed, and claims it.
    pub async fn admit(&self, slot: &Slot) -> Result<(), ServiceError> {
        let config = slot.config();
        let id = config.id.as_str();
        let _turn = self.admission.lock().await;
        for _ in 0..3 {
            let others = self.claims(Some(id));
            let free = self.gpus.free_gb();
            let budget =
                admission::effective_budget(self.budget(), free, admission::claimed(&others));
            let chosen =
                admission::make_room(id, config.gpu_memory_gb, budget, &others).map_err(|no| {
                    match free {
                        Some(free) => ServiceError::NoGpuRoom(format!(
                            "{} (measured: {free:.1} GB free on the GPUs now)",
                            no.0
                        )),
                        None => ServiceError::NoGpuRoom(no.0),
                    }
                })?;
            if chosen.is_empty() {
                slot.view().admitted = true;
                return Ok(());
            }
            for other in chosen {
                tracing::info!(
                    service = id,
                    evicting = other,
                    "stopping an idle service to free GPU memory"
                );
                // A refusal means it became busy meanwhile: the next round decides again.
                if let Err(e) = self.stop(&other, false).await {
                    tracing::info!(service = id, other, "not evicted: {e}");
                }
            }
        }
        Err(ServiceError::NoGpuRoom(format!(
            "not enough GPU memory for service {id:?}: the services holding it stayed busy"
        )))
    }
}
