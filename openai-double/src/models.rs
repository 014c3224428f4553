//! The model ids the server answers to: `GET /v1/models` and the check of a request's `model`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::Server;

pub(crate) async fn list(State(server): State<Arc<Server>>) -> Json<Value> {
    let data: Vec<Value> = server
        .models
        .iter()
        .map(|id| {
            json!({
                "id": id,
                "object": "model",
                "created": server.started,
                "owned_by": "openai-double",
            })
        })
        .collect();
    Json(json!({ "object": "list", "data": data }))
}

/// The model a request is for: the one it names if served, else the first served (like llama-server,
/// which does not insist on a name).
pub(crate) fn resolve(server: &Server, requested: Option<String>) -> Result<String, ApiError> {
    match requested.filter(|name| !name.is_empty()) {
        Some(name) if server.models.contains(&name) => Ok(name),
        Some(name) => Err(ApiError::model_not_found(&name)),
        None => server
            .models
            .first()
            .cloned()
            .ok_or_else(|| ApiError::model_not_found("")),
    }
}
