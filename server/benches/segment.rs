//! What the server itself spends per segment (besides the model), against merely copying the same bytes,
//! what joining a segment to what was heard costs (gain match and loudness levelling), and how fast the
//! embedded synthesizer renders, as a multiple of real time on one core.
//!
//! `cargo bench -p server --bench segment`. Figures are medians of repeated runs; compare the ratios,
//! which hold up on a busy machine better than the absolute times.

use std::path::Path;
use std::time::{Duration, Instant};

use tsuzuki_audio::synth::{continuation, Score, Style};
use tsuzuki_audio::{convert, frames_in, join, loudness, seed, wav, Audio};

const RATE: u32 = 48_000;
const SEGMENT: f64 = 60.0;
const OVERLAP: f64 = 15.0;

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm the page cache and allocator
    median(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed()
            })
            .collect(),
    )
}

/// The server's part of one segment besides encoding it (`--bench encodings`): build the seed from the
/// previous segment's tail (kept in memory), write it, bring the model's result to the session layout,
/// store it (its FLAC and Opus, encoded beforehand here), and delete the seed and the segment before.
fn server_work(dir: &Path, previous_tail: &Audio, result: Audio, encoded: &[Vec<u8>; 2]) {
    let seed = seed::build(
        previous_tail,
        frames_in(OVERLAP, RATE),
        frames_in(SEGMENT, RATE),
    );
    let seed_path = dir.join("seed.wav");
    wav::write(&seed_path, &seed).expect("write seed");
    let normalised = convert::to_layout(result, RATE, 2, frames_in(SEGMENT, RATE));
    let out = [dir.join("next.flac"), dir.join("next.opus")];
    for (path, bytes) in out.iter().zip(encoded) {
        std::fs::write(path, bytes).expect("write segment");
    }
    let _tail = seed::build(
        &normalised,
        frames_in(OVERLAP, RATE),
        frames_in(OVERLAP, RATE),
    );
    std::fs::remove_file(seed_path).expect("delete seed");
    for path in out {
        std::fs::remove_file(path).expect("delete the segment before");
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let score = Score {
        seed: 7,
        style: Style::from_prompt(app::api::DEFAULT_PROMPT),
    };
    let frames = frames_in(SEGMENT, RATE);
    let synth = time(5, || {
        std::hint::black_box(continuation(None, &score, 120.0, frames, RATE));
    });
    let (left, right) = continuation(None, &score, 0.0, frames, RATE);
    let audio = Audio {
        sample_rate: RATE,
        channels: vec![left, right],
    };
    let previous = dir.path().join("previous.wav");
    let bytes = wav::write(&previous, &audio).expect("write");

    let copy_target = dir.path().join("copy.wav");
    let copy = time(15, || {
        std::fs::copy(&previous, &copy_target).expect("copy");
        std::fs::remove_file(&copy_target).expect("delete copy");
    });
    let tail = seed::build(&audio, frames_in(OVERLAP, RATE), frames_in(OVERLAP, RATE));
    let encoded = tsuzuki::encoding::encode(&audio, 128_000).expect("encode");
    let encoded = [encoded.flac, encoded.opus];
    let mut results = vec![audio.clone(); 16];
    let work = time(15, || {
        server_work(
            dir.path(),
            &tail,
            results.pop().expect("one per run"),
            &encoded,
        )
    });
    // What joining adds: the overlap's gain measured against the tail heard, undone, and the new material
    // levelled to -16 LUFS with the true-peak limiter, on a result that came back 3 dB quieter.
    let heard = seed::build(&audio, frames_in(OVERLAP, RATE), frames_in(OVERLAP, RATE));
    let mut quieter = audio.clone();
    quieter
        .channels
        .iter_mut()
        .flatten()
        .for_each(|s| *s *= 0.708);
    let joining = time(5, || {
        let mut returned = quieter.clone();
        let measured = join::measure(&heard, &returned, frames_in(OVERLAP, RATE));
        measured.apply(&mut returned);
        std::hint::black_box(loudness::level(
            &mut returned,
            frames_in(OVERLAP, RATE),
            -16.0,
        ));
    });
    let at_44k = convert::to_layout(audio.clone(), 44_100, 2, frames_in(SEGMENT, 44_100));
    let resample = time(5, || {
        std::hint::black_box(convert::to_layout(at_44k.clone(), RATE, 2, frames));
    });

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "segment: {SEGMENT} s, {RATE} Hz stereo, {:.1} MB WAV",
        bytes as f64 / 1e6
    );
    println!("copy the WAV (baseline)            {:8.2} ms", ms(copy));
    println!(
        "server work per segment            {:8.2} ms  ({:.1}x the copy; goal < 20 ms)",
        ms(work),
        work.as_secs_f64() / copy.as_secs_f64()
    );
    println!(
        "join and level a segment           {:8.2} ms  ({:.2}x the synthesizer's render of it)",
        ms(joining),
        joining.as_secs_f64() / synth.as_secs_f64()
    );
    println!(
        "resample a 44.1 kHz result to 48k  {:8.2} ms  (only when a model returns another rate)",
        ms(resample)
    );
    println!(
        "synthesizer, 60 s of music         {:8.2} ms  ({:.0}x real time on one core; goal >= 200x)",
        ms(synth),
        SEGMENT / synth.as_secs_f64()
    );
}
