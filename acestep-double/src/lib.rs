//! A test double of the ACE-Step 1.5 HTTP API (`acestep-api`), speaking it as the real server does
//! (shared/reference/acestep-api.md): wrapped replies, FastAPI `{"detail"}` errors, `result` as a JSON string,
//! unknown ids as "still queued". It makes real audio with the embedded synthesizer, runs jobs one at a
//! time, and injects faults on request through `/_double/faults`. [`Mode`] picks the server: the
//! 2026-02-08 snapshot (failures without text) or today's upstream (§9: lazy model loading and `/v1/init`,
//! repaint splicing and peak normalisation, failures that say why).

mod faults;
mod init_request;
mod jobs;
mod level;
mod loader;
mod models;
mod params;
mod render;
mod repaint;
mod results;
mod routes;
mod service_routes;
mod sse;
#[cfg(test)]
mod tests;
mod timelines;
mod validation;
mod vram;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::DefaultBodyLimit;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use uuid::Uuid;

pub use faults::Faults;
use faults::Logged;
use jobs::{JobState, Queued};
use models::Models;
use params::{Body, Params};
use timelines::Timelines;

/// Which ACE-Step server the double speaks as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// The 2026-02-08 snapshot: models loaded before the port opens, files saved as decoded.
    #[default]
    February,
    /// Today's upstream: lazy loading and `/v1/init`, repaint splicing, peak normalisation, VRAM pre-flight.
    Current,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Like `ACESTEP_API_KEY`: when set, requests must carry it.
    pub api_key: Option<String>,
    /// Faults in force from the start.
    pub faults: Faults,
    /// Which server to speak as.
    pub mode: Mode,
    /// How long loading (or switching) models takes in current mode.
    pub model_load_ms: u64,
    /// The LM checkpoints on disk; the first is what a lazy load picks (the GPU tier's recommendation).
    pub lm_models: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            api_key: None,
            faults: Faults::default(),
            mode: Mode::February,
            model_load_ms: 0,
            lm_models: vec!["acestep-5Hz-lm-4B".into(), "acestep-5Hz-lm-1.7B".into()],
        }
    }
}

/// Serves the double on `listener` until `shutdown` resolves. Generated files live in a private temporary
/// directory that is kept while the double runs (ACE-Step never deletes them) and removed afterwards.
pub async fn serve(
    listener: TcpListener,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (queue, jobs) = mpsc::unbounded_channel();
    let models = match options.mode {
        Mode::February => Models::february(options.lm_models),
        Mode::Current => Models::current(options.lm_models),
    };
    let shared = Arc::new(Shared {
        api_key: options.api_key.filter(|k| !k.is_empty()),
        mode: options.mode,
        model_load: Duration::from_millis(options.model_load_ms),
        loader: tokio::sync::Mutex::new(()),
        output: OutputDir::create()?,
        queue,
        inner: Mutex::new(Inner {
            faults: options.faults,
            models,
            records: HashMap::new(),
            requests: Vec::new(),
            timelines: Timelines::default(),
            pending: 0,
            jobs_started: 0,
            last_log: String::new(),
            job_seconds: VecDeque::new(),
        }),
    });
    let worker = tokio::spawn(jobs::run(shared.clone(), jobs));
    let served = axum::serve(listener, router(shared))
        .with_graceful_shutdown(shutdown)
        .await;
    worker.abort();
    // Waiting for the abort releases the worker's hold on the output directory, so it is removed now.
    let _ = worker.await;
    served
}

fn router(shared: Arc<Shared>) -> Router {
    let api: Router<Arc<Shared>> = Router::new()
        .route("/release_task", post(routes::release_task))
        .route("/query_result", post(routes::query_result))
        .route("/v1/audio", get(routes::audio))
        .route("/health", get(service_routes::health))
        .route("/v1/models", get(service_routes::models))
        .route("/v1/stats", get(service_routes::stats));
    let api = match shared.mode {
        Mode::February => api,
        Mode::Current => api
            .route("/v1/model_inventory", get(service_routes::model_inventory))
            .route("/v1/init", post(service_routes::init)),
    };
    api.route(
        "/_double/faults",
        get(faults::get_faults).post(faults::set_faults),
    )
    .route("/_double/requests", get(faults::requests))
    .route("/_double/sse", get(sse::events))
    .fallback(|| async { detail(StatusCode::NOT_FOUND, "Not Found") })
    .method_not_allowed_fallback(|| async {
        detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
    })
    .layer(axum::middleware::from_fn_with_state(
        shared.clone(),
        faults::gate,
    ))
    // ACE-Step takes uploads of any size; axum's default 2 MB limit would reject a 60 s seed.
    .layer(DefaultBodyLimit::disable())
    .with_state(shared)
}

/// The temporary directory the double owns; ACE-Step's `api_audio` directory is inside it.
struct OutputDir {
    root: PathBuf,
    audio: PathBuf,
}

impl OutputDir {
    fn create() -> std::io::Result<OutputDir> {
        let root = std::env::temp_dir().join(format!("acestep-double-{}", Uuid::new_v4()));
        std::fs::create_dir_all(root.join("api_audio"))?;
        let audio = root.join("api_audio").canonicalize()?;
        Ok(OutputDir { root, audio })
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

struct Shared {
    api_key: Option<String>,
    mode: Mode,
    model_load: Duration,
    /// Held while models load: one load at a time, and no job starts during one.
    loader: tokio::sync::Mutex<()>,
    output: OutputDir,
    queue: mpsc::UnboundedSender<Queued>,
    inner: Mutex<Inner>,
}

struct Inner {
    faults: Faults,
    models: Models,
    records: HashMap<String, Record>,
    requests: Vec<Logged>,
    timelines: Timelines,
    /// Jobs waiting for the worker.
    pending: usize,
    /// Jobs the worker has started, for the per-job gain of `level_jitter_db`.
    jobs_started: u64,
    /// ACE-Step's `progress_text` is its last log line, whichever task it was about.
    last_log: String,
    /// Durations of the last finished jobs, for `/v1/stats`.
    job_seconds: VecDeque<f64>,
}

struct Record {
    params: Params,
    create_time: i64,
    state: JobState,
}

const QUEUE_MAXSIZE: usize = 200;
const AVG_WINDOW: usize = 50;

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn progress(&self, id: &str, progress: f64, stage: &str) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if let Some(record) = inner.records.get_mut(id) {
            if record.state == JobState::Queued {
                inner.pending = inner.pending.saturating_sub(1);
            }
            record.state = JobState::Running {
                progress,
                stage: stage.to_string(),
            };
        }
        inner.last_log = format!("{id}: {stage}");
    }

    fn finish(&self, id: &str, outcome: Result<results::Done, Option<String>>, took: Duration) {
        let mut inner = self.lock();
        inner.last_log = format!(
            "{id}: {}",
            if outcome.is_ok() {
                "succeeded"
            } else {
                "failed"
            }
        );
        if let Some(record) = inner.records.get_mut(id) {
            record.state = outcome.map_or_else(JobState::Failed, JobState::Succeeded);
        }
        inner.job_seconds.push_back(took.as_secs_f64());
        if inner.job_seconds.len() > AVG_WINDOW {
            inner.job_seconds.pop_front();
        }
    }

    fn body_auth(&self, body: &Body, headers: &HeaderMap) -> Result<(), Denied> {
        let Some(key) = &self.api_key else {
            return Ok(());
        };
        match body
            .fields
            .get("ai_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            Some(token) if token == key => Ok(()),
            Some(_) => Err(Denied("Invalid ai_token")),
            None => self.check_header(headers, "Missing ai_token or Authorization header"),
        }
    }

    fn header_auth(&self, headers: &HeaderMap) -> Result<(), Denied> {
        self.check_header(headers, "Missing Authorization header")
    }

    fn check_header(&self, headers: &HeaderMap, missing: &'static str) -> Result<(), Denied> {
        let Some(key) = &self.api_key else {
            return Ok(());
        };
        let header = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        match header.map(|h| h.strip_prefix("Bearer ").unwrap_or(h)) {
            None => Err(Denied(missing)),
            Some(token) if token == key => Ok(()),
            Some(_) => Err(Denied("Invalid API key")),
        }
    }
}

/// A 401 and its FastAPI detail.
struct Denied(&'static str);

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        detail(StatusCode::UNAUTHORIZED, self.0)
    }
}

/// ACE-Step's wrapper around every normal reply.
#[derive(Serialize)]
struct Wrapped<T> {
    data: T,
    code: u16,
    error: Option<String>,
    timestamp: u128,
    extra: Option<String>,
}

fn wrap<T: Serialize>(data: T) -> Response {
    wrapped(data, 200, None)
}

/// A failure upstream reports inside an HTTP 200: `data` null, the failure's `code` and `error`.
fn wrap_failure(code: u16, error: &str) -> Response {
    wrapped((), code, Some(error.to_string()))
}

fn wrapped<T: Serialize>(data: T, code: u16, error: Option<String>) -> Response {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    Json(Wrapped {
        data,
        code,
        error,
        timestamp,
        extra: None,
    })
    .into_response()
}

fn detail(status: StatusCode, detail: &str) -> Response {
    (status, Json(serde_json::json!({ "detail": detail }))).into_response()
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64
}
