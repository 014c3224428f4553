//! The session loop against the ACE-Step double in both of its modes (the February server and the current
//! one, which peak-normalises every file and loads its models lazily): joins that keep their level, steady
//! loudness, the synthesizer bridging a cold or dead model, and the model taking over again.

mod common;

use acestep_double::{Faults, Mode, Options};
use app::api::{BridgeReason, SessionState, StartingPhase, Status};
use clap::Parser;
use common::{spawn, Server};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tsuzuki::config::{Config, RawSettings};
use tsuzuki_audio::{loudness, wav, Audio};

/// Upstream crossfades source and new material at the end of the overlap: left out of level comparisons.
const SPLICE_FRAMES: usize = 48_000;

/// The double, served in-process until dropped (or stopped).
struct Double {
    url: String,
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<()>,
}

impl Double {
    async fn start(options: Options) -> Double {
        Double::on(TcpListener::bind("127.0.0.1:0").await.unwrap(), options)
    }

    fn on(listener: TcpListener, options: Options) -> Double {
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            let _ = acestep_double::serve(listener, options, async {
                let _ = stopped.await;
            })
            .await;
        });
        Double {
            url: format!("http://127.0.0.1:{port}"),
            port,
            stop: Some(stop),
            served,
        }
    }

    /// Stops serving and waits until the port is closed, like a model server that died.
    async fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.served).await.unwrap();
    }

    /// A new double on the same port, like the model server coming back.
    async fn revive(&mut self, options: Options) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        *self = Double::on(listener, options);
    }

    async fn set_faults(&self, faults: Value) {
        let reply = reqwest::Client::new()
            .post(format!("{}/_double/faults", self.url))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success());
    }

    /// The paths of the API requests the double received, in order.
    async fn paths(&self) -> Vec<String> {
        let log: Vec<Value> = reqwest::get(format!("{}/_double/requests", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log.iter()
            .map(|r| r["path"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        self.served.abort();
    }
}

/// A server on ACE-Step at `url` with 8 s segments and a 2 s overlap, plus `extra` flags.
async fn server(url: &str, extra: &[&str]) -> Server {
    with_lengths(url, "8", "2", extra).await
}

async fn with_lengths(url: &str, segment: &str, overlap: &str, extra: &[&str]) -> Server {
    let mut args = vec![
        "tsuzuki",
        "--backend",
        "acestep",
        "--acestep-url",
        url,
        "--acestep-model",
        "acestep-v15-turbo",
        "--segment-seconds",
        segment,
        "--overlap-seconds",
        overlap,
        "--poll-interval-ms",
        "20",
        "--retry-backoff-ms",
        "20",
    ];
    args.extend_from_slice(extra);
    let raw = RawSettings::try_parse_from(args).unwrap();
    spawn(Config::load(raw, None).unwrap()).await
}

/// A downloaded segment and whether the server says it continues the one before.
struct Got {
    audio: Audio,
    correlated: bool,
}

async fn get(server: &Server, index: u64) -> Got {
    let reply = server.get(&format!("/audio/{index}.wav")).await;
    assert_eq!(reply.status(), 200, "segment {index}");
    let correlated = match reply.headers()["x-join-correlated"].to_str().unwrap() {
        "true" => true,
        "false" => false,
        other => panic!("X-Join-Correlated: {other}"),
    };
    let bytes = reply.bytes().await.unwrap();
    Got {
        audio: wav::decode(&bytes).unwrap(),
        correlated,
    }
}

/// Waits until segment `index` is ready, then downloads it.
async fn next(server: &Server, index: u64) -> (Status, Got) {
    let status = server
        .wait_for(60, |s| {
            assert_ne!(s.state, SessionState::Error, "{s:?}");
            s.segment_index >= Some(index)
        })
        .await;
    (status, get(server, index).await)
}

fn rms_db(audio: &Audio, from: usize, to: usize) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for channel in &audio.channels {
        for &s in &channel[from..to] {
            sum += f64::from(s) * f64::from(s);
            n += 1;
        }
    }
    10.0 * (sum / n as f64).log10()
}

/// The level step a listener hears when the crossfade hands segment `a` over to `b`: the same music, so
/// the overlap's level in `b` against the same stretch at the end of `a`.
fn join_step_db(a: &Audio, b: &Audio, overlap_frames: usize) -> f64 {
    let tail = a.frames() - overlap_frames;
    let span = overlap_frames - SPLICE_FRAMES;
    rms_db(b, 0, span) - rms_db(a, tail, tail + span)
}

/// The frames of `audio` from `from` on.
fn after_overlap(audio: &Audio, from: usize) -> Audio {
    Audio {
        sample_rate: audio.sample_rate,
        channels: audio.channels.iter().map(|c| c[from..].to_vec()).collect(),
    }
}

#[tokio::test]
async fn every_join_keeps_its_level_and_the_loudness_holds_steady_on_both_servers() {
    for mode in [Mode::February, Mode::Current] {
        let double = Double::start(Options {
            mode,
            faults: Faults {
                level_jitter_db: 9.0,
                ..Faults::default()
            },
            ..Options::default()
        })
        .await;
        // 20 s segments: an 8 s segment's integrated loudness is too short a measure to hold within 1 LU.
        let server = with_lengths(&double.url, "20", "5", &[]).await;
        server.post("/session/start", json!({})).await;
        let mut segments = Vec::new();
        for index in 0..10 {
            segments.push(next(&server, index).await.1);
        }
        let status = server.status().await;
        assert_eq!(status.backend.active, "acestep", "{mode:?}: {status:?}");
        let join = status.last_join.expect("a join");
        assert!(join.correlated && join.segment >= 9, "{mode:?}: {join:?}");
        let mut repaints = 0;
        for (n, pair) in segments.windows(2).enumerate() {
            if pair[1].correlated {
                repaints += 1;
                let step = join_step_db(&pair[0].audio, &pair[1].audio, 240_000);
                assert!(
                    step.abs() < 0.1,
                    "{mode:?}: the join into segment {} steps by {step:.2} dB",
                    n + 1
                );
            }
        }
        assert!(repaints >= 7, "{mode:?}: the model continued its music");
        // What the levelling answers for: each segment's own music, after the overlap it keeps (the
        // overlap is the previous segment's, and the music's own sections differ by more than 1 LU over
        // 20 s whatever the levelling does).
        let lufs: Vec<f64> = segments
            .iter()
            .map(|s| loudness::integrated_lufs(&after_overlap(&s.audio, 240_000)))
            .collect();
        for (n, value) in lufs.iter().enumerate() {
            assert!(
                (value + 16.0).abs() < 0.5,
                "{mode:?}: segment {n}'s new music is at {value:.2} LUFS ({lufs:?})"
            );
        }
        for s in &segments {
            assert!(loudness::true_peak_dbtp(&s.audio) <= -0.9, "{mode:?}");
        }
    }
}

#[tokio::test]
async fn an_overlap_the_model_changed_is_marked_as_different_music_and_keeps_its_loudness() {
    let double = Double::start(Options {
        mode: Mode::Current,
        ..Options::default()
    })
    .await;
    let server = server(&double.url, &[]).await;
    server.post("/session/start", json!({})).await;
    let mut segments = Vec::new();
    for index in 0..4 {
        segments.push(next(&server, index).await.1);
    }
    assert!(segments[3].correlated);
    double.set_faults(json!({ "alter_overlap_next": 1 })).await;
    // Segment 4 was released before the fault: the altered one is 5.
    let mut altered = None;
    for index in 4..7 {
        let (status, got) = next(&server, index).await;
        if !got.correlated {
            let join = status.last_join.unwrap();
            assert!(!join.correlated && join.residual_db > -20.0, "{join:?}");
            altered = Some(index as usize);
        }
        segments.push(got);
    }
    let altered = altered.expect("the altered overlap was noticed");
    let (a, b) = (&segments[altered - 1].audio, &segments[altered].audio);
    let step = loudness::integrated_lufs(b) - loudness::integrated_lufs(a);
    assert!(step.abs() < 1.0, "{step:.2} LU");
}

#[tokio::test]
async fn a_cold_model_is_bridged_by_the_synthesizer_and_takes_over_when_loaded() {
    let double = Double::start(Options {
        mode: Mode::Current,
        model_load_ms: 1_500,
        faults: Faults {
            first_delay_ms: 1_500,
            ..Faults::default()
        },
        ..Options::default()
    })
    .await;
    let server = server(&double.url, &[]).await;
    server.post("/session/start", json!({})).await;
    let (status, first) = next(&server, 0).await;
    assert_eq!(status.backend.active, "synth", "{status:?}");
    assert_eq!(
        status.backend.bridge_reason,
        Some(BridgeReason::ModelLoading)
    );
    assert!(!first.correlated);
    let mut index = 1;
    let taken_over = loop {
        let (status, got) = next(&server, index).await;
        if status.backend.active == "acestep" {
            break got;
        }
        assert!(index < 12, "the model never took over: {status:?}");
        index += 1;
    };
    assert!(
        !taken_over.correlated,
        "the model's first segment is new music, crossfaded with equal power"
    );
    let paths = double.paths().await;
    let init = paths.iter().position(|p| p == "/v1/init");
    let release = paths.iter().position(|p| p == "/release_task");
    assert!(
        init.is_some() && init < release,
        "the model was loaded before its first job: {paths:?}"
    );
    // From here the model continues its own music.
    let (status, got) = next(&server, index + 1).await;
    assert_eq!(
        (status.backend.active.as_str(), status.backend.bridge_reason),
        ("acestep", None)
    );
    assert!(got.correlated);
}

#[tokio::test]
async fn a_model_that_dies_mid_session_is_bridged_and_rejoined_when_it_answers_again() {
    let options = || Options {
        mode: Mode::Current,
        ..Options::default()
    };
    let mut double = Double::start(options()).await;
    let server = server(&double.url, &["--max-attempts", "2"]).await;
    server.post("/session/start", json!({})).await;
    let mut index = 0;
    while server.status().await.backend.active != "acestep" || index < 2 {
        next(&server, index).await;
        index += 1;
    }
    double.kill().await;
    let bridged = loop {
        let (status, _) = next(&server, index).await;
        index += 1;
        if status.backend.active == "synth" {
            break status;
        }
        assert!(index < 20, "never bridged: {status:?}");
    };
    assert_eq!(
        bridged.backend.bridge_reason,
        Some(BridgeReason::Unreachable)
    );
    // The page can say what went wrong in the client's own words, not only that something did.
    let detail = bridged.backend.bridge_detail.clone().unwrap_or_default();
    assert!(detail.contains("cannot be reached"), "{detail}");
    // The music goes on without the model.
    for _ in 0..2 {
        let (status, got) = next(&server, index).await;
        assert_eq!(status.backend.active, "synth");
        assert!(got.audio.rms_dbfs_from(0) > -40.0);
        index += 1;
    }
    double.revive(options()).await;
    loop {
        let (status, _) = next(&server, index).await;
        index += 1;
        if status.backend.active == "acestep" {
            assert_eq!(status.backend.bridge_detail, None, "the failure is over");
            break;
        }
        assert!(index < 40, "never returned to the model: {status:?}");
    }
}

#[tokio::test]
async fn without_the_bridge_the_session_waits_for_the_model_and_reports_its_failures() {
    let double = Double::start(Options {
        mode: Mode::Current,
        model_load_ms: 1_000,
        ..Options::default()
    })
    .await;
    let server = server(&double.url, &["--no-bridge", "--max-attempts", "2"]).await;
    server.post("/session/start", json!({})).await;
    let loading = server
        .wait_for(30, |s| {
            s.starting
                .as_ref()
                .is_some_and(|st| st.phase == StartingPhase::LoadingModel)
        })
        .await;
    assert_eq!(loading.state, SessionState::Starting);
    let status = server.wait_for(30, |s| s.segment_index == Some(0)).await;
    assert_eq!(
        (status.backend.active.as_str(), status.backend.bridge_reason),
        ("acestep", None)
    );
    // Every job from segment 1 on fails.
    double.set_faults(json!({ "fail_next": 100 })).await;
    get(&server, 0).await;
    let failed = server
        .wait_for(30, |s| s.state == SessionState::Error)
        .await;
    assert!(
        failed.error.unwrap().message.contains("after 2 tries"),
        "today's behaviour: an error, not the synthesizer"
    );
}
