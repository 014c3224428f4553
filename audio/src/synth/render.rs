//! Rendering: notes into chunk buffers, then the stateful bus (pad filter, reverb, textures, master).
//!
//! Notes are pure functions of absolute time (phases and envelopes come from each note's own
//! start), so only the bus carries state; it is run from a pre-roll long enough to converge.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

use super::dsp::{
    coef, decay_run, fixed, lookup, noise, noise_pair, sine, smooth, table, EnvRun, OnePole,
    Reverb, Tape,
};
use super::score::{Note, Plan, Score, Voice};
use super::style::Mood;

/// Bus warm-up before the requested start: at least 10 reverb time constants (RT60 <= 4 s).
const PREROLL_SECONDS: f64 = 6.0;
const CHUNK: usize = 2048;
/// Below this there is no meaningful audio band to fill; such requests get silence.
const MIN_RATE: u32 = 4000;
/// About 30 years; far beyond any session, and f64 seconds stay sub-sample precise up to here.
const MAX_START: f64 = 1e9;
const FADE_IN: f64 = 0.5;
const MASTER_GAIN: f32 = 1.85;
/// Far-apart offsets into the noise sequence, so the beds never repeat one another's samples.
const RAIN_SALT: u64 = 0x7A11_0000_0000_0000;
const HISS_SALT: u64 = 0x0415_5000_0000_0000;

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
        chunk.prepare(n);
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

/// One chunk of dry signal: direct voices and pad voices (filtered later).
struct Chunk {
    len: usize,
    l: Vec<f32>,
    r: Vec<f32>,
    pad_l: Vec<f32>,
    pad_r: Vec<f32>,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk {
            len: 0,
            l: vec![0.0; CHUNK],
            r: vec![0.0; CHUNK],
            pad_l: vec![0.0; CHUNK],
            pad_r: vec![0.0; CHUNK],
        }
    }

    fn prepare(&mut self, len: usize) {
        self.len = len;
        for buf in [&mut self.l, &mut self.r, &mut self.pad_l, &mut self.pad_r] {
            buf.fill(0.0);
        }
    }

    /// Adds `note`'s samples that fall in this chunk; `index0` is the chunk's absolute sample index.
    fn add(&mut self, note: &Note, t0: f64, rate: f64, index0: i64) {
        let first = (((note.start - t0) * rate).ceil().max(0.0) as usize).min(self.len);
        let last = (((note.end() - t0) * rate).ceil().max(0.0) as usize).min(self.len);
        if first >= last || note.freq >= 0.45 * rate {
            return;
        }
        let dt = 1.0 / rate;
        let tau0 = t0 + first as f64 * dt - note.start;
        let mut env = EnvRun::new(&note.env, tau0, dt);
        let angle = f64::from(note.pan.clamp(-1.0, 1.0) + 1.0) * FRAC_PI_4;
        let (gl, gr) = (note.amp * angle.cos() as f32, note.amp * angle.sin() as f32);
        let f = note.freq;
        // Phases restart from the note's own clock in every chunk, so no error carries over.
        let phase = |freq: f64| fixed(freq * tau0);
        let step = |freq: f64| (freq * dt * 4_294_967_296.0) as u32;
        let span = first..last;
        let (l, r) = match note.voice {
            Voice::Tone { pad: true, .. } => (&mut self.pad_l[span.clone()], &mut self.pad_r[span]),
            _ => (&mut self.l[span.clone()], &mut self.r[span]),
        };
        match note.voice {
            Voice::Tone {
                spectrum, detune, ..
            } => {
                let (fa, fb) = (f * (1.0 + detune), f * (1.0 - detune));
                let (ta, tb) = (table(spectrum, fa, rate), table(spectrum, fb, rate));
                let (mut pa, mut pb, ia, ib) = (phase(fa), phase(fb), step(fa), step(fb));
                mix_into(l, r, || {
                    let e = env.next();
                    let (a, b) = (lookup(ta, pa) * e, lookup(tb, pb) * e);
                    pa = pa.wrapping_add(ia);
                    pb = pb.wrapping_add(ib);
                    (gl * (0.75 * a + 0.25 * b), gr * (0.25 * a + 0.75 * b))
                });
            }
            Voice::Struck {
                body,
                bright,
                ratio,
                bright_amp,
                bright_decay,
            } => {
                let fb = f * ratio;
                let amp2 = if fb < 0.45 * rate { bright_amp } else { 0.0 };
                let (ta, tb) = (table(body, f, rate), table(bright, fb, rate));
                let (mut pa, mut pb, ia, ib) = (phase(f), phase(fb), step(f), step(fb));
                let (mut fade, fade_step) = decay_run(bright_decay, tau0, dt);
                mix_into(l, r, || {
                    let x = (lookup(ta, pa) + lookup(tb, pb) * amp2 * fade as f32) * env.next();
                    pa = pa.wrapping_add(ia);
                    pb = pb.wrapping_add(ib);
                    fade *= fade_step;
                    (gl * x, gr * x)
                });
            }
            Voice::Glide { from, time } => {
                let (mut d, d_step) = decay_run(time, tau0, dt);
                let mut tau = tau0;
                mix_into(l, r, || {
                    let x = sine(f * tau + from * time * (1.0 - d)) * env.next();
                    tau += dt;
                    d *= d_step;
                    (gl * x, gr * x)
                });
            }
            Voice::Noise { bright, salt } => {
                let mut k = index0 + first as i64;
                mix_into(l, r, || {
                    let x = if bright {
                        0.5 * (noise(k, salt) - noise(k - 2, salt))
                    } else {
                        noise(k, salt)
                    } * env.next();
                    k += 1;
                    (gl * x, gr * x)
                });
            }
        }
    }
}

#[inline]
fn mix_into(l: &mut [f32], r: &mut [f32], mut voice: impl FnMut() -> (f32, f32)) {
    for (l, r) in l.iter_mut().zip(r.iter_mut()) {
        let (x, y) = voice();
        *l += x;
        *r += y;
    }
}

/// Per-sample soft limiter: identity below the knee, smooth approach to -1 dBFS above it.
#[inline]
fn soft_clip(x: f32) -> f32 {
    const KNEE: f32 = 0.5;
    const ROOM: f32 = 0.89 - KNEE;
    let a = x.abs();
    if a <= KNEE {
        x
    } else {
        (KNEE + ROOM * ((a - KNEE) / ROOM).tanh()).copysign(x)
    }
}

/// The stateful part of the signal path.
struct Bus {
    rate: f64,
    pad: [OnePole; 4],
    pad_cut: f64,
    pad_a: f32,
    gust: f32,
    /// Tape delay (16.16 samples) at the current block start and its per-sample slope.
    wow: (i64, i64),
    send: [OnePole; 2],
    send_a: f32,
    reverb: Reverb,
    wet: f32,
    tone: [OnePole; 2],
    tone_a: f32,
    dc: [OnePole; 2],
    dc_a: f32,
    rain: [OnePole; 4],
    rain_amp: f32,
    hiss: [OnePole; 2],
    hiss_amp: f32,
    tape: Option<Tape>,
}

impl Bus {
    fn new(plan: &Plan, rate: f64) -> Bus {
        let s = &plan.style;
        let (pad_cut, tone_cut) = match s.mood {
            Mood::Dark => (750.0, 6000.0),
            Mood::Neutral => (1200.0, 9000.0),
            Mood::Bright => (2000.0, 11000.0),
        };
        let darken = if s.warm { 0.8 } else { 1.0 } * if s.lofi { 0.7 } else { 1.0 };
        let spacious = s.ambient || s.drone;
        let rt60 = if s.lofi {
            2.2
        } else if spacious {
            4.0
        } else {
            3.0
        };
        Bus {
            rate,
            pad: [OnePole::default(); 4],
            pad_cut: pad_cut * darken,
            pad_a: 0.0,
            gust: 0.0,
            wow: (0, 0),
            send: [OnePole::default(); 2],
            send_a: coef(150.0, rate),
            reverb: Reverb::new(rate, rt60),
            wet: if spacious { 0.6 } else { 0.4 },
            tone: [OnePole::default(); 2],
            tone_a: coef((tone_cut * darken * darken).min(0.45 * rate), rate),
            dc: [OnePole::default(); 2],
            dc_a: coef(15.0, rate),
            rain: [OnePole::default(); 4],
            rain_amp: if s.rain { 0.07 } else { 0.0 },
            hiss: [OnePole::default(); 2],
            hiss_amp: if s.lofi { 0.012 } else { 0.0 },
            tape: s.lofi.then(Tape::new),
        }
    }

    fn process(&mut self, c: &mut Chunk, t0: f64, index0: i64) {
        let rate = self.rate;
        let (rain_lp, rain_hp, hiss_lp) =
            (coef(2000.0, rate), coef(400.0, rate), coef(3500.0, rate));
        for i in 0..c.len {
            let t = t0 + i as f64 / rate;
            let k = index0 + i as i64;
            // Slow modulators are held over 32-sample blocks aligned to the absolute sample index,
            // which keeps them cheap and still a pure function of time.
            if i == 0 || k & 31 == 0 {
                let tb = (k & !31) as f64 / rate;
                // The pad's brightness drifts on two slow, unrelated cycles.
                let drift = 0.45 * sine(tb / 29.0) + 0.2 * sine(tb / 11.3 + 0.3);
                self.pad_a = coef(self.pad_cut * (1.0 + f64::from(drift)), rate);
                self.gust = self.rain_amp * (0.8 + 0.2 * sine(tb / 17.0));
                // A delay swept ±1.2 ms over 2.9 s gives about ±4 cents of wow; it is
                // interpolated linearly across the block.
                let delay =
                    |t: f64| Tape::fixed_delay(rate * (0.003 + 0.0012 * f64::from(sine(t / 2.9))));
                let from = delay(tb);
                self.wow = (from, (delay(tb + 32.0 / rate) - from) / 32);
            }
            let a = self.pad_a;
            let pl = self.pad[0].low(c.pad_l[i], a);
            let pl = self.pad[1].low(pl, a);
            let pr = self.pad[2].low(c.pad_r[i], a);
            let pr = self.pad[3].low(pr, a);
            let (mut dl, mut dr) = (c.l[i] + pl, c.r[i] + pr);
            if let Some(tape) = &mut self.tape {
                (dl, dr) = tape.tick(dl, dr, self.wow.0 + self.wow.1 * (k & 31));
            }
            // Lows stay out of the reverb: a long bass tail only muddies the mix.
            let sl = dl - self.send[0].low(dl, self.send_a);
            let sr = dr - self.send[1].low(dr, self.send_a);
            let (wl, wr) = self.reverb.tick(sl, sr);
            let (mut l, mut r) = (dl + wl * self.wet, dr + wr * self.wet);
            if self.rain_amp > 0.0 {
                let (nl, nr) = noise_pair(k, RAIN_SALT);
                for (f, (n, out)) in self.rain.chunks_mut(2).zip([(nl, &mut l), (nr, &mut r)]) {
                    let x = f[0].low(n, rain_lp);
                    *out += self.gust * (x - f[1].low(x, rain_hp));
                }
            }
            if self.hiss_amp > 0.0 {
                let (nl, nr) = noise_pair(k, HISS_SALT);
                l += self.hiss_amp * self.hiss[0].low(nl, hiss_lp);
                r += self.hiss_amp * self.hiss[1].low(nr, hiss_lp);
            }
            let l = self.tone[0].low(l, self.tone_a);
            let r = self.tone[1].low(r, self.tone_a);
            let (l, r) = (
                l - self.dc[0].low(l, self.dc_a),
                r - self.dc[1].low(r, self.dc_a),
            );
            let g = MASTER_GAIN * smooth(t / FADE_IN) as f32;
            c.l[i] = soft_clip(l * g);
            c.r[i] = soft_clip(r * g);
        }
    }
}
