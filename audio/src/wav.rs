//! WAV files with hound: segments are written as 16-bit PCM; anything a model returns is read by its header.

use std::io::Cursor;
use std::path::Path;

use super::Audio;

#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("not a readable WAV file: {0}")]
    Format(#[from] hound::Error),
    #[error("WAV file has no channels")]
    NoChannels,
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Encodes `audio` as 16-bit PCM WAV. The scale is the one [`decode`] divides by, so audio read from a WAV
/// file writes back bit for bit (a seed's overlap stays identical through any number of repaints).
pub fn encode(audio: &Audio) -> Result<Vec<u8>, WavError> {
    let mut bytes = Cursor::new(Vec::with_capacity(
        44 + audio.frames() * audio.channels.len() * 2,
    ));
    encode_into(&mut bytes, audio)?;
    Ok(bytes.into_inner())
}

fn encode_into<W: std::io::Write + std::io::Seek>(out: W, audio: &Audio) -> Result<(), WavError> {
    let spec = hound::WavSpec {
        channels: audio.channels.len() as u16,
        sample_rate: audio.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let count = audio.frames() * audio.channels.len();
    let mut writer = hound::WavWriter::new(out, spec)?;
    let mut samples = writer.get_i16_writer(count as u32);
    match audio.channels.as_slice() {
        // The common case, kept free of per-sample indexing.
        [left, right] => {
            for (&l, &r) in left.iter().zip(right) {
                samples.write_sample(to_i16(l));
                samples.write_sample(to_i16(r));
            }
        }
        channels => {
            for frame in 0..audio.frames() {
                for channel in channels {
                    samples.write_sample(to_i16(channel[frame]));
                }
            }
        }
    }
    samples.flush()?;
    writer.finalize()?;
    Ok(())
}

/// Rounds to the nearest step, saturating. (An explicit half-step offset: `f32::round` is a library call
/// on baseline x86-64, which made encoding several times slower.)
pub(crate) fn to_i16(sample: f32) -> i16 {
    let scaled = sample * 32768.0;
    (scaled + if scaled >= 0.0 { 0.5 } else { -0.5 }).clamp(-32768.0, 32767.0) as i16
}

/// Decodes a WAV file of any PCM integer width (8 to 32 bits) or 32-bit float.
pub fn decode(bytes: &[u8]) -> Result<Audio, WavError> {
    let reader = hound::WavReader::new(Cursor::new(bytes))?;
    let spec = reader.spec();
    let count = usize::from(spec.channels);
    if count == 0 {
        return Err(WavError::NoChannels);
    }
    if spec.sample_format == hound::SampleFormat::Int && spec.bits_per_sample == 16 {
        return Ok(decode_16_bit(reader, spec));
    }
    let mut reader = reader;
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(8, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|s| s as f32 * scale))
                .collect::<Result<_, _>>()?
        }
    };
    let frames = interleaved.len() / count;
    let mut channels = vec![Vec::with_capacity(frames); count];
    for frame in interleaved.chunks_exact(count) {
        for (channel, &sample) in channels.iter_mut().zip(frame) {
            channel.push(if sample.is_finite() { sample } else { 0.0 });
        }
    }
    Ok(Audio {
        sample_rate: spec.sample_rate,
        channels,
    })
}

/// Our own segments and ACE-Step's usual output: hound has parsed the header, and the samples are read
/// straight from the data chunk (hound's per-sample iterator took most of a segment's server time).
fn decode_16_bit(reader: hound::WavReader<Cursor<&[u8]>>, spec: hound::WavSpec) -> Audio {
    let count = usize::from(spec.channels);
    let samples = reader.len() as usize;
    let cursor = reader.into_inner();
    let start = (cursor.position() as usize).min(cursor.get_ref().len());
    let data = &cursor.get_ref()[start..];
    let data = &data[..(samples * 2).min(data.len())];
    let frames = data.len() / 2 / count;
    let mut channels = vec![Vec::with_capacity(frames); count];
    for frame in data.chunks_exact(2 * count) {
        for (channel, sample) in channels.iter_mut().zip(frame.chunks_exact(2)) {
            channel.push(f32::from(i16::from_le_bytes([sample[0], sample[1]])) / 32768.0);
        }
    }
    Audio {
        sample_rate: spec.sample_rate,
        channels,
    }
}

/// Reads and decodes a WAV file.
pub fn read(path: &Path) -> Result<Audio, WavError> {
    let bytes = std::fs::read(path).map_err(|source| WavError::Io {
        path: path.display().to_string(),
        source,
    })?;
    decode(&bytes)
}

/// Writes `audio` to `path` through a temporary file and a rename, so a reader never sees half a file.
/// Returns the number of bytes written.
pub fn write(path: &Path, audio: &Audio) -> Result<u64, WavError> {
    let partial = path.with_extension("wav.partial");
    let io = |source| WavError::Io {
        path: path.display().to_string(),
        source,
    };
    let written = std::fs::File::create(&partial)
        .map_err(io)
        .and_then(|file| {
            encode_into(std::io::BufWriter::with_capacity(1 << 20, file), audio).map_err(
                |e| match e {
                    // A full disk is a failed write, not an unreadable file.
                    WavError::Format(hound::Error::IoError(source)) => io(source),
                    other => other,
                },
            )
        })
        .and_then(|()| std::fs::rename(&partial, path).map_err(io))
        .and_then(|()| std::fs::metadata(path).map_err(io));
    match written {
        Ok(meta) => Ok(meta.len()),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(bits: u16, format: hound::SampleFormat, channels: u16) -> hound::WavSpec {
        hound::WavSpec {
            channels,
            sample_rate: 44_100,
            bits_per_sample: bits,
            sample_format: format,
        }
    }

    #[test]
    fn sixteen_bit_round_trip_is_exact_to_one_step() {
        let audio = Audio {
            sample_rate: 48_000,
            channels: vec![vec![0.0, 0.5, -0.5, 1.0], vec![-1.0, 0.25, 0.0, 0.1]],
        };
        let back = decode(&encode(&audio).unwrap()).unwrap();
        assert_eq!(back.sample_rate, 48_000);
        assert_eq!(back.channels.len(), 2);
        for (a, b) in audio
            .channels
            .iter()
            .flatten()
            .zip(back.channels.iter().flatten())
        {
            assert!((a - b).abs() <= 1.0 / 32768.0, "{a} vs {b}");
        }
        // What was read writes back bit for bit.
        assert_eq!(decode(&encode(&back).unwrap()).unwrap(), back);
    }

    #[test]
    fn float_and_24_bit_files_are_read_by_their_header() {
        let mut float = Cursor::new(Vec::new());
        {
            let mut w =
                hound::WavWriter::new(&mut float, spec(32, hound::SampleFormat::Float, 1)).unwrap();
            for s in [0.5f32, -0.25, f32::NAN] {
                w.write_sample(s).unwrap();
            }
            w.finalize().unwrap();
        }
        let audio = decode(float.get_ref()).unwrap();
        assert_eq!((audio.sample_rate, audio.channels.len()), (44_100, 1));
        assert_eq!(audio.channels[0], vec![0.5, -0.25, 0.0]);

        let mut deep = Cursor::new(Vec::new());
        {
            let mut w =
                hound::WavWriter::new(&mut deep, spec(24, hound::SampleFormat::Int, 2)).unwrap();
            for s in [4_194_304i32, -8_388_608] {
                w.write_sample(s).unwrap();
            }
            w.finalize().unwrap();
        }
        let audio = decode(deep.get_ref()).unwrap();
        assert_eq!(audio.channels, vec![vec![0.5], vec![-1.0]]);
    }

    #[test]
    fn a_truncated_data_chunk_gives_the_whole_frames_it_has() {
        let mut bytes = encode(&Audio {
            sample_rate: 8_000,
            channels: vec![vec![0.5; 10], vec![-0.5; 10]],
        })
        .unwrap();
        bytes.truncate(bytes.len() - 3);
        let audio = decode(&bytes).unwrap();
        assert_eq!(audio.frames(), 9);
        assert_eq!(audio.channels[1][8], -0.5);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            decode(b"RIFF\0\0\0\0nope"),
            Err(WavError::Format(_))
        ));
        assert!(decode(&[]).is_err());
    }

    #[test]
    fn write_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segment.wav");
        let size = write(&path, &Audio::silence(8_000, 2, 80)).unwrap();
        assert_eq!(size, std::fs::metadata(&path).unwrap().len());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(read(&path).unwrap().frames(), 80);
    }
}
