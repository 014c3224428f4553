//! The generation loop of one session: make a segment, wait until it has been downloaded, build the seed
//! from its tail, repaint the next one, and so on. With a bridge, the embedded synthesizer makes any
//! segment the model cannot make in time (loading, unreachable, failing) and the loop hands back to the
//! model as soon as its text2music is ready; without one, failures are retried and then reported.

use std::sync::{Arc, Weak};
use std::time::Instant;

use app::api::BridgeReason;
use tokio::sync::{watch, Notify};
use tracing::Instrument;

use super::failure::{Cause, Failure};
use super::generate::{blocking, discard, generate, task_for, Generator};
use super::join::join;
use super::link::{self, Link, Warming};
use super::{state::Plan, SessionFiles, Shared};
use crate::backend::{Job, Task};
use crate::encoding;
use tsuzuki_audio::{focus, seed, Audio};

/// What the next segment continues from: the tail the listener hears last, and who made it.
struct Made {
    tail: Audio,
    generator: Generator,
}

pub(super) struct Worker {
    pub shared: Weak<Shared>,
    pub id: String,
    pub seed: u64,
    pub wake: Arc<Notify>,
    pub progress: watch::Sender<f32>,
    pub warming: watch::Sender<Option<Warming>>,
}

pub(super) async fn run(worker: Worker) {
    let Some(strong) = worker.shared.upgrade() else {
        return;
    };
    let mut link = strong.bridge.as_ref().map(|_| {
        Link::new(
            strong.backend.clone(),
            strong.managed_service(),
            worker.warming.clone(),
            strong.config.session.retry_backoff.max(link::MIN_PROBE),
        )
    });
    // Without a bridge the session waits for its model (container, then weights) before the first segment,
    // and holds the service for its whole life, so idleness never stops it mid-session.
    let _held = match link {
        Some(_) => None,
        None => {
            let warmed = link::warm(
                strong.managed_service(),
                strong.backend.clone(),
                worker.warming.clone(),
            );
            match warmed.await {
                Ok(lease) => lease,
                Err(f) => {
                    strong.fail(
                        &worker.id,
                        format!("Cannot start: {}.", f.message),
                        f.retryable,
                    );
                    return;
                }
            }
        }
    };
    drop(strong);
    let mut previous: Option<Made> = None;
    loop {
        let Some((plan, files, obsolete)) = next_plan(&worker).await else {
            return;
        };
        let Some(shared) = worker.shared.upgrade() else {
            return;
        };
        discard(&files, obsolete).await;
        let segment = Segment {
            shared: &shared,
            worker: &worker,
            files: &files,
            plan: &plan,
            previous: previous.as_ref(),
        };
        let span = tracing::info_span!("segment", segment.index = plan.index);
        let made = async {
            match &mut link {
                None => segment.make(Generator::Model, None).await,
                Some(link) => segment.bridged(link).await,
            }
        }
        .instrument(span)
        .await;
        match made {
            Ok(made) => previous = Some(made),
            Err(failure) => {
                shared.fail(&worker.id, failure.message, failure.retryable);
                return;
            }
        }
    }
}

/// Waits until the lookahead rule lets the next segment start; `None` once the session is gone.
async fn next_plan(worker: &Worker) -> Option<(Plan, SessionFiles, Vec<std::path::PathBuf>)> {
    loop {
        let notified = worker.wake.notified();
        let shared = worker.shared.upgrade()?;
        let next = shared.with(&worker.id, |live| {
            live.core.begin().map(|plan| {
                let obsolete = std::mem::take(&mut live.obsolete);
                (plan, live.files.clone(), obsolete)
            })
        })?;
        if next.is_some() {
            return next;
        }
        drop(shared);
        notified.await;
    }
}

/// One segment in the making.
struct Segment<'a> {
    shared: &'a Shared,
    worker: &'a Worker,
    files: &'a SessionFiles,
    plan: &'a Plan,
    previous: Option<&'a Made>,
}

impl Segment<'_> {
    /// The model continues its own music while it keeps up; otherwise its text2music takes over when it is
    /// ready in time, and the synthesizer makes the segment when it is not.
    async fn bridged(&self, link: &mut Link) -> Result<Made, Failure> {
        let config = &self.shared.config.session;
        let deadline = tokio::time::Instant::now() + link::slack(config, self.plan.index);
        let on_model = self
            .previous
            .is_some_and(|p| p.generator == Generator::Model);
        if on_model && link.ready() {
            match self.make(Generator::Model, Some(deadline)).await {
                Err(f) if f.cause != Cause::Local => link.failed(&f),
                made => return made,
            }
        }
        self.show(Generator::Synth, link.why());
        let job = self.job(Task::Text2Music);
        if let Some(audio) = link.first_segment(&job, config, deadline).await {
            link.playing();
            let made = self
                .publish(audio, &job, Generator::Model, Instant::now(), 1)
                .await?;
            self.show(Generator::Model, (None, None));
            return Ok(made);
        }
        let made = self.make(Generator::Synth, None).await?;
        self.show(Generator::Synth, link.why());
        Ok(made)
    }

    /// Makes the segment on `generator`: a repaint when it continues its own music, else a text2music.
    async fn make(
        &self,
        generator: Generator,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Made, Failure> {
        let config = &self.shared.config.session;
        let index = self.plan.index;
        let continues = self.previous.filter(|p| p.generator == generator);
        let task = task_for(config, index, self.files, continues.map(|p| &p.tail)).await?;
        let job = self.job(task);
        let started = Instant::now();
        tracing::info!(
            session = self.worker.id,
            segment = index,
            task = job.task.name(),
            generator = ?generator,
            continues = continues.and(index.checked_sub(1)),
            prompt = job.prompt,
            "generating"
        );
        let generated = generate(
            self.shared,
            generator,
            &self.worker.id,
            &job,
            &self.worker.progress,
            deadline,
        )
        .await;
        // Made or not, the seed has served its purpose: nothing the session no longer needs stays on disk.
        if let Task::Repaint { source, .. } = &job.task {
            discard(self.files, vec![source.clone()]).await;
        }
        let (audio, attempts) = generated?;
        self.publish(audio, &job, generator, started, attempts)
            .await
    }

    fn job(&self, task: Task) -> Job {
        let config = &self.shared.config.session;
        let index = self.plan.index;
        Job {
            index,
            previous_prompt: match task {
                Task::Text2Music => None,
                Task::Repaint { .. } => self.plan.previous_prompt.clone(),
            },
            task,
            prompt: self.plan.prompt.clone(),
            duration_seconds: config.segment_seconds,
            timeline_seconds: index as f64 * (config.segment_seconds - config.overlap_seconds),
            session_seed: self.worker.seed,
        }
    }

    /// Joins the audio to what was heard, levels it, stores it and makes it playable.
    async fn publish(
        &self,
        audio: Audio,
        job: &Job,
        generator: Generator,
        started: Instant,
        attempts: u32,
    ) -> Result<Made, Failure> {
        let config = &self.shared.config.session;
        let (index, overlap) = (job.index, config.overlap_frames());
        let heard = self.previous.map(|p| p.tail.clone());
        let continues = matches!(job.task, Task::Repaint { .. });
        let target = config.loudness_target;
        let joined =
            blocking(move || join(audio, index, heard.as_ref(), continues, overlap, target))
                .await?;
        let (files, audio, bitrate) = (self.files.clone(), joined.audio, config.opus_bitrate);
        let focus = self.shared.with(&self.worker.id, |live| live.focus);
        let depth = focus.unwrap_or_default().depth();
        let timeline = job.timeline_seconds;
        let (audio, bytes) = blocking(move || {
            // Listeners hear the modulation; the next repaint continues from the music without it.
            let encoded = if depth > 0.0 {
                let mut heard = audio.clone();
                focus::modulate(&mut heard, timeline, depth);
                encoding::encode(&heard, bitrate)?
            } else {
                encoding::encode(&audio, bitrate)?
            };
            let bytes = files.store(index, &encoded).map_err(|e| e.to_string())?;
            Ok::<_, String>((audio, bytes))
        })
        .await?
        .map_err(|e| Failure::local(format!("Cannot store segment {index}: {e}.")))?;
        let shared = self.shared;
        shared.with(&self.worker.id, |live| {
            live.core.finished(index, joined.join)
        });
        shared.metrics.segment_generated(started.elapsed());
        if let Some(join) = &joined.join {
            shared.metrics.joined(join.gain_db, join.residual_db);
        }
        tracing::info!(
            session = self.worker.id,
            segment = index,
            task = job.task.name(),
            generator = ?generator,
            bytes,
            seconds = started.elapsed().as_secs_f64(),
            attempts,
            join_gain_db = joined.join.map(|j| j.gain_db),
            join_residual_db = joined.join.map(|j| j.residual_db),
            correlated = joined.join.map(|j| j.correlated),
            loudness_before_lufs = joined.levelled.map(|l| l.before_lufs),
            loudness_gain_db = joined.levelled.map(|l| l.gain_db),
            true_peak_dbtp = joined.levelled.map(|l| l.true_peak_dbtp),
            "segment ready"
        );
        Ok(Made {
            tail: seed::build(&audio, overlap, overlap),
            generator,
        })
    }

    /// Tells the status which generator makes the segments now, and why the synthesizer does if it does.
    fn show(&self, generator: Generator, (reason, detail): (Option<BridgeReason>, Option<String>)) {
        self.shared.with(&self.worker.id, |live| {
            live.generator = (generator, reason);
            live.bridge_detail = detail;
        });
    }
}
