//! Sound primitives: band-limited wavetables, envelopes, one-pole filters, hashed noise, reverb.

use std::f64::consts::TAU;
use std::sync::OnceLock;

const TABLE_BITS: u32 = 11;
const TABLE_LEN: usize = 1 << TABLE_BITS;
/// Harmonic counts a table is kept for; a note uses the richest one that stays below Nyquist.
const COUNTS: [usize; 12] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64];

/// Harmonic recipes for the wavetable voices (sine partials only, so nothing aliases).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Spectrum {
    Sine,
    /// A soft saw-like series the pad filter shapes.
    Pad,
    /// The full saw series: bowed strings and synths.
    Saw,
    /// Odd harmonics: hollow synth chords.
    Square,
    Bass,
    PianoBody,
    /// Hammer partials, which die away faster than the body.
    PianoBright,
    /// A string plucked a fifth of the way along: the guitar.
    Pluck,
    /// The electric piano's tine: a bell-like bark over a sine body.
    Tine,
}

const SPECTRA: [Spectrum; 9] = [
    Spectrum::Sine,
    Spectrum::Pad,
    Spectrum::Saw,
    Spectrum::Square,
    Spectrum::Bass,
    Spectrum::PianoBody,
    Spectrum::PianoBright,
    Spectrum::Pluck,
    Spectrum::Tine,
];

impl Spectrum {
    /// Amplitude of harmonic `n` (1-based).
    fn harmonic(self, n: usize) -> f64 {
        let pick = |a: &[f64]| a.get(n - 1).copied().unwrap_or(0.0);
        let k = n as f64;
        match self {
            Spectrum::Sine => pick(&[1.0]),
            Spectrum::Pad => k.powf(-1.05),
            Spectrum::Saw => 1.0 / k,
            Spectrum::Square => (n % 2) as f64 / k,
            Spectrum::Bass => pick(&[1.0, 0.35, 0.15, 0.07, 0.03]),
            Spectrum::PianoBody => k.powf(-1.4),
            Spectrum::PianoBright => f64::from(u8::from(n > 1)) * 0.8 * k.powf(-1.5),
            Spectrum::Pluck => (k * std::f64::consts::PI * 0.2).sin().abs() / k,
            Spectrum::Tine => pick(&[0.0, 0.5, 0.2, 0.08, 0.05, 0.03, 0.3, 0.15, 0.06]),
        }
    }
}

/// One single-cycle waveform with a wrap-around guard sample.
pub(super) type Table = [f32; TABLE_LEN + 1];

/// All tables, one per (spectrum, harmonic count).
fn tables() -> &'static [Table] {
    static TABLES: OnceLock<Vec<Table>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut data = Vec::with_capacity(SPECTRA.len() * COUNTS.len());
        let max = COUNTS[COUNTS.len() - 1];
        for s in SPECTRA {
            let mut wave = vec![0.0f64; TABLE_LEN + 1];
            let mut kept = Vec::with_capacity(COUNTS.len());
            for n in 1..=max {
                let a = s.harmonic(n);
                if a != 0.0 {
                    for (i, v) in wave.iter_mut().enumerate() {
                        *v += a * (TAU * (n * i) as f64 / TABLE_LEN as f64).sin();
                    }
                }
                if COUNTS.contains(&n) {
                    kept.push(wave.clone());
                }
            }
            // One gain per spectrum, so dropping harmonics near Nyquist does not change loudness.
            let peak = wave.iter().map(|v| v.abs()).fold(1e-9, f64::max);
            for w in kept {
                let mut t = [0.0; TABLE_LEN + 1];
                for (v, x) in t.iter_mut().zip(&w) {
                    *v = (x / peak) as f32;
                }
                data.push(t);
            }
        }
        data
    })
}

/// The table for `s` holding only harmonics below ~0.45 × `rate` at `freq`.
pub(super) fn table(s: Spectrum, freq: f64, rate: f64) -> &'static Table {
    let limit = (0.45 * rate / freq.max(1.0)) as usize;
    let k = COUNTS.iter().rposition(|&c| c <= limit).unwrap_or(0);
    &tables()[(s as usize) * COUNTS.len() + k]
}

/// Fixed-point phase: the full u32 range is one cycle, so wrapping is free and exact.
#[inline]
pub(super) fn fixed(cycles: f64) -> u32 {
    (fract(cycles) * 4_294_967_296.0) as u64 as u32
}

/// Fractional part in [0, 1]; avoids `floor`, which is a libm call on baseline x86-64.
#[inline]
pub(super) fn fract(x: f64) -> f64 {
    let f = x - (x as i64) as f64;
    if f < 0.0 {
        f + 1.0
    } else {
        f
    }
}

/// Linear-interpolated lookup at a fixed-point phase.
#[inline]
pub(super) fn lookup(table: &Table, phase: u32) -> f32 {
    const FRAC_BITS: u32 = 32 - TABLE_BITS;
    let i = (phase >> FRAC_BITS) as usize;
    let frac = (phase & ((1 << FRAC_BITS) - 1)) as f32 * (1.0 / (1u32 << FRAC_BITS) as f32);
    let (a, b) = (table[i], table[i + 1]);
    a + (b - a) * frac
}

/// Sine of a phase in cycles (any value).
#[inline]
pub(super) fn sine(phase: f64) -> f32 {
    lookup(table(Spectrum::Sine, 1.0, 1.0), fixed(phase))
}

/// Cubic smoothstep on [0, 1]: zero slope at both ends, so envelopes never click.
#[inline]
pub(super) fn smooth(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// Note envelope in seconds: smooth attack, optional exponential decay, smooth release after `gate`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Env {
    pub(super) attack: f64,
    pub(super) decay: f64,
    pub(super) gate: f64,
    pub(super) release: f64,
}

impl Env {
    /// `decay` of 0 means sustain.
    pub(super) const fn new(attack: f64, decay: f64, gate: f64, release: f64) -> Env {
        Env {
            attack,
            decay,
            gate,
            release,
        }
    }
}

/// Walks an envelope sample by sample from note-local time `tau`; the only transcendental calls
/// happen once here, so the per-sample cost is a few multiplies. Single precision is enough: every
/// chunk starts a fresh walk from the exact values.
pub(super) struct EnvRun {
    tau0: f32,
    /// Samples walked; time is tau0 + n·dt, so rounding never accumulates.
    n: u32,
    dt: f32,
    attack: f32,
    inv_attack: f32,
    gate: f32,
    inv_release: f32,
    level: f32,
    step: f32,
}

impl EnvRun {
    pub(super) fn new(env: &Env, tau: f64, dt: f64) -> EnvRun {
        let (level, step) = decay_run(env.decay, tau, dt);
        EnvRun {
            tau0: tau as f32,
            n: 0,
            dt: dt as f32,
            attack: env.attack as f32,
            inv_attack: (1.0 / env.attack.max(1e-4)) as f32,
            gate: env.gate as f32,
            inv_release: (1.0 / env.release.max(1e-4)) as f32,
            level: level as f32,
            step: step as f32,
        }
    }

    #[inline]
    pub(super) fn next(&mut self) -> f32 {
        let (tau, mut v) = (self.tau0 + self.n as f32 * self.dt, self.level);
        self.n += 1;
        self.level *= self.step;
        // Most samples sit between attack and release, where only the decay applies.
        if tau < self.attack {
            v *= smooth32(tau * self.inv_attack);
        }
        if tau > self.gate {
            v *= 1.0 - smooth32((tau - self.gate) * self.inv_release);
        }
        v
    }
}

#[inline]
fn smooth32(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// Exponential decay exp(-tau / time) at `tau` and its per-sample factor; time 0 means none.
pub(super) fn decay_run(time: f64, tau: f64, dt: f64) -> (f64, f64) {
    if time > 0.0 {
        ((-tau.max(0.0) / time).exp(), (-dt / time).exp())
    } else {
        (1.0, 1.0)
    }
}

/// One-pole low-pass; high-pass is `x - low(x)`.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct OnePole(f32);

impl OnePole {
    #[inline]
    pub(super) fn low(&mut self, x: f32, a: f32) -> f32 {
        self.0 += a * (x - self.0);
        self.0
    }
}

/// One-pole coefficient; w / (1 + w) is close to 1 - exp(-w) and cheap enough for moving cutoffs.
#[inline]
pub(super) fn coef(cutoff: f64, rate: f64) -> f32 {
    let w = TAU * cutoff.max(1.0) / rate;
    (w / (1.0 + w)) as f32
}

/// SplitMix64 finaliser: the source of every seeded choice and of all noise.
#[inline]
pub(super) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// White noise in [-1, 1) as a pure function of an absolute sample index.
#[inline]
pub(super) fn noise(index: i64, salt: u64) -> f32 {
    (mix((index as u64).wrapping_add(salt)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
}

/// A short stereo delay read at a moving, fractional position: tape wow for lofi.
pub(super) struct Tape {
    buf: Vec<[f32; 2]>,
    now: usize,
}

impl Tape {
    const SIZE: usize = 4096;

    pub(super) fn new() -> Tape {
        Tape {
            buf: vec![[0.0; 2]; Tape::SIZE],
            now: 0,
        }
    }

    /// Delay in samples as 16.16 fixed point (integer maths keeps this cheap per sample).
    pub(super) fn fixed_delay(samples: f64) -> i64 {
        (samples.clamp(0.0, (Tape::SIZE - 2) as f64) * 65536.0) as i64
    }

    #[inline]
    pub(super) fn tick(&mut self, l: f32, r: f32, delay: i64) -> (f32, f32) {
        let mask = Tape::SIZE - 1;
        self.now = self.now.wrapping_add(1);
        if let Some(slot) = self.buf.get_mut(self.now & mask) {
            *slot = [l, r];
        }
        let whole = (delay >> 16) as usize;
        let frac = (delay & 0xFFFF) as f32 * (1.0 / 65536.0);
        let at = |k: usize| {
            self.buf
                .get(self.now.wrapping_sub(k) & mask)
                .copied()
                .unwrap_or([0.0; 2])
        };
        let (a, b) = (at(whole), at(whole + 1));
        (a[0] + (b[0] - a[0]) * frac, a[1] + (b[1] - a[1]) * frac)
    }
}

/// Two independent noise values from one hash, for stereo beds.
#[inline]
pub(super) fn noise_pair(index: i64, salt: u64) -> (f32, f32) {
    let h = mix((index as u64).wrapping_add(salt));
    let unit = |bits: u64| (bits & 0xFF_FFFF) as f32 / (1u32 << 23) as f32 - 1.0;
    (unit(h), unit(h >> 32))
}

/// Schroeder all-pass used to diffuse the reverb input.
struct Allpass {
    buf: Vec<f32>,
    pos: usize,
}

impl Allpass {
    fn new(len: usize) -> Allpass {
        Allpass {
            buf: vec![0.0; len.max(1)],
            pos: 0,
        }
    }

    #[inline]
    fn tick(&mut self, x: f32) -> f32 {
        let delayed = self.buf[self.pos];
        let w = x + 0.6 * delayed;
        self.buf[self.pos] = w;
        self.pos = if self.pos + 1 == self.buf.len() {
            0
        } else {
            self.pos + 1
        };
        delayed - 0.6 * w
    }
}

const LINES: usize = 8;
const DELAYS_MS: [f64; LINES] = [31.7, 37.9, 41.3, 47.9, 53.1, 59.3, 67.1, 73.7];

/// Eight-line feedback delay network with a Hadamard mix and damped loops: smooth, dense, cheap.
pub(super) struct Reverb {
    /// All lines in one buffer, each a power-of-two ring so one shared counter addresses them.
    buf: Vec<f32>,
    size: usize,
    now: usize,
    delay: [usize; LINES],
    gain: [f32; LINES],
    damp: [OnePole; LINES],
    damp_a: f32,
    diffuse: [Allpass; 4],
}

impl Reverb {
    /// `rt60` is the low-frequency decay time; the loop filters, at `damping` Hz, shorten the highs.
    pub(super) fn new(rate: f64, rt60: f64, damping: f64) -> Reverb {
        let delay = DELAYS_MS.map(|ms| ((ms * rate / 1000.0) as usize).max(1));
        let size = (delay[LINES - 1] + 1).next_power_of_two();
        let ap = |ms: f64| Allpass::new((ms * rate / 1000.0) as usize);
        Reverb {
            buf: vec![0.0; size * LINES],
            size,
            now: 0,
            delay,
            gain: delay.map(|n| 10f64.powf(-3.0 * n as f64 / (rt60 * rate)) as f32),
            damp: [OnePole::default(); LINES],
            damp_a: coef(damping, rate),
            diffuse: [ap(4.7), ap(1.6), ap(5.3), ap(1.9)],
        }
    }

    #[inline]
    pub(super) fn tick(&mut self, l: f32, r: f32) -> (f32, f32) {
        let a = self.diffuse[0].tick(l);
        let a = self.diffuse[1].tick(a);
        let b = self.diffuse[2].tick(r);
        let b = self.diffuse[3].tick(b);
        let mask = self.size - 1;
        let mut out = [0.0f32; LINES];
        let mut fb = [0.0f32; LINES];
        for k in 0..LINES {
            let at = k * self.size + (self.now.wrapping_sub(self.delay[k]) & mask);
            out[k] = self.buf.get(at).copied().unwrap_or(0.0);
            fb[k] = self.damp[k].low(out[k] * self.gain[k], self.damp_a);
        }
        hadamard(&mut fb);
        for (k, v) in fb.iter().enumerate() {
            if let Some(slot) = self.buf.get_mut(k * self.size + (self.now & mask)) {
                *slot = v + if k % 2 == 0 { a } else { b };
            }
        }
        self.now = self.now.wrapping_add(1);
        let left = out[0] - out[2] + out[4] - out[6];
        let right = out[1] - out[3] + out[5] - out[7];
        (left * 0.35, right * 0.35)
    }
}

/// Orthonormal 8-point Hadamard transform: lossless mixing keeps the network stable.
#[inline]
fn hadamard(x: &mut [f32; LINES]) {
    let mut h = 1;
    while h < LINES {
        for i in (0..LINES).step_by(2 * h) {
            for j in i..i + h {
                let (a, b) = (x[j], x[j + h]);
                x[j] = a + b;
                x[j + h] = a - b;
            }
        }
        h *= 2;
    }
    for v in x.iter_mut() {
        *v *= 0.353_553_4;
    }
}
