//! The plain lines container log tests wait for, on stdout rather than through tracing (no timestamps or
//! levels to match around).

use std::io::Write;

/// Prints one line and flushes it at once; a closed stdout is ignored rather than a panic.
pub(crate) fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
