//! The struck and plucked parts: piano figures, electric-piano comping, fingerpicked guitar, and the tune
//! on whichever instrument leads.

use super::dsp::{Env, Spectrum};
use super::harmony::{above, hz, nearest, Rng};
use super::score::{Chord, Lane, Note, Plan, Voice};
use super::style::{Harmony, Kit, Lead};

/// The instruments that strike or pluck.
#[derive(Clone, Copy, PartialEq)]
enum Struck {
    Piano,
    Rhodes,
    Guitar,
    Bells,
}

pub(super) fn bar(p: &Plan, bar: i64, chord: &Chord, pcs: &[i32], t: f64, out: &mut Vec<Note>) {
    match p.style.harmony {
        Harmony::Piano => piano_figure(p, bar, pcs, t, out),
        Harmony::Rhodes => comping(p, bar, pcs, t, Struck::Rhodes, out),
        Harmony::JazzPiano => comping(p, bar, pcs, t, Struck::Piano, out),
        Harmony::Guitar => fingerpicking(p, bar, chord, pcs, t, out),
        _ => {}
    }
    match p.style.lead {
        Lead::None => {}
        Lead::Bells => melody(p, bar, pcs, t, Struck::Bells, out),
        Lead::Piano => melody(p, bar, pcs, t, Struck::Piano, out),
        Lead::Rhodes => melody(p, bar, pcs, t, Struck::Rhodes, out),
        Lead::Guitar => melody(p, bar, pcs, t, Struck::Guitar, out),
        Lead::Cello => cello(p, bar, pcs, t, out),
        Lead::Arp => arpeggio(p, bar, pcs, t, out),
    }
}

/// How an instrument strikes: its two spectra, level, envelope, and how its brightness fades.
struct Recipe {
    body: Spectrum,
    bright: Spectrum,
    /// The bright partials' pitch over the note's.
    ratio: f64,
    amp: f32,
    attack: f64,
    /// Ring time at middle C (seconds) and how it scales with pitch: lower notes ring longer.
    decay: f64,
    decay_slope: f64,
    /// The shortest gate and the release.
    hold: f64,
    release: f64,
    /// Bright partials' level at no velocity and what velocity adds, and their fade (seconds).
    bright_amp: (f32, f32),
    bright_decay: f64,
}

impl Struck {
    #[rustfmt::skip] // a table reads best as one
    fn recipe(self) -> Recipe {
        use Spectrum as S;
        //                 body          bright          ratio amp   attack decay slope hold release bright_amp   fade
        let row = match self {
            Struck::Piano  => (S::PianoBody, S::PianoBright, 1.0, 0.13, 0.005, 2.6,  0.3, 1.2, 0.7,  (0.35, 0.65), 0.6),
            Struck::Rhodes => (S::Bass,      S::Tine,        1.0, 0.1,  0.004, 2.2,  0.0, 0.6, 0.35, (0.5, 0.7),   0.8),
            Struck::Guitar => (S::Pluck,     S::Saw,         1.0, 0.1,  0.002, 1.42, 0.4, 0.8, 0.25, (0.5, 0.0),   0.08),
            Struck::Bells  => (S::Sine,      S::Sine,        3.0, 0.12, 0.003, 1.4,  0.0, 1.2, 0.6,  (0.25, 0.2),  0.15),
        };
        let (body, bright, ratio, amp, attack, decay, decay_slope, hold, release, bright_amp, bright_decay) = row;
        Recipe { body, bright, ratio, amp, attack, decay, decay_slope, hold, release, bright_amp, bright_decay }
    }
}

/// One struck note of `instrument`; `vel` 0..1 sets loudness and, for hammers, brightness.
fn strike(
    p: &Plan,
    instrument: Struck,
    start: f64,
    midi: i32,
    vel: f32,
    gate: f64,
    pan: f32,
) -> Note {
    let freq = hz(midi);
    let r = instrument.recipe();
    let bright = 0.6 + 0.4 * p.style.tone.max(-0.5);
    let decay = r.decay * (262.0 / freq).powf(r.decay_slope);
    let voice = Voice::Struck {
        body: r.body,
        bright: r.bright,
        ratio: r.ratio,
        bright_amp: (r.bright_amp.0 + r.bright_amp.1 * vel) * bright,
        bright_decay: r.bright_decay,
    };
    let env = Env::new(r.attack, decay, gate.max(r.hold), r.release);
    Note::new(start, freq, r.amp * vel, pan, env, voice)
}

/// The chord broken into a figure of eighths: a low root, then the upper tones rising and falling.
fn piano_figure(p: &Plan, bar: i64, pcs: &[i32], t: f64, out: &mut Vec<Note>) {
    let mut rng = Rng::new(p.seed, bar, 13);
    let root = nearest(p.center - 12, &pcs[..1]);
    let mut tones = vec![root, root + 7];
    let mut m = p.center - 3;
    for _ in 0..4 {
        m = above(m, pcs);
        tones.push(m);
    }
    // Calm pieces play every other eighth; energetic ones all eight.
    let every = if p.style.energy < -0.3 { 2 } else { 1 };
    let order = [0, 2, 3, 4, 5, 4, 3, 2];
    for slot in (0..8).step_by(every) {
        if slot > 0 && rng.unit() < 0.15 {
            continue;
        }
        let idx = order[(slot + rng.below(2) * (slot % 2)) % 8].min(tones.len() - 1);
        let vel = if slot == 0 {
            0.75
        } else {
            rng.range(0.4, 0.6) as f32
        };
        let start = t + slot as f64 * 0.5 * p.beat + rng.range(-0.006, 0.006);
        out.push(strike(
            p,
            Struck::Piano,
            start,
            tones[idx],
            vel,
            p.beat,
            -0.1 + 0.03 * idx as f32,
        ));
    }
}

/// Chords on one and the (swung) and-of-two and the like, voiced in the middle without the root.
fn comping(p: &Plan, bar: i64, pcs: &[i32], t: f64, instrument: Struck, out: &mut Vec<Note>) {
    let mut rng = Rng::new(p.seed, bar, 14);
    let mut voicing = Vec::new();
    let mut m = p.center;
    for &pc in pcs.iter().skip(1).take(4) {
        m = (m + 1..m + 13)
            .find(|x| x.rem_euclid(12) == pc)
            .unwrap_or(m + 1);
        voicing.push(m);
    }
    voicing.sort_unstable();
    let hits: &[f64] = match rng.below(3) {
        0 => &[0.0, 1.5],
        1 => &[0.0, 2.5],
        _ => &[0.5, 2.0, 3.5],
    };
    for &at in hits {
        let swing = if at.fract() > 0.0 { p.style.swing } else { 0.0 };
        let start = t + (at + swing) * p.beat;
        let vel = rng.range(0.45, 0.7) as f32;
        for (k, &m) in voicing.iter().enumerate() {
            // A slight roll, as a hand never lands all fingers at once.
            let pan = -0.2 + 0.13 * k as f32;
            out.push(strike(
                p,
                instrument,
                start + 0.008 * k as f64,
                m,
                vel * 0.7,
                1.2 * p.beat,
                pan,
            ));
        }
    }
}

/// Thumb on the root on one and three, fingers on the upper tones between: a travis-like pattern.
fn fingerpicking(p: &Plan, bar: i64, chord: &Chord, pcs: &[i32], t: f64, out: &mut Vec<Note>) {
    let mut rng = Rng::new(p.seed, bar, 15);
    let root = p.bass_low + 12 + (pcs[0] - p.bass_low).rem_euclid(12);
    let alt = if chord.start == bar { root } else { root + 7 };
    let mut upper = Vec::new();
    let mut m = p.center;
    for _ in 0..3 {
        m = above(m, pcs);
        upper.push(m);
    }
    let pattern: [usize; 8] = if rng.unit() < 0.5 {
        [9, 0, 1, 2, 8, 1, 0, 2]
    } else {
        [9, 1, 0, 2, 8, 2, 1, 0]
    };
    for (slot, &which) in pattern.iter().enumerate() {
        let (m, vel, pan) = match which {
            9 => (root, 0.8, -0.15),
            8 => (alt, 0.7, -0.15),
            k => (upper[k], rng.range(0.45, 0.65) as f32, 0.2),
        };
        let start = t + slot as f64 * 0.5 * p.beat + rng.range(-0.007, 0.007);
        out.push(strike(p, Struck::Guitar, start, m, vel, p.beat, pan));
    }
}

/// A sparse tune over the chords, in phrases of four bars with a shared rhythm in bars 1 and 3, 2 and 4.
fn melody(p: &Plan, bar: i64, pcs: &[i32], t: f64, instrument: Struck, out: &mut Vec<Note>) {
    let s = &p.style;
    let mut rng = Rng::new(p.seed, bar, 5);
    let rest = 0.3 - 0.15 * f64::from(s.energy) + if bar.rem_euclid(4) == 3 { 0.25 } else { 0.0 };
    if rng.unit() < rest {
        return;
    }
    let motif = bar.div_euclid(4) * 2 + bar.rem_euclid(2);
    let mut rhythm = Rng::new(p.seed, motif, 8);
    let mut weights = [6.0, 1.0, 3.0, 1.5, 5.0, 1.0, 3.0, 1.5];
    let most = if s.energy > 0.3 {
        4
    } else if s.energy < -0.3 {
        2
    } else {
        3
    };
    let count = 1 + rhythm.below(most);
    let mut slots = Vec::with_capacity(count);
    for _ in 0..count {
        let mut x = rhythm.unit() * weights.iter().sum::<f64>();
        let slot = weights.iter().position(|&w| {
            x -= w;
            x < 0.0
        });
        let slot = slot.unwrap_or(0);
        weights[slot] = 0.0;
        slots.push(slot);
    }
    slots.sort_unstable();
    let pent = p.pentatonic();
    let centre = p.melody_center
        + match instrument {
            Struck::Guitar => -5,
            // Bells sit in the celesta's register, above the pads.
            Struck::Bells => 7,
            _ => 0,
        };
    let scale: Vec<i32> = (centre - 10..=centre + 12)
        .filter(|m| pent.contains(&(m - p.key).rem_euclid(12)))
        .collect();
    // A slow seeded contour across bars, then a short random walk within the bar.
    let phase = (p.seed % 1000) as f64;
    let contour = scale.len() as f64 / 2.0 + 2.5 * (bar as f64 * 0.37 + phase).sin();
    let mut idx = contour as i64 + rng.below(3) as i64 - 1;
    for (n, &slot) in slots.iter().enumerate() {
        idx += [-2, -1, -1, 0, 1, 1, 2][rng.below(7)];
        idx = idx.clamp(0, scale.len() as i64 - 1);
        let mut m = scale[idx as usize];
        if slot % 4 == 0 && !pcs.contains(&m.rem_euclid(12)) {
            let up = scale.get(idx as usize + 1).copied();
            if let Some(c) = up.filter(|c| pcs.contains(&c.rem_euclid(12))) {
                m = c;
            }
        }
        let at = |slot: usize| {
            let offbeat = if slot % 2 == 1 { s.swing } else { 0.0 };
            t + (slot as f64 / 2.0 + offbeat) * p.beat
        };
        let start = at(slot) + rng.range(-0.008, 0.008);
        let next = slots.get(n + 1).map_or(t + p.bar, |&s| at(s));
        let gate = (next - start + 0.5 * p.beat).max(0.3);
        let vel = (rng.range(0.55, 0.9) * if slot % 4 == 0 { 1.1 } else { 1.0 }) as f32;
        let pan = rng.range(-0.25, 0.25) as f32;
        out.push(strike(p, instrument, start, m, vel, gate, pan));
    }
}

/// A slow bowed line: one or two long notes a bar, low in the register.
fn cello(p: &Plan, bar: i64, pcs: &[i32], t: f64, out: &mut Vec<Note>) {
    let mut rng = Rng::new(p.seed, bar, 16);
    if bar.rem_euclid(2) == 1 && rng.unit() < 0.6 {
        return;
    }
    let pent = p.pentatonic();
    let scale: Vec<i32> = (48..=64)
        .filter(|m| pent.contains(&(m - p.key).rem_euclid(12)))
        .collect();
    let contour =
        scale.len() as f64 / 2.0 + 2.0 * (bar as f64 * 0.29 + (p.seed % 777) as f64).sin();
    let idx = (contour as usize + rng.below(2)).min(scale.len() - 1);
    let m = nearest(scale[idx], pcs);
    let length = if rng.unit() < 0.5 { p.bar } else { 2.0 * p.bar };
    out.push(Note::new(
        t,
        hz(m),
        0.07,
        0.15,
        Env::new(0.5, 0.0, length - 0.2, 0.8),
        Voice::Tone {
            spectrum: Spectrum::Saw,
            detune: 0.001,
            lane: Lane::Pad,
            vibrato: 14.0,
        },
    ));
}

/// Notes up and down the chord in one of four orders, two octaves wide.
fn arpeggio(p: &Plan, bar: i64, pcs: &[i32], t: f64, out: &mut Vec<Note>) {
    let mut rng = Rng::new(p.seed, bar, 17);
    if rng.unit() < 0.25 {
        return;
    }
    let mut tones = Vec::new();
    let mut m = p.center + 2;
    for _ in 0..5 {
        m = above(m, pcs);
        tones.push(m);
    }
    // Sixteenths drive a house track; anything calmer takes eighths.
    let driving = p.style.kit == Some(Kit::House) || p.style.energy > 0.3;
    let step = if driving { 1 } else { 2 };
    let orders: [[usize; 8]; 4] = [
        [0, 1, 2, 3, 4, 3, 2, 1],
        [4, 3, 2, 1, 0, 1, 2, 3],
        [0, 2, 1, 3, 2, 4, 3, 1],
        [0, 1, 2, 4, 0, 1, 3, 4],
    ];
    let order = orders[rng.below(4)];
    for k in (0..16).step_by(step) {
        if rng.unit() < 0.1 {
            continue;
        }
        let m = tones[order[k % 8]];
        let start = t + k as f64 * 0.25 * p.beat;
        out.push(Note::new(
            start,
            hz(m),
            0.036 * if k % 4 == 0 { 1.0 } else { 0.7 },
            if k % 2 == 0 { -0.35 } else { 0.35 },
            Env::new(0.003, 0.18, 0.12, 0.1),
            Voice::tone(Spectrum::Saw, 0.0, Lane::Pad),
        ));
    }
}
