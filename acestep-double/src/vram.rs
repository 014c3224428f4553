//! The current server's VRAM pre-flight (`_vram_preflight_check`): before diffusion it estimates the memory
//! the activations need and fails the job with a readable reason when the GPU has less free.

/// `DIT_INFERENCE_VRAM_PER_BATCH`: GB per batch item without CFG (turbo) and with it (two forward passes).
const TURBO_GB: f64 = 0.3;
const CFG_GB: f64 = 0.6;
/// `VRAM_SAFETY_MARGIN_GB`.
const MARGIN_GB: f64 = 0.5;
/// What the double reports as free when a fault says it is short: less than any job needs.
pub(crate) const SHORT_FREE_GB: f64 = 0.4;

/// The job's error text. `seconds` is the target duration (upstream counts 60 s when none was given);
/// turbo runs without CFG whatever `guidance_scale` says.
pub(crate) fn shortage(
    batch: i64,
    seconds: Option<f64>,
    guidance_scale: f64,
    turbo: bool,
) -> String {
    let seconds = seconds.unwrap_or(60.0);
    let per_item = if !turbo && guidance_scale > 1.0 {
        CFG_GB
    } else {
        TURBO_GB
    };
    let needed = per_item * batch as f64 * (seconds / 60.0).max(1.0) + MARGIN_GB;
    format!(
        "Insufficient free VRAM: need ~{needed:.1} GB, only {SHORT_FREE_GB:.1} GB available. \
         Reduce batch size (currently {batch}) or audio duration (currently {seconds:.0}s)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_upstreams_with_the_jobs_numbers() {
        assert_eq!(
            shortage(1, Some(60.0), 7.0, true),
            "Insufficient free VRAM: need ~0.8 GB, only 0.4 GB available. \
             Reduce batch size (currently 1) or audio duration (currently 60s)."
        );
        assert!(
            shortage(2, Some(180.0), 7.0, false)
                .starts_with("Insufficient free VRAM: need ~4.1 GB,"),
            "CFG doubles the activations, long audio needs more"
        );
        assert!(shortage(1, None, 1.0, false).ends_with("(currently 60s)."));
    }
}
