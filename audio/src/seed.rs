//! The seed a repaint starts from: the previous segment's last `overlap` seconds, then silence up to a whole
//! segment. The model keeps the first part and invents the rest, so the next segment begins with exactly the
//! audio the current one ends with and the player can crossfade inside that overlap.

use super::Audio;

/// Builds the seed for the segment after `previous`.
///
/// The tail is taken from the end of `previous`; if `previous` is shorter than `overlap_frames` (a model
/// returned less than asked), the whole of it is used and the seed still has `segment_frames` frames.
pub fn build(previous: &Audio, overlap_frames: usize, segment_frames: usize) -> Audio {
    let tail = overlap_frames.min(previous.frames()).min(segment_frames);
    let start = previous.frames() - tail;
    let channels = previous
        .channels
        .iter()
        .map(|channel| {
            // Zeroed allocation, then only the tail written: the silent rest stays untouched memory.
            let mut seeded = vec![0.0; segment_frames];
            seeded[..tail].copy_from_slice(&channel[start..]);
            seeded
        })
        .collect();
    Audio {
        sample_rate: previous.sample_rate,
        channels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(frames: usize) -> Audio {
        let left: Vec<f32> = (0..frames).map(|i| i as f32 / frames as f32).collect();
        let right = left.iter().map(|s| -s).collect();
        Audio {
            sample_rate: 4,
            channels: vec![left, right],
        }
    }

    #[test]
    fn seed_is_the_tail_followed_by_silence() {
        let previous = ramp(40);
        let seed = build(&previous, 6, 40);
        assert_eq!(seed.frames(), 40);
        assert_eq!(seed.sample_rate, 4);
        for (c, channel) in seed.channels.iter().enumerate() {
            assert_eq!(&channel[..6], &previous.channels[c][34..]);
            assert!(channel[6..].iter().all(|&s| s == 0.0));
        }
    }

    #[test]
    fn a_short_previous_segment_still_gives_a_whole_seed() {
        let seed = build(&ramp(3), 6, 10);
        assert_eq!(seed.frames(), 10);
        assert_eq!(&seed.channels[0][..3], &ramp(3).channels[0][..]);
        assert!(seed.channels[0][3..].iter().all(|&s| s == 0.0));
    }

    #[test]
    fn overlap_longer_than_the_segment_is_cut_to_the_segment() {
        let seed = build(&ramp(40), 50, 8);
        assert_eq!(seed.frames(), 8);
        assert_eq!(&seed.channels[1][..], &ramp(40).channels[1][32..]);
    }
}
