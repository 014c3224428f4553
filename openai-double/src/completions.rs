//! `POST /v1/completions`, the legacy text completions: the reply echoes the prompt.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use crate::completion::{count_tokens, respond, Ask, Kind, StreamOptions};
use crate::errors::{ApiError, Payload};
use crate::models::resolve;
use crate::Server;

#[derive(Deserialize)]
pub(crate) struct CompletionRequest {
    model: Option<String>,
    prompt: String,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<usize>,
}

pub(crate) async fn complete(
    State(server): State<Arc<Server>>,
    Payload(request): Payload<CompletionRequest>,
) -> Result<Response, ApiError> {
    let ask = Ask {
        kind: Kind::Text,
        model: resolve(&server, request.model)?,
        prompt_tokens: count_tokens(&request.prompt),
        prompt: request.prompt,
        max_tokens: request.max_tokens,
        stream: request.stream,
        stream_options: request.stream_options,
    };
    Ok(respond(&server, ask))
}
