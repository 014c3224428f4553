//! Which encoding the player downloads segments in. FLAC by default: lossless and sample-exact in the
//! browser, so the overlap is the very audio heard before. Ogg Opus, about a fifth of FLAC's bytes, when
//! the listener turns on data saver, or when the link is too slow for FLAC to arrive well inside the
//! prefetch lead (which must also cover decoding and a retry).

use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Flac,
    Opus,
}

impl Encoding {
    /// The extension of its segment URLs.
    pub fn extension(self) -> &'static str {
        match self {
            Encoding::Flac => "flac",
            Encoding::Opus => "opus",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Encoding::Flac => "FLAC",
            Encoding::Opus => "Opus",
        }
    }
}

/// What the player has measured of the link.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Link {
    /// Bytes per second of recent downloads, the slowest weighing most; 0 before the first.
    pub throughput: f64,
    /// FLAC bytes per second of music, from the last FLAC segment; 0 before the first.
    pub flac_rate: f64,
}

/// FLAC's bytes per second of music before one has been measured: half of 16-bit stereo at 48 kHz.
const TYPICAL_FLAC_RATE: f64 = 96_000.0;

impl Link {
    /// Takes in a download of `bytes` that took `seconds`, of `music` seconds of audio in `encoding`. A
    /// fast download raises the estimate only gradually: one lucky download must not bring FLAC back.
    pub fn measured(&mut self, bytes: f64, seconds: f64, music: f64, encoding: Encoding) {
        if seconds > 0.0 && bytes > 0.0 {
            let now = bytes / seconds;
            self.throughput = if self.throughput > 0.0 {
                now.min(self.throughput / 0.7)
            } else {
                now
            };
        }
        if encoding == Encoding::Flac && music > 0.0 && bytes > 0.0 {
            self.flac_rate = bytes / music;
        }
    }

    /// Seconds a FLAC segment of `music` seconds would take to download, if anything is known.
    fn flac_seconds(&self, music: f64) -> Option<f64> {
        let rate = if self.flac_rate > 0.0 {
            self.flac_rate
        } else {
            TYPICAL_FLAC_RATE
        };
        (self.throughput > 0.0).then(|| rate * music / self.throughput)
    }
}

/// The encoding of the next download. A FLAC download that would take more than a third of the longest
/// prefetch lead moves to Opus; back to FLAC only once it would take under a sixth, so the choice does not
/// flap on a link near the limit.
pub fn choose(
    data_saver: bool,
    current: Encoding,
    link: &Link,
    segment: f64,
    max_lead: f64,
) -> Encoding {
    if data_saver {
        return Encoding::Opus;
    }
    match (current, link.flac_seconds(segment)) {
        (_, None) => Encoding::Flac,
        (Encoding::Flac, Some(s)) if s > max_lead / 3.0 => Encoding::Opus,
        (Encoding::Opus, Some(s)) if s >= max_lead / 6.0 => Encoding::Opus,
        _ => Encoding::Flac,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(throughput: f64) -> Link {
        Link {
            throughput,
            flac_rate: 100_000.0,
        }
    }

    #[test]
    fn flac_by_default_and_opus_whenever_the_listener_saves_data() {
        assert_eq!(
            choose(false, Encoding::Flac, &Link::default(), 60.0, 20.0),
            Encoding::Flac
        );
        assert_eq!(
            choose(true, Encoding::Flac, &Link::default(), 60.0, 20.0),
            Encoding::Opus
        );
        assert_eq!(
            choose(true, Encoding::Flac, &link(1e9), 60.0, 20.0),
            Encoding::Opus
        );
        assert_eq!(
            choose(false, Encoding::Opus, &link(1e9), 60.0, 20.0),
            Encoding::Flac,
            "data saver off"
        );
    }

    #[test]
    fn a_link_too_slow_for_flac_inside_the_lead_gets_opus_and_gets_flac_back_only_well_inside() {
        // 60 s of FLAC is 6 MB: 1 MB/s takes 6 s, under a third of a 20 s lead.
        assert_eq!(
            choose(false, Encoding::Flac, &link(1e6), 60.0, 20.0),
            Encoding::Flac
        );
        // 0.8 MB/s takes 7.5 s: over the third.
        assert_eq!(
            choose(false, Encoding::Flac, &link(8e5), 60.0, 20.0),
            Encoding::Opus
        );
        // Back at 1 MB/s (6 s, above a sixth): stays on Opus; at 2 MB/s (3 s): FLAC again.
        assert_eq!(
            choose(false, Encoding::Opus, &link(1e6), 60.0, 20.0),
            Encoding::Opus
        );
        assert_eq!(
            choose(false, Encoding::Opus, &link(2e6), 60.0, 20.0),
            Encoding::Flac
        );
    }

    #[test]
    fn the_slowest_download_weighs_most_and_flac_sets_its_own_rate() {
        let mut l = Link::default();
        l.measured(1e6, 1.0, 60.0, Encoding::Opus);
        assert_eq!(l.throughput, 1e6);
        assert_eq!(
            l.flac_rate, 0.0,
            "an Opus download says nothing of FLAC's size"
        );
        l.measured(1e6, 4.0, 60.0, Encoding::Opus);
        assert_eq!(l.throughput, 2.5e5, "a slow download counts at once");
        l.measured(1e7, 1.0, 60.0, Encoding::Flac);
        assert!(
            (l.throughput - 2.5e5 / 0.7).abs() < 1e-6,
            "a fast one only gradually"
        );
        assert!((l.flac_rate - 1e7 / 60.0).abs() < 1e-6);
        l.measured(0.0, 0.0, 60.0, Encoding::Flac);
        assert!(
            (l.flac_rate - 1e7 / 60.0).abs() < 1e-6,
            "nothing measured, nothing changed"
        );
    }
}
