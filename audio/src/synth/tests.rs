//! Behavioural tests: pure function of time, morphing, prompt parsing, levels, robustness.

use super::render::{render, render_morph};
use super::score::Plan;
use super::{Score, Style};

const SR: u32 = 48_000;
const DEFAULT: &str =
    "instrumental ambient focus music, smooth continuous texture, no vocals, stable rhythm";

fn score(prompt: &str, seed: u64) -> Score {
    Score {
        seed,
        style: Style::from_prompt(prompt),
    }
}

fn secs(s: f64) -> usize {
    (s * f64::from(SR)) as usize
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

fn db(x: f32) -> f32 {
    20.0 * x.max(1e-12).log10()
}

/// RMS frequency from the first difference: a cheap stand-in for the spectral centroid.
fn brightness(x: &[f32]) -> f32 {
    let d: f32 = x.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum();
    (d / x.iter().map(|v| v * v).sum::<f32>()).sqrt() * SR as f32 / std::f32::consts::TAU
}

#[test]
fn continuation_matches_the_overlap() {
    let mut worst = 0.0f32;
    let cases = [
        (DEFAULT, 1),
        ("lofi piano rain warm 84 bpm", 7),
        ("dark ambient drone", 3),
        ("bright piano 110 bpm", 9),
        ("house 124 bpm with strings, ocean and wind", 4),
        ("jazz guitar cello in a coffee shop by the fire", 5),
    ];
    for (prompt, seed) in cases {
        let s = score(prompt, seed);
        // 0 (start of piece), inside the pre-roll clamp, a non-integer start, mid-note, far away.
        for a in [0.0, 2.5, 12.345_678_9, 31.0, 187.25, 7200.123] {
            let n = secs(20.0);
            let (l1, r1) = render(&s, a, n, SR);
            // Includes the server's pattern: the new segment starts where a 15 s copy ends.
            for k in [1, 777, secs(5.0) + 3, secs(15.0)] {
                let b = a + k as f64 / f64::from(SR);
                let (l2, r2) = render(&s, b, n, SR);
                let d = max_diff(&l1[k..], &l2).max(max_diff(&r1[k..], &r2));
                assert!(d < 1e-4, "{prompt} a={a} k={k}: diff {d}");
                worst = worst.max(d);
            }
        }
    }
    eprintln!("max continuity difference: {worst:e}");
}

#[test]
fn morph_is_from_then_blend_then_to() {
    let (a, b) = (score(DEFAULT, 1), score("bright piano 110 bpm", 2));
    let (start, n) = (10.0, secs(30.0));
    let (ml, mr) = render_morph(&a, &b, 20.0, 8.0, start, n, SR);
    let (fl, _) = render(&a, start, n, SR);
    let (tl, tr) = render(&b, start, n, SR);
    assert_eq!(max_diff(&ml[..secs(10.0)], &fl[..secs(10.0)]), 0.0);
    assert_eq!(max_diff(&ml[secs(18.0)..], &tl[secs(18.0)..]), 0.0);
    assert_eq!(max_diff(&mr[secs(18.0)..], &tr[secs(18.0)..]), 0.0);
    // The blend adds no step larger than either piece's own.
    let jump = |x: &[f32]| {
        x.windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max)
    };
    let own = jump(&fl).max(jump(&tl));
    let blend = jump(&ml[secs(9.0)..secs(19.0)]);
    assert!(blend <= own, "blend step {blend} > own {own}");
    let mid = rms(&ml[secs(13.0)..secs(15.0)]);
    assert!(db(mid) > db(rms(&ml)) - 6.0, "no dip in the blend");
    // Continuing a morph mid-blend matches too.
    let k = secs(12.0) + 5;
    let (cl, _) = render_morph(
        &a,
        &b,
        20.0,
        8.0,
        start + k as f64 / f64::from(SR),
        n - k,
        SR,
    );
    assert!(max_diff(&ml[k..], &cl) < 1e-4);
}

#[test]
fn morph_tolerates_odd_arguments() {
    let (a, b) = (score("dark", 1), score("bright", 2));
    for (ms, md) in [
        (f64::NAN, 1.0),
        (5.0, f64::NAN),
        (5.0, 0.0),
        (f64::INFINITY, -3.0),
    ] {
        let (l, r) = render_morph(&a, &b, ms, md, 4.0, secs(2.0), SR);
        assert!(l.iter().chain(&r).all(|x| x.is_finite() && x.abs() <= 1.0));
    }
}

#[test]
fn prompts_and_seeds_sound_different() {
    let (dark, bright) = (score("dark drone", 5), score("bright piano 110 bpm", 5));
    let n = secs(60.0);
    let (dl, _) = render(&dark, 30.0, n, SR);
    let (bl, _) = render(&bright, 30.0, n, SR);
    let (bd, bb) = (brightness(&dl), brightness(&bl));
    assert!(bb > 1.3 * bd, "brightness {bd} vs {bb}");
    assert!(bright.style.bpm > dark.style.bpm + 20.0);
    let count = |s: &Score| Plan::new(s).notes(30.0, 90.0).len();
    assert!(
        count(&bright) > count(&dark) + 20,
        "{} vs {}",
        count(&bright),
        count(&dark)
    );
    // Seeds: different music, and between them every key.
    let (a, _) = render(&score(DEFAULT, 1), 30.0, secs(10.0), SR);
    let (b, _) = render(&score(DEFAULT, 2), 30.0, secs(10.0), SR);
    assert!(max_diff(&a, &b) > 0.05);
    let mut keys: Vec<i32> = (0..200)
        .map(|seed| Plan::new(&score(DEFAULT, seed)).key)
        .collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 12);
}

/// Level, peak, DC and silence bounds over `minutes` of audio.
fn check_levels(prompt: &str, seed: u64, minutes: f64) {
    let (l, r) = render(&score(prompt, seed), 0.0, secs(60.0 * minutes), SR);
    let mono: Vec<f32> = l.iter().zip(&r).map(|(a, b)| 0.5 * (a + b)).collect();
    let overall = db(rms(&l).hypot(rms(&r)) / std::f32::consts::SQRT_2);
    let peak = l.iter().chain(&r).fold(0.0f32, |m, x| m.max(x.abs()));
    let mean = mono.iter().sum::<f32>() / mono.len() as f32;
    eprintln!("{prompt}: rms {overall:.1} dBFS, peak {:.1} dBFS", db(peak));
    assert!(
        (-22.0..=-13.0).contains(&overall),
        "{prompt}: rms {overall}"
    );
    assert!(peak < 0.85, "{prompt}: peak {peak}");
    assert!(mean.abs() < 1e-3, "{prompt}: dc {mean}");
    for w in mono.chunks(secs(1.0)) {
        assert!(
            (db(rms(w)) - overall).abs() < 10.0,
            "{prompt}: 1 s window {}",
            db(rms(w))
        );
    }
    for w in mono.chunks(secs(0.3)) {
        assert!(db(rms(w)) > overall - 30.0, "{prompt}: near-silent 0.3 s");
    }
}

#[test]
fn default_prompt_levels_over_five_minutes() {
    check_levels(DEFAULT, 11, 5.0);
}

#[test]
fn other_prompt_levels() {
    for (i, p) in [
        "dark ambient drone",
        "bright piano 110 bpm",
        "lofi piano rain warm",
        "calm rain",
        "energetic techno 128 bpm",
        "classical string quartet",
        "late night jazz",
        "acoustic guitar",
    ]
    .iter()
    .enumerate()
    {
        check_levels(p, 20 + i as u64, 2.0);
    }
}

#[test]
fn never_nan_at_any_rate_or_input() {
    let s = score(
        "lofi piano rain ocean forest fire wind cafe drone strings bright 140 bpm",
        3,
    );
    for sr in [8000, 44_100, 48_000, 96_000] {
        let (l, r) = render(&s, 3.7, sr as usize * 3, sr);
        assert!(
            l.iter().chain(&r).all(|x| x.is_finite() && x.abs() <= 1.0),
            "{sr}"
        );
        assert!(rms(&l) > 1e-3, "{sr}");
        assert_eq!(render(&s, 1.0, 0, sr), (vec![], vec![]));
    }
    for (start, sr) in [
        (f64::NAN, 48_000),
        (f64::INFINITY, 48_000),
        (-5.0, 48_000),
        (1e15, 48_000),
        (1.0, 0),
        (1.0, 1),
    ] {
        let (l, r) = render(&s, start, 1000, sr);
        assert!(l.len() == 1000 && l.iter().chain(&r).all(|x| x.is_finite()));
    }
    let odd = Score {
        seed: u64::MAX,
        style: Style::from_prompt("\u{1F3B5} ÜBER-dark ☂ 12bpm"),
    };
    let (l, _) = render(&odd, 100.0, 4800, SR);
    assert!(l.iter().all(|x| x.is_finite()));
}
