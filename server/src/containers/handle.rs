//! [`Containers`], the shared handle to every configured service: it routes requests to the services'
//! actors, answers what is known about them, and admits starts into the GPU memory budget.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use app::api::{ContainerInfo, ServiceInfo, ServicesResponse, StartingInfo};
use tokio::sync::{mpsc, oneshot};

use super::actor::{Actor, Command};
use super::admission::{self, Claim};
use super::docker::Docker;
use super::engine::{short, ContainerEngine};
use super::error::{ServiceError, SetupError};
use super::labels;
use super::slot::{Lease, Slot};
use super::LOG_TAIL_LINES;
use crate::config::Config;
use crate::config::ServiceConfig;
use crate::metrics::Metrics;

/// The shared handle to every configured service.
#[derive(Clone)]
pub struct Containers {
    manager: Arc<Manager>,
}

/// What the handles share; the actors hold it weakly, so dropping the last handle ends them.
pub(super) struct Manager {
    pub engine: Arc<dyn ContainerEngine>,
    /// Labels this server's containers, so two servers on one engine never take each other's.
    pub instance: String,
    budget: Option<f64>,
    slots: BTreeMap<String, Arc<Slot>>,
    senders: BTreeMap<String, mpsc::UnboundedSender<Command>>,
    /// Serialises GPU admission: deciding what to evict and claiming the memory happen as one step.
    admission: tokio::sync::Mutex<()>,
    pub http: reqwest::Client,
    pub metrics: Arc<Metrics>,
}

impl Containers {
    /// The manager of `config`'s services, or `None` when none are declared. Nothing touches Docker yet.
    pub fn from_config(
        config: &Config,
        metrics: Arc<Metrics>,
    ) -> Result<Option<Containers>, SetupError> {
        let containers = &config.containers;
        if containers.services.is_empty() {
            return Ok(None);
        }
        Containers::new(
            &containers.services,
            containers.docker_host.clone(),
            containers.gpu_memory_budget_gb,
            &config.session.data_dir,
            metrics,
        )
        .map(Some)
    }

    /// Spawns one actor per service (needs a Tokio runtime). The instance label is derived from `data_dir`.
    pub fn new(
        services: &[ServiceConfig],
        docker_host: Option<String>,
        budget: Option<f64>,
        data_dir: &Path,
        metrics: Arc<Metrics>,
    ) -> Result<Containers, SetupError> {
        let longest_stop = services
            .iter()
            .map(ServiceConfig::stop_timeout)
            .max()
            .unwrap_or_default();
        // Each engine call is bounded; a stop takes up to its grace period.
        let engine = Docker::new(docker_host, Duration::from_secs(60) + longest_stop);
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SetupError(e.to_string()))?;
        let instance = labels::instance(data_dir);
        Ok(Containers::with_engine(
            services,
            Arc::new(engine),
            instance,
            budget,
            http,
            metrics,
        ))
    }

    /// The services on any engine, labelled as server `instance`'s; spawns their actors.
    pub(super) fn with_engine(
        services: &[ServiceConfig],
        engine: Arc<dyn ContainerEngine>,
        instance: String,
        budget: Option<f64>,
        http: reqwest::Client,
        metrics: Arc<Metrics>,
    ) -> Containers {
        metrics.register_services(services.iter().map(|s| s.id.as_str()));
        let mut slots = BTreeMap::new();
        let mut senders = BTreeMap::new();
        let mut receivers = Vec::new();
        for config in services {
            let slot = Arc::new(Slot::new(config.clone()));
            let (tx, rx) = mpsc::unbounded_channel();
            slots.insert(config.id.clone(), slot.clone());
            senders.insert(config.id.clone(), tx);
            receivers.push((slot, rx));
        }
        let manager = Arc::new(Manager {
            engine,
            instance,
            budget,
            slots,
            senders,
            admission: tokio::sync::Mutex::new(()),
            http,
            metrics,
        });
        for (slot, rx) in receivers {
            tokio::spawn(Actor::new(slot, &manager).run(rx));
        }
        Containers { manager }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.manager.metrics
    }

    /// The client the proxy forwards with (no system proxy: services are on loopback).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.manager.http
    }

    /// Deals with containers a previous run of this server left behind (it crashed or was killed): a running
    /// one made from the same declaration is adopted (it is checked for health like a fresh start), any
    /// other is removed. Returns what was done, for the log; an unreachable engine is not an error here.
    pub async fn adopt_leftovers(&self) -> Result<Vec<String>, ServiceError> {
        let manager = &self.manager;
        let mut done = Vec::new();
        for found in manager.engine.list_ours(&manager.instance).await? {
            let slot = found.service().and_then(|s| manager.slots.get(s));
            let adoptable = slot.is_some_and(|slot| {
                found.running
                    && found.name == slot.config.container_name()
                    && found.fingerprint() == Some(slot.config.fingerprint().as_str())
            });
            match slot {
                Some(slot) if adoptable => {
                    done.push(format!("adopted {} ({})", found.name, short(&found.id)));
                    let _ = manager.senders[&slot.config.id].send(Command::Adopt(found));
                }
                _ => {
                    manager.engine.remove(&found.id).await?;
                    done.push(format!("removed {} ({})", found.name, short(&found.id)));
                }
            }
        }
        Ok(done)
    }

    /// Starts the service if needed and waits until it answers its health check; the lease keeps it running.
    pub async fn ensure_ready(&self, id: &str) -> Result<Lease, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.manager
            .sender(id)?
            .send(Command::Ensure(reply))
            .map_err(|_| ServiceError::ShuttingDown)?;
        answer.await.map_err(|_| ServiceError::ShuttingDown)?
    }

    /// Starts the service and waits until it is ready; its idle time counts from then.
    pub async fn start(&self, id: &str) -> Result<ServiceInfo, ServiceError> {
        drop(self.ensure_ready(id).await?);
        self.info(id)
    }

    /// Stops and removes the service's container, unless it is in use.
    pub async fn stop(&self, id: &str) -> Result<ServiceInfo, ServiceError> {
        self.manager.stop(id, false).await?;
        self.info(id)
    }

    /// Stops every service, in use or not (the server is exiting: give the GPU memory back).
    pub async fn shutdown(&self) {
        let stops = self.manager.slots.keys().map(|id| async move {
            if let Err(e) = self.manager.stop(id, true).await {
                tracing::warn!(service = id, "could not stop at shutdown: {e}");
            }
        });
        futures::future::join_all(stops).await;
    }

    pub fn info(&self, id: &str) -> Result<ServiceInfo, ServiceError> {
        self.manager.slot(id).map(|s| s.info())
    }

    pub fn list(&self) -> ServicesResponse {
        ServicesResponse {
            services: self.manager.slots.values().map(|s| s.info()).collect(),
            gpu_memory_budget_gb: self.manager.budget,
            gpu_memory_claimed_gb: admission::claimed(&self.manager.claims(None)),
        }
    }

    /// What a loading service shows in the session status.
    pub fn starting(&self, id: &str) -> Option<StartingInfo> {
        let slot = self.manager.slots.get(id)?;
        let view = slot.view().clone();
        slot.starting(&view)
    }

    /// The container of a service (by service id, or by the container's id or its first 12+ characters), as
    /// the engine reports it. Only this server's containers are shown.
    pub async fn container(&self, id: &str) -> Result<ContainerInfo, ServiceError> {
        let manager = &self.manager;
        let by_container = || {
            manager.slots.values().find(|s| {
                s.view()
                    .container_id
                    .as_deref()
                    .is_some_and(|c| c.starts_with(id))
            })
        };
        let slot = match manager.slots.get(id) {
            Some(slot) => slot,
            None if id.len() >= 12 => by_container().ok_or_else(|| unknown(id))?,
            None => return Err(unknown(id)),
        };
        let found = manager
            .engine
            .inspect(&slot.config.container_name())
            .await?
            .filter(|f| f.is_ours(&manager.instance))
            .ok_or_else(|| ServiceError::NoContainer(slot.config.id.clone()))?;
        let log_tail = manager.engine.log_tail(&found.id, LOG_TAIL_LINES).await;
        Ok(ContainerInfo {
            service: slot.config.id.clone(),
            id: found.id,
            name: found.name,
            image: found.image,
            status: found.status,
            running: found.running,
            exit_code: found.exit_code,
            started_at: found.started_at,
            finished_at: found.finished_at,
            labels: found.labels,
            log_tail,
        })
    }
}

fn unknown(id: &str) -> ServiceError {
    ServiceError::UnknownService(id.to_string())
}

impl Manager {
    fn slot(&self, id: &str) -> Result<&Arc<Slot>, ServiceError> {
        self.slots.get(id).ok_or_else(|| unknown(id))
    }

    fn sender(&self, id: &str) -> Result<&mpsc::UnboundedSender<Command>, ServiceError> {
        self.senders.get(id).ok_or_else(|| unknown(id))
    }

    async fn stop(&self, id: &str, force: bool) -> Result<(), ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.sender(id)?
            .send(Command::Stop { force, reply })
            .map_err(|_| ServiceError::ShuttingDown)?;
        answer.await.map_err(|_| ServiceError::ShuttingDown)?
    }

    /// Every service but `except` as GPU admission sees it.
    fn claims(&self, except: Option<&str>) -> Vec<Claim> {
        self.slots
            .values()
            .filter(|s| Some(s.config.id.as_str()) != except)
            .map(|s| {
                let view = s.view();
                Claim {
                    id: s.config.id.clone(),
                    state: view.state,
                    admitted: view.admitted,
                    gpu_memory_gb: s.config.gpu_memory_gb,
                    in_use: s.leases() > 0,
                    last_use: s.usage().last_use,
                }
            })
            .collect()
    }

    /// Makes room for `slot` in the GPU budget, stopping idle services if needed, and claims it.
    pub async fn admit(&self, slot: &Slot) -> Result<(), ServiceError> {
        let id = slot.config.id.as_str();
        let _turn = self.admission.lock().await;
        for _ in 0..3 {
            let chosen = admission::make_room(
                id,
                slot.config.gpu_memory_gb,
                self.budget,
                &self.claims(Some(id)),
            )
            .map_err(|no| ServiceError::NoGpuRoom(no.0))?;
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
