//! The session's bookkeeping as plain data and pure transitions: which segment to make next and with which
//! prompt, which segments are playable, downloaded or deleted, and what the status says. The worker and the
//! HTTP handlers perform the I/O these transitions ask for.

use std::collections::{BTreeMap, BTreeSet};

use app::api::{Join, SessionState, StatusError};

/// What the session is doing.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    Starting,
    Generating {
        index: u64,
    },
    /// Segment `index` is ready and not yet downloaded.
    Waiting {
        index: u64,
    },
    Failed(StatusError),
}

/// The next segment to make.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub index: u64,
    pub prompt: String,
    /// The prompt of segment `index - 1`, for a repaint.
    pub previous_prompt: Option<String>,
}

/// Where a requested segment stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lookup {
    Ready(u64),
    /// It existed and has been deleted.
    Gone,
    /// It does not exist (yet).
    Missing,
}

#[derive(Clone, Debug)]
pub struct Core {
    phase: Phase,
    /// `(first segment, prompt)`, ascending: each prompt applies from its segment on.
    prompts: Vec<(u64, String)>,
    /// Latest playable segment.
    ready: Option<u64>,
    /// Highest segment downloaded in full.
    downloaded: Option<u64>,
    on_disk: BTreeSet<u64>,
    /// How each segment on disk joins its predecessor (none for a session's first).
    joins: BTreeMap<u64, Join>,
    last_join: Option<Join>,
}

impl Core {
    pub fn new(prompt: String) -> Core {
        Core {
            phase: Phase::Starting,
            prompts: vec![(0, prompt)],
            ready: None,
            downloaded: None,
            on_disk: BTreeSet::new(),
            joins: BTreeMap::new(),
            last_join: None,
        }
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The segment after the latest playable one.
    fn next_index(&self) -> u64 {
        self.ready.map_or(0, |n| n + 1)
    }

    /// The prompt in force for segment `index`.
    pub fn prompt_for(&self, index: u64) -> &str {
        self.prompts
            .iter()
            .rev()
            .find(|(from, _)| *from <= index)
            .map_or("", |(_, p)| p.as_str())
    }

    /// The newest prompt and the first segment it applies to.
    pub fn latest_prompt(&self) -> (&str, u64) {
        let (from, prompt) = self.prompts.last().expect("a session always has a prompt");
        (prompt, *from)
    }

    /// Starts the next segment if the lookahead rule allows it: at most one segment nobody has downloaded,
    /// so segment n+1 starts only once segment n has been downloaded.
    pub fn begin(&mut self) -> Option<Plan> {
        if matches!(self.phase, Phase::Failed(_) | Phase::Generating { .. }) {
            return None;
        }
        let index = self.next_index();
        if index > 0 && self.downloaded < Some(index - 1) {
            return None;
        }
        self.phase = Phase::Generating { index };
        Some(Plan {
            index,
            prompt: self.prompt_for(index).to_string(),
            previous_prompt: index.checked_sub(1).map(|i| self.prompt_for(i).to_string()),
        })
    }

    /// Segment `index` was written to disk and may be played; `join` says how it joins the one before.
    pub fn finished(&mut self, index: u64, join: Option<Join>) {
        if self.phase == (Phase::Generating { index }) {
            self.ready = Some(index);
            self.on_disk.insert(index);
            self.phase = Phase::Waiting { index };
            if let Some(join) = join {
                self.joins.insert(index, join);
                self.last_join = Some(join);
            }
        }
    }

    /// How the latest segment joins its predecessor.
    pub fn last_join(&self) -> Option<Join> {
        self.last_join
    }

    /// How segment `index` joins its predecessor; a session's first segment joins nothing.
    pub fn join(&self, index: u64) -> Option<Join> {
        self.joins.get(&index).copied()
    }

    /// Generation gave up.
    pub fn failed(&mut self, error: StatusError) {
        self.phase = Phase::Failed(error);
    }

    /// Sets the prompt for the next segment not yet started; returns that segment.
    pub fn set_prompt(&mut self, prompt: String) -> u64 {
        let from = match self.phase {
            Phase::Generating { index } => index + 1,
            _ => self.next_index(),
        };
        self.prompts.retain(|(f, _)| *f < from);
        self.prompts.push((from, prompt));
        from
    }

    pub fn lookup(&self, index: u64) -> Lookup {
        match self.ready {
            Some(ready) if index <= ready && self.on_disk.contains(&index) => Lookup::Ready(index),
            Some(ready) if index <= ready => Lookup::Gone,
            _ => Lookup::Missing,
        }
    }

    pub fn latest(&self) -> Option<u64> {
        self.ready.filter(|n| self.on_disk.contains(n))
    }

    /// Segment `index` was downloaded in full. Returns the segments to delete now: every older one, since a
    /// listener who has the successor no longer needs them.
    pub fn downloaded(&mut self, index: u64) -> Vec<u64> {
        if self.lookup(index) != Lookup::Ready(index) {
            return Vec::new();
        }
        if self.downloaded < Some(index) {
            self.downloaded = Some(index);
        }
        let old: Vec<u64> = self.on_disk.range(..index).copied().collect();
        for n in &old {
            self.on_disk.remove(n);
            self.joins.remove(n);
        }
        // Only the newest prompts still matter once old segments are gone.
        let keep_from = self
            .prompts
            .iter()
            .rposition(|(f, _)| *f <= index.saturating_sub(1))
            .unwrap_or(0);
        self.prompts.drain(..keep_from);
        old
    }

    pub fn state(&self) -> SessionState {
        match self.phase {
            Phase::Starting => SessionState::Starting,
            Phase::Generating { .. } => SessionState::Generating,
            Phase::Waiting { .. } => SessionState::Waiting,
            Phase::Failed(_) => SessionState::Error,
        }
    }

    pub fn generating(&self) -> Option<u64> {
        match self.phase {
            Phase::Generating { index } => Some(index),
            _ => None,
        }
    }

    pub fn error(&self) -> Option<&StatusError> {
        match &self.phase {
            Phase::Failed(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn core() -> Core {
        Core::new("calm".into())
    }

    /// Generates and finishes the next segment.
    fn make(core: &mut Core) -> u64 {
        let plan = core.begin().expect("allowed to start");
        core.finished(plan.index, None);
        plan.index
    }

    #[test]
    fn the_first_segment_starts_at_once_and_the_next_only_after_a_download() {
        let mut c = core();
        assert_eq!(c.state(), SessionState::Starting);
        assert_eq!(make(&mut c), 0);
        assert_eq!((c.state(), c.latest()), (SessionState::Waiting, Some(0)));
        assert_eq!(
            c.begin(),
            None,
            "segment 1 must wait for segment 0's download"
        );
        c.downloaded(0);
        let plan = c.begin().unwrap();
        assert_eq!(
            (plan.index, plan.previous_prompt.as_deref()),
            (1, Some("calm"))
        );
        assert_eq!(
            (c.state(), c.generating()),
            (SessionState::Generating, Some(1))
        );
        assert_eq!(c.begin(), None, "one job at a time");
    }

    #[test]
    fn a_download_deletes_every_older_segment_and_old_ones_become_gone() {
        let mut c = core();
        make(&mut c);
        assert_eq!(c.downloaded(0), Vec::<u64>::new());
        make(&mut c);
        assert_eq!(c.lookup(0), Lookup::Ready(0));
        assert_eq!(c.downloaded(1), vec![0]);
        assert_eq!(
            (c.lookup(0), c.lookup(1), c.lookup(2)),
            (Lookup::Gone, Lookup::Ready(1), Lookup::Missing)
        );
        assert_eq!(
            c.downloaded(0),
            Vec::<u64>::new(),
            "a gone segment cannot be downloaded"
        );
        assert_eq!(
            c.downloaded(1),
            Vec::<u64>::new(),
            "a repeated download deletes nothing more"
        );
    }

    #[test]
    fn a_prompt_applies_from_the_next_segment_not_yet_started() {
        let mut c = core();
        assert_eq!(c.set_prompt("rain".into()), 0, "nothing started yet");
        c.begin();
        assert_eq!(
            c.set_prompt("piano".into()),
            1,
            "segment 0 is already being made"
        );
        assert_eq!(
            c.set_prompt("dark".into()),
            1,
            "a newer prompt replaces one not yet used"
        );
        c.finished(0, None);
        assert_eq!(c.set_prompt("bright".into()), 1);
        assert_eq!(
            (c.prompt_for(0), c.prompt_for(1), c.prompt_for(7)),
            ("rain", "bright", "bright")
        );
        assert_eq!(c.latest_prompt(), ("bright", 1));
        c.downloaded(0);
        let plan = c.begin().unwrap();
        assert_eq!(
            (plan.prompt.as_str(), plan.previous_prompt.as_deref()),
            ("bright", Some("rain"))
        );
    }

    #[test]
    fn a_failure_stops_generation_and_reports_the_error() {
        let mut c = core();
        c.begin();
        c.failed(StatusError {
            message: "down".into(),
            retryable: true,
            at: "now".into(),
        });
        assert_eq!(c.state(), SessionState::Error);
        assert_eq!(c.error().unwrap().message, "down");
        assert_eq!(c.begin(), None);
        c.finished(0, None);
        assert_eq!(
            c.latest(),
            None,
            "a late result of a failed job is not published"
        );
    }

    #[test]
    fn each_segment_on_disk_remembers_how_it_joins_and_the_status_shows_the_latest() {
        let mut c = core();
        make(&mut c);
        c.downloaded(0);
        let join = |segment, correlated| Join {
            segment,
            gain_db: 1.5,
            residual_db: -80.0,
            correlated,
            correlation: 1.0,
        };
        c.begin();
        c.finished(1, Some(join(1, false)));
        assert_eq!(c.join(0), None, "a first segment joins nothing");
        assert_eq!(c.join(1), Some(join(1, false)));
        c.downloaded(1);
        c.begin();
        c.finished(2, Some(join(2, true)));
        assert_eq!(c.join(2), Some(join(2, true)));
        assert_eq!(c.last_join(), Some(join(2, true)));
        c.downloaded(2);
        assert!(!c.joins.contains_key(&1), "forgotten with its segment");
    }

    #[test]
    fn twenty_segments_never_keep_more_than_two_on_disk() {
        let mut c = core();
        for n in 0..20 {
            assert_eq!(make(&mut c), n);
            assert!(c.on_disk.len() <= 2);
            c.downloaded(n);
            assert_eq!(c.on_disk.iter().copied().collect::<Vec<_>>(), vec![n]);
        }
        assert!(c.prompts.len() <= 2, "old prompts are forgotten");
    }
}
