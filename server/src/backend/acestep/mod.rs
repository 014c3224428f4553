//! The ACE-Step 1.5 backend: a client for its asynchronous HTTP API (`/release_task`, `/query_result`,
//! `/v1/audio`), written against the server as it actually behaves (see shared/reference/acestep-api.md):
//! replies wrapped in `{"data", "code", ...}`, errors as FastAPI `{"detail"}`, `result` as a JSON string
//! inside the JSON, unknown task ids reported as "still running" with `result == "[]"`, and silence
//! reported as success with an empty file name. It speaks to the February 2026 snapshot and to today's
//! upstream alike, telling them apart by their `/health` (`server`): the current one loads its models
//! lazily, so `warm` loads them through `/v1/init` with the LM it lists (`lm`).

mod decode;
mod lm;
mod reply;
mod request;
mod server;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use app::api::BackendInfo;
use async_trait::async_trait;
use reqwest::{multipart, RequestBuilder, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;
use tracing::field::Empty;

use super::{Backend, BackendError, Job, Task};
use crate::telemetry;
use lm::Lm;
use reply::{detail, status_error, unwrap_reply};
use request::Asking;
use server::{Generation, Health};
use tsuzuki_audio::Audio;

/// Polls that may report an unknown task id before we conclude the server lost the task (it restarted).
const UNKNOWN_POLLS: u32 = 10;
/// `check` is a liveness probe: a server that takes longer to say it is alive is not usable.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// `/health` while the models load: the server is busy then and may answer slowly.
const LOADING_HEALTH_TIMEOUT: Duration = Duration::from_secs(30);
/// `/v1/init` answers when the load has finished, which may include downloading tens of GB; the caller
/// bounds the whole wait, this only keeps a dead connection from hanging forever.
const INIT_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub url: String,
    pub api_key: Option<String>,
    /// The DiT: `acestep-v15-sft` (50 steps, best quality) or `acestep-v15-turbo` (8 steps).
    pub model: String,
    pub poll_interval: Duration,
    pub repaint_mode: RepaintMode,
}

/// How the current server joins a repaint to the source it keeps (§9.1 of the reference). `aggressive`
/// is not one: it regenerates the kept overlap, so a segment would no longer continue what was heard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RepaintMode {
    /// The source waveform is spliced back in full, with a 1 s latent and a 50 ms waveform crossfade.
    #[default]
    Conservative,
    /// Half the source injection and shorter crossfades: the new part may depart more from the old.
    Balanced,
}

impl RepaintMode {
    /// ACE-Step's name for the mode.
    fn as_str(self) -> &'static str {
        match self {
            RepaintMode::Conservative => "conservative",
            RepaintMode::Balanced => "balanced",
        }
    }
}

pub struct AceStep {
    settings: Settings,
    http: reqwest::Client,
    state: Mutex<State>,
}

/// What the client has learnt about its server.
#[derive(Default)]
struct State {
    generation: Option<Generation>,
    /// `warm` has succeeded: the models are loaded, so a job does not pay for loading them.
    warm: bool,
    lm: Lm,
}

#[derive(Deserialize)]
struct Released {
    task_id: String,
}

#[derive(Deserialize)]
struct TaskState {
    status: i64,
    #[serde(default)]
    result: String,
}

impl AceStep {
    /// Fails only when no HTTP client can be built (no TLS backend): a client without the timeouts
    /// would hang a session on a stalled model server.
    pub fn new(settings: Settings) -> Result<AceStep, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| format!("cannot build the HTTP client for ACE-Step: {e}"))?;
        Ok(AceStep {
            settings: Settings {
                url: settings.url.trim_end_matches('/').to_string(),
                ..settings
            },
            http,
            state: Mutex::default(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn authorised(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.settings.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// Sends `request` in a client span named `what`, with the trace context for a model server that
    /// traces too.
    async fn send(&self, what: &str, request: RequestBuilder) -> Result<Response, BackendError> {
        let span = tracing::info_span!(
            "acestep",
            otel.name = what,
            otel.kind = "client",
            otel.status_code = Empty,
            http.response.status_code = Empty,
        );
        telemetry::send_in(&span, request)
            .await
            .map_err(|e| self.unreachable(e))
    }

    fn unreachable(&self, error: reqwest::Error) -> BackendError {
        BackendError::Unreachable {
            url: self.settings.url.clone(),
            detail: error.without_url().to_string(),
        }
    }

    /// Asks `/health` (which needs no key) and remembers which server answered.
    async fn health(&self, timeout: Duration) -> Result<Health, BackendError> {
        let request = self
            .http
            .get(format!("{}/health", self.settings.url))
            .timeout(timeout);
        let reply = self.send("GET /health", request).await?;
        let health = server::health(&unwrap_reply::<Value>(reply).await?)?;
        self.state().generation = Some(health.generation);
        Ok(health)
    }

    /// The LMs the server lists. Upstream's OpenRouter listing shadows the inventory at `/v1/models`, so
    /// `/v1/model_inventory` is asked when `/v1/models` has no `lm_models`.
    async fn offered_lms(&self) -> Result<Option<Vec<String>>, BackendError> {
        for path in ["/v1/models", "/v1/model_inventory"] {
            let request = self.http.get(format!("{}{path}", self.settings.url));
            let reply = self
                .send(&format!("GET {path}"), self.authorised(request))
                .await?;
            match unwrap_reply::<Value>(reply).await {
                Ok(data) => {
                    if let Some(names) = server::lm_models(&data) {
                        return Ok(Some(names));
                    }
                }
                Err(e @ (BackendError::Unauthorized | BackendError::Busy)) => return Err(e),
                Err(e) => tracing::debug!(path, "no model inventory here: {e}"),
            }
        }
        Ok(None)
    }

    /// Loads the configured DiT and `lm` through `/v1/init` and waits until `/health` says both are
    /// loaded; then `lm` (or what the server loaded instead) is the LM in use.
    async fn load(&self, lm: Lm) -> Result<(), BackendError> {
        tracing::info!(
            model = self.settings.model,
            lm_model = lm.model,
            "loading the ACE-Step models"
        );
        let request = self
            .http
            .post(format!("{}/v1/init", self.settings.url))
            .timeout(INIT_TIMEOUT)
            .json(&json!({
                "model": self.settings.model,
                "init_llm": true,
                "lm_model_path": lm.model,
            }));
        let reply = self.send("POST /v1/init", self.authorised(request)).await?;
        unwrap_reply::<Value>(reply).await?;
        let health = loop {
            let health = self.health(LOADING_HEALTH_TIMEOUT).await?;
            if health.ready {
                break health;
            }
            tokio::time::sleep(self.settings.poll_interval).await;
        };
        let mut state = self.state();
        state.lm = lm::loaded(&lm, health.loaded_lm_model.as_deref());
        state.warm = true;
        Ok(())
    }

    async fn release(&self, job: &Job, asking: &Asking<'_>) -> Result<String, BackendError> {
        let url = format!("{}/release_task", self.settings.url);
        let fields = request::fields(job, asking);
        let request = match &job.task {
            Task::Text2Music => self.http.post(url).json(&request::json_body(fields)),
            Task::Repaint { source, .. } => {
                let bytes = tokio::fs::read(source)
                    .await
                    .map_err(|e| BackendError::Protocol(format!("cannot read the seed: {e}")))?;
                let part = multipart::Part::bytes(bytes)
                    .file_name("seed.wav")
                    .mime_str("audio/wav")
                    .map_err(|e| BackendError::Protocol(e.to_string()))?;
                let form = fields
                    .into_iter()
                    .fold(multipart::Form::new(), |form, (k, v)| form.text(k, v))
                    .part("src_audio", part);
                self.http.post(url).multipart(form)
            }
        };
        let reply = self
            .send("POST /release_task", self.authorised(request))
            .await?;
        let released: Released = unwrap_reply(reply).await?;
        Ok(released.task_id)
    }

    async fn query(&self, task_id: &str) -> Result<TaskState, BackendError> {
        let request = self
            .http
            .post(format!("{}/query_result", self.settings.url))
            .json(&json!({ "task_id_list": [task_id] }));
        let reply = self
            .send("POST /query_result", self.authorised(request))
            .await?;
        let mut states: Vec<TaskState> = unwrap_reply(reply).await?;
        if states.is_empty() {
            return Err(BackendError::Protocol(
                "query_result returned no entry for the task".into(),
            ));
        }
        Ok(states.swap_remove(0))
    }

    async fn download(&self, file: &str) -> Result<Audio, BackendError> {
        let request = self.http.get(format!("{}{}", self.settings.url, file));
        let reply = self
            .send("GET audio file", self.authorised(request))
            .await?;
        if !reply.status().is_success() {
            return Err(status_error(reply.status(), detail(reply).await));
        }
        let bytes = reply.bytes().await.map_err(|e| self.unreachable(e))?;
        // A minute of audio is ~11 MB to decode: off the async threads.
        tokio::task::spawn_blocking(move || decode::decode(&bytes))
            .await
            .map_err(|e| BackendError::Failed(e.to_string()))?
            .map_err(|e| BackendError::Protocol(format!("the audio file: {e}")))
    }

    /// Polls until the task ends; returns the relative URL of its audio file.
    async fn wait(
        &self,
        task_id: &str,
        progress: &watch::Sender<f32>,
    ) -> Result<String, BackendError> {
        let mut unknown = 0;
        loop {
            tokio::time::sleep(self.settings.poll_interval).await;
            let state = self.query(task_id).await?;
            let entries: Vec<Value> = serde_json::from_str(&state.result)
                .map_err(|e| BackendError::Protocol(format!("result is not a JSON list: {e}")))?;
            let first = entries.first();
            match state.status {
                0 if first.is_none() => {
                    unknown += 1;
                    if unknown >= UNKNOWN_POLLS {
                        return Err(BackendError::Failed(
                            "the model server no longer knows the task (did it restart?)".into(),
                        ));
                    }
                }
                0 => {
                    let p = first.and_then(|e| e["progress"].as_f64()).unwrap_or(0.0);
                    progress.send_replace(p.clamp(0.0, 1.0) as f32);
                }
                1 => {
                    let file = first.and_then(|e| e["file"].as_str()).unwrap_or_default();
                    return if file.is_empty() {
                        Err(BackendError::Silent)
                    } else {
                        Ok(file.to_string())
                    };
                }
                _ => {
                    let error = first.and_then(|e| e["error"].as_str()).unwrap_or_default();
                    return Err(BackendError::Failed(error.to_string()));
                }
            }
        }
    }

    /// After a job failed with `error`, switches to the smaller LM if the failure looks like the 4B's
    /// memory: on the current server by loading it (a per-request `lm_model_path` is not honoured once an
    /// LM is loaded), on the February one by asking for it in the next requests.
    async fn step_down(&self, was: &Lm, error: &str, job: &Job, generation: Generation) {
        let Some(next) = lm::after_failure(was, error, job.task == Task::Text2Music) else {
            return;
        };
        tracing::warn!(
            from = was.model,
            to = next.model,
            reason = next.reason.as_deref().unwrap_or_default(),
            "falling back to a smaller LM"
        );
        match generation {
            Generation::February => {
                let mut state = self.state();
                if state.lm == *was {
                    state.lm = next;
                }
            }
            Generation::Current => {
                if let Err(e) = self.load(next).await {
                    tracing::warn!("cannot load the smaller LM: {e}");
                }
            }
        }
    }
}

#[async_trait]
impl Backend for AceStep {
    fn info(&self) -> BackendInfo {
        let lm = self.state().lm.clone();
        BackendInfo {
            kind: "acestep".into(),
            model: Some(self.settings.model.clone()),
            lm_model: Some(lm.model),
            lm_fallback_reason: lm.reason,
            active: "acestep".into(),
            bridge_reason: None,
            bridge_detail: None,
            heard: None,
            ignored: None,
        }
    }

    async fn check(&self) -> Result<(), BackendError> {
        self.health(CHECK_TIMEOUT).await.map(|_| ())
    }

    /// The February server loads before it listens, so an answer means ready. The current one may have
    /// nothing loaded yet: then the DiT and the best LM it lists are loaded now, not by the first job.
    async fn warm(&self) -> Result<(), BackendError> {
        let health = self.health(LOADING_HEALTH_TIMEOUT).await?;
        if health.ready {
            let mut state = self.state();
            if health.generation == Generation::Current {
                state.lm = lm::loaded(&state.lm, health.loaded_lm_model.as_deref());
            }
            state.warm = true;
            return Ok(());
        }
        let lm = match self.offered_lms().await? {
            Some(offered) => lm::choose(&offered),
            None => self.state().lm.clone(),
        };
        match self.load(lm.clone()).await {
            Err(e) => match lm::after_load_failure(&lm, &e) {
                Some(smaller) => {
                    tracing::warn!(
                        from = lm.model,
                        to = smaller.model,
                        "cannot load the LM: {e}"
                    );
                    self.load(smaller).await
                }
                None => Err(e),
            },
            loaded => loaded,
        }
    }

    async fn generate(
        &self,
        job: &Job,
        progress: &watch::Sender<f32>,
    ) -> Result<Audio, BackendError> {
        if !self.state().warm {
            self.warm().await?;
        }
        let (lm, generation) = {
            let state = self.state();
            (
                state.lm.clone(),
                state.generation.unwrap_or(Generation::February),
            )
        };
        let asking = Asking {
            model: &self.settings.model,
            lm_model: &lm.model,
            generation,
            repaint_mode: self.settings.repaint_mode,
        };
        let task_id = self.release(job, &asking).await?;
        tracing::info!(
            segment = job.index,
            task_id,
            lm_model = lm.model,
            "ACE-Step task released"
        );
        let outcome = match self.wait(&task_id, progress).await {
            Ok(file) => self.download(&file).await,
            Err(e) => Err(e),
        };
        if let Err(BackendError::Failed(error)) = &outcome {
            self.step_down(&lm, error, job, generation).await;
        }
        outcome
    }
}

#[cfg(test)]
mod tests;
