//! Asking a generator for one segment: the task (a text2music, or a repaint of a seed written from the
//! tail heard last), retries with backoff, and the checks a segment must pass before anyone hears it.

use std::path::PathBuf;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::field::Empty;
use tracing::Instrument;

use super::failure::Failure;
use super::Shared;
use crate::backend::{Job, Task};
use crate::config::{SessionConfig, CHANNELS, SAMPLE_RATE};
use tsuzuki_audio::{convert, seed, wav, Audio};

/// Below this level a generated segment counts as silent.
const SILENCE_DBFS: f64 = -60.0;

/// The task for segment `index`: a repaint of a seed built from `tail` when the segment continues the one
/// before on the same generator, else a text2music (the first segment, or a change of generator, whose
/// new music the player crossfades in as different music).
pub(super) async fn task_for(
    config: &SessionConfig,
    index: u64,
    files: &super::SessionFiles,
    tail: Option<&Audio>,
) -> Result<Task, Failure> {
    let Some(tail) = tail else {
        return Ok(Task::Text2Music);
    };
    let seed = seed::build(tail, config.overlap_frames(), config.segment_frames());
    let source = files.seed(index);
    let path = source.clone();
    blocking(move || wav::write(&path, &seed))
        .await?
        .map_err(|e| Failure::local(format!("Cannot write the seed of segment {index}: {e}.")))?;
    Ok(Task::Repaint {
        source,
        repainting_start: config.overlap_seconds,
    })
}

/// Which generator makes a segment: the configured one (the model), or the embedded synthesizer standing
/// in for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Generator {
    Model,
    Synth,
}

/// Asks `generator` for `job`, retrying retryable failures with backoff until `deadline` (if any). Returns
/// the audio in the session's layout and the number of attempts.
pub(super) async fn generate(
    shared: &Shared,
    generator: Generator,
    id: &str,
    job: &Job,
    progress: &watch::Sender<f32>,
    deadline: Option<Instant>,
) -> Result<(Audio, u32), Failure> {
    let attempts = attempts(shared, generator, id, job, progress);
    match deadline {
        None => attempts.await,
        Some(deadline) => tokio::time::timeout_at(deadline, attempts)
            .await
            .unwrap_or_else(|_| {
                Err(Failure::model(format!(
                    "segment {} was not ready in time to play",
                    job.index
                )))
            }),
    }
}

async fn attempts(
    shared: &Shared,
    generator: Generator,
    id: &str,
    job: &Job,
    progress: &watch::Sender<f32>,
) -> Result<(Audio, u32), Failure> {
    let config = &shared.config.session;
    let index = job.index;
    let mut attempt = 1;
    loop {
        progress.send_replace(0.0);
        let span = tracing::info_span!(
            "attempt",
            attempt,
            generator = ?generator,
            task = job.task.name(),
            otel.status_code = Empty,
            error.message = Empty,
        );
        let outcome = attempt_once(shared, generator, job, progress)
            .instrument(span.clone())
            .await;
        let failure = match outcome {
            Ok(audio) => return Ok((audio, attempt)),
            Err(failure) => failure,
        };
        span.record("otel.status_code", "ERROR");
        span.record("error.message", failure.message.as_str());
        shared.metrics.backend_failure();
        tracing::warn!(
            session = id,
            segment = index,
            attempt,
            "generation failed: {}",
            failure.message
        );
        if !failure.retryable || attempt >= config.max_attempts {
            let tries = if attempt == 1 {
                "1 try".to_string()
            } else {
                format!("{attempt} tries")
            };
            let message = format!(
                "Could not make segment {index} after {tries}: {}.",
                failure.message
            );
            return Err(failure.reworded(message));
        }
        tokio::time::sleep(config.retry_backoff * 2u32.saturating_pow(attempt - 1)).await;
        attempt += 1;
    }
}

async fn attempt_once(
    shared: &Shared,
    generator: Generator,
    job: &Job,
    progress: &watch::Sender<f32>,
) -> Result<Audio, Failure> {
    let config = &shared.config.session;
    let (frames, keep) = (config.segment_frames(), kept_frames(config, &job.task));
    let backend = match (generator, &shared.bridge) {
        (Generator::Synth, Some(synth)) => synth,
        _ => {
            // The session's lease keeps a model service from idling out; this restarts it if it died.
            shared
                .ensure_service()
                .await
                .map_err(|e| Failure::service(&e))?;
            &shared.backend
        }
    };
    match tokio::time::timeout(config.job_timeout, backend.generate(job, progress)).await {
        Ok(Ok(audio)) => blocking(move || checked(audio, frames, keep)).await?,
        Ok(Err(e)) => Err(Failure::backend(&e)),
        Err(_) => Err(Failure::model(format!(
            "the music model did not finish within {} s",
            config.job_timeout.as_secs_f64()
        ))),
    }
}

/// Frames a task keeps from its seed: those are not the generator's own and may not count as its sound.
fn kept_frames(config: &SessionConfig, task: &Task) -> usize {
    match task {
        Task::Text2Music => 0,
        Task::Repaint { .. } => config.overlap_frames(),
    }
}

/// Runs file and CPU work on the blocking pool, so the async threads keep serving requests.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Failure::local(format!("Internal error: {e}.")))
}

/// Deletes files the session no longer needs, on the blocking pool (each deletion logs its own outcome).
pub(super) async fn discard(files: &super::SessionFiles, paths: Vec<PathBuf>) {
    let files = files.clone();
    let _ =
        tokio::task::spawn_blocking(move || paths.iter().for_each(|path| files.delete(path))).await;
}

/// Brings a generator's audio to the session's layout and refuses silence after the kept overlap.
pub(super) fn checked(audio: Audio, frames: usize, keep: usize) -> Result<Audio, Failure> {
    let audio = convert::to_layout(audio, SAMPLE_RATE, usize::from(CHANNELS), frames);
    if audio.rms_dbfs_from(keep) < SILENCE_DBFS {
        return Err(Failure::model("the music model returned silence".into()));
    }
    Ok(audio)
}
