//! The lifecycle of one service as plain data and one pure function: the states, the events that move them,
//! the transitions allowed, and the ordered effects each transition asks for, plus when idleness stops a
//! service. [`step`] is the only place that decides; the service's actor (`actor.rs`) only carries out
//! the effects, in order.

use std::time::{Duration, Instant};

pub(crate) use app::api::ServiceState as State;

/// Something that happened to a service.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Event {
    /// A session, a proxied request or `POST start` needs the service ready.
    Demand,
    /// A healthy-looking container left by a previous run of this server was found.
    Adopt,
    /// The container answered its health check.
    StartSucceeded,
    /// Creating, starting or waiting for health failed.
    StartFailed,
    /// A stop was asked for (by hand, idle TTL, GPU eviction, shutdown). `in_use`: someone holds or awaits
    /// the service; `force`: stop it even so (the server is exiting).
    StopAsked { in_use: bool, force: bool },
    /// The container is stopped and removed; `demand_waiting` if a request still waits for the service.
    StopFinished { demand_waiting: bool },
    /// The engine failed to stop or remove the container; `demand_waiting` as above.
    StopFailed { demand_waiting: bool },
    /// The running container exited on its own.
    Exited,
}

/// What the parked requesters are failed with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Failure {
    /// The error the start ended with.
    Start,
    /// The start was abandoned by a stop.
    Abandoned,
    /// The server is exiting.
    ShuttingDown,
}

/// One thing the actor must do after a transition. A transition asks for a list, done in order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Effect {
    /// Hand this requester a lease at once.
    Grant,
    /// Park this requester until the service is ready.
    Park,
    /// Create and start the container, then wait for health.
    BeginStart,
    /// Take over the container found, then wait for health.
    BeginAdopt,
    /// Note the container as ready: its id, since when, its idle clock, the metrics.
    RecordReady,
    /// Note why the start failed.
    RecordStartFailure,
    /// Give every parked requester a lease.
    GrantWaiting,
    /// Fail every parked requester.
    FailWaiting(Failure),
    /// Forget the parked requesters (they all gave up).
    DropWaiting,
    /// Drop the start in progress; the stop that follows removes whatever it created.
    AbandonStart,
    /// Stop and remove the container.
    BeginStop,
    /// Refuse this stop: the service is in use.
    RefuseStop,
    /// Park this stop request until the stop in progress ends.
    ParkStop,
    /// Answer this stop request now: there is no container.
    StopDone,
    /// Forget the last error.
    ClearError,
    /// Note the container as gone.
    RecordStopped,
    /// Note why the stop failed.
    RecordStopFailure,
    /// Answer the parked stop requests with how the stop ended.
    AnswerStops,
    /// Note why the container died.
    RecordExit,
}

/// Every transition the machine may make (besides staying put).
const TRANSITIONS: [(State, State); 11] = [
    (State::Stopped, State::Starting),
    (State::Failed, State::Starting),
    (State::Failed, State::Stopped),
    (State::Starting, State::Ready),
    (State::Starting, State::Failed),
    (State::Starting, State::Stopping),
    (State::Ready, State::Stopping),
    (State::Ready, State::Failed),
    (State::Stopping, State::Stopped),
    (State::Stopping, State::Starting),
    (State::Stopping, State::Failed),
];

/// The state as the API spells it.
pub(crate) fn word(state: State) -> &'static str {
    match state {
        State::Stopped => "stopped",
        State::Starting => "starting",
        State::Ready => "ready",
        State::Stopping => "stopping",
        State::Failed => "failed",
    }
}

fn allowed(from: State, to: State) -> bool {
    from == to || TRANSITIONS.contains(&(from, to))
}

/// The next state and what to do, in order. Events that make no sense in a state (a late report, an adopt
/// of a service already started) leave it unchanged and ask for nothing.
pub(super) fn step(state: State, event: Event) -> (State, &'static [Effect]) {
    use Effect as E;
    use State as S;
    let next: (State, &'static [Effect]) = match (state, event) {
        (S::Stopped | S::Failed, Event::Demand) => (S::Starting, &[E::Park, E::BeginStart]),
        // A request that arrives while the service starts joins that start; while it stops, it waits, and
        // the service starts again.
        (S::Starting | S::Stopping, Event::Demand) => (state, &[E::Park]),
        (S::Ready, Event::Demand) => (S::Ready, &[E::Grant]),
        // Adopting is starting with a container that already runs; only a service not started yet adopts.
        (S::Stopped, Event::Adopt) => (S::Starting, &[E::BeginAdopt]),

        (S::Starting, Event::StartSucceeded) => (S::Ready, &[E::RecordReady, E::GrantWaiting]),
        (S::Starting, Event::StartFailed) => (
            S::Failed,
            &[E::RecordStartFailure, E::FailWaiting(Failure::Start)],
        ),

        (
            S::Ready | S::Starting,
            Event::StopAsked {
                in_use: true,
                force: false,
            },
        ) => (state, &[E::RefuseStop]),
        (S::Ready, Event::StopAsked { .. }) => (S::Stopping, &[E::ParkStop, E::BeginStop]),
        // Nobody waits for the start any more (or the server exits): its requesters are failed first.
        (S::Starting, Event::StopAsked { force: false, .. }) => (
            S::Stopping,
            &[
                E::AbandonStart,
                E::FailWaiting(Failure::Abandoned),
                E::ParkStop,
                E::BeginStop,
            ],
        ),
        (S::Starting, Event::StopAsked { force: true, .. }) => (
            S::Stopping,
            &[
                E::AbandonStart,
                E::FailWaiting(Failure::ShuttingDown),
                E::ParkStop,
                E::BeginStop,
            ],
        ),
        (S::Stopping, Event::StopAsked { .. }) => (S::Stopping, &[E::ParkStop]),
        (S::Stopped, Event::StopAsked { .. }) => (S::Stopped, &[E::ClearError, E::StopDone]),
        // Stopping a failed service clears its error; its container was removed when it failed.
        (S::Failed, Event::StopAsked { .. }) => (S::Stopped, &[E::ClearError, E::StopDone]),

        (S::Stopping, Event::StopFinished { demand_waiting }) => {
            if demand_waiting {
                (
                    S::Starting,
                    &[E::RecordStopped, E::AnswerStops, E::BeginStart],
                )
            } else {
                (
                    S::Stopped,
                    &[E::RecordStopped, E::AnswerStops, E::DropWaiting],
                )
            }
        }
        // The stop failed, but requests that arrived meanwhile still get a fresh start.
        (S::Stopping, Event::StopFailed { demand_waiting }) => {
            if demand_waiting {
                (
                    S::Starting,
                    &[E::RecordStopFailure, E::AnswerStops, E::BeginStart],
                )
            } else {
                (
                    S::Failed,
                    &[E::RecordStopFailure, E::AnswerStops, E::DropWaiting],
                )
            }
        }
        (S::Ready, Event::Exited) => (S::Failed, &[E::RecordExit]),
        _ => (state, &[]),
    };
    debug_assert!(allowed(state, next.0), "{state:?} -> {:?}", next.0);
    next
}

/// What idleness means for a service right now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Idle {
    /// No deadline: not ready, in use, or no TTL (or one too long to reach).
    Keep,
    /// The TTL has run out.
    StopNow,
    /// Look again at this instant.
    CheckAt(Instant),
}

/// Only a ready service nobody holds is ever stopped for idleness, `ttl` after its last use.
pub(super) fn idle(
    state: State,
    in_use: bool,
    ttl: Option<Duration>,
    last_use: Instant,
    now: Instant,
) -> Idle {
    match ttl {
        Some(ttl) if state == State::Ready && !in_use => match last_use.checked_add(ttl) {
            // A deadline beyond what `Instant` can hold is never reached.
            None => Idle::Keep,
            Some(deadline) if now >= deadline => Idle::StopNow,
            Some(deadline) => Idle::CheckAt(deadline),
        },
        _ => Idle::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Effect as E;
    use Event as Ev;
    use State as S;

    const ALL: [State; 5] = [S::Stopped, S::Starting, S::Ready, S::Stopping, S::Failed];

    fn events() -> Vec<Event> {
        let mut all = vec![
            Ev::Demand,
            Ev::Adopt,
            Ev::StartSucceeded,
            Ev::StartFailed,
            Ev::Exited,
        ];
        for a in [false, true] {
            all.push(Ev::StopFinished { demand_waiting: a });
            all.push(Ev::StopFailed { demand_waiting: a });
            for b in [false, true] {
                all.push(Ev::StopAsked {
                    in_use: a,
                    force: b,
                });
            }
        }
        all
    }

    const fn stop(in_use: bool, force: bool) -> Event {
        Ev::StopAsked { in_use, force }
    }

    #[test]
    fn every_state_and_event_gives_an_allowed_transition() {
        for state in ALL {
            for event in events() {
                let (next, _) = step(state, event);
                assert!(allowed(state, next), "{state:?} + {event:?} -> {next:?}");
            }
        }
        assert!(
            !allowed(S::Stopped, S::Ready),
            "ready only through starting"
        );
        assert!(
            !allowed(S::Ready, S::Stopped),
            "stopped only through stopping"
        );
        assert!(!allowed(S::Stopped, S::Stopping));
    }

    #[test]
    fn a_start_begins_only_on_entering_starting_and_a_stop_only_on_entering_stopping() {
        for state in ALL {
            for event in events() {
                let (next, effects) = step(state, event);
                let starts = effects
                    .iter()
                    .filter(|e| matches!(e, E::BeginStart | E::BeginAdopt))
                    .count();
                let stops = effects.iter().filter(|e| **e == E::BeginStop).count();
                let entering = |s: State| next == s && state != s;
                assert_eq!(
                    starts,
                    usize::from(entering(S::Starting)),
                    "{state:?} {event:?}"
                );
                assert_eq!(
                    stops,
                    usize::from(entering(S::Stopping)),
                    "{state:?} {event:?}"
                );
            }
        }
    }

    #[test]
    fn words_match_the_wire_format() {
        for state in ALL {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(word(state))
            );
        }
    }

    #[test]
    fn a_demand_starts_a_stopped_or_failed_service_and_joins_a_start_in_progress() {
        for state in [S::Stopped, S::Failed] {
            assert_eq!(
                step(state, Ev::Demand),
                (S::Starting, &[E::Park, E::BeginStart][..])
            );
        }
        assert_eq!(step(S::Starting, Ev::Demand), (S::Starting, &[E::Park][..]));
        assert_eq!(step(S::Ready, Ev::Demand), (S::Ready, &[E::Grant][..]));
        assert_eq!(
            step(S::Starting, Ev::StartSucceeded),
            (S::Ready, &[E::RecordReady, E::GrantWaiting][..])
        );
        assert_eq!(
            step(S::Starting, Ev::StartFailed),
            (
                S::Failed,
                &[E::RecordStartFailure, E::FailWaiting(Failure::Start)][..]
            )
        );
    }

    #[test]
    fn only_a_stopped_service_adopts_a_leftover() {
        assert_eq!(
            step(S::Stopped, Ev::Adopt),
            (S::Starting, &[E::BeginAdopt][..])
        );
        for state in [S::Starting, S::Ready, S::Stopping, S::Failed] {
            assert_eq!(step(state, Ev::Adopt), (state, &[][..]), "{state:?}");
        }
    }

    #[test]
    fn a_service_in_use_is_never_stopped_unless_the_server_exits() {
        for state in [S::Ready, S::Starting] {
            assert_eq!(
                step(state, stop(true, false)),
                (state, &[E::RefuseStop][..])
            );
        }
        for (in_use, force) in [(false, false), (true, true)] {
            assert_eq!(
                step(S::Ready, stop(in_use, force)),
                (S::Stopping, &[E::ParkStop, E::BeginStop][..])
            );
        }
        assert_eq!(
            step(S::Starting, stop(false, false)),
            (
                S::Stopping,
                &[
                    E::AbandonStart,
                    E::FailWaiting(Failure::Abandoned),
                    E::ParkStop,
                    E::BeginStop
                ][..]
            )
        );
        assert_eq!(
            step(S::Starting, stop(true, true)).1[1],
            E::FailWaiting(Failure::ShuttingDown),
            "a shutdown fails the waiting requests with its own reason"
        );
    }

    #[test]
    fn a_demand_during_a_stop_waits_and_restarts_the_service() {
        assert_eq!(step(S::Stopping, Ev::Demand), (S::Stopping, &[E::Park][..]));
        assert_eq!(
            step(
                S::Stopping,
                Ev::StopFinished {
                    demand_waiting: true
                }
            ),
            (
                S::Starting,
                &[E::RecordStopped, E::AnswerStops, E::BeginStart][..]
            )
        );
        assert_eq!(
            step(
                S::Stopping,
                Ev::StopFinished {
                    demand_waiting: false
                }
            ),
            (
                S::Stopped,
                &[E::RecordStopped, E::AnswerStops, E::DropWaiting][..]
            )
        );
        assert_eq!(
            step(S::Stopping, stop(false, false)),
            (S::Stopping, &[E::ParkStop][..])
        );
    }

    #[test]
    fn a_failed_stop_still_starts_afresh_for_waiting_requests() {
        assert_eq!(
            step(
                S::Stopping,
                Ev::StopFailed {
                    demand_waiting: true
                }
            ),
            (
                S::Starting,
                &[E::RecordStopFailure, E::AnswerStops, E::BeginStart][..]
            )
        );
        assert_eq!(
            step(
                S::Stopping,
                Ev::StopFailed {
                    demand_waiting: false
                }
            ),
            (
                S::Failed,
                &[E::RecordStopFailure, E::AnswerStops, E::DropWaiting][..]
            )
        );
    }

    #[test]
    fn a_crash_fails_a_ready_service_and_late_reports_change_nothing() {
        assert_eq!(
            step(S::Ready, Ev::Exited),
            (S::Failed, &[E::RecordExit][..])
        );
        for state in [S::Stopped, S::Starting, S::Stopping, S::Failed] {
            assert_eq!(step(state, Ev::Exited), (state, &[][..]), "{state:?}");
        }
        assert_eq!(step(S::Stopped, Ev::StartSucceeded), (S::Stopped, &[][..]));
        for state in [S::Stopped, S::Failed] {
            assert_eq!(
                step(state, stop(false, false)),
                (S::Stopped, &[E::ClearError, E::StopDone][..])
            );
        }
    }

    #[test]
    fn idleness_stops_only_a_ready_unused_service_after_its_ttl() {
        let t0 = Instant::now();
        let ttl = Some(Duration::from_secs(10));
        let later = t0 + Duration::from_secs(11);
        assert_eq!(
            idle(S::Ready, false, ttl, t0, t0),
            Idle::CheckAt(t0 + Duration::from_secs(10))
        );
        assert_eq!(idle(S::Ready, false, ttl, t0, later), Idle::StopNow);
        assert_eq!(idle(S::Ready, true, ttl, t0, later), Idle::Keep);
        assert_eq!(idle(S::Ready, false, None, t0, later), Idle::Keep);
        for state in [S::Stopped, S::Starting, S::Stopping, S::Failed] {
            assert_eq!(idle(state, false, ttl, t0, later), Idle::Keep, "{state:?}");
        }
    }

    #[test]
    fn a_ttl_too_long_for_the_clock_keeps_the_service_instead_of_panicking() {
        let t0 = Instant::now();
        assert_eq!(
            idle(S::Ready, false, Some(Duration::MAX), t0, t0),
            Idle::Keep
        );
    }
}
