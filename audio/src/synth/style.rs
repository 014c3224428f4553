//! Prompt parsing: free text in, musical parameters out.

/// Overall harmonic colour chosen by the prompt; the seed picks the exact mode within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mood {
    Dark,
    Neutral,
    Bright,
}

/// Musical parameters derived from a text prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct Style {
    pub(super) bpm: f32,
    pub(super) mood: Mood,
    pub(super) piano: bool,
    pub(super) rain: bool,
    pub(super) lofi: bool,
    pub(super) pulse: bool,
    pub(super) warm: bool,
    pub(super) calm: bool,
    pub(super) ambient: bool,
    pub(super) drone: bool,
}

impl Style {
    pub fn from_prompt(prompt: &str) -> Style {
        let text = prompt.to_lowercase();
        let words: Vec<&str> = text
            .split(|c: char| !(c.is_alphanumeric() || c == '.'))
            .map(|w| w.trim_matches('.'))
            .filter(|w| !w.is_empty())
            .collect();
        let mut s = Style {
            bpm: 0.0,
            mood: Mood::Neutral,
            piano: false,
            rain: false,
            lofi: false,
            pulse: false,
            warm: false,
            calm: false,
            ambient: false,
            drone: false,
        };
        let (mut dark, mut bright, mut beatless, mut bpm) = (0, 0, false, None);
        for (i, &w) in words.iter().enumerate() {
            let prev = if i > 0 { words[i - 1] } else { "" };
            let next = words.get(i + 1).copied().unwrap_or("");
            if let Some(v) = tempo(w, prev, next) {
                bpm = Some(v);
                continue;
            }
            // "no vocals", "no rain", "without drums": a negated word never switches a layer on.
            let on = !matches!(prev, "no" | "without" | "non");
            match w {
                "rain" | "rainy" | "raining" | "drizzle" | "storm" => s.rain |= on,
                "piano" | "keys" | "rhodes" => s.piano |= on,
                "lofi" | "chillhop" => s.lofi |= on,
                "fi" if prev == "lo" => s.lofi = true,
                "dark" | "minor" | "moody" | "night" | "melancholic" | "melancholy" | "sad" => {
                    dark += usize::from(on)
                }
                "bright" | "major" | "happy" | "sunny" | "uplifting" | "morning" | "airy" => {
                    bright += usize::from(on)
                }
                "ambient" | "atmospheric" | "ethereal" => s.ambient |= on,
                "drone" | "drones" | "droning" => s.drone |= on,
                "rhythm" | "rhythmic" | "beat" | "beats" | "pulse" | "groove" | "drums" => {
                    s.pulse |= on;
                    beatless |= !on;
                }
                "warm" | "cozy" | "mellow" => s.warm |= on,
                "calm" | "focus" | "smooth" | "relaxing" | "chill" | "slow" | "study" | "sleep"
                | "peaceful" => s.calm |= on,
                _ => {}
            }
        }
        s.mood = match dark.cmp(&bright) {
            std::cmp::Ordering::Greater => Mood::Dark,
            std::cmp::Ordering::Less => Mood::Bright,
            std::cmp::Ordering::Equal => Mood::Neutral,
        };
        s.pulse = (s.pulse || s.lofi) && !beatless;
        let mut base: f32 = 72.0;
        for (flag, delta) in [
            (s.calm, -3.0),
            (s.ambient || s.drone, -3.0),
            (s.mood == Mood::Dark, -2.0),
            (s.mood == Mood::Bright, 3.0),
            (s.lofi, -1.0),
            (s.pulse, 2.0),
        ] {
            if flag {
                base += delta;
            }
        }
        s.bpm = bpm.unwrap_or(base.clamp(68.0, 76.0));
        s
    }

    /// One short human line for logs, e.g. "modal, 68 BPM, pad+bass+bells+pulse".
    pub fn describe(&self) -> String {
        let mood = match self.mood {
            Mood::Dark => "dark minor",
            Mood::Neutral => "modal",
            Mood::Bright => "bright major",
        };
        let mut layers = vec!["pad", "bass"];
        let flagged = [
            (self.drone, "drone"),
            (self.piano, "piano"),
            (!self.piano, "bells"),
            (self.pulse && !self.lofi, "pulse"),
            (self.pulse && self.lofi, "lofi beat"),
            (self.rain, "rain"),
            (self.lofi, "vinyl"),
        ];
        layers.extend(flagged.iter().filter(|f| f.0).map(|f| f.1));
        format!("{mood}, {:.0} BPM, {}", self.bpm, layers.join("+"))
    }
}

/// A tempo from "84 bpm", "bpm 90" or "90bpm", clamped to a range that still feels calm.
fn tempo(w: &str, prev: &str, next: &str) -> Option<f32> {
    let v = if w == "bpm" {
        number(prev).or_else(|| number(next))
    } else if let Some(n) = w.strip_suffix("bpm") {
        number(n)
    } else {
        w.strip_prefix("bpm").and_then(number)
    }?;
    Some(v.clamp(50.0, 140.0))
}

/// Plain decimal numbers only (`f32::from_str` would also accept "nan"); huge ones saturate.
fn number(w: &str) -> Option<f32> {
    let plain = w.starts_with(|c: char| c.is_ascii_digit())
        && w.chars().all(|c| c.is_ascii_digit() || c == '.');
    if !plain {
        return None;
    }
    w.parse::<f32>().ok().map(|v| v.min(f32::MAX))
}
