//! A stand-in for an OpenAI-compatible model server such as llama.cpp's `llama-server`, for container tests
//! without a model or a GPU. It listens at once and answers 503 while it "loads", then serves chat and text
//! completions (echoing the prompt, streamed word by word), embeddings and transcriptions in OpenAI's shapes.
//! Progress and one line per request go to stdout, which container log tests follow.

mod chat;
mod completion;
mod completions;
mod console;
mod embeddings;
mod errors;
mod loading;
mod models;
mod request_log;
mod stream;
mod transcriptions;

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct Options {
    /// The model ids served; a request naming another gets a 404. The first answers requests naming none.
    pub models: Vec<String>,
    /// How long the pretend model load takes; the port is open meanwhile, answering 503.
    pub startup_delay: Duration,
    /// The pause between streamed chunks.
    pub chunk_delay: Duration,
    /// A fixed reply; without it, completions echo the prompt.
    pub reply: Option<String>,
    /// Answer every completion and embedding with a 500 "CUDA out of memory", as a server whose KV cache
    /// no longer fits does.
    pub out_of_memory_answers: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            models: vec!["double".into()],
            startup_delay: Duration::ZERO,
            chunk_delay: Duration::from_millis(40),
            reply: None,
            out_of_memory_answers: false,
        }
    }
}

/// Serves on `listener` until `shutdown` resolves, loading (answering 503) for the startup delay first.
pub async fn serve(
    listener: TcpListener,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    console::say(&format!("listening on http://{}", listener.local_addr()?));
    let server = Arc::new(Server {
        models: options.models,
        reply: options.reply,
        out_of_memory_answers: options.out_of_memory_answers,
        chunk_delay: options.chunk_delay,
        started: unix_seconds(),
        ready: AtomicBool::new(false),
    });
    let loader = tokio::spawn(loading::load(server.clone(), options.startup_delay));
    let served = axum::serve(listener, router(server))
        .with_graceful_shutdown(shutdown)
        .await;
    loader.abort();
    served
}

fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/health", get(loading::health))
        .route("/v1/models", get(models::list))
        .route("/v1/chat/completions", post(chat::complete))
        .route("/v1/completions", post(completions::complete))
        .route("/v1/embeddings", post(embeddings::embed))
        .route("/v1/audio/transcriptions", post(transcriptions::transcribe))
        .fallback(errors::unknown_url)
        // Layers run bottom-up: every request is logged, even those refused while loading.
        .layer(from_fn_with_state(server.clone(), loading::gate))
        .layer(from_fn(request_log::log))
        // The request log buffers bodies under its own limit; axum's 2 MB default would refuse audio uploads.
        .layer(DefaultBodyLimit::disable())
        .with_state(server)
}

struct Server {
    models: Vec<String>,
    reply: Option<String>,
    out_of_memory_answers: bool,
    chunk_delay: Duration,
    /// When the server started: the `created` time of its models.
    started: u64,
    /// Set once the pretend load is over.
    ready: AtomicBool,
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
