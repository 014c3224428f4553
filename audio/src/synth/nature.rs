//! The countable sounds of nature and rooms: raindrops, birdsong, the fire's crackle, cups in a café,
//! dust on a record. Their continuous beds (the rain's hiss, waves, wind, murmur) live in the bus.

use super::dsp::Env;
use super::harmony::Rng;
use super::score::{Color, Note, Plan, Voice};
use super::words::Texture;

pub(super) fn bar(p: &Plan, bar: i64, t: f64, out: &mut Vec<Note>) {
    let mut rng = Rng::new(p.seed, bar, 7);
    let len = p.bar;
    for &texture in &p.style.textures {
        match texture {
            Texture::Rain => {
                for _ in 0..(3.0 * len) as usize + rng.below(6) {
                    let freq = 1600.0 * 2f64.powf(rng.range(0.0, 1.6));
                    out.push(Note::new(
                        t + rng.unit() * len,
                        freq,
                        rng.range(0.007, 0.02) as f32,
                        rng.range(-0.8, 0.8) as f32,
                        Env::new(0.002, 0.02, 0.035, 0.03),
                        Voice::Glide {
                            from: -0.3 * freq,
                            time: 0.015,
                        },
                    ));
                }
            }
            Texture::Forest => birds(&mut rng, t, len, out),
            Texture::Fire => {
                for _ in 0..(4.0 * len) as usize + rng.below(10) {
                    let pop = rng.unit() < 0.15;
                    out.push(Note::new(
                        t + rng.unit() * len,
                        1.0,
                        rng.range(0.02, if pop { 0.12 } else { 0.05 }) as f32,
                        rng.range(-0.5, 0.5) as f32,
                        Env::new(0.0003, 0.002, 0.003, if pop { 0.01 } else { 0.002 }),
                        Voice::Noise {
                            color: Color::White,
                            salt: rng.next(),
                        },
                    ));
                }
            }
            Texture::Cafe => {
                // Now and then a cup on a saucer or a spoon: a short inharmonic ring.
                if rng.unit() < 0.35 * len / 2.5 {
                    let freq = rng.range(2200.0, 3600.0);
                    out.push(Note::new(
                        t + rng.unit() * len,
                        freq,
                        rng.range(0.008, 0.02) as f32,
                        rng.range(-0.7, 0.7) as f32,
                        Env::new(0.001, 0.12, 0.15, 0.1),
                        Voice::Struck {
                            body: super::dsp::Spectrum::Sine,
                            bright: super::dsp::Spectrum::Sine,
                            ratio: 2.76,
                            bright_amp: 0.6,
                            bright_decay: 0.05,
                        },
                    ));
                }
            }
            Texture::Vinyl => {
                for _ in 0..3 + rng.below(7) {
                    out.push(Note::new(
                        t + rng.unit() * len,
                        1.0,
                        rng.range(0.01, 0.035) as f32,
                        rng.range(-0.6, 0.6) as f32,
                        Env::new(0.0004, 0.001, 0.0015, 0.0015),
                        Voice::Noise {
                            color: Color::White,
                            salt: rng.next(),
                        },
                    ));
                }
            }
            Texture::Ocean | Texture::Wind => {}
        }
    }
}

/// Now and then a bird: a phrase of two to six quick chirps, each a fast glide around its own pitch.
fn birds(rng: &mut Rng, t: f64, len: f64, out: &mut Vec<Note>) {
    let calls = (len / 2.5 * rng.range(0.3, 1.6)) as usize;
    for _ in 0..calls {
        let mut at = t + rng.unit() * len;
        let pitch = rng.range(2400.0, 5200.0);
        let sweep = rng.range(-0.45, 0.35) * pitch;
        let pan = rng.range(-0.9, 0.9) as f32;
        let amp = rng.range(0.008, 0.02) as f32;
        for _ in 0..2 + rng.below(5) {
            out.push(Note::new(
                at,
                pitch * rng.range(0.92, 1.08),
                amp,
                pan,
                Env::new(0.004, 0.03, 0.05, 0.02),
                Voice::Glide {
                    from: sweep,
                    time: 0.025,
                },
            ));
            at += rng.range(0.07, 0.16);
        }
    }
}
