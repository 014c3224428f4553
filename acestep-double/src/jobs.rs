//! The single worker that runs jobs one at a time (like ACE-Step's one queue worker) and the audio it makes:
//! 48 kHz stereo 16-bit WAV from the embedded synthesizer, cut to ACE-Step's 40 ms latent frames.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use uuid::Uuid;

use super::params::{percent_encode, Params};
use super::results::Done;
use super::Shared;
use tsuzuki_audio::synth::{continuation, Score, Style};
use tsuzuki_audio::{convert, frames_in, wav, Audio};

/// ACE-Step's output rate, which is tsuzuki's.
pub(crate) const RATE: u32 = tsuzuki_audio::SAMPLE_RATE;
/// Samples per 25 Hz latent frame.
pub(crate) const LATENT: usize = 1920;
const MIN_LATENTS: usize = 128;
/// The tier limit on a ≥24 GB GPU.
const MAX_SECONDS: f64 = 600.0;
/// The DiTs the double pretends to have loaded; unknown names fall back to the first, as in ACE-Step.
pub(crate) const DIT_MODELS: [&str; 2] = ["acestep-v15-turbo", "acestep-v15-sft"];

/// A job as released: its parameters and what the fault injection decided for it.
pub(crate) struct Queued {
    pub id: String,
    pub params: Params,
    pub source: Option<Vec<u8>>,
    pub fate: Fate,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Fate {
    Normal,
    Fail,
    Silent,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum JobState {
    Queued,
    Running { progress: f64, stage: String },
    Succeeded(Done),
    Failed,
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
        let started = Instant::now();
        let id = job.id.clone();
        let done = execute(&shared, job, started).await;
        shared.finish(&id, done, started.elapsed());
    }
}

async fn execute(shared: &Arc<Shared>, job: Queued, started: Instant) -> Option<Done> {
    let id = job.id.clone();
    let delay = Duration::from_millis(shared.lock().faults.delay_ms);
    let at = |share: f64| tokio::time::Instant::from_std(started + delay.mul_f64(share));
    let diffusion = format!(
        "Generating music (batch size: {})...",
        job.params.batch_size
    );
    for (share, progress, stage) in STAGES {
        tokio::time::sleep_until(at(share)).await;
        shared.progress(&id, progress, stage.unwrap_or(&diffusion));
    }
    let done = match job.fate {
        Fate::Fail => None,
        Fate::Silent => Some(Done {
            files: vec![String::new()],
            seeds: vec![seed_of(&id, 0)],
            seconds: job
                .params
                .audio_duration
                .unwrap_or_else(|| default_seconds(&id)),
            dit_model: dit_model(&job.params),
        }),
        Fate::Normal => {
            let (worker, task) = (shared.clone(), id.clone());
            let Queued { params, source, .. } = job;
            let made =
                tokio::task::spawn_blocking(move || make(&worker, &task, &params, source)).await;
            match made {
                Ok(Ok(done)) => Some(done),
                Ok(Err(reason)) => {
                    tracing::warn!(task_id = id, "generation failed: {reason}");
                    None
                }
                Err(panic) => {
                    tracing::warn!(task_id = id, "generation failed: {panic}");
                    None
                }
            }
        }
    };
    tokio::time::sleep_until(at(0.9)).await;
    if done.is_some() {
        shared.progress(&id, 0.99, "Preparing audio data...");
    }
    // However long rendering took, the last stage lasts a tenth of the delay, so pollers can see it.
    let last = tokio::time::Instant::now() + delay.mul_f64(0.1);
    tokio::time::sleep_until(at(1.0).max(last)).await;
    done
}

fn dit_model(params: &Params) -> String {
    let model = params.model.as_deref().unwrap_or_default();
    DIT_MODELS
        .iter()
        .find(|m| **m == model)
        .unwrap_or(&DIT_MODELS[0])
        .to_string()
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

/// Where a repaint's output comes from, in frames of the (outpainting-padded) source.
#[derive(Debug, PartialEq)]
pub(crate) struct Window {
    /// Silence before the source (negative `repainting_start`).
    pub left_pad: usize,
    /// Silence after it (`repainting_end` past its end).
    pub right_pad: usize,
    /// Output length: whole latent frames of the padded source.
    pub frames: usize,
    /// Frames kept from the source before the repainted window.
    pub keep: usize,
    /// End of the repainted window.
    pub until: usize,
}

/// `repainting_end` null, 0 or negative means the end of the source; boundaries fall on latent frames.
pub(crate) fn window(source_frames: usize, start: f64, end: Option<f64>) -> Window {
    let rate = f64::from(RATE);
    let left_pad = frames_in((-start).max(0.0), RATE);
    let end = end.filter(|e| *e > 0.0);
    let right_pad = end.map_or(0, |e| {
        frames_in((e - source_frames as f64 / rate).max(0.0), RATE)
    });
    let frames = (left_pad + source_frames + right_pad) / LATENT * LATENT;
    let latent = |seconds: f64| ((seconds * 25.0).max(0.0) as usize * LATENT).min(frames);
    let keep = latent(start);
    let until = end
        .map_or(frames, |e| latent(e + left_pad as f64 / rate))
        .max(keep);
    Window {
        left_pad,
        right_pad,
        frames,
        keep,
        until,
    }
}

/// Renders and writes the job's files (blocking).
fn make(
    shared: &Shared,
    id: &str,
    params: &Params,
    upload: Option<Vec<u8>>,
) -> Result<Done, String> {
    // The double can only write WAV; rather than mislabel a WAV as mp3/flac, such jobs fail.
    if params.audio_format != "wav" {
        return Err(format!(
            "the double writes only wav, not {}",
            params.audio_format
        ));
    }
    let mut made = Made::default();
    let seconds = match params.task_type.as_str() {
        "text2music" | "cover" => text2music(shared, id, params, &mut made)?,
        "repaint" => repaint(shared, id, params, upload, &mut made)?,
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
        dit_model: dit_model(params),
    })
}

/// The files a job wrote and the seed of each.
#[derive(Default)]
struct Made {
    files: Vec<String>,
    seeds: Vec<u64>,
}

impl Made {
    fn add(&mut self, shared: &Shared, audio: &Audio, seed: u64) -> Result<(), String> {
        self.files.push(shared.write(audio)?);
        self.seeds.push(seed);
        Ok(())
    }
}

/// A new piece per batch variant, each remembered as the start of a timeline; returns its seconds.
fn text2music(shared: &Shared, id: &str, params: &Params, made: &mut Made) -> Result<f64, String> {
    let style = Style::from_prompt(&params.prompt);
    let seconds = params.audio_duration.unwrap_or_else(|| default_seconds(id));
    let frames = text2music_frames(seconds);
    for variant in 0..params.batch_size as u64 {
        let seed = seed_of(id, variant);
        let score = Score {
            seed,
            style: style.clone(),
        };
        let (left, right) = continuation(None, &score, 0.0, frames, RATE);
        let audio = Audio {
            sample_rate: RATE,
            channels: vec![left, right],
        };
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
    let rest = w.until - w.keep;
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
        let (left, right) = continuation(Some(&from), &to, position, rest, RATE);
        let mut channels = padded.clone();
        for (channel, new) in channels.iter_mut().zip([left, right]) {
            channel.splice(w.keep..w.until, new);
        }
        let audio = Audio {
            sample_rate: RATE,
            channels,
        };
        if w.until == w.frames {
            let end = position + rest as f64 / f64::from(RATE);
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

/// Where the double's own outputs end on their timelines, recognised by their last second.
#[derive(Default)]
pub(crate) struct Timelines {
    tails: Vec<Tail>,
}

struct Tail {
    probe: Vec<i32>,
    seed: u64,
    prompt: String,
    end: f64,
}

/// Probe every 50th frame of the last second: enough to tell outputs apart, cheap to compare.
const PROBE_STEP: usize = 50;
const PROBE_SPAN: usize = RATE as usize;
/// 16-bit steps a sample may move on its way through the client and back (decode and re-encode round trips).
const PROBE_TOLERANCE: i32 = 4;

fn probe(channels: &[Vec<f32>], end: usize) -> Vec<i32> {
    (0..PROBE_SPAN.min(end))
        .step_by(PROBE_STEP)
        .flat_map(|back| {
            channels
                .iter()
                .map(move |c| (c[end - 1 - back].clamp(-1.0, 1.0) * 32767.0).round() as i32)
        })
        .collect()
}

impl Timelines {
    pub fn remember(&mut self, audio: &Audio, seed: u64, prompt: &str, end: f64) {
        self.tails.push(Tail {
            probe: probe(&audio.channels, audio.frames()),
            seed,
            prompt: prompt.to_string(),
            end,
        });
    }

    /// The (seed, prompt, timeline position) at which `channels[..upto]` ends, newest match first.
    pub fn find(&self, channels: &[Vec<f32>], upto: usize) -> Option<(u64, String, f64)> {
        if upto == 0 {
            return None;
        }
        let wanted = probe(channels, upto);
        self.tails
            .iter()
            .rev()
            .find(|t| {
                t.probe.len() >= wanted.len()
                    && t.probe
                        .iter()
                        .zip(&wanted)
                        .all(|(a, b)| (a - b).abs() <= PROBE_TOLERANCE)
            })
            .map(|t| (t.seed, t.prompt.clone(), t.end))
    }
}

impl Shared {
    /// Writes one output file and returns its `/v1/audio` URL.
    fn write(&self, audio: &Audio) -> Result<String, String> {
        let path = self.output.audio.join(format!("{}.wav", Uuid::new_v4()));
        wav::write(&path, audio).map_err(|e| e.to_string())?;
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

    #[test]
    fn repaint_covers_the_whole_source_in_latent_frames() {
        let w = window(384_000 + 1_919, 2.0, Some(-1.0));
        assert_eq!((w.frames, w.keep, w.until), (384_000, 96_000, 384_000));
        assert_eq!(window(384_000, 2.0, None), window(384_000, 2.0, Some(0.0)));
        assert_eq!(
            window(384_000, 2.03, None).keep,
            50 * LATENT,
            "boundaries fall on 40 ms frames"
        );
        let inner = window(384_000, 2.0, Some(4.0));
        assert_eq!(
            (inner.keep, inner.until, inner.frames),
            (96_000, 192_000, 384_000)
        );
    }

    #[test]
    fn outpainting_pads_the_source_with_silence() {
        let left = window(96_000, -1.0, None);
        assert_eq!(
            (left.left_pad, left.keep, left.frames),
            (48_000, 0, 144_000)
        );
        let right = window(96_000, 1.0, Some(3.0));
        assert_eq!(
            (right.right_pad, right.until, right.frames),
            (48_000, 144_000, 144_000)
        );
    }

    #[test]
    fn timelines_recognise_their_own_audio_after_a_16_bit_round_trip() {
        let score = Score {
            seed: 3,
            style: Style::from_prompt("drone"),
        };
        let (left, right) = continuation(None, &score, 0.0, 96_000, RATE);
        let audio = Audio {
            sample_rate: RATE,
            channels: vec![left, right],
        };
        let mut timelines = Timelines::default();
        timelines.remember(&audio, 3, "drone", 2.0);
        // The client's seed: the last second, through a WAV file, then silence.
        let tail = Audio {
            sample_rate: RATE,
            channels: audio
                .channels
                .iter()
                .map(|c| c[48_000..].to_vec())
                .collect(),
        };
        let mut seed = wav::decode(&wav::encode(&tail).unwrap()).unwrap().channels;
        for c in &mut seed {
            c.resize(96_000, 0.0);
        }
        assert_eq!(
            timelines.find(&seed, 48_000),
            Some((3, "drone".into(), 2.0))
        );
        assert_eq!(
            timelines.find(&seed, 24_000),
            None,
            "a different point in the music"
        );
        assert_eq!(timelines.find(&seed, 0), None);
        let noise: Vec<Vec<f32>> = vec![
            (0..48_000)
                .map(|i| ((i * 7919) % 200) as f32 / 1000.0)
                .collect();
            2
        ];
        assert_eq!(timelines.find(&noise, 48_000), None);
    }
}
