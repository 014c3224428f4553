//! When to fetch the next segment: once the playing one has no more than the prefetch lead left. The lead
//! starts at 15 s and widens, up to a limit, when measured downloads are slow.

use crate::settings::MAX_LEAD;

/// The prefetch rule's settings, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lookahead {
    pub base_lead: f64,
    pub max_lead: f64,
}

impl Default for Lookahead {
    fn default() -> Self {
        Lookahead {
            base_lead: 15.0,
            max_lead: MAX_LEAD.default,
        }
    }
}

impl Lookahead {
    /// The lead to use after downloads took `latency` seconds (the slowest recent one): enough to cover
    /// three such downloads plus decoding, never less than the base and never more than the limit.
    pub fn lead(&self, latency: f64) -> f64 {
        (self.base_lead.max(latency * 3.0 + 1.0)).min(self.max_lead.max(self.base_lead))
    }

    /// Whether to start fetching now, with `remaining` seconds left before the next segment is needed.
    pub fn should_fetch(&self, remaining: f64, latency: f64) -> bool {
        remaining <= self.lead(latency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetches_only_inside_the_lead() {
        let rule = Lookahead::default();
        assert!(!rule.should_fetch(16.0, 0.1));
        assert!(rule.should_fetch(15.0, 0.1));
        assert!(rule.should_fetch(0.0, 0.1));
    }

    #[test]
    fn slow_downloads_widen_the_lead_up_to_the_limit() {
        let rule = Lookahead::default();
        assert_eq!(rule.lead(0.2), 15.0);
        assert_eq!(rule.lead(5.0), 16.0);
        assert_eq!(rule.lead(60.0), 20.0);
        assert!(rule.should_fetch(19.0, 10.0));
    }
}
