//! The real ACE-Step client (`backend::acestep::AceStep`) against the ACE-Step double over loopback HTTP:
//! what it sends, what it makes of every reply, and how each injected fault reaches the session.

use std::path::Path;
use std::time::Duration;

use acestep_double::{serve, Faults, Options};
use serde_json::{json, Value};
use tokio::sync::watch;
use tsuzuki_audio::{frames_in, seed, wav, Audio};

use super::{AceStep, Settings, LM_MODELS};
use crate::backend::{Backend, BackendError, Job, Task};

const RATE: u32 = 48_000;

struct Double {
    url: String,
    http: reqwest::Client,
}

async fn double(options: Options) -> Double {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, options, std::future::pending()));
    Double {
        url,
        http: reqwest::Client::new(),
    }
}

fn faulty(faults: Faults) -> Options {
    Options {
        faults,
        ..Options::default()
    }
}

impl Double {
    fn client(&self, api_key: Option<&str>) -> AceStep {
        client_for(&self.url, api_key)
    }

    async fn set_faults(&self, faults: Value) {
        let reply = self
            .http
            .post(format!("{}/_double/faults", self.url))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
    }

    async fn requests(&self) -> Vec<Value> {
        let reply = self
            .http
            .get(format!("{}/_double/requests", self.url))
            .send()
            .await
            .unwrap();
        reply.json().await.unwrap()
    }

    /// What each `/release_task` call asked for, in order.
    async fn releases(&self) -> Vec<Value> {
        self.requests()
            .await
            .into_iter()
            .filter_map(|r| r.get("release_task").cloned().filter(|r| !r.is_null()))
            .collect()
    }
}

fn client_for(url: &str, api_key: Option<&str>) -> AceStep {
    AceStep::new(Settings {
        url: url.to_string(),
        api_key: api_key.map(str::to_string),
        model: "acestep-v15-sft".into(),
        poll_interval: Duration::from_millis(20),
    })
    .unwrap()
}

fn job(task: Task, prompt: &str, seconds: f64) -> Job {
    Job {
        index: 1,
        task,
        prompt: prompt.into(),
        previous_prompt: None,
        duration_seconds: seconds,
        timeline_seconds: 0.0,
        session_seed: 7,
    }
}

fn text2music(seconds: f64) -> Job {
    job(Task::Text2Music, "warm analog synth pads", seconds)
}

async fn generate(backend: &AceStep, job: &Job) -> Result<Audio, BackendError> {
    backend.generate(job, &watch::channel(0.0).0).await
}

#[tokio::test]
async fn check_passes_when_the_double_answers_and_fails_when_nothing_listens() {
    let double = double(Options::default()).await;
    assert_eq!(double.client(None).check().await, Ok(()));

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
    let double = double(Options::default()).await;
    let audio = generate(&double.client(None), &text2music(60.0))
        .await
        .unwrap();
    assert_eq!(audio.sample_rate, RATE);
    assert_eq!(audio.channels.len(), 2);
    assert_eq!(audio.frames(), 2_880_000);
    assert!(
        audio.rms_dbfs_from(0) > -40.0,
        "the double made music, not silence"
    );

    let releases = double.releases().await;
    assert_eq!(releases.len(), 1);
    let sent = &releases[0];
    assert_eq!(sent["body"], "json");
    assert_eq!(sent["task_type"], "text2music");
    assert_eq!(sent["prompt"], "warm analog synth pads");
    assert_eq!(sent["audio_duration"], 60.0);
    assert_eq!(
        sent["batch_size"], 1,
        "the default of 2 would double the work"
    );
    assert_eq!(sent["audio_format"], "wav", "the default is mp3");
    assert_eq!(sent["thinking"], true);
    assert_eq!(sent["lm_backend"], "vllm");
    assert_eq!(sent["lm_model_path"], LM_MODELS[0]);
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
        "no key, no header"
    );
    assert!(requests
        .iter()
        .any(|r| r["path"] == "/v1/audio" && r["status"] == 200));
}

#[tokio::test]
async fn a_prompt_that_looks_like_a_number_or_a_boolean_is_sent_as_text() {
    let double = double(Options::default()).await;
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
    assert_eq!(prompts, [json!("true"), json!("1e3")]);
}

#[tokio::test]
async fn repaint_uploads_the_seed_and_keeps_its_overlap() {
    let double = double(Options::default()).await;
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
        "the whole source, in latent frames"
    );
    let keep = frames_in(overlap, RATE);
    for c in 0..2 {
        for i in 0..keep {
            let (got, want) = (second.channels[c][i], seed.channels[c][i]);
            assert!(
                (got - want).abs() <= 1.0 / 32767.0,
                "channel {c} frame {i}: {got} vs {want}"
            );
        }
        // The double continues its own timeline, so the new audio follows the overlap without a jump.
        let own = first.channels[c]
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        let seam = (second.channels[c][keep] - second.channels[c][keep - 1]).abs();
        assert!(seam <= own, "seam step {seam} > largest step {own}");
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
    assert_eq!(sent["audio_format"], "wav");
    assert_eq!(sent["thinking"], true);
    assert_eq!(sent["lm_backend"], "vllm");
    assert_eq!(sent["lm_model_path"], LM_MODELS[0]);
    assert_eq!(sent["model"], "acestep-v15-sft");
    assert_eq!(sent["audio_duration"], 12.0);
    assert!(
        Path::new(&seed_path).exists(),
        "the client leaves the seed to its owner"
    );
}

#[tokio::test]
async fn a_full_queue_is_busy() {
    let double = double(faulty(Faults {
        busy_next: 1,
        ..Faults::default()
    }))
    .await;
    let backend = double.client(None);
    assert_eq!(
        generate(&backend, &text2music(6.0)).await,
        Err(BackendError::Busy)
    );
    assert!(
        generate(&backend, &text2music(6.0)).await.is_ok(),
        "only the next call was busy"
    );
}

#[tokio::test]
async fn a_failed_text2music_job_fails_without_text_and_falls_back_to_the_smaller_lm() {
    let double = double(Options::default()).await;
    let backend = double.client(None);
    assert_eq!(backend.info().lm_model.as_deref(), Some(LM_MODELS[0]));
    double.set_faults(json!({"fail_next": 2})).await;
    assert_eq!(
        generate(&backend, &text2music(6.0)).await,
        Err(BackendError::Failed(String::new()))
    );
    assert_eq!(
        backend.info().lm_model.as_deref(),
        Some("acestep-5Hz-lm-1.7B")
    );
    assert!(matches!(
        generate(&backend, &text2music(6.0)).await,
        Err(BackendError::Failed(_))
    ));
    assert_eq!(
        backend.info().lm_model.as_deref(),
        Some("acestep-5Hz-lm-1.7B"),
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
        [
            json!(LM_MODELS[0]),
            json!(LM_MODELS[1]),
            json!(LM_MODELS[1])
        ]
    );
}

#[tokio::test]
async fn a_failed_repaint_keeps_the_lm() {
    let double = double(faulty(Faults {
        fail_next: 1,
        ..Faults::default()
    }))
    .await;
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
    assert_eq!(backend.info().lm_model.as_deref(), Some(LM_MODELS[0]));
}

#[tokio::test]
async fn an_empty_file_is_silence() {
    let double = double(faulty(Faults {
        silent_next: 1,
        ..Faults::default()
    }))
    .await;
    assert_eq!(
        generate(&double.client(None), &text2music(6.0)).await,
        Err(BackendError::Silent)
    );
}

#[tokio::test]
async fn a_dropped_connection_is_unreachable() {
    let double = double(Options::default()).await;
    let backend = double.client(None);
    double.set_faults(json!({"drop_next": 1})).await;
    assert!(matches!(
        backend.check().await,
        Err(BackendError::Unreachable { .. })
    ));
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
        "{outcome:?}"
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
        ]
    );
}

#[tokio::test]
async fn a_forgotten_task_fails_after_the_unknown_polls() {
    let double = double(faulty(Faults {
        forget_next: 1,
        ..Faults::default()
    }))
    .await;
    let outcome = generate(&double.client(None), &text2music(6.0)).await;
    assert!(
        matches!(&outcome, Err(BackendError::Failed(detail)) if detail.contains("no longer knows")),
        "{outcome:?}"
    );
    let polls = double
        .requests()
        .await
        .iter()
        .filter(|r| r["path"] == "/query_result")
        .count();
    assert_eq!(polls, 10);
}

#[tokio::test]
async fn with_an_api_key_only_the_right_key_works() {
    let double = double(Options {
        api_key: Some("s3cret".into()),
        ..Options::default()
    })
    .await;
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
        "release, polls and the download all carry the key"
    );
    for key in [Some("wrong"), None] {
        assert_eq!(
            generate(&double.client(key), &text2music(6.0)).await,
            Err(BackendError::Unauthorized),
            "{key:?}"
        );
    }
}

#[tokio::test]
async fn progress_rises_through_the_job_to_near_one() {
    let double = double(faulty(Faults {
        delay_ms: 800,
        ..Faults::default()
    }))
    .await;
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
        "progress went back: {seen:?}"
    );
    assert!(
        seen.iter().any(|p| (0.5..0.8).contains(p)),
        "diffusion not seen: {seen:?}"
    );
    assert!(*seen.last().unwrap() >= 0.9, "progress stopped at {seen:?}");
}
