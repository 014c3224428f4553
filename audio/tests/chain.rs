//! A session of 20 repainted segments, each returned by the model at a different level and
//! peak-normalised, settled as the server will: its loudness stays steady and no join steps.

mod model;

use model::{session, Model};
use tsuzuki_audio::loudness::{integrated_lufs, TRUE_PEAK_CEILING_DBTP};

const TARGET_LUFS: f64 = -16.0;
const SEGMENTS: usize = 20;
// Shorter than a session's 60 s and 15 s, to keep the test quick; the new material still outlasts the
// levelling ramp. `examples/loudness_report.rs` runs the full lengths.
const SEGMENT_SECONDS: f64 = 20.0;
const OVERLAP_SECONDS: f64 = 5.0;

#[test]
fn twenty_levelled_segments_keep_one_loudness_and_join_without_a_step() {
    let mut model = Model::new("warm piano", 11, SEGMENT_SECONDS, OVERLAP_SECONDS);
    let segments = session(&mut model, SEGMENTS, Some(TARGET_LUFS));
    let loudness: Vec<f64> = segments.iter().map(|s| integrated_lufs(&s.audio)).collect();
    for (n, (segment, lufs)) in segments.iter().zip(&loudness).enumerate() {
        let levelled = segment.levelled.expect("levelled");
        eprintln!(
            "segment {n:2}: {lufs:6.2} LUFS, {:+.2} dBTP, join {:?}, step {:+.4} dB, settled in {:.0} ms",
            levelled.true_peak_dbtp,
            segment.join.map(|j| (j.gain_db(), j.residual_db)),
            segment.step_db,
            segment.settle_seconds * 1e3,
        );
        assert!(
            levelled.true_peak_dbtp <= TRUE_PEAK_CEILING_DBTP,
            "segment {n}"
        );
        assert!(
            segment.step_db.abs() < 0.1,
            "segment {n}: step {}",
            segment.step_db
        );
        if let Some(join) = segment.join {
            assert!(join.correlated(), "segment {n}: {join:?}");
        }
    }
    for (n, pair) in loudness.windows(2).enumerate() {
        let change = (pair[1] - pair[0]).abs();
        assert!(change < 1.0, "segments {n} to {}: {change:.2} LU", n + 1);
    }
}

#[test]
fn without_levelling_the_same_session_steps_at_its_joins() {
    // The failure the levelling exists for: the returned overlap comes back at the normalisation's gain.
    let mut model = Model::new("warm piano", 11, SEGMENT_SECONDS, OVERLAP_SECONDS);
    let segments = session(&mut model, 6, None);
    let largest = segments.iter().map(|s| s.step_db.abs()).fold(0.0, f64::max);
    eprintln!("largest join step without levelling: {largest:.2} dB");
    assert!(largest > 1.0);
}
