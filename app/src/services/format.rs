//! What the services page says about a service: its state in words, which buttons apply, how long ago and
//! for how long, and how much of the GPU it takes. Pure, so it is tested here rather than in a browser.

use crate::api::{GpuReport, ServiceState};

/// The state as the page's badge says it.
pub(super) fn state(state: ServiceState) -> &'static str {
    match state {
        ServiceState::Stopped => "stopped",
        ServiceState::Starting => "starting",
        ServiceState::Ready => "ready",
        ServiceState::Stopping => "stopping",
        ServiceState::Failed => "failed",
    }
}

/// The buttons a service in `state` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Actions {
    pub start: bool,
    pub stop: bool,
    pub restart: bool,
}

pub(super) fn actions(state: ServiceState) -> Actions {
    use ServiceState::*;
    Actions {
        start: matches!(state, Stopped | Failed),
        stop: matches!(state, Starting | Ready),
        restart: matches!(state, Ready | Failed),
    }
}

/// A length of time in the two largest units that matter: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub(super) fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{m} min"),
        3600..86_400 if m == 0 => format!("{h} h"),
        3600..86_400 => format!("{h} h {m} min"),
        _ if h == 0 => format!("{d} d"),
        _ => format!("{d} d {h} h"),
    }
}

/// When something happened, `seconds` before now.
pub(super) fn ago(seconds: f64) -> String {
    if seconds < 5.0 {
        "just now".into()
    } else {
        format!("{} ago", duration(seconds))
    }
}

/// A latency: milliseconds below a second, else seconds; a dash before the first sample.
pub(super) fn latency(seconds: Option<f64>) -> String {
    match seconds {
        None => "–".into(),
        Some(s) if s < 1.0 => format!("{:.0} ms", s * 1000.0),
        Some(s) => format!("{s:.1} s"),
    }
}

/// A service's share of the GPU memory, as the bar shows it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct MemoryBar {
    /// Of the bar's whole, 0..1.
    pub share: f64,
    /// What is measured in use on the GPUs, 0..1 of the same whole, when NVML reads them.
    pub measured: Option<f64>,
    pub label: String,
}

/// `gb` of GPU memory declared by a service, against the GPUs' measured total when known, else the budget.
pub(super) fn memory_bar(gb: f64, budget: Option<f64>, gpus: &GpuReport) -> MemoryBar {
    let total: f64 = gpus.devices.iter().map(|d| d.memory_total_gb).sum();
    let used: f64 = gpus.devices.iter().map(|d| d.memory_used_gb).sum();
    let (whole, of) = if total > 0.0 {
        (
            total,
            format!("of {total:.1} GB on the GPU, {used:.1} GB in use (measured)"),
        )
    } else if let Some(budget) = budget.filter(|b| *b > 0.0) {
        (budget, format!("of the {budget:.1} GB budget (declared)"))
    } else {
        (gb, "declared; no budget set".to_string())
    };
    let share = if whole > 0.0 {
        (gb / whole).clamp(0.0, 1.0)
    } else {
        0.0
    };
    MemoryBar {
        share,
        measured: (total > 0.0).then(|| (used / total).clamp(0.0, 1.0)),
        label: if gb > 0.0 {
            format!("{gb:.1} GB {of}")
        } else {
            "no GPU memory declared".into()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GpuDevice;

    #[test]
    fn each_state_offers_the_buttons_that_make_sense() {
        let offered = |s| {
            let a = actions(s);
            (a.start, a.stop, a.restart)
        };
        assert_eq!(offered(ServiceState::Stopped), (true, false, false));
        assert_eq!(offered(ServiceState::Starting), (false, true, false));
        assert_eq!(offered(ServiceState::Ready), (false, true, true));
        assert_eq!(offered(ServiceState::Stopping), (false, false, false));
        assert_eq!(offered(ServiceState::Failed), (true, false, true));
        assert_eq!(state(ServiceState::Failed), "failed");
    }

    #[test]
    fn times_read_in_their_two_largest_units() {
        assert_eq!(duration(44.6), "45 s");
        assert_eq!(duration(60.0), "1 min");
        assert_eq!(duration(3599.0), "59 min");
        assert_eq!(duration(3600.0), "1 h");
        assert_eq!(duration(3.0 * 3600.0 + 5.0 * 60.0 + 9.0), "3 h 5 min");
        assert_eq!(duration(2.0 * 86_400.0 + 4.0 * 3600.0), "2 d 4 h");
        assert_eq!(duration(86_400.0 + 59.0), "1 d");
        assert_eq!(duration(-3.0), "0 s");
        assert_eq!(ago(2.0), "just now");
        assert_eq!(ago(125.0), "2 min ago");
        assert_eq!(latency(None), "–");
        assert_eq!(latency(Some(0.0424)), "42 ms");
        assert_eq!(latency(Some(2.25)), "2.2 s");
    }

    fn gpu(total: f64, used: f64) -> GpuDevice {
        GpuDevice {
            index: 0,
            name: "RTX".into(),
            memory_total_gb: total,
            memory_used_gb: used,
            memory_free_gb: total - used,
            utilization_percent: Some(40),
        }
    }

    #[test]
    fn the_memory_bar_measures_against_the_gpu_else_the_budget() {
        let declared = GpuReport::default();
        let bar = memory_bar(8.0, Some(16.0), &declared);
        assert_eq!((bar.share, bar.measured), (0.5, None));
        assert_eq!(bar.label, "8.0 GB of the 16.0 GB budget (declared)");
        let measured = GpuReport {
            source: "nvml".into(),
            reason: None,
            devices: vec![gpu(24.0, 6.0)],
        };
        let bar = memory_bar(12.0, Some(16.0), &measured);
        assert_eq!((bar.share, bar.measured), (0.5, Some(0.25)));
        assert!(
            bar.label.contains("6.0 GB in use (measured)"),
            "{}",
            bar.label
        );
        assert_eq!(memory_bar(4.0, None, &declared).share, 1.0);
        assert_eq!(
            memory_bar(0.0, None, &declared).label,
            "no GPU memory declared"
        );
        assert_eq!(memory_bar(40.0, Some(16.0), &declared).share, 1.0);
    }
}
