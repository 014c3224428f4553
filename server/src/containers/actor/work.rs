//! The work the actor runs beside its loop: a start (admission, container, health) and a stop, each in a
//! trace of its own, and the probe of a ready container's liveness.

use std::time::Instant;

use futures::future::BoxFuture;
use futures::FutureExt;
use tracing::field::Empty;
use tracing::Instrument;

use super::{Actor, Done, Started};
use crate::containers::engine::{short, Found};
use crate::containers::health;
use crate::containers::start::Start;

impl Actor {
    pub(super) fn begin_start(&mut self, adopt: Option<Found>) {
        {
            let mut view = self.slot.view();
            view.starting_since = Some(Instant::now());
            view.log_tail.clear();
            view.error = None;
            view.admitted = false;
        }
        let start = Start {
            slot: self.slot.clone(),
            manager: self.manager.clone(),
            engine: self.engine.clone(),
            instance: self.instance.clone(),
            http: self.http.clone(),
        };
        // A trace of its own: one start serves every request that waits for it.
        let span = tracing::info_span!(
            parent: None,
            "container.start",
            service = self.id(),
            container.id = Empty,
            otel.status_code = Empty,
            error.message = Empty,
        );
        self.work = Some(
            async move {
                let began = Instant::now();
                let result = start.run(adopt).await;
                let span = tracing::Span::current();
                match &result {
                    Ok((id, _)) => span.record("container.id", short(id)),
                    Err(e) => span
                        .record("otel.status_code", "ERROR")
                        .record("error.message", e.to_string()),
                };
                Done::Started(result.map(|(container_id, created)| Started {
                    container_id,
                    created,
                    took: began.elapsed(),
                }))
            }
            .instrument(span)
            .boxed(),
        );
    }

    pub(super) fn begin_stop(&mut self) {
        let engine = self.engine.clone();
        let instance = self.instance.clone();
        let config = self.slot.config();
        let name = config.container_name();
        let grace = config.stop_timeout();
        let span = tracing::info_span!(
            parent: None,
            "container.stop",
            service = self.id(),
            otel.status_code = Empty,
        );
        self.work = Some(
            async move {
                // By name: the container may be one an abandoned start created without telling us its id.
                let result = match engine.inspect(&name).await {
                    Ok(Some(found)) if found.is_ours(&instance) => {
                        engine.stop_and_remove(&found.id, grace).await
                    }
                    Ok(_) => Ok(()),
                    Err(e) => Err(e),
                };
                if result.is_err() {
                    tracing::Span::current().record("otel.status_code", "ERROR");
                }
                Done::Stopped(result)
            }
            .instrument(span)
            .boxed(),
        );
    }

    pub(super) fn liveness(&self) -> BoxFuture<'static, Option<String>> {
        let engine = self.engine.clone();
        let id = self.slot.view().container_id.clone().unwrap_or_default();
        let service = self.id().to_string();
        async move { health::died(engine.as_ref(), &id, &service).await }.boxed()
    }
}
