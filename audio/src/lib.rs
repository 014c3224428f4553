//! tsuzuki's audio, free of any runtime: planar audio in memory, WAV and FLAC files, conversion to a session's
//! layout, the seed a repaint continues from, how a repaint joins what was heard, steady loudness, and
//! the embedded ambient synthesizer. The server and the ACE-Step test double both make their music with
//! it, so they cannot drift apart.

pub mod convert;
pub mod flac;
pub mod focus;
pub mod join;
pub mod listen;
pub mod loudness;
pub mod seed;
pub mod synth;
pub mod wav;

/// The sample rate of every segment: ACE-Step's native output rate, so its audio is never resampled.
pub const SAMPLE_RATE: u32 = 48_000;
/// Planar audio: one `Vec` of samples in [-1, 1] per channel, all the same length.
#[derive(Clone, Debug, PartialEq)]
pub struct Audio {
    pub sample_rate: u32,
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    /// `frames` frames of silence.
    pub fn silence(sample_rate: u32, channels: usize, frames: usize) -> Audio {
        Audio {
            sample_rate,
            channels: vec![vec![0.0; frames]; channels],
        }
    }

    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Root mean square over frames `from..` of every channel, in dBFS (-inf for digital silence).
    pub fn rms_dbfs_from(&self, from: usize) -> f64 {
        let (mut sum, mut n) = (0.0f64, 0usize);
        for channel in &self.channels {
            for &s in channel.iter().skip(from) {
                sum += f64::from(s) * f64::from(s);
                n += 1;
            }
        }
        if n == 0 || sum == 0.0 {
            return f64::NEG_INFINITY;
        }
        10.0 * (sum / n as f64).log10()
    }
}

/// Frames in `seconds` at `sample_rate`, rounded to the nearest frame.
pub fn frames_in(seconds: f64, sample_rate: u32) -> usize {
    (seconds * f64::from(sample_rate)).round().max(0.0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_of_a_full_scale_square_is_zero_dbfs_and_silence_is_minus_infinity() {
        let square = Audio {
            sample_rate: 10,
            channels: vec![vec![1.0, -1.0, 1.0, -1.0]; 2],
        };
        assert!(square.rms_dbfs_from(0).abs() < 1e-9);
        assert_eq!(Audio::silence(10, 2, 5).rms_dbfs_from(0), f64::NEG_INFINITY);
        assert_eq!(square.rms_dbfs_from(4), f64::NEG_INFINITY);
    }

    #[test]
    fn frames_round_to_the_nearest_frame() {
        assert_eq!(frames_in(60.0, 48_000), 2_880_000);
        assert_eq!(frames_in(0.5, 3), 2);
        assert_eq!(frames_in(-1.0, 48_000), 0);
    }
}
