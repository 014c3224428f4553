//! Looking at a service's container: as the engine reports it, and its output, as a tail or followed live.

use app::api::ContainerInfo;

use super::engine::{Found, LogLines};
use super::error::ServiceError;
use super::handle::Containers;
use super::manager::unknown;
use super::slot::Slot;
use super::LOG_TAIL_LINES;
use std::sync::Arc;

impl Containers {
    /// The container of a service (by service id, or by the container's id or its first 12+ characters), as
    /// the engine reports it. Only this server's containers are shown.
    pub async fn container(&self, id: &str) -> Result<ContainerInfo, ServiceError> {
        let (slot, found) = self.found(id).await?;
        let log_tail = self.engine().log_tail(&found.id, LOG_TAIL_LINES).await;
        Ok(ContainerInfo {
            service: slot.config().id.clone(),
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

    /// The last `tail` lines of the service's container.
    pub async fn logs(&self, id: &str, tail: usize) -> Result<(String, Vec<String>), ServiceError> {
        let (_, found) = self.found(id).await?;
        let lines = self.engine().log_tail(&found.id, tail).await;
        Ok((found.id, lines))
    }

    /// The last `tail` lines, then every new one until the container stops.
    pub async fn follow_logs(
        &self,
        id: &str,
        tail: usize,
    ) -> Result<(String, LogLines), ServiceError> {
        let (_, found) = self.found(id).await?;
        let lines = self.engine().follow_logs(&found.id, tail).await?;
        Ok((found.id, lines))
    }

    /// The service named by `id` and its container, if it has one now.
    async fn found(&self, id: &str) -> Result<(Arc<Slot>, Found), ServiceError> {
        let entries = self.manager().declared();
        let by_container = || {
            entries.iter().find(|e| {
                e.slot
                    .view()
                    .container_id
                    .as_deref()
                    .is_some_and(|c| c.starts_with(id))
            })
        };
        let entry = match entries.iter().find(|e| e.declared.id == id) {
            Some(entry) => entry,
            None if id.len() >= 12 => by_container().ok_or_else(|| unknown(id))?,
            None => return Err(unknown(id)),
        };
        let slot = entry.slot.clone();
        let config = slot.config();
        let instance = &self.manager().instance;
        let found = self
            .engine()
            .inspect(&config.container_name())
            .await?
            .filter(|f| f.is_ours(instance))
            .ok_or_else(|| ServiceError::NoContainer(config.id.clone()))?;
        Ok((slot, found))
    }
}
