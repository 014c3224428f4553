//! The encodings a segment is served in. FLAC, lossless and sample-exact in the browser, is what the
//! player asks for; Ogg Opus is for slow links; WAV stays for the API's users and the seed contract. A
//! segment is encoded once, as FLAC and Opus, when it is made: those two are what the disk holds (about
//! half of the WAV together), and a WAV is decoded from the FLAC when someone asks for one.

pub mod opus;

use tsuzuki_audio::{flac, wav, Audio};

/// A segment's encoding, named by the extension of its URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Wav,
    Flac,
    Opus,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Wav, Format::Flac, Format::Opus];

    pub fn from_extension(extension: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.extension() == extension)
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Wav => "wav",
            Format::Flac => "flac",
            Format::Opus => "opus",
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Format::Wav => "audio/wav",
            Format::Flac => "audio/flac",
            Format::Opus => "audio/ogg; codecs=opus",
        }
    }

    /// The file a download of this format is served from: a WAV is made from the FLAC.
    pub fn stored(self) -> Stored {
        match self {
            Format::Wav | Format::Flac => Stored::Flac,
            Format::Opus => Stored::Opus,
        }
    }
}

/// A segment's files on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    Flac,
    Opus,
}

impl Stored {
    pub const ALL: [Stored; 2] = [Stored::Flac, Stored::Opus];

    pub fn extension(self) -> &'static str {
        match self {
            Stored::Flac => "flac",
            Stored::Opus => "opus",
        }
    }
}

/// A segment in the encodings stored on disk.
pub struct Encoded {
    pub flac: Vec<u8>,
    pub opus: Vec<u8>,
}

impl Encoded {
    pub fn bytes(&self, stored: Stored) -> &[u8] {
        match stored {
            Stored::Flac => &self.flac,
            Stored::Opus => &self.opus,
        }
    }
}

/// Encodes a segment as FLAC and as Ogg Opus at `opus_bitrate` bits per second. CPU-bound: call it off the
/// async threads.
pub fn encode(audio: &Audio, opus_bitrate: u32) -> Result<Encoded, String> {
    Ok(Encoded {
        flac: flac::encode(audio)?,
        opus: opus::encode(audio, opus_bitrate)?,
    })
}

/// A stored FLAC as the 16-bit WAV of the same samples. CPU-bound: call it off the async threads.
pub fn wav_from_flac(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let audio = flac::decode(bytes).map_err(|e| format!("stored FLAC unreadable: {e}"))?;
    wav::encode(&audio).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_named_by_their_extension_and_a_wav_comes_from_the_flac() {
        for format in Format::ALL {
            assert_eq!(Format::from_extension(format.extension()), Some(format));
        }
        assert_eq!(Format::from_extension("mp3"), None);
        assert_eq!(Format::from_extension(""), None);
        assert_eq!(Format::Wav.stored(), Stored::Flac);
        assert_eq!(Format::Opus.stored(), Stored::Opus);
        assert_eq!(Format::Opus.mime(), "audio/ogg; codecs=opus");
    }

    #[test]
    fn the_wav_made_from_the_stored_flac_is_the_wav_of_the_segment_bit_for_bit() {
        let ramp = |k: f32| (0..48_000).map(|i| (i as f32 * k).sin() * 0.7).collect();
        let audio = Audio {
            sample_rate: 48_000,
            channels: vec![ramp(0.01), ramp(0.017)],
        };
        let encoded = encode(&audio, 128_000).unwrap();
        assert_eq!(
            wav_from_flac(&encoded.flac).unwrap(),
            wav::encode(&audio).unwrap()
        );
        assert!(encoded.flac.len() < wav::encode(&audio).unwrap().len());
    }
}
