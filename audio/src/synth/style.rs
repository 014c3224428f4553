//! The arrangement a prompt asks for: which instruments play which roles, the beat, the tempo, the tone.

use super::words::{self, Genre, Instrument, Request, Texture};

/// What plays the chords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Harmony {
    /// Slow, filtered synth pads.
    Pad,
    /// A legato string section that swells into each chord.
    Strings,
    /// Felt piano, the chord broken into a gentle figure.
    Piano,
    /// Electric piano comping on the offbeats.
    Rhodes,
    /// Acoustic piano comping, as in a jazz trio.
    JazzPiano,
    /// A fingerpicked acoustic guitar pattern.
    Guitar,
    /// Short, bright synth chord stabs over a pad.
    Synth,
}

/// What carries the tune.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lead {
    None,
    Bells,
    Piano,
    Rhodes,
    Guitar,
    Cello,
    /// A sixteenth-note synth arpeggio.
    Arp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bass {
    None,
    /// One soft note held under each chord.
    Held,
    /// A plucked upright: roots and fifths, or a walking line under jazz.
    Upright,
    Walking,
    /// A synth bass on the offbeats or the beat.
    Synth,
}

/// The drum kit and its pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kit {
    /// A soft kick and shaker under otherwise beatless music.
    Pulse,
    /// Dusty boom-bap: swung hats, a kick on one and the and of three, a snare on two and four.
    Lofi,
    /// Brushes: swishes on every beat, taps on two and four, a ride pattern.
    Brushes,
    /// A broken kick pattern, a snare on three, shakers.
    Downtempo,
    /// Four on the floor, offbeat open hats, claps on two and four.
    House,
}

/// Musical parameters derived from a text prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct Style {
    pub(super) bpm: f32,
    /// Dark (−1) to bright (+1).
    pub(super) tone: f32,
    /// Calm (−1) to energetic (+1): density of notes and beats.
    pub(super) energy: f32,
    pub(super) harmony: Harmony,
    pub(super) lead: Lead,
    pub(super) bass: Bass,
    pub(super) kit: Option<Kit>,
    pub(super) drone: bool,
    /// A string section under another genre's chords.
    pub(super) strings_bed: bool,
    /// A synth pad under another genre's chords.
    pub(super) pad_bed: bool,
    pub(super) textures: Vec<Texture>,
    /// Share of an eighth note by which offbeats are late.
    pub(super) swing: f64,
    /// Nature or room sounds alone: the music steps back behind them.
    pub(super) textures_first: bool,
    heard: Vec<String>,
    ignored: Vec<String>,
}

impl Style {
    pub fn from_prompt(prompt: &str) -> Style {
        arrange(words::read(prompt))
    }

    /// The prompt's words the synthesizer used ("rain", "no drums", "84 bpm").
    pub fn heard(&self) -> &[String] {
        &self.heard
    }

    /// The prompt's words it could not use.
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    /// One short human line for logs, e.g. "lofi: rhodes chords, piano lead, upright bass, lofi kit, 80 BPM".
    pub fn describe(&self) -> String {
        let kit = self.kit.map_or("no drums".into(), |k| format!("{k:?} kit"));
        format!(
            "{:?} chords, {:?} lead, {:?} bass, {kit}, {:.0} BPM, tone {:+.1}, energy {:+.1}, textures {:?}",
            self.harmony, self.lead, self.bass, self.bpm, self.tone, self.energy, self.textures
        )
        .to_lowercase()
    }
}

/// The genre that leads when a prompt names several: the one with the most rhythm sets the beat.
fn lead_genre(r: &Request) -> Genre {
    let named = r.genres.iter().copied();
    let from_instruments = r.instruments.iter().map(|i| match i {
        Instrument::Strings | Instrument::Cello => Genre::Strings,
        Instrument::Guitar => Genre::Guitar,
        Instrument::Synth => Genre::Downtempo,
        Instrument::Piano | Instrument::Rhodes => Genre::Piano,
        _ => Genre::Ambient,
    });
    let priority = |g: &Genre| match g {
        Genre::House => 7,
        Genre::Downtempo => 6,
        Genre::Jazz => 5,
        Genre::Lofi => 4,
        Genre::Strings => 3,
        Genre::Guitar => 2,
        Genre::Piano => 1,
        Genre::Ambient => 0,
    };
    // A named genre beats one implied by an instrument ("jazz piano" is jazz).
    named
        .max_by_key(priority)
        .or_else(|| from_instruments.max_by_key(priority))
        .unwrap_or(Genre::Ambient)
}

/// (chords, lead, bass, kit played by default, kit if a beat is asked for, tempo, swing)
fn defaults(g: Genre) -> (Harmony, Lead, Bass, Option<Kit>, Kit, f32, f64) {
    match g {
        Genre::Ambient => (
            Harmony::Pad,
            Lead::Bells,
            Bass::Held,
            None,
            Kit::Pulse,
            70.0,
            0.0,
        ),
        Genre::Piano => (
            Harmony::Piano,
            Lead::Piano,
            Bass::None,
            None,
            Kit::Pulse,
            72.0,
            0.0,
        ),
        Genre::Lofi => {
            let kit = Some(Kit::Lofi);
            (
                Harmony::Rhodes,
                Lead::Piano,
                Bass::Upright,
                kit,
                Kit::Lofi,
                80.0,
                0.17,
            )
        }
        Genre::Jazz => {
            let kit = Some(Kit::Brushes);
            (
                Harmony::JazzPiano,
                Lead::Piano,
                Bass::Walking,
                kit,
                Kit::Brushes,
                96.0,
                0.2,
            )
        }
        Genre::Strings => (
            Harmony::Strings,
            Lead::Cello,
            Bass::Held,
            None,
            Kit::Pulse,
            66.0,
            0.0,
        ),
        Genre::Guitar => (
            Harmony::Guitar,
            Lead::None,
            Bass::Held,
            None,
            Kit::Pulse,
            84.0,
            0.0,
        ),
        Genre::Downtempo => {
            let kit = Some(Kit::Downtempo);
            (
                Harmony::Rhodes,
                Lead::Arp,
                Bass::Synth,
                kit,
                Kit::Downtempo,
                94.0,
                0.08,
            )
        }
        Genre::House => {
            let kit = Some(Kit::House);
            (
                Harmony::Synth,
                Lead::Arp,
                Bass::Synth,
                kit,
                Kit::House,
                122.0,
                0.0,
            )
        }
    }
}

/// The arrangement for a request: the leading genre's band, changed by the instruments named.
fn arrange(r: Request) -> Style {
    let genre = lead_genre(&r);
    let (mut harmony, mut lead, mut bass, kit, asked_kit, bpm, swing) = defaults(genre);
    let energy = r.energy.clamp(-1.0, 1.0);
    let mut strings_bed = false;
    // Downtempo lays its electric piano over a pad.
    let mut pad_bed = genre == Genre::Downtempo;
    let mut drone = false;
    for &i in &r.instruments {
        match i {
            Instrument::Piano if matches!(harmony, Harmony::Rhodes | Harmony::JazzPiano) => {
                lead = Lead::Piano
            }
            Instrument::Piano if matches!(harmony, Harmony::Pad | Harmony::Strings) => {
                lead = Lead::Piano
            }
            Instrument::Piano => {}
            Instrument::Rhodes => {
                harmony = Harmony::Rhodes;
                lead = Lead::Rhodes;
            }
            Instrument::Guitar if harmony == Harmony::Guitar => {}
            Instrument::Guitar => lead = Lead::Guitar,
            Instrument::Strings if harmony == Harmony::Strings => {}
            Instrument::Strings => strings_bed = true,
            Instrument::Cello => lead = Lead::Cello,
            Instrument::Bass if bass != Bass::Walking => bass = Bass::Upright,
            Instrument::Bass => {}
            // "synth" alone, or over ambient pads, plays synth chords; beside a named genre, an arpeggio.
            Instrument::Synth if harmony == Harmony::Pad || !r.genres.contains(&genre) => {
                harmony = Harmony::Synth
            }
            Instrument::Synth => lead = Lead::Arp,
            Instrument::Bells => lead = Lead::Bells,
            Instrument::Pad => pad_bed = harmony != Harmony::Pad,
            Instrument::Drone => drone = true,
        }
    }
    // Drums play where the genre has them, or where asked for (or implied by "energetic"), never after "no drums".
    let wanted = r.beat || (energy >= 1.0 && kit.is_none());
    let kit = if r.no_beat {
        None
    } else {
        kit.or(wanted.then_some(asked_kit))
    };
    // Without drums a plucked or pulsing bass would beat time on its own; it holds instead, unless
    // the bass was asked for by name.
    let named_bass = r.instruments.contains(&Instrument::Bass);
    if kit.is_none() && matches!(bass, Bass::Synth | Bass::Upright | Bass::Walking) && !named_bass {
        bass = Bass::Held;
    }
    let mut textures = r.textures;
    if genre == Genre::Lofi && !textures.contains(&Texture::Vinyl) {
        textures.push(Texture::Vinyl);
    }
    let textures_first = r.genres.is_empty() && r.instruments.is_empty() && !textures.is_empty();
    // Nature alone keeps the music light: pads and a few bells, no bass under the sea or the rain.
    if textures_first {
        bass = Bass::None;
    }
    let scaled = bpm * (1.0 + 0.1 * energy);
    Style {
        bpm: r
            .bpm
            .unwrap_or(scaled)
            .clamp(words::BPM_RANGE.0, words::BPM_RANGE.1),
        tone: r.tone.clamp(-1.0, 1.0),
        energy,
        harmony,
        lead,
        bass,
        kit,
        drone,
        strings_bed,
        pad_bed,
        textures,
        swing,
        textures_first,
        heard: r.heard,
        ignored: r.ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str =
        "instrumental ambient focus music, smooth continuous texture, no vocals, stable rhythm";

    #[test]
    fn each_genre_brings_its_band() {
        let s = Style::from_prompt("lofi hip hop");
        assert_eq!(
            (s.harmony, s.bass, s.kit),
            (Harmony::Rhodes, Bass::Upright, Some(Kit::Lofi))
        );
        assert!(s.textures.contains(&Texture::Vinyl) && s.swing > 0.1);
        let s = Style::from_prompt("jazz");
        assert_eq!((s.bass, s.kit), (Bass::Walking, Some(Kit::Brushes)));
        let s = Style::from_prompt("classical string quartet");
        assert_eq!(
            (s.harmony, s.lead, s.kit),
            (Harmony::Strings, Lead::Cello, None)
        );
        let s = Style::from_prompt("fingerpicked acoustic guitar");
        assert_eq!((s.harmony, s.kit), (Harmony::Guitar, None));
        let s = Style::from_prompt("deep house");
        assert_eq!(
            (s.harmony, s.lead, s.bass, s.kit),
            (Harmony::Synth, Lead::Arp, Bass::Synth, Some(Kit::House))
        );
        assert!((118.0..=126.0).contains(&s.bpm));
        let s = Style::from_prompt("piano");
        assert_eq!(
            (s.harmony, s.lead, s.kit),
            (Harmony::Piano, Lead::Piano, None)
        );
        let s = Style::from_prompt(DEFAULT);
        assert_eq!(
            (s.harmony, s.lead, s.kit),
            (Harmony::Pad, Lead::Bells, Some(Kit::Pulse))
        );
        assert!(s.energy < 0.0 && s.tone == 0.0);
    }

    #[test]
    fn words_combine() {
        let s = Style::from_prompt("rainy night jazz piano");
        assert_eq!(
            (s.harmony, s.lead, s.kit),
            (Harmony::JazzPiano, Lead::Piano, Some(Kit::Brushes))
        );
        assert!(s.textures.contains(&Texture::Rain) && s.tone < 0.0);
        let s = Style::from_prompt("jazz rhodes");
        assert_eq!((s.harmony, s.lead), (Harmony::Rhodes, Lead::Rhodes));
        let s = Style::from_prompt("lofi with strings and rain");
        assert!(s.strings_bed && s.kit == Some(Kit::Lofi) && s.textures.contains(&Texture::Rain));
        let s = Style::from_prompt("ambient guitar with birds");
        assert_eq!(s.lead, Lead::Guitar);
        assert!(s.textures.contains(&Texture::Forest));
        let s = Style::from_prompt("ocean waves");
        assert!(s.textures_first && s.kit.is_none());
    }

    #[test]
    fn drums_follow_the_prompt() {
        assert_eq!(Style::from_prompt("lofi no drums").kit, None);
        assert_eq!(Style::from_prompt("house music without beat").kit, None);
        // A bass that would beat time holds instead, unless asked for.
        assert_eq!(Style::from_prompt("jazz, no drums").bass, Bass::Held);
        assert_eq!(
            Style::from_prompt("jazz, upright bass, no drums").bass,
            Bass::Walking
        );
        assert_eq!(
            Style::from_prompt("piano with a beat").kit,
            Some(Kit::Pulse)
        );
        assert_eq!(
            Style::from_prompt("energetic ambient").kit,
            Some(Kit::Pulse)
        );
        assert_eq!(Style::from_prompt("calm ambient").kit, None);
    }

    #[test]
    fn tempo_and_energy() {
        let bpm = |p: &str| Style::from_prompt(p).bpm;
        assert_eq!(bpm("lofi 84 bpm"), 84.0);
        assert_eq!(bpm("techno 300 bpm"), 180.0);
        assert_eq!(bpm("10bpm"), 50.0);
        assert!(bpm("energetic house") > bpm("calm house") + 15.0);
        assert!(bpm("energetic lofi") > bpm("lofi"));
        let e = |p: &str| Style::from_prompt(p).energy;
        assert!(e("calm") < 0.0 && e("energetic") > 0.0 && e("not energetic") < 0.0);
        let t = |p: &str| Style::from_prompt(p).tone;
        assert!(t("dark") < 0.0 && t("bright") > 0.0 && t("warm") < 0.0 && t("piano") == 0.0);
    }

    #[test]
    fn describe_names_the_band() {
        let d = Style::from_prompt("dark lofi piano rain 60 bpm").describe();
        assert!(
            d.contains("60 bpm") && d.contains("lofi kit") && d.contains("rain"),
            "{d}"
        );
    }
}
