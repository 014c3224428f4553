//! What each segment encoding costs and weighs, per synthesizer style: bytes per minute of WAV, FLAC and
//! Ogg Opus (128 kb/s), and encoding speed as a multiple of real time on one core, beside the plain WAV
//! encoding as the baseline. Also the WAV made from a stored FLAC, which is how WAV downloads are served.
//!
//! `cargo bench -p server --bench encodings`. Times are medians of repeated runs; compare the ratios.

use std::time::{Duration, Instant};

use tsuzuki::encoding;
use tsuzuki_audio::synth::{continuation, Score, Style};
use tsuzuki_audio::{flac, frames_in, wav, Audio};

const RATE: u32 = 48_000;
const SEGMENT: f64 = 60.0;
const OPUS_BITRATE: u32 = 128_000;

/// The prompts of the synthesizer's styles, the product's default first.
const PROMPTS: [&str; 7] = [
    app::api::DEFAULT_PROMPT,
    "calm piano, soft rain",
    "heavy rain storm",
    "lofi piano 84 bpm",
    "dark drone",
    "bright morning ambient",
    "warm rhythmic groove with drums",
];

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut all: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    all.sort();
    all[runs / 2]
}

fn main() {
    let frames = frames_in(SEGMENT, RATE);
    let realtime = |d: Duration| SEGMENT / d.as_secs_f64();
    println!("60 s segments, 48 kHz stereo; MB per minute of music, and speed as a multiple of real time on one core");
    println!(
        "{:<34} {:>7} {:>7} {:>6} {:>7}   {:>8} {:>8} {:>8} {:>9}",
        "prompt", "WAV", "FLAC", "ratio", "Opus", "WAV enc", "FLAC enc", "Opus enc", "WAV←FLAC"
    );
    for (n, prompt) in PROMPTS.iter().enumerate() {
        let score = Score {
            seed: 7 + n as u64,
            style: Style::from_prompt(prompt),
        };
        let (left, right) = continuation(None, &score, 120.0, frames, RATE);
        let audio = Audio {
            sample_rate: RATE,
            channels: vec![left, right],
        };
        let wav_bytes = wav::encode(&audio).expect("wav").len() as f64;
        let flac_bytes = flac::encode(&audio).expect("flac");
        let opus_bytes = encoding::opus::encode(&audio, OPUS_BITRATE)
            .expect("opus")
            .len() as f64;
        let wav_time = time(5, || {
            std::hint::black_box(wav::encode(&audio).expect("wav"));
        });
        let flac_time = time(5, || {
            std::hint::black_box(flac::encode(&audio).expect("flac"));
        });
        let opus_time = time(3, || {
            std::hint::black_box(encoding::opus::encode(&audio, OPUS_BITRATE).expect("opus"));
        });
        let served_wav = time(5, || {
            std::hint::black_box(encoding::wav_from_flac(&flac_bytes).expect("wav"));
        });
        println!(
            "{:<34} {:>7.2} {:>7.2} {:>5.0}% {:>7.2}   {:>7.0}x {:>7.0}x {:>7.0}x {:>8.0}x",
            prompt.chars().take(34).collect::<String>(),
            wav_bytes / 1e6,
            flac_bytes.len() as f64 / 1e6,
            100.0 * flac_bytes.len() as f64 / wav_bytes,
            opus_bytes / 1e6,
            realtime(wav_time),
            realtime(flac_time),
            realtime(opus_time),
            realtime(served_wav),
        );
    }
}
