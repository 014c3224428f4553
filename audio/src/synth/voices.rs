//! How each kind of voice fills a buffer: wavetable tones (with chorus or vibrato), struck and plucked
//! notes, glides, and coloured noise. Every voice reads its phase and envelope from the note's own clock
//! at the buffer's first sample, so no rounding carries over from one buffer to the next.

use super::dsp::{decay_run, fixed, lookup, noise, sine, table, EnvRun, Spectrum};
use super::score::{Color, Note, Voice};

const VIBRATO_HZ: f64 = 5.2;

/// Where one note's samples in a buffer start, and how they are placed.
pub(super) struct Run {
    /// Note-local time at the first sample, seconds.
    pub(super) tau0: f64,
    pub(super) dt: f64,
    pub(super) rate: f64,
    pub(super) freq: f64,
    /// Left and right gains (level and pan).
    pub(super) gains: (f32, f32),
    /// Absolute sample index of the first sample (noise is a function of it).
    pub(super) index: i64,
}

impl Run {
    fn phase(&self, freq: f64) -> u32 {
        fixed(freq * self.tau0)
    }

    fn step(&self, freq: f64) -> u32 {
        (freq * self.dt * 4_294_967_296.0) as u32
    }
}

/// Adds `note`'s samples to `l` and `r`, which start at `run`'s first sample.
pub(super) fn play(run: &Run, note: &Note, l: &mut [f32], r: &mut [f32]) {
    let env = EnvRun::new(&note.env, run.tau0, run.dt);
    match note.voice {
        Voice::Tone {
            spectrum,
            detune,
            vibrato,
            ..
        } => tone(run, env, spectrum, detune, vibrato, l, r),
        Voice::Struck {
            body,
            bright,
            ratio,
            bright_amp,
            bright_decay,
        } => struck(
            run,
            env,
            (body, bright, ratio),
            bright_amp,
            bright_decay,
            l,
            r,
        ),
        Voice::Glide { from, time } => glide(run, env, from, time, l, r),
        Voice::Noise { color, salt } => coloured(run, env, color, salt, l, r),
    }
}

/// Two detuned oscillators, one leaning left, one right; one centred one without detune or vibrato.
fn tone(
    run: &Run,
    mut env: EnvRun,
    spectrum: Spectrum,
    detune: f64,
    vibrato: f32,
    l: &mut [f32],
    r: &mut [f32],
) {
    let (gl, gr) = run.gains;
    let f = run.freq;
    let (fa, fb) = (f * (1.0 + detune), f * (1.0 - detune));
    let (ta, tb) = (table(spectrum, fa, run.rate), table(spectrum, fb, run.rate));
    let (mut pa, mut pb) = (run.phase(fa), run.phase(fb));
    let (ia, ib) = (run.step(fa), run.step(fb));
    if vibrato == 0.0 && detune == 0.0 {
        // Short notes and basses need no chorus.
        mix_into(l, r, || {
            let a = lookup(ta, pa) * env.next();
            pa = pa.wrapping_add(ia);
            (gl * a, gr * a)
        });
    } else if vibrato == 0.0 {
        mix_into(l, r, || {
            let e = env.next();
            let (a, b) = (lookup(ta, pa) * e, lookup(tb, pb) * e);
            pa = pa.wrapping_add(ia);
            pb = pb.wrapping_add(ib);
            (gl * (0.75 * a + 0.25 * b), gr * (0.25 * a + 0.75 * b))
        });
    } else {
        // Vibrato as phase modulation at 5.2 Hz: a depth of c cents swings the phase by
        // f·c·ln2/1200/(2π·5.2) cycles, read on the note's own clock.
        let sine_table = table(Spectrum::Sine, 1.0, 1.0);
        let (mut pv, iv) = (run.phase(VIBRATO_HZ), run.step(VIBRATO_HZ));
        let swing = f * f64::from(vibrato) * std::f64::consts::LN_2
            / 1200.0
            / (std::f64::consts::TAU * VIBRATO_HZ);
        let depth = (swing * 4_294_967_296.0) as f32;
        mix_into(l, r, || {
            let e = env.next();
            let off = (lookup(sine_table, pv) * depth) as i32 as u32;
            let a = lookup(ta, pa.wrapping_add(off)) * e;
            let b = lookup(tb, pb.wrapping_add(off)) * e;
            pa = pa.wrapping_add(ia);
            pb = pb.wrapping_add(ib);
            pv = pv.wrapping_add(iv);
            (gl * (0.75 * a + 0.25 * b), gr * (0.25 * a + 0.75 * b))
        });
    }
}

/// A body plus brighter partials (at `ratio` × the pitch) that die away over `bright_decay` seconds.
fn struck(
    run: &Run,
    mut env: EnvRun,
    (body, bright, ratio): (Spectrum, Spectrum, f64),
    bright_amp: f32,
    bright_decay: f64,
    l: &mut [f32],
    r: &mut [f32],
) {
    let (gl, gr) = run.gains;
    let (f, fb) = (run.freq, run.freq * ratio);
    let amp2 = if fb < 0.45 * run.rate {
        bright_amp
    } else {
        0.0
    };
    let (ta, tb) = (table(body, f, run.rate), table(bright, fb, run.rate));
    let (mut pa, mut pb, ia, ib) = (run.phase(f), run.phase(fb), run.step(f), run.step(fb));
    let (mut fade, fade_step) = decay_run(bright_decay, run.tau0, run.dt);
    mix_into(l, r, || {
        let x = (lookup(ta, pa) + lookup(tb, pb) * amp2 * fade as f32) * env.next();
        pa = pa.wrapping_add(ia);
        pb = pb.wrapping_add(ib);
        fade *= fade_step;
        (gl * x, gr * x)
    });
}

/// A sine gliding exponentially from `freq + from` down (or up) to `freq` over `time` seconds.
fn glide(run: &Run, mut env: EnvRun, from: f64, time: f64, l: &mut [f32], r: &mut [f32]) {
    let (gl, gr) = run.gains;
    let (mut d, d_step) = decay_run(time, run.tau0, run.dt);
    let mut tau = run.tau0;
    mix_into(l, r, || {
        let x = sine(run.freq * tau + from * time * (1.0 - d)) * env.next();
        tau += run.dt;
        d *= d_step;
        (gl * x, gr * x)
    });
}

/// Hashed noise, differentiated once (hiss) or twice (air) for brighter colours.
fn coloured(run: &Run, mut env: EnvRun, color: Color, salt: u64, l: &mut [f32], r: &mut [f32]) {
    let (gl, gr) = run.gains;
    let mut k = run.index;
    // The two samples before, carried along so each sample hashes once.
    let (mut n1, mut n2) = (noise(k - 1, salt), noise(k - 2, salt));
    mix_into(l, r, || {
        let n0 = noise(k, salt);
        let x = match color {
            Color::White => n0,
            Color::Hiss => 0.5 * (n0 - n1),
            Color::Air => 0.25 * (n0 - 2.0 * n1 + n2),
        } * env.next();
        (n2, n1) = (n1, n0);
        k += 1;
        (gl * x, gr * x)
    });
}

#[inline]
fn mix_into(l: &mut [f32], r: &mut [f32], mut voice: impl FnMut() -> (f32, f32)) {
    for (l, r) in l.iter_mut().zip(r.iter_mut()) {
        let (x, y) = voice();
        *l += x;
        *r += y;
    }
}
