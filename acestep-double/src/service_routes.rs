//! The model-service endpoints (upstream's `model_service_routes.py`): `/health`, `/v1/models`,
//! `/v1/model_inventory`, `/v1/init` and `/v1/stats`, as each server answers them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::jobs::JobState;
use super::models::DIT_MODELS;
use super::{init_request, loader, wrap, wrap_failure, Mode, Shared, QUEUE_MAXSIZE};

#[derive(Serialize)]
struct Health {
    status: &'static str,
    service: &'static str,
    version: &'static str,
}

/// February: a static body. Current: what is loaded, answered while nothing is (models load lazily).
pub(super) async fn health(State(shared): State<Arc<Shared>>) -> Response {
    match shared.mode {
        Mode::February => wrap(Health {
            status: "ok",
            service: "ACE-Step API",
            version: "1.0",
        }),
        Mode::Current => {
            let inner = shared.lock();
            wrap(inner.models.health(inner.faults.lm_4b_short_of_vram))
        }
    }
}

/// February: the OpenRouter list, without auth. Current: the inventory (wrapped, header auth). Upstream
/// still registers the OpenRouter router first, so which of its two handlers answers is not settled by the
/// code alone; `/v1/model_inventory` answers with the inventory either way.
pub(super) async fn models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match shared.mode {
        Mode::February => openrouter_models(),
        Mode::Current => model_inventory(State(shared), headers).await,
    }
}

pub(super) async fn model_inventory(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    if let Err(denied) = shared.header_auth(&headers) {
        return denied.into_response();
    }
    let inner = shared.lock();
    wrap(inner.models.inventory(inner.faults.lm_4b_short_of_vram))
}

/// Loads or switches models and answers once the load is done (upstream awaits it in its executor).
/// Failures are HTTP 200 with `code` 400 (a slot not configured) or 500 in the body, as upstream wraps them.
pub(super) async fn init(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(denied) = shared.header_auth(&headers) {
        return denied.into_response();
    }
    let request = match init_request::parse(&body) {
        Ok(request) => request,
        Err(invalid) => return invalid.into_response(),
    };
    if let Err(failure) = shared.lock().models.check(&request) {
        return wrap_failure(failure.code, &failure.error);
    }
    match loader::load(&shared, |models| models.init(&request)).await {
        Ok(initialized) => wrap(initialized),
        Err(failure) => wrap_failure(failure.code, &failure.error),
    }
}

#[derive(Serialize)]
struct ModelList {
    object: &'static str,
    data: Vec<Model>,
}

#[derive(Serialize)]
struct Pricing {
    prompt: &'static str,
    completion: &'static str,
    request: &'static str,
    image: &'static str,
}

#[derive(Serialize)]
struct Model {
    id: String,
    name: String,
    created: i64,
    input_modalities: [&'static str; 2],
    output_modalities: [&'static str; 2],
    context_length: u32,
    max_output_length: u32,
    pricing: Pricing,
    description: &'static str,
    architecture: Option<String>,
}

/// The OpenRouter router's `/v1/models` is registered first, so its unwrapped list is what answers.
fn openrouter_models() -> Response {
    let data = DIT_MODELS
        .iter()
        .map(|name| Model {
            id: format!("acestep/{name}"),
            name: format!("ACE-Step {name}"),
            created: 1767400000,
            input_modalities: ["text", "audio"],
            output_modalities: ["audio", "text"],
            context_length: 4096,
            max_output_length: 300,
            pricing: Pricing {
                prompt: "0",
                completion: "0",
                request: "0",
                image: "0",
            },
            description: "AI music generation model",
            architecture: None,
        })
        .collect();
    Json(ModelList {
        object: "list",
        data,
    })
    .into_response()
}

#[derive(Serialize)]
struct JobCounts {
    total: usize,
    queued: usize,
    running: usize,
    succeeded: usize,
    failed: usize,
}

#[derive(Serialize)]
struct Stats {
    jobs: JobCounts,
    queue_size: usize,
    queue_maxsize: usize,
    avg_job_seconds: f64,
}

pub(super) async fn stats(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(denied) = shared.header_auth(&headers) {
        return denied.into_response();
    }
    let inner = shared.lock();
    let count =
        |wanted: fn(&JobState) -> bool| inner.records.values().filter(|r| wanted(&r.state)).count();
    let jobs = JobCounts {
        total: inner.records.len(),
        queued: count(|s| matches!(s, JobState::Queued)),
        running: count(|s| matches!(s, JobState::Running { .. })),
        succeeded: count(|s| matches!(s, JobState::Succeeded(_))),
        failed: count(|s| matches!(s, JobState::Failed(_))),
    };
    let avg_job_seconds = if inner.job_seconds.is_empty() {
        // ACESTEP_AVG_JOB_SECONDS' default until a job has finished.
        5.0
    } else {
        inner.job_seconds.iter().sum::<f64>() / inner.job_seconds.len() as f64
    };
    let stats = Stats {
        jobs,
        queue_size: inner.pending,
        queue_maxsize: QUEUE_MAXSIZE,
        avg_job_seconds,
    };
    drop(inner);
    wrap(stats)
}
