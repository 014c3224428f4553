//! The listening session: one at a time, with a worker that makes segment after segment while listeners
//! download them. [`Sessions`] is the shared handle the HTTP handlers use.

mod delivery;
mod failure;
mod generate;
mod join;
mod link;
mod shown;
pub mod state;
pub mod storage;
#[cfg(test)]
mod tests;
mod worker;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use app::api::{
    BridgeReason, FocusModulation, Health, PromptResponse, SessionState, Status, StatusError,
    DEFAULT_PROMPT,
};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::backend::synth::Synth;
use crate::backend::Backend;
use crate::config::{BackendKind, Config, CHANNELS, SAMPLE_RATE};
use crate::containers::{Containers, Lease, ServiceError};
use crate::encoding::Format;
use crate::metrics::Metrics;
use delivery::Deliveries;
use generate::Generator;
use link::Warming;
use state::{Core, Lookup};
use storage::{DataDir, SessionFiles};

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum SessionError {
    #[error("no session is running; start one with POST /session/start")]
    NoSession,
    #[error("segment {0} has been deleted; fetch a newer one")]
    Gone(u64),
    #[error("segment {0} does not exist")]
    Missing(u64),
    #[error("no segment is ready yet")]
    NothingYet,
    #[error("cannot create the session's files: {0}")]
    Storage(String),
}

/// What one response of a segment download handed to the connection.
pub struct Sent {
    pub session_id: String,
    pub index: u64,
    pub format: Format,
    pub range: std::ops::Range<u64>,
    pub total: u64,
}

/// Which segment a download asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Which {
    Current,
    Index(u64),
}

/// An open segment file, ready to be streamed: the stored encoding a download of `format` comes from.
pub struct Segment {
    pub session_id: String,
    pub index: u64,
    pub format: Format,
    pub file: std::fs::File,
    pub bytes: u64,
    /// How it joins its predecessor's tail (see [`app::api::Join`]); `None` for a session's first.
    pub join: Option<app::api::Join>,
}

struct Live {
    id: String,
    core: Core,
    files: SessionFiles,
    /// Segments no listener needs any more, deleted by the worker (off the async threads) before it writes
    /// anything new, so the session never holds more than the playing segment, the next and a seed.
    obsolete: Vec<PathBuf>,
    deliveries: Deliveries,
    progress: watch::Receiver<f32>,
    /// The model's warm-up, while one runs.
    warming: watch::Receiver<Option<Warming>>,
    /// Who makes the segments now, and why the synthesizer does when it does.
    generator: (Generator, Option<BridgeReason>),
    /// The failure behind the synthesizer standing in, in its own words.
    bridge_detail: Option<String>,
    /// Wakes the worker when a download may let it continue.
    wake: Arc<Notify>,
    worker: JoinHandle<()>,
    /// The focus modulation the next segments are made with.
    focus: FocusModulation,
}

struct Shared {
    config: Config,
    backend: Arc<dyn Backend>,
    /// The embedded synthesizer that stands in for a model backend while it cannot play.
    bridge: Option<Arc<dyn Backend>>,
    data: DataDir,
    live: Mutex<Option<Live>>,
    /// The session a listener stopped last, until another starts: players still on it stop too.
    stopped: Mutex<Option<String>>,
    containers: Option<Containers>,
    metrics: Arc<Metrics>,
}

#[derive(Clone)]
pub struct Sessions {
    shared: Arc<Shared>,
}

/// The current time as RFC 3339.
fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

impl Sessions {
    pub fn new(config: Config, backend: Arc<dyn Backend>, data: DataDir) -> Sessions {
        Sessions::with_containers(config, backend, data, None, Arc::default())
    }

    /// Sessions whose backend may run in one of `containers`' services (when the config names one).
    pub fn with_containers(
        config: Config,
        backend: Arc<dyn Backend>,
        data: DataDir,
        containers: Option<Containers>,
        metrics: Arc<Metrics>,
    ) -> Sessions {
        let bridge = (config.session.bridge && matches!(config.backend, BackendKind::AceStep(..)))
            .then(|| Arc::new(Synth::new(SAMPLE_RATE)) as Arc<dyn Backend>);
        Sessions {
            shared: Arc::new(Shared {
                config,
                backend,
                bridge,
                data,
                live: Mutex::new(None),
                stopped: Mutex::new(None),
                containers,
                metrics,
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    pub fn containers(&self) -> Option<&Containers> {
        self.shared.containers.as_ref()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// Whether a managed container service backs the sessions (so starting one starts the container).
    pub fn is_managed(&self) -> bool {
        self.shared.managed().is_some()
    }

    fn live(&self) -> MutexGuard<'_, Option<Live>> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.shared.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopped(&self) -> MutexGuard<'_, Option<String>> {
        self.shared
            .stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a new session (stopping any running one) with `prompt`, or the default prompt.
    pub async fn start(
        &self,
        prompt: Option<String>,
        focus: FocusModulation,
    ) -> Result<Status, SessionError> {
        let prompt = prompt.unwrap_or_else(|| DEFAULT_PROMPT.to_string());
        let id = uuid::Uuid::new_v4();
        let files = self
            .shared
            .data
            .create_session(&id.to_string())
            .map_err(|e| SessionError::Storage(e.to_string()))?;
        let (progress_tx, progress) = watch::channel(0.0);
        let (warming_tx, warming) = watch::channel(None);
        let wake = Arc::new(Notify::new());
        tracing::info!(session = %id, prompt, "session started");
        let old = {
            // The worker is spawned under the lock that installs its session: whenever it first looks,
            // the session is there (a worker that found none would exit, leaving it `starting` for ever).
            let mut live = self.live();
            self.stopped().take();
            // In the trace of the request that started it, so a Play's trace holds its segments; not its
            // child for the terminal, whose lines would all carry the request.
            let span = tracing::info_span!(parent: None, "session", session.id = %id);
            crate::telemetry::follow(&span, &tracing::Span::current());
            let worker = tokio::spawn(
                worker::run(worker::Worker {
                    shared: Arc::downgrade(&self.shared),
                    id: id.to_string(),
                    seed: id.as_u64_pair().0,
                    wake: wake.clone(),
                    progress: progress_tx,
                    warming: warming_tx,
                })
                .instrument(span),
            );
            let generator = match self.shared.bridge {
                Some(_) => (Generator::Synth, Some(BridgeReason::ModelLoading)),
                None => (Generator::Model, None),
            };
            live.replace(Live {
                id: id.to_string(),
                core: Core::new(prompt),
                files,
                obsolete: Vec::new(),
                deliveries: Deliveries::default(),
                progress,
                warming,
                generator,
                bridge_detail: None,
                wake,
                worker,
                focus,
            })
        };
        if let Some(old) = old {
            end(old).await;
        }
        Ok(self.status())
    }

    /// Stops the session: cancels its generation and deletes its files.
    pub async fn stop(&self) -> Status {
        let old = {
            let mut live = self.live();
            let old = live.take();
            if let Some(old) = &old {
                *self.stopped() = Some(old.id.clone());
            }
            old
        };
        if let Some(old) = old {
            end(old).await;
        }
        self.status()
    }

    pub fn set_prompt(&self, prompt: String) -> Result<PromptResponse, SessionError> {
        let mut live = self.live();
        let live = live.as_mut().ok_or(SessionError::NoSession)?;
        let from = live.core.set_prompt(prompt.clone());
        tracing::info!(
            session = live.id,
            prompt,
            applies_from_segment = from,
            "prompt changed"
        );
        Ok(PromptResponse {
            prompt,
            applies_from_segment: from,
        })
    }

    /// Sets the focus modulation of the segments made from now on.
    pub fn set_focus(&self, focus: FocusModulation) -> Result<FocusModulation, SessionError> {
        let mut live = self.live();
        let live = live.as_mut().ok_or(SessionError::NoSession)?;
        live.focus = focus;
        tracing::info!(
            session = live.id,
            focus = focus.name(),
            "focus modulation changed"
        );
        Ok(focus)
    }

    pub fn status(&self) -> Status {
        let config = &self.shared.config;
        let live = self.live();
        let core = live.as_ref().map(|l| &l.core);
        let (prompt, from) = core.map_or((DEFAULT_PROMPT, None), |c| {
            let (p, f) = c.latest_prompt();
            (p, Some(f))
        });
        Status {
            session_id: live.as_ref().map(|l| l.id.clone()),
            state: core.map_or(SessionState::Idle, Core::state),
            segment_index: core.and_then(Core::latest),
            generating_index: core.and_then(Core::generating),
            progress: match (&*live, core.and_then(Core::generating)) {
                (Some(l), Some(_)) => *l.progress.borrow(),
                _ => 0.0,
            },
            prompt: prompt.to_string(),
            prompt_applies_from: from,
            segment_seconds: config.session.segment_seconds,
            overlap_seconds: config.session.overlap_seconds,
            sample_rate: SAMPLE_RATE,
            channels: CHANNELS,
            backend: self.shared.backend_info(live.as_ref()),
            error: core.and_then(Core::error).cloned(),
            starting: live.as_ref().and_then(|l| self.shared.starting(l)),
            last_join: core.and_then(Core::last_join),
            stopped_session: match &*live {
                Some(_) => None,
                None => self.stopped().clone(),
            },
            focus_modulation: live.as_ref().map(|l| l.focus).unwrap_or_default(),
        }
    }

    /// Opens a segment for download. The file is opened under the lock, so a concurrent deletion cannot
    /// pull it away half-way (an open file outlives its directory entry).
    pub fn open(&self, which: Which, format: Format) -> Result<Segment, SessionError> {
        let live = self.live();
        let live = live.as_ref().ok_or(SessionError::NoSession)?;
        let index = match which {
            Which::Current => live.core.latest().ok_or(SessionError::NothingYet)?,
            Which::Index(n) => match live.core.lookup(n) {
                Lookup::Ready(n) => n,
                Lookup::Gone => return Err(SessionError::Gone(n)),
                Lookup::Missing => return Err(SessionError::Missing(n)),
            },
        };
        let path = live.files.segment(index, format.stored());
        let file = std::fs::File::open(&path).map_err(|e| SessionError::Storage(e.to_string()))?;
        let bytes = file
            .metadata()
            .map_err(|e| SessionError::Storage(e.to_string()))?
            .len();
        Ok(Segment {
            session_id: live.id.clone(),
            index,
            format,
            file,
            bytes,
            join: live.core.join(index),
        })
    }

    /// Bytes `range` of segment `index` as `format` (`total` long) went out to a listener. Once every byte
    /// of it has, in one download or several, older segments go and the worker may continue.
    pub fn sent(&self, sent: Sent, elapsed: Duration) {
        let mut live = self.live();
        let Some(live) = live.as_mut().filter(|l| l.id == sent.session_id) else {
            return;
        };
        let Sent {
            session_id,
            index,
            format,
            range,
            total,
        } = sent;
        if !live
            .deliveries
            .sent(index, format, range.start, range.end, total)
        {
            return;
        }
        tracing::info!(
            session = session_id,
            segment = index,
            format = format.extension(),
            bytes = total,
            serve_ms = elapsed.as_secs_f64() * 1000.0,
            "segment downloaded"
        );
        let gone: Vec<_> = live
            .core
            .downloaded(index)
            .into_iter()
            .flat_map(|old| live.files.segment_files(old))
            .collect();
        // Deleted at once off the async threads; the worker deletes them too before it writes anything
        // new, so they never share the disk with the next seed whichever comes first.
        live.obsolete.extend(gone.iter().cloned());
        let files = live.files.clone();
        tokio::task::spawn_blocking(move || gone.iter().for_each(|path| files.delete(path)));
        live.wake.notify_one();
    }

    pub async fn health(&self) -> Health {
        if let Some((containers, service)) = self.shared.managed() {
            // A stopped service is healthy: it starts when a session needs it.
            if let Ok(info) = containers.info(service) {
                if info.state != app::api::ServiceState::Ready {
                    let failed = info.state == app::api::ServiceState::Failed;
                    return Health {
                        status: if failed { "degraded" } else { "ok" }.into(),
                        backend: self.shared.backend.info(),
                        backend_reachable: false,
                        backend_message: Some(info.error.unwrap_or_else(|| {
                            format!(
                                "the model service {service:?} is {}; it starts when a session starts",
                                crate::containers::lifecycle::word(info.state)
                            )
                        })),
                    };
                }
            }
        }
        let check = tokio::time::timeout(Duration::from_secs(5), self.shared.backend.check()).await;
        let message = match check {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("the music model did not answer within 5 s".to_string()),
        };
        Health {
            status: if message.is_none() { "ok" } else { "degraded" }.into(),
            backend: self.shared.backend.info(),
            backend_reachable: message.is_none(),
            backend_message: message,
        }
    }
}

/// Cancels a session's worker, waits until it has let go, and deletes its files.
async fn end(live: Live) {
    live.worker.abort();
    let _ = live.worker.await;
    let files = live.files;
    let _ = tokio::task::spawn_blocking(move || files.remove_all()).await;
    tracing::info!(session = live.id, "session stopped");
}

impl Shared {
    /// The container service the backend runs in, when it is a managed one.
    fn managed(&self) -> Option<(&Containers, &str)> {
        match (&self.containers, &self.config.backend) {
            (Some(containers), BackendKind::AceStep(_, Some(service))) => {
                Some((containers, service.as_str()))
            }
            _ => None,
        }
    }

    /// The managed service as the model's warm-up needs it: owned, for a task of its own.
    fn managed_service(&self) -> link::Managed {
        self.managed()
            .map(|(containers, service)| (containers.clone(), service.to_string()))
    }

    /// Makes sure the backend's container answers (starting it if needed); `None` for an unmanaged backend.
    async fn ensure_service(&self) -> Result<Option<Lease>, ServiceError> {
        match self.managed() {
            Some((containers, service)) => containers.ensure_ready(service).await.map(Some),
            None => Ok(None),
        }
    }

    /// Runs `f` on session `id` if it is still the live one.
    fn with<T>(&self, id: &str, f: impl FnOnce(&mut Live) -> T) -> Option<T> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.as_mut().filter(|l| l.id == id).map(f)
    }

    fn fail(&self, id: &str, message: String, retryable: bool) {
        tracing::error!(session = id, "{message}");
        self.with(id, |live| {
            live.core.failed(StatusError {
                message,
                retryable,
                at: now(),
            })
        });
    }
}
