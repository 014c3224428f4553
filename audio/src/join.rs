//! How a repainted segment joins what the listener heard: the model returns the seed's overlap times an
//! unknown gain (ACE-Step peak-normalises every file it saves), so the gain is measured against the tail
//! that was sent, and what the gain cannot explain tells whether the overlap is the same music at all.

use super::{frames_in, Audio};

/// The end of the overlap left out of the comparison: there upstream blends the source into the new
/// material (a latent crossfade of up to 1.0 s in its conservative mode, 0.48 s in the default balanced
/// one, then a waveform splice of 25–50 ms), so it is not the heard audio times a gain.
pub const SPLICE_SECONDS: f64 = 1.0;

/// Below this residual the overlap is the same music as was heard. Measured on synth music (15 s, default
/// prompt): a peak normalisation leaves nothing above the floor, the same through a 16-bit WAV round
/// trip −85 dB (a 16-bit FLAC decodes to the same samples), and −61 dB for music 24 dB quieter; another
/// piece mixed in at −6 dB leaves −4.8 dB, a moment of the same piece 30 s later −0.0 dB, new music
/// 0 dB. −30 dB keeps a wide margin on both sides.
pub const CORRELATED_BELOW_DB: f64 = -30.0;

/// The lowest residual reported: an exact match reads as this instead of −∞, so it serialises to JSON.
pub const RESIDUAL_FLOOR_DB: f64 = -120.0;

/// The shortest comparison that can tell the same music from chance: a few cycles of the lowest bass.
const MIN_COMPARED_SECONDS: f64 = 0.1;

/// How the returned overlap relates to the heard one: `heard ≈ gain · returned`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Join {
    /// Least-squares gain from the returned audio to the heard; always positive and finite (1 when the
    /// overlap gave nothing to measure).
    pub gain: f32,
    /// Energy of `heard − gain · returned` relative to the energy of `heard`, in dB, between
    /// [`RESIDUAL_FLOOR_DB`] and 0 (0: the gain explains nothing).
    pub residual_db: f64,
}

impl Join {
    /// What an overlap with nothing to measure (silent, too short, unrelated) reports.
    const UNRELATED: Join = Join {
        gain: 1.0,
        residual_db: 0.0,
    };

    pub fn gain_db(&self) -> f64 {
        20.0 * f64::from(self.gain).log10()
    }

    /// The overlap came back as the same music as was heard, so [`Join::gain`] is the model's level change.
    pub fn correlated(&self) -> bool {
        self.residual_db < CORRELATED_BELOW_DB
    }

    /// Undoes the model's level change on the whole returned segment, so its overlap plays at the level
    /// that was heard. An uncorrelated overlap's gain means nothing, so such audio is left as it is.
    pub fn apply(&self, returned: &mut Audio) {
        if !self.correlated() {
            return;
        }
        for sample in returned.channels.iter_mut().flatten() {
            *sample *= self.gain;
        }
    }
}

/// Measures how `returned` (the model's segment) begins with the overlap `heard` begins with (the tail
/// that was sent, or the seed built from it), over the first `overlap_frames` frames of both channels,
/// less the splice zone at the overlap's end ([`SPLICE_SECONDS`], at most half the overlap).
///
/// Audio that cannot be compared (different sample rates, silence, fewer than a tenth of a second left, an
/// overlap that does not rise with the heard one) reads as unrelated: gain 1, residual 0 dB.
pub fn measure(heard: &Audio, returned: &Audio, overlap_frames: usize) -> Join {
    if heard.sample_rate != returned.sample_rate {
        return Join::UNRELATED;
    }
    let rate = heard.sample_rate;
    let overlap = overlap_frames.min(heard.frames()).min(returned.frames());
    let compared = overlap - frames_in(SPLICE_SECONDS, rate).min(overlap / 2);
    if compared == 0 || compared < frames_in(MIN_COMPARED_SECONDS, rate) {
        return Join::UNRELATED;
    }
    let pairs = || {
        heard
            .channels
            .iter()
            .zip(&returned.channels)
            .flat_map(move |(h, r)| h[..compared].iter().zip(&r[..compared]))
            .map(|(&h, &r)| (f64::from(h), f64::from(r)))
    };
    let (mut heard_energy, mut returned_energy, mut cross) = (0.0, 0.0, 0.0);
    for (h, r) in pairs() {
        heard_energy += h * h;
        returned_energy += r * r;
        cross += h * r;
    }
    let gain = (cross / returned_energy) as f32;
    if heard_energy == 0.0 || cross <= 0.0 || !gain.is_normal() {
        return Join::UNRELATED;
    }
    // Summed again with the gain as reported (f32), so the residual is that of the gain the server applies.
    let g = f64::from(gain);
    let residual: f64 = pairs().map(|(h, r)| (h - g * r).powi(2)).sum();
    Join {
        gain,
        residual_db: (10.0 * (residual / heard_energy).log10()).clamp(RESIDUAL_FLOOR_DB, 0.0),
    }
}

#[cfg(test)]
mod tests;
