//! The audio file a job returns, decoded by what it is rather than what was asked for: a server that
//! ignores `audio_format` must not be misread. WAV with `tsuzuki_audio::wav`, FLAC with `claxon`.

use std::io::Cursor;

use tsuzuki_audio::{wav, Audio};

/// Decodes a WAV (`RIFF`) or FLAC (`fLaC`) file to planar samples in [-1, 1].
pub(super) fn decode(bytes: &[u8]) -> Result<Audio, String> {
    match bytes.get(..4) {
        Some(b"RIFF") => wav::decode(bytes).map_err(|e| e.to_string()),
        Some(b"fLaC") => flac(bytes).map_err(|e| format!("not a readable FLAC file: {e}")),
        _ => Err(format!(
            "neither WAV nor FLAC (it starts with {:02x?})",
            &bytes[..bytes.len().min(4)]
        )),
    }
}

fn flac(bytes: &[u8]) -> Result<Audio, claxon::Error> {
    let mut reader = claxon::FlacReader::new(Cursor::new(bytes))?;
    let info = reader.streaminfo();
    let count = info.channels as usize;
    // The scale `wav::decode` uses for the same bit depth, so a file reads the same in either container.
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

    fn tone() -> Audio {
        let ramp = |k: f32| (0..4800).map(|i| ((i as f32) * k).sin() * 0.5).collect();
        Audio {
            sample_rate: 48_000,
            channels: vec![ramp(0.01), ramp(0.013)],
        }
    }

    #[test]
    fn a_wav_is_read_by_its_header() {
        let audio = tone();
        let bytes = wav::encode(&audio).unwrap();
        assert_eq!(decode(&bytes).unwrap(), wav::decode(&bytes).unwrap());
    }

    /// `audio` as a 16-bit FLAC file, as the current server writes it.
    fn flac_of(audio: &Audio) -> Vec<u8> {
        use flacenc::component::BitRepr;
        use flacenc::error::Verify;
        let interleaved: Vec<i32> = (0..audio.frames())
            .flat_map(|f| audio.channels.iter().map(move |c| (c[f] * 32768.0) as i32))
            .collect();
        let config = flacenc::config::Encoder::default().into_verified().unwrap();
        let source = flacenc::source::MemSource::from_samples(&interleaved, 2, 16, 48_000);
        let stream =
            flacenc::encode_with_fixed_block_size(&config, source, config.block_size).unwrap();
        let mut sink = flacenc::bitsink::ByteSink::new();
        stream.write(&mut sink).unwrap();
        sink.as_slice().to_vec()
    }

    #[test]
    fn a_flac_reads_as_the_same_samples_as_the_wav_of_the_same_audio() {
        // Whole 16-bit steps, so both containers hold exactly these samples.
        let audio = wav::decode(&wav::encode(&tone()).unwrap()).unwrap();
        let flac = flac_of(&audio);
        assert_eq!(&flac[..4], b"fLaC");
        assert_eq!(decode(&flac).unwrap(), audio);
    }

    #[test]
    fn a_truncated_flac_is_an_error() {
        let flac = flac_of(&tone());
        let error = decode(&flac[..flac.len() / 2]).unwrap_err();
        assert!(error.starts_with("not a readable FLAC file"), "{error}");
    }

    #[test]
    fn anything_else_is_a_clear_error_not_a_panic() {
        for bytes in [&b""[..], b"ID3\x04", b"OggS\0\0\0\0", b"fLaC"] {
            let error = decode(bytes).unwrap_err();
            assert!(
                error.contains("neither WAV nor FLAC") || error.contains("FLAC file"),
                "{bytes:?}: {error}"
            );
        }
        assert!(decode(b"RIFF\0\0\0\0WAVE").unwrap_err().contains("WAV"));
    }
}
