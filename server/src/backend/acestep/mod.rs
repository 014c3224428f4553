//! The ACE-Step 1.5 backend: a client for its asynchronous HTTP API (`/release_task`, `/query_result`,
//! `/v1/audio`), written against the server as it actually behaves (see shared/reference/acestep-api.md):
//! replies wrapped in `{"data", "code", ...}`, errors as FastAPI `{"detail"}`, `result` as a JSON string
//! inside the JSON, unknown task ids reported as "still running" with `result == "[]"`, failures without
//! error text, and silence reported as success with an empty file name.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use app::api::BackendInfo;
use async_trait::async_trait;
use reqwest::{multipart, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::{Backend, BackendError, Job, Task};
use tsuzuki_audio::{wav, Audio};

/// The language models to use, best first: the 4B needs a large GPU, so failures fall back to the 1.7B.
pub const LM_MODELS: [&str; 2] = ["acestep-5Hz-lm-4B", "acestep-5Hz-lm-1.7B"];

/// Polls that may report an unknown task id before we conclude the server lost the task (it restarted).
const UNKNOWN_POLLS: u32 = 10;

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub url: String,
    pub api_key: Option<String>,
    /// The DiT: `acestep-v15-sft` (50 steps, best quality) or `acestep-v15-turbo` (8 steps).
    pub model: String,
    pub poll_interval: Duration,
}

pub struct AceStep {
    settings: Settings,
    http: reqwest::Client,
    /// Index into [`LM_MODELS`] of the language model in use.
    lm: AtomicUsize,
}

/// The wrapper around every normal reply.
#[derive(Deserialize)]
struct Wrapped<T> {
    data: Option<T>,
    code: Option<i64>,
    error: Option<Value>,
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
            lm: AtomicUsize::new(0),
        })
    }

    fn lm_model(&self) -> &'static str {
        LM_MODELS[self.lm.load(Ordering::Relaxed).min(LM_MODELS.len() - 1)]
    }

    fn authorised(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.settings.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    fn unreachable(&self, error: reqwest::Error) -> BackendError {
        BackendError::Unreachable {
            url: self.settings.url.clone(),
            detail: error.without_url().to_string(),
        }
    }

    /// The text fields of a job, as ACE-Step names them.
    fn fields(&self, job: &Job) -> Vec<(&'static str, String)> {
        let sft = self.settings.model.contains("sft");
        let mut fields = vec![
            ("task_type", job.task.name().to_string()),
            ("prompt", job.prompt.clone()),
            ("lyrics", "[inst]".to_string()),
            ("audio_duration", job.duration_seconds.to_string()),
            ("batch_size", "1".to_string()),
            ("audio_format", "wav".to_string()),
            ("thinking", "true".to_string()),
            ("lm_backend", "vllm".to_string()),
            ("lm_model_path", self.lm_model().to_string()),
            ("model", self.settings.model.clone()),
            // Per checkpoint training defaults (upstream issue #1114): wrong values cause artefacts.
            ("inference_steps", if sft { "50" } else { "8" }.to_string()),
            ("shift", if sft { "1.0" } else { "3.0" }.to_string()),
        ];
        if sft {
            fields.push(("guidance_scale", "7.0".to_string()));
        }
        if let Task::Repaint {
            repainting_start, ..
        } = &job.task
        {
            fields.push(("repainting_start", repainting_start.to_string()));
            fields.push(("repainting_end", "-1".to_string()));
        }
        fields
    }

    async fn release(&self, job: &Job) -> Result<String, BackendError> {
        let url = format!("{}/release_task", self.settings.url);
        let fields = self.fields(job);
        let request = match &job.task {
            Task::Text2Music => {
                // The prompt is free text: "true" or "1e3" must stay text, not become a boolean or number.
                let body: serde_json::Map<String, Value> = fields
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            if k == "prompt" {
                                Value::String(v)
                            } else {
                                typed(&v)
                            },
                        )
                    })
                    .collect();
                self.http.post(url).json(&body)
            }
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
            .authorised(request)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let released: Released = unwrap_reply(reply).await?;
        Ok(released.task_id)
    }

    async fn query(&self, task_id: &str) -> Result<TaskState, BackendError> {
        let request = self
            .http
            .post(format!("{}/query_result", self.settings.url))
            .json(&json!({ "task_id_list": [task_id] }));
        let reply = self
            .authorised(request)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
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
            .authorised(request)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        if !reply.status().is_success() {
            return Err(status_error(reply.status(), detail(reply).await));
        }
        let bytes = reply.bytes().await.map_err(|e| self.unreachable(e))?;
        // A minute of audio is ~11 MB to decode: off the async threads.
        tokio::task::spawn_blocking(move || wav::decode(&bytes))
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
}

/// Form values are strings; as JSON, numbers and booleans go as themselves (ACE-Step coerces either way).
fn typed(value: &str) -> Value {
    serde_json::from_str::<Value>(value)
        .ok()
        .filter(|v| v.is_number() || v.is_boolean())
        .unwrap_or_else(|| Value::String(value.to_string()))
}

/// The `detail` of a FastAPI error, or the start of whatever else came back.
async fn detail(reply: reqwest::Response) -> String {
    let text = reply.text().await.unwrap_or_default();
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

fn status_error(status: StatusCode, detail: String) -> BackendError {
    match status {
        StatusCode::TOO_MANY_REQUESTS => BackendError::Busy,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => BackendError::Unauthorized,
        s if s.is_server_error() => BackendError::Failed(format!("HTTP {}: {detail}", s.as_u16())),
        s => BackendError::Protocol(format!("HTTP {}: {detail}", s.as_u16())),
    }
}

async fn unwrap_reply<T: serde::de::DeserializeOwned>(
    reply: reqwest::Response,
) -> Result<T, BackendError> {
    if !reply.status().is_success() {
        let status = reply.status();
        return Err(status_error(status, detail(reply).await));
    }
    let wrapped: Wrapped<T> = reply
        .json()
        .await
        .map_err(|e| BackendError::Protocol(format!("unexpected reply: {e}")))?;
    match (wrapped.code, wrapped.data) {
        (Some(200) | None, Some(data)) => Ok(data),
        (code, _) => Err(BackendError::Failed(format!(
            "code {}: {}",
            code.unwrap_or_default(),
            wrapped.error.map(|e| e.to_string()).unwrap_or_default()
        ))),
    }
}

#[async_trait]
impl Backend for AceStep {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "acestep".into(),
            model: Some(self.settings.model.clone()),
            lm_model: Some(self.lm_model().into()),
            lm_fallback_reason: None,
            active: "acestep".into(),
            bridge_reason: None,
        }
    }

    async fn check(&self) -> Result<(), BackendError> {
        let reply = self
            .http
            .get(format!("{}/health", self.settings.url))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let health: Value = unwrap_reply(reply).await?;
        match health["status"].as_str() {
            Some("ok") => Ok(()),
            other => Err(BackendError::Protocol(format!("health status {other:?}"))),
        }
    }

    async fn generate(
        &self,
        job: &Job,
        progress: &watch::Sender<f32>,
    ) -> Result<Audio, BackendError> {
        let lm = self.lm.load(Ordering::Relaxed);
        let task_id = self.release(job).await?;
        tracing::info!(
            segment = job.index,
            task_id,
            lm_model = self.lm_model(),
            "ACE-Step task released"
        );
        let outcome = match self.wait(&task_id, progress).await {
            Ok(file) => self.download(&file).await,
            Err(e) => Err(e),
        };
        // A failed job gives no reason (upstream PR #1300), and the usual one with the 4B LM is memory:
        // use the next smaller LM from now on. `thinking` matters only for text2music.
        if let Err(BackendError::Failed(_)) = &outcome {
            if job.task == Task::Text2Music && lm + 1 < LM_MODELS.len() {
                let _ = self
                    .lm
                    .compare_exchange(lm, lm + 1, Ordering::Relaxed, Ordering::Relaxed);
                tracing::warn!(
                    from = LM_MODELS[lm],
                    to = LM_MODELS[lm + 1],
                    "falling back to a smaller LM"
                );
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests;
