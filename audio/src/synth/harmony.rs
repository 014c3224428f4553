//! Harmony and chance: the modes and chord progressions a piece is built from, pitch helpers, and the
//! counter-based generator that makes every bar's choices independent of the bars before.

use super::dsp::mix;

const IONIAN: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
const LYDIAN: [i32; 7] = [0, 2, 4, 6, 7, 9, 11];
const MIXOLYDIAN: [i32; 7] = [0, 2, 4, 5, 7, 9, 10];
const DORIAN: [i32; 7] = [0, 2, 3, 5, 7, 9, 10];
const AEOLIAN: [i32; 7] = [0, 2, 3, 5, 7, 8, 10];
const PHRYGIAN: [i32; 7] = [0, 1, 3, 5, 7, 8, 10];

/// A mode and a four-chord progression of (scale degree, suspended fourth).
pub(super) type Family = ([i32; 7], [(usize, bool); 4]);

pub(super) const FAMILIES: [Family; 10] = [
    (IONIAN, [(0, false), (5, false), (3, false), (4, true)]), // Imaj7 vi9 IVmaj7 Vsus
    (LYDIAN, [(0, false), (1, false), (0, false), (1, false)]), // lydian I-II vamp
    (IONIAN, [(3, false), (0, false), (5, false), (4, true)]), // IVmaj7 Imaj7 vi9 Vsus
    (MIXOLYDIAN, [(0, false), (6, false), (3, false), (0, false)]), // I bVII IV I
    (DORIAN, [(0, false), (3, false), (0, false), (6, false)]), // i9 IV9 i9 bVII
    (IONIAN, [(0, false), (2, false), (3, false), (4, true)]), // Imaj7 iii7 IVmaj7 Vsus
    (AEOLIAN, [(0, false), (5, false), (2, false), (6, false)]), // i9 VImaj7 IIImaj7 VII9
    (AEOLIAN, [(0, false), (3, false), (5, false), (4, true)]), // i9 iv9 VImaj7 vsus
    (PHRYGIAN, [(0, false), (1, false), (0, false), (6, false)]), // i bIImaj7 i bvii7
    (DORIAN, [(0, false), (2, false), (3, false), (0, false)]), // i9 bIIImaj7 IV9 i9
];

/// Small counter-based generator; seeded per (seed, bar, purpose) so bars are independent.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64, index: i64, purpose: u64) -> Rng {
        Rng(mix(seed ^ mix(index as u64 ^ mix(purpose))))
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(super) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n.saturating_sub(1))
    }
}

pub(super) fn hz(midi: i32) -> f64 {
    440.0 * 2f64.powf((midi - 69) as f64 / 12.0)
}

/// The chord tone closest to `target` (ties go down).
pub(super) fn nearest(target: i32, pcs: &[i32]) -> i32 {
    (0..12)
        .flat_map(|d| [target - d, target + d])
        .find(|m| pcs.contains(&m.rem_euclid(12)))
        .unwrap_or(target)
}

/// The lowest chord tone strictly above `x`.
pub(super) fn above(x: i32, pcs: &[i32]) -> i32 {
    (x + 1..x + 13)
        .find(|m| pcs.contains(&m.rem_euclid(12)))
        .unwrap_or(x + 1)
}
