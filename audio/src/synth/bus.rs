//! The stateful part of the signal path: the pad filter, tape wow, reverb, the beds, tone and master.
//!
//! Its slow modulators are pure functions of absolute time, so only filter and delay state carries
//! over, and the pre-roll lets that converge.

use super::beds::Beds;
use super::dsp::{coef, sine, smooth, OnePole, Reverb, Tape};
use super::render::Chunk;
use super::score::Plan;
use super::style::Kit;
use super::words::Texture;

const FADE_IN: f64 = 0.5;
const MASTER_GAIN: f32 = 1.5;
/// The pad filter's drift: two cycles whose periods realign only after 328,193 s (3.8 days).
const DRIFT_PERIODS: (f64, f64) = (29.0, 11.317);
/// Everything below this is rumble, not music: two poles take it out.
const LOW_CUT_HZ: f64 = 28.0;
/// Where the tone control's shelf begins.
const TILT_HZ: f64 = 1500.0;

/// Per-sample soft limiter: identity below the knee, a smooth approach to the ceiling above it, which
/// leaves room for the peaks between samples (true peak ≤ −1 dBTP).
#[inline]
fn soft_clip(x: f32) -> f32 {
    const KNEE: f32 = 0.5;
    const ROOM: f32 = 0.84 - KNEE;
    let a = x.abs();
    if a <= KNEE {
        x
    } else {
        (KNEE + ROOM * ((a - KNEE) / ROOM).tanh()).copysign(x)
    }
}

pub(super) struct Bus {
    rate: f64,
    pad: [OnePole; 2],
    pad_cut: f64,
    pad_a: f32,
    /// Tape delay (16.16 samples) at the current block start and its per-sample slope.
    wow: (i64, i64),
    tape: Option<Tape>,
    send: [OnePole; 2],
    send_a: f32,
    reverb: Reverb,
    /// The reverb runs at half the sample rate (its highs are damped anyway): the input of the even
    /// sample waiting for its odd partner, and the last two outputs to interpolate between.
    half: (f32, f32),
    tail: [(f32, f32); 2],
    wet: f32,
    music: f32,
    beds: Beds,
    tilt: [OnePole; 2],
    tilt_a: f32,
    tilt_gain: f32,
    low: [OnePole; 4],
    low_a: f32,
}

impl Bus {
    pub(super) fn new(plan: &Plan, rate: f64) -> Bus {
        let s = &plan.style;
        let tone = f64::from(s.tone);
        let spacious = s.kit.is_none() && s.energy < 0.0;
        let dusty = s.kit == Some(Kit::Lofi) || s.textures.contains(&Texture::Vinyl);
        let rt60 = if dusty {
            2.2
        } else if spacious {
            4.0
        } else {
            3.0
        };
        Bus {
            rate,
            pad: [OnePole::default(); 2],
            pad_cut: 6500.0 * 2f64.powf(1.3 * tone) * if dusty { 0.85 } else { 1.0 },
            pad_a: 0.0,
            wow: (0, 0),
            tape: dusty.then(Tape::new),
            send: [OnePole::default(); 2],
            send_a: coef(150.0, rate),
            reverb: Reverb::new(rate / 2.0, rt60, 8000.0 * 2f64.powf(0.8 * tone).min(1.3)),
            half: (0.0, 0.0),
            tail: [(0.0, 0.0); 2],
            wet: if spacious { 0.55 } else { 0.35 },
            music: if s.textures_first { 0.5 } else { 1.0 },
            beds: Beds::new(plan, rate),
            tilt: [OnePole::default(); 2],
            tilt_a: coef(TILT_HZ, rate),
            // A lift of the highs (4.6 dB) that bright prompts take to 8 dB and dark ones turn into
            // a 6 dB cut.
            tilt_gain: (0.7 + if tone >= 0.0 { 0.8 } else { 1.2 } * tone) as f32,
            low: [OnePole::default(); 4],
            low_a: coef(LOW_CUT_HZ, rate),
        }
    }

    pub(super) fn process(&mut self, c: &mut Chunk, t0: f64, index0: i64) {
        let rate = self.rate;
        for i in 0..c.len {
            let t = t0 + i as f64 / rate;
            let k = index0 + i as i64;
            // Slow modulators are held over 32-sample blocks aligned to the absolute sample index,
            // which keeps them cheap and still a pure function of time.
            if i == 0 || k & 31 == 0 {
                let tb = (k & !31) as f64 / rate;
                let drift =
                    0.45 * sine(tb / DRIFT_PERIODS.0) + 0.2 * sine(tb / DRIFT_PERIODS.1 + 0.3);
                self.pad_a = coef(self.pad_cut * (1.0 + f64::from(drift)), rate);
                // A delay swept ±1.2 ms over 2.9 s gives about ±4 cents of wow, interpolated
                // linearly across the block.
                let delay =
                    |t: f64| Tape::fixed_delay(rate * (0.003 + 0.0012 * f64::from(sine(t / 2.9))));
                let from = delay(tb);
                self.wow = (from, (delay(tb + 32.0 / rate) - from) / 32);
                self.beds.block(tb);
            }
            let a = self.pad_a;
            let (pl, pr) = c.pad(i);
            let pl = self.pad[0].low(pl, a);
            let pr = self.pad[1].low(pr, a);
            let (mut dl, mut dr) = (self.music * (c.l[i] + pl), self.music * (c.r[i] + pr));
            if let Some(tape) = &mut self.tape {
                (dl, dr) = tape.tick(dl, dr, self.wow.0 + self.wow.1 * (k & 31));
            }
            // Lows stay out of the reverb: a long bass tail only muddies the mix.
            let sl = dl - self.send[0].low(dl, self.send_a);
            let sr = dr - self.send[1].low(dr, self.send_a);
            // Pairs are fixed by the absolute sample index, so every render pairs the same samples.
            let (wl, wr) = if k & 1 == 0 {
                self.half = (sl, sr);
                let [a, b] = self.tail;
                (0.5 * (a.0 + b.0), 0.5 * (a.1 + b.1))
            } else {
                let y = self
                    .reverb
                    .tick(0.5 * (self.half.0 + sl), 0.5 * (self.half.1 + sr));
                self.tail = [self.tail[1], y];
                self.tail[0]
            };
            let (bl, br) = self.beds.tick(k);
            let l = dl + wl * self.wet + bl;
            let r = dr + wr * self.wet + br;
            let l = l + self.tilt_gain * (l - self.tilt[0].low(l, self.tilt_a));
            let r = r + self.tilt_gain * (r - self.tilt[1].low(r, self.tilt_a));
            let l = l - self.low[0].low(l, self.low_a);
            let l = l - self.low[1].low(l, self.low_a);
            let r = r - self.low[2].low(r, self.low_a);
            let r = r - self.low[3].low(r, self.low_a);
            let g = MASTER_GAIN * smooth(t / FADE_IN) as f32;
            c.l[i] = soft_clip(l * g);
            c.r[i] = soft_clip(r * g);
        }
    }
}
