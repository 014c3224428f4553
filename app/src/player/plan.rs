//! What the player does on one tick, decided from what it knows: whether to fetch the next segment, what
//! to schedule (the next segment just before its crossfade, or a hold when it is late), which voices have
//! finished, and what the page shows. Pure and tested natively; `stream` carries the plan out.

use crate::view::{Frame, PlayerState, Stage, Upcoming, VoiceView};

use super::lookahead::Lookahead;
use super::timeline::{Blend, Decision, Entry, Placement, Timeline};

/// Scheduling decisions are made this far ahead of each crossfade, in seconds.
const DECIDE_MARGIN: f64 = 1.5;
/// Nothing is scheduled sooner than this after the audio clock's present, so no voice or gain curve
/// starts in the past, however late a tick comes.
const AHEAD: f64 = 0.15;

/// What the player knows at a tick.
#[derive(Clone, Debug)]
pub struct State<'a> {
    pub timeline: Timeline,
    pub lookahead: Lookahead,
    /// The slowest recent download, seconds.
    pub latency: f64,
    /// The voices on the audio graph, oldest first.
    pub voices: &'a [VoiceView],
    /// The segment downloaded and decoded, waiting to be scheduled.
    pub pending: Option<u64>,
    /// How the pending segment crossfades in: as the same music (the server's `X-Join-Correlated`), or
    /// as different music sharing `X-Join-Correlation` with its predecessor.
    pub pending_blend: Blend,
    pub downloading: Option<u64>,
    /// The latest segment the server offers.
    pub latest: Option<u64>,
    /// The server started a new session: its first segment crossfades in at once.
    pub fresh: bool,
    /// No download starts before this page time (ms): a failed one waits a little.
    pub retry_at: f64,
    pub shown: Shown,
}

/// What the page shows now, as far as the plan depends on it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shown {
    pub state: PlayerState,
    pub applies_from: Option<u64>,
    /// The segment downloading and how far along (0..1).
    pub download: Option<(u64, f64)>,
    pub generating: Option<u64>,
    pub progress: f32,
}

/// What to do on this tick.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Start downloading this segment.
    pub fetch: Option<u64>,
    pub schedule: Option<Schedule>,
    /// How many of the oldest voices have finished: release them (the newest always stays).
    pub release: usize,
    /// The badge's state; `None` leaves it (an error stays until the listener acts).
    pub state: Option<PlayerState>,
    /// The segment audible now, if any.
    pub audible: Option<u64>,
    /// The new mood is audible: the note saying when it applies goes.
    pub mood_applied: bool,
    /// Decoded segments still referenced (telemetry).
    pub decoded_alive: u64,
    /// The prefetch lead in force, seconds (telemetry).
    pub lead: f64,
    /// The picture for the visual timeline, after this plan.
    pub frame: Frame,
}

/// A voice to put on the audio graph.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub kind: Kind,
    pub index: u64,
    pub placement: Placement,
    pub entry: Entry,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The first segment, or the first of a new session: every voice still sounding fades out.
    Start,
    /// The next segment, crossfading from the last voice.
    Next,
    /// The last voice again, crossfading into itself, because the next segment is late.
    Hold,
}

impl Schedule {
    pub fn hold(&self) -> bool {
        self.kind == Kind::Hold
    }

    /// Of `voices` voices already on the graph, the first that fades out as this one comes in (of those,
    /// only voices still sounding at the crossfade: see [`Placement::faded_out`]).
    pub fn fades_from(&self, voices: usize) -> usize {
        match self.kind {
            Kind::Start => 0,
            Kind::Next | Kind::Hold => voices.saturating_sub(1),
        }
    }
}

/// The segment to get next: the successor of the last voice (index `last`); when starting, one already downloaded (newer
/// ones appear while it downloads, and chasing the latest on a slow network would never start), else the
/// latest.
pub fn wanted(
    last: Option<u64>,
    fresh: bool,
    pending: Option<u64>,
    latest: Option<u64>,
) -> Option<u64> {
    match last {
        Some(last) if !fresh => Some(last.saturating_add(1)),
        _ => pending.or(latest),
    }
}

/// Decides the tick at audio time `now` and page time `page_ms`.
pub fn plan(state: &State<'_>, now: f64, page_ms: f64) -> Plan {
    let wanted = wanted(
        state.voices.last().map(|v| v.index),
        state.fresh,
        state.pending,
        state.latest,
    );
    let ready = wanted.is_some() && state.pending == wanted;
    let fetch = wanted.filter(|&w| !ready && may_fetch(state, w, now, page_ms));
    let schedule = schedule(state, wanted, ready, now);

    // The voices as they will be: the old ones cut short by their fade-out, the new one added.
    let mut voices = state.voices.to_vec();
    if let Some(s) = schedule {
        if let Entry::Crossfade(seconds, _) = s.entry {
            let from = s.fades_from(voices.len());
            for old in voices.iter_mut().skip(from) {
                old.placement.faded_out(s.placement.fade_in, seconds);
            }
        }
        voices.push(VoiceView {
            index: s.index,
            hold: s.hold(),
            placement: s.placement,
        });
    }
    let newest = voices.len().saturating_sub(1);
    let release = voices
        .iter()
        .take(newest)
        .take_while(|v| v.placement.end < now)
        .count();
    voices.drain(..release);

    let audible = voices
        .iter()
        .rev()
        .find(|v| v.placement.fade_in <= now)
        .map(|v| v.index);
    let downloading = state.downloading.or(fetch);
    let badge = match (audible, downloading) {
        (Some(_), _) => PlayerState::Playing,
        (None, Some(_)) => PlayerState::Downloading,
        (None, None) => PlayerState::Generating,
    };
    let pending = match schedule {
        Some(Schedule {
            kind: Kind::Start | Kind::Next,
            ..
        }) => None,
        _ => state.pending,
    };
    let fresh = state.fresh && !schedule.is_some_and(|s| s.kind == Kind::Start);
    let mut alive: Vec<u64> = voices.iter().map(|v| v.index).chain(pending).collect();
    alive.dedup();
    let upcoming = voices
        .last()
        .filter(|_| !fresh)
        .and_then(|last| upcoming(state, last, pending));
    Plan {
        fetch,
        schedule,
        release,
        state: (state.shown.state != PlayerState::Error).then_some(badge),
        audible,
        mood_applied: matches!(
            (state.shown.applies_from, audible),
            (Some(from), Some(playing)) if playing >= from
        ),
        decoded_alive: alive.len() as u64,
        lead: state.lookahead.lead(state.latency),
        frame: Frame {
            now,
            segment: state.timeline.segment,
            overlap: state.timeline.overlap,
            voices,
            upcoming,
        },
    }
}

/// Whether to start downloading `wanted`: the server has it, nothing else is downloading, no failure is
/// being waited out, and the playing segment has no more than the prefetch lead left.
fn may_fetch(state: &State<'_>, wanted: u64, now: f64, page_ms: f64) -> bool {
    let remaining = state
        .voices
        .last()
        .map_or(0.0, |v| v.placement.fade_out - now);
    state.latest.is_some_and(|latest| wanted <= latest)
        && state.downloading.is_none()
        && page_ms >= state.retry_at
        && (state.voices.is_empty()
            || state.fresh
            || state.lookahead.should_fetch(remaining, state.latency))
}

/// The first segment at once; later ones (or holds) just before each crossfade.
fn schedule(state: &State<'_>, wanted: Option<u64>, ready: bool, now: f64) -> Option<Schedule> {
    let t = &state.timeline;
    match state.voices.last() {
        Some(last) if !state.fresh => match t.decide(&last.placement, now, ready, DECIDE_MARGIN) {
            Decision::Wait => None,
            // A segment that continues the same music in step: amplitudes sum to one. One the model
            // changed, or new music after a change of generator: powers sum to one.
            Decision::Next => wanted.map(|index| {
                let (placement, seconds) = handover(t, t.next(&last.placement), last, now);
                Schedule {
                    kind: Kind::Next,
                    index,
                    placement,
                    entry: Entry::Crossfade(seconds, state.pending_blend),
                }
            }),
            // A hold jumps back in the music: powers sum to one.
            Decision::Hold => {
                let (placement, seconds) = handover(t, t.hold(&last.placement), last, now);
                Some(Schedule {
                    kind: Kind::Hold,
                    index: last.index,
                    placement,
                    entry: Entry::Crossfade(seconds, Blend::Uncorrelated(0.0)),
                })
            }
        },
        _ => wanted.filter(|_| ready).map(|index| Schedule {
            kind: Kind::Start,
            index,
            placement: t.first(restart_at(state.voices, now)),
            // Into a new session the music changes, so that crossfade keeps power, not amplitude.
            entry: if state.voices.is_empty() {
                Entry::Quick
            } else {
                Entry::Crossfade(t.crossfade, Blend::Uncorrelated(0.0))
            },
        }),
    }
}

/// `placement` taking over from `last`, never in the past: see [`Timeline::not_before`].
fn handover(t: &Timeline, placement: Placement, last: &VoiceView, now: f64) -> (Placement, f64) {
    t.not_before(placement, now + AHEAD, last.placement.start + t.segment)
}

/// When a new session's first segment crossfades in: as soon as it can, but not while a crossfade is
/// still under way. Then only the newest voice sounds, at full gain, and fading it out from there is
/// smooth; fading a voice in the middle of its curves would first jump its gain (Web Audio restores the
/// value from before a cancelled curve).
fn restart_at(voices: &[VoiceView], now: f64) -> f64 {
    let older = &voices[..voices.len().saturating_sub(1)];
    older
        .iter()
        .map(|v| v.placement.end)
        .fold(now + AHEAD, f64::max)
}

/// The segment after `last`, where it will play and how far it has come, once it is on its way.
fn upcoming(state: &State<'_>, last: &VoiceView, pending: Option<u64>) -> Option<Upcoming> {
    let index = last.index.saturating_add(1);
    let shown = &state.shown;
    let stage = if pending == Some(index) {
        Stage::Ready
    } else if let Some((_, done)) = shown.download.filter(|(i, _)| *i == index) {
        Stage::Downloading(done)
    } else if shown.generating == Some(index) {
        Stage::Generating(f64::from(shown.progress))
    } else {
        return None;
    };
    Some(Upcoming {
        index,
        placement: state.timeline.next(&last.placement),
        stage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeline = Timeline {
        segment: 60.0,
        overlap: 15.0,
        crossfade: 4.0,
    };

    const SHOWN: Shown = Shown {
        state: PlayerState::Generating,
        applies_from: None,
        download: None,
        generating: None,
        progress: 0.0,
    };

    fn state(voices: &[VoiceView]) -> State<'_> {
        State {
            timeline: T,
            lookahead: Lookahead::default(),
            latency: 0.2,
            voices,
            pending: None,
            pending_blend: Blend::Correlated,
            downloading: None,
            latest: None,
            fresh: false,
            retry_at: 0.0,
            shown: SHOWN,
        }
    }

    fn voice(index: u64, placement: Placement) -> VoiceView {
        VoiceView {
            index,
            hold: false,
            placement,
        }
    }

    #[test]
    fn pressing_play_fetches_the_latest_segment_then_starts_it_at_once() {
        let mut s = state(&[]);
        s.latest = Some(0);
        let plan = plan(&s, 1.0, 0.0);
        assert_eq!(plan.fetch, Some(0));
        assert_eq!(plan.schedule, None);
        assert_eq!(plan.state, Some(PlayerState::Downloading));
        assert_eq!(plan.state.map(PlayerState::label), Some("downloading"));

        s.pending = Some(0);
        let started = super::plan(&s, 1.0, 0.0);
        assert_eq!(started.fetch, None, "it is already here");
        let schedule = started.schedule.expect("starts");
        assert_eq!((schedule.kind, schedule.index), (Kind::Start, 0));
        assert_eq!(schedule.placement, T.first(1.0 + AHEAD));
        assert_eq!(schedule.entry, Entry::Quick);
        assert_eq!(started.decoded_alive, 1);
        // Not audible for another 0.15 s: the badge still says so.
        assert_eq!(started.audible, None);
        assert_eq!(started.state, Some(PlayerState::Generating));
    }

    #[test]
    fn the_badge_says_playing_once_a_segment_is_audible() {
        let voices = [voice(0, T.first(0.0))];
        let plan = plan(&state(&voices), 10.0, 0.0);
        assert_eq!(
            (plan.audible, plan.state),
            (Some(0), Some(PlayerState::Playing))
        );
        assert_eq!(PlayerState::Playing.label(), "playing");
        let mut s = state(&voices);
        s.shown.state = PlayerState::Error;
        assert_eq!(
            super::plan(&s, 10.0, 0.0).state,
            None,
            "an error stays shown"
        );
    }

    #[test]
    fn the_next_segment_is_fetched_once_inside_the_prefetch_lead() {
        let voices = [voice(0, T.first(0.0))];
        let mut s = state(&voices);
        s.latest = Some(1);
        // The crossfade begins at 50.5 s; the lead is 15 s.
        assert_eq!(plan(&s, 35.0, 0.0).fetch, None);
        assert_eq!(plan(&s, 35.5, 0.0).fetch, Some(1));
        s.latest = Some(0);
        assert_eq!(plan(&s, 40.0, 0.0).fetch, None, "not generated yet");
        s.latest = Some(1);
        s.retry_at = 5_000.0;
        assert_eq!(
            plan(&s, 40.0, 4_000.0).fetch,
            None,
            "a failure is waited out"
        );
        assert_eq!(plan(&s, 40.0, 5_000.0).fetch, Some(1));
    }

    #[test]
    fn the_next_segment_is_scheduled_exactly_at_the_overlap() {
        let first = T.first(0.0);
        let voices = [voice(0, first)];
        let mut s = state(&voices);
        s.latest = Some(1);
        s.pending = Some(1);
        assert_eq!(plan(&s, 40.0, 0.0).schedule, None, "too early to decide");
        let plan = plan(&s, first.fade_out - 1.0, 0.0);
        let next = plan.schedule.expect("scheduled");
        assert_eq!((next.kind, next.index), (Kind::Next, 1));
        assert_eq!(
            next.placement.start,
            first.start + 45.0,
            "at the overlap point"
        );
        assert_eq!(next.placement.fade_in, first.fade_out);
        assert_eq!(next.entry, Entry::Crossfade(4.0, Blend::Correlated));
        s.pending_blend = Blend::Uncorrelated(0.4);
        assert_eq!(
            super::plan(&s, first.fade_out - 1.0, 0.0)
                .schedule
                .unwrap()
                .entry,
            Entry::Crossfade(4.0, Blend::Uncorrelated(0.4)),
            "different music crossfades with equal power"
        );
        // The upcoming segment is now the one after it, and the first fades out as it comes in.
        let frame = &plan.frame;
        assert_eq!(frame.voices.len(), 2);
        assert_eq!(frame.voices[0].placement.end, first.fade_out + 4.0);
        assert_eq!(frame.upcoming, None, "segment 2 is not on its way yet");
        assert_eq!(plan.decoded_alive, 2);
    }

    #[test]
    fn a_missing_next_segment_holds_instead_of_going_silent() {
        let first = T.first(0.0);
        let voices = [voice(3, first)];
        let mut s = state(&voices);
        s.downloading = Some(4);
        let plan = plan(&s, first.fade_out - 1.0, 0.0);
        let hold = plan.schedule.expect("a hold");
        assert_eq!((hold.kind, hold.index, hold.hold()), (Kind::Hold, 3, true));
        assert_eq!(hold.placement, T.hold(&first));
        assert_eq!(hold.entry, Entry::Crossfade(4.0, Blend::Uncorrelated(0.0)));
        assert_eq!(plan.frame.voices.last().map(|v| v.hold), Some(true));
        // Still waiting for segment 4 after the hold, which now plays until its own fade-out.
        assert_eq!(plan.fetch, None, "it is downloading");
        assert_eq!(plan.state, Some(PlayerState::Playing));
    }

    #[test]
    fn voices_that_finished_are_released_but_never_the_newest() {
        let first = T.first(0.0);
        let mut faded = first;
        faded.faded_out(first.fade_out, 4.0);
        let second = T.next(&first);
        let voices = [voice(0, faded), voice(1, second)];
        assert_eq!(plan(&state(&voices), faded.end - 0.1, 0.0).release, 0);
        let plan = plan(&state(&voices), faded.end + 0.1, 0.0);
        assert_eq!(plan.release, 1);
        assert_eq!(plan.frame.voices.len(), 1);
        assert_eq!(plan.audible, Some(1));
        // Long after everything ended (a stalled tab), a hold takes over: never nothing at all.
        let alone = [voice(1, second)];
        let late = super::plan(&state(&alone), 500.0, 0.0);
        assert_eq!(late.frame.voices.len(), 1);
        assert!(late.frame.voices[0].hold);
    }

    #[test]
    fn a_new_session_crossfades_in_at_once_from_the_voice_that_sounds() {
        let only = [voice(7, T.first(0.0))];
        let mut s = state(&only);
        s.fresh = true;
        s.latest = Some(0);
        let fetching = plan(&s, 20.0, 0.0);
        assert_eq!(fetching.fetch, Some(0), "no lead to wait for");
        assert_eq!(fetching.schedule, None);
        assert_eq!(fetching.frame.upcoming, None);
        s.pending = Some(0);
        let plan = plan(&s, 20.0, 0.0);
        let start = plan.schedule.expect("starts");
        assert_eq!((start.kind, start.index), (Kind::Start, 0));
        assert_eq!(start.placement, T.first(20.0 + AHEAD));
        assert_eq!(start.fades_from(only.len()), 0);
        assert_eq!(start.entry, Entry::Crossfade(4.0, Blend::Uncorrelated(0.0)));
        assert_eq!(plan.frame.voices[0].placement.end, 20.0 + AHEAD + 4.0);
    }

    #[test]
    fn a_new_session_waits_for_a_crossfade_under_way_so_no_gain_jumps() {
        let first = T.first(0.0);
        let mut outgoing = voice(7, first);
        outgoing.placement.faded_out(first.fade_out, 4.0);
        let voices = [outgoing, voice(8, T.next(&first))];
        let mut s = state(&voices);
        s.fresh = true;
        s.latest = Some(0);
        s.pending = Some(0);
        // Mid-crossfade from 7 to 8: the new session comes in once 8 is alone, and 7 keeps its own end.
        let plan = plan(&s, first.fade_out + 1.0, 0.0);
        let start = plan.schedule.expect("starts");
        assert_eq!(start.placement.fade_in, first.fade_out + 4.0);
        let ends: Vec<f64> = plan.frame.voices.iter().map(|v| v.placement.end).collect();
        assert_eq!(ends[..2], [first.fade_out + 4.0, first.fade_out + 8.0]);
    }

    #[test]
    fn a_tick_that_comes_late_schedules_the_handover_from_now_in_step() {
        let first = T.first(0.0);
        let voices = [voice(0, first)];
        let mut s = state(&voices);
        s.latest = Some(1);
        s.pending = Some(1);
        // The tick should have come 1.5 s before the crossfade; it comes 2 s after it should have begun.
        let now = first.fade_out + 2.0;
        let next = plan(&s, now, 0.0).schedule.expect("scheduled");
        assert_eq!(next.placement.fade_in, now + AHEAD);
        assert_eq!(next.placement.start, T.next(&first).start, "still in step");
        assert_eq!(next.entry, Entry::Crossfade(4.0, Blend::Correlated));
        s.pending = None;
        s.downloading = Some(1);
        let hold = plan(&s, now, 0.0).schedule.expect("a hold");
        assert_eq!(hold.placement.fade_in, now + AHEAD);
        assert_eq!(hold.placement.start, T.hold(&first).start);
    }

    #[test]
    fn the_upcoming_segment_shows_how_far_it_has_come() {
        let voices = [voice(0, T.first(0.0))];
        let mut s = state(&voices);
        s.shown.generating = Some(1);
        s.shown.progress = 0.5;
        let at = T.next(&T.first(0.0));
        let upcoming = |s: &State<'_>| plan(s, 10.0, 0.0).frame.upcoming;
        assert_eq!(
            upcoming(&s),
            Some(Upcoming {
                index: 1,
                placement: at,
                stage: Stage::Generating(0.5)
            })
        );
        s.shown.download = Some((1, 0.25));
        assert_eq!(
            upcoming(&s).map(|u| u.stage),
            Some(Stage::Downloading(0.25))
        );
        s.pending = Some(1);
        assert_eq!(upcoming(&s).map(|u| u.stage), Some(Stage::Ready));
    }

    #[test]
    fn the_mood_note_goes_once_the_new_mood_is_audible() {
        let voices = [voice(4, T.first(0.0))];
        let mut s = state(&voices);
        s.shown.applies_from = Some(5);
        assert!(!plan(&s, 10.0, 0.0).mood_applied);
        s.shown.applies_from = Some(4);
        assert!(plan(&s, 10.0, 0.0).mood_applied);
    }

    #[test]
    fn odd_inputs_plan_without_panicking() {
        // A fades-from on an empty graph, the last possible index, and a timeline from a bad status.
        let hold = Schedule {
            kind: Kind::Hold,
            index: 0,
            placement: T.first(0.0),
            entry: Entry::Quick,
        };
        assert_eq!(hold.fades_from(0), 0);
        let voices = [voice(u64::MAX, T.first(0.0))];
        let mut s = state(&voices);
        s.latest = Some(u64::MAX);
        s.timeline = Timeline::new(f64::NAN, f64::NAN, f64::NAN);
        let plan = plan(&s, f64::NAN, f64::NAN);
        assert_eq!(plan.fetch, None);
    }
}
