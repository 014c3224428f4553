//! Levelling as a listener hears it: the heard overlap untouched, the new material at the target, no
//! true peak above the ceiling, and a gain that glides instead of stepping.

use super::*;
use crate::synth::{continuation, Score, Style};

const RATE: u32 = 48_000;
const TARGET: f64 = -16.0;

fn audio(channels: Vec<Vec<f32>>) -> Audio {
    Audio {
        sample_rate: RATE,
        channels,
    }
}

fn secs(seconds: f64) -> usize {
    frames_in(seconds, RATE)
}

fn music(prompt: &str, seconds: f64, gain_db: f64) -> Audio {
    let score = Score {
        seed: 4,
        style: Style::from_prompt(prompt),
    };
    let (left, right) = continuation(None, &score, 30.0, secs(seconds), RATE);
    let mut out = audio(vec![left, right]);
    let gain = 10f64.powf(gain_db / 20.0) as f32;
    out.channels.iter_mut().flatten().for_each(|s| *s *= gain);
    out
}

/// Both channels of `f(t)` for `seconds`.
fn signal(seconds: f64, f: impl Fn(f64) -> f64) -> Audio {
    let channel: Vec<f32> = (0..secs(seconds))
        .map(|i| f(i as f64 / f64::from(RATE)) as f32)
        .collect();
    audio(vec![channel.clone(), channel])
}

/// A naive square wave at full scale: its edges ring between samples well above 0 dBFS.
fn square(seconds: f64, hz: f64) -> Audio {
    signal(seconds, |t| if (t * hz).fract() < 0.5 { 1.0 } else { -1.0 })
}

fn tail(audio: &Audio, from: usize) -> Audio {
    Audio {
        sample_rate: audio.sample_rate,
        channels: audio.channels.iter().map(|c| c[from..].to_vec()).collect(),
    }
}

/// The largest change of the applied gain from one frame to the next (dB), read off a signal that never
/// comes near zero.
fn largest_gain_step_db(before: &Audio, after: &Audio) -> f64 {
    let gains: Vec<f64> = before.channels[0]
        .iter()
        .zip(&after.channels[0])
        .map(|(b, a)| 20.0 * f64::from(a / b).log10())
        .collect();
    gains
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f64::max)
}

#[test]
fn the_meter_reads_the_ebu_reference_sine() {
    // EBU Tech 3341: a 1 kHz sine at -23 dBFS in both channels of a stereo file reads -23 LUFS.
    let amplitude = 10f64.powf(-23.0 / 20.0);
    let sine = signal(3.0, |t| {
        amplitude * (std::f64::consts::TAU * 1000.0 * t).sin()
    });
    assert!(
        (integrated_lufs(&sine) + 23.0).abs() < 0.1,
        "{}",
        integrated_lufs(&sine)
    );
    assert!(
        (true_peak_dbtp(&sine) + 23.0).abs() < 0.1,
        "{}",
        true_peak_dbtp(&sine)
    );
    assert!(
        true_peak_dbtp(&square(1.0, 997.0)) > 0.5,
        "a square's inter-sample peaks"
    );
}

#[test]
fn the_heard_overlap_is_left_bit_for_bit_and_the_new_material_reaches_the_target() {
    for gain_db in [-9.0, 0.0, 6.0] {
        let original = music("warm piano", 25.0, gain_db);
        let from = secs(5.0);
        let mut levelled = original.clone();
        let report = level(&mut levelled, from, TARGET);
        for (a, b) in original.channels.iter().zip(&levelled.channels) {
            let same = a[..from]
                .iter()
                .zip(&b[..from])
                .all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "the heard overlap changed at {gain_db} dB");
        }
        let after = integrated_lufs(&tail(&levelled, from));
        eprintln!("{gain_db:+} dB input: {report:?}, measured {after:.2} LUFS");
        assert!((after - TARGET).abs() < 0.5, "{gain_db} dB: {after} LUFS");
        assert!((report.after_lufs - after).abs() < 0.01);
        assert!((report.before_lufs - integrated_lufs(&tail(&original, from))).abs() < 0.01);
        assert!(report.true_peak_dbtp <= TRUE_PEAK_CEILING_DBTP);
    }
}

#[test]
fn a_first_segment_gets_one_constant_gain_to_the_target() {
    let original = music(
        "instrumental ambient focus music, smooth continuous texture, no vocals, stable rhythm",
        10.0,
        -6.0,
    );
    let mut levelled = original.clone();
    let report = level(&mut levelled, 0, TARGET);
    assert!(
        (integrated_lufs(&levelled) - TARGET).abs() < 0.1,
        "{report:?}"
    );
    let gain = 10f64.powf(report.gain_db / 20.0) as f32;
    let worst = original.channels[0]
        .iter()
        .zip(&levelled.channels[0])
        .map(|(o, l)| (o * gain - l).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-6, "gain not constant: off by {worst}");
}

#[test]
fn a_hot_square_at_full_scale_comes_out_under_the_true_peak_ceiling() {
    let mut hot = square(3.0, 997.0);
    let own_loudness = integrated_lufs(&hot);
    let report = level(&mut hot, 0, own_loudness);
    eprintln!("square at 0 dBFS: {report:?}");
    assert!(true_peak_dbtp(&hot) <= TRUE_PEAK_CEILING_DBTP, "{report:?}");
    assert!(
        report.true_peak_dbtp <= TRUE_PEAK_CEILING_DBTP,
        "{report:?}"
    );
}

#[test]
fn loud_music_after_a_quiet_overlap_is_limited_without_touching_the_overlap() {
    // A quiet overlap, then music swelling in over 50 ms to a target its peaks cannot reach unlimited.
    let quiet = 10f32.powf(-30.0 / 20.0);
    let from = secs(5.0);
    let mut original = music("soft rain warm piano", 12.0, 0.0);
    for channel in &mut original.channels {
        let peak = channel.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        for (i, s) in channel.iter_mut().enumerate() {
            let swell = (i.saturating_sub(from) as f32 / secs(0.05) as f32).min(1.0);
            *s *= quiet + (1.0 / peak - quiet) * swell;
        }
    }
    let mut levelled = original.clone();
    let report = level(&mut levelled, from, -8.0);
    eprintln!("loud after quiet: {report:?}");
    assert_eq!(levelled.channels[0][..from], original.channels[0][..from]);
    let around_the_join = tail(&levelled, from - secs(0.1));
    assert!(
        true_peak_dbtp(&around_the_join) <= TRUE_PEAK_CEILING_DBTP,
        "{report:?}"
    );
    assert!(
        report.true_peak_dbtp <= TRUE_PEAK_CEILING_DBTP,
        "{report:?}"
    );
}

#[test]
fn the_gain_glides_from_the_overlap_and_the_limiter_never_steps() {
    // A tone on a DC offset never crosses zero, so every frame shows the gain it got; every 2 s it
    // doubles for 200 ms, a burst the limiter has to meet.
    let tone = |level: f64, burst: f64| {
        move |t: f64| {
            let louder = if t % 2.0 >= 1.0 && t % 2.0 < 1.2 {
                burst
            } else {
                1.0
            };
            level * louder * (0.5 + 0.3 * (std::f64::consts::TAU * 220.0 * t).sin())
        }
    };
    let from = secs(4.0);
    let original = signal(16.0, tone(0.01, 1.0));
    let mut levelled = original.clone();
    let report = level(&mut levelled, from, TARGET);
    let ramp_step = largest_gain_step_db(&original, &levelled);
    eprintln!(
        "ramp by {:+.1} dB: largest step {ramp_step:.2e} dB",
        report.gain_db
    );
    assert_eq!(
        report.gain_db, MAX_GAIN_DB,
        "a quiet tone asks for the most gain"
    );
    // A raised cosine of G dB over N frames moves at most πG/2N per frame: 15 dB over 4 s at 48 kHz is
    // 1.23e-4 dB. A step anywhere would be orders of magnitude above that.
    let smooth = std::f64::consts::PI * MAX_GAIN_DB / (2.0 * secs(4.0) as f64);
    assert!(ramp_step < smooth * 1.05, "{ramp_step} dB in one frame");

    let original = signal(16.0, tone(0.25, 2.0));
    let mut levelled = original.clone();
    let report = level(&mut levelled, from, 0.0);
    let limited_step = largest_gain_step_db(&original, &levelled);
    eprintln!("limited {report:?}: largest step {limited_step:.4} dB");
    assert!(report.true_peak_dbtp <= TRUE_PEAK_CEILING_DBTP);
    // 0.03 dB from one frame to the next: a gain moving 1.4 dB per millisecond at most, which a limiter
    // meets a note with; a step would be heard as a click.
    assert!(limited_step > 0.01, "the limiter met the bursts");
    assert!(limited_step < 0.03, "{limited_step} dB in one frame");
}

#[test]
fn silence_short_or_unmeasurable_audio_gives_finite_numbers_and_no_gain() {
    let silent = Audio::silence(RATE, 2, secs(3.0));
    let short = music("warm piano", 0.3, -6.0);
    for (case, original, from) in [
        ("silence", &silent, secs(1.0)),
        ("300 ms", &short, 0),
        ("from past the end", &short, secs(1.0)),
        ("no channels", &audio(vec![]), 0),
        (
            "no sample rate",
            &Audio {
                sample_rate: 0,
                ..short.clone()
            },
            0,
        ),
    ] {
        let mut levelled = original.clone();
        let report = level(&mut levelled, from, TARGET);
        assert_eq!(&levelled, original, "{case}");
        assert_eq!(report.gain_db, 0.0, "{case}");
        let numbers = [report.before_lufs, report.after_lufs, report.true_peak_dbtp];
        assert!(numbers.iter().all(|n| n.is_finite()), "{case}: {report:?}");
    }
    assert_eq!(integrated_lufs(&silent), FLOOR_DB);
    assert_eq!(true_peak_dbtp(&silent), FLOOR_DB);
}

#[test]
fn a_target_that_is_not_a_number_keeps_the_level() {
    let original = music("warm piano", 10.0, -6.0);
    let mut levelled = original.clone();
    let report = level(&mut levelled, secs(2.0), f64::NAN);
    assert_eq!(report.gain_db, 0.0);
    assert_eq!(levelled, original);
}

#[test]
fn a_raised_cosine_ramp_starts_at_unity_and_arrives_at_the_gain() {
    let ramp = Ramp::new(5, 100);
    assert_eq!(ramp.at(0), 0.0);
    assert!((ramp.at(50) - 0.5).abs() < 1e-12);
    assert_eq!(ramp.at(100), 1.0);
    assert_eq!(Ramp::new(0, 100).at(0), 1.0);
    assert_eq!(gains(&ramp, 12.0, &[f32::INFINITY, -6.0])[0], 1.0);
}
