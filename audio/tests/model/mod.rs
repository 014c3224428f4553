//! A stand-in for the newer ACE-Step server's repaint (reference §9.1), made of the synthesizer: the
//! seed's overlap is spliced back with a short crossfade into new music of the same piece, the new
//! music's level is whatever the model made of it, and the saved file is peak-normalised to −1 dBFS and
//! 16-bit. Shared by the chain test and the loudness report (`examples/loudness_report.rs`).

use std::time::Instant;

use tsuzuki_audio::join::{measure, Join};
use tsuzuki_audio::loudness::{level, Levelled};
use tsuzuki_audio::synth::{continuation, Score, Style};
use tsuzuki_audio::{frames_in, seed, Audio, SAMPLE_RATE};

/// Upstream's default (balanced) latent crossfade from the kept source into the new material.
const SPLICE_SECONDS: f64 = 0.48;
/// The level of the new material varies this much from segment to segment (dB below the synth's own).
const NEW_MATERIAL_RANGE_DB: f64 = 9.0;
/// What upstream normalises every saved file's peak to.
const PEAK_DBFS: f64 = -1.0;

/// One session's piece, and the random level the model gives each segment's new material.
pub struct Model {
    score: Score,
    random: fastrand::Rng,
    segment_frames: usize,
    overlap_frames: usize,
}

impl Model {
    pub fn new(prompt: &str, seed: u64, segment_seconds: f64, overlap_seconds: f64) -> Model {
        Model {
            score: Score {
                seed,
                style: Style::from_prompt(prompt),
            },
            random: fastrand::Rng::with_seed(seed),
            segment_frames: frames_in(segment_seconds, SAMPLE_RATE),
            overlap_frames: frames_in(overlap_seconds, SAMPLE_RATE),
        }
    }

    /// Segment `index` of the piece as the synthesizer renders it, at its own level.
    pub fn render(&self, index: usize) -> Audio {
        let start = (index * (self.segment_frames - self.overlap_frames)) as f64;
        let (left, right) = continuation(
            None,
            &self.score,
            start / f64::from(SAMPLE_RATE),
            self.segment_frames,
            SAMPLE_RATE,
        );
        Audio {
            sample_rate: SAMPLE_RATE,
            channels: vec![left, right],
        }
    }

    /// What the model returns for segment `index`: text2music for the first, else a repaint of a seed
    /// that starts with `heard`.
    fn generate(&mut self, index: usize, heard: Option<&Audio>) -> Audio {
        let gain = 10f32.powf(-self.random.f32() * NEW_MATERIAL_RANGE_DB as f32 / 20.0);
        let mut out = self.render(index);
        out.channels.iter_mut().flatten().for_each(|s| *s *= gain);
        if let Some(heard) = heard {
            let splice = frames_in(SPLICE_SECONDS, SAMPLE_RATE);
            let kept = self.overlap_frames.min(heard.frames());
            for (new, old) in out.channels.iter_mut().zip(&heard.channels) {
                for (i, sample) in new[..kept].iter_mut().enumerate() {
                    let into_new = (i + splice).saturating_sub(kept) as f32 / splice as f32;
                    *sample = old[i] * (1.0 - into_new) + *sample * into_new;
                }
            }
        }
        saved(out)
    }
}

/// Peak-normalised to −1 dBFS and rounded to 16 bits, as upstream writes its files.
fn saved(mut audio: Audio) -> Audio {
    let peak = audio
        .channels
        .iter()
        .flatten()
        .fold(0.0f32, |m, s| m.max(s.abs()));
    let gain = 10f32.powf(PEAK_DBFS as f32 / 20.0) / peak;
    for sample in audio.channels.iter_mut().flatten() {
        *sample = (*sample * gain * 32768.0).round() / 32768.0;
    }
    audio
}

/// One segment of a session as the server makes it.
pub struct Segment {
    pub audio: Audio,
    /// How the returned overlap matched what was heard (None for the first segment).
    pub join: Option<Join>,
    /// How far the overlap as it will play is from what was heard, after matching (dB).
    pub step_db: f64,
    /// None when the chain runs without levelling.
    pub levelled: Option<Levelled>,
    /// Time the server's part took: measuring the join, matching and levelling.
    pub settle_seconds: f64,
}

/// What the server does with segment `index` as the model returned it: match its overlap to what was
/// heard, then level what follows the overlap (or the whole of a first segment) to `target_lufs`.
/// Without a target, the segment is kept as returned, as the server does before levelling.
fn settle(
    model: &Model,
    heard: Option<&Audio>,
    mut returned: Audio,
    target_lufs: Option<f64>,
) -> Segment {
    let started = Instant::now();
    let join = heard.map(|h| measure(h, &returned, model.overlap_frames));
    if let (Some(join), Some(_)) = (join, target_lufs) {
        join.apply(&mut returned);
    }
    let from = if heard.is_some() {
        model.overlap_frames
    } else {
        0
    };
    let levelled = target_lufs.map(|target| level(&mut returned, from, target));
    let settle_seconds = started.elapsed().as_secs_f64();
    // Levelling leaves the overlap as it is, so this is the step the listener hears at the crossfade.
    let step_db = heard.map_or(0.0, |h| {
        measure(h, &returned, model.overlap_frames).gain_db()
    });
    Segment {
        audio: returned,
        join,
        step_db,
        levelled,
        settle_seconds,
    }
}

/// A session of `count` segments through `model`, each settled towards `target_lufs`.
pub fn session(model: &mut Model, count: usize, target_lufs: Option<f64>) -> Vec<Segment> {
    let mut segments: Vec<Segment> = Vec::with_capacity(count);
    for index in 0..count {
        // What the server keeps of the segment before: its last overlap, as the listener heard it.
        let heard = segments
            .last()
            .map(|s| seed::build(&s.audio, model.overlap_frames, model.overlap_frames));
        let returned = model.generate(index, heard.as_ref());
        segments.push(settle(model, heard.as_ref(), returned, target_lufs));
    }
    segments
}
