//! Listener-level measurements of rendered music: the long-term spectrum's slope, the beat's onsets and
//! tempo, and how far the music ever repeats itself. The synthesizer's tests and its per-style report
//! judge it with these, as a listener would, from the audio alone.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use crate::Audio;

const FFT: usize = 4096;

/// The mono fold-down a listener on one speaker hears.
pub fn mono(audio: &Audio) -> Vec<f32> {
    let n = audio.channels.len().max(1) as f32;
    (0..audio.frames())
        .map(|i| audio.channels.iter().map(|c| c[i]).sum::<f32>() / n)
        .collect()
}

fn forward(size: usize) -> Arc<dyn RealToComplex<f32>> {
    RealFftPlanner::<f32>::new().plan_fft_forward(size)
}

/// Long-term average power spectrum (Welch, Hann windows, half overlap), one value per FFT bin.
pub fn average_spectrum(x: &[f32]) -> Vec<f64> {
    let fft = forward(FFT);
    let window: Vec<f32> = (0..FFT)
        .map(|i| (std::f32::consts::PI * i as f32 / FFT as f32).sin().powi(2))
        .collect();
    let mut power = vec![0.0f64; FFT / 2 + 1];
    let (mut input, mut output) = (fft.make_input_vec(), fft.make_output_vec());
    let mut frames = 0;
    for start in (0..x.len().saturating_sub(FFT)).step_by(FFT / 2) {
        for ((d, s), w) in input.iter_mut().zip(&x[start..start + FFT]).zip(&window) {
            *d = s * w;
        }
        if fft.process(&mut input, &mut output).is_ok() {
            for (p, c) in power.iter_mut().zip(&output) {
                *p += f64::from(c.norm_sqr());
            }
            frames += 1;
        }
    }
    power
        .iter_mut()
        .for_each(|p| *p /= f64::from(frames.max(1)));
    power
}

/// Mean power spectral density (dB) in third-octave bands centred from `low` to `high` Hz.
pub fn third_octaves(spectrum: &[f64], rate: u32, low: f64, high: f64) -> Vec<(f64, f64)> {
    let bin_hz = f64::from(rate) / FFT as f64;
    let count = (3.0 * (high / low).log2()).round() as i32;
    (0..=count)
        .map(|k| {
            let centre = low * 2f64.powf(f64::from(k) / 3.0);
            let (a, b) = (
                centre * 2f64.powf(-1.0 / 6.0),
                centre * 2f64.powf(1.0 / 6.0),
            );
            let bins = (a / bin_hz).ceil() as usize..=((b / bin_hz).floor() as usize);
            let n = bins.clone().count().max(1) as f64;
            let mean = bins
                .map(|i| spectrum.get(i).copied().unwrap_or(0.0))
                .sum::<f64>()
                / n;
            (centre, 10.0 * mean.max(1e-30).log10())
        })
        .collect()
}

/// The least-squares slope, in dB per octave, of the third-octave spectral density between 500 Hz and
/// 8 kHz: about −3 for pink noise, −3 to −6 for most recorded music.
pub fn spectrum_slope(audio: &Audio) -> f64 {
    let bands = third_octaves(
        &average_spectrum(&mono(audio)),
        audio.sample_rate,
        500.0,
        8000.0,
    );
    let xs: Vec<f64> = bands.iter().map(|(f, _)| f.log2()).collect();
    let ys: Vec<f64> = bands.iter().map(|(_, db)| *db).collect();
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let cov: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    cov / var
}

/// Hop of the onset envelope, in seconds.
const HOP: f64 = 0.005;

/// How far the energy below 200 Hz over 20 ms jumps above its level over the 100 ms before, in bels,
/// every 5 ms: a kick's or a plucked bass's attack scores 0.5 (5 dB) and more, a pad's swell near 0.
/// Moments 40 dB or more below the loudest count as silence.
pub fn low_onset_strength(x: &[f32], rate: u32) -> Vec<f64> {
    onset_strength(x, rate, 0.0, 200.0)
}

/// The same for the band between `low_hz` and `high_hz` (two poles each side): above 400 Hz it hears
/// plucks, strikes and hats, the rhythm of the upper parts.
pub fn onset_strength(x: &[f32], rate: u32, low_hz: f64, high_hz: f64) -> Vec<f64> {
    let coef = |hz: f64| 1.0 - (-std::f64::consts::TAU * hz / f64::from(rate)).exp();
    let (a, b) = (coef(high_hz), coef(low_hz.max(1.0)));
    let [mut s1, mut s2, mut h1, mut h2] = [0.0f64; 4];
    let hop = (HOP * f64::from(rate)) as usize;
    let mut energy = Vec::with_capacity(x.len() / hop + 1);
    let mut acc = 0.0;
    for (i, &v) in x.iter().enumerate() {
        s1 += a * (f64::from(v) - s1);
        s2 += a * (s1 - s2);
        h1 += b * (s2 - h1);
        let y = s2 - h1;
        h2 += b * (y - h2);
        let y = if low_hz > 0.0 { y - h2 } else { s2 };
        acc += y * y;
        if (i + 1) % hop == 0 {
            energy.push(acc / hop as f64);
            acc = 0.0;
        }
    }
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len().max(1) as f64;
    let now: Vec<f64> = (0..energy.len())
        .map(|i| mean(&energy[i.saturating_sub(3)..=i]))
        .collect();
    let floor = now.iter().copied().fold(0.0, f64::max) * 1e-4;
    (0..energy.len())
        .map(|i| {
            if i < 24 || now[i] < floor {
                return 0.0;
            }
            let before = mean(&energy[i - 24..i - 4]).max(floor);
            (now[i] / before).log10().max(0.0)
        })
        .collect()
}

/// Onsets per minute: peaks of the onset strength of at least `min_jump_db`, at least 70 ms apart. 5 dB
/// finds kicks and plucked basses below 200 Hz; above 400 Hz, where notes ring on under new ones, 2 dB
/// finds plucks and strikes.
pub fn onsets_per_minute(strength: &[f64], min_jump_db: f64) -> f64 {
    let threshold = min_jump_db / 10.0;
    let mut count = 0;
    let mut last = -1000i64;
    for i in 1..strength.len().saturating_sub(1) {
        let s = strength[i];
        if s > threshold && s >= strength[i - 1] && s > strength[i + 1] && i as i64 - last >= 14 {
            count += 1;
            last = i as i64;
        }
    }
    count as f64 / (strength.len() as f64 * HOP / 60.0)
}

/// Normalised autocorrelation of the onset strength at `lag` hops.
fn autocorrelation(x: &[f64], lag: usize) -> f64 {
    let n = x.len();
    if lag >= n {
        return 0.0;
    }
    let m = x.iter().sum::<f64>() / n as f64;
    let var: f64 = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n as f64;
    let cov: f64 = (0..n - lag)
        .map(|i| (x[i] - m) * (x[i + lag] - m))
        .sum::<f64>()
        / (n - lag) as f64;
    cov / var.max(1e-12)
}

/// The tempo (50–180 BPM) whose beat period and its multiples best match the onsets' periodicity, and
/// how strong that periodicity is (autocorrelation, 0..1); `None` without onsets.
pub fn tempo(strength: &[f64]) -> Option<(f64, f64)> {
    if strength.iter().all(|&s| s == 0.0) {
        return None;
    }
    let at = |lag: f64| {
        let (lo, x) = (lag.floor() as usize, lag.fract());
        (1.0 - x) * autocorrelation(strength, lo) + x * autocorrelation(strength, lo + 1)
    };
    let scores: Vec<(f64, f64)> = (0..=520)
        .map(|k| {
            let bpm = 50.0 + 0.25 * f64::from(k);
            let period = 60.0 / bpm / HOP;
            (
                bpm,
                (1..=8).map(|k| at(period * f64::from(k))).sum::<f64>() / 8.0,
            )
        })
        .collect();
    let top = scores.iter().map(|s| s.1).fold(f64::MIN, f64::max);
    // Half and double tempo score alike; a listener taps the faster pulse when it is nearly as strong.
    scores
        .iter()
        .enumerate()
        .rev()
        .find(|(i, s)| {
            let peak =
                (i.saturating_sub(1)..=(i + 1).min(scores.len() - 1)).all(|j| scores[j].1 <= s.1);
            peak && s.1 >= 0.85 * top
        })
        .map(|(_, s)| *s)
}

/// Bands of the repetition check: half an octave each from 60 Hz, so the chords and tunes, which
/// change, fill more of them than the drums, which repeat by design.
const BANDS: usize = 16;

/// Lower edge of band `b`, in Hz.
fn band_edge(b: usize) -> f64 {
    60.0 * 2f64.powf(b as f64 / 2.0)
}

/// One frame of [`band_frames`].
pub type Frame = [f64; BANDS];

/// The levels (log10 of energy) of sixteen half-octave bands from 60 Hz to 15 kHz in 50 ms frames: a
/// compact picture of how the music moves, for finding repetition in long renders piece by piece.
pub fn band_frames(audio: &Audio) -> Vec<Frame> {
    let x = mono(audio);
    let hop = (FRAME_SECONDS * f64::from(audio.sample_rate)) as usize;
    // Frames overlap, so a repeat that is off the frame grid by half a frame still looks alike.
    let size = 8192;
    let fft = forward(size);
    let (mut input, mut output) = (fft.make_input_vec(), fft.make_output_vec());
    let bin_hz = f64::from(audio.sample_rate) / size as f64;
    let mut frames = Vec::with_capacity(x.len() / hop.max(1));
    for start in (0..x.len().saturating_sub(size) + 1).step_by(hop.max(1)) {
        if start + size > x.len() {
            break;
        }
        input.copy_from_slice(&x[start..start + size]);
        if fft.process(&mut input, &mut output).is_err() {
            continue;
        }
        let mut frame = [0.0; BANDS];
        for (b, level) in frame.iter_mut().enumerate() {
            let lo = (band_edge(b) / bin_hz) as usize;
            let hi = ((band_edge(b + 1) / bin_hz) as usize).min(output.len());
            let e: f64 = output[lo.min(hi)..hi]
                .iter()
                .map(|c| f64::from(c.norm_sqr()))
                .sum();
            *level = (e + 1e-9).log10();
        }
        frames.push(frame);
    }
    frames
}

/// Frame length of [`band_frames`], in seconds.
pub const FRAME_SECONDS: f64 = 0.05;

/// The closest match between any 5 s stretch and any other starting `min_gap_seconds` or more later:
/// the correlation (−1..1) of each band's level over time ([`band_frames`]), averaged over the bands,
/// so a drum pattern alike in every bar does not outweigh the chords and tunes above it. A loop or a
/// repeated passage scores near 1; music that keeps changing stays well below. Stretches are taken
/// every 5 s and compared with every frame after the gap.
pub fn closest_repeat(frames: &[Frame], min_gap_seconds: f64) -> f64 {
    const WINDOW: usize = (5.0 / FRAME_SECONDS) as usize;
    let gap = (min_gap_seconds / FRAME_SECONDS) as usize;
    let n = frames.len();
    if n < WINDOW + gap {
        return 0.0;
    }
    // Prefix sums of each band and its square give any window's mean and spread in O(1).
    let mut sum = vec![[0.0f64; BANDS]; n + 1];
    let mut square = vec![[0.0f64; BANDS]; n + 1];
    for (i, f) in frames.iter().enumerate() {
        for b in 0..BANDS {
            sum[i + 1][b] = sum[i][b] + f[b];
            square[i + 1][b] = square[i][b] + f[b] * f[b];
        }
    }
    let stats = |i: usize| {
        let (mut means, mut spreads) = ([0.0; BANDS], [0.0; BANDS]);
        for b in 0..BANDS {
            let s = sum[i + WINDOW][b] - sum[i][b];
            means[b] = s / WINDOW as f64;
            spreads[b] = (square[i + WINDOW][b] - square[i][b] - s * means[b]).max(1e-12);
        }
        (means, spreads)
    };
    let mut best = f64::MIN;
    for i in (0..n - WINDOW - gap).step_by(WINDOW) {
        let (ma, sa) = stats(i);
        for j in i + gap..=n - WINDOW {
            let (mb, sb) = stats(j);
            let mut dot = [0.0; BANDS];
            for t in 0..WINDOW {
                let (x, y) = (&frames[i + t], &frames[j + t]);
                for b in 0..BANDS {
                    dot[b] += x[b] * y[b];
                }
            }
            let r: f64 = (0..BANDS)
                .map(|b| (dot[b] - WINDOW as f64 * ma[b] * mb[b]) / (sa[b] * sb[b]).sqrt())
                .sum::<f64>()
                / BANDS as f64;
            best = best.max(r);
        }
    }
    best
}
