//! Composition: key, progression, voicing and the note events of every bar.
//!
//! Everything is derived from (seed, bar index) by hashing, never from earlier bars, so any
//! stretch of the endless piece can be generated on its own.

use super::dsp::{Env, Spectrum};
use super::harmony::{above, hz, nearest, Family, Rng, FAMILIES};
use super::style::{Mood, Style};

/// Everything that fixes the music: the same Score renders the same audio for the same absolute time.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    pub seed: u64,
    pub style: Style,
}

/// How a note makes sound.
#[derive(Clone, Copy, Debug)]
pub(super) enum Voice {
    /// Two detuned wavetable oscillators, one leaning left, one right; `pad` feeds the moving pad filter.
    Tone {
        spectrum: Spectrum,
        detune: f64,
        pad: bool,
    },
    /// A body plus brighter partials that die away faster, like a felt hammer or a soft mallet.
    Struck {
        body: Spectrum,
        bright: Spectrum,
        ratio: f64,
        bright_amp: f32,
        bright_decay: f64,
    },
    /// A sine gliding exponentially from `freq + from` to `freq` (kick, rain droplet).
    Glide { from: f64, time: f64 },
    /// Hashed noise burst; `bright` differentiates it into a shaker-like hiss.
    Noise { bright: bool, salt: u64 },
}

impl Voice {
    fn tone(spectrum: Spectrum, detune: f64, pad: bool) -> Voice {
        Voice::Tone {
            spectrum,
            detune,
            pad,
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
    fn new(start: f64, freq: f64, amp: f32, pan: f32, env: Env, voice: Voice) -> Note {
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
const PAD_PAN: [f32; 4] = [-0.35, 0.15, -0.15, 0.35];

#[derive(Clone, Copy, Debug)]
struct Chord {
    start: i64,
    bars: i64,
    degree: usize,
    sus: bool,
}

/// The score unfolded into concrete musical decisions.
pub(super) struct Plan {
    seed: u64,
    pub(super) style: Style,
    pub(super) key: i32,
    family: Family,
    beat: f64,
    pub(super) bar: f64,
    anchors: [i32; 4],
    bass_low: i32,
    melody_center: i32,
    swing: f64,
}

impl Plan {
    pub(super) fn new(score: &Score) -> Plan {
        let style = score.style.clone();
        let mut rng = Rng::new(score.seed, 0, 1);
        let key = rng.below(12) as i32;
        let pool: &[usize] = match style.mood {
            Mood::Bright => &[0, 1, 2, 3],
            Mood::Neutral => &[3, 4, 5, 6, 0],
            Mood::Dark => &[6, 7, 8, 9],
        };
        let family = FAMILIES[pool[rng.below(pool.len())]];
        let shift = match style.mood {
            Mood::Dark => -5,
            Mood::Neutral => 0,
            Mood::Bright => 4,
        };
        let center = 57 + shift + rng.below(3) as i32 - 1;
        let beat = 60.0 / f64::from(style.bpm).clamp(50.0, 140.0);
        Plan {
            seed: score.seed,
            key,
            family,
            beat,
            bar: 4.0 * beat,
            anchors: [center - 8, center - 3, center + 2, center + 7],
            bass_low: 33 + shift / 2,
            melody_center: 67 + shift + if style.piano { -2 } else { 2 },
            swing: if style.lofi { 0.16 } else { 0.0 },
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
        if chord.start == bar {
            self.pads(&chord, &pcs, t, out);
        }
        self.bass(bar, &chord, pcs[0], t, out);
        if self.style.drone && bar.rem_euclid(8) == 0 {
            self.drone(t, out);
        }
        self.melody(bar, &pcs, t, out);
        if self.style.pulse {
            self.pulse(bar, t, out);
        }
        self.textures(bar, t, out);
    }

    fn cycle(&self, cycle: i64) -> Vec<Chord> {
        let mut rng = Rng::new(self.seed, cycle, 2);
        let (mode, prog) = self.family;
        let mut out = Vec::new();
        let (mut bar, mut left, mut j) = (cycle * CYCLE_BARS, CYCLE_BARS, 0);
        while left > 0 {
            let p = rng.unit();
            let long = if self.style.calm { 0.7 } else { 0.5 };
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

    fn chord_at(&self, bar: i64) -> Chord {
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
    fn chord_tones(&self, c: &Chord) -> Vec<i32> {
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

    fn pads(&self, chord: &Chord, pcs: &[i32], t: f64, out: &mut Vec<Note>) {
        let mut rng = Rng::new(self.seed, chord.start, 3);
        // Each cycle nudges the whole voicing so the same chord is not always voiced identically.
        let shift = Rng::new(self.seed, chord.start.div_euclid(CYCLE_BARS), 4).below(5) as i32 - 2;
        let slow = self.style.calm || self.style.ambient || self.style.drone;
        let (lead, attack, release) = if slow {
            (2.0, 3.5, 4.5)
        } else {
            (1.2, 2.5, 3.5)
        };
        let env = Env::new(
            attack,
            0.0,
            chord.bars as f64 * self.bar + lead - 0.3,
            release,
        );
        let mut floor = i32::MIN / 2;
        for (k, &anchor) in self.anchors.iter().enumerate() {
            // Voices stay near fixed anchors, so each moves to its nearest chord tone at a change.
            // Semitone rubs inside a pad turn muddy, and low down even a whole tone does.
            let gap = if floor < 50 { 3 } else { 2 };
            let mut m = nearest(anchor + shift, pcs);
            if m < floor + gap {
                m = above(floor + gap - 1, pcs);
            }
            floor = m;
            out.push(Note::new(
                t - lead,
                hz(m),
                0.05 * (1.0 - 0.1 * k as f32),
                PAD_PAN[k],
                env,
                Voice::tone(Spectrum::Pad, 0.0015 + 0.002 * rng.unit(), true),
            ));
        }
    }

    fn bass(&self, bar: i64, chord: &Chord, root: i32, t: f64, out: &mut Vec<Note>) {
        // With a pulse the bass re-strikes every bar, otherwise it holds the whole chord.
        let per_bar = self.style.pulse;
        if !per_bar && chord.start != bar {
            return;
        }
        let env = if per_bar {
            Env::new(0.03, 3.0, self.bar - 0.05, 0.5)
        } else {
            Env::new(0.4, 0.0, chord.bars as f64 * self.bar, 1.5)
        };
        out.push(Note::new(
            t,
            hz(self.bass_low + (root - self.bass_low).rem_euclid(12)),
            if self.style.warm { 0.16 } else { 0.13 },
            0.0,
            env,
            Voice::tone(Spectrum::Bass, 0.0, false),
        ));
    }

    fn drone(&self, t: f64, out: &mut Vec<Note>) {
        let root = self.bass_low + 12 + (self.key - self.bass_low).rem_euclid(12);
        let env = Env::new(6.0, 0.0, 8.0 * self.bar + 2.5, 6.0);
        for (m, amp, pan) in [(root, 0.035, -0.2), (root + 7, 0.025, 0.2)] {
            out.push(Note::new(
                t - 4.0,
                hz(m),
                amp,
                pan,
                env,
                Voice::tone(Spectrum::Pad, 0.002, true),
            ));
        }
    }

    fn melody(&self, bar: i64, pcs: &[i32], t: f64, out: &mut Vec<Note>) {
        let s = &self.style;
        let mut rng = Rng::new(self.seed, bar, 5);
        let mut rest = 0.18;
        for (flag, p) in [
            (s.calm, 0.12),
            (s.ambient || s.drone, 0.12),
            (bar.rem_euclid(4) == 3, 0.25),
        ] {
            if flag {
                rest += p;
            }
        }
        if rng.unit() < rest {
            return;
        }
        // Bars 1 and 3 of each four-bar phrase share a rhythm, as do bars 2 and 4: a motif.
        let motif = bar.div_euclid(4) * 2 + bar.rem_euclid(2);
        let mut rhythm = Rng::new(self.seed, motif, 8);
        // Strong beats are likelier; a few notes per bar at most keeps it out of the way.
        let mut weights = [6.0, 1.0, 3.0, 1.5, 5.0, 1.0, 3.0, 1.5];
        let count = 1 + rhythm.below(if s.calm { 2 } else { 3 });
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
        let major = self.family.0[2] == 4;
        let pent: &[i32] = if major {
            &[0, 2, 4, 7, 9]
        } else {
            &[0, 3, 5, 7, 10]
        };
        let scale: Vec<i32> = (self.melody_center - 10..=self.melody_center + 12)
            .filter(|m| pent.contains(&(m - self.key).rem_euclid(12)))
            .collect();
        // A slow seeded contour across bars, then a short random walk within the bar.
        let phase = (self.seed % 1000) as f64;
        let center = scale.len() as f64 / 2.0 + 2.5 * (bar as f64 * 0.37 + phase).sin();
        let mut idx = center as i64 + rng.below(3) as i64 - 1;
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
                let offbeat = if slot % 2 == 1 { self.swing } else { 0.0 };
                t + (slot as f64 / 2.0 + offbeat) * self.beat
            };
            let start = at(slot) + rng.range(-0.008, 0.008);
            let next = slots.get(n + 1).map_or(t + self.bar, |&s| at(s));
            let gate = (next - start + 0.5 * self.beat).max(0.3);
            let vel = (rng.range(0.55, 0.9) * if slot % 4 == 0 { 1.1 } else { 1.0 }) as f32;
            let pan = rng.range(-0.25, 0.25) as f32;
            out.push(self.struck(start, m, vel, gate, pan));
            if s.piano && slot == 0 && rng.unit() < 0.3 && idx >= 2 {
                let low = scale[idx as usize - 2];
                out.push(self.struck(start + 0.012, low, vel * 0.6, gate, -pan));
            }
        }
    }

    fn struck(&self, start: f64, midi: i32, vel: f32, gate: f64, pan: f32) -> Note {
        let freq = hz(midi);
        let (amp, env, voice) = if self.style.piano {
            // Lower strings ring longer; harder strikes sound brighter.
            let decay = 2.6 * (262.0 / freq).powf(0.3);
            let voice = Voice::Struck {
                body: Spectrum::PianoBody,
                bright: Spectrum::PianoBright,
                ratio: 1.0,
                bright_amp: 0.2 + 0.45 * vel,
                bright_decay: 0.3,
            };
            (0.1, Env::new(0.006, decay, gate.max(1.5), 0.8), voice)
        } else {
            let voice = Voice::Struck {
                body: Spectrum::Sine,
                bright: Spectrum::Sine,
                ratio: 3.0,
                bright_amp: 0.25 + 0.2 * vel,
                bright_decay: 0.12,
            };
            (0.13, Env::new(0.004, 1.4, gate.max(1.2), 0.6), voice)
        };
        Note::new(start, freq, amp * vel, pan, env, voice)
    }

    fn pulse(&self, bar: i64, t: f64, out: &mut Vec<Note>) {
        let s = &self.style;
        let mut rng = Rng::new(self.seed, bar, 6);
        let soft = if s.calm { 0.75 } else { 1.0 };
        let kicks: &[f64] = if s.lofi {
            &[0.0, 2.5 + self.swing]
        } else {
            &[0.0, 2.0]
        };
        for &k in kicks {
            out.push(Note::new(
                t + k * self.beat,
                47.0,
                0.22 * soft,
                0.0,
                Env::new(0.004, 0.16, 0.2, 0.15),
                Voice::Glide {
                    from: 70.0,
                    time: 0.035,
                },
            ));
        }
        for k in 0..8 {
            let offbeat = k % 2 == 1;
            let pos = k as f64 / 2.0 + if offbeat { self.swing } else { 0.0 };
            let accent = if offbeat { 1.0 } else { 0.6 };
            out.push(Note::new(
                t + pos * self.beat,
                1.0,
                0.03 * accent * soft * rng.range(0.8, 1.1) as f32,
                0.2,
                Env::new(0.003, 0.03, 0.05, 0.05),
                Voice::Noise {
                    bright: true,
                    salt: rng.next(),
                },
            ));
        }
    }

    fn textures(&self, bar: i64, t: f64, out: &mut Vec<Note>) {
        let mut rng = Rng::new(self.seed, bar, 7);
        if self.style.rain {
            for _ in 0..2 + rng.below(4) {
                let freq = 1600.0 * 2f64.powf(rng.range(0.0, 1.4));
                out.push(Note::new(
                    t + rng.unit() * self.bar,
                    freq,
                    rng.range(0.012, 0.03) as f32,
                    rng.range(-0.8, 0.8) as f32,
                    Env::new(0.002, 0.025, 0.04, 0.03),
                    Voice::Glide {
                        from: -0.3 * freq,
                        time: 0.015,
                    },
                ));
            }
        }
        if self.style.lofi {
            for _ in 0..3 + rng.below(7) {
                out.push(Note::new(
                    t + rng.unit() * self.bar,
                    1.0,
                    rng.range(0.01, 0.035) as f32,
                    rng.range(-0.6, 0.6) as f32,
                    Env::new(0.0004, 0.001, 0.0015, 0.0015),
                    Voice::Noise {
                        bright: false,
                        salt: rng.next(),
                    },
                ));
            }
        }
    }
}
