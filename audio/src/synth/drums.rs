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

/// One hit: when (in beats into the bar), what, how hard.
type Hits = Vec<(f64, Hit, f32)>;

pub(super) fn bar(p: &Plan, kit: Kit, bar: i64, t: f64, out: &mut Vec<Note>) {
    let mut rng = Rng::new(p.seed, bar, 6);
    let soft = if p.style.energy < -0.3 { 0.75 } else { 1.0 };
    let mut hits = pattern(kit, p.style.energy > 0.3, &mut rng);
    vary(kit, bar, &mut rng, &mut hits);
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

/// The kit's groove for one bar; `busy` (an energetic prompt) adds sixteenths.
fn pattern(kit: Kit, busy: bool, rng: &mut Rng) -> Hits {
    let mut hits = Hits::new();
    match kit {
        Kit::Pulse => {
            // A soft heartbeat on every beat, stronger on one and three.
            hits.extend([
                (0.0, Hit::Kick, 0.6),
                (1.0, Hit::Kick, 0.35),
                (2.0, Hit::Kick, 0.5),
                (3.0, Hit::Kick, 0.35),
            ]);
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
    hits
}

/// Each bar some hand percussion at its own hashed places, every eighth bar a fill, and now and then a
/// hat left out, so no two bars are quite alike.
fn vary(kit: Kit, bar: i64, rng: &mut Rng, hits: &mut Hits) {
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
    hits.retain(|h| {
        !matches!(h.1, Hit::Hat | Hit::DustyHat | Hit::Shaker | Hit::OpenHat) || rng.unit() > 0.08
    });
}

fn sound(hit: Hit, start: f64, vel: f32, salt: u64, out: &mut Vec<Note>) {
    let noise = |color| Voice::Noise { color, salt };
    let mut push = |freq: f64, amp: f32, pan: f32, env: Env, voice: Voice| {
        out.push(Note::new(start, freq, amp * vel, pan, env, voice));
    };
    let glide = |from: f64, time: f64| Voice::Glide { from, time };
    match hit {
        Hit::Kick => {
            push(
                48.0,
                0.3,
                0.0,
                Env::new(0.002, 0.18, 0.22, 0.12),
                glide(90.0, 0.03),
            );
            // The beater's click, which lets a kick be heard on small speakers.
            let click = Env::new(0.0005, 0.004, 0.006, 0.004);
            push(1.0, 0.05, 0.0, click, noise(Color::Hiss));
        }
        Hit::Snare => {
            push(
                180.0,
                0.16,
                0.05,
                Env::new(0.001, 0.07, 0.1, 0.06),
                glide(60.0, 0.02),
            );
            let rattle = Env::new(0.001, 0.1, 0.16, 0.08);
            push(1.0, 0.09, 0.05, rattle, noise(Color::White));
        }
        Hit::Clap => {
            // Three hands a few milliseconds apart, the last ringing on.
            for (k, amp) in [0.06f32, 0.05, 0.08].into_iter().enumerate() {
                let at = 0.011 * k as f64;
                let ring = if k == 2 { 0.08 } else { 0.0 };
                let env = Env::new(0.001 + at, 0.012 + ring, at + 0.02, 0.05);
                push(1.0, amp, -0.05, env, noise(Color::Hiss));
            }
        }
        Hit::Perc => {
            let pitch = 280.0 + 40.0 * (salt % 8) as f64;
            let pan = -0.4 + 0.1 * (salt % 9) as f32;
            let env = Env::new(0.001, 0.06, 0.08, 0.05);
            push(pitch, 0.05, pan, env, glide(0.3 * pitch, 0.01));
        }
        _ => {
            if let Some((amp, pan, env, color)) = noise_only(hit) {
                push(1.0, amp, pan, env, noise(color));
            }
        }
    }
}

/// The hits that are noise alone: level, pan, envelope and colour.
fn noise_only(hit: Hit) -> Option<(f32, f32, Env, Color)> {
    Some(match hit {
        Hit::Hat => (0.06, 0.25, Env::new(0.001, 0.025, 0.04, 0.03), Color::Air),
        Hit::DustyHat => (0.08, 0.25, Env::new(0.001, 0.03, 0.045, 0.03), Color::Hiss),
        Hit::OpenHat => (0.045, 0.3, Env::new(0.002, 0.12, 0.16, 0.08), Color::Air),
        Hit::Shaker => (0.05, 0.3, Env::new(0.012, 0.04, 0.05, 0.04), Color::Air),
        Hit::Swish => (0.045, -0.2, Env::new(0.06, 0.12, 0.16, 0.12), Color::Hiss),
        Hit::Tap => (0.07, -0.1, Env::new(0.002, 0.05, 0.07, 0.06), Color::White),
        Hit::Ride => (0.07, 0.35, Env::new(0.001, 0.5, 0.55, 0.3), Color::Air),
        Hit::Kick | Hit::Snare | Hit::Clap | Hit::Perc => return None,
    })
}
