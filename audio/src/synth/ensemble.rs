//! The sustained parts: pads, the string section, synth chords, the drone and the bass.

use super::dsp::{Env, Spectrum};
use super::harmony::{above, hz, nearest, Rng};
use super::score::{Chord, Lane, Note, Plan, Voice};
use super::style::{Bass, Harmony};

const PAN: [f32; 4] = [-0.35, 0.15, -0.15, 0.35];

/// The kind of sustained chord.
#[derive(Clone, Copy, PartialEq)]
enum Section {
    Pad,
    Strings,
}

pub(super) fn bar(p: &Plan, bar: i64, chord: &Chord, pcs: &[i32], t: f64, out: &mut Vec<Note>) {
    let s = &p.style;
    if chord.start == bar {
        match s.harmony {
            Harmony::Pad => chords(p, chord, pcs, t, Section::Pad, 1.0, out),
            Harmony::Strings => chords(p, chord, pcs, t, Section::Strings, 1.0, out),
            Harmony::Synth => chords(p, chord, pcs, t, Section::Pad, 0.6, out),
            _ => {}
        }
        if s.strings_bed {
            chords(p, chord, pcs, t, Section::Strings, 0.6, out);
        }
        if s.pad_bed {
            chords(p, chord, pcs, t, Section::Pad, 0.4, out);
        }
    }
    if s.harmony == Harmony::Synth {
        stabs(p, bar, pcs, t, out);
    }
    bass(p, bar, chord, pcs, t, out);
    if s.drone && bar.rem_euclid(8) == 0 {
        drone(p, t, out);
    }
}

/// Four voices held through the chord, each moving to its nearest chord tone at a change.
fn chords(
    p: &Plan,
    chord: &Chord,
    pcs: &[i32],
    t: f64,
    section: Section,
    level: f32,
    out: &mut Vec<Note>,
) {
    let mut rng = Rng::new(p.seed, chord.start, 3);
    // Each harmonic cycle nudges the whole voicing, so the same chord is not always voiced alike.
    let shift = Rng::new(p.seed, chord.start.div_euclid(64), 4).below(5) as i32 - 2;
    let calm = p.style.energy < 0.0;
    let (lead, attack, release) = match (section, calm) {
        (Section::Pad, true) => (2.0, 3.5, 4.5),
        (Section::Pad, false) => (1.2, 2.5, 3.5),
        // Strings swell in from just before the change and bow through it.
        (Section::Strings, _) => (0.8, 1.6, 2.5),
    };
    let env = Env::new(attack, 0.0, chord.bars as f64 * p.bar + lead - 0.3, release);
    let c = p.center + shift;
    let anchors = [c - 8, c - 3, c + 2, c + 7];
    let mut floor = i32::MIN / 2;
    for (k, &anchor) in anchors.iter().enumerate() {
        // Semitone rubs inside a chord turn muddy, and low down even a whole tone does.
        let gap = if floor < 50 { 3 } else { 2 };
        let mut m = nearest(anchor, pcs);
        if m < floor + gap {
            m = above(floor + gap - 1, pcs);
        }
        floor = m;
        let detune = 0.0015 + 0.002 * rng.unit();
        let (voice, amp) = match section {
            Section::Pad => (Voice::tone(Spectrum::Pad, detune, Lane::Pad), 0.05),
            Section::Strings => (
                Voice::Tone {
                    spectrum: Spectrum::Saw,
                    detune: detune + 0.002,
                    lane: Lane::Pad,
                    vibrato: 9.0 + 4.0 * rng.unit() as f32,
                },
                0.085,
            ),
        };
        let amp = amp * level * (1.0 - 0.1 * k as f32);
        out.push(Note::new(t - lead, hz(m), amp, PAN[k], env, voice));
        if k == 3 && section == Section::Pad {
            // A quiet shimmer an octave above the top voice: the air over the chord.
            let shimmer = Voice::tone(Spectrum::Saw, detune, Lane::Dry);
            out.push(Note::new(
                t - lead,
                hz(m + 12),
                0.5 * amp,
                -PAN[k],
                env,
                shimmer,
            ));
        }
    }
}

/// Short synth chords on the offbeats (house) or a lazier syncopation (downtempo).
fn stabs(p: &Plan, bar: i64, pcs: &[i32], t: f64, out: &mut Vec<Note>) {
    if p.style.kit.is_none() {
        return;
    }
    let mut rng = Rng::new(p.seed, bar, 11);
    let hits: &[f64] = match rng.below(3) {
        0 => &[1.5, 3.5],
        1 => &[0.5, 1.5, 3.5],
        _ => &[1.5, 2.75, 3.5],
    };
    let voicing: Vec<i32> = (0..3).map(|k| nearest(p.center + 2 + 4 * k, pcs)).collect();
    for &at in hits {
        let start = t + (at + p.style.swing * 0.5 * (at.fract() > 0.0) as u8 as f64) * p.beat;
        for (k, &m) in voicing.iter().enumerate() {
            out.push(Note::new(
                start,
                hz(m),
                0.03,
                [-0.3, 0.0, 0.3][k],
                Env::new(0.004, 0.25, 0.18, 0.12),
                Voice::tone(Spectrum::Square, 0.0, Lane::Pad),
            ));
        }
    }
}

fn bass(p: &Plan, bar: i64, chord: &Chord, pcs: &[i32], t: f64, out: &mut Vec<Note>) {
    let root = p.bass_low + (pcs[0] - p.bass_low).rem_euclid(12);
    let fifth = root + 7;
    let b = p.beat;
    let upright = |at: f64, m: i32, amp: f32, out: &mut Vec<Note>| {
        out.push(Note::new(
            t + at * b,
            hz(m),
            amp,
            0.0,
            Env::new(0.006, 1.1, 0.9 * b, 0.12),
            Voice::Struck {
                body: Spectrum::Bass,
                bright: Spectrum::PianoBright,
                ratio: 1.0,
                bright_amp: 0.3,
                bright_decay: 0.05,
            },
        ));
    };
    match p.style.bass {
        Bass::None => {}
        Bass::Held if chord.start == bar => {
            let env = Env::new(0.4, 0.0, chord.bars as f64 * p.bar, 1.5);
            // Under strings the low note is bowed too: a contrabass, not a synth.
            let (voice, amp) = if p.style.harmony == Harmony::Strings {
                let bowed = Voice::Tone {
                    spectrum: Spectrum::Saw,
                    detune: 0.0015,
                    lane: Lane::Pad,
                    vibrato: 6.0,
                };
                (bowed, 0.1)
            } else {
                (Voice::tone(Spectrum::Bass, 0.0, Lane::Dry), 0.13)
            };
            out.push(Note::new(t, hz(root), amp, 0.0, env, voice));
        }
        Bass::Held => {}
        Bass::Upright => {
            upright(0.0, root, 0.2, out);
            upright(2.0, fifth, 0.15, out);
        }
        Bass::Walking => {
            for (beat, m) in walk(p, bar, chord, root).into_iter().enumerate() {
                upright(beat as f64, m, 0.12 + 0.03 * f32::from(beat == 0), out);
            }
        }
        Bass::Synth => {
            let house = p.style.kit == Some(super::style::Kit::House);
            let mut rng = Rng::new(p.seed, bar, 18);
            let hits: &[f64] = match (house, rng.below(3)) {
                (true, 0) => &[0.5, 1.5, 2.5, 3.5],
                (true, 1) => &[0.5, 1.5, 2.5, 3.25, 3.75],
                (true, _) => &[0.5, 1.25, 1.5, 2.5, 3.5],
                (false, 0) => &[0.0, 1.5, 2.5, 3.25],
                (false, 1) => &[0.0, 0.75, 2.5],
                (false, _) => &[0.0, 1.5, 2.0, 3.5],
            };
            for (k, &at) in hits.iter().enumerate() {
                // Roots, with a fifth or an octave here and there.
                let m = match rng.below(6) {
                    0 if k > 0 => fifth,
                    1 if k > 0 => root + 12,
                    _ => root,
                };
                out.push(Note::new(
                    t + at * b,
                    hz(m),
                    0.15,
                    0.0,
                    Env::new(0.004, 0.35, if house { 0.3 * b } else { 0.8 * b }, 0.08),
                    Voice::tone(Spectrum::Bass, 0.0, Lane::Dry),
                ));
            }
        }
    }
}

/// A walking line, a note a beat: the root, steps through the mode, and into the next chord's root by a
/// half step when the chord changes at the bar line.
fn walk(p: &Plan, bar: i64, chord: &Chord, root: i32) -> [i32; 4] {
    let mut rng = Rng::new(p.seed, bar, 12);
    let (next, next_pcs) = p.next_chord(chord);
    let last_bar = next.start == bar + 1;
    let scale = p.mode_pcs();
    let target = p.bass_low + (next_pcs[0] - p.bass_low).rem_euclid(12);
    let mut line = [root; 4];
    for beat in 1..4 {
        let m = line[beat - 1];
        line[beat] = if beat == 3 && last_bar {
            target + if rng.unit() < 0.5 { 1 } else { -1 }
        } else {
            let pool: Vec<i32> = (root - 5..=root + 12)
                .filter(|x| scale.contains(&x.rem_euclid(12)) && *x != m)
                .collect();
            let i = pool.iter().position(|&x| x > m).unwrap_or(pool.len() / 2);
            let step = [-2i64, -1, 1, 1, 2][rng.below(5)];
            pool[(i as i64 + step).clamp(0, pool.len() as i64 - 1) as usize]
        };
    }
    line
}

fn drone(p: &Plan, t: f64, out: &mut Vec<Note>) {
    let root = p.bass_low + 12 + (p.key - p.bass_low).rem_euclid(12);
    let env = Env::new(6.0, 0.0, 8.0 * p.bar + 2.5, 6.0);
    for (m, amp, pan) in [(root, 0.035, -0.2), (root + 7, 0.025, 0.2)] {
        let voice = Voice::tone(Spectrum::Pad, 0.002, Lane::Pad);
        out.push(Note::new(t - 4.0, hz(m), amp, pan, env, voice));
    }
}
