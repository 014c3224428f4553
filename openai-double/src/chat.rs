//! `POST /v1/chat/completions`: the reply echoes the last user message.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use crate::completion::{count_tokens, respond, Ask, Kind, StreamOptions};
use crate::errors::{ApiError, Payload};
use crate::models::resolve;
use crate::Server;

#[derive(Deserialize)]
pub(crate) struct ChatRequest {
    model: Option<String>,
    messages: Vec<Message>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<usize>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    /// Null on an assistant message that only calls tools.
    content: Option<Content>,
}

/// A message's content: plain text, or parts of which only the text ones matter here.
#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
struct Part {
    #[serde(default)]
    text: String,
}

impl Message {
    fn text(&self) -> String {
        match &self.content {
            None => String::new(),
            Some(Content::Text(text)) => text.clone(),
            Some(Content::Parts(parts)) => parts
                .iter()
                .map(|part| part.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

pub(crate) async fn complete(
    State(server): State<Arc<Server>>,
    Payload(request): Payload<ChatRequest>,
) -> Result<Response, ApiError> {
    let model = resolve(&server, request.model)?;
    let texts: Vec<String> = request.messages.iter().map(Message::text).collect();
    let prompt = request
        .messages
        .iter()
        .zip(&texts)
        .rev()
        .find(|(message, _)| message.role == "user")
        .map(|(_, text)| text.clone())
        .unwrap_or_default();
    let ask = Ask {
        kind: Kind::Chat,
        model,
        prompt,
        prompt_tokens: texts.iter().map(|text| count_tokens(text)).sum(),
        max_tokens: request.max_tokens,
        stream: request.stream,
        stream_options: request.stream_options,
    };
    Ok(respond(&server, ask))
}
