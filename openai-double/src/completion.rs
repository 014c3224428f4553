//! What chat and text completions share: the reply (fixed, or an echo of the prompt), cut at `max_tokens`,
//! usage counted in whitespace-separated words, and the answer as one object or a stream of chunks.
//! [`Kind`] holds where OpenAI's two shapes differ.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{stream, unix_seconds, Server};

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Chat,
    Text,
}

impl Kind {
    fn id_prefix(self) -> &'static str {
        match self {
            Kind::Chat => "chatcmpl",
            Kind::Text => "cmpl",
        }
    }

    fn object(self) -> &'static str {
        match self {
            Kind::Chat => "chat.completion",
            Kind::Text => "text_completion",
        }
    }

    /// OpenAI streams text completions as `text_completion` objects too.
    fn chunk_object(self) -> &'static str {
        match self {
            Kind::Chat => "chat.completion.chunk",
            Kind::Text => "text_completion",
        }
    }

    /// The choice of a whole reply.
    fn choice(self, content: &str, finish: &str) -> Value {
        match self {
            Kind::Chat => json!({
                "index": 0,
                "message": { "role": "assistant", "content": content },
                "finish_reason": finish,
            }),
            Kind::Text => json!({ "index": 0, "text": content, "finish_reason": finish }),
        }
    }

    /// A streamed choice carrying `piece`; the first chat delta also names the role.
    fn piece(self, piece: &str, first: bool) -> Value {
        match self {
            Kind::Chat if first => json!({
                "index": 0,
                "delta": { "role": "assistant", "content": piece },
                "finish_reason": null,
            }),
            Kind::Chat => {
                json!({ "index": 0, "delta": { "content": piece }, "finish_reason": null })
            }
            Kind::Text => json!({ "index": 0, "text": piece, "finish_reason": null }),
        }
    }

    /// The streamed choice that ends the reply, carrying nothing but why it ended.
    fn end(self, finish: &str) -> Value {
        match self {
            Kind::Chat => json!({ "index": 0, "delta": {}, "finish_reason": finish }),
            Kind::Text => json!({ "index": 0, "text": "", "finish_reason": finish }),
        }
    }
}

/// OpenAI's `stream_options`: whether a streamed reply ends with a usage chunk.
#[derive(Deserialize)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// A completion request reduced to what its answer depends on.
pub(crate) struct Ask {
    pub(crate) kind: Kind,
    pub(crate) model: String,
    /// What an echo repeats: a chat's last user message, or the prompt.
    pub(crate) prompt: String,
    /// Counted over the whole prompt: a chat's every message, not only the echoed one.
    pub(crate) prompt_tokens: usize,
    pub(crate) max_tokens: Option<usize>,
    pub(crate) stream: Option<bool>,
    pub(crate) stream_options: Option<StreamOptions>,
}

pub(crate) fn respond(server: &Server, ask: Ask) -> Response {
    let kind = ask.kind;
    let reply = match &server.reply {
        Some(reply) => reply.clone(),
        None => format!("echo: {}", ask.prompt),
    };
    let words: Vec<&str> = reply.split_whitespace().collect();
    let kept = ask
        .max_tokens
        .map_or(words.len(), |max| max.min(words.len()));
    let (content, finish) = if kept < words.len() {
        (words[..kept].join(" "), "length")
    } else {
        (reply.clone(), "stop")
    };
    let usage = json!({
        "prompt_tokens": ask.prompt_tokens,
        "completion_tokens": kept,
        "total_tokens": ask.prompt_tokens + kept,
    });
    let id = format!("{}-{}", kind.id_prefix(), Uuid::new_v4().simple());
    let created = unix_seconds();
    let object = |object: &str, choices: Value| json!({ "id": id, "object": object, "created": created, "model": ask.model, "choices": choices });
    if !ask.stream.unwrap_or(false) {
        let mut whole = object(kind.object(), json!([kind.choice(&content, finish)]));
        whole["usage"] = usage;
        return Json(whole).into_response();
    }
    let chunk = |choice: Value| object(kind.chunk_object(), json!([choice])).to_string();
    let mut events: Vec<String> = pieces(&words[..kept])
        .iter()
        .enumerate()
        .map(|(index, piece)| chunk(kind.piece(piece, index == 0)))
        .collect();
    events.push(chunk(kind.end(finish)));
    if ask.stream_options.is_some_and(|o| o.include_usage) {
        let mut last = object(kind.chunk_object(), json!([]));
        last["usage"] = usage;
        events.push(last.to_string());
    }
    events.push("[DONE]".into());
    stream::events(events, server.chunk_delay).into_response()
}

/// Usage is counted in whitespace-separated words: no tokenizer, yet predictable in tests.
pub(crate) fn count_tokens(text: &str) -> usize {
    text.split_whitespace().count()
}

/// What the stream carries: each word and the space after it, the last word bare. An empty reply is one
/// empty piece, so a chat stream still announces the assistant's role.
fn pieces(words: &[&str]) -> Vec<String> {
    match words.split_last() {
        None => vec![String::new()],
        Some((last, rest)) => rest
            .iter()
            .map(|word| format!("{word} "))
            .chain([last.to_string()])
            .collect(),
    }
}
