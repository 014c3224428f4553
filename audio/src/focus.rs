//! Focus modulation: a smooth 16 Hz amplitude modulation of the mix above the bass, the kind Brain.fm's
//! published studies tested for sustained attention. The bass stays steady, so the music keeps its floor.
//!
//! The modulation's phase is a function of the session's timeline, so the overlap two segments share
//! is modulated alike in both and their crossfade cannot beat.

use crate::Audio;

/// Modulation rate, in Hz.
pub const RATE_HZ: f64 = 16.0;
/// Below this the mix is left alone, so the bass and kick keep their weight.
const SPLIT_HZ: f64 = 200.0;

/// Modulates `audio`, whose first sample sits at `timeline_seconds`, with troughs `depth` (0..1) below
/// the peaks: 0.5 dips the upper mix by 6 dB sixteen times a second.
pub fn modulate(audio: &mut Audio, timeline_seconds: f64, depth: f64) {
    let depth = depth.clamp(0.0, 1.0) as f32;
    if depth == 0.0 || audio.sample_rate == 0 {
        return;
    }
    let rate = f64::from(audio.sample_rate);
    let a = (1.0 - (-std::f64::consts::TAU * SPLIT_HZ / rate).exp()) as f32;
    // Cycles at the first sample, kept in [0, 1) so the phase stays exact however long the session.
    let phase0 = (timeline_seconds * RATE_HZ).rem_euclid(1.0);
    let step = RATE_HZ / rate;
    for channel in &mut audio.channels {
        // Two one-pole high-passes: 50 Hz reaches the modulation 25 dB down, so the bass stays put.
        // Starting the first filter at the first sample spares the segment a step at its start.
        let mut l1 = channel.first().copied().unwrap_or(0.0);
        let mut l2 = 0.0f32;
        for (i, x) in channel.iter_mut().enumerate() {
            l1 += a * (*x - l1);
            let h1 = *x - l1;
            l2 += a * (h1 - l2);
            let high = h1 - l2;
            let cycles = phase0 + i as f64 * step;
            let dip = 0.5 - 0.5 * (std::f64::consts::TAU * cycles).cos();
            *x -= depth * dip as f32 * high;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: u32 = 48_000;

    fn tone(freq: f64, seconds: f64) -> Audio {
        let n = (seconds * f64::from(SR)) as usize;
        let wave: Vec<f32> = (0..n)
            .map(|i| (0.5 * (std::f64::consts::TAU * freq * i as f64 / f64::from(SR)).sin()) as f32)
            .collect();
        Audio {
            sample_rate: SR,
            channels: vec![wave.clone(), wave],
        }
    }

    /// RMS of each 5 ms slice: the envelope a listener hears.
    fn envelope(x: &[f32]) -> Vec<f32> {
        x.chunks(240)
            .map(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt())
            .collect()
    }

    #[test]
    fn the_mix_above_the_bass_dips_sixteen_times_a_second() {
        let mut high = tone(1000.0, 2.0);
        modulate(&mut high, 0.0, 0.5);
        let env = envelope(&high.channels[0][SR as usize / 2..]);
        let (lo, hi) = env
            .iter()
            .fold((f32::MAX, 0.0f32), |(a, b), &v| (a.min(v), b.max(v)));
        let depth_db = 20.0 * (hi / lo).log10();
        // Nominally 6 dB; the 5 ms slices and the high-pass's phase shave a little off.
        assert!((4.0..7.0).contains(&depth_db), "depth {depth_db:.1} dB");
        // Sixteen troughs a second: count the envelope's falls through its middle.
        let mid = 0.5 * (lo + hi);
        let falls = env.windows(2).filter(|w| w[0] >= mid && w[1] < mid).count();
        assert!((23..=25).contains(&falls), "{falls} dips in 1.5 s");
        let mut bass = tone(50.0, 2.0);
        let before = bass.clone();
        modulate(&mut bass, 0.0, 0.5);
        let env = envelope(&bass.channels[0][SR as usize / 2..]);
        let (lo, hi) = env
            .iter()
            .fold((f32::MAX, 0.0f32), |(a, b), &v| (a.min(v), b.max(v)));
        assert!(20.0 * (hi / lo).log10() < 1.5, "the bass moved");
        assert_ne!(bass, before);
    }

    #[test]
    fn overlapping_segments_are_modulated_alike() {
        let whole = tone(700.0, 3.0);
        let mut a = whole.clone();
        modulate(&mut a, 45.0, 0.75);
        // A later segment starting 1.25 s in, as the timeline puts it.
        let k = (1.25 * f64::from(SR)) as usize;
        let mut b = Audio {
            sample_rate: SR,
            channels: whole.channels.iter().map(|c| c[k..].to_vec()).collect(),
        };
        modulate(&mut b, 46.25, 0.75);
        // After the split filter settles (a few ms), the two agree sample for sample.
        let settle = 2400;
        let diff = a.channels[0][k + settle..]
            .iter()
            .zip(&b.channels[0][settle..])
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-3, "{diff}");
    }

    #[test]
    fn off_changes_nothing() {
        let mut a = tone(440.0, 0.5);
        let before = a.clone();
        modulate(&mut a, 10.0, 0.0);
        assert_eq!(a, before);
    }
}
