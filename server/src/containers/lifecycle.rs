//! The lifecycle of one service as plain data and pure functions: the states, the events that move them,
//! the transitions allowed, when idleness stops a service, and which services to stop to make room in the
//! GPU memory budget. The service's actor (`mod.rs`) performs the I/O these decisions ask for.

use std::time::{Duration, Instant};

pub use app::api::ServiceState as State;

/// Something that happened to a service.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// A session, a proxied request or `POST start` needs the service ready.
    Demand,
    /// The container answered its health check.
    StartSucceeded,
    /// Creating, starting or waiting for health failed.
    StartFailed,
    /// A stop was asked for (by hand, idle TTL, GPU eviction); `in_use` says whether anyone holds or awaits it.
    StopAsked { in_use: bool },
    /// The container is stopped and removed; `demand_waiting` if a demand arrived meanwhile.
    StopFinished { demand_waiting: bool },
    /// The engine failed to stop or remove the container.
    StopFailed,
    /// The running container exited on its own.
    Exited,
}

/// What the actor must do after a transition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Effect {
    /// Nothing (a repeated stop, a late report).
    Nothing,
    /// Hand the requester a lease at once.
    Grant,
    /// Create and start the container, then wait for health.
    BeginStart,
    /// Park the requester until the start in progress ends.
    Wait,
    /// Give every parked requester a lease.
    GrantWaiting,
    /// Fail every parked requester with the start's error.
    FailWaiting,
    /// Stop and remove the container.
    BeginStop,
    /// Abandon the start in progress (nobody waits for it any more), then stop and remove.
    AbandonStartAndStop,
    /// Refuse the stop: the service is in use.
    RefuseStop,
    /// Park the stop request until the stop in progress ends.
    WaitForStop,
    /// Stop requests are answered now: the container is gone.
    StopDone,
}

/// Every transition the machine may make (besides staying put).
pub const TRANSITIONS: [(State, State); 11] = [
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
pub fn word(state: State) -> &'static str {
    match state {
        State::Stopped => "stopped",
        State::Starting => "starting",
        State::Ready => "ready",
        State::Stopping => "stopping",
        State::Failed => "failed",
    }
}

pub fn allowed(from: State, to: State) -> bool {
    from == to || TRANSITIONS.contains(&(from, to))
}

/// The next state and what to do. Events that make no sense in a state leave it unchanged.
pub fn step(state: State, event: Event) -> (State, Effect) {
    use Effect as E;
    use State as S;
    let next = match (state, event) {
        (S::Stopped | S::Failed, Event::Demand) => (S::Starting, E::BeginStart),
        (S::Starting, Event::Demand) => (S::Starting, E::Wait),
        (S::Ready, Event::Demand) => (S::Ready, E::Grant),
        // A request that arrives while the service stops waits, and the service starts again.
        (S::Stopping, Event::Demand) => (S::Stopping, E::Wait),

        (S::Starting, Event::StartSucceeded) => (S::Ready, E::GrantWaiting),
        (S::Starting, Event::StartFailed) => (S::Failed, E::FailWaiting),

        (S::Ready | S::Starting, Event::StopAsked { in_use: true }) => (state, E::RefuseStop),
        (S::Ready, Event::StopAsked { in_use: false }) => (S::Stopping, E::BeginStop),
        (S::Starting, Event::StopAsked { in_use: false }) => (S::Stopping, E::AbandonStartAndStop),
        (S::Stopping, Event::StopAsked { .. }) => (S::Stopping, E::WaitForStop),
        (S::Stopped, Event::StopAsked { .. }) => (S::Stopped, E::StopDone),
        // Stopping a failed service clears its error; its container was removed when it failed.
        (S::Failed, Event::StopAsked { .. }) => (S::Stopped, E::StopDone),

        (S::Stopping, Event::StopFinished { demand_waiting }) => {
            if demand_waiting {
                (S::Starting, E::BeginStart)
            } else {
                (S::Stopped, E::StopDone)
            }
        }
        (S::Stopping, Event::StopFailed) => (S::Failed, E::StopDone),
        (S::Ready, Event::Exited) => (S::Failed, E::Nothing),
        _ => (state, E::Nothing),
    };
    debug_assert!(allowed(state, next.0), "{state:?} -> {:?}", next.0);
    next
}

/// What idleness means for a service right now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Idle {
    /// No deadline: not ready, in use, or no TTL.
    Keep,
    /// The TTL has run out.
    StopNow,
    /// Look again at this instant.
    CheckAt(Instant),
}

/// Only a ready service nobody holds is ever stopped for idleness, `ttl` after its last use.
pub fn idle(
    state: State,
    in_use: bool,
    ttl: Option<Duration>,
    last_use: Instant,
    now: Instant,
) -> Idle {
    match ttl {
        Some(ttl) if state == State::Ready && !in_use => {
            // A TTL past the clock's range never runs out (adding it would panic).
            let Some(deadline) = last_use.checked_add(ttl) else {
                return Idle::Keep;
            };
            if now >= deadline {
                Idle::StopNow
            } else {
                Idle::CheckAt(deadline)
            }
        }
        _ => Idle::Keep,
    }
}

/// Another service as GPU admission sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    pub id: String,
    pub state: State,
    /// A starting service claims memory only once admitted.
    pub admitted: bool,
    pub gpu_memory_gb: f64,
    pub in_use: bool,
    pub last_use: Instant,
}

impl Claim {
    fn claims(&self) -> bool {
        self.gpu_memory_gb > 0.0
            && match self.state {
                State::Ready | State::Stopping => true,
                State::Starting => self.admitted,
                State::Stopped | State::Failed => false,
            }
    }
}

/// Why a service cannot be admitted, in words for the user.
#[derive(Clone, Debug, PartialEq)]
pub struct NoRoom(pub String);

/// The services to stop so that `need` GB fit in `budget` next to the others: those already stopping first,
/// then idle ready ones, least recently used first. Busy services are never chosen; if stopping every idle
/// one is not enough, nothing is stopped and the reason is returned.
pub fn make_room(
    id: &str,
    need: f64,
    budget: Option<f64>,
    others: &[Claim],
) -> Result<Vec<String>, NoRoom> {
    let Some(budget) = budget.filter(|_| need > 0.0) else {
        return Ok(Vec::new());
    };
    if need > budget {
        return Err(NoRoom(format!(
            "service {id:?} needs {need} GB of GPU memory, more than the whole budget of {budget} GB"
        )));
    }
    let claimed: f64 = others
        .iter()
        .filter(|c| c.claims())
        .map(|c| c.gpu_memory_gb)
        .sum();
    let mut free = budget - claimed;
    let mut candidates: Vec<&Claim> = others
        .iter()
        .filter(|c| {
            c.claims() && (c.state == State::Stopping || (c.state == State::Ready && !c.in_use))
        })
        .collect();
    candidates.sort_by_key(|c| (c.state != State::Stopping, c.last_use));
    let mut chosen = Vec::new();
    for candidate in candidates {
        if free >= need {
            break;
        }
        free += candidate.gpu_memory_gb;
        chosen.push(candidate.id.clone());
    }
    if free >= need {
        return Ok(chosen);
    }
    let busy: Vec<String> = others
        .iter()
        .filter(|c| c.claims() && !chosen.contains(&c.id))
        .map(|c| format!("{} ({} GB)", c.id, c.gpu_memory_gb))
        .collect();
    Err(NoRoom(format!(
        "not enough GPU memory for service {id:?}: it needs {need} GB, the budget is {budget} GB and services in use hold {}",
        busy.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Event as Ev;
    use State as S;

    const ALL: [State; 5] = [S::Stopped, S::Starting, S::Ready, S::Stopping, S::Failed];

    fn events() -> Vec<Event> {
        let mut all = vec![
            Ev::Demand,
            Ev::StartSucceeded,
            Ev::StartFailed,
            Ev::StopFailed,
            Ev::Exited,
        ];
        for flag in [false, true] {
            all.push(Ev::StopAsked { in_use: flag });
            all.push(Ev::StopFinished {
                demand_waiting: flag,
            });
        }
        all
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
        assert_eq!(
            step(S::Stopped, Ev::Demand),
            (S::Starting, Effect::BeginStart)
        );
        assert_eq!(
            step(S::Failed, Ev::Demand),
            (S::Starting, Effect::BeginStart)
        );
        assert_eq!(step(S::Starting, Ev::Demand), (S::Starting, Effect::Wait));
        assert_eq!(step(S::Ready, Ev::Demand), (S::Ready, Effect::Grant));
        assert_eq!(
            step(S::Starting, Ev::StartSucceeded),
            (S::Ready, Effect::GrantWaiting)
        );
        assert_eq!(
            step(S::Starting, Ev::StartFailed),
            (S::Failed, Effect::FailWaiting)
        );
    }

    #[test]
    fn a_service_in_use_is_never_stopped() {
        for state in [S::Ready, S::Starting] {
            assert_eq!(
                step(state, Ev::StopAsked { in_use: true }),
                (state, Effect::RefuseStop)
            );
        }
        assert_eq!(
            step(S::Ready, Ev::StopAsked { in_use: false }),
            (S::Stopping, Effect::BeginStop)
        );
        assert_eq!(
            step(S::Starting, Ev::StopAsked { in_use: false }),
            (S::Stopping, Effect::AbandonStartAndStop)
        );
    }

    #[test]
    fn a_demand_during_a_stop_waits_and_restarts_the_service() {
        assert_eq!(step(S::Stopping, Ev::Demand), (S::Stopping, Effect::Wait));
        assert_eq!(
            step(
                S::Stopping,
                Ev::StopFinished {
                    demand_waiting: true
                }
            ),
            (S::Starting, Effect::BeginStart)
        );
        assert_eq!(
            step(
                S::Stopping,
                Ev::StopFinished {
                    demand_waiting: false
                }
            ),
            (S::Stopped, Effect::StopDone)
        );
        assert_eq!(
            step(S::Stopping, Ev::StopAsked { in_use: false }),
            (S::Stopping, Effect::WaitForStop)
        );
    }

    #[test]
    fn a_crash_fails_a_ready_service_and_late_reports_change_nothing() {
        assert_eq!(step(S::Ready, Ev::Exited), (S::Failed, Effect::Nothing));
        assert_eq!(step(S::Stopped, Ev::Exited), (S::Stopped, Effect::Nothing));
        assert_eq!(
            step(S::Stopped, Ev::StartSucceeded),
            (S::Stopped, Effect::Nothing)
        );
        assert_eq!(
            step(S::Failed, Ev::StopAsked { in_use: false }),
            (S::Stopped, Effect::StopDone)
        );
        assert_eq!(
            step(S::Stopping, Ev::StopFailed),
            (S::Failed, Effect::StopDone)
        );
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

    fn claim(id: &str, state: State, gb: f64, in_use: bool, age_s: u64, now: Instant) -> Claim {
        Claim {
            id: id.into(),
            state,
            admitted: true,
            gpu_memory_gb: gb,
            in_use,
            last_use: now - Duration::from_secs(age_s),
        }
    }

    #[test]
    fn a_ttl_beyond_the_clock_never_expires() {
        let now = Instant::now();
        let ttl = Some(Duration::from_secs(u64::MAX / 2));
        assert_eq!(idle(S::Ready, false, ttl, now, now), Idle::Keep);
    }

    #[test]
    fn room_is_made_from_stopping_then_the_least_recently_used_idle_services() {
        let now = Instant::now() + Duration::from_secs(1000);
        let others = [
            claim("recent", S::Ready, 8.0, false, 10, now),
            claim("old", S::Ready, 8.0, false, 500, now),
            claim("busy", S::Ready, 8.0, true, 900, now),
            claim("going", S::Stopping, 4.0, false, 1, now),
            claim("off", S::Stopped, 20.0, false, 1, now),
        ];
        // 28 GB claimed of 32: 4 free.
        assert_eq!(make_room("new", 4.0, Some(32.0), &others), Ok(vec![]));
        assert_eq!(
            make_room("new", 8.0, Some(32.0), &others),
            Ok(vec!["going".to_string()])
        );
        assert_eq!(
            make_room("new", 16.0, Some(32.0), &others),
            Ok(vec!["going".to_string(), "old".to_string()])
        );
        let refused = make_room("new", 30.0, Some(32.0), &others).unwrap_err();
        assert!(refused.0.contains("busy (8 GB)"), "{}", refused.0);
        assert!(make_room("new", 40.0, Some(32.0), &others)
            .unwrap_err()
            .0
            .contains("more than the whole budget"));
        assert_eq!(make_room("new", 99.0, None, &others), Ok(vec![]));
        assert_eq!(make_room("cpu", 0.0, Some(1.0), &others), Ok(vec![]));
    }

    #[test]
    fn a_starting_service_claims_memory_only_once_admitted() {
        let now = Instant::now();
        let mut other = claim("other", S::Starting, 16.0, true, 0, now);
        other.admitted = false;
        assert_eq!(
            make_room("new", 16.0, Some(24.0), std::slice::from_ref(&other)),
            Ok(vec![])
        );
        other.admitted = true;
        assert!(make_room("new", 16.0, Some(24.0), &[other]).is_err());
    }
}
