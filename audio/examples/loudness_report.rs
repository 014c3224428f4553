//! Loudness report for the release note: 20 synth segments of 60 s with 15 s overlaps per prompt, returned
//! by a stand-in of the newer ACE-Step (new material at a random level, peak-normalised to −1 dBFS), kept
//! as returned (a) and settled as the server will, joins matched and levelled to −16 LUFS (b).
//!
//! `cargo run --release -p tsuzuki-audio --example loudness_report`

#[path = "../tests/model/mod.rs"]
mod model;

use std::time::Instant;

use model::{session, Model, Segment};
use tsuzuki_audio::loudness::{integrated_lufs, true_peak_dbtp};

const TARGET_LUFS: f64 = -16.0;
const SEGMENTS: usize = 20;
const SEGMENT_SECONDS: f64 = 60.0;
const OVERLAP_SECONDS: f64 = 15.0;
const PROMPTS: [&str; 4] = [
    "instrumental ambient focus music, smooth continuous texture, no vocals, stable rhythm",
    "soft rain",
    "warm piano",
    "deep drone",
];

/// Per-segment numbers of one run, and its summary.
struct Run {
    lufs: Vec<f64>,
    peaks: Vec<f64>,
    segments: Vec<Segment>,
}

impl Run {
    fn new(segments: Vec<Segment>) -> Run {
        Run {
            lufs: segments.iter().map(|s| integrated_lufs(&s.audio)).collect(),
            peaks: segments.iter().map(|s| true_peak_dbtp(&s.audio)).collect(),
            segments,
        }
    }

    fn spread(&self) -> f64 {
        let max = self.lufs.iter().copied().fold(f64::MIN, f64::max);
        max - self.lufs.iter().copied().fold(f64::MAX, f64::min)
    }

    fn largest_change(&self) -> f64 {
        let changes = self.lufs.windows(2).map(|w| (w[1] - w[0]).abs());
        changes.fold(0.0, f64::max)
    }

    fn largest_step(&self) -> f64 {
        let steps = self.segments.iter().map(|s| s.step_db.abs());
        steps.fold(0.0, f64::max)
    }
}

fn main() {
    println!(
        "{SEGMENTS} segments of {SEGMENT_SECONDS} s, {OVERLAP_SECONDS} s overlaps, target {TARGET_LUFS} LUFS"
    );
    let (mut render_seconds, mut settle_seconds, mut rendered) = (0.0, 0.0, 0);
    for (seed, prompt) in (1u64..).zip(PROMPTS) {
        let model = || Model::new(prompt, seed, SEGMENT_SECONDS, OVERLAP_SECONDS);
        let started = Instant::now();
        let raw: Vec<f64> = (0..SEGMENTS)
            .map(|n| integrated_lufs(&model().render(n)))
            .collect();
        render_seconds += started.elapsed().as_secs_f64();
        rendered += SEGMENTS;
        let as_returned = Run::new(session(&mut model(), SEGMENTS, None));
        let settled = Run::new(session(&mut model(), SEGMENTS, Some(TARGET_LUFS)));
        settle_seconds += settled
            .segments
            .iter()
            .map(|s| s.settle_seconds)
            .sum::<f64>();
        report(prompt, &raw, &as_returned, &settled);
    }
    let render = render_seconds / rendered as f64;
    let settle = settle_seconds / rendered as f64;
    println!(
        "\nper segment: rendering {:.0} ms, measure + match + level {:.0} ms ({:.1} % of rendering)",
        render * 1e3,
        settle * 1e3,
        100.0 * settle / render
    );
}

fn report(prompt: &str, raw: &[f64], a: &Run, b: &Run) {
    let mean = raw.iter().sum::<f64>() / raw.len() as f64;
    let (low, high) = (
        raw.iter().copied().fold(f64::MAX, f64::min),
        raw.iter().copied().fold(f64::MIN, f64::max),
    );
    println!("\n\"{prompt}\"");
    println!(
        "synth as rendered: {mean:.1} LUFS ({low:.1} to {high:.1}); -16 LUFS needs {:+.1} dB",
        TARGET_LUFS - mean
    );
    println!(
        "  n | (a) as returned: LUFS   dBTP  join dB  resid dB | (b) settled: LUFS   dBTP  join dB  resid dB  step dB  gain dB"
    );
    for n in 0..a.lufs.len() {
        let join = |run: &Run| {
            run.segments[n]
                .join
                .map_or("       -         -".to_string(), |j| {
                    format!("{:+8.2}  {:8.1}", j.gain_db(), j.residual_db)
                })
        };
        let levelled = &b.segments[n].levelled;
        println!(
            " {n:2} |               {:6.2} {:+6.2} {} |             {:6.2} {:+6.2} {} {:+8.3} {:+8.2}",
            a.lufs[n],
            a.peaks[n],
            join(a),
            b.lufs[n],
            b.peaks[n],
            join(b),
            b.segments[n].step_db,
            levelled.map_or(0.0, |l| l.gain_db),
        );
    }
    for (name, run) in [("(a) as returned", a), ("(b) settled", b)] {
        println!(
            "{name}: spread {:.2} LU, largest change between segments {:.2} LU, largest join step {:.3} dB, highest true peak {:+.2} dBTP",
            run.spread(),
            run.largest_change(),
            run.largest_step(),
            run.peaks.iter().copied().fold(f64::MIN, f64::max),
        );
    }
}
