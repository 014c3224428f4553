//! GPU admission as pure decisions: how much of the memory budget the services hold, and which idle ones to
//! stop so that a starting one fits. The handle (`handle.rs`) carries them out one admission at a time.

use std::time::Instant;

use super::lifecycle::State;

/// Another service as GPU admission sees it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Claim {
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
pub(super) struct NoRoom(pub String);

/// The services to stop so that `need` GB fit in `budget` next to the others: those already stopping first,
/// then idle ready ones, least recently used first. Busy services are never chosen; if stopping every idle
/// one is not enough, nothing is stopped and the reason is returned.
pub(super) fn make_room(
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
    let mut free = budget - claimed(others);
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

/// The budget admission works with. Measured free memory (NVML), plus what our own running services are
/// counted for, is what could be had by stopping them; it caps the configured budget, or stands in for it
/// when none is configured. Without readings, the configured budget as it is.
pub(super) fn effective_budget(
    configured: Option<f64>,
    measured_free: Option<f64>,
    ours_claimed: f64,
) -> Option<f64> {
    match (configured, measured_free) {
        (budget, None) => budget,
        (None, Some(free)) => Some(free + ours_claimed),
        (Some(budget), Some(free)) => Some(budget.min(free + ours_claimed)),
    }
}

/// The GPU memory the services hold now (a starting one once admitted).
pub(super) fn claimed(claims: &[Claim]) -> f64 {
    claims
        .iter()
        .filter(|c| c.claims())
        .map(|c| c.gpu_memory_gb)
        .sum()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use State as S;

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
        assert_eq!(claimed(&others), 28.0, "a stopped service holds nothing");
    }

    #[test]
    fn measured_free_memory_caps_the_budget() {
        // A 24 GB card with 3.9 GB free while our ACE-Step holds 20 GB (recorded from NVML).
        assert_eq!(effective_budget(Some(24.0), Some(3.9), 20.0), Some(23.9));
        // Someone else's program takes 10 GB: only 13.9 GB can ever be had.
        assert_eq!(effective_budget(Some(24.0), Some(0.0), 13.9), Some(13.9));
        assert_eq!(effective_budget(None, Some(3.9), 20.0), Some(23.9));
        assert_eq!(effective_budget(Some(24.0), None, 20.0), Some(24.0));
        assert_eq!(effective_budget(None, None, 20.0), None);
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
        assert_eq!(claimed(std::slice::from_ref(&other)), 0.0);
        other.admitted = true;
        assert_eq!(claimed(std::slice::from_ref(&other)), 16.0);
        assert!(make_room("new", 16.0, Some(24.0), &[other]).is_err());
    }
}
