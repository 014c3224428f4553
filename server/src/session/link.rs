//! The session's link to its model when the embedded synthesizer bridges every wait: the model is warmed
//! up in the background (container, then weights), its first text2music runs while the synthesizer plays,
//! and that result becomes whichever segment comes next once it is ready, since a text2music continues
//! nothing. After a failure the link keeps probing, so the session returns to the model when it answers.

use std::sync::Arc;
use std::time::Duration;

use app::api::{BridgeReason, StartingPhase};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use super::failure::{Cause, Failure};
use super::generate::checked;
use crate::backend::{Backend, Job};
use crate::config::SessionConfig;
use crate::containers::{Containers, Lease};
use tsuzuki_audio::Audio;

/// The shortest wait between two probes of a model that failed.
pub(super) const MIN_PROBE: Duration = Duration::from_secs(1);

/// A model whose weights take longer than this to load is given up on: a first start downloads tens of GB.
const MODEL_LOAD_LIMIT: Duration = Duration::from_secs(30 * 60);

/// A warm-up in progress, as the status shows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Warming {
    pub phase: StartingPhase,
    pub since: std::time::Instant,
}

/// The managed container the model runs in, if any.
pub(super) type Managed = Option<(Containers, String)>;

/// Starts the model's container (held by the returned lease for the session) and loads its weights,
/// publishing each phase to `phase`.
pub(super) async fn warm(
    managed: Managed,
    backend: Arc<dyn Backend>,
    phase: watch::Sender<Option<Warming>>,
) -> Result<Option<Lease>, Failure> {
    let publish = |p| {
        phase.send_replace(Some(Warming {
            phase: p,
            since: std::time::Instant::now(),
        }))
    };
    let lease = match &managed {
        Some((containers, service)) => {
            publish(StartingPhase::StartingContainer);
            let lease = containers.ensure_ready(service).await;
            Some(lease.map_err(|e| {
                phase.send_replace(None);
                Failure::service(&e)
            })?)
        }
        None => None,
    };
    publish(StartingPhase::LoadingModel);
    let loaded = tokio::time::timeout(MODEL_LOAD_LIMIT, backend.warm()).await;
    phase.send_replace(None);
    match loaded {
        Ok(Ok(())) => Ok(lease),
        Ok(Err(e)) => Err(Failure::backend(&e)),
        Err(_) => Err(Failure::model(format!(
            "the music model did not finish loading within {} minutes",
            MODEL_LOAD_LIMIT.as_secs() / 60
        ))),
    }
}

/// How long segment n+1 may take once segment n has been downloaded: the player fetches n about its
/// prefetch lead before n is needed and needs n+1 `segment - overlap` seconds after that, less the time
/// to render a stand-in and download it. For the first segment there is no time at all.
pub(super) fn slack(config: &SessionConfig, index: u64) -> Duration {
    if index == 0 {
        return Duration::ZERO;
    }
    let step = config.segment_seconds - config.overlap_seconds;
    let margin = (step * 0.15).clamp(1.0, 5.0);
    Duration::from_secs_f64((step - margin).max(0.0))
}

/// Why the synthesizer stands in after `failure`.
pub(super) fn reason(failure: &Failure) -> BridgeReason {
    match failure.cause {
        Cause::Unreachable => BridgeReason::Unreachable,
        Cause::Model | Cause::Local => BridgeReason::Failing,
    }
}

pub(super) struct Link {
    backend: Arc<dyn Backend>,
    managed: Managed,
    phase: watch::Sender<Option<Warming>>,
    warming: JoinSet<Result<Option<Lease>, Failure>>,
    /// Held while the model is ready, so an idle timer never stops it mid-session.
    lease: Option<Lease>,
    ready: bool,
    /// The model's text2music waiting to become the next segment, and the prompt it was asked for.
    first: JoinSet<Result<Audio, Failure>>,
    first_prompt: Option<String>,
    next_probe: Instant,
    probe_every: Duration,
    /// `None` while the model plays.
    reason: Option<BridgeReason>,
    /// The last failure's message while it is why the synthesizer plays.
    detail: Option<String>,
}

impl Link {
    pub fn new(
        backend: Arc<dyn Backend>,
        managed: Managed,
        phase: watch::Sender<Option<Warming>>,
        probe_every: Duration,
    ) -> Link {
        Link {
            backend,
            managed,
            phase,
            warming: JoinSet::new(),
            lease: None,
            ready: false,
            first: JoinSet::new(),
            first_prompt: None,
            next_probe: Instant::now(),
            probe_every,
            reason: Some(BridgeReason::ModelLoading),
            detail: None,
        }
    }

    pub fn ready(&self) -> bool {
        self.ready
    }

    /// Why the synthesizer plays, and the failure behind it in its own words.
    pub fn why(&self) -> (Option<BridgeReason>, Option<String>) {
        (self.reason, self.detail.clone())
    }

    /// The model made the segment that plays next.
    pub fn playing(&mut self) {
        (self.reason, self.detail) = (None, None);
    }

    /// The model failed: the synthesizer takes over and the model is probed again from scratch.
    pub fn failed(&mut self, failure: &Failure) {
        tracing::warn!(
            "the synthesizer stands in for the model: {}",
            failure.message
        );
        self.ready = false;
        self.reason = Some(reason(failure));
        self.detail = Some(failure.message.clone());
        self.next_probe = Instant::now() + self.probe_every;
        self.first.abort_all();
        self.first_prompt = None;
    }

    /// Waits until `deadline` for the model's text2music of `job`: the audio when it came in time, else
    /// `None` (the job, if running, goes on for a later segment).
    pub async fn first_segment(
        &mut self,
        job: &Job,
        config: &SessionConfig,
        deadline: Instant,
    ) -> Option<Audio> {
        loop {
            self.keep_going(job, config);
            let probe = (!self.ready && self.warming.is_empty()).then_some(self.next_probe);
            let wake = probe.map_or(deadline, |p| p.min(deadline));
            tokio::select! {
                Some(warmed) = self.warming.join_next(), if !self.warming.is_empty() => {
                    match warmed.unwrap_or_else(|e| Err(Failure::local(e.to_string()))) {
                        Ok(lease) => {
                            self.lease = lease;
                            self.ready = true;
                            // Loaded: what remains is the first job.
                            self.reason = Some(BridgeReason::ModelLoading);
                            self.detail = None;
                        }
                        Err(failure) => self.failed(&failure),
                    }
                }
                Some(made) = self.first.join_next(), if !self.first.is_empty() => {
                    self.first_prompt = None;
                    match made.unwrap_or_else(|e| Err(Failure::local(e.to_string()))) {
                        Ok(audio) => return Some(audio),
                        Err(failure) => self.failed(&failure),
                    }
                }
                _ = tokio::time::sleep_until(wake) => {
                    if Instant::now() >= deadline {
                        return None;
                    }
                }
            }
        }
    }

    /// Starts what the model needs next: a warm-up when it is not ready (at most one per probe interval),
    /// else its text2music for `job` (again when the prompt changed since).
    fn keep_going(&mut self, job: &Job, config: &SessionConfig) {
        if !self.ready {
            if self.warming.is_empty() && Instant::now() >= self.next_probe {
                self.next_probe = Instant::now() + self.probe_every;
                let warming = warm(
                    self.managed.clone(),
                    self.backend.clone(),
                    self.phase.clone(),
                );
                self.warming
                    .spawn(warming.instrument(tracing::info_span!("model.warm")));
            }
            return;
        }
        if self.first_prompt.as_deref() == Some(job.prompt.as_str()) {
            return;
        }
        self.first.abort_all();
        self.first_prompt = Some(job.prompt.clone());
        let (backend, job) = (self.backend.clone(), job.clone());
        let (limit, frames) = (config.job_timeout, config.segment_frames());
        let span = tracing::info_span!("model.text2music", segment.index = job.index);
        let made = async move {
            let (progress, _) = watch::channel(0.0);
            match tokio::time::timeout(limit, backend.generate(&job, &progress)).await {
                Ok(Ok(audio)) => tokio::task::spawn_blocking(move || checked(audio, frames, 0))
                    .await
                    .unwrap_or_else(|e| Err(Failure::local(e.to_string()))),
                Ok(Err(e)) => Err(Failure::backend(&e)),
                Err(_) => Err(Failure::model(format!(
                    "the music model did not finish within {} s",
                    limit.as_secs_f64()
                ))),
            }
        };
        self.first.spawn(made.instrument(span));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(segment: f64, overlap: f64) -> SessionConfig {
        crate::config::Config::with("/tmp".into(), segment, overlap).session
    }

    #[test]
    fn the_first_segment_cannot_wait_and_later_ones_have_almost_a_step() {
        let c = config(60.0, 15.0);
        assert_eq!(slack(&c, 0), Duration::ZERO);
        assert_eq!(slack(&c, 1), Duration::from_secs(40));
        assert_eq!(slack(&c, 7), Duration::from_secs(40));
        assert_eq!(
            slack(&config(8.0, 2.0), 1),
            Duration::from_secs(5),
            "at least a second of margin on short segments"
        );
    }

    #[test]
    fn the_reason_names_what_went_wrong() {
        let unreachable = Failure {
            message: "refused".into(),
            retryable: true,
            cause: Cause::Unreachable,
        };
        assert_eq!(reason(&unreachable), BridgeReason::Unreachable);
        assert_eq!(
            reason(&Failure::model("status 2".into())),
            BridgeReason::Failing
        );
    }
}
