//! What the lifecycle needs from a container engine, as a trait: Docker (`docker.rs`) in the server, a fake
//! in unit tests, so the actor's races can be tested without dockerd.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use super::error::ServiceError;
use super::labels::{LABEL_FINGERPRINT, LABEL_INSTANCE, LABEL_MANAGED, LABEL_SERVICE};
use crate::config::ServiceConfig;

#[async_trait]
pub(super) trait ContainerEngine: Send + Sync {
    /// Every container this server instance made, running or not.
    async fn list_ours(&self, instance: &str) -> Result<Vec<Found>, ServiceError>;
    /// The container with this id or name, if there is one.
    async fn inspect(&self, name: &str) -> Result<Option<Found>, ServiceError>;
    /// Creates the service's container, labelled for `instance`; returns its id.
    async fn create(&self, service: &ServiceConfig, instance: &str) -> Result<String, CreateError>;
    async fn start(&self, id: &str) -> Result<(), ServiceError>;
    /// Stops the container (SIGTERM, then SIGKILL after `grace`) and removes it. A container already
    /// stopped or gone is fine.
    async fn stop_and_remove(&self, id: &str, grace: Duration) -> Result<(), ServiceError>;
    /// Removes the container, killing it if it runs. A container already gone is fine.
    async fn remove(&self, id: &str) -> Result<(), ServiceError>;
    /// The last `lines` lines the container wrote, without terminal colours; none if it cannot be read.
    async fn log_tail(&self, id: &str, lines: usize) -> Vec<String>;
    /// The container's last `tail` lines, then each new line as it is written, without terminal colours;
    /// the stream ends when the container stops (or the engine goes away).
    async fn follow_logs(&self, id: &str, tail: usize) -> Result<LogLines, ServiceError>;
}

/// Lines of a container's output as they come.
pub type LogLines = futures::stream::BoxStream<'static, String>;

/// A container as the engine reports it.
#[derive(Clone, Debug)]
pub(super) struct Found {
    pub id: String,
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    pub status: String,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl Found {
    /// Made by this server (same instance label), as opposed to another server's or a user's container.
    pub fn is_ours(&self, instance: &str) -> bool {
        self.label(LABEL_MANAGED) == Some("true") && self.label(LABEL_INSTANCE) == Some(instance)
    }

    pub fn service(&self) -> Option<&str> {
        self.label(LABEL_SERVICE)
    }

    pub fn fingerprint(&self) -> Option<&str> {
        self.label(LABEL_FINGERPRINT)
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// What creating a container can run into besides plain errors.
pub(super) enum CreateError {
    /// The name is already in use.
    NameInUse,
    Failed(ServiceError),
}

/// The first 12 characters of a container id, as `docker ps` shows it.
pub(super) fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}
