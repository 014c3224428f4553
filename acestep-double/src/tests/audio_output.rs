//! What the current server saves, over real HTTP, against the February server where the two differ: the
//! splice and the peak normalisation of repaints, `aggressive`, the level faults, FLAC.

use serde_json::json;
use tsuzuki_audio::Audio;

use super::support::*;
use super::{finished, post_json, release, start};
use crate::{Faults, Mode, Options};

#[tokio::test]
async fn a_current_repaint_keeps_the_source_times_one_gain_and_peaks_at_minus_one_dbfs() {
    let url = start(current(Options::default())).await;
    let first = text2music(&url, 20.0).await;
    assert!(
        (peak_dbfs(&first) + 1.0).abs() < 0.01,
        "{}",
        peak_dbfs(&first)
    );
    let seed = seed(&first, 10.0, 0.0);
    let entry = repaint(&url, &seed, 10.0, json!({})).await;
    let (_, out) = download(&url, &entry).await;
    assert_eq!(out.frames(), seed.frames());
    let (gain, residual) = kept_fit(&out, &seed, 480_000);
    assert!(
        residual <= 1.5,
        "the kept 10 s are the seed times {gain}, off by {residual} steps"
    );
    assert!((peak_dbfs(&out) + 1.0).abs() < 0.01, "{}", peak_dbfs(&out));
    assert!(
        out.rms_dbfs_from(480_000) > -40.0,
        "new music after the kept region"
    );
}

#[tokio::test]
async fn february_repaints_keep_the_source_bit_for_bit_and_do_not_normalise() {
    let url = start(Options::default()).await;
    let first = text2music(&url, 20.0).await;
    assert!(
        (peak_dbfs(&first) + 1.0).abs() > 0.05,
        "{}",
        peak_dbfs(&first)
    );
    let seed = seed(&first, 10.0, 0.0);
    let (_, out) = download(&url, &repaint(&url, &seed, 10.0, json!({})).await).await;
    for (o, s) in out.channels.iter().zip(&seed.channels) {
        assert_eq!(o[..480_000], s[..480_000]);
    }
}

#[tokio::test]
async fn aggressive_changes_the_kept_region() {
    let url = start(current(Options::default())).await;
    let seed = seed(&text2music(&url, 20.0).await, 10.0, 0.0);
    let entry = repaint(&url, &seed, 10.0, json!({"repaint_mode": "aggressive"})).await;
    let (_, out) = download(&url, &entry).await;
    let (_, residual) = kept_fit(&out, &seed, 480_000);
    assert!(residual > 1000.0, "{residual}");
}

#[tokio::test]
async fn a_seed_scaled_by_the_client_still_continues_the_music() {
    let url = start(current(Options::default())).await;
    let first = text2music(&url, 20.0).await;
    let plain = download(
        &url,
        &repaint(&url, &seed(&first, 10.0, 0.0), 10.0, json!({})).await,
    )
    .await
    .1;
    let scaled = download(
        &url,
        &repaint(&url, &seed(&first, 10.0, -7.3), 10.0, json!({})).await,
    )
    .await
    .1;
    let new = |a: &Audio| Audio {
        sample_rate: 48_000,
        channels: a.channels.iter().map(|c| c[480_000..].to_vec()).collect(),
    };
    let (_, residual) = kept_fit(&new(&scaled), &new(&plain), 480_000);
    assert!(
        residual <= 2.0,
        "the same continuation at another level: {residual}"
    );
}

#[tokio::test]
async fn level_jitter_gives_consecutive_files_different_normalisation_gains() {
    let url = start(current(Options::default())).await;
    // A quiet seed, so the new material's peak sets the normalisation gain.
    let seed = seed(&text2music(&url, 20.0).await, 10.0, -16.0);
    let mut gains = Vec::new();
    for jitter in [0.0, 0.0, 6.0, 6.0, 6.0] {
        let set = json!({ "level_jitter_db": jitter });
        assert_eq!(post_json(&url, "/_double/faults", set).await.0, 200);
        let (_, out) = download(&url, &repaint(&url, &seed, 10.0, json!({})).await).await;
        gains.push(db(kept_fit(&out, &seed, 480_000).0));
    }
    assert!(
        (gains[0] - gains[1]).abs() < 0.01,
        "no jitter, same gain: {gains:?}"
    );
    for pair in gains[2..].windows(2) {
        assert!((pair[0] - pair[1]).abs() > 1.0, "{gains:?}");
    }
}

#[tokio::test]
async fn alter_overlap_next_changes_the_kept_region_of_the_next_repaint_only() {
    for mode in [Mode::February, Mode::Current] {
        let faults = Faults {
            alter_overlap_next: 1,
            ..Faults::default()
        };
        let url = start(with_faults(mode, faults)).await;
        let seed = seed(&text2music(&url, 20.0).await, 10.0, 0.0);
        let altered = download(&url, &repaint(&url, &seed, 10.0, json!({})).await)
            .await
            .1;
        assert!(kept_fit(&altered, &seed, 480_000).1 > 1000.0, "{mode:?}");
        let next = download(&url, &repaint(&url, &seed, 10.0, json!({})).await)
            .await
            .1;
        assert!(kept_fit(&next, &seed, 480_000).1 <= 1.5, "{mode:?}");
    }
}

#[tokio::test]
async fn flac_is_written_in_both_modes_and_served_as_audio_flac() {
    for mode in [Mode::February, Mode::Current] {
        let url = start(with_faults(mode, Faults::default())).await;
        let body = json!({"audio_format": "flac", "audio_duration": 6, "batch_size": 1});
        let entry = finished(&url, &release(&url, body).await).await;
        assert!(results(&entry)[0]["file"]
            .as_str()
            .unwrap()
            .ends_with(".flac"));
        let (content_type, audio) = download(&url, &entry).await;
        assert_eq!(content_type, "audio/flac");
        assert_eq!((audio.channels.len(), audio.frames()), (2, 150 * 1920));
        assert_eq!(
            (peak_dbfs(&audio) + 1.0).abs() < 0.01,
            mode == Mode::Current
        );
    }
}
