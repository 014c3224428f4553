//! The gain and residual of overlaps a model may return: the heard tail re-levelled or re-encoded
//! (correlated), or something else in its place (not).

use super::*;
use crate::synth::{continuation, Score, Style};
use crate::wav;

const RATE: u32 = 48_000;
const OVERLAP_SECONDS: f64 = 15.0;
const DEFAULT: &str =
    "instrumental ambient focus music, smooth continuous texture, no vocals, stable rhythm";

fn music(prompt: &str, seed: u64, start: f64, seconds: f64) -> Audio {
    let score = Score {
        seed,
        style: Style::from_prompt(prompt),
    };
    let (left, right) = continuation(None, &score, start, frames_in(seconds, RATE), RATE);
    Audio {
        sample_rate: RATE,
        channels: vec![left, right],
    }
}

fn overlap() -> usize {
    frames_in(OVERLAP_SECONDS, RATE)
}

/// The tail a repaint starts from: 15 s of the default music, 100 s into the piece.
fn tail() -> Audio {
    music(DEFAULT, 1, 100.0, OVERLAP_SECONDS)
}

/// What upstream returns for `kept` as the overlap: `kept` up to the splice, crossfaded there into new
/// music that goes on for 20 s more.
fn returned(kept: &Audio) -> Audio {
    let new = music("deep drone", 5, 0.0, OVERLAP_SECONDS + 20.0);
    let (overlap, splice) = (overlap(), frames_in(0.5, RATE));
    let channels = kept
        .channels
        .iter()
        .zip(&new.channels)
        .map(|(k, n)| {
            let mut out = n.clone();
            for (i, sample) in out[..overlap].iter_mut().enumerate() {
                let into_new = (i + splice).saturating_sub(overlap) as f32 / splice as f32;
                *sample = k[i] * (1.0 - into_new) + *sample * into_new;
            }
            out
        })
        .collect();
    Audio {
        sample_rate: RATE,
        channels,
    }
}

fn scaled(audio: &Audio, gain_db: f64) -> Audio {
    let gain = 10f64.powf(gain_db / 20.0) as f32;
    let mut out = audio.clone();
    out.channels.iter_mut().flatten().for_each(|s| *s *= gain);
    out
}

/// `audio` peak-normalised to -1 dBFS as upstream saves it, and the gain that took.
fn peak_normalised(audio: &Audio) -> (Audio, f64) {
    let peak = audio
        .channels
        .iter()
        .flatten()
        .fold(0.0f32, |m, s| m.max(s.abs()));
    let gain_db = -1.0 - 20.0 * f64::from(peak).log10();
    (scaled(audio, gain_db), gain_db)
}

fn mixed(a: &Audio, b: &Audio, b_db: f64) -> Audio {
    let b = scaled(b, b_db);
    let mut out = a.clone();
    for (o, b) in out.channels.iter_mut().zip(&b.channels) {
        o.iter_mut().zip(b).for_each(|(o, b)| *o += b);
    }
    out
}

fn show(case: &str, join: &Join) {
    eprintln!(
        "{case}: gain {:+.3} dB, residual {:.1} dB, correlated {}",
        join.gain_db(),
        join.residual_db,
        join.correlated()
    );
}

#[test]
fn a_tail_scaled_by_minus_3_7_db_measures_plus_3_7_db_and_is_the_same_music() {
    let heard = tail();
    let join = measure(&heard, &scaled(&returned(&heard), -3.7), overlap());
    show("scaled by -3.7 dB", &join);
    assert!((join.gain_db() - 3.7).abs() < 0.001, "{join:?}");
    assert!(join.residual_db < CORRELATED_BELOW_DB - 60.0, "{join:?}");
    assert!(join.correlated());
}

#[test]
fn a_peak_normalised_or_16_bit_round_tripped_overlap_is_the_same_music() {
    let heard = tail();
    let (normalised, gain_db) = peak_normalised(&returned(&heard));
    let join = measure(&heard, &normalised, overlap());
    show("peak-normalised to -1 dBFS", &join);
    assert!(join.correlated(), "{join:?}");

    let round_trip = wav::decode(&wav::encode(&normalised).unwrap()).unwrap();
    let join = measure(&heard, &round_trip, overlap());
    show("peak-normalised, then 16-bit WAV", &join);
    assert!(join.correlated(), "{join:?}");
    assert!(join.residual_db < CORRELATED_BELOW_DB - 30.0, "{join:?}");
    assert!(
        (join.gain_db() + gain_db).abs() < 0.001,
        "{join:?} after {gain_db} dB"
    );

    // A passage 24 dB quieter keeps fewer bits above the rounding, and is still recognised.
    let quiet = scaled(&heard, -24.0);
    let (normalised, _) = peak_normalised(&returned(&quiet));
    let round_trip = wav::decode(&wav::encode(&normalised).unwrap()).unwrap();
    let join = measure(&quiet, &round_trip, overlap());
    show("24 dB quieter, 16-bit WAV", &join);
    assert!(join.correlated(), "{join:?}");
}

#[test]
fn other_music_in_the_overlap_is_not_the_same_music() {
    let heard = tail();
    let cases = [
        (
            "another piece mixed in at -6 dB",
            mixed(&heard, &music("warm piano", 9, 40.0, OVERLAP_SECONDS), -6.0),
        ),
        (
            "the same piece 30 s later",
            music(DEFAULT, 1, 130.0, OVERLAP_SECONDS),
        ),
        ("new music", music("soft rain", 3, 0.0, OVERLAP_SECONDS)),
    ];
    for (case, overlap_audio) in cases {
        let (back, _) = peak_normalised(&returned(&overlap_audio));
        let join = measure(&heard, &back, overlap());
        show(case, &join);
        assert!(!join.correlated(), "{case}: {join:?}");
        assert!(
            join.residual_db > CORRELATED_BELOW_DB + 20.0,
            "{case}: {join:?}"
        );
    }
}

#[test]
fn the_splice_zone_is_left_out() {
    // Everything up to the splice zone is the tail; inside it the new music takes over at once.
    let heard = tail();
    let mut back = heard.clone();
    let splice_from = overlap() - frames_in(SPLICE_SECONDS, RATE);
    let other = music("soft rain", 3, 0.0, OVERLAP_SECONDS);
    for (b, o) in back.channels.iter_mut().zip(&other.channels) {
        b[splice_from..].copy_from_slice(&o[splice_from..]);
    }
    let join = measure(&heard, &back, overlap());
    assert_eq!(join.residual_db, RESIDUAL_FLOOR_DB, "{join:?}");
    assert_eq!(join.gain, 1.0);
}

#[test]
fn silence_short_or_mismatched_input_reads_as_unrelated_with_finite_numbers() {
    let heard = tail();
    let silent = Audio::silence(RATE, 2, overlap());
    let short = music(DEFAULT, 1, 100.0, 0.05);
    let mut other_rate = heard.clone();
    other_rate.sample_rate = 44_100;
    let no_channels = Audio {
        sample_rate: RATE,
        channels: vec![],
    };
    let mut inverted = heard.clone();
    inverted
        .channels
        .iter_mut()
        .flatten()
        .for_each(|s| *s = -*s);
    let cases = [
        ("silence both sides", &silent, &silent),
        ("silence heard", &silent, &heard),
        ("silence returned", &heard, &silent),
        ("50 ms", &short, &short),
        ("another sample rate", &heard, &other_rate),
        ("no channels", &no_channels, &heard),
        ("inverted", &heard, &inverted),
    ];
    for (case, h, r) in cases {
        let join = measure(h, r, overlap());
        assert_eq!(join, Join::UNRELATED, "{case}");
        assert!(join.gain_db().is_finite() && !join.correlated(), "{case}");
    }
    assert_eq!(measure(&heard, &heard, 0), Join::UNRELATED);
}

#[test]
fn an_exact_match_reads_as_the_floor_not_minus_infinity() {
    let heard = tail();
    let join = measure(&heard, &heard, overlap());
    assert_eq!(
        join,
        Join {
            gain: 1.0,
            residual_db: RESIDUAL_FLOOR_DB
        }
    );
}

#[test]
fn applying_a_join_restores_the_heard_level_only_when_correlated() {
    let heard = tail();
    let mut back = scaled(&returned(&heard), -3.7);
    let join = measure(&heard, &back, overlap());
    join.apply(&mut back);
    let again = measure(&heard, &back, overlap());
    assert!(again.gain_db().abs() < 1e-4, "{again:?}");

    let mut other = music("soft rain", 3, 0.0, OVERLAP_SECONDS);
    let untouched = other.clone();
    measure(&heard, &other, overlap()).apply(&mut other);
    assert_eq!(other, untouched);
}
