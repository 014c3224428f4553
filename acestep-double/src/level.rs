//! Levels: the current server's peak normalisation of every saved file, the per-job gain of the
//! `level_jitter_db` fault, and the least-squares gain between two signals (how a scaled copy is recognised).

/// `normalization_db = -1.0`: the peak every file is scaled to.
pub(crate) const PEAK_DBFS: f64 = -1.0;

/// Scales every channel together so the peak sits at [`PEAK_DBFS`] (pure peak scaling, as upstream's
/// `normalize_audio`, so quiet files are raised too). Silence is left alone. Returns the gain applied.
pub(crate) fn normalise(channels: &mut [Vec<f32>]) -> f32 {
    let peak = channels
        .iter()
        .flatten()
        .fold(0.0f32, |peak, s| peak.max(s.abs()));
    if peak == 0.0 {
        return 1.0;
    }
    let gain = (db_to_gain(PEAK_DBFS) / f64::from(peak)) as f32;
    scale(channels, gain);
    gain
}

pub(crate) fn scale(channels: &mut [Vec<f32>], gain: f32) {
    for sample in channels.iter_mut().flatten() {
        *sample *= gain;
    }
}

pub(crate) fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// The gain of job number `job` under `level_jitter_db`: within [-jitter, 0] dB, spread by the golden ratio
/// so that consecutive jobs always differ by at least 38 % of the range (a model whose output level wanders).
pub(crate) fn jitter_gain(job: u64, jitter_db: f64) -> f32 {
    const GOLDEN: f64 = 0.618_033_988_749_895;
    let spread = (job as f64 * GOLDEN).fract();
    db_to_gain(-jitter_db * spread) as f32
}

/// The least-squares `g` with `scaled ≈ g · reference`, or `None` when the reference is silent.
pub(crate) fn fit_gain(reference: &[f64], scaled: &[f64]) -> Option<f64> {
    let (cross, power) = reference
        .iter()
        .zip(scaled)
        .fold((0.0, 0.0), |(cross, power), (r, s)| {
            (cross + r * s, power + r * r)
        });
    (power > 0.0).then(|| cross / power)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_puts_the_peak_at_minus_one_dbfs_whatever_the_level() {
        for level in [0.05f32, 0.5, 1.7] {
            let mut channels = vec![vec![0.0, level, -level / 2.0], vec![level / 4.0; 3]];
            let gain = normalise(&mut channels);
            let peak = channels
                .iter()
                .flatten()
                .fold(0.0f32, |p, s| p.max(s.abs()));
            assert!(
                (20.0 * f64::from(peak).log10() + 1.0).abs() < 1e-5,
                "{peak}"
            );
            assert!((gain * level - peak).abs() < 1e-6);
            assert_eq!(channels[0][2], -peak / 2.0, "one gain for the whole file");
        }
        let mut silence = vec![vec![0.0f32; 4]; 2];
        assert_eq!(normalise(&mut silence), 1.0);
        assert_eq!(silence, vec![vec![0.0; 4]; 2]);
    }

    #[test]
    fn jitter_stays_in_range_and_consecutive_jobs_differ() {
        let db = |job| 20.0 * f64::from(jitter_gain(job, 6.0)).log10();
        for job in 1..50 {
            assert!((-6.0..=0.0).contains(&db(job)), "{}", db(job));
            assert!((db(job) - db(job + 1)).abs() > 0.38 * 6.0 - 1e-3);
            assert_eq!(db(job), db(job), "deterministic");
        }
        assert_eq!(jitter_gain(7, 0.0), 1.0, "no jitter, no gain");
    }

    #[test]
    fn the_fitted_gain_undoes_a_scaling() {
        let reference = [0.1, -0.4, 0.25, 0.0];
        let scaled: Vec<f64> = reference.iter().map(|r| r * 0.43).collect();
        assert!((fit_gain(&reference, &scaled).unwrap() - 0.43).abs() < 1e-12);
        assert_eq!(fit_gain(&[0.0; 3], &[1.0; 3]), None);
    }
}
