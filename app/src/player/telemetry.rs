//! Read-only playback figures, on `window.tsuzukiTelemetry` for tests and curious listeners.

use serde::Serialize;

use super::encoding::Encoding;
use super::plan::{Kind, Schedule};
use super::timeline::{Blend, Entry};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Telemetry {
    /// Segments scheduled for playback.
    pub segments_played: u64,
    /// Crossfades from one segment to the next.
    pub switches: u64,
    /// Times the next segment was late and the music was held.
    pub holds: u64,
    /// Replies or downloads ignored because they were older than what the player had.
    pub stale_discarded: u64,
    /// Streams restarted because the server began a new session.
    pub restarts: u64,
    /// Current prefetch lead, seconds.
    pub lead: f64,
    /// Latency of the last download, seconds.
    pub last_latency: f64,
    /// Decoded segments currently referenced by the player.
    pub decoded_alive: u64,
    /// The segment now audible.
    pub segment: Option<u64>,
    /// The encoding of the last segment downloaded.
    pub format: Option<Encoding>,
    /// Its bytes per minute of music.
    pub bytes_per_minute: f64,
    /// Every byte of segments received, and how often a broken download resumed where it stopped.
    pub bytes_received: u64,
    pub resumes: u64,
    pub session_id: Option<String>,
    /// The most recent crossfades on the audio clock, oldest first.
    pub crossfades: Vec<Crossfade>,
}

/// One crossfade into `index` (a hold when the segment crossfades into itself).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Crossfade {
    pub index: u64,
    pub hold: bool,
    /// Crossfaded as different music (equal power), not as the same music in step.
    pub equal_power: bool,
    /// Into the first segment of a new session (the server restarted the stream).
    pub restart: bool,
    pub start: f64,
    pub end: f64,
}

/// How many crossfades the telemetry remembers.
const REMEMBERED: usize = 64;

impl Telemetry {
    /// Counts a segment received: `bytes` in `encoding` for `music` seconds, after `resumes` breaks.
    pub fn received(&mut self, encoding: Encoding, bytes: u32, music: f64, resumes: u32) {
        self.format = Some(encoding);
        self.bytes_per_minute = f64::from(bytes) * 60.0 / music.max(1e-9);
        self.bytes_received += u64::from(bytes);
        self.resumes += u64::from(resumes);
    }

    pub fn record(&mut self, crossfade: Crossfade) {
        if self.crossfades.len() == REMEMBERED {
            self.crossfades.remove(0);
        }
        self.crossfades.push(crossfade);
    }

    /// Counts a voice put on the graph: a segment played, a switch or a hold, and its crossfade.
    pub fn count(&mut self, schedule: &Schedule) {
        let at = schedule.placement.fade_in;
        if let Entry::Crossfade(seconds, blend) = schedule.entry {
            self.record(Crossfade {
                index: schedule.index,
                hold: schedule.hold(),
                equal_power: matches!(blend, Blend::Uncorrelated(_)),
                restart: schedule.kind == Kind::Start,
                start: at,
                end: at + seconds,
            });
        }
        match schedule.kind {
            Kind::Start => self.segments_played += 1,
            Kind::Next => {
                self.segments_played += 1;
                self.switches += 1;
            }
            Kind::Hold => self.holds += 1,
        }
    }
}

impl Telemetry {
    /// Publishes the figures on `window.tsuzukiTelemetry`.
    pub fn publish(&self) {
        let (Some(window), Ok(json)) = (web_sys::window(), serde_json::to_string(self)) else {
            return;
        };
        if let Ok(value) = js_sys::JSON::parse(&json) {
            let _ = js_sys::Reflect::set(&window, &"tsuzukiTelemetry".into(), &value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::player::timeline::{Blend, Timeline};

    #[test]
    fn switches_and_holds_are_counted_with_their_crossfades() {
        let t = Timeline::new(60.0, 15.0, 4.0);
        let first = t.first(0.0);
        let mut telemetry = Telemetry::default();
        let schedule = |kind, index, placement, entry| Schedule {
            kind,
            index,
            placement,
            entry,
        };
        telemetry.count(&schedule(Kind::Start, 0, first, Entry::Quick));
        let crossfade = Entry::Crossfade(4.0, Blend::Correlated);
        telemetry.count(&schedule(Kind::Next, 1, t.next(&first), crossfade));
        telemetry.count(&schedule(Kind::Hold, 1, t.hold(&first), crossfade));
        telemetry.count(&schedule(Kind::Start, 0, t.first(90.0), crossfade));
        assert_eq!(
            (
                telemetry.segments_played,
                telemetry.switches,
                telemetry.holds
            ),
            (3, 1, 1)
        );
        let heard: Vec<(u64, bool, bool, f64)> = telemetry
            .crossfades
            .iter()
            .map(|c| (c.index, c.hold, c.restart, c.end - c.start))
            .collect();
        assert_eq!(
            heard,
            [
                (1, false, false, 4.0),
                (1, true, false, 4.0),
                (0, false, true, 4.0)
            ]
        );
    }

    #[test]
    fn received_segments_give_the_format_and_bytes_per_minute() {
        let mut telemetry = Telemetry::default();
        telemetry.received(Encoding::Flac, 3_000_000, 30.0, 0);
        telemetry.received(Encoding::Opus, 480_000, 30.0, 2);
        assert_eq!(telemetry.format, Some(Encoding::Opus));
        assert_eq!(telemetry.bytes_per_minute, 960_000.0);
        assert_eq!(
            (telemetry.bytes_received, telemetry.resumes),
            (3_480_000, 2)
        );
    }

    #[test]
    fn only_the_most_recent_crossfades_are_remembered() {
        let mut telemetry = Telemetry::default();
        for index in 0..100 {
            telemetry.record(Crossfade {
                index,
                ..Crossfade::default()
            });
        }
        assert_eq!(telemetry.crossfades.len(), REMEMBERED);
        assert_eq!(telemetry.crossfades.first().map(|c| c.index), Some(36));
    }
}
