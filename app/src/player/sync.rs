//! Keeping the player in step with the server: `segment_index` only grows within a session, and a new
//! `session_id` means the server restarted the stream.

/// What to do with a status report.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Nothing new.
    Same,
    /// A newer segment is playable.
    Newer(u64),
    /// Older than or equal to one already seen: a stale or reordered reply; ignore it.
    Stale,
    /// A different session: start over.
    Restarted,
}

/// What a player does when the server has no session.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NoSession {
    /// The session was lost (the server restarted): music should not stop until the listener says so.
    StartAnother,
    /// The listener stopped this very session from another tab or device: stop here too.
    StopToo,
}

/// What the player has seen of the server.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sync {
    pub session_id: Option<String>,
    pub latest: Option<u64>,
}

impl Sync {
    /// Judges a status with `session_id` and `segment_index`, updating what has been seen.
    pub fn observe(&mut self, session_id: Option<&str>, segment_index: Option<u64>) -> Verdict {
        if session_id.is_some()
            && self.session_id.is_some()
            && session_id != self.session_id.as_deref()
        {
            *self = Sync {
                session_id: session_id.map(str::to_string),
                latest: segment_index,
            };
            return Verdict::Restarted;
        }
        if self.session_id.is_none() {
            self.session_id = session_id.map(str::to_string);
        }
        match (segment_index, self.latest) {
            (None, _) => Verdict::Same,
            (Some(n), Some(seen)) if n < seen => Verdict::Stale,
            (Some(n), Some(seen)) if n == seen => Verdict::Same,
            (Some(n), _) => {
                self.latest = Some(n);
                Verdict::Newer(n)
            }
        }
    }

    /// Decides for a server with no session that says which session a listener stopped last.
    pub fn no_session(&self, stopped_session: Option<&str>) -> NoSession {
        match (stopped_session, self.session_id.as_deref()) {
            (Some(stopped), Some(ours)) if stopped == ours => NoSession::StopToo,
            _ => NoSession::StartAnother,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_only_grow_and_older_ones_are_stale() {
        let mut sync = Sync::default();
        assert_eq!(sync.observe(Some("a"), None), Verdict::Same);
        assert_eq!(sync.observe(Some("a"), Some(0)), Verdict::Newer(0));
        assert_eq!(sync.observe(Some("a"), Some(0)), Verdict::Same);
        assert_eq!(sync.observe(Some("a"), Some(2)), Verdict::Newer(2));
        assert_eq!(sync.observe(Some("a"), Some(1)), Verdict::Stale);
        assert_eq!(sync.latest, Some(2));
    }

    #[test]
    fn a_new_session_id_is_a_restart() {
        let mut sync = Sync::default();
        sync.observe(Some("a"), Some(5));
        assert_eq!(sync.observe(Some("b"), Some(0)), Verdict::Restarted);
        assert_eq!(
            (sync.session_id.as_deref(), sync.latest),
            (Some("b"), Some(0))
        );
        assert_eq!(sync.observe(Some("b"), Some(1)), Verdict::Newer(1));
    }

    #[test]
    fn only_a_stop_of_our_own_session_stops_us() {
        let mut sync = Sync::default();
        // Before any session is known, nothing stopped is ours.
        assert_eq!(sync.no_session(Some("a")), NoSession::StartAnother);
        sync.observe(Some("a"), Some(3));
        assert_eq!(sync.no_session(Some("a")), NoSession::StopToo);
        // A server that restarted remembers no stop; one that stopped an older session did not stop ours.
        assert_eq!(sync.no_session(None), NoSession::StartAnother);
        assert_eq!(sync.no_session(Some("b")), NoSession::StartAnother);
    }
}
