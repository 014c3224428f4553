//! Rendering: notes into chunk buffers, then the stateful bus (pad filter, reverb, textures, master).
//!
//! Notes are pure functions of absolute time (phases and envelopes come from each note's own
//! start), so only the bus carries state; it is run from a pre-roll long enough to converge.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

use super::bus::Bus;
use super::score::{Lane, Note, Plan, Score, Voice};
use super::voices;

/// Bus warm-up before the requested start: at least 10 reverb time constants (RT60 <= 4 s).
const PREROLL_SECONDS: f64 = 6.0;
const CHUNK: usize = 2048;
/// Below this there is no meaningful audio band to fill; such requests get silence.
const MIN_RATE: u32 = 4000;
/// About 30 years; far beyond any session, and f64 seconds stay sub-sample precise up to here.
const MAX_START: f64 = 1e9;

/// Renders `frames` stereo frames at `sample_rate` Hz of the endless piece, starting at absolute time `start_seconds` (>= 0) of its timeline.
/// Returns (left, right), each `frames` long, samples in [-1, 1].
pub(super) fn render(
    score: &Score,
    start_seconds: f64,
    frames: usize,
    sample_rate: u32,
) -> (Vec<f32>, Vec<f32>) {
    let mut left = vec![0.0; frames];
    let mut right = vec![0.0; frames];
    if frames == 0 || sample_rate < MIN_RATE {
        return (left, right);
    }
    let rate = f64::from(sample_rate);
    let start = clean_start(start_seconds);
    // The piece starts from silence at 0, so the pre-roll never reaches before it; the epsilon
    // keeps a start that is a whole number of samples from rounding down to the previous one.
    let pre = ((start * rate + 1e-6).floor() as usize).min((PREROLL_SECONDS * rate) as usize);
    let t0 = start - pre as f64 / rate;
    let total = pre + frames;
    let plan = Plan::new(score);
    let notes = plan.notes(t0, t0 + total as f64 / rate);
    let mut bus = Bus::new(&plan, rate);
    let mut chunk = Chunk::new();
    let first_index = (start * rate).round() as i64 - pre as i64;
    let (mut pos, mut next) = (0, 0);
    let mut active: Vec<Note> = Vec::new();
    while pos < total {
        let n = CHUNK.min(total - pos);
        let ct0 = t0 + pos as f64 / rate;
        let ct1 = t0 + (pos + n) as f64 / rate;
        while next < notes.len() && notes[next].start < ct1 {
            active.push(notes[next]);
            next += 1;
        }
        active.retain(|note| note.end() > ct0);
        chunk.prepare(n, first_index + pos as i64);
        for note in &active {
            chunk.add(note, ct0, rate, first_index + pos as i64);
        }
        bus.process(&mut chunk, ct0, first_index + pos as i64);
        for (i, (l, r)) in chunk.l.iter().zip(&chunk.r).enumerate().take(n) {
            if let Some(k) = (pos + i).checked_sub(pre) {
                left[k] = *l;
                right[k] = *r;
            }
        }
        pos += n;
    }
    (left, right)
}

/// Like `render`, but morphs from `from` to `to`: pure `from` before `morph_start_seconds` (absolute), an equal-power blend over `morph_seconds`, pure `to` after.
pub(super) fn render_morph(
    from: &Score,
    to: &Score,
    morph_start_seconds: f64,
    morph_seconds: f64,
    start_seconds: f64,
    frames: usize,
    sample_rate: u32,
) -> (Vec<f32>, Vec<f32>) {
    let begin = if morph_start_seconds.is_nan() {
        0.0
    } else {
        morph_start_seconds
    };
    let length = if morph_seconds.is_nan() {
        0.0
    } else {
        morph_seconds.max(0.0)
    };
    let rate = f64::from(sample_rate.max(1));
    let start = clean_start(start_seconds);
    if start + frames as f64 / rate <= begin {
        return render(from, start, frames, sample_rate);
    }
    if start >= begin + length {
        return render(to, start, frames, sample_rate);
    }
    let (mut l, mut r) = render(from, start, frames, sample_rate);
    let (tl, tr) = render(to, start, frames, sample_rate);
    for (i, ((l, r), (tl, tr))) in l
        .iter_mut()
        .zip(r.iter_mut())
        .zip(tl.iter().zip(&tr))
        .enumerate()
    {
        let t = start + i as f64 / rate;
        let x = if length > 0.0 {
            ((t - begin) / length).clamp(0.0, 1.0)
        } else {
            f64::from(u8::from(t >= begin))
        };
        let (gf, gt) = ((x * FRAC_PI_2).cos() as f32, (x * FRAC_PI_2).sin() as f32);
        *l = (*l * gf + tl * gt).clamp(-1.0, 1.0);
        *r = (*r * gf + tr * gt).clamp(-1.0, 1.0);
    }
    (l, r)
}

fn clean_start(t: f64) -> f64 {
    if t.is_nan() {
        0.0
    } else {
        t.clamp(0.0, MAX_START)
    }
}

/// One chunk of dry signal: direct voices at the full rate, and pad voices (filtered later) at half
/// the rate on a grid of even absolute sample indices, which halves the cost of the most common voice.
/// The pad filter keeps their highs well below that grid's Nyquist frequency.
pub(super) struct Chunk {
    pub(super) len: usize,
    pub(super) l: Vec<f32>,
    pub(super) r: Vec<f32>,
    pad_l: Vec<f32>,
    pad_r: Vec<f32>,
    /// Absolute sample index of the chunk's first sample, and the half-rate index of `pad_l[0]`.
    index0: i64,
    half0: i64,
    half_len: usize,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            len: 0,
            l: vec![0.0; CHUNK],
            r: vec![0.0; CHUNK],
            pad_l: vec![0.0; CHUNK / 2 + 2],
            pad_r: vec![0.0; CHUNK / 2 + 2],
            index0: 0,
            half0: 0,
            half_len: 0,
        }
    }

    fn prepare(&mut self, len: usize, index0: i64) {
        self.len = len;
        self.index0 = index0;
        self.half0 = index0.div_euclid(2);
        // One half-rate sample past the last odd sample, to interpolate towards.
        self.half_len = ((index0 + len as i64 - 1).div_euclid(2) + 2 - self.half0) as usize;
        for buf in [&mut self.l, &mut self.r, &mut self.pad_l, &mut self.pad_r] {
            buf.fill(0.0);
        }
    }

    /// The pad voices at the chunk's sample `i`, interpolated linearly between half-rate samples.
    #[inline]
    pub(super) fn pad(&self, i: usize) -> (f32, f32) {
        let h = (self.index0 + i as i64 - 2 * self.half0) as usize;
        let (a, b) = (h / 2, h.div_ceil(2));
        let at = |v: &[f32], k: usize| v.get(k).copied().unwrap_or(0.0);
        (
            0.5 * (at(&self.pad_l, a) + at(&self.pad_l, b)),
            0.5 * (at(&self.pad_r, a) + at(&self.pad_r, b)),
        )
    }

    /// Adds `note`'s samples that fall in this chunk; `index0` is the chunk's absolute sample index.
    fn add(&mut self, note: &Note, t0: f64, rate: f64, index0: i64) {
        let pad = matches!(
            note.voice,
            Voice::Tone {
                lane: Lane::Pad,
                ..
            }
        );
        let (t0, rate, len) = if pad {
            let t = t0 + (2 * self.half0 - index0) as f64 / rate;
            (t, rate / 2.0, self.half_len)
        } else {
            (t0, rate, self.len)
        };
        let first = (((note.start - t0) * rate).ceil().max(0.0) as usize).min(len);
        let last = (((note.end() - t0) * rate).ceil().max(0.0) as usize).min(len);
        if first >= last || note.freq >= 0.45 * rate {
            return;
        }
        let dt = 1.0 / rate;
        let angle = f64::from(note.pan.clamp(-1.0, 1.0) + 1.0) * FRAC_PI_4;
        let run = voices::Run {
            tau0: t0 + first as f64 * dt - note.start,
            dt,
            rate,
            freq: note.freq,
            gains: (note.amp * angle.cos() as f32, note.amp * angle.sin() as f32),
            index: index0 + first as i64,
        };
        let span = first..last;
        let (l, r) = if pad {
            (&mut self.pad_l[span.clone()], &mut self.pad_r[span])
        } else {
            (&mut self.l[span.clone()], &mut self.r[span])
        };
        voices::play(&run, note, l, r);
    }
}
