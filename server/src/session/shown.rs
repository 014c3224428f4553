//! What the status shows of the generator: who makes the segments now and why, what the synthesizer
//! made of the prompt, and the model's warm-up.

use app::api::{BackendInfo, StartingInfo, StartingPhase};

use super::generate::Generator;
use super::{Live, Shared};

impl Shared {
    /// The backend as the status shows it: for a session, who makes its segments now.
    pub(super) fn backend_info(&self, live: Option<&Live>) -> BackendInfo {
        let mut info = self.backend.info();
        if let Some(live) = live {
            let (generator, reason) = live.generator;
            if generator == Generator::Synth && self.bridge.is_some() {
                info.active = "synth".into();
            }
            info.bridge_reason = reason;
            info.bridge_detail = reason.and(live.bridge_detail.clone());
            // The synthesizer says which of the prompt's words it used; a model reads them all.
            if info.active == "synth" {
                let (heard, ignored) = crate::backend::synth::words(live.core.latest_prompt().0);
                (info.heard, info.ignored) = (Some(heard), Some(ignored));
            }
        }
        info
    }

    /// The model's warm-up as the status shows it: the container's own start, then the weights loading.
    pub(super) fn starting(&self, live: &Live) -> Option<StartingInfo> {
        let managed = self.managed();
        let Some(warming) = *live.warming.borrow() else {
            // A managed service restarting mid-session shows its own start.
            return managed.and_then(|(containers, service)| containers.starting(service));
        };
        if let (StartingPhase::StartingContainer, Some((containers, service))) =
            (warming.phase, managed)
        {
            if let Some(info) = containers.starting(service) {
                return Some(info);
            }
        }
        Some(StartingInfo {
            phase: warming.phase,
            service: managed.map_or_else(|| self.backend.info().kind, |(_, s)| s.to_string()),
            elapsed_seconds: warming.since.elapsed().as_secs_f64(),
            log_tail: Vec::new(),
        })
    }
}
