//! [`Containers`], the shared handle to every configured service: it routes requests to the services'
//! actors, answers what is known about them, and admits starts into the GPU memory budget.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use app::api::{ServiceInfo, ServicesResponse, StartingInfo};
use tokio::sync::oneshot;

use super::actor::Command;
use super::admission;
use super::docker::Docker;
use super::engine::{short, ContainerEngine};
use super::error::{ServiceError, SetupError};
use super::labels;
use super::manager::Manager;
use super::slot::Lease;
use crate::config::ServiceConfig;
use crate::config::{Config, DockerTls};
use crate::metrics::Metrics;

/// The shared handle to every configured service.
#[derive(Clone)]
pub struct Containers {
    manager: Arc<Manager>,
}

impl Containers {
    /// The manager of `config`'s services, or `None` when none are declared. Nothing touches Docker yet.
    /// A config file may declare services later, on a reload: then the manager exists from the start.
    pub fn from_config(
        config: &Config,
        metrics: Arc<Metrics>,
    ) -> Result<Option<Containers>, SetupError> {
        let containers = &config.containers;
        if containers.services.is_empty() && containers.config_file.is_none() {
            return Ok(None);
        }
        Containers::new(
            &containers.services,
            containers.docker_host.clone(),
            containers.docker_tls.clone(),
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
        docker_tls: Option<DockerTls>,
        budget: Option<f64>,
        data_dir: &Path,
        metrics: Arc<Metrics>,
    ) -> Result<Containers, SetupError> {
        // Each engine call is bounded; a stop takes up to its grace period. A reload may declare a longer
        // grace than start-up knew, so there is a minute to spare for that.
        let longest_stop = services
            .iter()
            .map(ServiceConfig::stop_timeout)
            .max()
            .unwrap_or_default()
            .max(Duration::from_secs(60));
        let engine = Docker::new(
            docker_host,
            docker_tls,
            Duration::from_secs(60) + longest_stop,
        );
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
        let manager = Arc::new(Manager::new(engine, instance, budget, http, metrics));
        for config in services {
            manager.add(config.clone());
        }
        Containers { manager }
    }

    pub(super) fn from_manager(manager: Arc<Manager>) -> Containers {
        Containers { manager }
    }

    pub(super) fn manager(&self) -> &Arc<Manager> {
        &self.manager
    }

    pub(super) fn engine(&self) -> &dyn ContainerEngine {
        self.manager.engine.as_ref()
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
            let entry = found.service().and_then(|s| manager.entry(s).ok());
            let adoptable = entry.as_ref().is_some_and(|entry| {
                found.running
                    && found.name == entry.declared.container_name()
                    && found.fingerprint() == Some(entry.declared.fingerprint().as_str())
            });
            match entry {
                Some(entry) if adoptable => {
                    done.push(format!("adopted {} ({})", found.name, short(&found.id)));
                    let _ = entry.sender.send(Command::Adopt(found));
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
            .entry(id)?
            .sender
            .send(Command::Ensure(reply))
            .map_err(|_| ServiceError::ShuttingDown)?;
        answer.await.map_err(|_| ServiceError::ShuttingDown)?
    }

    /// Like [`Containers::ensure_ready`] for one proxied request: it first waits for a place under the
    /// service's `max_concurrent` (a client that gives up meanwhile takes nothing).
    pub async fn ensure_ready_for_request(&self, id: &str) -> Result<Lease, ServiceError> {
        let place = self.manager.entry(id)?.slot.place().await?;
        let mut lease = self.ensure_ready(id).await?;
        lease.hold(place);
        Ok(lease)
    }

    /// Starts the service and waits until it is ready; its idle time counts from then.
    pub async fn start(&self, id: &str) -> Result<ServiceInfo, ServiceError> {
        drop(self.ensure_ready(id).await?);
        self.info(id)
    }

    /// Stops and removes the service's container, unless it is in use.
    pub async fn stop(&self, id: &str) -> Result<ServiceInfo, ServiceError> {
        self.manager.entry(id)?;
        self.manager.stop(id, false).await?;
        self.info(id)
    }

    /// Stops the service's container even in use (its requests in flight fail; sessions retry) and starts a
    /// new one: for a model server that hangs or leaks memory.
    pub async fn restart(&self, id: &str) -> Result<ServiceInfo, ServiceError> {
        self.manager.entry(id)?;
        tracing::info!(service = id, "restarting on request");
        self.manager.stop(id, true).await?;
        self.start(id).await
    }

    /// After the service answered "out of GPU memory": stops the idle services and this one (even in use:
    /// it is broken), so that the next use starts it afresh with their memory free.
    pub(crate) async fn free_gpu_memory(&self, id: &str) -> Result<(), ServiceError> {
        self.manager.stop_idle_except(id).await;
        self.manager.stop(id, true).await
    }

    /// Stops every service, in use or not (the server is exiting: give the GPU memory back).
    pub async fn shutdown(&self) {
        let ids: Vec<String> = self.manager.registry().entries.keys().cloned().collect();
        let stops = ids.iter().map(|id| async move {
            if let Err(e) = self.manager.stop(id, true).await {
                tracing::warn!(service = id, "could not stop at shutdown: {e}");
            }
        });
        futures::future::join_all(stops).await;
    }

    pub fn info(&self, id: &str) -> Result<ServiceInfo, ServiceError> {
        self.manager.entry(id).map(|e| e.slot.info())
    }

    pub fn list(&self) -> ServicesResponse {
        ServicesResponse {
            services: self
                .manager
                .declared()
                .iter()
                .map(|e| e.slot.info())
                .collect(),
            gpu_memory_budget_gb: self.manager.budget(),
            gpu_memory_claimed_gb: admission::claimed(&self.manager.claims(None)),
            gpus: self.manager.gpus.report(),
        }
    }

    /// The GPUs as measured, or why they cannot be.
    pub fn gpus(&self) -> app::api::GpuReport {
        self.manager.gpus.report()
    }

    /// The service that serves `model` (a `/v1/*` request's `model` field), if any does.
    pub fn service_for_model(&self, model: &str) -> Option<String> {
        self.manager
            .declared()
            .into_iter()
            .find(|e| e.declared.models.iter().any(|m| m == model))
            .map(|e| e.declared.id.clone())
    }

    /// What a loading service shows in the session status.
    pub fn starting(&self, id: &str) -> Option<StartingInfo> {
        let slot = self.manager.entry(id).ok()?.slot;
        let view = slot.view().clone();
        slot.starting(&view)
    }
}
