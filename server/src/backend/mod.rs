//! The generators behind a session. Each honours one contract: given a [`Job`], return audio of the
//! job's duration; for a repaint, the first `repainting_start` seconds continue the source audio.

pub mod acestep;
pub mod synth;

use std::path::PathBuf;

use app::api::BackendInfo;
use async_trait::async_trait;
use tokio::sync::watch;

use tsuzuki_audio::Audio;

/// One segment to make.
#[derive(Clone, Debug)]
pub struct Job {
    pub index: u64,
    pub task: Task,
    pub prompt: String,
    /// The prompt of the segment this one continues, so a backend can morph from it.
    pub previous_prompt: Option<String>,
    pub duration_seconds: f64,
    /// Where this segment starts on the session's endless timeline, in seconds.
    pub timeline_seconds: f64,
    /// Fixed per session, so a session's music is coherent and two sessions differ.
    pub session_seed: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    /// A new piece from the prompt alone.
    Text2Music,
    /// Keep the first `repainting_start` seconds of `source` and generate the rest (`repainting_end = -1`).
    Repaint {
        source: PathBuf,
        repainting_start: f64,
    },
}

impl Task {
    /// ACE-Step's name for the task.
    pub fn name(&self) -> &'static str {
        match self {
            Task::Text2Music => "text2music",
            Task::Repaint { .. } => "repaint",
        }
    }
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BackendError {
    #[error("the music model at {url} cannot be reached ({detail})")]
    Unreachable { url: String, detail: String },
    #[error("the music model is busy (its queue is full)")]
    Busy,
    #[error("the music model rejected our API key; set ACESTEP_API_KEY to the server's key")]
    Unauthorized,
    #[error("the music model failed to make the segment{}", detail_suffix(.0))]
    Failed(String),
    #[error("the music model returned silence")]
    Silent,
    #[error("the music model answered in a way we do not understand: {0}")]
    Protocol(String),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

impl BackendError {
    /// Whether trying the same job again may succeed.
    pub fn retryable(&self) -> bool {
        !matches!(self, BackendError::Unauthorized)
    }
}

#[async_trait]
pub trait Backend: Send + Sync {
    fn info(&self) -> BackendInfo;
    /// Whether the backend answers at all.
    async fn check(&self) -> Result<(), BackendError>;
    /// Makes the backend ready, so the first job does not pay for loading a model; returns when it is.
    /// This may take minutes: the caller bounds the wait.
    async fn warm(&self) -> Result<(), BackendError> {
        self.check().await
    }
    /// Makes the job's audio, reporting progress (0..1) as it goes.
    async fn generate(
        &self,
        job: &Job,
        progress: &watch::Sender<f32>,
    ) -> Result<Audio, BackendError>;
}
