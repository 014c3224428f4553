//! Jobs on either server: what the client sends, what it makes of every reply, and how each injected
//! fault reaches the session.

use std::path::Path;
use std::time::Duration;

use acestep_double::{Faults, Mode, Options};
use serde_json::{json, Value};
use tokio::sync::watch;
use tsuzuki_audio::{frames_in, seed, wav, Audio};

use super::super::lm::{LM_1_7B, LM_4B};
use super::*;

#[tokio::test]
async fn check_passes_when_the_double_answers_and_fails_when_nothing_listens() {
    for mode in MODES {
        let double = double(mode, Options::default()).await;
        assert_eq!(double.client(None).check().await, Ok(()), "{mode:?}");
    }

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let nobody = client_for(&url, None);
    assert!(matches!(
        nobody.check().await,
        Err(BackendError::Unreachable { .. })
    ));
    assert!(matches!(
        generate(&nobody, &text2music(8.0)).await,
        Err(BackendError::Unreachable { url: u, .. }) if u == url
    ));
}

#[tokio::test]
async fn text2music_returns_the_whole_duration_in_48k_stereo_and_asks_as_tsuzuki_needs() {
    for mode in MODES {
        let double = double(mode, Options::default()).await;
        let audio = generate(&double.client(None), &text2music(60.0))
            .await
            .unwrap();
        assert_eq!(audio.sample_rate, RATE, "{mode:?}");
        assert_eq!(audio.channels.len(), 2, "{mode:?}");
        assert_eq!(audio.frames(), 2_880_000, "{mode:?}");
        assert!(
            audio.rms_dbfs_from(0) > -40.0,
            "{mode:?}: the double made music, not silence"
        );

        let releases = double.releases().await;
        assert_eq!(releases.len(), 1, "{mode:?}");
        let sent = &releases[0];
        assert_eq!(sent["body"], "json");
        assert_eq!(sent["task_type"], "text2music");
        assert_eq!(sent["prompt"], "warm analog synth pads");
        assert_eq!(sent["audio_duration"], 60.0);
        assert_eq!(
            sent["batch_size"], 1,
            "the default of 2 would double the work"
        );
        assert_eq!(
            sent["audio_format"],
            format_of(mode),
            "{mode:?}: lossless, where the default is mp3"
        );
        assert_eq!(sent["thinking"], true);
        assert_eq!(sent["lm_backend"], "vllm");
        assert_eq!(sent["lm_model_path"], LM_4B, "{mode:?}");
        assert_eq!(sent["model"], "acestep-v15-sft");
        assert_eq!(
            (sent["inference_steps"].clone(), sent["shift"].clone()),
            (json!(50), json!(1.0))
        );
        assert_eq!(sent["repainting_end"], Value::Null);
        assert_eq!(sent["src_audio_bytes"], Value::Null);
        let requests = double.requests().await;
        assert!(
            requests.iter().all(|r| r["authorization"] == false),
            "{mode:?}: no key, no header"
        );
        assert!(requests
            .iter()
            .any(|r| r["path"] == "/v1/audio" && r["status"] == 200));
    }
}

#[tokio::test]
async fn a_prompt_that_looks_like_a_number_or_a_boolean_is_sent_as_text() {
    for mode in MODES {
        let double = double(mode, Options::default()).await;
        for prompt in ["true", "1e3"] {
            generate(&double.client(None), &job(Task::Text2Music, prompt, 6.0))
                .await
                .unwrap();
        }
        let prompts: Vec<Value> = double
            .releases()
            .await
            .iter()
            .map(|r| r["prompt"].clone())
            .collect();
        assert_eq!(prompts, [json!("true"), json!("1e3")], "{mode:?}");
    }
}

/// The gain that best maps `want` onto `got` (least squares) and the largest difference left after it.
fn fitted(got: &[f32], want: &[f32]) -> (f64, f64) {
    let (mut gw, mut ww) = (0.0f64, 0.0f64);
    for (&g, &w) in got.iter().zip(want) {
        gw += f64::from(g) * f64::from(w);
        ww += f64::from(w) * f64::from(w);
    }
    let gain = gw / ww;
    let residual = got
        .iter()
        .zip(want)
        .map(|(&g, &w)| (f64::from(g) - gain * f64::from(w)).abs())
        .fold(0.0, f64::max);
    (gain, residual)
}

#[tokio::test]
async fn repaint_uploads_the_seed_and_keeps_its_overlap() {
    for mode in MODES {
        let double = double(mode, Options::default()).await;
        let backend = double.client(None);
        // 12 s of 16-bit stereo is more than axum's default 2 MB upload limit, which the double must not have.
        // 12.1 s comes back as 12.08 s (whole latent frames): a timeline end that is no round number.
        let first = generate(&backend, &text2music(12.1)).await.unwrap();
        assert_eq!(first.frames(), 302 * 1920);
        let overlap = 2.0;
        let dir = tempfile::tempdir().unwrap();
        let seed_path = dir.path().join("seed.wav");
        let seed = seed::build(&first, frames_in(overlap, RATE), frames_in(12.0, RATE));
        let seed_bytes = wav::write(&seed_path, &seed).unwrap();
        let seed = wav::read(&seed_path).unwrap();
        let repaint = Task::Repaint {
            source: seed_path.clone(),
            repainting_start: overlap,
        };
        let second = generate(&backend, &job(repaint, "warm analog synth pads", 12.0))
            .await
            .unwrap();

        assert_eq!((second.sample_rate, second.channels.len()), (RATE, 2));
        assert_eq!(
            second.frames(),
            12 * 48_000 / 1920 * 1920,
            "{mode:?}: the whole source, in latent frames"
        );
        let keep = frames_in(overlap, RATE);
        // The current server splices the source back with a 50 ms crossfade at the window's edge, and
        // then scales the whole file to a peak of -1 dBFS: the overlap is the seed times one gain.
        let kept = keep - frames_in(0.05, RATE);
        let gains: Vec<f64> = (0..2)
            .map(|c| {
                let (gain, residual) =
                    fitted(&second.channels[c][..kept], &seed.channels[c][..kept]);
                assert!(
                    residual <= 1.5 / 32767.0,
                    "{mode:?} channel {c}: off by {residual} after the gain {gain}"
                );
                gain
            })
            .collect();
        assert!(
            (gains[0] - gains[1]).abs() < 1e-3,
            "{mode:?}: one gain for the file, not {gains:?}"
        );
        match mode {
            Mode::February => assert!((gains[0] - 1.0).abs() < 1e-3, "{gains:?}"),
            Mode::Current => assert!(
                (f64::from(peak(&second)) - 0.891_25).abs() < 1e-3,
                "peak {} is not -1 dBFS",
                peak(&second)
            ),
        }
        // The double continues its own timeline, so the new audio follows the overlap without a jump:
        // no larger than the largest step anywhere else in the file. Not on the current server: there
        // the new part comes at the model's own level while the overlap keeps the seed's, which carries
        // the first file's normalisation gain; undoing that is the session's levelling, not the client's.
        let seams = match mode {
            Mode::February => &second.channels[..],
            Mode::Current => &[],
        };
        for channel in seams {
            let step = |i: usize| (channel[i] - channel[i - 1]).abs();
            let seam = step(keep);
            let own = (1..channel.len())
                .filter(|&i| i != keep)
                .map(step)
                .fold(0.0, f32::max);
            assert!(
                seam <= own,
                "{mode:?}: seam step {seam} > largest step {own}"
            );
        }
        assert!(
            second.rms_dbfs_from(keep) > -40.0,
            "the repainted part is music"
        );

        let releases = double.releases().await;
        let sent = &releases[1];
        assert_eq!(sent["body"], "multipart");
        assert_eq!(sent["task_type"], "repaint");
        assert_eq!(sent["src_audio_bytes"], seed_bytes);
        assert_eq!(sent["repainting_start"], overlap);
        assert_eq!(sent["repainting_end"], -1.0);
        assert_eq!(sent["batch_size"], 1);
        assert_eq!(sent["audio_format"], format_of(mode));
        assert_eq!(sent["thinking"], true);
        assert_eq!(sent["lm_backend"], "vllm");
        assert_eq!(sent["lm_model_path"], LM_4B);
        assert_eq!(sent["model"], "acestep-v15-sft");
        assert_eq!(sent["audio_duration"], 12.0);
        assert!(
            Path::new(&seed_path).exists(),
            "the client leaves the seed to its owner"
        );
    }
}

#[tokio::test]
async fn a_full_queue_is_busy() {
    for mode in MODES {
        let options = faulty(Faults {
            busy_next: 1,
            ..Faults::default()
        });
        let double = double(mode, options).await;
        let backend = double.client(None);
        assert_eq!(
            generate(&backend, &text2music(6.0)).await,
            Err(BackendError::Busy),
            "{mode:?}"
        );
        assert!(
            generate(&backend, &text2music(6.0)).await.is_ok(),
            "{mode:?}: only the next call was busy"
        );
    }
}

#[tokio::test]
async fn a_failed_text2music_job_fails_without_text_and_falls_back_to_the_smaller_lm() {
    for mode in MODES {
        let double = double(mode, Options::default()).await;
        let backend = double.client(None);
        assert_eq!(backend.info().lm_model.as_deref(), Some(LM_4B));
        double.set_faults(json!({"fail_next": 2})).await;
        assert_eq!(
            generate(&backend, &text2music(6.0)).await,
            Err(BackendError::Failed(String::new())),
            "{mode:?}"
        );
        let info = backend.info();
        assert_eq!(info.lm_model.as_deref(), Some(LM_1_7B), "{mode:?}");
        assert!(
            info.lm_fallback_reason
                .as_deref()
                .is_some_and(|r| r.contains("failed without a reason")),
            "{mode:?}: {info:?}"
        );
        assert!(matches!(
            generate(&backend, &text2music(6.0)).await,
            Err(BackendError::Failed(_))
        ));
        assert_eq!(
            backend.info().lm_model.as_deref(),
            Some(LM_1_7B),
            "no smaller LM to try"
        );
        generate(&backend, &text2music(6.0)).await.unwrap();
        let models: Vec<Value> = double
            .releases()
            .await
            .iter()
            .map(|r| r["lm_model_path"].clone())
            .collect();
        assert_eq!(
            models,
            [json!(LM_4B), json!(LM_1_7B), json!(LM_1_7B)],
            "{mode:?}"
        );
        // The current server keeps the LM it loaded whatever a request names: it must be told to switch.
        let inits = double
            .requests()
            .await
            .iter()
            .filter(|r| r["path"] == "/v1/init")
            .count();
        let want = match mode {
            Mode::February => 0,
            Mode::Current => 2,
        };
        assert_eq!(inits, want, "{mode:?}: the warm-up and the switch");
    }
}

#[tokio::test]
async fn a_failed_repaint_keeps_the_lm() {
    for mode in MODES {
        let options = faulty(Faults {
            fail_next: 1,
            ..Faults::default()
        });
        let double = double(mode, options).await;
        let backend = double.client(None);
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("seed.wav");
        wav::write(&source, &Audio::silence(RATE, 2, frames_in(6.0, RATE))).unwrap();
        let repaint = Task::Repaint {
            source,
            repainting_start: 2.0,
        };
        assert!(matches!(
            generate(&backend, &job(repaint, "x", 6.0)).await,
            Err(BackendError::Failed(_))
        ));
        let info = backend.info();
        assert_eq!(info.lm_model.as_deref(), Some(LM_4B), "{mode:?}");
        assert_eq!(info.lm_fallback_reason, None, "{mode:?}");
    }
}

#[tokio::test]
async fn an_empty_file_is_silence() {
    for mode in MODES {
        let options = faulty(Faults {
            silent_next: 1,
            ..Faults::default()
        });
        let double = double(mode, options).await;
        assert_eq!(
            generate(&double.client(None), &text2music(6.0)).await,
            Err(BackendError::Silent),
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn a_dropped_connection_is_unreachable() {
    for mode in MODES {
        let double = double(mode, Options::default()).await;
        let backend = double.client(None);
        double.set_faults(json!({"drop_next": 1})).await;
        assert!(matches!(
            backend.check().await,
            Err(BackendError::Unreachable { .. })
        ));
        // Warm now, so the next dropped request is the job's own and not the first job's warm-up.
        backend.warm().await.unwrap();
        double.set_faults(json!({"drop_next": 1})).await;
        assert!(matches!(
            generate(&backend, &text2music(6.0)).await,
            Err(BackendError::Unreachable { .. })
        ));
        // Dropped while polling: the release answered, the first poll does not.
        double
            .set_faults(json!({"drop_next": 0, "delay_ms": 200}))
            .await;
        let polling = async {
            let released = |r: &Value| r["path"] == "/release_task" && r["status"] == 200;
            while !double.requests().await.iter().any(released) {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            double.set_faults(json!({"drop_next": 1})).await;
        };
        let slow = text2music(6.0);
        let (outcome, ()) = tokio::join!(generate(&backend, &slow), polling);
        assert!(
            matches!(outcome, Err(BackendError::Unreachable { .. })),
            "{mode:?}: {outcome:?}"
        );
        let dropped: Vec<Value> = double
            .requests()
            .await
            .into_iter()
            .filter(|r| r["dropped"] == true)
            .map(|r| r["path"].clone())
            .collect();
        assert_eq!(
            dropped,
            [
                json!("/health"),
                json!("/release_task"),
                json!("/query_result")
            ],
            "{mode:?}"
        );
    }
}

#[tokio::test]
async fn a_forgotten_task_fails_after_the_unknown_polls() {
    for mode in MODES {
        let options = faulty(Faults {
            forget_next: 1,
            ..Faults::default()
        });
        let double = double(mode, options).await;
        let outcome = generate(&double.client(None), &text2music(6.0)).await;
        assert!(
            matches!(&outcome, Err(BackendError::Failed(detail)) if detail.contains("no longer knows")),
            "{mode:?}: {outcome:?}"
        );
        let polls = double
            .requests()
            .await
            .iter()
            .filter(|r| r["path"] == "/query_result")
            .count();
        assert_eq!(polls, 10, "{mode:?}");
    }
}

#[tokio::test]
async fn with_an_api_key_only_the_right_key_works() {
    for mode in MODES {
        let options = Options {
            api_key: Some("s3cret".into()),
            ..Options::default()
        };
        let double = double(mode, options).await;
        let right = double.client(Some("s3cret"));
        assert_eq!(right.check().await, Ok(()));
        let audio = generate(&right, &text2music(6.0)).await.unwrap();
        assert_eq!(audio.frames(), frames_in(6.0, RATE));
        let requests = double.requests().await;
        assert!(
            requests
                .iter()
                .filter(|r| r["path"] != "/health")
                .all(|r| r["authorization"] == true),
            "{mode:?}: the model listing and loading, release, polls and the download all carry the key"
        );
        for key in [Some("wrong"), None] {
            assert_eq!(
                generate(&double.client(key), &text2music(6.0)).await,
                Err(BackendError::Unauthorized),
                "{mode:?} {key:?}"
            );
        }
    }
}

#[tokio::test]
async fn progress_rises_through_the_job_to_near_one() {
    for mode in MODES {
        let options = faulty(Faults {
            delay_ms: 800,
            ..Faults::default()
        });
        let double = double(mode, options).await;
        let (progress, mut updates) = watch::channel(0.0f32);
        let recorder = tokio::spawn(async move {
            let mut seen = Vec::new();
            while updates.changed().await.is_ok() {
                seen.push(*updates.borrow_and_update());
            }
            seen
        });
        double
            .client(None)
            .generate(&text2music(6.0), &progress)
            .await
            .unwrap();
        drop(progress);
        let seen = recorder.await.unwrap();
        assert!(
            seen.windows(2).all(|w| w[0] <= w[1]),
            "{mode:?}: progress went back: {seen:?}"
        );
        assert!(
            seen.iter().any(|p| (0.5..0.8).contains(p)),
            "{mode:?}: diffusion not seen: {seen:?}"
        );
        assert!(
            *seen.last().unwrap() >= 0.9,
            "{mode:?}: progress stopped at {seen:?}"
        );
    }
}
