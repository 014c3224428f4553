//! The true-peak limiter, as a ceiling on the levelling gain rather than a processor of samples: where the
//! levelled material's true peak passes the ceiling, the gain is lowered shortly before that block and
//! raised slowly after it.

/// Length of the blocks true peaks are measured in: short, so a single loud note lowers the gain only
/// around itself.
pub(super) const BLOCK_SECONDS: f64 = 0.005;
/// How fast the gain may fall before a peak: 1 dB per millisecond is a look-ahead limiter's soft attack,
/// quick enough for a struck note, slow enough to leave no click.
pub(super) const ATTACK_DB_PER_SECOND: f64 = 1000.0;
/// How fast the gain may rise again after a peak: slow, so repeated notes do not make the level pump.
const RELEASE_DB_PER_SECOND: f64 = 3.0;
/// Aim this far below the ceiling: the meter's interpolation filter and the gain moving within a block
/// make the measured peak of the result differ a little from the prediction.
const HEADROOM_DB: f64 = 0.1;

/// The most each block's gain may be, in dB (+∞ where nothing limits), learnt from the true peaks the
/// levelled material turned out to have.
pub(super) struct Limiter {
    ceiling_db: f64,
    block: usize,
    caps_db: Vec<f64>,
}

impl Limiter {
    /// A limiter that does not limit yet, for `frames` frames in blocks of `block`.
    pub(super) fn new(frames: usize, block: usize, ceiling_db: f64) -> Limiter {
        let block = block.max(1);
        Limiter {
            ceiling_db,
            block,
            caps_db: vec![f64::INFINITY; frames.div_ceil(block)],
        }
    }

    /// Caps every block whose true peak (`peaks`, linear, measured on the material levelled with
    /// `gains`) passes the ceiling at the gain it had, less the excess; returns whether any did.
    pub(super) fn tighten(&mut self, peaks: &[f32], gains: &[f32]) -> bool {
        let mut tightened = false;
        for (b, &peak) in peaks.iter().enumerate() {
            let over = db(peak) - self.ceiling_db;
            if over <= 0.0 {
                continue;
            }
            // The meter reports an inter-sample peak a few frames late, so the one at a block's edge
            // may show in its neighbour: both neighbours are held with it.
            let blocks = b.saturating_sub(1)..(b + 2).min(self.caps_db.len());
            let frames = blocks.start * self.block..(blocks.end * self.block).min(gains.len());
            let gain = gains[frames].iter().fold(0.0f32, |m, &g| m.max(g));
            let cap = db(gain) - over - HEADROOM_DB;
            for c in &mut self.caps_db[blocks] {
                *c = c.min(cap);
            }
            tightened = true;
        }
        tightened
    }

    /// The ceiling on the gain of each of `frames` frames (dB; +∞ where nothing limits): each block's
    /// cap, approached at the attack rate before it and left at the release rate after it.
    pub(super) fn ceilings(&self, frames: usize, rate: u32) -> Vec<f32> {
        if self.caps_db.iter().all(|c| c.is_infinite()) {
            return vec![f32::INFINITY; frames];
        }
        let per_frame = |db_per_second: f64| (db_per_second / f64::from(rate.max(1))) as f32;
        let (attack, release) = (
            per_frame(ATTACK_DB_PER_SECOND),
            per_frame(RELEASE_DB_PER_SECOND),
        );
        let mut out: Vec<f32> = (0..frames)
            .map(|i| {
                let cap = self.caps_db.get(i / self.block);
                cap.map_or(f32::INFINITY, |&c| c as f32)
            })
            .collect();
        for i in (1..frames).rev() {
            out[i - 1] = out[i - 1].min(out[i] + attack);
        }
        for i in 1..frames {
            out[i] = out[i].min(out[i - 1] + release);
        }
        out
    }
}

/// A linear level in dB; silence is −∞, which leaves its block uncapped.
fn db(linear: f32) -> f64 {
    20.0 * f64::from(linear).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 1_000;

    /// One block of 10 frames measured at +5 dBTP at unity gain, the rest well under the ceiling.
    fn one_hot_block() -> Limiter {
        let mut peaks = vec![0.1f32; 100];
        peaks[50] = 10f32.powf(5.0 / 20.0);
        let mut limiter = Limiter::new(1_000, 10, -1.0);
        assert!(limiter.tighten(&peaks, &[1.0; 1_000]));
        limiter
    }

    #[test]
    fn a_peak_is_capped_with_the_gain_falling_before_it_and_rising_slowly_after() {
        let ceilings = one_hot_block().ceilings(1_000, RATE);
        let cap = -6.0 - HEADROOM_DB as f32;
        // Held from the block before to the block after the peak.
        assert!(ceilings[490..520].iter().all(|&c| (c - cap).abs() < 1e-4));
        // 1 dB per ms before: at 1 kHz, a frame; 3 dB/s after.
        assert!(
            (ceilings[485] - (cap + 5.0)).abs() < 1e-3,
            "{}",
            ceilings[485]
        );
        assert!(
            (ceilings[619] - (cap + 0.3)).abs() < 1e-3,
            "{}",
            ceilings[619]
        );
        let steps = ceilings.windows(2).map(|w| (w[1] - w[0]).abs());
        assert!(steps.fold(0.0, f32::max) <= 1.0 + 1e-4);
    }

    #[test]
    fn peaks_under_the_ceiling_do_not_limit() {
        let mut limiter = Limiter::new(12, 4, -1.0);
        assert!(!limiter.tighten(&[0.0, 0.5, 0.89], &[1.0; 12]));
        assert!(limiter.ceilings(12, RATE).iter().all(|c| c.is_infinite()));
    }

    #[test]
    fn the_cap_is_the_gain_the_peak_had_less_its_excess() {
        // Measured 1 dB over the ceiling where the gain was +6 dB: capped at +5 dB, less the headroom.
        let mut limiter = Limiter::new(3, 1, -1.0);
        let gain = 10f32.powf(6.0 / 20.0);
        assert!(limiter.tighten(&[0.5, 1.0, 0.5], &[gain; 3]));
        for cap in &limiter.caps_db {
            assert!((cap - (5.0 - HEADROOM_DB)).abs() < 1e-6, "{cap}");
        }
        // Still 0.5 dB over at the capped gain: lower again; a looser measurement never raises it.
        let capped = 10f32.powf((5.0 - HEADROOM_DB as f32) / 20.0);
        let over = 10f32.powf(-0.5 / 20.0);
        assert!(limiter.tighten(&[0.0, over, 0.0], &[capped; 3]));
        let lowered = 5.0 - 0.5 - 2.0 * HEADROOM_DB;
        assert!(limiter.caps_db.iter().all(|&c| (c - lowered).abs() < 1e-5));
        limiter.tighten(&[0.0, over, 0.0], &[gain; 3]);
        assert!(limiter.caps_db.iter().all(|&c| (c - lowered).abs() < 1e-5));
    }
}
