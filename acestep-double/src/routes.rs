//! The handlers of ACE-Step's job endpoints: `/release_task`, `/query_result` and `/v1/audio`.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::faults::{self, LogIndex, ReleaseLog};
use super::jobs::{Fate, JobState, Queued};
use super::params::{self, Body, BodyError, Params};
use super::validation::Invalid;
use super::{detail, now_seconds, repaint, results, wrap, Mode, Record, Shared, QUEUE_MAXSIZE};

/// Reads a `/release_task` or `/query_result` body, whatever form it came in.
async fn read_body(request: Request) -> Result<Body, Response> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let failed = |e: BodyError| {
        let (status, text) = e.status_and_detail();
        detail(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &text,
        )
    };
    if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return read_multipart(request)
            .await
            .map_err(|()| failed(BodyError::Multipart));
    }
    let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .map_err(|_| failed(BodyError::InvalidJson))?;
    params::parse(&content_type, &bytes).map_err(failed)
}

/// Text fields become values; a file under `src_audio`/`ctx_audio` is the source. Like Starlette, a part
/// without a file name is a text field.
async fn read_multipart(request: Request) -> Result<Body, ()> {
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|_| ())?;
    let mut body = Body {
        kind: "multipart",
        ..Body::default()
    };
    while let Some(field) = form.next_field().await.map_err(|_| ())? {
        let name = field.name().unwrap_or_default().to_string();
        if field.file_name().is_some() {
            let bytes = field.bytes().await.map_err(|_| ())?;
            if matches!(name.as_str(), "src_audio" | "ctx_audio") && body.source.is_none() {
                body.source = Some(bytes.to_vec());
            }
        } else {
            let text = field.text().await.map_err(|_| ())?;
            body.fields.insert(name, Value::String(text));
        }
    }
    Ok(body)
}

#[derive(Serialize)]
struct ReleasedTask {
    task_id: String,
    status: &'static str,
    queue_position: usize,
}

pub(super) async fn release_task(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let log = request.extensions().get::<LogIndex>().copied();
    let headers = request.headers().clone();
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let params = Params::from_fields(&body.fields);
    if let Some(LogIndex(index)) = log {
        shared.lock().requests[index].release_task = Some(ReleaseLog {
            body: body.kind,
            ai_token: body.fields.contains_key("ai_token"),
            src_audio_bytes: body.source.as_ref().map(Vec::len),
            repaint_config: (shared.mode == Mode::Current)
                .then(|| repaint::resolve(&params.repaint_mode, params.repaint_strength)),
            params: params.clone(),
        });
    }
    if let Err(denied) = shared.body_auth(&body, &headers) {
        return denied.into_response();
    }
    // Pydantic rejects values outside its Literals while building the request model, outside any handler:
    // a bare 500. (The request log above shows what was refused.)
    let refused = !matches!(params.lm_backend.as_str(), "vllm" | "pt" | "mlx")
        || (shared.mode == Mode::Current && params.current_server_rejects());
    if refused {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
    }
    let task_id = Uuid::new_v4().to_string();
    let mut inner = shared.lock();
    // The record exists before the queue-full check, so a 429 leaves an orphan "queued" record.
    inner.records.insert(
        task_id.clone(),
        Record {
            params: params.clone(),
            create_time: now_seconds(),
            state: JobState::Queued,
        },
    );
    if faults::take(&mut inner.faults.busy_next) || inner.pending >= QUEUE_MAXSIZE {
        return detail(StatusCode::TOO_MANY_REQUESTS, "Server busy: queue is full");
    }
    if faults::take(&mut inner.faults.forget_next) {
        // As if the server restarted: the task id means nothing any more.
        inner.records.remove(&task_id);
    } else {
        let faults = &mut inner.faults;
        let fate = if faults::take(&mut faults.fail_next) {
            Fate::Fail
        } else if faults::take(&mut faults.vram_next) {
            Fate::OutOfVram
        } else if faults::take(&mut faults.silent_next) {
            Fate::Silent
        } else {
            Fate::Normal
        };
        let alter_overlap =
            params.task_type == "repaint" && faults::take(&mut faults.alter_overlap_next);
        let job = Queued {
            id: task_id.clone(),
            params,
            source: body.source,
            fate,
            alter_overlap,
        };
        if shared.queue.send(job).is_ok() {
            inner.pending += 1;
        }
    }
    let queue_position = inner.pending.max(1);
    drop(inner);
    tracing::info!(task_id, "task released");
    wrap(ReleasedTask {
        task_id,
        status: "queued",
        queue_position,
    })
}

/// One `/query_result` entry; unknown ids get the short form without `progress_text`.
#[derive(Serialize)]
#[serde(untagged)]
enum Entry {
    Known {
        task_id: String,
        status: u8,
        result: String,
        progress_text: String,
    },
    Unknown {
        task_id: String,
        result: &'static str,
        status: u8,
    },
}

pub(super) async fn query_result(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let headers = request.headers().clone();
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    if let Err(denied) = shared.body_auth(&body, &headers) {
        return denied.into_response();
    }
    let inner = shared.lock();
    let entries: Vec<Entry> = params::task_ids(&body.fields)
        .into_iter()
        .map(|task_id| match inner.records.get(&task_id) {
            None => Entry::Unknown {
                task_id,
                result: "[]",
                status: 0,
            },
            Some(record) => {
                let (status, result) = match &record.state {
                    JobState::Queued => (0, results::queued(record.create_time)),
                    JobState::Running { progress, stage } => {
                        (0, results::running(record.create_time, *progress, stage))
                    }
                    JobState::Succeeded(done) => (
                        1,
                        results::succeeded(record.create_time, &record.params, done),
                    ),
                    JobState::Failed(error) => (
                        2,
                        results::failed(record.create_time, shared.mode, error.as_deref()),
                    ),
                };
                Entry::Known {
                    task_id,
                    status,
                    result,
                    progress_text: inner.last_log.clone(),
                }
            }
        })
        .collect();
    drop(inner);
    wrap(entries)
}

#[derive(Deserialize)]
pub(super) struct AudioQuery {
    path: Option<String>,
}

pub(super) async fn audio(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<AudioQuery>,
) -> Response {
    if let Err(denied) = shared.header_auth(&headers) {
        return denied.into_response();
    }
    let Some(path) = query.path else {
        return Invalid::missing_query("path").into_response();
    };
    let real = real_path(Path::new(&path));
    if !real.starts_with(&shared.output.audio) {
        return detail(
            StatusCode::FORBIDDEN,
            "Access denied: path outside allowed directory",
        );
    }
    let Ok(bytes) = tokio::fs::read(&real).await else {
        return detail(StatusCode::NOT_FOUND, "Audio file not found");
    };
    let media_type = match real.extension().and_then(|e| e.to_str()) {
        Some("wav") => "audio/wav",
        Some("flac") => "audio/flac",
        Some("ogg") => "audio/ogg",
        _ => "audio/mpeg",
    };
    ([(CONTENT_TYPE, media_type)], bytes).into_response()
}

/// `os.path.realpath`: symlinks resolved where the path exists, `..` removed lexically where it does not.
fn real_path(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let absolute = std::env::current_dir().unwrap_or_default().join(path);
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
