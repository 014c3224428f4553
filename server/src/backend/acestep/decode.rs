//! The audio file a job returns, decoded by what it is rather than what was asked for: a server that
//! ignores `audio_format` must not be misread. WAV with `tsuzuki_audio::wav`, FLAC with `tsuzuki_audio::flac`.

use tsuzuki_audio::{flac, wav, Audio};

/// Decodes a WAV (`RIFF`) or FLAC (`fLaC`) file to planar samples in [-1, 1].
pub(super) fn decode(bytes: &[u8]) -> Result<Audio, String> {
    match bytes.get(..4) {
        Some(b"RIFF") => wav::decode(bytes).map_err(|e| e.to_string()),
        Some(b"fLaC") => flac::decode(bytes).map_err(|e| format!("not a readable FLAC file: {e}")),
        _ => Err(format!(
            "neither WAV nor FLAC (it starts with {:02x?})",
            &bytes[..bytes.len().min(4)]
        )),
    }
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
        flac::encode(audio).unwrap()
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
