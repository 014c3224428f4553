//! Which 5 Hz language model to ask for, and when to step down to the smaller one: from what the server
//! offers and from the reason a job failed, in the server's own words where it gave any.

use crate::backend::BackendError;

/// The best LM for `thinking`; it needs a large GPU.
pub(super) const LM_4B: &str = "acestep-5Hz-lm-4B";
/// The fallback: good enough, and it fits where the 4B does not.
pub(super) const LM_1_7B: &str = "acestep-5Hz-lm-1.7B";

/// How the current server's VRAM pre-flight begins its refusal of a job (§9.1 of the reference).
const VRAM_PREFLIGHT: &str = "Insufficient free VRAM";

/// The LM in use and, when it is not the first choice, why.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Lm {
    pub model: String,
    pub reason: Option<String>,
}

impl Default for Lm {
    fn default() -> Lm {
        Lm {
            model: LM_4B.into(),
            reason: None,
        }
    }
}

/// The LM to load among those the server lists: the 4B when offered, else the 1.7B (which the server can
/// download on init even when it does not list it).
pub(super) fn choose(offered: &[String]) -> Lm {
    if offered.iter().any(|m| m == LM_4B) {
        return Lm::default();
    }
    let reason = if offered.is_empty() {
        "the server lists no language model".to_string()
    } else {
        format!("the server offers only {}", offered.join(", "))
    };
    Lm {
        model: LM_1_7B.into(),
        reason: Some(reason),
    }
}

/// The smaller LM to switch to after a job failed with `error` while `current` was in use, if the failure
/// looks like the 4B's memory. A failure without text counts only for text2music, the one task that runs
/// the LM (the February server says nothing, upstream PR #1300); the VRAM pre-flight counts for any task,
/// since the loaded LM holds its memory whatever the job.
pub(super) fn after_failure(current: &Lm, error: &str, text2music: bool) -> Option<Lm> {
    if current.model != LM_4B {
        return None;
    }
    let reason = if error.starts_with(VRAM_PREFLIGHT) {
        error.to_string()
    } else if error.is_empty() && text2music {
        "a job failed without a reason while the 4B LM was loaded; the 1.7B needs less GPU memory"
            .to_string()
    } else {
        return None;
    };
    Some(Lm {
        model: LM_1_7B.into(),
        reason: Some(reason),
    })
}

/// The smaller LM to load after the server answered that it could not load `current` (a card too small
/// for the 4B fails at load time, before any job could fail the VRAM pre-flight). A server that cannot be
/// reached, or is busy, says nothing about the LM.
pub(super) fn after_load_failure(current: &Lm, error: &BackendError) -> Option<Lm> {
    match error {
        BackendError::Failed(detail) if current.model == LM_4B => Some(Lm {
            model: LM_1_7B.into(),
            reason: Some(format!("the server could not load the 4B LM: {detail}")),
        }),
        _ => None,
    }
}

/// The LM the server reports loaded, when it is not the one wanted (the server may refuse the 4B on a
/// card it deems too small and load its own choice, upstream issue #213, or was loaded by someone else).
pub(super) fn loaded(asked: &Lm, loaded: Option<&str>) -> Lm {
    match loaded {
        Some(other) if !other.is_empty() && other != asked.model => Lm {
            model: other.to_string(),
            reason: Some(format!(
                "the server has {other} loaded, not {}",
                asked.model
            )),
        },
        _ => asked.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_4b_when_offered_else_the_1_7b_with_the_reason() {
        assert_eq!(choose(&names(&[LM_1_7B, LM_4B])), Lm::default());
        let only = choose(&names(&[LM_1_7B]));
        assert_eq!(only.model, LM_1_7B);
        assert_eq!(
            only.reason.as_deref(),
            Some("the server offers only acestep-5Hz-lm-1.7B")
        );
        assert_eq!(
            choose(&[]).reason.as_deref(),
            Some("the server lists no language model")
        );
    }

    #[test]
    fn the_vram_text_moves_any_task_to_the_1_7b_and_is_the_reason() {
        let text = "Insufficient free VRAM: need ~12.0 GB, only 7.4 GB free.";
        for text2music in [true, false] {
            let next = after_failure(&Lm::default(), text, text2music).unwrap();
            assert_eq!(next.model, LM_1_7B);
            assert_eq!(next.reason.as_deref(), Some(text));
        }
    }

    #[test]
    fn a_silent_failure_moves_only_text2music() {
        let next = after_failure(&Lm::default(), "", true).unwrap();
        assert_eq!(next.model, LM_1_7B);
        assert!(next.reason.unwrap().contains("without a reason"));
        assert_eq!(after_failure(&Lm::default(), "", false), None);
    }

    #[test]
    fn other_failures_and_the_1_7b_keep_the_lm() {
        assert_eq!(after_failure(&Lm::default(), "HTTP 500: boom", true), None);
        let small = choose(&names(&[LM_1_7B]));
        assert_eq!(
            after_failure(&small, "Insufficient free VRAM: need ~8 GB", true),
            None
        );
    }

    #[test]
    fn a_4b_the_server_cannot_load_steps_down_but_an_unreachable_server_does_not() {
        let refused = BackendError::Failed("code 500: CUDA out of memory".into());
        let smaller = after_load_failure(&Lm::default(), &refused).expect("steps down");
        assert_eq!(smaller.model, LM_1_7B);
        assert!(smaller.reason.unwrap().contains("CUDA out of memory"));
        assert_eq!(
            after_load_failure(&smaller_lm(), &refused),
            None,
            "nothing below the 1.7B"
        );
        let gone = BackendError::Unreachable {
            url: "http://gpu:8001".into(),
            detail: "connection refused".into(),
        };
        assert_eq!(after_load_failure(&Lm::default(), &gone), None);
        assert_eq!(
            after_load_failure(&Lm::default(), &BackendError::Busy),
            None
        );
    }

    fn smaller_lm() -> Lm {
        Lm {
            model: LM_1_7B.into(),
            reason: None,
        }
    }

    #[test]
    fn a_different_loaded_lm_is_adopted_with_the_reason() {
        let asked = Lm::default();
        assert_eq!(loaded(&asked, Some(LM_4B)), asked);
        assert_eq!(loaded(&asked, None), asked);
        let other = loaded(&asked, Some(LM_1_7B));
        assert_eq!(other.model, LM_1_7B);
        assert_eq!(
            other.reason.as_deref(),
            Some("the server has acestep-5Hz-lm-1.7B loaded, not acestep-5Hz-lm-4B")
        );
    }
}
