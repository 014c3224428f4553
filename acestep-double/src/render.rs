//! What a job's audio is: new music from the synthesizer, the source a repaint keeps, and what the server
//! does before saving. The February server keeps the source as it came; the current one decodes the whole
//! file at its own level, splices the source back outside the window (unless `aggressive`, which makes the
//! kept region anew) and peak-normalises every file. The level faults act here too.

use tsuzuki_audio::synth::{continuation, Score};
use tsuzuki_audio::Audio;

use super::jobs::RATE;
use super::level;
use super::params::Params;
use super::repaint::{self, Window};
use super::Mode;

/// How one job shapes its audio.
pub(crate) struct Shaping {
    pub mode: Mode,
    /// `repaint_mode=aggressive` on the current server.
    pub aggressive: bool,
    /// The splice's crossfade, in frames.
    pub crossfade: usize,
    /// The `level_jitter_db` gain on everything the job generates.
    pub gain: f32,
    /// The `alter_overlap_next` fault: the kept region comes back changed.
    pub alter_overlap: bool,
}

impl Shaping {
    pub fn new(mode: Mode, params: &Params, gain: f32, alter_overlap: bool) -> Shaping {
        let config = repaint::resolve(&params.repaint_mode, params.repaint_strength);
        Shaping {
            mode,
            aggressive: mode == Mode::Current && params.repaint_mode == "aggressive",
            // Upstream truncates: int(seconds * rate).
            crossfade: (config.wav_crossfade_sec * f64::from(RATE)) as usize,
            gain,
            alter_overlap,
        }
    }

    fn render(&self, from: Option<&Score>, to: &Score, start: f64, frames: usize) -> Vec<Vec<f32>> {
        let (left, right) = continuation(from, to, start, frames, RATE);
        let mut channels = vec![left, right];
        level::scale(&mut channels, self.gain);
        channels
    }

    /// The server's last step before saving.
    fn finish(&self, mut channels: Vec<Vec<f32>>) -> Audio {
        if self.mode == Mode::Current {
            level::normalise(&mut channels);
        }
        Audio {
            sample_rate: RATE,
            channels,
        }
    }
}

/// A new piece of `frames` frames.
pub(crate) fn text2music(score: &Score, frames: usize, shaping: &Shaping) -> Audio {
    shaping.finish(shaping.render(None, score, 0.0, frames))
}

/// A repaint of `padded` (the source, outpainting pads included): the window becomes `to`'s music from
/// `position` on (morphing from `from`), and `stranger` is the other music an aggressive repaint or an
/// altered overlap brings into the kept region.
pub(crate) fn repaint(
    padded: &[Vec<f32>],
    window: &Window,
    (from, to, position): (&Score, &Score, f64),
    stranger: &Score,
    shaping: &Shaping,
) -> Audio {
    let needs_stranger = shaping.aggressive || shaping.alter_overlap;
    let other = needs_stranger.then(|| shaping.render(None, stranger, 0.0, window.frames));
    let mut decoded: Vec<Vec<f32>> = match (&other, shaping.mode) {
        (Some(other), _) if shaping.aggressive => other.clone(),
        (_, Mode::Current) => {
            // The model re-synthesises the kept region at its own level; the splice restores the source.
            let mut resynthesised = padded.to_vec();
            level::scale(&mut resynthesised, shaping.gain);
            resynthesised
        }
        _ => padded.to_vec(),
    };
    let new = shaping.render(Some(from), to, position, window.until - window.keep);
    for (channel, new) in decoded.iter_mut().zip(new) {
        channel.splice(window.keep..window.until, new);
    }
    if shaping.mode == Mode::Current && !shaping.aggressive {
        repaint::splice(&mut decoded, padded, window.splice, shaping.crossfade);
    }
    if let (true, Some(other)) = (shaping.alter_overlap, &other) {
        for (channel, other) in decoded.iter_mut().zip(other) {
            for (sample, o) in channel[..window.keep].iter_mut().zip(other) {
                *sample = 0.5 * *sample + 0.5 * o;
            }
        }
    }
    shaping.finish(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::level::fit_gain;
    use crate::repaint::window;
    use serde_json::{json, Map};
    use tsuzuki_audio::synth::Style;

    fn score(seed: u64) -> Score {
        Score {
            seed,
            style: Style::from_prompt("calm piano"),
        }
    }

    fn shaping(mode: Mode, body: serde_json::Value, gain: f32, alter: bool) -> Shaping {
        let fields: Map<String, serde_json::Value> = body.as_object().unwrap().clone();
        Shaping::new(mode, &Params::from_fields(&fields), gain, alter)
    }

    /// Four seconds of music as the source, the last three repainted.
    fn source() -> (Vec<Vec<f32>>, Window) {
        let (left, right) = continuation(None, &score(1), 0.0, 192_000, RATE);
        (vec![left, right], window(192_000, 1.0, None))
    }

    fn run(shaping: &Shaping) -> Audio {
        let (padded, w) = source();
        repaint(
            &padded,
            &w,
            (&score(1), &score(1), 1.0),
            &score(99),
            shaping,
        )
    }

    fn kept_gain(audio: &Audio) -> (f64, f64) {
        let (padded, _) = source();
        let reference: Vec<f64> = padded[0][..48_000].iter().map(|&s| f64::from(s)).collect();
        let got: Vec<f64> = audio.channels[0][..48_000]
            .iter()
            .map(|&s| f64::from(s))
            .collect();
        let gain = fit_gain(&reference, &got).unwrap();
        let residual = reference
            .iter()
            .zip(&got)
            .map(|(r, g)| (g - gain * r).abs())
            .fold(0.0, f64::max);
        (gain, residual)
    }

    fn peak(audio: &Audio) -> f32 {
        audio
            .channels
            .iter()
            .flatten()
            .fold(0.0, |p, s| p.max(s.abs()))
    }

    #[test]
    fn the_current_server_keeps_the_source_times_one_gain_and_normalises() {
        let audio = run(&shaping(Mode::Current, json!({}), 1.0, false));
        let (gain, residual) = kept_gain(&audio);
        assert!(residual < 1e-5 * gain, "{residual}");
        assert!((20.0 * f64::from(peak(&audio)).log10() + 1.0).abs() < 1e-4);
        let february = run(&shaping(Mode::February, json!({}), 0.5, false));
        assert_eq!(
            kept_gain(&february),
            (1.0, 0.0),
            "February keeps the source as sent"
        );
    }

    #[test]
    fn aggressive_makes_the_kept_region_anew() {
        let audio = run(&shaping(
            Mode::Current,
            json!({"repaint_mode": "aggressive"}),
            1.0,
            false,
        ));
        let (_, residual) = kept_gain(&audio);
        assert!(residual > 0.05, "{residual}");
        let february = run(&shaping(
            Mode::February,
            json!({"repaint_mode": "aggressive"}),
            1.0,
            false,
        ));
        assert_eq!(
            kept_gain(&february).1,
            0.0,
            "February does not read repaint_mode"
        );
    }

    #[test]
    fn an_altered_overlap_is_no_longer_the_source_times_a_gain() {
        for mode in [Mode::February, Mode::Current] {
            let (_, residual) = kept_gain(&run(&shaping(mode, json!({}), 1.0, true)));
            assert!(residual > 0.05, "{mode:?}: {residual}");
        }
    }

    #[test]
    fn the_splice_blends_into_the_window_at_the_models_level() {
        let audio = run(&shaping(
            Mode::Current,
            json!({"repaint_mode": "conservative"}),
            0.5,
            false,
        ));
        let (padded, _) = source();
        let ratio = |frame: usize| audio.channels[0][frame] / padded[0][frame];
        let gain = ratio(30_000);
        // 50 ms before the window the decoded share ramps up; the source itself is gone at the edge.
        let mid = ratio(48_000 - 1_200) / gain;
        assert!((0.6..0.9).contains(&mid), "{mid}");
    }
}
