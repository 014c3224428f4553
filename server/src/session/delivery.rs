//! How much of each segment the listener has received. A download may be cut off and resumed with a
//! `Range` from the byte it reached; a segment counts as downloaded (which lets generation move on and
//! older segments go) only once every byte of one of its encodings has gone out, in one response or
//! several.

use std::collections::HashMap;

use crate::encoding::Format;

#[derive(Default)]
pub(super) struct Deliveries {
    /// Per segment and encoding: the bytes from the first on that have all gone out.
    received: HashMap<(u64, Format), u64>,
}

impl Deliveries {
    /// Bytes `from..to` of segment `index` as `format`, `total` bytes long, have gone out. True when that
    /// completes the segment; what is known of it and of older segments is then forgotten.
    pub(super) fn sent(
        &mut self,
        index: u64,
        format: Format,
        from: u64,
        to: u64,
        total: u64,
    ) -> bool {
        let prefix = self.received.entry((index, format)).or_default();
        // A range beyond what arrived before leaves a hole: it does not count until the hole is filled.
        if from <= *prefix {
            *prefix = (*prefix).max(to);
        }
        if *prefix < total {
            return false;
        }
        self.received.retain(|(i, _), _| *i > index);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_download_completes_the_segment_at_once() {
        let mut d = Deliveries::default();
        assert!(d.sent(0, Format::Flac, 0, 100, 100));
    }

    #[test]
    fn a_cut_download_completes_when_its_resumption_reaches_the_end() {
        let mut d = Deliveries::default();
        assert!(!d.sent(3, Format::Flac, 0, 40, 100));
        assert!(!d.sent(3, Format::Flac, 40, 70, 100), "cut again");
        assert!(d.sent(3, Format::Flac, 70, 100, 100));
    }

    #[test]
    fn a_tail_alone_or_another_encodings_bytes_do_not_count() {
        let mut d = Deliveries::default();
        assert!(
            !d.sent(3, Format::Flac, 50, 100, 100),
            "the head never went out"
        );
        assert!(!d.sent(3, Format::Opus, 0, 40, 80));
        assert!(!d.sent(3, Format::Flac, 0, 40, 100));
        assert!(
            !d.sent(3, Format::Flac, 40, 60, 100),
            "the tail sent before the head is not remembered: a player resumes from what it has"
        );
        assert!(d.sent(3, Format::Flac, 60, 100, 100));
        assert!(
            d.received.is_empty(),
            "the segment's partial Opus is forgotten"
        );
    }

    #[test]
    fn completing_a_segment_forgets_older_ones_and_keeps_newer() {
        let mut d = Deliveries::default();
        d.sent(1, Format::Wav, 0, 10, 100);
        d.sent(3, Format::Flac, 0, 10, 100);
        assert!(d.sent(2, Format::Flac, 0, 100, 100));
        assert_eq!(d.received.len(), 1);
        assert!(d.received.contains_key(&(3, Format::Flac)));
    }
}
