//! Where each segment sits on the audio clock, and how two neighbours crossfade.
//!
//! Segment n+1 begins with the same audio as the last `overlap` seconds of segment n, so it starts at n's
//! `segment - overlap` point. Inside that shared stretch one crossfade hands over from n to n+1, centred in
//! the overlap so it ends well before n runs out. Before the crossfade only n sounds and after it only
//! n+1, so the overlap is heard exactly once.

/// The shortest crossfade: below it a gain change is a click.
const MIN_CROSSFADE: f64 = 0.05;
/// The most negative correlation a power-keeping crossfade corrects for: there each gain is at most
/// √2 times the uncorrected one, and audio that cancels more than that is rare enough to leave a dip.
const MIN_CORRELATION: f64 = -0.5;

/// Lengths in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timeline {
    pub segment: f64,
    pub overlap: f64,
    pub crossfade: f64,
}

/// When a segment plays, on the audio clock (seconds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// When the segment's first sample would sound.
    pub start: f64,
    /// When it becomes audible (its fade-in starts; equals `start` for the first segment).
    pub fade_in: f64,
    /// Offset into the segment at `fade_in`.
    pub offset: f64,
    /// When its fade-out towards the next segment starts, and when it is silent.
    pub fade_out: f64,
    pub end: f64,
}

impl Placement {
    /// Cut short by a fade-out of `seconds` from `at`: silent from then on. Never later than it was: a
    /// voice already silent by `at` stays silent (fading it out again would first bring it back).
    pub fn faded_out(&mut self, at: f64, seconds: f64) {
        self.end = self.end.min(at + seconds);
    }
}

impl Timeline {
    /// A crossfade can never be longer than the overlap.
    pub fn new(segment: f64, overlap: f64, crossfade: f64) -> Timeline {
        Timeline {
            segment,
            overlap,
            crossfade: crossfade.clamp(0.01, overlap.max(0.01)),
        }
    }

    /// Seconds into a segment where the crossfade to its successor begins.
    pub fn fade_out_offset(&self) -> f64 {
        self.segment - self.overlap + (self.overlap - self.crossfade) / 2.0
    }

    /// The first segment, started at `at`.
    pub fn first(&self, at: f64) -> Placement {
        Placement {
            start: at,
            fade_in: at,
            offset: 0.0,
            fade_out: at + self.fade_out_offset(),
            end: at + self.fade_out_offset() + self.crossfade,
        }
    }

    /// The segment after the one placed at `previous`.
    pub fn next(&self, previous: &Placement) -> Placement {
        self.placed_at(
            previous.start + self.segment - self.overlap,
            previous.fade_out,
        )
    }

    /// How far a hold jumps back: a whole overlap, and always more than the crossfade it needs.
    pub fn hold_span(&self) -> f64 {
        self.overlap.max(2.0 * self.crossfade)
    }

    /// A hold: when the next segment is late, the segment placed at `previous` plays again from
    /// [`hold_span`](Self::hold_span) seconds before its fade-out point, crossfading into itself. The hold
    /// ends where `previous` would have, so the late segment joins it with an ordinary [`next`](Self::next)
    /// transition (aligned, seamless) or the hold repeats.
    pub fn hold(&self, previous: &Placement) -> Placement {
        let back = self.hold_span().min(self.fade_out_offset());
        self.placed_at(
            previous.fade_out - (self.fade_out_offset() - back),
            previous.fade_out,
        )
    }

    fn placed_at(&self, start: f64, fade_in: f64) -> Placement {
        Placement {
            start,
            fade_in,
            offset: fade_in - start,
            fade_out: start + self.fade_out_offset(),
            end: start + self.fade_out_offset() + self.crossfade,
        }
    }

    /// `placement`, whose crossfade would begin before `earliest`, moved so it begins then instead: a
    /// tick that comes late must not schedule into the past, where Web Audio would start the voice out of
    /// step and jump straight into the middle of its gain curves (a click). It stays in step (the same
    /// `start`); the crossfade shortens where it would outlast the outgoing audio, which runs out at
    /// `runs_out`. When that audio has run out already (a stalled tab), there is nothing to stay in step
    /// with, and the whole placement moves to `earliest`. Returns the placement and the crossfade's length.
    pub fn not_before(
        &self,
        placement: Placement,
        earliest: f64,
        runs_out: f64,
    ) -> (Placement, f64) {
        if earliest + MIN_CROSSFADE > runs_out {
            let shift = (earliest - placement.fade_in).max(0.0);
            let moved = Placement {
                start: placement.start + shift,
                fade_in: placement.fade_in + shift,
                fade_out: placement.fade_out + shift,
                end: placement.end + shift,
                offset: placement.offset,
            };
            return (moved, self.crossfade);
        }
        let fade_in = placement.fade_in.max(earliest);
        let seconds = self.crossfade.min(runs_out - fade_in).max(MIN_CROSSFADE);
        let moved = Placement {
            fade_in,
            offset: fade_in - placement.start,
            ..placement
        };
        (moved, seconds)
    }

    /// What to do about the successor of the voice placed at `last`, at audio time `now`: nothing yet,
    /// or, once its crossfade is less than `margin` seconds away, the next segment if it is decoded and a
    /// hold if it is not.
    pub fn decide(&self, last: &Placement, now: f64, next_ready: bool, margin: f64) -> Decision {
        if now < last.fade_out - margin {
            Decision::Wait
        } else if next_ready {
            Decision::Next
        } else {
            Decision::Hold
        }
    }
}

/// See [`Timeline::decide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Wait,
    Next,
    Hold,
}

/// How a voice comes in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Entry {
    /// From silence, with a short fade.
    Quick,
    /// Crossfading from its predecessor over this many seconds.
    Crossfade(f64, Blend),
}

/// What the two signals in a crossfade have in common, which decides the curve that keeps loudness
/// constant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Blend {
    /// The same music at the same point (a segment and its successor inside their overlap): the gains must
    /// sum to one.
    Correlated,
    /// Different music (a hold jumping back, a new session, a change of generator, an overlap the model
    /// changed): the powers must sum to one, corrected for the share `ρ` (-0.5..1, the normalised
    /// correlation) the two still have, which would otherwise add up louder (or cancel, below zero).
    Uncorrelated(f64),
}

/// Gain of the incoming signal `x` of the way (0..1) through a crossfade. The outgoing signal gets the
/// mirror image, `fade_in_gain(1 - x)`. Both curves start and end without a corner.
pub fn fade_in_gain(blend: Blend, x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    let raised_cosine = 0.5 - 0.5 * (std::f64::consts::PI * x).cos();
    match blend {
        Blend::Correlated => raised_cosine,
        Blend::Uncorrelated(rho) => {
            // a² + b² + 2ρab = 1 with a = cos, b = sin of the same angle, scaled alike: symmetric, so the
            // mirror image is the outgoing gain.
            let angle = std::f64::consts::FRAC_PI_2 * raised_cosine;
            let (b, a) = angle.sin_cos();
            b / (1.0 + 2.0 * rho.clamp(MIN_CORRELATION, 1.0) * a * b).sqrt()
        }
    }
}

/// The normalised correlation ρ of two stretches of audio, sample against sample: how far a crossfade
/// between them would add up louder (or cancel) than two unrelated signals. A hold jumps back by a few
/// seconds, and music that repeats with its beat or bar can be much the same signal there.
pub fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa * bb > 0.0 {
        (ab / (aa * bb).sqrt()).clamp(MIN_CORRELATION, 1.0)
    } else {
        0.0
    }
}

/// How a segment crossfades in, from the server's `X-Join-Correlated` and `X-Join-Correlation` headers:
/// without a clear "true" it is different music, sharing the given correlation (none if unreadable).
pub fn join_blend(correlated: Option<&str>, correlation: Option<&str>) -> Blend {
    if correlated == Some("true") {
        return Blend::Correlated;
    }
    let rho = correlation
        .and_then(|c| c.trim().parse::<f64>().ok())
        .filter(|c| c.is_finite())
        .map_or(0.0, |c| c.clamp(0.0, 1.0));
    Blend::Uncorrelated(rho)
}

/// `points` gains for a fade-in curve (Web Audio's `setValueCurveAtTime`); reversed, the fade-out.
pub fn fade_curve(blend: Blend, points: usize) -> Vec<f32> {
    let last = points.max(2) - 1;
    (0..=last)
        .map(|i| fade_in_gain(blend, i as f64 / last as f64) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeline = Timeline {
        segment: 60.0,
        overlap: 15.0,
        crossfade: 4.0,
    };

    #[test]
    fn the_next_segment_starts_at_the_overlap_point_and_the_fade_is_centred_in_it() {
        let first = T.first(10.0);
        assert_eq!(
            (first.start, first.fade_out, first.end),
            (10.0, 10.0 + 50.5, 10.0 + 54.5)
        );
        let second = T.next(&first);
        assert_eq!(second.start, 10.0 + 45.0);
        assert_eq!(second.fade_in, first.fade_out);
        assert_eq!(second.offset, 5.5);
        assert!(
            first.end < first.start + 60.0,
            "the fade ends before the first segment runs out"
        );
    }

    #[test]
    fn ten_transitions_cover_time_once_with_no_gap() {
        let mut placed = vec![T.first(0.0)];
        for _ in 0..10 {
            let next = T.next(placed.last().unwrap());
            placed.push(next);
        }
        for pair in placed.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            // Handover: b fades in exactly while a fades out.
            assert_eq!((b.fade_in, a.end), (a.fade_out, b.fade_in + T.crossfade));
            // The same music: at any moment of the crossfade, a and b play the same point of the piece.
            let t = a.fade_out + 1.0;
            assert!(((t - a.start) - (T.segment - T.overlap) - (t - b.start)).abs() < 1e-9);
        }
        // Continuous music: each segment contributes `segment - overlap` seconds of new music.
        let total = placed.last().unwrap().fade_out - placed[0].start;
        assert!((total - (10.0 * 45.0 + T.fade_out_offset())).abs() < 1e-9);
    }

    #[test]
    fn correlated_gains_sum_to_one_and_uncorrelated_powers_do() {
        for i in 0..=100 {
            let x = f64::from(i) / 100.0;
            let (fade_in, fade_out) = (
                fade_in_gain(Blend::Correlated, x),
                fade_in_gain(Blend::Correlated, 1.0 - x),
            );
            assert!((fade_in + fade_out - 1.0).abs() < 1e-12, "amplitude at {x}");
            // The mix's power with unit-power signals of correlation ρ: a² + b² + 2ρab.
            for rho in [0.0, 0.5, 0.9] {
                let (b, a) = (
                    fade_in_gain(Blend::Uncorrelated(rho), x),
                    fade_in_gain(Blend::Uncorrelated(rho), 1.0 - x),
                );
                let power = a * a + b * b + 2.0 * rho * a * b;
                assert!((power - 1.0).abs() < 1e-12, "power at {x} for ρ = {rho}");
            }
        }
        for blend in [
            Blend::Correlated,
            Blend::Uncorrelated(0.0),
            Blend::Uncorrelated(0.7),
        ] {
            let curve = fade_curve(blend, 64);
            assert_eq!((curve[0], curve[63]), (0.0, 1.0));
            assert!(curve.windows(2).all(|w| w[1] >= w[0]), "monotonic");
            // Flat at both ends: no corner where the fade begins or ends.
            assert!(curve[1] < 0.01 && curve[62] > 0.99);
        }
    }

    #[test]
    fn correlation_measures_what_two_stretches_share() {
        let tone = |phase: f64| -> Vec<f32> {
            (0..4800)
                .map(|i| (f64::from(i) * 0.05 + phase).sin() as f32)
                .collect()
        };
        let a = tone(0.0);
        assert!((correlation(&a, &a) - 1.0).abs() < 1e-9);
        // A quarter period apart a sine shares nothing with itself; half a period apart it cancels,
        // which is corrected only down to the floor.
        assert!(correlation(&a, &tone(std::f64::consts::FRAC_PI_2)).abs() < 0.01);
        assert_eq!(
            correlation(&a, &tone(std::f64::consts::PI)),
            MIN_CORRELATION
        );
        // Silence shares nothing, and divides by nothing.
        assert_eq!(correlation(&a, &[0.0; 4800]), 0.0);
        // The power-keeping curve holds for the measured share, including a negative one.
        for rho in [correlation(&a, &tone(1.0)), MIN_CORRELATION] {
            let (b, a) = (
                fade_in_gain(Blend::Uncorrelated(rho), 0.5),
                fade_in_gain(Blend::Uncorrelated(rho), 0.5),
            );
            assert!(
                (a * a + b * b + 2.0 * rho * a * b - 1.0).abs() < 1e-12,
                "ρ = {rho}"
            );
        }
    }

    #[test]
    fn the_servers_headers_choose_the_curve() {
        assert_eq!(join_blend(Some("true"), Some("0.999")), Blend::Correlated);
        assert_eq!(
            join_blend(Some("false"), Some("0.5")),
            Blend::Uncorrelated(0.5)
        );
        assert_eq!(join_blend(None, None), Blend::Uncorrelated(0.0));
        assert_eq!(
            join_blend(Some("false"), Some("NaN")),
            Blend::Uncorrelated(0.0)
        );
        assert_eq!(
            join_blend(Some("false"), Some("7")),
            Blend::Uncorrelated(1.0)
        );
    }

    #[test]
    fn a_hold_replays_the_tail_and_the_late_segment_joins_it_aligned() {
        let first = T.first(0.0);
        let hold = T.hold(&first);
        // The hold takes over exactly when the next segment would have, 15 s further back in the music.
        assert_eq!(
            (hold.fade_in, hold.offset),
            (first.fade_out, T.fade_out_offset() - 15.0)
        );
        assert_eq!(hold.fade_out - hold.fade_in, 15.0);
        // The late segment then joins where the hold fades out, at the usual overlap alignment.
        let late = T.next(&hold);
        assert_eq!(late.fade_in, hold.fade_out);
        assert_eq!(late.offset, T.fade_out_offset() - (T.segment - T.overlap));
        // Holds can repeat, each lasting one span, never shorter than the crossfade.
        let again = T.hold(&hold);
        assert_eq!(again.fade_in, hold.fade_out);
        let short = Timeline::new(8.0, 2.0, 2.0);
        let h = short.hold(&short.first(0.0));
        assert!(h.fade_out - h.fade_in >= 2.0 * short.crossfade);
        assert!(h.offset >= 0.0);
    }

    #[test]
    fn a_late_handover_stays_in_step_and_never_starts_in_the_past() {
        let first = T.first(0.0);
        let next = T.next(&first);
        let runs_out = first.start + T.segment;
        // On time: nothing moves.
        assert_eq!(T.not_before(next, 40.0, runs_out), (next, T.crossfade));
        // 2 s late: the crossfade begins then, the incoming voice still in step with the outgoing one.
        let (late, seconds) = T.not_before(next, next.fade_in + 2.0, runs_out);
        assert_eq!((late.start, late.fade_in), (next.start, next.fade_in + 2.0));
        assert_eq!(
            late.fade_in - late.offset,
            next.start,
            "the same point of the music"
        );
        assert_eq!(
            (late.fade_out, late.end, seconds),
            (next.fade_out, next.end, 4.0)
        );
        // So late that a whole crossfade would outlast the outgoing audio: a shorter one that ends with it.
        let (later, seconds) = T.not_before(next, runs_out - 1.0, runs_out);
        assert_eq!((later.fade_in, seconds), (runs_out - 1.0, 1.0));
        // Just before its end: the shortest crossfade that is not a click.
        let (_, seconds) = T.not_before(next, runs_out - MIN_CROSSFADE, runs_out);
        assert!((seconds - MIN_CROSSFADE).abs() < 1e-9);
        // Past its end (a stalled tab): the voice comes in whole from then, at the point it would have.
        let (moved, seconds) = T.not_before(next, runs_out + 1.0, runs_out);
        assert_eq!((moved.fade_in, moved.offset), (runs_out + 1.0, next.offset));
        assert_eq!(moved.end - moved.fade_in, next.end - next.fade_in);
        assert_eq!(seconds, T.crossfade);
    }

    #[test]
    fn a_voice_faded_out_once_is_never_brought_back_by_a_second_fade() {
        let mut p = T.first(0.0);
        p.faded_out(50.0, 4.0);
        assert_eq!(p.end, 54.0);
        p.faded_out(60.0, 4.0);
        assert_eq!(p.end, 54.0, "already silent at 60 s");
        p.faded_out(52.0, 4.0);
        assert_eq!(p.end, 54.0, "a later end does not extend it");
        p.faded_out(51.0, 1.0);
        assert_eq!(p.end, 52.0, "an earlier one cuts it shorter");
    }

    #[test]
    fn the_decision_comes_just_before_the_crossfade() {
        let first = T.first(0.0);
        assert_eq!(T.decide(&first, 40.0, true, 1.0), Decision::Wait);
        assert_eq!(T.decide(&first, 49.6, true, 1.0), Decision::Next);
        assert_eq!(T.decide(&first, 49.6, false, 1.0), Decision::Hold);
    }

    #[test]
    fn the_crossfade_is_limited_to_the_overlap() {
        let t = Timeline::new(8.0, 2.0, 4.0);
        assert_eq!(t.crossfade, 2.0);
        assert_eq!(t.fade_out_offset(), 6.0);
    }
}
