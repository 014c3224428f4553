//! The drum kits, each a pattern per bar with seeded ghost notes and velocities.

use super::dsp::Env;
use super::harmony::Rng;
use super::score::{Color, Note, Plan, Voice};
use super::style::Kit;

/// One drum sound, at `at` beats into the bar.
#[derive(Clone, Copy)]
enum Hit {
    Kick,
    Snare,
    Clap,
    /// Closed hat (or shaker, when soft).
    Hat,
    /// A dusty, darker hat for boom-bap.
    DustyHat,
    OpenHat,
    Shaker,
    /// A brush swept across the snare.
    Swish,
    /// A brush tapped on the snare.
    Tap,
    Ride,
    /// A small tuned hand drum or rim, for variety between bars.
    Perc,
}

pub(super) fn bar(p: &Plan, kit: Kit, bar: i64, t: f64, out: &mut Vec<Note>) {
    let mut rng = Rng::new(p.seed, bar, 6);
    let busy = p.style.energy > 0.3;
    let soft = if p.style.energy < -0.3 { 0.75 } else { 1.0 };
    let mut hits: Vec<(f64, Hit, f32)> = Vec::new();
    match kit {
        Kit::Pulse => {
            let kicks = [
                (0.0, Hit::Kick, 0.8),
                (1.0, Hit::Kick, 0.5),
                (2.0, Hit::Kick, 0.7),
            ];
            hits.extend(kicks.into_iter().chain([(3.0, Hit::Kick, 0.5)]));
            for k in 0..8 {
                hits.push((
                    k as f64 / 2.0,
                    Hit::Shaker,
                    if k % 2 == 1 { 0.8 } else { 0.5 },
                ));
            }
        }
        Kit::Lofi => {
            // Boom-bap: a heavy kick.
            hits.extend([(0.0, Hit::Kick, 1.3), (2.0, Hit::Kick, 1.1)]);
            // The boom-bap push: a ghost kick on the and of three or just before two.
            match rng.below(3) {
                0 => hits.push((2.5, Hit::Kick, 0.6)),
                1 => hits.push((0.75, Hit::Kick, 0.45)),
                _ => {}
            }
            hits.extend([(1.0, Hit::Snare, 0.8), (3.0, Hit::Snare, 0.85)]);
            for k in 0..8 {
                let v = if k % 2 == 1 { 0.55 } else { 0.8 } * rng.range(0.8, 1.1) as f32;
                hits.push((k as f64 / 2.0, Hit::DustyHat, v));
            }
        }
        Kit::Brushes => {
            for k in 0..4 {
                hits.push((f64::from(k), Hit::Swish, 0.7));
                // Ride: ding, ding-a, ding, ding-a.
                hits.push((f64::from(k), Hit::Ride, if k % 2 == 0 { 0.8 } else { 0.6 }));
            }
            hits.extend([(1.0, Hit::Tap, 0.8), (3.0, Hit::Tap, 0.8)]);
            hits.extend([(1.5, Hit::Ride, 0.45), (3.5, Hit::Ride, 0.45)]);
            hits.extend([(0.0, Hit::Kick, 0.4), (2.0, Hit::Kick, 0.3)]);
        }
        Kit::Downtempo => {
            hits.extend([
                (0.0, Hit::Kick, 1.0),
                (1.5, Hit::Kick, 0.7),
                (2.75, Hit::Kick, 0.6),
            ]);
            hits.push((2.0, Hit::Snare, 0.85));
            // Laid back: a shaker on the eighths, the sixteenths only when asked for energy.
            for k in 0..16 {
                let v = if k % 4 == 2 { 0.8 } else { 0.45 };
                if k % 2 == 0 || (busy && rng.unit() < 0.5) {
                    hits.push((k as f64 / 4.0, Hit::Shaker, v));
                }
            }
        }
        Kit::House => {
            for k in 0..4 {
                hits.push((f64::from(k), Hit::Kick, 1.0));
                hits.push((f64::from(k) + 0.5, Hit::OpenHat, 0.7));
            }
            hits.extend([(1.0, Hit::Clap, 0.8), (3.0, Hit::Clap, 0.8)]);
            for k in 0..16 {
                if k % 2 == 1 || busy {
                    hits.push((
                        k as f64 / 4.0,
                        Hit::Hat,
                        if k % 2 == 1 { 0.6 } else { 0.35 },
                    ));
                }
            }
        }
    }
    // Each bar some hand percussion at its own hashed places, and every eighth bar a fill, so no two
    // bars are quite alike.
    if matches!(kit, Kit::House | Kit::Downtempo | Kit::Lofi) {
        for _ in 0..1 + rng.below(3) {
            hits.push((
                rng.below(16) as f64 / 4.0,
                Hit::Perc,
                rng.range(0.4, 0.8) as f32,
            ));
        }
    }
    if bar.rem_euclid(8) == 7 {
        let fill = if kit == Kit::House {
            Hit::Clap
        } else {
            Hit::Snare
        };
        for k in 0..rng.below(4) + 1 {
            hits.push((3.75 - 0.25 * k as f64, fill, 0.35 + 0.1 * k as f32));
        }
    }
    // Now and then a hat is left out.
    hits.retain(|h| {
        !matches!(h.1, Hit::Hat | Hit::DustyHat | Hit::Shaker | Hit::OpenHat) || rng.unit() > 0.08
    });
    for (at, hit, vel) in hits {
        // Offbeat eighths lean late by the swing; every hit is a few milliseconds human.
        let swing = if (at.fract() - 0.5).abs() < 1e-9 {
            p.style.swing
        } else {
            0.0
        };
        let start = t + (at + swing) * p.beat + rng.range(-0.004, 0.004);
        let vel = vel * soft * rng.range(0.9, 1.05) as f32;
        sound(hit, start, vel, rng.next(), out);
    }
}

fn sound(hit: Hit, start: f64, vel: f32, salt: u64, out: &mut Vec<Note>) {
    let noise = |color| Voice::Noise { color, salt };
    let mut push = |freq: f64, amp: f32, pan: f32, env: Env, voice: Voice| {
        out.push(Note::new(start, freq, amp * vel, pan, env, voice));
    };
    match hit {
        Hit::Kick => {
            let glide = Voice::Glide {
                from: 90.0,
                time: 0.03,
            };
            push(48.0, 0.3, 0.0, Env::new(0.002, 0.18, 0.22, 0.12), glide);
            // The beater's click, which lets a kick be heard on small speakers.
            push(
                1.0,
                0.05,
                0.0,
                Env::new(0.0005, 0.004, 0.006, 0.004),
                noise(Color::Hiss),
            );
        }
        Hit::Snare => {
            let body = Voice::Glide {
                from: 60.0,
                time: 0.02,
            };
            push(180.0, 0.16, 0.05, Env::new(0.001, 0.07, 0.1, 0.06), body);
            push(
                1.0,
                0.09,
                0.05,
                Env::new(0.001, 0.1, 0.16, 0.08),
                noise(Color::White),
            );
        }
        Hit::Clap => {
            for (k, amp) in [0.06f32, 0.05, 0.08].into_iter().enumerate() {
                let at = 0.011 * k as f64;
                let env = Env::new(
                    0.001 + at,
                    0.012 + if k == 2 { 0.08 } else { 0.0 },
                    at + 0.02,
                    0.05,
                );
                push(1.0, amp, -0.05, env, noise(Color::Hiss));
            }
        }
        Hit::Hat => push(
            1.0,
            0.06,
            0.25,
            Env::new(0.001, 0.025, 0.04, 0.03),
            noise(Color::Air),
        ),
        Hit::DustyHat => push(
            1.0,
            0.08,
            0.25,
            Env::new(0.001, 0.03, 0.045, 0.03),
            noise(Color::Hiss),
        ),
        Hit::OpenHat => push(
            1.0,
            0.045,
            0.3,
            Env::new(0.002, 0.12, 0.16, 0.08),
            noise(Color::Air),
        ),
        Hit::Shaker => push(
            1.0,
            0.04,
            0.3,
            Env::new(0.012, 0.04, 0.05, 0.04),
            noise(Color::Air),
        ),
        Hit::Swish => push(
            1.0,
            0.045,
            -0.2,
            Env::new(0.06, 0.12, 0.16, 0.12),
            noise(Color::Hiss),
        ),
        Hit::Tap => push(
            1.0,
            0.07,
            -0.1,
            Env::new(0.002, 0.05, 0.07, 0.06),
            noise(Color::White),
        ),
        Hit::Perc => {
            let pitch = 280.0 + 40.0 * (salt % 8) as f64;
            let glide = Voice::Glide {
                from: 0.3 * pitch,
                time: 0.01,
            };
            push(
                pitch,
                0.05,
                -0.4 + 0.1 * (salt % 9) as f32,
                Env::new(0.001, 0.06, 0.08, 0.05),
                glide,
            );
        }
        Hit::Ride => push(
            1.0,
            0.07,
            0.35,
            Env::new(0.001, 0.5, 0.55, 0.3),
            noise(Color::Air),
        ),
    }
}
