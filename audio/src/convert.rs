//! Brings audio from whatever a model returned to the session's layout: its channel count, sample rate and
//! exact segment length.

use rubato::{FftFixedIn, Resampler};

use super::Audio;

/// Returns `audio` as `channels` channels at `sample_rate`, exactly `frames` long.
///
/// Mono is copied to every channel, extra channels are dropped (ACE-Step does the same with its inputs),
/// rates are converted with a band-limited FFT resampler, and a result a few milliseconds short (ACE-Step
/// rounds lengths down to a 40 ms latent frame) is padded with silence.
pub fn to_layout(audio: Audio, sample_rate: u32, channels: usize, frames: usize) -> Audio {
    let mut audio = to_channels(audio, channels);
    if audio.sample_rate != sample_rate && audio.frames() > 0 {
        audio = resample(&audio, sample_rate);
    }
    audio.sample_rate = sample_rate;
    for channel in &mut audio.channels {
        channel.resize(frames, 0.0);
    }
    audio
}

fn to_channels(audio: Audio, channels: usize) -> Audio {
    let Audio {
        sample_rate,
        channels: mut planes,
    } = audio;
    if planes.is_empty() {
        return Audio::silence(sample_rate, channels, 0);
    }
    planes.truncate(channels);
    while planes.len() < channels {
        planes.push(planes[planes.len() - 1].clone());
    }
    Audio {
        sample_rate,
        channels: planes,
    }
}

fn resample(audio: &Audio, to_rate: u32) -> Audio {
    const CHUNK: usize = 1024;
    let channels = audio.channels.len();
    let Ok(mut resampler) = FftFixedIn::<f32>::new(
        audio.sample_rate as usize,
        to_rate as usize,
        CHUNK,
        2,
        channels,
    ) else {
        return Audio::silence(to_rate, channels, 0);
    };
    let delay = resampler.output_delay();
    let expected =
        (audio.frames() as u64 * u64::from(to_rate) / u64::from(audio.sample_rate)) as usize;
    let mut out = vec![Vec::with_capacity(expected + delay + CHUNK); channels];
    let mut position = 0;
    // Feed whole chunks, then zero-padded ones until the delayed tail has come out.
    while out[0].len() < expected + delay {
        let end = (position + CHUNK).min(audio.frames());
        let chunk: Vec<Vec<f32>> = audio
            .channels
            .iter()
            .map(|c| {
                let mut part = c.get(position..end).unwrap_or(&[]).to_vec();
                part.resize(CHUNK, 0.0);
                part
            })
            .collect();
        position = end;
        match resampler.process(&chunk, None) {
            Ok(block) => {
                for (o, b) in out.iter_mut().zip(block) {
                    o.extend(b);
                }
            }
            Err(_) => break,
        }
    }
    let channels = out
        .into_iter()
        .map(|c| c.into_iter().skip(delay).take(expected).collect())
        .collect();
    Audio {
        sample_rate: to_rate,
        channels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| (std::f32::consts::TAU * hz * i as f32 / rate as f32).sin() * 0.5)
            .collect()
    }

    #[test]
    fn mono_becomes_stereo_and_extra_channels_are_dropped() {
        let mono = Audio {
            sample_rate: 48_000,
            channels: vec![vec![0.1, 0.2]],
        };
        let stereo = to_layout(mono, 48_000, 2, 2);
        assert_eq!(stereo.channels, vec![vec![0.1, 0.2], vec![0.1, 0.2]]);
        let quad = Audio {
            sample_rate: 48_000,
            channels: vec![vec![1.0], vec![2.0], vec![3.0], vec![4.0]],
        };
        assert_eq!(
            to_layout(quad, 48_000, 2, 1).channels,
            vec![vec![1.0], vec![2.0]]
        );
    }

    #[test]
    fn short_audio_is_padded_and_long_audio_cut_to_the_segment() {
        let short = Audio {
            sample_rate: 48_000,
            channels: vec![vec![0.5; 3]; 2],
        };
        let padded = to_layout(short, 48_000, 2, 5);
        assert_eq!(padded.channels[0], vec![0.5, 0.5, 0.5, 0.0, 0.0]);
        let long = Audio {
            sample_rate: 48_000,
            channels: vec![vec![0.5; 9]; 2],
        };
        assert_eq!(to_layout(long, 48_000, 2, 4).frames(), 4);
    }

    #[test]
    fn resampling_keeps_pitch_length_and_level() {
        let source = Audio {
            sample_rate: 44_100,
            channels: vec![sine(44_100, 441.0, 44_100); 2],
        };
        let out = to_layout(source, 48_000, 2, 48_000);
        assert_eq!((out.sample_rate, out.frames()), (48_000, 48_000));
        // In the steady middle the result matches a 441 Hz sine generated at 48 kHz, in phase.
        let reference = sine(48_000, 441.0, 48_000);
        let worst = out.channels[0][2_000..46_000]
            .iter()
            .zip(&reference[2_000..46_000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 0.01, "max deviation {worst}");
    }
}
