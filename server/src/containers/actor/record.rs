//! What a finished start or stop, or a container's death, leaves behind: the service's view for the API,
//! the metrics, and a log line.

use std::time::Instant;

use super::{Actor, Started};
use crate::containers::engine::short;
use crate::containers::error::ServiceError;

impl Actor {
    pub(super) fn record_ready(&mut self, started: Started) {
        tracing::info!(
            service = self.id(),
            container = short(&started.container_id),
            seconds = started.took.as_secs_f64(),
            "service ready"
        );
        if started.created {
            self.metrics.container_started(&self.id(), started.took);
        }
        {
            let mut view = self.slot.view();
            view.container_id = Some(started.container_id);
            view.ready_since = Some(Instant::now());
            view.error = None;
        }
        self.slot.usage().last_use = Instant::now();
    }

    pub(super) fn record_start_failure(&self, error: Option<&ServiceError>) {
        let message = error.map(ToString::to_string).unwrap_or_default();
        tracing::error!(service = self.id(), "start failed: {message}");
        self.metrics.container_start_failed(&self.id());
        let mut view = self.slot.view();
        view.container_id = None;
        view.error = Some(message);
    }

    pub(super) fn record_stopped(&self) {
        tracing::info!(service = self.id(), "container stopped and removed");
        self.metrics.container_stopped(&self.id());
        self.slot.view().container_id = None;
    }

    pub(super) fn record_stop_failure(&self, stopped: Option<&Result<(), ServiceError>>) {
        if let Some(Err(e)) = stopped {
            tracing::error!(service = self.id(), "stop failed: {e}");
            self.slot.view().error = Some(format!("could not stop: {e}"));
        }
    }

    /// The ready container died on its own: remember why; the next demand starts a new one.
    pub(super) fn record_exit(&self, reason: String) {
        tracing::error!(service = self.id(), "{reason}");
        let mut view = self.slot.view();
        view.error = Some(reason);
        view.container_id = None;
    }
}
