//! Where the double's own outputs end on their timelines, so a repaint of a seed cut from one continues its
//! music. A seed comes back as the tail of an output times an unknown gain (the client undoes the
//! normalisation and levels loudness), so the match fits that gain first and then compares what is left.

use tsuzuki_audio::Audio;

use super::jobs::RATE;
use super::level::fit_gain;

#[derive(Default)]
pub(crate) struct Timelines {
    tails: Vec<Tail>,
}

struct Tail {
    probe: Vec<f64>,
    seed: u64,
    prompt: String,
    end: f64,
}

/// Probe every 50th frame of the last second: enough to tell outputs apart, cheap to compare.
const PROBE_STEP: usize = 50;
const PROBE_SPAN: usize = RATE as usize;
/// 16-bit steps a sample may move on its way through the client and back (decode, gain, re-encode), at
/// unity gain; a louder seed carries the tail's own rounding scaled up with it.
const PROBE_TOLERANCE: f64 = 4.0;
/// Gains a client may apply (it levels by up to ±12 dB), with room to spare; beyond them a match is chance.
const GAINS: std::ops::RangeInclusive<f64> = 0.1..=10.0;

/// The probe in 16-bit steps.
fn probe(channels: &[Vec<f32>], end: usize) -> Vec<f64> {
    (0..PROBE_SPAN.min(end))
        .step_by(PROBE_STEP)
        .flat_map(|back| {
            channels
                .iter()
                .map(move |c| f64::from(c[end - 1 - back].clamp(-1.0, 1.0)) * 32768.0)
        })
        .collect()
}

/// True when `wanted` is `stored` times one gain in [`GAINS`], give or take the 16-bit tolerance.
fn matches(stored: &[f64], wanted: &[f64]) -> bool {
    if stored.len() < wanted.len() {
        return false;
    }
    let stored = &stored[..wanted.len()];
    let Some(gain) = fit_gain(stored, wanted).filter(|g| GAINS.contains(g)) else {
        return false;
    };
    let tolerance = PROBE_TOLERANCE * gain.max(1.0);
    stored
        .iter()
        .zip(wanted)
        .all(|(s, w)| (w - gain * s).abs() <= tolerance)
}

impl Timelines {
    /// Remembers `audio` (as it is written) as ending at `end` seconds of the piece `seed`/`prompt`.
    pub fn remember(&mut self, audio: &Audio, seed: u64, prompt: &str, end: f64) {
        self.tails.push(Tail {
            probe: probe(&audio.channels, audio.frames()),
            seed,
            prompt: prompt.to_string(),
            end,
        });
    }

    /// The (seed, prompt, timeline position) at which `channels[..upto]` ends, newest match first.
    pub fn find(&self, channels: &[Vec<f32>], upto: usize) -> Option<(u64, String, f64)> {
        if upto == 0 {
            return None;
        }
        let wanted = probe(channels, upto);
        self.tails
            .iter()
            .rev()
            .find(|t| matches(&t.probe, &wanted))
            .map(|t| (t.seed, t.prompt.clone(), t.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::level::db_to_gain;
    use tsuzuki_audio::synth::{continuation, Score, Style};
    use tsuzuki_audio::wav;

    fn remembered() -> (Timelines, Audio) {
        let score = Score {
            seed: 3,
            style: Style::from_prompt("drone"),
        };
        // At half level, so the louder seeds below do not clip.
        let (left, right) = continuation(None, &score, 0.0, 96_000, RATE);
        let half = |c: Vec<f32>| c.into_iter().map(|s| s * 0.5).collect();
        let audio = Audio {
            sample_rate: RATE,
            channels: vec![half(left), half(right)],
        };
        let mut timelines = Timelines::default();
        timelines.remember(&audio, 3, "drone", 2.0);
        (timelines, audio)
    }

    /// The client's seed: the last second times `db`, through a WAV file, then silence.
    fn seed(audio: &Audio, db: f64) -> Vec<Vec<f32>> {
        let gain = db_to_gain(db) as f32;
        let tail = Audio {
            sample_rate: RATE,
            channels: audio
                .channels
                .iter()
                .map(|c| c[48_000..].iter().map(|s| s * gain).collect())
                .collect(),
        };
        let mut seed = wav::decode(&wav::encode(&tail).unwrap()).unwrap().channels;
        for c in &mut seed {
            c.resize(96_000, 0.0);
        }
        seed
    }

    #[test]
    fn timelines_recognise_their_own_audio_after_a_16_bit_round_trip() {
        let (timelines, audio) = remembered();
        let seed = seed(&audio, 0.0);
        assert_eq!(
            timelines.find(&seed, 48_000),
            Some((3, "drone".into(), 2.0))
        );
        assert_eq!(
            timelines.find(&seed, 24_000),
            None,
            "a different point in the music"
        );
        assert_eq!(timelines.find(&seed, 0), None);
        let noise: Vec<Vec<f32>> = vec![
            (0..48_000)
                .map(|i| ((i * 7919) % 200) as f32 / 1000.0)
                .collect();
            2
        ];
        assert_eq!(timelines.find(&noise, 48_000), None);
    }

    #[test]
    fn timelines_recognise_their_audio_whatever_gain_the_client_applied() {
        let (timelines, audio) = remembered();
        for db in [-7.3, 4.0, -12.0] {
            assert_eq!(
                timelines.find(&seed(&audio, db), 48_000),
                Some((3, "drone".into(), 2.0)),
                "{db} dB"
            );
        }
        assert_eq!(
            timelines.find(&seed(&audio, -7.3), 24_000),
            None,
            "a gain does not make another point in the music match"
        );
        let mut silent = seed(&audio, 0.0);
        for c in &mut silent {
            c.fill(0.0);
        }
        assert_eq!(timelines.find(&silent, 48_000), None);
    }
}
