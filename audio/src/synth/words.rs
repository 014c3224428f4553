//! The synthesizer's vocabulary: free text in, what each word asks for out, and an honest account of
//! which words were used and which were not understood.

/// A family of music a listener names by genre or by its lead instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Genre {
    Ambient,
    Piano,
    Lofi,
    Jazz,
    Strings,
    Guitar,
    Downtempo,
    House,
}

/// An instrument asked for by name; it joins whatever the genre brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Instrument {
    Piano,
    Rhodes,
    Guitar,
    Strings,
    Cello,
    Bass,
    Synth,
    Bells,
    Pad,
    Drone,
}

/// A bed of natural or room sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Texture {
    Rain,
    Ocean,
    Forest,
    Fire,
    Wind,
    Cafe,
    Vinyl,
}

/// What one word (or two-word phrase) asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Meaning {
    Genre(Genre),
    Instrument(Instrument),
    Texture(Texture),
    /// Dark (< 0) to bright (> 0).
    Tone(f32),
    /// Calm (< 0) to energetic (> 0).
    Energy(f32),
    /// A beat: drums, rhythm, groove.
    Beat,
    /// Singing: the synthesizer has no voice, so only "no vocals" is honoured.
    Vocals,
    /// Understood and always true here: instrumental music at a steady tempo.
    Honoured,
}

/// Everything a prompt asks for, and the account of it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Request {
    pub(super) genres: Vec<Genre>,
    pub(super) instruments: Vec<Instrument>,
    pub(super) textures: Vec<Texture>,
    pub(super) tone: f32,
    pub(super) energy: f32,
    pub(super) beat: bool,
    pub(super) no_beat: bool,
    pub(super) bpm: Option<f32>,
    pub(super) heard: Vec<String>,
    pub(super) ignored: Vec<String>,
}

/// Lowest and highest tempo a beat is played at; asked-for tempi outside are clamped.
pub(super) const BPM_RANGE: (f32, f32) = (50.0, 180.0);

/// Words that carry no musical request of their own.
const FILLER: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "with",
    "of",
    "for",
    "to",
    "in",
    "on",
    "at",
    "by",
    "some",
    "very",
    "really",
    "bit",
    "lots",
    "more",
    "please",
    "like",
    "style",
    "styled",
    "vibe",
    "vibes",
    "mood",
    "feel",
    "feeling",
    "kind",
    "type",
    "music",
    "song",
    "songs",
    "track",
    "tracks",
    "sound",
    "sounds",
    "playlist",
    "background",
    "mix",
    "little",
    "is",
    "it",
    "my",
    "me",
    "while",
    "i",
    "that",
];

/// Words that only mean something after "no"/"without": they turn a layer off.
const NEGATORS: &[&str] = &["no", "without", "non", "zero", "minus", "not"];

fn meaning(word: &str, prev: &str) -> Option<Meaning> {
    use self::Genre as G;
    use self::Instrument as I;
    use self::Texture as T;
    use Meaning::*;
    Some(match word {
        "ambient" | "atmospheric" | "ethereal" | "space" | "spacey" | "meditation"
        | "meditative" => Genre(G::Ambient),
        "drone" | "drones" | "droning" => Instrument(I::Drone),
        "pad" | "pads" => Instrument(I::Pad),
        "piano" if prev == "electric" => Instrument(I::Rhodes),
        "piano" | "pianos" | "felt" | "keys" => Instrument(I::Piano),
        "solo" | "neoclassical" => Genre(G::Piano),
        "rhodes" | "wurlitzer" | "ep" => Instrument(I::Rhodes),
        "lofi" | "chillhop" | "boombap" => Genre(G::Lofi),
        "fi" if prev == "lo" => Genre(G::Lofi),
        "hop" if prev == "hip" => Genre(G::Lofi),
        "jazz" | "jazzy" | "swing" | "bossa" | "nova" | "bebop" | "noir" => Genre(G::Jazz),
        "strings" | "string" | "orchestral" | "orchestra" | "cinematic" | "classical"
        | "quartet" | "violin" | "violins" | "viola" | "chamber" | "score" | "film" => {
            Instrument(I::Strings)
        }
        "cello" | "cellos" | "contrabass" => Instrument(I::Cello),
        "guitar" | "guitars" | "acoustic" | "fingerpicked" | "fingerpicking" | "fingerstyle"
        | "folk" | "plucked" | "nylon" => Instrument(I::Guitar),
        "bass" | "upright" | "basslines" | "bassline" => Instrument(I::Bass),
        "synth" | "synths" | "synthesizer" | "analog" | "arpeggio" | "arp" | "synthwave" => {
            Instrument(I::Synth)
        }
        "bells" | "bell" | "chimes" | "mallets" | "celesta" | "glockenspiel" | "vibraphone"
        | "marimba" => Instrument(I::Bells),
        "electronic" | "electronica" | "downtempo" | "triphop" | "chillout" | "idm" | "trip" => {
            Genre(G::Downtempo)
        }
        "house" | "techno" | "edm" | "dance" | "trance" | "club" | "disco" | "garage" => {
            Genre(G::House)
        }
        "rain" | "rainy" | "raining" | "drizzle" | "storm" | "stormy" | "thunderstorm" => {
            Texture(T::Rain)
        }
        "ocean" | "sea" | "waves" | "wave" | "beach" | "shore" | "surf" => Texture(T::Ocean),
        "forest" | "birds" | "bird" | "birdsong" | "woods" | "nature" | "garden" => {
            Texture(T::Forest)
        }
        "fire" | "fireplace" | "crackle" | "crackling" | "campfire" => Texture(T::Fire),
        "wind" | "windy" | "breeze" => Texture(T::Wind),
        "cafe" | "café" | "coffee" | "coffeeshop" | "restaurant" | "chatter" | "murmur" => {
            Texture(T::Cafe)
        }
        "shop" if prev == "coffee" => Texture(T::Cafe),
        "vinyl" | "dusty" | "tape" | "cassette" | "record" => Texture(T::Vinyl),
        "dark" | "night" | "moody" | "melancholic" | "melancholy" | "sad" | "minor" | "muffled"
        | "nocturnal" | "midnight" => Tone(-1.0),
        "warm" | "cozy" | "mellow" | "soft" | "gentle" | "hazy" | "deep" => Tone(-0.4),
        "bright" | "sunny" | "morning" | "airy" | "sparkling" | "shimmering" | "crisp"
        | "clear" | "happy" | "major" | "uplifting" | "light" => Tone(1.0),
        "calm" | "relaxing" | "relaxed" | "slow" | "sleep" | "sleepy" | "peaceful" | "quiet"
        | "tranquil" | "serene" | "chill" | "lazy" | "smooth" | "focus" | "study" | "studying"
        | "reading" | "work" | "concentration" | "continuous" | "texture" | "textures" => {
            Energy(-0.5)
        }
        "energetic" | "upbeat" | "driving" | "fast" | "intense" | "lively" | "pumping"
        | "powerful" | "motivating" | "motivation" | "workout" | "running" => Energy(1.0),
        "rhythm" | "rhythmic" | "beat" | "beats" | "drums" | "drum" | "groove" | "groovy"
        | "percussion" | "pulse" | "kick" | "brushes" => Beat,
        "vocals" | "vocal" | "voice" | "voices" | "singing" | "singer" | "lyrics" => Vocals,
        "instrumental" | "stable" | "steady" | "consistent" | "bpm" => Honoured,
        _ => return None,
    })
}

/// Reads a prompt. Never fails: unknown words are listed in `ignored`.
pub(super) fn read(prompt: &str) -> Request {
    let text = prompt.to_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '.'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut r = Request::default();
    let mut used = vec![false; words.len()];
    for (i, &w) in words.iter().enumerate() {
        let prev = if i > 0 { words[i - 1] } else { "" };
        let next = words.get(i + 1).copied().unwrap_or("");
        if let Some(v) = tempo(w, prev, next) {
            r.bpm = Some(v);
            r.heard.push(format!("{} bpm", trim_number(v)));
            used[i] = true;
            // The number beside "bpm" is part of the tempo.
            for j in [i.wrapping_sub(1), i + 1] {
                if words.get(j).and_then(|w| number(w)).is_some() {
                    used[j] = true;
                }
            }
            continue;
        }
        if used[i] {
            continue;
        }
        let negated = NEGATORS.contains(&prev);
        match meaning(w, prev) {
            Some(m) => {
                used[i] = true;
                // "lo fi", "hip hop", "electric piano", "coffee shop": the first word belongs to the phrase.
                let phrase = matches!((prev, w), ("lo", "fi") | ("hip", "hop"))
                    || (prev == "electric" && w == "piano")
                    || (prev == "coffee" && w == "shop");
                if phrase {
                    used[i - 1] = true;
                    // "coffee" said alone a moment ago is now part of "coffee shop".
                    if r.heard.last().is_some_and(|h| h == prev) {
                        r.heard.pop();
                    }
                }
                let said = if phrase {
                    format!("{prev} {w}")
                } else {
                    w.to_string()
                };
                if apply(&mut r, m, negated) {
                    push_once(
                        &mut r.heard,
                        if negated {
                            format!("{prev} {said}")
                        } else {
                            said
                        },
                    );
                } else {
                    push_once(&mut r.ignored, said);
                }
                if negated && i > 0 {
                    used[i - 1] = true;
                }
            }
            None if NEGATORS.contains(&w) || FILLER.contains(&w) => used[i] = true,
            None => {}
        }
    }
    for (i, &w) in words.iter().enumerate() {
        if !used[i] && !NEGATORS.contains(&w) {
            push_once(&mut r.ignored, w.to_string());
        }
    }
    r
}

/// Applies one meaning; false when it cannot be honoured (such as "vocals" asked for, not refused).
fn apply(r: &mut Request, m: Meaning, negated: bool) -> bool {
    match (m, negated) {
        (Meaning::Genre(g), false) => push_once(&mut r.genres, g),
        (Meaning::Instrument(i), false) => push_once(&mut r.instruments, i),
        (Meaning::Texture(t), false) => push_once(&mut r.textures, t),
        (Meaning::Tone(v), false) => r.tone += v,
        (Meaning::Tone(v), true) => r.tone -= 0.5 * v,
        (Meaning::Energy(v), false) => r.energy += v,
        (Meaning::Energy(v), true) => r.energy -= 0.5 * v,
        (Meaning::Beat, false) => r.beat = true,
        (Meaning::Beat, true) => r.no_beat = true,
        // "no vocals" is always true of the synthesizer; vocals wanted cannot be.
        (Meaning::Vocals, negated) => return negated,
        (Meaning::Honoured, _) => {}
        // "no rain" with no rain asked for, "no piano": nothing plays it anyway.
        (Meaning::Genre(_) | Meaning::Instrument(_) | Meaning::Texture(_), true) => {}
    }
    true
}

fn push_once<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// A tempo from "84 bpm", "bpm 90" or "90bpm", clamped to [`BPM_RANGE`].
fn tempo(w: &str, prev: &str, next: &str) -> Option<f32> {
    let v = if w == "bpm" {
        number(prev).or_else(|| number(next))
    } else if let Some(n) = w.strip_suffix("bpm") {
        number(n)
    } else {
        w.strip_prefix("bpm").and_then(number)
    }?;
    Some(v.clamp(BPM_RANGE.0, BPM_RANGE.1))
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

fn trim_number(v: f32) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heard(p: &str) -> (Vec<String>, Vec<String>) {
        let r = read(p);
        (r.heard, r.ignored)
    }

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn says_what_it_used_and_what_it_could_not() {
        assert_eq!(
            heard("rain, piano, 84 bpm and a kazoo"),
            (strings(&["rain", "piano", "84 bpm"]), strings(&["kazoo"]))
        );
        assert_eq!(
            heard("instrumental ambient focus music, smooth continuous texture, no vocals, stable rhythm"),
            (
                strings(&["instrumental", "ambient", "focus", "smooth", "continuous", "texture", "no vocals", "stable", "rhythm"]),
                vec![]
            )
        );
        assert_eq!(
            heard("Lo-Fi hip hop, no drums"),
            (strings(&["lo fi", "hip hop", "no drums"]), vec![])
        );
        assert_eq!(
            heard("electric piano in a coffee shop"),
            (strings(&["electric piano", "coffee shop"]), vec![])
        );
        // It cannot sing, so vocals asked for are not understood; refused, they are honoured.
        assert_eq!(heard("with vocals").1, strings(&["vocals"]));
        assert_eq!(heard("").0.len() + heard("").1.len(), 0);
        assert_eq!(
            heard("didgeridoo didgeridoo 7").1,
            strings(&["didgeridoo", "7"])
        );
    }

    #[test]
    fn reads_tempo_negation_and_phrases() {
        let bpm = |p: &str| read(p).bpm;
        assert_eq!(bpm("84 bpm"), Some(84.0));
        assert_eq!(bpm("bpm 90"), Some(90.0));
        assert_eq!(bpm("90bpm piano"), Some(90.0));
        assert_eq!(bpm("BPM: 100"), Some(100.0));
        assert_eq!(bpm("72.5 bpm"), Some(72.5));
        assert_eq!(
            bpm("99999999999999999999999999999999999999999999 bpm"),
            Some(180.0)
        );
        for odd in ["nan bpm", "bpm", "inf bpm", "1e9bpm", "-5 bpm 5"] {
            assert!(bpm(odd).is_none_or(f32::is_finite), "{odd}");
        }
        let r = read("lofi, no drums, no rain, without piano");
        assert!(r.no_beat && !r.beat && r.textures.is_empty() && r.instruments.is_empty());
        assert_eq!(read("lo fi").genres, vec![Genre::Lofi]);
        assert_eq!(read("hip hop").genres, vec![Genre::Lofi]);
        assert_eq!(read("electric piano").instruments, vec![Instrument::Rhodes]);
        assert_eq!(read("DARK, bright, bright").tone, 1.0);
    }
}
