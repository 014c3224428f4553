//! Steady loudness across segments: the new material of each one is brought to a target integrated
//! loudness (ITU-R BS.1770 / EBU R128, measured with `ebur128`) by a gain that moves slowly, never touches
//! the overlap the listener already heard, and is held under a true-peak ceiling.

mod limiter;

use ebur128::{EbuR128, Mode};

use super::{frames_in, Audio};
use limiter::Limiter;

/// Time the gain takes from unity (the heard overlap) to the level of the new material: slow enough to
/// sound like the music breathing, not like a fader.
pub const RAMP_SECONDS: f64 = 8.0;
/// The most `level` raises or lowers: near-silence is not blown up, a hot model output not crushed. A model
/// whose output level wanders by 9 dB, met in a quiet passage of the music (a few dB more), still reaches
/// the target; at 12 dB such a segment stayed 1–1.5 LU short.
pub const MAX_GAIN_DB: f64 = 15.0;
/// The true peak levelled material stays under (EBU R128's maximum for distribution).
pub const TRUE_PEAK_CEILING_DBTP: f64 = -1.0;
/// What is reported for audio without a measurable level (BS.1770 says −∞), so it serialises to JSON.
pub const FLOOR_DB: f64 = -120.0;
/// The integrated loudness `level` settles within of its target.
const TOLERANCE_LU: f64 = 0.1;
/// Below this many LU per dB of gain the limiter holds the level: raising the gain further would only
/// limit harder.
const MIN_SLOPE: f64 = 0.1;
/// At most this many rounds of levelling, measuring the result and correcting the gain or the limiter.
const MAX_ROUNDS: usize = 6;
/// Heard audio fed to the true-peak meter before the new material, so its interpolation filter starts
/// from the music as it was instead of from a step out of silence.
const PRE_ROLL_SECONDS: f64 = 0.01;

/// What `level` did, for logs and metrics (all finite; silence reads as [`FLOOR_DB`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Levelled {
    /// Integrated loudness of the material from `from` on, as it came (LUFS).
    pub before_lufs: f64,
    /// The gain the ramp arrives at (dB), before the limiter.
    pub gain_db: f64,
    /// Integrated loudness of the material from `from` on, levelled (LUFS).
    pub after_lufs: f64,
    /// True peak of the material from `from` on, levelled (dBTP).
    pub true_peak_dbtp: f64,
}

/// Integrated loudness of the whole of `audio` (LUFS; [`FLOOR_DB`] for silence or audio a meter cannot
/// take: no channels, more than 64, a sample rate outside 16 Hz–2.8 MHz).
pub fn integrated_lufs(audio: &Audio) -> f64 {
    floored(loudness(&view(audio, 0), audio.sample_rate))
}

/// True peak of `audio` over all channels (dBTP, 4× oversampled below 96 kHz; [`FLOOR_DB`] for silence).
pub fn true_peak_dbtp(audio: &Audio) -> f64 {
    let peaks = block_peaks(&[], &view(audio, 0), audio.sample_rate, usize::MAX);
    floored(db(peaks.into_iter().fold(0.0, f32::max)))
}

/// Brings frames `from..` of `audio` to `target_lufs` integrated loudness, leaving frames before `from`
/// (what the listener already heard) bit for bit as they were.
///
/// The gain is unity at `from` and moves over [`RAMP_SECONDS`] (a raised cosine; at most a third of the
/// new material) to the gain that puts
/// the material from `from` on at the target, ramp included, within ±[`MAX_GAIN_DB`]; with `from == 0`
/// (nothing heard yet) it is that gain throughout. A look-ahead limiter on the gain keeps the true peak
/// from `from` on at or below [`TRUE_PEAK_CEILING_DBTP`]: the levelled material's true peak is measured
/// in 5 ms blocks, and before a block above the ceiling the gain falls at 1 dB/ms, recovering at 3 dB/s
/// after it. It lowers the gain right at `from` only when the heard audio itself ran into the new
/// material above the ceiling.
///
/// Material without a measurable loudness (silence, less than 0.4 s) and a target that is not a number
/// keep their level (gain 0 dB) and are only limited; audio no meter takes (no channels, a sample rate
/// outside 16 Hz–2.8 MHz) is left as it is.
pub fn level(audio: &mut Audio, from: usize, target_lufs: f64) -> Levelled {
    let rate = audio.sample_rate;
    let frames = frames(audio);
    let from = from.min(frames);
    let pre = from - frames_in(PRE_ROLL_SECONDS, rate).min(from);
    let pre_roll: Vec<&[f32]> = view(audio, pre).iter().map(|c| &c[..from - pre]).collect();
    let before = loudness(&view(audio, from), rate);
    let block = frames_in(limiter::BLOCK_SECONDS, rate).max(1);
    let mut limiter = Limiter::new(frames - from, block, TRUE_PEAK_CEILING_DBTP);
    let mut ceilings = limiter.ceilings(frames - from, rate);
    let adjustable = before.is_finite() && target_lufs.is_finite();
    let clamp = |gain: f64| gain.clamp(-MAX_GAIN_DB, MAX_GAIN_DB);
    // Short segments (tests, tiny overlaps) still reach the gain: the ramp takes at most a third of them.
    let ramp = Ramp::new(from, frames_in(RAMP_SECONDS, rate).min((frames - from) / 3));
    let mut gain_db = if adjustable {
        clamp((target_lufs - before) / ramp.share(frames - from))
    } else {
        0.0
    };
    let (mut levelled, mut after, mut peaks) = (Vec::new(), before, Vec::new());
    // The previous try, (gain, loudness): unity gain leaves the loudness as it came.
    let mut tried = (0.0, before);
    for round in 1..=MAX_ROUNDS {
        let gains = gains(&ramp, gain_db, &ceilings);
        levelled = view(audio, from)
            .iter()
            .map(|c| c.iter().zip(&gains).map(|(s, g)| s * g).collect())
            .collect();
        let levelled_view: Vec<&[f32]> = levelled.iter().map(Vec::as_slice).collect();
        after = loudness(&levelled_view, rate);
        // Loudness gained per dB of gain since the previous try: below 1 while the ramp or the limiter
        // takes part of the gain, near 0 when the limiter holds the level and more gain only limits harder.
        let slope = (after - tried.1) / (gain_db - tried.0);
        let next = if slope.is_finite() && slope > MIN_SLOPE {
            clamp(gain_db + (target_lufs - after) / slope.min(1.0))
        } else {
            gain_db
        };
        let settled = !adjustable || !after.is_finite() || (next - gain_db).abs() <= TOLERANCE_LU;
        if !settled && round < MAX_ROUNDS {
            tried = (gain_db, after);
            gain_db = next;
            continue;
        }
        peaks = block_peaks(&pre_roll, &levelled_view, rate, block);
        if !limiter.tighten(&peaks, &gains) {
            break;
        }
        // Limiting takes a little loudness off the peaks; the gain is not raised to make up for it.
        ceilings = limiter.ceilings(frames - from, rate);
        tried = (gain_db, after);
    }
    for (channel, levelled) in audio.channels.iter_mut().zip(levelled) {
        channel[from..frames].copy_from_slice(&levelled);
    }
    Levelled {
        before_lufs: floored(before),
        gain_db,
        after_lufs: floored(after),
        true_peak_dbtp: floored(db(peaks.into_iter().fold(0.0, f32::max))),
    }
}

/// The levelling gain's shape from `from` on: 0 (unity) to 1 (the full gain) over `frames`, a raised
/// cosine so it starts and arrives without a corner; the full gain throughout when nothing was heard.
struct Ramp {
    frames: usize,
}

impl Ramp {
    fn new(from: usize, frames: usize) -> Ramp {
        Ramp {
            frames: if from == 0 { 0 } else { frames },
        }
    }

    /// About how much of the full gain (in dB) `frames` frames from `from` on get, ramp included: the
    /// first guess at the gain that reaches a target.
    fn share(&self, frames: usize) -> f64 {
        if frames == 0 {
            return 1.0;
        }
        1.0 - 0.5 * self.frames.min(frames) as f64 / frames as f64
    }

    /// How far along the ramp frame `i` (counted from `from`) is.
    fn at(&self, i: usize) -> f64 {
        if i >= self.frames {
            return 1.0;
        }
        0.5 - 0.5 * (std::f64::consts::PI * i as f64 / self.frames as f64).cos()
    }
}

/// Linear gain per frame from `from` on: the ramp towards `gain_db`, held under the limiter's `ceilings`.
fn gains(ramp: &Ramp, gain_db: f64, ceilings: &[f32]) -> Vec<f32> {
    // Most frames have the gain of the frame before (past the ramp, no peak near): `powf` only on change.
    let mut last = (f64::NAN, 1.0);
    ceilings
        .iter()
        .enumerate()
        .map(|(i, &ceiling)| {
            let db = (gain_db * ramp.at(i)).min(f64::from(ceiling));
            if db != last.0 {
                last = (db, 10f64.powf(db / 20.0) as f32);
            }
            last.1
        })
        .collect()
}

/// Frames every channel has (the shortest, should they differ).
fn frames(audio: &Audio) -> usize {
    audio.channels.iter().map(Vec::len).min().unwrap_or(0)
}

/// Frames `from..` of every channel, all of one length.
fn view(audio: &Audio, from: usize) -> Vec<&[f32]> {
    let frames = frames(audio);
    audio
        .channels
        .iter()
        .map(|c| &c[from.min(frames)..frames])
        .collect()
}

fn meter(channels: usize, rate: u32, mode: Mode) -> Option<EbuR128> {
    EbuR128::new(u32::try_from(channels).ok()?, rate, mode).ok()
}

/// Integrated loudness (LUFS), −∞ when there is none to measure.
fn loudness(channels: &[&[f32]], rate: u32) -> f64 {
    let measured = meter(channels.len(), rate, Mode::I).and_then(|mut meter| {
        meter.add_frames_planar_f32(channels).ok()?;
        meter.loudness_global().ok()
    });
    measured.unwrap_or(f64::NEG_INFINITY)
}

/// Linear true peak over all channels of each block of `block` frames of `channels`, with `pre_roll`
/// (the audio just before) fed to the meter first and not counted. Empty when no meter takes the audio.
fn block_peaks(pre_roll: &[&[f32]], channels: &[&[f32]], rate: u32, block: usize) -> Vec<f32> {
    let Some(mut meter) = meter(channels.len(), rate, Mode::TRUE_PEAK) else {
        return Vec::new();
    };
    let frames = channels.first().map_or(0, |c| c.len());
    if !pre_roll.is_empty() && meter.add_frames_planar_f32(pre_roll).is_err() {
        return Vec::new();
    }
    let mut peaks = Vec::with_capacity(frames.div_ceil(block));
    let mut start = 0;
    while start < frames {
        let end = start.saturating_add(block).min(frames);
        let part: Vec<&[f32]> = channels.iter().map(|c| &c[start..end]).collect();
        if meter.add_frames_planar_f32(&part).is_err() {
            return Vec::new();
        }
        let peak = (0..channels.len() as u32)
            .filter_map(|c| meter.prev_true_peak(c).ok())
            .fold(0.0f64, f64::max);
        peaks.push(peak as f32);
        start = end;
    }
    peaks
}

fn db(linear: f32) -> f64 {
    20.0 * f64::from(linear).log10()
}

fn floored(db: f64) -> f64 {
    if db.is_nan() {
        FLOOR_DB
    } else {
        db.max(FLOOR_DB)
    }
}

#[cfg(test)]
mod tests;
