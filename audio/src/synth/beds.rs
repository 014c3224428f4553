//! Continuous beds of sound: rain, waves, wind, a café's murmur, a fire's rumble, a record's hiss.
//!
//! Noise is a pure function of the absolute sample index. The slow shapes (each wave, gust and
//! syllable) are drawn per time slot by hashing the slot's index with the seed, so none recurs.

use super::dsp::{coef, mix, noise_pair, smooth, OnePole};
use super::harmony::Rng;
use super::score::Plan;
use super::style::Harmony;
use super::words::Texture;

/// Far-apart offsets into the noise sequence, so the beds never repeat one another's samples.
const SALTS: [u64; 7] = [
    0x7A11_0000_0000_0000,
    0x0CEA_0000_0000_0000,
    0x0512_D000_0000_0000,
    0x0CAF_E000_0000_0000,
    0x0F12_E000_0000_0000,
    0x0415_5000_0000_0000,
    0x0A12_0000_0000_0000,
];

/// Level of the air over ambient pads: felt more than heard, well under the music.
const AIR: f32 = 0.03;

/// A sum of swells, one per `slot` seconds at a hashed offset and height, each rising over `rise`
/// seconds and dying away over `fall`: waves on a shore, gusts of wind.
fn swells(seed: u64, purpose: u64, t: f64, slot: f64, rise: f64, fall: f64) -> f64 {
    let k = (t / slot).floor() as i64;
    let reach = ((rise + 5.0 * fall) / slot).ceil() as i64;
    (k - reach..=k)
        .map(|j| {
            let mut rng = Rng::new(seed, j, purpose);
            let start = (j as f64 + 0.45 * rng.unit()) * slot;
            let height = rng.range(0.45, 1.0);
            let x = t - start;
            if x < 0.0 {
                0.0
            } else if x < rise {
                height * smooth(x / rise)
            } else {
                height * (-(x - rise) / fall).exp()
            }
        })
        .sum()
}

/// A level between 0.4 and 1 for each 0.17 s slot, eased between slots: voices in a room.
fn murmur(seed: u64, t: f64) -> f64 {
    const SLOT: f64 = 0.17;
    let k = (t / SLOT).floor();
    let level = |j: f64| {
        0.4 + 0.6 * (mix(seed ^ (j as i64 as u64).wrapping_mul(0x9E37)) >> 11) as f64
            / (1u64 << 53) as f64
    };
    let x = t / SLOT - k;
    level(k) + (level(k + 1.0) - level(k)) * smooth(x)
}

#[derive(Default)]
struct Band {
    low: [OnePole; 2],
    high: [OnePole; 2],
}

impl Band {
    /// Band-passed stereo noise: low-passed at `lp`, with everything below `hp` removed.
    #[inline]
    fn tick(&mut self, (l, r): (f32, f32), lp: f32, hp: f32) -> (f32, f32) {
        let l = self.low[0].low(l, lp);
        let r = self.low[1].low(r, lp);
        (l - self.high[0].low(l, hp), r - self.high[1].low(r, hp))
    }
}

pub(super) struct Beds {
    seed: u64,
    on: [bool; 7],
    bands: [Band; 8],
    coefs: [(f32, f32); 8],
    /// Per-block levels: rain gusts, the sea, wind, murmur, the fire's flicker.
    level: [f32; 6],
    /// Nature or room sounds alone come forward.
    gain: f32,
    wind_a: f32,
    rate: f64,
}

impl Beds {
    pub(super) fn new(plan: &Plan, rate: f64) -> Beds {
        let has = |t| plan.style.textures.contains(&t);
        let band = |lp: f64, hp: f64| (coef(lp, rate), coef(hp, rate));
        Beds {
            seed: plan.seed,
            on: [
                has(Texture::Rain),
                has(Texture::Ocean),
                has(Texture::Wind) || has(Texture::Forest),
                has(Texture::Cafe),
                has(Texture::Fire),
                has(Texture::Vinyl),
                // Ambient pads breathe: a faint, slowly swelling air above them.
                plan.style.harmony == Harmony::Pad && !plan.style.textures_first,
            ],
            bands: Default::default(),
            coefs: [
                band(1200.0, 300.0),   // rain
                band(700.0, 60.0),     // sea
                band(4000.0, 1500.0),  // foam
                band(800.0, 120.0),    // wind (its low-pass moves)
                band(1400.0, 200.0),   // murmur
                band(260.0, 40.0),     // fire
                band(5000.0, 800.0),   // hiss
                band(14000.0, 3500.0), // air
            ],
            level: [0.0; 6],
            gain: if plan.style.textures_first { 2.0 } else { 1.0 },
            wind_a: 0.0,
            rate,
        }
    }

    /// Updates the slow shapes at block time `t`, for the beds that play.
    pub(super) fn block(&mut self, t: f64) {
        let s = self.seed;
        let on = self.on;
        if on[0] {
            self.level[0] = (0.8 + 0.2 * swells(s, 40, t, 17.0, 6.0, 8.0).min(1.2)) as f32;
        }
        if on[1] {
            self.level[1] = (0.15 + swells(s, 41, t, 10.5, 3.2, 3.5)) as f32;
        }
        if on[2] {
            self.level[2] = (0.25 + 0.9 * swells(s, 42, t, 7.0, 2.5, 3.0)) as f32;
            self.wind_a = coef(300.0 + 900.0 * f64::from(self.level[2]).min(1.2), self.rate);
        }
        if on[3] {
            self.level[3] = murmur(s, t) as f32;
        }
        if on[4] {
            self.level[4] = (0.75 + 0.25 * swells(s, 43, t, 1.3, 0.2, 0.4).min(1.0)) as f32;
        }
        if on[6] {
            self.level[5] = (0.5 + 0.5 * swells(s, 44, t, 23.0, 9.0, 9.0).min(1.0)) as f32;
        }
    }

    #[inline]
    pub(super) fn tick(&mut self, k: i64) -> (f32, f32) {
        let (mut l, mut r) = (0.0, 0.0);
        let mut add = |(x, y): (f32, f32), g: f32| {
            l += g * x;
            r += g * y;
        };
        let c = self.coefs;
        if self.on[0] {
            let n = self.bands[0].tick(noise_pair(k, SALTS[0]), c[0].0, c[0].1);
            add(n, 0.2 * self.level[0]);
        }
        if self.on[1] {
            let n = noise_pair(k, SALTS[1]);
            let swell = self.level[1];
            add(self.bands[1].tick(n, c[1].0, c[1].1), 0.25 * swell);
            // Foam hisses as each wave breaks.
            add(self.bands[2].tick(n, c[2].0, c[2].1), 0.045 * swell * swell);
        }
        if self.on[2] {
            let n = self.bands[3].tick(noise_pair(k, SALTS[2]), self.wind_a, c[3].1);
            add(n, 0.26 * self.level[2]);
        }
        if self.on[3] {
            let n = self.bands[4].tick(noise_pair(k, SALTS[3]), c[4].0, c[4].1);
            add(n, 0.15 * self.level[3]);
        }
        if self.on[4] {
            let n = self.bands[5].tick(noise_pair(k, SALTS[4]), c[5].0, c[5].1);
            add(n, 0.4 * self.level[4]);
        }
        if self.on[5] {
            let n = self.bands[6].tick(noise_pair(k, SALTS[5]), c[6].0, c[6].1);
            add(n, 0.012);
        }
        if self.on[6] {
            let n = self.bands[7].tick(noise_pair(k, SALTS[6]), c[7].0, c[7].1);
            add(n, AIR * self.level[5]);
        }
        // Partly shared between the sides, so the beds stay wide yet fold to mono without a hole.
        let g = self.gain * 0.8;
        (g * (l + 0.35 * r), g * (r + 0.35 * l))
    }
}
