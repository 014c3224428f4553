//! Real GPU readings from NVIDIA's management library (NVML), loaded at run time: the binary runs the same
//! on a machine without the driver, and then the declared figures (`gpu_memory_gb`) are all there is, which
//! the API says. With readings, GPU admission counts the memory really free, so a service is not started
//! into memory something else (a desktop, another program) already holds.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use app::api::{GpuDevice, GpuReport};
use nvml_wrapper::Nvml;

/// Readings are reused this long: admission and the API may ask many times a second.
const FRESH_FOR: Duration = Duration::from_millis(500);

pub struct GpuMonitor {
    nvml: Result<Nvml, String>,
    last: Mutex<Option<(Instant, GpuReport)>>,
}

impl GpuMonitor {
    /// Loads NVML if the machine has it; says why not otherwise.
    pub fn new() -> GpuMonitor {
        let nvml = Nvml::init().map_err(|e| {
            format!("NVIDIA's NVML (libnvidia-ml.so.1) is not available ({e}): GPU memory is as declared")
        });
        match &nvml {
            Ok(_) => tracing::info!("GPU readings from NVML"),
            Err(why) => tracing::debug!("{why}"),
        }
        GpuMonitor {
            nvml,
            last: Mutex::new(None),
        }
    }

    /// What the GPUs hold now, or why that is not known.
    pub fn report(&self) -> GpuReport {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, report)) = last.as_ref() {
            if at.elapsed() < FRESH_FOR {
                return report.clone();
            }
        }
        let report = match &self.nvml {
            Ok(nvml) => match read(nvml) {
                Ok(devices) => GpuReport {
                    source: "nvml".into(),
                    reason: None,
                    devices,
                },
                Err(e) => declared(format!("NVML could not be read: {e}")),
            },
            Err(why) => declared(why.clone()),
        };
        *last = Some((Instant::now(), report.clone()));
        report
    }

    /// GB free on all GPUs together, when measured.
    pub fn free_gb(&self) -> Option<f64> {
        free_gb(&self.report())
    }
}

impl Default for GpuMonitor {
    fn default() -> GpuMonitor {
        GpuMonitor::new()
    }
}

fn declared(reason: String) -> GpuReport {
    GpuReport {
        source: "declared".into(),
        reason: Some(reason),
        devices: Vec::new(),
    }
}

fn read(nvml: &Nvml) -> Result<Vec<GpuDevice>, nvml_wrapper::error::NvmlError> {
    const GB: f64 = 1e9;
    let mut devices = Vec::new();
    for index in 0..nvml.device_count()? {
        let device = nvml.device_by_index(index)?;
        let memory = device.memory_info()?;
        devices.push(GpuDevice {
            index,
            name: device.name()?,
            memory_total_gb: memory.total as f64 / GB,
            memory_used_gb: memory.used as f64 / GB,
            memory_free_gb: memory.free as f64 / GB,
            // Utilisation is not supported on every board; memory is what admission needs.
            utilization_percent: device.utilization_rates().ok().map(|u| u.gpu),
        });
    }
    Ok(devices)
}

/// GB free on all GPUs together; `None` when nothing was measured.
pub(crate) fn free_gb(report: &GpuReport) -> Option<f64> {
    (report.source == "nvml" && !report.devices.is_empty())
        .then(|| report.devices.iter().map(|d| d.memory_free_gb).sum())
}

/// Prometheus gauges of each GPU, when measured.
pub fn render(report: &GpuReport, out: &mut String) {
    use std::fmt::Write;
    type Reading = fn(&GpuDevice) -> Option<f64>;
    let families: [(&str, &str, Reading); 4] = [
        (
            "tsuzuki_gpu_memory_total_bytes",
            "GPU memory on the board.",
            |d| Some(d.memory_total_gb * 1e9),
        ),
        (
            "tsuzuki_gpu_memory_used_bytes",
            "GPU memory in use, by anyone.",
            |d| Some(d.memory_used_gb * 1e9),
        ),
        ("tsuzuki_gpu_memory_free_bytes", "GPU memory free.", |d| {
            Some(d.memory_free_gb * 1e9)
        }),
        (
            "tsuzuki_gpu_utilization_percent",
            "GPU busy over the last sample period.",
            |d| d.utilization_percent.map(f64::from),
        ),
    ];
    let _ = writeln!(
        out,
        "# HELP tsuzuki_gpu_readings 1 when GPU figures are measured (NVML), 0 when only declared.\n\
         # TYPE tsuzuki_gpu_readings gauge\ntsuzuki_gpu_readings {}",
        u8::from(report.source == "nvml")
    );
    for (name, help, value) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for d in &report.devices {
            if let Some(v) = value(d) {
                let _ = writeln!(out, "{name}{{gpu=\"{}\",name=\"{}\"}} {v}", d.index, d.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As NVML reported an RTX 4090 with a desktop session and ACE-Step loaded, and an idle A100.
    fn recorded() -> GpuReport {
        GpuReport {
            source: "nvml".into(),
            reason: None,
            devices: vec![
                GpuDevice {
                    index: 0,
                    name: "NVIDIA GeForce RTX 4090".into(),
                    memory_total_gb: 25.757,
                    memory_used_gb: 21.874,
                    memory_free_gb: 3.883,
                    utilization_percent: Some(87),
                },
                GpuDevice {
                    index: 1,
                    name: "NVIDIA A100-SXM4-40GB".into(),
                    memory_total_gb: 42.949,
                    memory_used_gb: 0.431,
                    memory_free_gb: 42.518,
                    utilization_percent: None,
                },
            ],
        }
    }

    #[test]
    fn free_memory_is_summed_only_when_measured() {
        let free = free_gb(&recorded()).unwrap();
        assert!((free - 46.401).abs() < 1e-9, "{free}");
        assert_eq!(free_gb(&declared("no driver".into())), None);
    }

    #[test]
    fn the_gauges_name_each_gpu_and_skip_what_was_not_read() {
        let mut text = String::new();
        render(&recorded(), &mut text);
        assert!(text.contains("tsuzuki_gpu_readings 1"));
        assert!(text.contains(
            "tsuzuki_gpu_memory_free_bytes{gpu=\"0\",name=\"NVIDIA GeForce RTX 4090\"} 3883000000"
        ));
        assert!(text.contains("tsuzuki_gpu_utilization_percent{gpu=\"0\","));
        assert!(!text.contains("tsuzuki_gpu_utilization_percent{gpu=\"1\","));
        let mut none = String::new();
        render(&declared("no driver".into()), &mut none);
        assert!(none.contains("tsuzuki_gpu_readings 0"));
    }
}
