//! How a new segment joins the stream. The server knows exactly the tail the listener heard, so it measures
//! the gain at which the model returned that overlap (upstream peak-normalises every file), undoes it, and
//! then levels the new material to the loudness target without touching what was heard. An overlap that is
//! not the same music any more is left unmatched and marked, so the player crossfades it as different music.

use app::api::Join;
use tsuzuki_audio::loudness::{self, Levelled};
use tsuzuki_audio::{join, Audio};

/// A segment ready to be stored, and what joining it did.
pub(super) struct Joined {
    pub audio: Audio,
    /// `None` for the first segment of a session: nothing was heard before it.
    pub join: Option<Join>,
    pub levelled: Option<Levelled>,
}

/// Joins segment `index` to `heard`, the tail its seed was built from. `continues` says the segment was
/// asked to continue that tail (a repaint), rather than to start new music.
pub(super) fn join(
    mut audio: Audio,
    index: u64,
    heard: Option<&Audio>,
    continues: bool,
    overlap_frames: usize,
    loudness_target: Option<f64>,
) -> Joined {
    let join = heard.map(|heard| {
        let measured = join::measure(heard, &audio, overlap_frames);
        let correlated = continues && measured.correlated();
        if correlated {
            measured.apply(&mut audio);
        }
        Join {
            segment: index,
            gain_db: measured.gain_db(),
            residual_db: measured.residual_db,
            correlated,
            correlation: correlation(measured.residual_db),
        }
    });
    // A matched overlap is what the listener heard: levelling starts after it. Anything else is new music
    // from its first frame, crossfaded in with equal power.
    let from = match join {
        Some(Join {
            correlated: true, ..
        }) => overlap_frames,
        _ => 0,
    };
    let levelled = loudness_target.map(|target| loudness::level(&mut audio, from, target));
    Joined {
        audio,
        join,
        levelled,
    }
}

/// The normalised correlation between the heard overlap and the returned one: the least-squares residual
/// is what the best gain cannot explain, `1 - ρ²`.
fn correlation(residual_db: f64) -> f64 {
    (1.0 - 10f64.powf(residual_db / 10.0))
        .clamp(0.0, 1.0)
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    /// A steady two-tone texture, `seconds` long, at `gain`.
    fn tone(seconds: f64, gain: f32, phase: f64) -> Audio {
        let frames = (seconds * f64::from(RATE)) as usize;
        let channel = (0..frames)
            .map(|i| {
                let t = i as f64 / f64::from(RATE) + phase;
                gain * (0.3 * (t * 220.0 * std::f64::consts::TAU).sin()
                    + 0.2 * (t * 331.0 * std::f64::consts::TAU).sin()) as f32
            })
            .collect::<Vec<_>>();
        Audio {
            sample_rate: RATE,
            channels: vec![channel.clone(), channel],
        }
    }

    #[test]
    fn a_normalised_overlap_is_matched_back_to_what_was_heard() {
        let heard = tone(4.0, 1.0, 0.0);
        // The model returned the same music 4 dB quieter (its peak normalisation).
        let returned = tone(12.0, 10f32.powf(-4.0 / 20.0), 0.0);
        let joined = join(returned, 3, Some(&heard), true, heard.frames(), None);
        let j = joined.join.unwrap();
        assert!(j.correlated && j.correlation > 0.999, "{j:?}");
        assert!((j.gain_db - 4.0).abs() < 0.05, "{j:?}");
        let head = &joined.audio.channels[0][..heard.frames()];
        let err = head
            .iter()
            .zip(&heard.channels[0])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            err < 1e-3,
            "the overlap equals what was heard (max error {err})"
        );
    }

    #[test]
    fn new_music_is_not_matched_and_is_marked_different() {
        let heard = tone(4.0, 1.0, 0.0);
        let other = tone(12.0, 0.5, 0.37);
        let joined = join(other.clone(), 3, Some(&heard), false, heard.frames(), None);
        let j = joined.join.unwrap();
        assert!(!j.correlated && j.correlation < 0.5, "{j:?}");
        assert_eq!(joined.audio, other, "a text2music is left as it came");
    }

    #[test]
    fn the_first_segment_has_no_join_and_is_levelled_whole() {
        let joined = join(tone(12.0, 0.3, 0.0), 0, None, false, 192_000, Some(-16.0));
        assert!(joined.join.is_none());
        let levelled = joined.levelled.unwrap();
        assert!((levelled.after_lufs + 16.0).abs() < 0.5, "{levelled:?}");
    }
}
