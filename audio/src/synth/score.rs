//! Composition: key, progression and tempo, and the note events of every bar, which the parts
//! (`ensemble`, `keys`, `drums`, `nature`) write.
//!
//! Everything is derived from (seed, bar index) by hashing, never from earlier bars, so any
//! stretch of the endless piece can be generated on its own, and no bar's choices recur.

use super::dsp::{Env, Spectrum};
use super::harmony::{Family, Rng, FAMILIES};
use super::style::Style;
use super::{drums, ensemble, keys, nature};

/// Everything that fixes the music: the same Score renders the same audio for the same absolute time.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    pub seed: u64,
    pub style: Style,
}

/// Which part of the bus a voice feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lane {
    /// Straight to the mix.
    Dry,
    /// Through the slowly moving pad filter.
    Pad,
}

/// The colour of a noise burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Color {
    /// Flat: snares, brushes, crackle.
    White,
    /// Once differentiated (+6 dB per octave): shakers.
    Hiss,
    /// Twice differentiated (+12 dB per octave): hi-hats and rides.
    Air,
}

/// How a note makes sound.
#[derive(Clone, Copy, Debug)]
pub(super) enum Voice {
    /// Two detuned wavetable oscillators, one leaning left, one right, with optional vibrato (cents).
    Tone {
        spectrum: Spectrum,
        detune: f64,
        lane: Lane,
        vibrato: f32,
    },
    /// A body plus brighter partials that die away faster: hammer, tine, pluck or mallet.
    Struck {
        body: Spectrum,
        bright: Spectrum,
        ratio: f64,
        bright_amp: f32,
        bright_decay: f64,
    },
    /// A sine gliding exponentially from `freq + from` to `freq` (kick, droplet, bird call).
    Glide { from: f64, time: f64 },
    /// Hashed noise burst.
    Noise { color: Color, salt: u64 },
}

impl Voice {
    pub(super) fn tone(spectrum: Spectrum, detune: f64, lane: Lane) -> Voice {
        Voice::Tone {
            spectrum,
            detune,
            lane,
            vibrato: 0.0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Note {
    pub(super) start: f64,
    pub(super) freq: f64,
    pub(super) amp: f32,
    pub(super) pan: f32,
    pub(super) env: Env,
    pub(super) voice: Voice,
}

impl Note {
    pub(super) fn new(start: f64, freq: f64, amp: f32, pan: f32, env: Env, voice: Voice) -> Note {
        Note {
            start,
            freq,
            amp,
            pan,
            env,
            voice,
        }
    }

    pub(super) fn end(&self) -> f64 {
        self.start + self.env.gate + self.env.release
    }
}

/// Bars per harmonic cycle: the progression restarts on its first chord, each cycle freshly varied.
const CYCLE_BARS: i64 = 64;

#[derive(Clone, Copy, Debug)]
pub(super) struct Chord {
    pub(super) start: i64,
    pub(super) bars: i64,
    degree: usize,
    sus: bool,
}

/// The score unfolded into concrete musical decisions.
pub(super) struct Plan {
    pub(super) seed: u64,
    pub(super) style: Style,
    pub(super) key: i32,
    family: Family,
    pub(super) beat: f64,
    pub(super) bar: f64,
    /// The middle of the chords' register, in MIDI notes; darker prompts sit lower.
    pub(super) center: i32,
    pub(super) bass_low: i32,
    pub(super) melody_center: i32,
}

impl Plan {
    pub(super) fn new(score: &Score) -> Plan {
        let style = score.style.clone();
        let mut rng = Rng::new(score.seed, 0, 1);
        let key = rng.below(12) as i32;
        // Dark prompts draw from the minor modes, bright ones from the major, neutral from both.
        let pool: &[usize] = if style.tone <= -0.5 {
            &[6, 7, 8, 9]
        } else if style.tone >= 0.5 {
            &[0, 1, 2, 3]
        } else {
            &[3, 4, 5, 6, 0]
        };
        let family = FAMILIES[pool[rng.below(pool.len())]];
        let shift = (4.5 * style.tone).round() as i32;
        let center = 57 + shift + rng.below(3) as i32 - 1;
        let beat = 60.0 / f64::from(style.bpm);
        let bar = 4.0 * beat;
        Plan {
            seed: score.seed,
            key,
            family,
            beat,
            bar,
            center,
            bass_low: 33 + shift / 2,
            melody_center: 67 + shift,
            style,
        }
    }

    /// Every note whose sound overlaps [t0, t1), in start order.
    pub(super) fn notes(&self, t0: f64, t1: f64) -> Vec<Note> {
        // The longest note (a drone) spans 8 bars plus 8.5 s, and none starts more than 4 s early.
        let first = ((t0 - 9.0 * self.bar - 12.0) / self.bar).floor() as i64;
        let last = ((t1 + 5.0) / self.bar).floor() as i64;
        let mut out = Vec::new();
        for bar in first..=last {
            self.bar_notes(bar, &mut out);
        }
        out.retain(|n| n.start < t1 && n.end() > t0);
        out.sort_by(|a, b| a.start.total_cmp(&b.start));
        out
    }

    fn bar_notes(&self, bar: i64, out: &mut Vec<Note>) {
        let chord = self.chord_at(bar);
        let pcs = self.chord_tones(&chord);
        let t = bar as f64 * self.bar;
        ensemble::bar(self, bar, &chord, &pcs, t, out);
        keys::bar(self, bar, &chord, &pcs, t, out);
        if let Some(kit) = self.style.kit {
            drums::bar(self, kit, bar, t, out);
        }
        nature::bar(self, bar, t, out);
    }

    /// The chord after `chord`, for lines that lead into it.
    pub(super) fn next_chord(&self, chord: &Chord) -> (Chord, Vec<i32>) {
        let next = self.chord_at(chord.start + chord.bars);
        let pcs = self.chord_tones(&next);
        (next, pcs)
    }

    /// Pitch classes of the mode's pentatonic subset around the key, for tunes.
    pub(super) fn pentatonic(&self) -> &'static [i32] {
        if self.family.0[2] == 4 {
            &[0, 2, 4, 7, 9]
        } else {
            &[0, 3, 5, 7, 10]
        }
    }

    /// Pitch classes of the mode itself.
    pub(super) fn mode_pcs(&self) -> Vec<i32> {
        self.family
            .0
            .iter()
            .map(|d| (d + self.key).rem_euclid(12))
            .collect()
    }

    fn cycle(&self, cycle: i64) -> Vec<Chord> {
        let mut rng = Rng::new(self.seed, cycle, 2);
        let (mode, prog) = self.family;
        let mut out = Vec::new();
        let (mut bar, mut left, mut j) = (cycle * CYCLE_BARS, CYCLE_BARS, 0);
        while left > 0 {
            let p = rng.unit();
            let long = 0.6 - 0.15 * f64::from(self.style.energy);
            let mut bars = if left <= 4 {
                left
            } else if p < long {
                4
            } else if p < long + 0.15 {
                3
            } else {
                2
            };
            if left - bars == 1 {
                bars -= 1;
            }
            let (mut degree, sus) = prog[j % 4];
            // Occasional third-related substitute (shares two notes) so cycles never repeat exactly.
            if j > 0 && rng.unit() < 0.2 {
                let alt = (degree + if rng.unit() < 0.5 { 2 } else { 5 }) % 7;
                if (mode[(alt + 4) % 7] - mode[alt]).rem_euclid(12) == 7 {
                    degree = alt;
                }
            }
            out.push(Chord {
                start: bar,
                bars,
                degree,
                sus,
            });
            bar += bars;
            left -= bars;
            j += 1;
        }
        out
    }

    pub(super) fn chord_at(&self, bar: i64) -> Chord {
        let chords = self.cycle(bar.div_euclid(CYCLE_BARS));
        let found = chords.iter().find(|c| bar < c.start + c.bars);
        found.or(chords.last()).copied().unwrap_or(Chord {
            start: bar,
            bars: 4,
            degree: 0,
            sus: false,
        })
    }

    /// Absolute pitch classes, root first: root, third (or fourth), fifth, seventh, ninth.
    pub(super) fn chord_tones(&self, c: &Chord) -> Vec<i32> {
        let mode = self.family.0;
        let pc = |k: usize| (mode[(c.degree + k) % 7] + self.key).rem_euclid(12);
        let steps: [usize; 5] = if c.sus {
            [0, 3, 4, 6, 1]
        } else {
            [0, 2, 4, 6, 1]
        };
        let mut pcs: Vec<i32> = steps.iter().map(|&k| pc(k)).collect();
        // A flat ninth over the root is too tense for focus music.
        if (pc(1) - pc(0)).rem_euclid(12) == 1 {
            pcs.pop();
        }
        pcs
    }
}
