//! The listener's settings, each with its range and default: the one source for the sliders, for what
//! storage accepts, and for what the player starts with.

/// A setting's range and slider step, in its own unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setting {
    pub min: f64,
    pub max: f64,
    pub step: f64,
    pub default: f64,
}

/// Crossfade length, seconds (the timeline also keeps it within the overlap).
pub const CROSSFADE: Setting = Setting {
    min: 3.0,
    max: 5.0,
    step: 0.5,
    default: 4.0,
};

/// Master volume, 0..1.
pub const VOLUME: Setting = Setting {
    min: 0.0,
    max: 1.0,
    step: 0.01,
    default: 0.8,
};

/// How far the prefetch lead may widen for slow downloads, seconds; it starts at the base lead of 15 s, so
/// a lower limit would mean nothing.
pub const MAX_LEAD: Setting = Setting {
    min: 15.0,
    max: 30.0,
    step: 1.0,
    default: 20.0,
};

impl Setting {
    /// `text` as a value of this setting, if it is one (a number within the range).
    pub fn parse(&self, text: &str) -> Option<f64> {
        text.parse()
            .ok()
            .filter(|v| (self.min..=self.max).contains(v))
    }

    /// A slider's value; anything else is the default.
    pub fn parse_or_default(&self, text: &str) -> f64 {
        self.parse(text).unwrap_or(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_within_its_range_and_on_its_slider_step() {
        for s in [CROSSFADE, VOLUME, MAX_LEAD] {
            assert!(s.min <= s.default && s.default <= s.max, "{s:?}");
            let steps = (s.default - s.min) / s.step;
            assert!((steps - steps.round()).abs() < 1e-9, "{s:?}");
        }
    }

    #[test]
    fn only_numbers_within_the_range_are_accepted() {
        assert_eq!(CROSSFADE.parse("5"), Some(5.0));
        assert_eq!(CROSSFADE.parse("3"), Some(3.0));
        assert_eq!(CROSSFADE.parse("5.5"), None);
        assert_eq!(VOLUME.parse("0.5"), Some(0.5));
        assert_eq!(VOLUME.parse("NaN"), None);
        assert_eq!(MAX_LEAD.parse("loud"), None);
        assert_eq!(MAX_LEAD.parse_or_default(""), 20.0);
        assert_eq!(MAX_LEAD.parse_or_default("25"), 25.0);
    }
}
