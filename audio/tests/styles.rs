//! The synthesizer judged as a listener would, from rendered audio alone: each style's tone and level,
//! a beat at the tempo asked for (and none after "no drums"), styles that differ from one another,
//! brighter for "bright", and no repetition over half an hour.

use tsuzuki_audio::listen::{
    average_spectrum, band_frames, closest_repeat, low_onset_strength, mono, onset_strength,
    onsets_per_minute, spectrum_slope, tempo, third_octaves, Frame,
};
use tsuzuki_audio::loudness::{integrated_lufs, true_peak_dbtp};
use tsuzuki_audio::synth::{continuation, Score, Style};
use tsuzuki_audio::Audio;

const RATE: u32 = 48_000;
const DEFAULT: &str =
    "instrumental ambient focus music, smooth continuous texture, no vocals, stable rhythm";

/// Neutral or bright prompts, one per style a listener names.
const STYLES: [&str; 13] = [
    DEFAULT,
    "ambient",
    "piano",
    "lofi hip hop",
    "jazz",
    "string quartet",
    "acoustic guitar",
    "downtempo electronic",
    "house",
    "rain",
    "ocean waves",
    "forest birds",
    "coffee shop",
];

fn render(prompt: &str, seed: u64, start: f64, seconds: f64) -> Audio {
    let score = Score {
        seed,
        style: Style::from_prompt(prompt),
    };
    let frames = (seconds * f64::from(RATE)) as usize;
    let (l, r) = continuation(None, &score, start, frames, RATE);
    Audio {
        sample_rate: RATE,
        channels: vec![l, r],
    }
}

fn minute(prompt: &str, seed: u64) -> Audio {
    render(prompt, seed, 60.0, 60.0)
}

#[test]
fn every_style_has_a_full_spectrum_and_a_safe_level() {
    for prompt in STYLES {
        for seed in [1, 2] {
            let audio = minute(prompt, seed);
            let slope = spectrum_slope(&audio);
            let lufs = integrated_lufs(&audio);
            let peak = true_peak_dbtp(&audio);
            let folded = Audio {
                sample_rate: RATE,
                channels: vec![mono(&audio)],
            };
            // A centred mix folded to mono measures 3 LU lower (one channel, not two).
            let mono_loss = lufs - integrated_lufs(&folded);
            let spectrum = average_spectrum(&mono(&audio));
            let bands = third_octaves(&spectrum, RATE, 16.0, 16000.0);
            let loudest = bands.iter().map(|b| b.1).fold(f64::MIN, f64::max);
            let rumble = bands
                .iter()
                .filter(|b| b.0 < 25.0)
                .map(|b| b.1)
                .fold(f64::MIN, f64::max);
            eprintln!(
                "{prompt:?} seed {seed}: slope {slope:.1} dB/oct, {lufs:.1} LUFS, {peak:.1} dBTP, \
                 mono {mono_loss:.1} LU, below 25 Hz {:.0} dB",
                rumble - loudest
            );
            assert!((-8.0..=-3.0).contains(&slope), "{prompt}: slope {slope:.1}");
            assert!((-21.0..=-13.0).contains(&lufs), "{prompt}: {lufs:.1} LUFS");
            assert!(peak <= -1.0, "{prompt}: true peak {peak:.1} dBTP");
            // Uncorrelated channels (rain, wind) lose 6 LU; only anti-phase content loses more.
            assert!(
                mono_loss < 6.0,
                "{prompt}: mono fold-down loses {mono_loss:.1} LU"
            );
            assert!(rumble < loudest - 30.0, "{prompt}: rumble {rumble:.0} dB");
        }
    }
}

#[test]
fn bright_sounds_brighter_than_dark() {
    for genre in ["piano", "ambient", "lofi", "strings"] {
        let slope = |tone: &str| spectrum_slope(&minute(&format!("{tone} {genre}"), 3));
        let (dark, bright) = (slope("dark"), slope("bright"));
        eprintln!("{genre}: dark {dark:.1}, bright {bright:.1} dB/oct");
        assert!(
            bright > dark + 2.0,
            "{genre}: dark {dark:.1} vs bright {bright:.1}"
        );
    }
}

#[test]
fn a_beat_plays_at_the_tempo_asked_for() {
    for (prompt, bpm) in [
        ("lofi hip hop beat 84 bpm", 84.0),
        ("energetic techno 128 bpm", 128.0),
        ("deep house 122 bpm", 122.0),
        ("downtempo 96 bpm", 96.0),
        ("jazz 100 bpm", 100.0),
        ("ambient with a soft beat 70 bpm", 70.0),
        ("acoustic guitar and drums 90 bpm", 90.0),
        ("piano beat 76 bpm", 76.0),
        ("bright energetic strings with drums 140 bpm", 140.0),
    ] {
        let audio = minute(prompt, 4);
        let strength = low_onset_strength(&mono(&audio), RATE);
        let (found, periodicity) = tempo(&strength).expect("onsets");
        let rate = onsets_per_minute(&strength, 5.0);
        eprintln!(
            "{prompt:?}: {found:.1} BPM (periodicity {periodicity:.2}), {rate:.0} onsets/min"
        );
        assert!(
            (found / bpm - 1.0).abs() < 0.015,
            "{prompt}: found {found:.1}"
        );
        assert!(periodicity > 0.2, "{prompt}: periodicity {periodicity:.2}");
        assert!(rate >= bpm / 4.0, "{prompt}: {rate:.0} onsets/min");
    }
}

#[test]
fn no_drums_means_no_beat() {
    for prompt in [
        "lofi hip hop, no drums",
        "house music without beat",
        "jazz, no drums",
        "energetic ambient, no percussion",
        "downtempo electronic, no drums",
        "string quartet",
    ] {
        let audio = minute(prompt, 5);
        let rate = onsets_per_minute(&low_onset_strength(&mono(&audio), RATE), 5.0);
        eprintln!("{prompt:?}: {rate:.0} onsets/min");
        assert!(rate < 12.0, "{prompt}: {rate:.0} low onsets per minute");
    }
}

/// A listener's quick picture of a style: octave-band levels (relative to their mean), and the rates
/// of onsets above 400 Hz (plucks, strikes, hats) and below 200 Hz (kicks, basses).
fn fingerprint(prompt: &str) -> (Vec<f64>, f64, f64) {
    let audio = minute(prompt, 6);
    let x = mono(&audio);
    let bands = third_octaves(&average_spectrum(&x), RATE, 62.5, 16000.0);
    let levels: Vec<f64> = bands.iter().step_by(3).map(|b| b.1).collect();
    let mean = levels.iter().sum::<f64>() / levels.len() as f64;
    let upper = onsets_per_minute(&onset_strength(&x, RATE, 400.0, 20000.0), 2.0);
    let low = onsets_per_minute(&low_onset_strength(&x, RATE), 5.0);
    (levels.iter().map(|l| l - mean).collect(), upper, low)
}

#[test]
fn styles_differ_from_one_another() {
    let prompts = [
        "ambient",
        "piano",
        "lofi hip hop",
        "jazz",
        "string quartet",
        "acoustic guitar",
        "downtempo",
        "house",
        "rain",
        "ocean waves",
    ];
    let prints: Vec<_> = prompts.iter().map(|p| fingerprint(p)).collect();
    for (p, f) in prompts.iter().zip(&prints) {
        let bands: Vec<String> = f.0.iter().map(|l| format!("{l:+.0}")).collect();
        eprintln!(
            "{p}: octave bands {} dB, onsets {:.0}/min above 400 Hz, {:.0}/min below 200 Hz",
            bands.join(" "),
            f.1,
            f.2
        );
    }
    for i in 0..prompts.len() {
        for j in i + 1..prompts.len() {
            let (a, b) = (&prints[i], &prints[j]);
            // The largest difference in any octave band.
            let spectral =
                a.0.iter()
                    .zip(&b.0)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max);
            let ratio = |x: f64, y: f64| (x + 5.0).max(y + 5.0) / (x + 5.0).min(y + 5.0);
            let rhythm = ratio(a.1, b.1).max(ratio(a.2, b.2));
            eprintln!(
                "{} / {}: {spectral:.1} dB, rhythm ×{rhythm:.2}",
                prompts[i], prompts[j]
            );
            assert!(
                spectral > 4.0 || rhythm > 1.5,
                "{} and {} sound alike: spectra at most {spectral:.1} dB apart in an octave, onset rates {:.0}/{:.0} and {:.0}/{:.0}",
                prompts[i],
                prompts[j],
                a.1,
                a.2,
                b.1,
                b.2
            );
        }
    }
}

/// Band frames of `minutes` of one prompt, rendered a minute at a time as the server would; with
/// `replay`, minute 13 plays the music from 3:00.37 again (a loop off the frame grid).
fn long_frames(prompt: &str, minutes: usize, replay: bool) -> Vec<Frame> {
    (0..minutes)
        .flat_map(|m| {
            let start = if replay && m == 13 {
                180.37
            } else {
                60.0 * m as f64
            };
            band_frames(&render(prompt, 8, start, 60.0))
        })
        .collect()
}

#[test]
fn half_an_hour_never_repeats() {
    for prompt in [DEFAULT, "deep house 122 bpm"] {
        let closest = closest_repeat(&long_frames(prompt, 30, false), 60.0);
        let with_loop = closest_repeat(&long_frames(prompt, 16, true), 60.0);
        eprintln!("{prompt:?}: closest repeat {closest:.2} (with a planted loop {with_loop:.2})");
        assert!(
            closest < 0.85,
            "{prompt}: a 5 s stretch recurs ({closest:.2})"
        );
        assert!(
            with_loop > 0.9,
            "{prompt}: the planted loop went unseen ({with_loop:.2})"
        );
    }
}
