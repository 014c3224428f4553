//! The session timer as pure decisions: how long the music plays, when its breaks soften it, where the
//! chimes ring, and how it fades out. The player turns them into automation on the audio clock
//! (`player::timer_nodes`), so breaks and the ending keep time even when the browser throttles a
//! background tab's timers.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

/// The listener's timer: a session length, optional breaks, and whether it is a sleep timer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Session length, minutes.
    pub minutes: f64,
    /// Pomodoro breaks: so many minutes of focus, then so many of rest, over and over.
    pub breaks: Option<Breaks>,
    /// A sleep timer: the music fades out over its last five minutes instead of its last thirty seconds.
    pub sleep: bool,
}

/// Minutes of focus, then minutes of rest.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Breaks {
    pub focus: f64,
    pub rest: f64,
}

/// The classic Pomodoro, and its longer form for deep work.
pub const POMODORO: Breaks = Breaks {
    focus: 25.0,
    rest: 5.0,
};
pub const LONG_BREAKS: Breaks = Breaks {
    focus: 50.0,
    rest: 10.0,
};

/// Session lengths offered in one click, minutes.
pub const LENGTHS: [f64; 3] = [25.0, 50.0, 90.0];

/// What a stored or typed plan may hold, minutes: up to a day; parts of a minute only below the UI's
/// own inputs (a stored plan may be short, which the end-to-end tests use).
pub const MINUTES: RangeInclusive<f64> = 0.5..=1440.0;
const FOCUS: RangeInclusive<f64> = 0.25..=240.0;
const REST: RangeInclusive<f64> = 0.25..=60.0;

/// The fade at the end, seconds, and a sleep timer's; never more than a third of the session.
const FADE: f64 = 30.0;
const SLEEP_FADE: f64 = 300.0;
/// The music's gain through a break: 12 dB softer, a step back rather than a stop.
pub const REST_GAIN: f32 = 0.25;
/// How long the music takes to soften into a break, and to come back from it, seconds.
pub const REST_RAMP: f64 = 4.0;
/// The ending fade goes evenly in decibels down to this level, then to silence.
const FADE_FLOOR_DB: f64 = -50.0;

impl Plan {
    /// A plan as stored (JSON); anything unreadable or out of range is no plan.
    pub fn parse(text: &str) -> Option<Plan> {
        serde_json::from_str::<Plan>(text).ok().filter(Plan::valid)
    }

    pub fn valid(&self) -> bool {
        MINUTES.contains(&self.minutes)
            && self
                .breaks
                .is_none_or(|b| FOCUS.contains(&b.focus) && REST.contains(&b.rest))
    }

    /// The session's length, seconds.
    pub fn seconds(&self) -> f64 {
        self.minutes * 60.0
    }

    /// How long the ending fade lasts, seconds.
    pub fn fade(&self) -> f64 {
        let fade = if self.sleep { SLEEP_FADE } else { FADE };
        fade.min(self.seconds() / 3.0)
    }

    fn fade_start(&self) -> f64 {
        self.seconds() - self.fade()
    }

    /// Every break as (start, end), seconds from the session's start. A break that would reach into the
    /// ending fade is left out: the session ends instead.
    pub fn rests(&self) -> Vec<(f64, f64)> {
        let Some(b) = self.breaks else {
            return Vec::new();
        };
        let (focus, rest) = (b.focus * 60.0, b.rest * 60.0);
        (1..)
            .map(|k| {
                let start = k as f64 * focus + (k - 1) as f64 * rest;
                (start, start + rest)
            })
            .take_while(|&(_, end)| end <= self.fade_start())
            .collect()
    }

    /// When the chimes ring, seconds from the start: as each break begins and as it ends.
    pub fn chimes(&self) -> Vec<f64> {
        self.rests().into_iter().flat_map(|(a, b)| [a, b]).collect()
    }

    /// Where the session stands `elapsed` seconds after it began.
    pub fn read(&self, elapsed: f64) -> Reading {
        let left = (self.seconds() - elapsed).max(0.0);
        let rests = self.rests();
        let (phase, until) = if left <= 0.0 {
            (Phase::Ended, elapsed)
        } else if elapsed >= self.fade_start() {
            (Phase::Fading, self.seconds())
        } else if let Some(&(_, end)) = rests.iter().find(|(a, b)| (*a..*b).contains(&elapsed)) {
            (Phase::Rest, end)
        } else {
            let next = rests.iter().map(|&(a, _)| a).find(|&a| a > elapsed);
            match next {
                Some(a) => (Phase::Focus { break_in: true }, a),
                None => (Phase::Focus { break_in: false }, self.fade_start()),
            }
        };
        Reading {
            phase,
            left,
            phase_left: (until - elapsed).max(0.0),
        }
    }

    /// The plan in a few words, for a mood's description.
    pub fn summary(&self) -> String {
        let mut words = format!("{} min", self.minutes);
        if let Some(b) = self.breaks {
            words += &format!(", breaks {} + {}", b.focus, b.rest);
        }
        if self.sleep {
            words += ", sleep";
        }
        words
    }
}

/// What the session is doing now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Phase {
    /// Music at full level; `break_in` when a break comes before the end.
    Focus {
        break_in: bool,
    },
    Rest,
    Fading,
    Ended,
}

/// The timer read at one moment: the phase, the time left in all, and in this phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    pub phase: Phase,
    pub left: f64,
    pub phase_left: f64,
}

impl Reading {
    /// The reading as the page shows it, calmly.
    pub fn words(&self) -> String {
        let left = clock(self.left);
        match self.phase {
            Phase::Focus { break_in: true } => {
                format!("{left} left · break in {}", clock(self.phase_left))
            }
            Phase::Focus { break_in: false } => format!("{left} left"),
            Phase::Rest => format!("Break, {} more · {left} left", clock(self.phase_left)),
            Phase::Fading => format!("Fading out · {left}"),
            Phase::Ended => "Time is up".to_string(),
        }
    }
}

/// Seconds as a clock ("4:05", "1:02:03"), rounded up so "0:00" shows only at the very end.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).ceil() as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The ending fade's gains over `points` points: evenly in decibels from full level to the floor, so it
/// sounds like a steady fade rather than a sudden drop at the end, then silence.
pub fn fade_curve(points: usize) -> Vec<f32> {
    let steps = points.max(3) - 2;
    (0..=steps)
        .map(|i| 10f64.powf(FADE_FLOOR_DB * i as f64 / steps as f64 / 20.0) as f32)
        .chain([0.0])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: Plan = Plan {
        minutes: 100.0,
        breaks: Some(POMODORO),
        sleep: false,
    };

    #[test]
    fn breaks_repeat_until_the_ending_fade_and_never_reach_into_it() {
        assert_eq!(
            PLAN.rests(),
            vec![(1500.0, 1800.0), (3300.0, 3600.0), (5100.0, 5400.0)]
        );
        // A 90-minute session's third break would end as the session does: left out.
        let ninety = Plan {
            minutes: 90.0,
            ..PLAN
        };
        assert_eq!(ninety.rests().len(), 2);
        assert_eq!(
            ninety.chimes(),
            vec![1500.0, 1800.0, 3300.0, 3600.0],
            "a chime as each break begins and ends"
        );
        let none = Plan {
            breaks: None,
            ..PLAN
        };
        assert!(none.rests().is_empty() && none.chimes().is_empty());
    }

    #[test]
    fn the_ending_fades_for_thirty_seconds_a_sleep_timer_for_five_minutes_never_over_a_third() {
        assert_eq!(PLAN.fade(), 30.0);
        assert_eq!(
            Plan {
                sleep: true,
                ..PLAN
            }
            .fade(),
            300.0
        );
        let minute = Plan {
            minutes: 1.0,
            breaks: None,
            sleep: true,
        };
        assert_eq!(minute.fade(), 20.0);
    }

    #[test]
    fn the_reading_follows_focus_break_fade_and_end() {
        let at = |t| PLAN.read(t);
        assert_eq!(at(0.0).phase, Phase::Focus { break_in: true });
        assert_eq!(at(0.0).phase_left, 1500.0);
        assert_eq!(at(1500.0).phase, Phase::Rest);
        assert_eq!(at(1700.0).phase_left, 100.0);
        assert_eq!(at(1800.0).phase, Phase::Focus { break_in: true });
        assert_eq!(at(5400.0).phase, Phase::Focus { break_in: false });
        assert_eq!(at(5990.0).phase, Phase::Fading);
        assert_eq!(at(6000.0).phase, Phase::Ended);
        assert_eq!(at(7000.0).left, 0.0);
    }

    #[test]
    fn the_time_left_reads_calmly() {
        assert_eq!(PLAN.read(0.0).words(), "1:40:00 left · break in 25:00");
        assert_eq!(PLAN.read(1600.4).words(), "Break, 3:20 more · 1:13:20 left");
        assert_eq!(PLAN.read(5500.0).words(), "8:20 left");
        assert_eq!(PLAN.read(5985.0).words(), "Fading out · 0:15");
        assert_eq!(PLAN.read(6000.0).words(), "Time is up");
        assert_eq!(clock(59.2), "1:00");
        assert_eq!(clock(0.0), "0:00");
    }

    #[test]
    fn only_plans_within_range_are_read_from_storage() {
        let stored = r#"{"minutes":1,"breaks":{"focus":0.25,"rest":0.25},"sleep":false}"#;
        let plan = Plan::parse(stored).unwrap();
        assert_eq!(plan.rests(), vec![(15.0, 30.0)]);
        assert_eq!(plan.chimes(), vec![15.0, 30.0]);
        for bad in [
            r#"{"minutes":0,"breaks":null,"sleep":false}"#,
            r#"{"minutes":2000,"breaks":null,"sleep":false}"#,
            r#"{"minutes":50,"breaks":{"focus":0,"rest":5},"sleep":false}"#,
            r#"{"minutes":"NaN","breaks":null,"sleep":false}"#,
            "null",
            "",
        ] {
            assert_eq!(Plan::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_ending_fade_falls_evenly_in_decibels_then_to_silence() {
        let curve = fade_curve(52);
        assert_eq!(curve.len(), 52);
        assert_eq!(curve[0], 1.0);
        assert_eq!(*curve.last().unwrap(), 0.0);
        let db: Vec<f64> = curve[..51]
            .iter()
            .map(|&g| 20.0 * f64::from(g).log10())
            .collect();
        for pair in db.windows(2) {
            assert!((pair[0] - pair[1] - 1.0).abs() < 1e-3, "{pair:?}");
        }
        assert!((db[50] - FADE_FLOOR_DB).abs() < 1e-3);
    }

    #[test]
    fn a_summary_names_length_breaks_and_sleep() {
        assert_eq!(PLAN.summary(), "100 min, breaks 25 + 5");
        let sleep = Plan {
            minutes: 45.0,
            breaks: None,
            sleep: true,
        };
        assert_eq!(sleep.summary(), "45 min, sleep");
    }
}
