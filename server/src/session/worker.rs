//! The generation loop of one session: make a segment, wait until it has been downloaded, build the seed
//! from its tail, repaint the next one, and so on; retry failures with backoff and give up clearly.

use std::sync::{Arc, Weak};
use std::time::Instant;

use tokio::sync::{watch, Notify};

use super::{state::Plan, Shared};
use crate::backend::{Job, Task};
use crate::config::{CHANNELS, SAMPLE_RATE};
use tsuzuki_audio::{convert, seed, wav, Audio};

/// Below this level a generated segment counts as silent.
const SILENCE_DBFS: f64 = -60.0;

pub(super) async fn run(
    shared: Weak<Shared>,
    id: String,
    seed: u64,
    wake: Arc<Notify>,
    progress: watch::Sender<f32>,
) {
    let Some(strong) = shared.upgrade() else {
        return;
    };
    // A managed service is started (or found ready) and held for the whole session, so idleness never
    // stops it mid-session; the lease ends with this task, when the session stops.
    let _held = match strong.ensure_service().await {
        Ok(Some(lease)) => Some(lease),
        Ok(None) => {
            if let Err(e) = strong.backend.check().await {
                strong.fail(&id, format!("Cannot start: {e}."), e.retryable());
                return;
            }
            None
        }
        Err(e) => {
            strong.fail(&id, format!("Cannot start: {e}."), e.retryable());
            return;
        }
    };
    drop(strong);
    // The end of the latest segment, kept in memory for the next seed (no need to read the file back).
    let mut tail: Option<Audio> = None;
    loop {
        // Wait until the lookahead rule lets the next segment start.
        let (plan, files, obsolete) = loop {
            let notified = wake.notified();
            let Some(shared) = shared.upgrade() else {
                return;
            };
            match shared.with(&id, |live| {
                live.core.begin().map(|plan| {
                    let obsolete = std::mem::take(&mut live.obsolete);
                    (plan, live.files.clone(), obsolete)
                })
            }) {
                None => return,
                Some(Some(next)) => break next,
                Some(None) => {}
            }
            drop(shared);
            notified.await;
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        discard(&files, obsolete).await;
        match make(&shared, &id, seed, &plan, &files, &progress, tail.as_ref()).await {
            Ok(end) => tail = Some(end),
            Err(message) => {
                shared.fail(&id, message.0, message.1);
                return;
            }
        }
    }
}

/// A failure for the listener: the message and whether starting again may help.
struct Failure(String, bool);

/// Makes segment `plan.index` and returns the tail the next seed is built from.
async fn make(
    shared: &Shared,
    id: &str,
    session_seed: u64,
    plan: &Plan,
    files: &super::SessionFiles,
    progress: &watch::Sender<f32>,
    previous: Option<&Audio>,
) -> Result<Audio, Failure> {
    let config = &shared.config.session;
    let index = plan.index;
    let overlap_frames = config.overlap_frames();
    let task = task_for(config, index, files, previous).await?;
    let job = Job {
        index,
        task,
        prompt: plan.prompt.clone(),
        previous_prompt: plan.previous_prompt.clone(),
        duration_seconds: config.segment_seconds,
        timeline_seconds: index as f64 * (config.segment_seconds - config.overlap_seconds),
        session_seed,
    };
    let started = Instant::now();
    tracing::info!(
        session = id,
        segment = index,
        task = job.task.name(),
        continues = index.checked_sub(1),
        prompt = job.prompt,
        "generating"
    );
    let made = match generate(shared, id, &job, progress).await {
        Ok((audio, attempts)) => store(files, index, audio)
            .await
            .map(|(a, b)| (a, b, attempts)),
        Err(failure) => Err(failure),
    };
    // Made or not, the seed has served its purpose: nothing the session no longer needs stays on disk.
    if let Task::Repaint { source, .. } = &job.task {
        discard(files, vec![source.clone()]).await;
    }
    let (audio, bytes, attempts) = made?;
    shared.with(id, |live| live.core.finished(index));
    shared.metrics.segment_generated(started.elapsed());
    tracing::info!(
        session = id,
        segment = index,
        task = job.task.name(),
        bytes,
        seconds = started.elapsed().as_secs_f64(),
        attempts,
        "segment ready"
    );
    // What the next seed needs: this segment's last `overlap` seconds.
    Ok(seed::build(&audio, overlap_frames, overlap_frames))
}

/// The task for segment `index`: text2music for the first, else a repaint of a seed written from the tail
/// of the one before.
async fn task_for(
    config: &crate::config::SessionConfig,
    index: u64,
    files: &super::SessionFiles,
    previous: Option<&Audio>,
) -> Result<Task, Failure> {
    if index == 0 {
        return Ok(Task::Text2Music);
    }
    let previous = previous.ok_or_else(|| {
        Failure(
            format!("Segment {} is not at hand to continue.", index - 1),
            true,
        )
    })?;
    let seed = seed::build(previous, config.overlap_frames(), config.segment_frames());
    let source = files.seed(index);
    let path = source.clone();
    blocking(move || wav::write(&path, &seed))
        .await?
        .map_err(|e| {
            Failure(
                format!("Cannot write the seed of segment {index}: {e}."),
                true,
            )
        })?;
    Ok(Task::Repaint {
        source,
        repainting_start: config.overlap_seconds,
    })
}

/// Asks the backend for `job`, retrying retryable failures with backoff. Returns the audio in the
/// session's layout and the number of attempts.
async fn generate(
    shared: &Shared,
    id: &str,
    job: &Job,
    progress: &watch::Sender<f32>,
) -> Result<(Audio, u32), Failure> {
    let config = &shared.config.session;
    let index = job.index;
    let segment_frames = config.segment_frames();
    let keep = match job.task {
        Task::Text2Music => 0,
        Task::Repaint { .. } => config.overlap_frames(),
    };
    let mut attempt = 1;
    loop {
        progress.send_replace(0.0);
        // The session's lease keeps the service from idling out; this restarts it if it died.
        let outcome = match shared.ensure_service().await {
            Err(e) => Err(Failure(e.to_string(), e.retryable())),
            Ok(_attempt) => match tokio::time::timeout(
                config.job_timeout,
                shared.backend.generate(job, progress),
            )
            .await
            {
                Ok(Ok(audio)) => blocking(move || checked(audio, segment_frames, keep)).await?,
                Ok(Err(e)) => Err(Failure(e.to_string(), e.retryable())),
                Err(_) => Err(Failure(
                    format!(
                        "the music model did not finish within {} s",
                        config.job_timeout.as_secs_f64()
                    ),
                    true,
                )),
            },
        };
        let Failure(message, retryable) = match outcome {
            Ok(audio) => return Ok((audio, attempt)),
            Err(failure) => failure,
        };
        shared.metrics.backend_failure();
        tracing::warn!(
            session = id,
            segment = index,
            attempt,
            "generation failed: {message}"
        );
        if !retryable || attempt >= config.max_attempts {
            let tries = if attempt == 1 {
                "1 try".to_string()
            } else {
                format!("{attempt} tries")
            };
            return Err(Failure(
                format!("Could not make segment {index} after {tries}: {message}."),
                retryable,
            ));
        }
        tokio::time::sleep(config.retry_backoff * 2u32.saturating_pow(attempt - 1)).await;
        attempt += 1;
    }
}

/// Writes segment `index`; returns its audio and size in bytes.
async fn store(
    files: &super::SessionFiles,
    index: u64,
    audio: Audio,
) -> Result<(Audio, u64), Failure> {
    let path = files.segment(index);
    blocking(move || wav::write(&path, &audio).map(|bytes| (audio, bytes)))
        .await?
        .map_err(|e| Failure(format!("Cannot write segment {index}: {e}."), true))
}

/// Runs file and CPU work on the blocking pool, so the async threads keep serving requests.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Failure(format!("Internal error: {e}."), true))
}

/// Deletes files the session no longer needs, on the blocking pool (each deletion logs its own outcome).
async fn discard(files: &super::SessionFiles, paths: Vec<std::path::PathBuf>) {
    let files = files.clone();
    let _ =
        tokio::task::spawn_blocking(move || paths.iter().for_each(|path| files.delete(path))).await;
}

/// Brings a backend's audio to the session's layout and refuses silence after the kept overlap.
fn checked(audio: Audio, frames: usize, keep: usize) -> Result<Audio, Failure> {
    let audio = convert::to_layout(audio, SAMPLE_RATE, usize::from(CHANNELS), frames);
    if audio.rms_dbfs_from(keep) < SILENCE_DBFS {
        return Err(Failure("the music model returned silence".into(), true));
    }
    Ok(audio)
}
