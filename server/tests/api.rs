//! The HTTP API over real HTTP, on the embedded synthesizer: the session loop, downloads, storage, and
//! bad input.

mod common;

use std::time::Duration;

use app::api::{SessionState, DEFAULT_PROMPT};
use common::{short, spawn, Server};
use serde_json::{json, Value};
use tsuzuki_audio::{wav, Audio};

async fn download(server: &Server, path: &str) -> (u64, Audio) {
    let reply = server.get(path).await;
    assert_eq!(reply.status(), 200, "{path}");
    assert_eq!(reply.headers()["cache-control"], "no-cache");
    assert_eq!(reply.headers()["content-type"], "audio/wav");
    let index = reply.headers()["x-segment-index"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = common::declared_body(reply).await;
    (index, wav::decode(&bytes).unwrap())
}

/// The files segment `n` is stored as.
fn segment_files(n: u64) -> [String; 2] {
    [
        format!("segment-{n:06}.flac"),
        format!("segment-{n:06}.opus"),
    ]
}

async fn error_of(reply: reqwest::Response) -> (u16, String, String) {
    let status = reply.status().as_u16();
    let body: Value = reply.json().await.unwrap();
    (
        status,
        body["error"]["code"].as_str().unwrap().to_string(),
        body["error"]["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn play_gives_a_first_segment_of_real_music() {
    let server = spawn(short(std::path::Path::new("unused"))).await;
    let idle = server.status().await;
    assert_eq!(
        (idle.state, idle.session_id, idle.segment_index),
        (SessionState::Idle, None, None)
    );

    let started: Value = server
        .post("/session/start", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(started["session_id"].is_string());
    assert_eq!(started["prompt"], DEFAULT_PROMPT);
    let status = server.wait_for(30, |s| s.segment_index == Some(0)).await;
    assert_eq!((status.sample_rate, status.channels), (48_000, 2));
    assert_eq!((status.segment_seconds, status.overlap_seconds), (8.0, 2.0));
    assert_eq!(status.backend.kind, "synth");

    let (index, audio) = download(&server, "/audio/current.wav").await;
    assert_eq!(index, 0);
    assert_eq!(
        (audio.sample_rate, audio.channels.len(), audio.frames()),
        (48_000, 2, 384_000)
    );
    let level = audio.rms_dbfs_from(0);
    assert!((-40.0..-6.0).contains(&level), "level {level} dBFS");
}

#[tokio::test]
async fn twenty_segments_keep_only_the_playing_the_next_and_the_seed_and_join_seamlessly() {
    let server = spawn(short(std::path::Path::new("unused"))).await;
    server
        .post("/session/start", json!({"prompt": "calm piano rain"}))
        .await;
    let mut previous: Option<Audio> = None;
    for n in 0..22u64 {
        let status = server
            .wait_for(30, |s| {
                s.segment_index == Some(n) && s.state == SessionState::Waiting
            })
            .await;
        assert_eq!(status.generating_index, None);
        // Lookahead: nothing more is made until this segment is downloaded.
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            server.status().await.generating_index,
            None,
            "segment {} started early",
            n + 1
        );
        let expected: Vec<String> = match n {
            0 => segment_files(0).to_vec(),
            _ => [segment_files(n - 1), segment_files(n)].concat(),
        };
        assert_eq!(server.files(), expected, "before downloading segment {n}");

        let (index, audio) = download(&server, &format!("/audio/{n}.wav")).await;
        assert_eq!(index, n);
        if let Some(previous) = &previous {
            // The new segment starts with exactly the previous one's last 2 s.
            let overlap = 96_000;
            for c in 0..2 {
                assert_eq!(
                    &audio.channels[c][..overlap],
                    &previous.channels[c][384_000 - overlap..]
                );
            }
        }
        previous = Some(audio);
        if n > 0 {
            let (code, kind, _) =
                error_of(server.get(&format!("/audio/{}.wav", n - 1)).await).await;
            assert_eq!((code, kind.as_str()), (410, "segment_deleted"));
        }
        // The worker may already be making the next one: the playing segment, the seed and the next one
        // (perhaps half written) are all the session may hold, and nothing older.
        let allowed = [
            segment_files(n).to_vec(),
            vec![format!("seed-{:06}.wav", n + 1)],
            segment_files(n + 1).to_vec(),
        ]
        .concat();
        // Older files go at once, off the request's thread: give the deletion a moment.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let files = loop {
            let files = server.files();
            if files.iter().all(|f| allowed.contains(f)) || tokio::time::Instant::now() > deadline {
                break files;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(
            files.len() <= 5 && files.iter().all(|f| allowed.contains(f)),
            "after downloading segment {n}: {files:?}"
        );
        assert!(files.contains(&allowed[0]) && files.contains(&allowed[1]));
    }
    let (code, _, _) = error_of(server.get("/audio/99.wav").await).await;
    assert_eq!(code, 404);

    let stopped = server.status().await.session_id;
    server.post("/session/stop", json!({})).await;
    assert!(server.session_dirs().is_empty(), "stop deletes everything");
    let status = server.status().await;
    assert_eq!(status.state, SessionState::Idle);
    // Players still on the stopped session learn that a listener stopped it, and stop too.
    assert!(stopped.is_some());
    assert_eq!(status.stopped_session, stopped);
    server.post("/session/start", json!({})).await;
    assert_eq!(server.status().await.stopped_session, None);
    server.post("/session/stop", json!({})).await;
}

#[tokio::test]
async fn a_prompt_change_applies_from_the_next_segment_not_yet_started() {
    let server = spawn(short(std::path::Path::new("unused"))).await;
    server
        .post("/session/start", json!({"prompt": "bright piano"}))
        .await;
    server.wait_for(30, |s| s.segment_index == Some(0)).await;
    let reply: Value = server
        .post("/session/prompt", json!({"prompt": " dark rain drone "}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        reply,
        json!({"prompt": "dark rain drone", "applies_from_segment": 1})
    );
    let status = server.status().await;
    assert_eq!(
        (status.prompt.as_str(), status.prompt_applies_from),
        ("dark rain drone", Some(1))
    );
}

#[tokio::test]
async fn restart_gives_a_new_session_and_removes_the_old_files() {
    let server = spawn(short(std::path::Path::new("unused"))).await;
    let first: Value = server
        .post("/session/start", json!({}))
        .await
        .json()
        .await
        .unwrap();
    server.wait_for(30, |s| s.segment_index == Some(0)).await;
    let second: Value = server
        .post("/session/start", json!({"prompt": ""}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(first["session_id"], second["session_id"]);
    assert_eq!(second["segment_index"], Value::Null);
    assert_eq!(second["prompt"], DEFAULT_PROMPT);
    assert_eq!(
        server.session_dirs().len(),
        1,
        "only the new session's folder is left"
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let server = spawn(short(std::path::Path::new("unused"))).await;
    server
        .post("/session/start", json!({"prompt": "calm"}))
        .await;
    let before = server.wait_for(30, |s| s.segment_index == Some(0)).await;

    let raw = |path: &str, content_type: &str, body: Vec<u8>| {
        server
            .http
            .post(format!("{}{path}", server.base))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(reqwest::Response, u16, &str, &str)> = vec![
        (
            raw(
                "/session/start",
                "application/json",
                b"{\"prompt\":".to_vec(),
            )
            .await
            .unwrap(),
            400,
            "malformed_json",
            "",
        ),
        (
            raw(
                "/session/start",
                "application/json",
                b"{\"prompt\": 5}".to_vec(),
            )
            .await
            .unwrap(),
            422,
            "invalid_field",
            "prompt",
        ),
        (
            raw(
                "/session/start",
                "application/json",
                b"{\"mood\": \"x\"}".to_vec(),
            )
            .await
            .unwrap(),
            422,
            "invalid_field",
            "mood",
        ),
        (
            raw(
                "/session/start",
                "text/plain",
                b"{\"prompt\": \"x\"}".to_vec(),
            )
            .await
            .unwrap(),
            415,
            "not_json",
            "JSON",
        ),
        (
            raw("/session/start", "application/json", vec![b' '; 17 * 1024])
                .await
                .unwrap(),
            413,
            "body_too_large",
            "",
        ),
        (
            server
                .post("/session/start", json!({"prompt": "x".repeat(513)}))
                .await,
            422,
            "invalid_field",
            "prompt",
        ),
        (
            server
                .post("/session/start", json!({"prompt": "rain\u{0}"}))
                .await,
            422,
            "invalid_field",
            "prompt",
        ),
        (
            server.post("/session/prompt", json!({})).await,
            422,
            "invalid_field",
            "prompt",
        ),
        (
            server
                .post("/session/prompt", json!({"prompt": ["a"]}))
                .await,
            422,
            "invalid_field",
            "prompt",
        ),
        (
            server.get("/audio/abc.wav").await,
            404,
            "no_such_segment",
            "",
        ),
        (server.get("/audio/.wav").await, 404, "no_such_segment", ""),
        (
            server.get("/audio/99999999999999999999999.wav").await,
            404,
            "no_such_segment",
            "",
        ),
        (
            server
                .http
                .delete(format!("{}/session/start", server.base))
                .send()
                .await
                .unwrap(),
            405,
            "method_not_allowed",
            "",
        ),
    ];
    for (reply, status, code, names) in cases {
        let url = reply.url().path().to_string();
        let (got_status, got_code, message) = error_of(reply).await;
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, code),
            "{url}: {message}"
        );
        assert!(
            message.contains(names),
            "{url}: {message:?} should name {names:?}"
        );
    }
    let after = server.status().await;
    assert_eq!(
        (after.session_id, after.prompt, after.segment_index),
        (before.session_id, before.prompt, before.segment_index)
    );
    assert_eq!(server.files(), segment_files(0));
}

#[tokio::test]
async fn without_a_session_there_is_nothing_to_change_or_download() {
    let server = spawn(short(std::path::Path::new("unused"))).await;
    let (status, code, message) = error_of(
        server
            .post("/session/prompt", json!({"prompt": "rain"}))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (409, "no_session"));
    assert!(message.contains("/session/start"));
    let (status, _, _) = error_of(server.get("/audio/current.wav").await).await;
    assert_eq!(status, 409);
    let stopped: Value = server
        .post("/session/stop", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stopped["state"], "idle");
    let health: Value = server.get("/health").await.json().await.unwrap();
    assert_eq!(
        (
            health["status"].as_str(),
            health["backend_reachable"].as_bool()
        ),
        (Some("ok"), Some(true))
    );
}

/// A data dir on a 4 MB tmpfs (needs root to mount), unmounted when dropped.
struct SmallDisk<'a>(&'a std::path::Path);

impl<'a> SmallDisk<'a> {
    fn mount(path: &'a std::path::Path) -> Option<SmallDisk<'a>> {
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1500k", "tsuzuki-test"])
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(SmallDisk(path))
    }
}

impl Drop for SmallDisk<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_fails_the_segment_clearly_and_leaves_no_file_behind() {
    let server = spawn(short(std::path::Path::new("unused"))).await;
    // Mounted over the data dir after it was opened: the session folder is made on the small disk.
    let Some(_disk) = SmallDisk::mount(server.data.path()) else {
        let required = std::env::var("TSUZUKI_REQUIRE_DOCKER").is_ok_and(|v| v == "1");
        assert!(!required, "as root this test must be able to mount a tmpfs");
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    server.post("/session/start", json!({})).await;
    server.wait_for(30, |s| s.segment_index == Some(0)).await;
    // 8 s segments are 1.5 MB as WAV, under 1 MB as FLAC and Opus together. The seed (a 1.5 MB WAV) goes
    // before its segment is written: segment 0 fits in 1.5 MB, its seed does not.
    download(&server, "/audio/0.wav").await;
    let status = server
        .wait_for(30, |s| s.state == SessionState::Error)
        .await;
    let error = status.error.unwrap();
    assert!(
        error.message.contains("Cannot write the seed of segment 1")
            && error.message.contains("No space left on device")
            && !error.message.contains("not a readable WAV"),
        "{}",
        error.message
    );
    assert_eq!(server.files(), segment_files(0), "no seed, no half file");
    server.post("/session/stop", json!({})).await;
    assert!(server.session_dirs().is_empty());
}

/// A config whose sessions run ACE-Step in a managed container (on an engine that is not there: nothing
/// here gets as far as starting it), with an API token.
fn managed_with_token() -> tsuzuki::config::Config {
    use tsuzuki::config::{BackendKind, Gpus, Network, Restart, ServiceConfig};
    let mut config = short(std::path::Path::new("unused"));
    config.containers.docker_host = Some("unix:///nonexistent/docker.sock".into());
    config.http.api_token = Some("s3cret".into());
    let service = ServiceConfig {
        id: "acestep".into(),
        image: "acestep:unused".into(),
        command: Vec::new(),
        env: Default::default(),
        port: 9,
        host_port: None,
        url: None,
        network: Network::Host,
        health_path: "/health".into(),
        gpus: Gpus::None,
        volumes: Vec::new(),
        startup_timeout_seconds: 5.0,
        idle_ttl_seconds: 60.0,
        stop_timeout_seconds: 1.0,
        gpu_memory_gb: 0.0,
        init: true,
        models: Vec::new(),
        max_concurrent: None,
        queue_timeout_seconds: 30.0,
        restart: Restart::WhenIdle,
    };
    config.backend = BackendKind::AceStep(
        tsuzuki::backend::acestep::Settings {
            url: service.url(),
            api_key: None,
            model: "acestep-v15-turbo".into(),
            poll_interval: Duration::from_millis(20),
            repaint_mode: Default::default(),
        },
        Some(service.id.clone()),
    );
    config.containers.services = vec![service];
    config
}

#[tokio::test]
async fn with_a_managed_model_only_token_holders_control_the_session() {
    let server = spawn(managed_with_token()).await;
    let prompt = json!({"prompt": "rain"});
    for (path, body) in [
        ("/session/start", json!({})),
        ("/session/prompt", prompt.clone()),
        ("/session/stop", json!({})),
    ] {
        let reply = server.post(path, body).await;
        assert_eq!(reply.headers()["www-authenticate"], "Bearer", "{path}");
        let (code, kind, message) = error_of(reply).await;
        assert_eq!((code, kind.as_str()), (401, "unauthorized"), "{path}");
        assert!(message.contains("Authorization: Bearer"), "{message}");
    }
    assert_eq!(
        server.status().await.state,
        SessionState::Idle,
        "nothing started"
    );
    assert_eq!(
        server.get("/session/status").await.status(),
        200,
        "reading stays open"
    );
    assert_eq!(server.get("/health").await.status(), 200);

    let stop_with = |token: &str| {
        server
            .http
            .post(format!("{}/session/stop", server.base))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
    };
    assert_eq!(stop_with("guess").await.unwrap().status(), 401);
    let stopped = stop_with("s3cret").await.unwrap();
    assert_eq!(stopped.status(), 200, "the token opens the controls");
}
