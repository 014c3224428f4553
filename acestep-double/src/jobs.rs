//! The single worker that runs jobs one at a time (like ACE-Step's one queue worker) and the files they
//! write: 48 kHz stereo 16-bit WAV or FLAC, cut to ACE-Step's 40 ms latent frames.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use uuid::Uuid;

use super::level::jitter_gain;
use super::models::LM_4B;
use super::params::{percent_encode, Params};
use super::render::{self, Shaping};
use super::repaint::window;
use super::results::Done;
use super::{loader, vram, Shared};
use tsuzuki_audio::synth::{Score, Style};
use tsuzuki_audio::{convert, wav, Audio};

/// ACE-Step's output rate, which is tsuzuki's.
pub(crate) const RATE: u32 = tsuzuki_audio::SAMPLE_RATE;
/// Samples per 25 Hz latent frame.
pub(crate) const LATENT: usize = 1920;
const MIN_LATENTS: usize = 128;
/// The tier limit on a ≥24 GB GPU.
const MAX_SECONDS: f64 = 600.0;

/// A job as released: its parameters and what the fault injection decided for it.
pub(crate) struct Queued {
    pub id: String,
    pub params: Params,
    pub source: Option<Vec<u8>>,
    pub fate: Fate,
    /// `alter_overlap_next` chose this repaint.
    pub alter_overlap: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Fate {
    Normal,
    Fail,
    OutOfVram,
    Silent,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum JobState {
    Queued,
    Running {
        progress: f64,
        stage: String,
    },
    Succeeded(Done),
    /// With the reason, where the server has one to give.
    Failed(Option<String>),
}

/// ACE-Step's progress milestones as (share of the job's time, progress, stage); `None` is the diffusion stage,
/// whose text names the batch size.
const STAGES: [(f64, f64, Option<&str>); 8] = [
    (0.0, 0.01, Some("running")),
    (0.1, 0.51, Some("Preparing inputs...")),
    (0.15, 0.52, None),
    (0.3, 0.59, None),
    (0.45, 0.66, None),
    (0.6, 0.72, None),
    (0.75, 0.79, None),
    (0.8, 0.8, Some("Decoding audio...")),
];

pub(crate) async fn run(shared: Arc<Shared>, mut queue: mpsc::UnboundedReceiver<Queued>) {
    while let Some(job) = queue.recv().await {
        let received = Instant::now();
        // A lazy load happens here, while the task still reads as queued.
        loader::ready_for_job(&shared).await;
        let id = job.id.clone();
        let outcome = execute(&shared, job).await;
        shared.finish(&id, outcome, received.elapsed());
    }
}

/// What the worker settles about a job as it starts it.
struct Start {
    delay: Duration,
    shaping: Shaping,
    dit_model: String,
    lm_model: String,
    /// The pre-flight's text when the GPU is too short for this job.
    shortage: Option<String>,
}

impl Start {
    fn of(shared: &Shared, job: &Queued) -> Start {
        let mut inner = shared.lock();
        inner.jobs_started += 1;
        let first = std::mem::take(&mut inner.faults.first_delay_ms);
        let faults = &inner.faults;
        let params = &job.params;
        let dit_model = inner.models.dit_for(params.model.as_deref());
        let lm = inner.models.lm_for(params.lm_model_path.as_deref());
        let short = matches!(job.fate, Fate::OutOfVram)
            || (faults.lm_4b_short_of_vram && lm == Some(LM_4B));
        let shortage = short.then(|| {
            vram::shortage(
                params.batch_size,
                params.audio_duration,
                params.guidance_scale,
                dit_model.contains("turbo"),
            )
        });
        Start {
            delay: Duration::from_millis(faults.delay_ms.saturating_add(first)),
            shaping: Shaping::new(
                shared.mode,
                params,
                jitter_gain(inner.jobs_started, faults.level_jitter_db),
                job.alter_overlap,
            ),
            lm_model: inner.models.reported_lm().to_string(),
            dit_model,
            shortage,
        }
    }
}

/// Runs one job through ACE-Step's stages; `Err` carries the failure's text, if any.
async fn execute(shared: &Arc<Shared>, job: Queued) -> Result<Done, Option<String>> {
    let started = Instant::now();
    let start = Start::of(shared, &job);
    let id = job.id.clone();
    let delay = start.delay;
    let at = |share: f64| tokio::time::Instant::from_std(started + delay.mul_f64(share));
    let diffusion = format!(
        "Generating music (batch size: {})...",
        job.params.batch_size
    );
    for (share, progress, stage) in STAGES {
        tokio::time::sleep_until(at(share)).await;
        shared.progress(&id, progress, stage.unwrap_or(&diffusion));
    }
    let outcome = match (job.fate, start.shortage.clone()) {
        (Fate::Fail, _) => Err(None),
        (_, Some(shortage)) => Err(Some(shortage)),
        (Fate::Silent, _) => Ok(Done {
            files: vec![String::new()],
            seeds: vec![seed_of(&id, 0)],
            seconds: job
                .params
                .audio_duration
                .unwrap_or_else(|| default_seconds(&id)),
            dit_model: start.dit_model,
            lm_model: start.lm_model,
        }),
        (Fate::Normal | Fate::OutOfVram, None) => {
            let (worker, task) = (shared.clone(), id.clone());
            let made = tokio::task::spawn_blocking(move || make(&worker, &task, job, start)).await;
            made.unwrap_or_else(|panic| Err(format!("the generation panicked: {panic}")))
                .map_err(|reason| {
                    tracing::warn!(task_id = id, "generation failed: {reason}");
                    Some(reason)
                })
        }
    };
    tokio::time::sleep_until(at(0.9)).await;
    if outcome.is_ok() {
        shared.progress(&id, 0.99, "Preparing audio data...");
    }
    // However long rendering took, the last stage lasts a tenth of the delay, so pollers can see it.
    let last = tokio::time::Instant::now() + delay.mul_f64(0.1);
    tokio::time::sleep_until(at(1.0).max(last)).await;
    outcome
}

/// A stable number from a task id, for seeds and the duration ACE-Step would pick at random.
pub(crate) fn seed_of(id: &str, variant: u64) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    (id, variant).hash(&mut hasher);
    hasher.finish() % (1 << 32)
}

/// Without `audio_duration` and without an LM picking one, ACE-Step draws 10–120 s.
pub(crate) fn default_seconds(id: &str) -> f64 {
    (10 + seed_of(id, u64::MAX) % 111) as f64
}

/// text2music length: `round(duration, 1)` s in whole latent frames, at least 128 of them.
pub(crate) fn text2music_frames(seconds: f64) -> usize {
    let target = (seconds.clamp(0.0, MAX_SECONDS) * 10.0).round() / 10.0;
    ((target * f64::from(RATE)) as usize / LATENT).max(MIN_LATENTS) * LATENT
}

/// The containers the double can write; upstream also writes mp3, opus, aac and wav32, the double fails
/// such jobs rather than mislabel a file.
#[derive(Clone, Copy)]
enum Format {
    Wav,
    Flac,
}

impl Format {
    fn of(audio_format: &str) -> Result<Format, String> {
        match audio_format {
            "wav" => Ok(Format::Wav),
            "flac" => Ok(Format::Flac),
            other => Err(format!("the double writes only wav and flac, not {other}")),
        }
    }
}

/// Renders and writes the job's files (blocking).
fn make(shared: &Shared, id: &str, job: Queued, start: Start) -> Result<Done, String> {
    let format = Format::of(&job.params.audio_format)?;
    let mut made = Made {
        format,
        files: Vec::new(),
        seeds: Vec::new(),
    };
    let params = &job.params;
    let seconds = match params.task_type.as_str() {
        "text2music" | "cover" => text2music(shared, id, params, &start.shaping, &mut made)?,
        "repaint" => repaint(shared, id, params, job.source, &start.shaping, &mut made)?,
        other => {
            return Err(format!(
                "task type {other} needs acestep-v15-base, which is not loaded"
            ))
        }
    };
    Ok(Done {
        files: made.files,
        seeds: made.seeds,
        seconds,
        dit_model: start.dit_model,
        lm_model: start.lm_model,
    })
}

/// The files a job wrote and the seed of each.
struct Made {
    format: Format,
    files: Vec<String>,
    seeds: Vec<u64>,
}

impl Made {
    fn add(&mut self, shared: &Shared, audio: &Audio, seed: u64) -> Result<(), String> {
        self.files.push(shared.write(audio, self.format)?);
        self.seeds.push(seed);
        Ok(())
    }
}

/// A new piece per batch variant, each remembered as the start of a timeline; returns its seconds.
fn text2music(
    shared: &Shared,
    id: &str,
    params: &Params,
    shaping: &Shaping,
    made: &mut Made,
) -> Result<f64, String> {
    let style = Style::from_prompt(&params.prompt);
    let seconds = params.audio_duration.unwrap_or_else(|| default_seconds(id));
    let frames = text2music_frames(seconds);
    for variant in 0..params.batch_size as u64 {
        let seed = seed_of(id, variant);
        let score = Score {
            seed,
            style: style.clone(),
        };
        let audio = render::text2music(&score, frames, shaping);
        let end = frames as f64 / f64::from(RATE);
        shared
            .lock()
            .timelines
            .remember(&audio, seed, &params.prompt, end);
        made.add(shared, &audio, seed)?;
    }
    Ok(seconds)
}

/// The source kept outside the repainted window and new music inside it: audio the double made itself
/// continues its timeline, anything else starts a new one. Returns the output's seconds.
fn repaint(
    shared: &Shared,
    id: &str,
    params: &Params,
    upload: Option<Vec<u8>>,
    shaping: &Shaping,
    made: &mut Made,
) -> Result<f64, String> {
    let source = load_source(params, upload)?;
    let w = window(
        source.frames(),
        params.repainting_start,
        params.repainting_end,
    );
    let padded: Vec<Vec<f32>> = source
        .channels
        .iter()
        .map(|c| {
            let mut p = vec![0.0; w.left_pad];
            p.extend(c.iter().map(|s| s.clamp(-1.0, 1.0)));
            p.resize(w.frames, 0.0);
            p
        })
        .collect();
    let found = shared.lock().timelines.find(&padded, w.keep);
    let (base_seed, from_prompt, position) =
        found.unwrap_or((seed_of(id, 0), params.prompt.clone(), 0.0));
    let style = Style::from_prompt(&params.prompt);
    for variant in 0..params.batch_size as u64 {
        let seed = if variant == 0 {
            base_seed
        } else {
            seed_of(id, variant)
        };
        let to = Score {
            seed,
            style: style.clone(),
        };
        let from = Score {
            seed,
            style: Style::from_prompt(&from_prompt),
        };
        let stranger = Score {
            seed: seed_of(id, u64::MAX - 1 - variant),
            style: style.clone(),
        };
        let audio = render::repaint(&padded, &w, (&from, &to, position), &stranger, shaping);
        if w.until == w.frames {
            let end = position + (w.until - w.keep) as f64 / f64::from(RATE);
            shared
                .lock()
                .timelines
                .remember(&audio, seed, &params.prompt, end);
        }
        made.add(shared, &audio, seed)?;
    }
    Ok(w.frames as f64 / f64::from(RATE))
}

/// The source as ACE-Step normalises it: stereo, 48 kHz (clamping happens when padding).
fn load_source(params: &Params, upload: Option<Vec<u8>>) -> Result<Audio, String> {
    let bytes = match (upload, &params.src_audio_path) {
        (Some(bytes), _) => bytes,
        (None, Some(path)) => {
            std::fs::read(Path::new(path)).map_err(|e| format!("src_audio_path: {e}"))?
        }
        (None, None) => return Err("repaint needs src_audio or src_audio_path".into()),
    };
    let audio =
        wav::decode(&bytes).map_err(|e| format!("the double reads only WAV sources: {e}"))?;
    let frames =
        (audio.frames() as u64 * u64::from(RATE) / u64::from(audio.sample_rate.max(1))) as usize;
    Ok(convert::to_layout(audio, RATE, 2, frames))
}

impl Shared {
    /// Writes one output file (through a temporary name, so no reader sees half of it) and returns its
    /// `/v1/audio` URL.
    fn write(&self, audio: &Audio, format: Format) -> Result<String, String> {
        let name = Uuid::new_v4();
        let path = match format {
            Format::Wav => {
                let path = self.output.audio.join(format!("{name}.wav"));
                wav::write(&path, audio).map_err(|e| e.to_string())?;
                path
            }
            Format::Flac => {
                let path = self.output.audio.join(format!("{name}.flac"));
                let partial = path.with_extension("flac.partial");
                let bytes = tsuzuki_audio::flac::encode(audio)?;
                std::fs::write(&partial, bytes)
                    .and_then(|()| std::fs::rename(&partial, &path))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                path
            }
        };
        Ok(format!(
            "/v1/audio?path={}",
            percent_encode(&path.to_string_lossy())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text2music_lengths_are_whole_latent_frames() {
        assert_eq!(text2music_frames(60.0), 2_880_000);
        assert_eq!(text2music_frames(8.0), 384_000);
        assert_eq!(
            text2music_frames(8.33),
            207 * LATENT,
            "8.3 s is 207.5 frames, rounded down"
        );
        assert_eq!(text2music_frames(2.0), 128 * LATENT, "at least 128 frames");
        assert_eq!(
            text2music_frames(9_999.0),
            15_000 * LATENT,
            "the tier's 600 s limit"
        );
    }

    #[test]
    fn default_durations_are_10_to_120_seconds_and_stable() {
        for id in ["a", "b", "c", "d", "e"] {
            let s = default_seconds(id);
            assert!((10.0..=120.0).contains(&s), "{s}");
            assert_eq!(s, default_seconds(id));
        }
    }
}
