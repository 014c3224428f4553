//! The start procedure: admission into the GPU budget, then create and start the container (or take over
//! one already running), then wait for its health check. It runs as a future the actor may drop at any
//! await (a stop abandons it); the stop then removes whatever it created, found by name.

use std::sync::{Arc, Weak};
use std::time::Instant;

use super::engine::{short, ContainerEngine, CreateError, Found};
use super::error::ServiceError;
use super::health;
use super::manager::Manager;
use super::memory;
use super::slot::Slot;

/// A start in progress: everything it needs, owned, so it runs beside the actor's command handling.
pub(super) struct Start {
    pub slot: Arc<Slot>,
    /// Weak: a start must not keep a manager whose handles are all gone.
    pub manager: Weak<Manager>,
    pub engine: Arc<dyn ContainerEngine>,
    pub instance: String,
    pub http: reqwest::Client,
}

impl Start {
    /// The container's id once it is healthy, and whether this start created it (rather than adopted it).
    /// A start that fails for lack of GPU memory is tried once more after the idle services have stopped.
    pub async fn run(&self, adopt: Option<Found>) -> Result<(String, bool), ServiceError> {
        match self.attempt(adopt).await {
            Err(error) if memory::out_of_gpu_memory(error.logs()) => {
                let config = self.slot.config();
                tracing::warn!(
                    service = config.id,
                    "out of GPU memory while starting: stopping the idle services and trying once more"
                );
                let manager = self.manager.upgrade().ok_or(ServiceError::ShuttingDown)?;
                manager.stop_idle_except(&config.id).await;
                drop(manager);
                match self.attempt(None).await {
                    Err(again) if memory::out_of_gpu_memory(again.logs()) => {
                        Err(ServiceError::OutOfGpuMemory {
                            service: config.id.clone(),
                            logs: again.logs().to_vec(),
                        })
                    }
                    other => other,
                }
            }
            other => other,
        }
    }

    async fn attempt(&self, adopt: Option<Found>) -> Result<(String, bool), ServiceError> {
        let config = self.slot.config();
        let began = Instant::now();
        let manager = self.manager.upgrade().ok_or(ServiceError::ShuttingDown)?;
        manager.admit(&self.slot).await?;
        drop(manager);
        let (id, created) = match adopt {
            Some(found) => (found.id, false),
            None => self.create_and_start().await?,
        };
        self.slot.view().container_id = Some(id.clone());
        tracing::info!(
            service = config.id,
            container = short(&id),
            ms = began.elapsed().as_millis() as u64,
            "container running; waiting for health"
        );
        match health::wait_healthy(&self.slot, self.engine.as_ref(), &self.http, &id, began).await {
            Ok(()) => Ok((id, created)),
            Err(error) => {
                let _ = self.engine.remove(&id).await;
                Err(error)
            }
        }
    }

    async fn create_and_start(&self) -> Result<(String, bool), ServiceError> {
        let config = self.slot.config();
        let name = config.container_name();
        // Two tries: a leftover of ours is removed (or adopted) once; a name that stays taken is an error.
        for _ in 0..2 {
            match self.engine.create(&config, &self.instance).await {
                Ok(id) => {
                    if let Err(error) = self.engine.start(&id).await {
                        let _ = self.engine.remove(&id).await;
                        return Err(error);
                    }
                    return Ok((id, true));
                }
                Err(CreateError::Failed(error)) => return Err(error),
                Err(CreateError::NameInUse) => {
                    if let Some(adopted) = self.name_in_use(&name).await? {
                        return Ok((adopted, false));
                    }
                }
            }
        }
        Err(ServiceError::Engine(format!(
            "the container name {name} stayed in use"
        )))
    }

    /// The service's name is taken: by our running container of the same declaration (adopted: its id), by a
    /// stale one of ours (removed: try again), or by someone else's (an error).
    async fn name_in_use(&self, name: &str) -> Result<Option<String>, ServiceError> {
        let config = self.slot.config();
        match self.engine.inspect(name).await? {
            None => Ok(None),
            Some(found) if !found.is_ours(&self.instance) => Err(ServiceError::NameTaken {
                name: name.to_string(),
            }),
            Some(found)
                if found.running && found.fingerprint() == Some(config.fingerprint().as_str()) =>
            {
                tracing::info!(
                    service = config.id,
                    container = short(&found.id),
                    "adopting our running container"
                );
                Ok(Some(found.id))
            }
            Some(found) => {
                tracing::info!(
                    service = config.id,
                    container = short(&found.id),
                    "removing our stale container"
                );
                self.engine.remove(&found.id).await?;
                Ok(None)
            }
        }
    }
}
