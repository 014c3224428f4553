//! What differs between the servers: the current one loads lazily, lists its LMs, refuses a job for
//! want of GPU memory with a reason, and returns FLAC.

use std::time::{Duration, Instant};

use acestep_double::{Faults, Mode, Options};
use serde_json::json;
use tsuzuki_audio::{frames_in, seed, wav};

use super::super::lm::{LM_1_7B, LM_4B};
use super::*;

/// -1 dBFS, where the current server puts every file's peak.
const MINUS_1_DBFS: f64 = 0.891_25;

#[tokio::test]
async fn the_current_server_returns_flac_decoded_to_the_same_length_and_scale_as_wav() {
    let mut made = Vec::new();
    for mode in MODES {
        let double = double(mode, Options::default()).await;
        let audio = generate(&double.client(None), &text2music(20.0))
            .await
            .unwrap();
        assert_eq!(double.releases().await[0]["audio_format"], format_of(mode));
        made.push(audio);
    }
    let (wav, flac) = (&made[0], &made[1]);
    assert_eq!(
        (flac.sample_rate, flac.channels.len(), flac.frames()),
        (wav.sample_rate, wav.channels.len(), wav.frames())
    );
    // The current server normalises to -1 dBFS: read at the wrong scale, the peak would be far off.
    assert!(
        (f64::from(peak(flac)) - MINUS_1_DBFS).abs() < 1e-3,
        "FLAC peak {}",
        peak(flac)
    );
    // The same synthesizer behind both: the ratio of loudness to peak agrees within a few dB.
    let crest = |a: &Audio| a.rms_dbfs_from(0) - 20.0 * f64::from(peak(a)).log10();
    assert!(
        (crest(wav) - crest(flac)).abs() < 3.0,
        "crest factors {} and {}",
        crest(wav),
        crest(flac)
    );
}

#[tokio::test]
async fn warm_loads_the_models_through_init_and_the_next_job_does_not_pay_the_load() {
    let load = Duration::from_millis(2500);
    let options = Options {
        model_load_ms: load.as_millis() as u64,
        ..Options::default()
    };
    let double = double(Mode::Current, options).await;
    assert_eq!(double.health().await["models_initialized"], false);
    let backend = double.client(None);

    let started = Instant::now();
    backend.warm().await.unwrap();
    assert!(started.elapsed() >= load, "warm returned before the load");
    let health = double.health().await;
    assert_eq!(
        (
            &health["models_initialized"],
            &health["llm_initialized"],
            &health["loaded_lm_model"]
        ),
        (&json!(true), &json!(true), &json!(LM_4B)),
        "{health}"
    );
    assert_eq!(
        double
            .paths()
            .await
            .iter()
            .filter(|p| *p == "/v1/init")
            .count(),
        1
    );

    let started = Instant::now();
    generate(&backend, &text2music(6.0)).await.unwrap();
    assert!(
        started.elapsed() < load,
        "the job took {:?}: it paid the load",
        started.elapsed()
    );
    assert_eq!(
        double
            .paths()
            .await
            .iter()
            .filter(|p| *p == "/v1/init")
            .count(),
        1,
        "loaded once"
    );
    assert_eq!(backend.info().lm_fallback_reason, None);
}

#[tokio::test]
async fn warm_on_the_february_server_is_one_health_check() {
    let double = double(Mode::February, Options::default()).await;
    let backend = double.client(None);
    backend.warm().await.unwrap();
    generate(&backend, &text2music(6.0)).await.unwrap();
    let paths = double.paths().await;
    assert_eq!(paths[0], "/health");
    assert_eq!(
        paths.iter().filter(|p| *p == "/health").count(),
        1,
        "{paths:?}"
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("/v1/init") || p == "/v1/models"),
        "the snapshot has no /v1/init and loaded before it listened: {paths:?}"
    );
}

#[tokio::test]
async fn the_lm_is_the_best_one_the_server_lists() {
    let options = Options {
        lm_models: vec![LM_1_7B.to_string()],
        ..Options::default()
    };
    let double = double(Mode::Current, options).await;
    let backend = double.client(None);
    backend.warm().await.unwrap();
    let info = backend.info();
    assert_eq!(info.lm_model.as_deref(), Some(LM_1_7B));
    assert_eq!(
        info.lm_fallback_reason.as_deref(),
        Some("the server offers only acestep-5Hz-lm-1.7B")
    );
    assert_eq!(double.health().await["loaded_lm_model"], LM_1_7B);
    generate(&backend, &text2music(6.0)).await.unwrap();
    assert_eq!(double.releases().await[0]["lm_model_path"], LM_1_7B);
}

#[tokio::test]
async fn a_4b_short_of_vram_is_replaced_by_the_1_7b_with_the_servers_reason() {
    let options = faulty(Faults {
        lm_4b_short_of_vram: true,
        ..Faults::default()
    });
    let double = double(Mode::Current, options).await;
    let backend = double.client(None);
    let outcome = generate(&backend, &text2music(6.0)).await;
    let Err(BackendError::Failed(text)) = outcome else {
        panic!("the 4B job should fail: {outcome:?}");
    };
    assert!(text.starts_with("Insufficient free VRAM: need ~"), "{text}");
    let info = backend.info();
    assert_eq!(info.lm_model.as_deref(), Some(LM_1_7B));
    assert_eq!(info.lm_fallback_reason.as_deref(), Some(text.as_str()));
    assert_eq!(
        double.health().await["loaded_lm_model"],
        LM_1_7B,
        "switched on the server"
    );
    assert_eq!(
        (info.active.as_str(), info.bridge_reason),
        ("acestep", None),
        "the session's to set"
    );
    generate(&backend, &text2music(6.0))
        .await
        .expect("the retry on the 1.7B succeeds");
}

#[tokio::test]
async fn a_repaint_refused_for_vram_switches_the_lm_too() {
    let double = double(Mode::Current, Options::default()).await;
    let backend = double.client(None);
    let first = generate(&backend, &text2music(6.0)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("seed.wav");
    let seed = seed::build(&first, frames_in(2.0, RATE), frames_in(6.0, RATE));
    wav::write(&source, &seed).unwrap();
    double.set_faults(json!({"vram_next": 1})).await;
    let repaint = Task::Repaint {
        source,
        repainting_start: 2.0,
    };
    let outcome = generate(&backend, &job(repaint, "x", 6.0)).await;
    assert!(
        matches!(&outcome, Err(BackendError::Failed(t)) if t.starts_with("Insufficient free VRAM")),
        "{outcome:?}"
    );
    assert_eq!(backend.info().lm_model.as_deref(), Some(LM_1_7B));
}

#[tokio::test]
async fn a_repaint_asks_for_the_configured_mode_a_hard_mask_and_the_servers_format() {
    for mode in MODES {
        let double = double(mode, Options::default()).await;
        let backend = AceStep::new(Settings {
            repaint_mode: RepaintMode::Balanced,
            ..client_for(&double.url, None).settings
        })
        .unwrap();
        let first = generate(&backend, &text2music(6.0)).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("seed.wav");
        let seed = seed::build(&first, frames_in(2.0, RATE), frames_in(6.0, RATE));
        wav::write(&source, &seed).unwrap();
        let repaint = Task::Repaint {
            source,
            repainting_start: 2.0,
        };
        generate(&backend, &job(repaint, "x", 6.0)).await.unwrap();
        let releases = double.releases().await;
        let (text2music, repaint) = (&releases[0], &releases[1]);
        assert_eq!(repaint["repaint_mode"], "balanced", "{mode:?}");
        assert_eq!(repaint["chunk_mask_mode"], "explicit", "{mode:?}");
        assert_eq!(repaint["audio_format"], format_of(mode), "{mode:?}");
        assert_eq!(text2music["audio_format"], format_of(mode), "{mode:?}");
    }
}
