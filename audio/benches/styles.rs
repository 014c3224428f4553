//! Every style the synthesizer knows, rendered and measured as a listener would: the long-term
//! spectrum's slope (500 Hz–8 kHz), integrated loudness, true peak, low-frequency onsets per minute, the
//! tempo found against the tempo asked for, and the render speed as a multiple of real time on one core.
//!
//! `cargo bench -p tsuzuki-audio --bench styles [-- SECONDS] [NAME]` (default 120 s of music per style;
//! NAME keeps only the styles whose name contains it; `--bands` adds each style's octave-band levels).

use std::time::Instant;

use tsuzuki_audio::listen::{
    average_spectrum, low_onset_strength, mono, onsets_per_minute, spectrum_slope, tempo,
    third_octaves,
};
use tsuzuki_audio::loudness::{integrated_lufs, true_peak_dbtp};
use tsuzuki_audio::synth::{continuation, Score, Style};
use tsuzuki_audio::{frames_in, Audio};

const RATE: u32 = 48_000;

/// (style, a prompt a listener would type for it)
const STYLES: [(&str, &str); 21] = [
    (
        "ambient (default)",
        "instrumental ambient focus music, smooth continuous texture, no vocals, stable rhythm",
    ),
    ("ambient drone", "dark ambient drone"),
    ("bright ambient", "bright airy ambient pads"),
    ("piano", "piano"),
    ("felt piano", "soft felt piano"),
    ("lofi", "lofi hip hop beat 84 bpm"),
    ("jazz", "late night jazz, rhodes, upright bass, brushes"),
    ("strings", "classical string quartet"),
    ("cinematic", "cinematic strings and cello"),
    ("acoustic guitar", "bright morning acoustic guitar"),
    ("downtempo", "downtempo electronic 96 bpm"),
    ("house", "deep house 122 bpm"),
    ("techno", "energetic techno 128 bpm"),
    ("rain", "rain"),
    ("ocean", "ocean waves"),
    ("forest", "forest birds"),
    ("fire", "crackling fireplace"),
    ("café", "coffee shop murmur"),
    ("mixed", "rainy night jazz piano"),
    ("jazz (plain)", "jazz"),
    ("lofi (plain)", "lofi hip hop"),
];

fn main() {
    let seconds: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(120.0);
    let only = std::env::args()
        .skip(1)
        .find(|a| a.parse::<f64>().is_err() && !a.starts_with('-'));
    let bands = std::env::args().any(|a| a == "--bands");
    let frames = frames_in(seconds, RATE);
    println!(
        "{:<18} {:>9} {:>7} {:>7} {:>8} {:>7} {:>11} {:>8}",
        "style", "slope", "LUFS", "dBTP", "onset/m", "asked", "tempo", "speed"
    );
    for (name, prompt) in STYLES {
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        let style = Style::from_prompt(prompt);
        let asked = style
            .heard()
            .iter()
            .find_map(|w| w.strip_suffix(" bpm").map(str::to_string));
        let score = Score { seed: 11, style };
        let started = Instant::now();
        let (l, r) = continuation(None, &score, 30.0, frames, RATE);
        let speed = seconds / started.elapsed().as_secs_f64();
        let audio = Audio {
            sample_rate: RATE,
            channels: vec![l, r],
        };
        let strength = low_onset_strength(&mono(&audio), RATE);
        let onsets = onsets_per_minute(&strength, 5.0);
        // Without a beat there is no tempo to find.
        let found = tempo(&strength)
            .filter(|(_, periodicity)| onsets >= 10.0 && *periodicity >= 0.1)
            .map_or("-".into(), |(bpm, s)| format!("{bpm:.1} ({s:.2})"));
        println!(
            "{name:<18} {:>6.1}/oct {:>7.1} {:>7.1} {:>8.0} {:>7} {:>11} {:>7.0}x",
            spectrum_slope(&audio),
            integrated_lufs(&audio),
            true_peak_dbtp(&audio),
            onsets,
            asked.unwrap_or("-".into()),
            found,
            speed,
        );
        if bands {
            let levels = third_octaves(&average_spectrum(&mono(&audio)), RATE, 62.5, 16000.0);
            let line: Vec<String> = levels
                .iter()
                .step_by(3)
                .map(|(f, db)| format!("{f:.0} Hz {db:.0}"))
                .collect();
            println!("    {}", line.join(" · "));
        }
    }
}
