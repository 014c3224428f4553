//! Repaint geometry and the current server's boundary handling: which frames a repaint keeps and which it
//! makes anew, how `repaint_mode`/`repaint_strength` resolve (`_resolve_repaint_config`), and the
//! waveform splice that puts the source back outside the window (`repaint_waveform_splice`).

use serde::Serialize;
use tsuzuki_audio::frames_in;

use super::jobs::{LATENT, RATE};

/// Where a repaint's output comes from, in frames of the (outpainting-padded) source.
#[derive(Debug, PartialEq)]
pub(crate) struct Window {
    /// Silence before the source (negative `repainting_start`).
    pub left_pad: usize,
    /// Output length: whole latent frames of the padded source.
    pub frames: usize,
    /// Frames kept from the source before the repainted window.
    pub keep: usize,
    /// End of the repainted window.
    pub until: usize,
    /// The window as the waveform splice sees it: the requested seconds, not snapped to latent frames.
    pub splice: (usize, usize),
}

/// `repainting_end` null, 0 or negative means the end of the source; boundaries fall on latent frames.
pub(crate) fn window(source_frames: usize, start: f64, end: Option<f64>) -> Window {
    let rate = f64::from(RATE);
    let left_pad = frames_in((-start).max(0.0), RATE);
    let end = end.filter(|e| *e > 0.0);
    let right_pad = end.map_or(0, |e| {
        frames_in((e - source_frames as f64 / rate).max(0.0), RATE)
    });
    let frames = (left_pad + source_frames + right_pad) / LATENT * LATENT;
    let latent = |seconds: f64| ((seconds * 25.0).max(0.0) as usize * LATENT).min(frames);
    let padded_end = end.map(|e| e + left_pad as f64 / rate);
    let keep = latent(start);
    let until = padded_end.map_or(frames, latent).max(keep);
    let sample = |seconds: f64| ((seconds.max(0.0) * rate) as usize).min(frames);
    let splice_from = sample(start);
    let splice_until = padded_end.map_or(frames, sample).max(splice_from);
    Window {
        left_pad,
        frames,
        keep,
        until,
        splice: (splice_from, splice_until),
    }
}

/// What `repaint_mode` and `repaint_strength` resolve to; only the splice length changes the double's audio,
/// the rest is logged so a client can see what the server would do.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub(crate) struct RepaintConfig {
    /// Share of source latents injected into the kept region.
    pub injection_ratio: f64,
    /// Latent-level boundary blend, in 25 Hz frames.
    pub latent_crossfade_frames: u32,
    /// Waveform splice crossfade, in seconds; 0 with `aggressive`, which does not splice at all.
    pub wav_crossfade_sec: f64,
}

/// `_resolve_repaint_config`: the request's own crossfade fields are ignored, mode and strength decide.
pub(crate) fn resolve(mode: &str, strength: f64) -> RepaintConfig {
    let strength = strength.clamp(0.0, 1.0);
    let (injection_ratio, latent_crossfade_frames, wav_crossfade_sec) = match mode {
        "aggressive" => (0.0, 0, 0.0),
        "conservative" => (1.0, 25, 0.05),
        _ => {
            let inverse = 1.0 - strength;
            // Python's round() rounds halves to even.
            (inverse, round_half_even(25.0 * inverse), 0.05 * inverse)
        }
    };
    RepaintConfig {
        injection_ratio,
        latent_crossfade_frames,
        wav_crossfade_sec,
    }
}

fn round_half_even(value: f64) -> u32 {
    let floor = value.floor();
    let rounded = if value - floor == 0.5 && floor % 2.0 == 0.0 {
        floor
    } else {
        value.round()
    };
    rounded.max(0.0) as u32
}

/// The values `repaint_mode` may take; anything else fails the request model's validation.
pub(crate) const MODES: [&str; 3] = ["conservative", "balanced", "aggressive"];

/// Puts `source` back outside `window` into `decoded`, ramping linearly over `crossfade` frames just outside
/// each edge (the ramp excludes its end points, as upstream's `linspace(...)[1:-1]`). A window covering the
/// whole file leaves `decoded` as it is.
pub(crate) fn splice(
    decoded: &mut [Vec<f32>],
    source: &[Vec<f32>],
    window: (usize, usize),
    crossfade: usize,
) {
    let frames = decoded.first().map_or(0, Vec::len);
    let (start, end) = (window.0.min(frames), window.1.min(frames).max(window.0));
    if start == 0 && end >= frames {
        return;
    }
    // Share of the decoded audio at each frame: 1 inside the window, 0 outside, ramps at the edges.
    let share = |frame: usize| -> f32 {
        if (start..end).contains(&frame) {
            return 1.0;
        }
        let ramp =
            |distance: usize, length: usize| 1.0 - (distance + 1) as f32 / (length + 1) as f32;
        let before = start.saturating_sub(crossfade);
        let after = (end + crossfade).min(frames);
        if (before..start).contains(&frame) {
            ramp(start - 1 - frame, start - before)
        } else if (end..after).contains(&frame) {
            ramp(frame - end, after - end)
        } else {
            0.0
        }
    };
    for (out, kept) in decoded.iter_mut().zip(source) {
        for (frame, (sample, &original)) in out.iter_mut().zip(kept).enumerate() {
            let m = share(frame);
            *sample = m * *sample + (1.0 - m) * original;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repaint_covers_the_whole_source_in_latent_frames() {
        let w = window(384_000 + 1_919, 2.0, Some(-1.0));
        assert_eq!((w.frames, w.keep, w.until), (384_000, 96_000, 384_000));
        assert_eq!(window(384_000, 2.0, None), window(384_000, 2.0, Some(0.0)));
        let snapped = window(384_000, 2.03, None);
        assert_eq!(snapped.keep, 50 * LATENT, "boundaries fall on 40 ms frames");
        assert_eq!(
            snapped.splice,
            (97_439, 384_000),
            "the splice takes the seconds as sent, truncated as int() does"
        );
        let inner = window(384_000, 2.0, Some(4.0));
        assert_eq!(
            (inner.keep, inner.until, inner.frames, inner.splice),
            (96_000, 192_000, 384_000, (96_000, 192_000))
        );
    }

    #[test]
    fn outpainting_pads_the_source_with_silence() {
        let left = window(96_000, -1.0, None);
        assert_eq!(
            (left.left_pad, left.keep, left.frames, left.splice),
            (48_000, 0, 144_000, (0, 144_000))
        );
        let right = window(96_000, 1.0, Some(3.0));
        assert_eq!((right.until, right.frames), (144_000, 144_000));
    }

    #[test]
    fn modes_resolve_as_upstream() {
        assert_eq!(
            resolve("balanced", 0.5),
            RepaintConfig {
                injection_ratio: 0.5,
                latent_crossfade_frames: 12,
                wav_crossfade_sec: 0.025
            },
            "round(12.5) is 12 in Python"
        );
        assert_eq!(resolve("conservative", 0.9), resolve("balanced", 0.0));
        assert_eq!(
            resolve("aggressive", 0.0),
            RepaintConfig {
                injection_ratio: 0.0,
                latent_crossfade_frames: 0,
                wav_crossfade_sec: 0.0
            }
        );
        assert_eq!(resolve("balanced", 0.7).latent_crossfade_frames, 8);
        assert_eq!(
            resolve("balanced", 7.0),
            resolve("balanced", 1.0),
            "clamped"
        );
    }

    #[test]
    fn the_splice_restores_the_source_with_ramps_outside_the_window() {
        let source = vec![vec![1.0f32; 10]];
        let mut decoded = vec![vec![0.0f32; 10]];
        splice(&mut decoded, &source, (4, 7), 2);
        let expected = [
            1.0,
            1.0,
            2.0 / 3.0,
            1.0 / 3.0,
            0.0,
            0.0,
            0.0,
            1.0 / 3.0,
            2.0 / 3.0,
            1.0,
        ];
        for (got, want) in decoded[0].iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{:?}", decoded[0]);
        }
        let mut whole = vec![vec![0.5f32; 10]];
        splice(&mut whole, &source, (0, 10), 2);
        assert_eq!(whole[0], vec![0.5; 10], "nothing kept, nothing spliced");
        let mut hard = vec![vec![0.0f32; 4]];
        splice(&mut hard, &[vec![1.0; 4]], (2, 4), 0);
        assert_eq!(hard[0], [1.0, 1.0, 0.0, 0.0]);
    }
}
