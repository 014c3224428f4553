//! `POST /v1/audio/transcriptions`: a multipart form with `model` and `file`; the "transcript" says how many
//! bytes arrived, so tests can tell the upload came through whole.

use std::sync::Arc;

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::models::resolve;
use crate::Server;

pub(crate) async fn transcribe(
    State(server): State<Arc<Server>>,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let mut form = form.map_err(|e| malformed(e.body_text()))?;
    let (mut model, mut file) = (None, None);
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        match field.name() {
            Some("model") => model = Some(field.text().await.map_err(malformed)?),
            Some("file") => file = Some(field.bytes().await.map_err(malformed)?),
            _ => {}
        }
    }
    resolve(&server, model)?;
    let file = file.ok_or_else(|| malformed("the form has no `file` part"))?;
    Ok(Json(
        json!({ "text": format!("transcribed {} bytes", file.len()) }),
    ))
}

fn malformed(reason: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(StatusCode::BAD_REQUEST, reason.to_string())
}
