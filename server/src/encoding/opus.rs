//! Ogg Opus (RFC 7845) with libopus: 20 ms packets at a set bitrate, in an Ogg stream whose header and
//! granule positions make a decoder drop the encoder's look-ahead at the start and the padding at the end,
//! so the decoded segment has exactly the segment's frames, each at its own place (Chromium's
//! `decodeAudioData` honours both).

use std::borrow::Cow;

use ogg::writing::{PacketWriteEndInfo, PacketWriter};
use opus::{Application, Bitrate, Channels, Encoder, Signal};
use tsuzuki_audio::Audio;

/// Opus always runs at 48 kHz: the segments' own rate.
const RATE: u32 = 48_000;
/// Frames per packet: 20 ms, Opus's most efficient size for music.
const PACKET: usize = 960;
/// Any number: a segment is a file of one logical stream.
const SERIAL: u32 = 0x7473_757a;

/// Encodes stereo `audio` at 48 kHz as Ogg Opus at `bitrate` bits per second.
pub fn encode(audio: &Audio, bitrate: u32) -> Result<Vec<u8>, String> {
    let failed = |e: opus::Error| format!("Opus encoding failed: {e}");
    let [left, right] = audio.channels.as_slice() else {
        return Err(format!(
            "Opus segments are stereo, not {} channels",
            audio.channels.len()
        ));
    };
    if audio.sample_rate != RATE {
        return Err(format!(
            "Opus segments are 48 kHz, not {} Hz",
            audio.sample_rate
        ));
    }
    let mut encoder = Encoder::new(RATE, Channels::Stereo, Application::Audio).map_err(failed)?;
    encoder
        .set_bitrate(Bitrate::Bits(bitrate as i32))
        .map_err(failed)?;
    encoder.set_signal(Signal::Music).map_err(failed)?;
    let pre_skip = encoder.get_lookahead().map_err(failed)? as usize;

    let mut ogg = PacketWriter::new(Vec::with_capacity(
        audio.frames() * bitrate as usize / 8 / RATE as usize + 4096,
    ));
    let header = |e: std::io::Error| format!("Ogg writing failed: {e}");
    ogg.write_packet(head(pre_skip), SERIAL, PacketWriteEndInfo::EndPage, 0)
        .map_err(header)?;
    ogg.write_packet(tags(), SERIAL, PacketWriteEndInfo::EndPage, 0)
        .map_err(header)?;

    // The decoder's output lags the input by `pre_skip` frames, which it drops; the last packet is padded
    // with silence and the final granule position says where the segment ends.
    let total = pre_skip + audio.frames();
    let packets = total.div_ceil(PACKET);
    let mut input = vec![0.0f32; 2 * PACKET];
    let mut output = vec![0u8; 4000];
    for p in 0..packets {
        input.fill(0.0);
        for (k, frame) in (p * PACKET..(p + 1) * PACKET).enumerate() {
            if let (Some(&l), Some(&r)) = (left.get(frame), right.get(frame)) {
                input[2 * k] = l;
                input[2 * k + 1] = r;
            }
        }
        let size = encoder.encode_float(&input, &mut output).map_err(failed)?;
        let last = p + 1 == packets;
        let granule = ((p + 1) * PACKET).min(total) as u64;
        let end = if last {
            PacketWriteEndInfo::EndStream
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        ogg.write_packet(output[..size].to_vec(), SERIAL, end, granule)
            .map_err(header)?;
    }
    Ok(ogg.into_inner())
}

/// The identification header: version 1, stereo, the pre-skip, 48 kHz input, no gain, mapping family 0.
fn head(pre_skip: usize) -> Cow<'static, [u8]> {
    let mut head = b"OpusHead".to_vec();
    head.push(1);
    head.push(2);
    head.extend((pre_skip as u16).to_le_bytes());
    head.extend(RATE.to_le_bytes());
    head.extend(0i16.to_le_bytes());
    head.push(0);
    head.into()
}

/// The comment header: the vendor (libopus's version) and no comments.
fn tags() -> Cow<'static, [u8]> {
    let vendor = opus::version();
    let mut tags = b"OpusTags".to_vec();
    tags.extend((vendor.len() as u32).to_le_bytes());
    tags.extend(vendor.as_bytes());
    tags.extend(0u32.to_le_bytes());
    tags.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes as a player must: drops the pre-skip, stops at the last granule position.
    fn decode(bytes: &[u8]) -> (usize, Vec<f32>) {
        let mut reader = ogg::PacketReader::new(std::io::Cursor::new(bytes));
        let head = reader.read_packet_expected().unwrap();
        assert_eq!(&head.data[..8], b"OpusHead");
        let pre_skip = u16::from_le_bytes([head.data[10], head.data[11]]) as usize;
        let tags = reader.read_packet_expected().unwrap();
        assert_eq!(&tags.data[..8], b"OpusTags");
        let mut decoder = opus::Decoder::new(RATE, Channels::Stereo).unwrap();
        let mut left = Vec::new();
        let mut end = 0;
        let mut frame = vec![0.0f32; 2 * 5760];
        while let Some(packet) = reader.read_packet().unwrap() {
            let n = decoder
                .decode_float(&packet.data, &mut frame, false)
                .unwrap();
            left.extend(frame[..2 * n].iter().step_by(2));
            end = packet.absgp_page() as usize;
        }
        (pre_skip, left[pre_skip..end].to_vec())
    }

    #[test]
    fn a_decoded_segment_has_exactly_its_frames_each_at_its_own_place() {
        // A tone whose loudness changes over time, so a shift by even one frame would show.
        let frames = 48_000 + 123;
        let tone = |f: f32| -> Vec<f32> {
            (0..frames)
                .map(|i| {
                    let t = i as f32 / 48_000.0;
                    0.4 * (2.0 * std::f32::consts::PI * f * t).sin() * (1.0 + (7.0 * t).sin()) / 2.0
                })
                .collect()
        };
        let audio = Audio {
            sample_rate: 48_000,
            channels: vec![tone(440.0), tone(660.0)],
        };
        let bytes = encode(&audio, 128_000).unwrap();
        assert_eq!(&bytes[..4], b"OggS");
        let (pre_skip, decoded) = decode(&bytes);
        assert!((1..=3840).contains(&pre_skip), "{pre_skip}");
        assert_eq!(decoded.len(), frames);
        let correlation = |lag: usize| {
            let (mut dot, mut a, mut b) = (0.0f64, 0.0f64, 0.0f64);
            for i in 2_000..frames - 2_000 {
                let (x, y) = (
                    f64::from(audio.channels[0][i]),
                    f64::from(decoded[i + lag - 1]),
                );
                dot += x * y;
                a += x * x;
                b += y * y;
            }
            dot / (a * b).sqrt()
        };
        let best = (0..3).max_by(|&x, &y| correlation(x).total_cmp(&correlation(y)));
        assert_eq!(best, Some(1), "aligned to the frame");
        assert!(correlation(1) > 0.99, "{}", correlation(1));
    }

    #[test]
    fn a_minute_at_128_kbps_is_about_a_megabyte_and_other_layouts_are_refused() {
        let noise: Vec<f32> = (0..48_000 * 60)
            .map(|i| ((i as f32 * 12.9898).sin() * 43_758.547).fract() * 0.2)
            .collect();
        let audio = Audio {
            sample_rate: 48_000,
            channels: vec![noise.clone(), noise],
        };
        let bytes = encode(&audio, 128_000).unwrap().len();
        assert!((900_000..1_100_000).contains(&bytes), "{bytes}");
        let mono = Audio {
            sample_rate: 48_000,
            channels: vec![vec![0.0; 960]],
        };
        assert!(encode(&mono, 128_000).unwrap_err().contains("stereo"));
        let slow = Audio {
            sample_rate: 44_100,
            channels: vec![vec![0.0; 960]; 2],
        };
        assert!(encode(&slow, 128_000).unwrap_err().contains("48 kHz"));
    }
}
