//! FLAC files: segments and the ACE-Step double's output are encoded with `flacenc`, anything a model
//! returns is read with `claxon` (both pure Rust). 16-bit, with the same sample steps as [`crate::wav`], so
//! a FLAC and a WAV of the same audio hold identical samples and an overlap stays bit-identical.

use std::io::Cursor;

use flacenc::component::BitRepr;
use flacenc::error::Verify;

use crate::{wav, Audio};

/// Encodes `audio` as a 16-bit FLAC stream at its own rate and channel count.
pub fn encode(audio: &Audio) -> Result<Vec<u8>, String> {
    let channels = audio.channels.len();
    let mut interleaved = Vec::with_capacity(audio.frames() * channels);
    match audio.channels.as_slice() {
        [left, right] => {
            for (&l, &r) in left.iter().zip(right) {
                interleaved.push(i32::from(wav::to_i16(l)));
                interleaved.push(i32::from(wav::to_i16(r)));
            }
        }
        all => {
            for frame in 0..audio.frames() {
                interleaved.extend(all.iter().map(|c| i32::from(wav::to_i16(c[frame]))));
            }
        }
    }
    let mut config = flacenc::config::Encoder::default();
    // Fixed predictors only: the LPC search more than doubled the time (2.2 s against 1.0 s for 60 s of
    // stereo) to make the file 1 % smaller.
    config.subframe_coding.use_lpc = false;
    let config = config
        .into_verified()
        .map_err(|(_, e)| format!("FLAC encoder configuration: {e}"))?;
    let source = flacenc::source::MemSource::from_samples(
        &interleaved,
        channels,
        16,
        audio.sample_rate as usize,
    );
    let stream = flacenc::encode_with_fixed_block_size(&config, source, config.block_size)
        .map_err(|e| format!("FLAC encoding failed: {e}"))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream
        .write(&mut sink)
        .map_err(|e| format!("FLAC encoding failed: {e}"))?;
    Ok(sink.into_inner())
}

/// Decodes a FLAC file of any bit depth to planar samples in [-1, 1], on the scale `wav::decode` uses for
/// the same depth, so a file reads the same in either container.
pub fn decode(bytes: &[u8]) -> Result<Audio, claxon::Error> {
    let mut reader = claxon::FlacReader::new(Cursor::new(bytes))?;
    let info = reader.streaminfo();
    let count = info.channels as usize;
    let scale = 1.0 / (1u64 << (info.bits_per_sample.clamp(4, 32) - 1)) as f32;
    let capacity = info.samples.unwrap_or_default() as usize;
    let mut channels = vec![Vec::with_capacity(capacity); count];
    let mut blocks = reader.blocks();
    let mut buffer = Vec::new();
    // Block by block: claxon's per-sample iterator is several times slower on a minute of stereo.
    while let Some(block) = blocks.read_next_or_eof(buffer)? {
        if block.channels() as usize != count {
            return Err(claxon::Error::FormatError(
                "a frame's channel count differs from the stream's",
            ));
        }
        for (c, channel) in channels.iter_mut().enumerate() {
            channel.extend(block.channel(c as u32).iter().map(|&s| s as f32 * scale));
        }
        buffer = block.into_buffer();
    }
    Ok(Audio {
        sample_rate: info.sample_rate,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{continuation, Score, Style};

    fn rain(frames: usize) -> Audio {
        let score = Score {
            seed: 11,
            style: Style::from_prompt("rain"),
        };
        let (left, right) = continuation(None, &score, 0.0, frames, 48_000);
        Audio {
            sample_rate: 48_000,
            channels: vec![left, right],
        }
    }

    #[test]
    fn flac_holds_exactly_the_samples_a_wav_file_of_the_same_audio_holds() {
        let mut audio = rain(100_000);
        audio.channels[0][5] = 1.5;
        audio.channels[1][6] = -1.5;
        let bytes = encode(&audio).unwrap();
        assert_eq!(&bytes[..4], b"fLaC");
        let info = claxon::FlacReader::new(bytes.as_slice())
            .unwrap()
            .streaminfo();
        assert_eq!(
            (info.sample_rate, info.channels, info.bits_per_sample),
            (48_000, 2, 16)
        );
        assert_eq!(info.samples, Some(100_000));
        let through_wav = wav::decode(&wav::encode(&audio).unwrap()).unwrap();
        assert_eq!(
            decode(&bytes).unwrap(),
            through_wav,
            "clipped samples saturate alike"
        );
    }

    #[test]
    fn a_truncated_flac_is_an_error() {
        let bytes = encode(&rain(20_000)).unwrap();
        assert!(decode(&bytes[..bytes.len() / 2]).is_err());
        assert!(decode(b"fLaC").is_err());
    }
}
