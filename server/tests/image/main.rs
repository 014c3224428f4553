//! The image `scripts/image.sh` builds and `compose.yaml`, on a private Docker engine and through Docker's
//! own tools: the image is small, static and has no shell; from inside it the server answers `/health`,
//! serves the page and generates a whole segment; its HEALTHCHECK turns healthy; compose brings it up and
//! `down` leaves nothing behind. The test engine has no bridge network, so containers run on the host's
//! network here (an override file for compose), on a free port.

mod cli;
#[path = "../common/mod.rs"]
mod common;
mod compose;

use app::api::Status;
use common::dockerd;
use common::eventually;
use compose::Compose;
use serde_json::json;
use tsuzuki_audio::wav;

/// The size goal for the whole image, uncompressed.
const MAX_IMAGE_BYTES: u64 = 25_000_000;
/// The unprivileged user the image runs as.
const USER: &str = "65532:65532";

/// Settings for a container under test: the host's network, a free port, short segments.
fn short_segments(port: u16) -> [String; 3] {
    [
        format!("TSUZUKI_ADDR=0.0.0.0:{port}"),
        "TSUZUKI_SEGMENT_SECONDS=8".into(),
        "TSUZUKI_OVERLAP_SECONDS=2".into(),
    ]
}

/// What a listener's browser gets from the server at `base`: the page and its script, then (after Play)
/// segment 0 as a whole WAV file of `seconds`.
async fn expect_page_and_segment(base: &str, seconds: f64) {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let health = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let page = http.get(base).send().await.unwrap().text().await.unwrap();
    let script = page
        .split('"')
        .find(|s| s.starts_with("/pkg/tsuzuki") && s.ends_with(".js"))
        .unwrap_or_else(|| panic!("the page names its script: {page}"))
        .to_string();
    let reply = http.get(format!("{base}{script}")).send().await.unwrap();
    assert_eq!(reply.status(), 200, "{script}");
    let started = http
        .post(format!("{base}/session/start"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200);
    eventually(120, "segment 0 is ready", || async {
        let reply = http.get(format!("{base}/session/status")).send().await;
        let status: Option<Status> = match reply {
            Ok(r) => r.json().await.ok(),
            Err(_) => None,
        };
        status.is_some_and(|s| s.segment_index.is_some())
    })
    .await;
    let reply = http
        .get(format!("{base}/audio/0.wav"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let audio = wav::decode(&reply.bytes().await.unwrap()).unwrap();
    let frames = audio.channels[0].len();
    assert_eq!(frames, (seconds * f64::from(audio.sample_rate)) as usize);
}

/// A private engine with `tsuzuki:local` built on it, or `None` (said loudly) where none can run.
async fn engine_with_image(test: &str) -> Option<dockerd::Dockerd> {
    let context = cli::context()?;
    let engine = dockerd::start(test).await?;
    cli::build(&engine, &context);
    Some(engine)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_is_small_has_no_shell_and_serves_a_segment_from_inside() {
    let Some(engine) = engine_with_image("image").await else {
        return;
    };

    let size: u64 = cli::inspect(&engine, "tsuzuki:local", "{{.Size}}")
        .parse()
        .unwrap();
    eprintln!("tsuzuki:local is {size} bytes");
    assert!(size <= MAX_IMAGE_BYTES, "the image is {size} bytes");
    assert_eq!(
        cli::inspect(&engine, "tsuzuki:local", "{{.Config.User}}"),
        USER
    );
    let files = cli::files(&engine, "tsuzuki:local");
    assert!(files.iter().any(|f| f == "tsuzuki"), "{files:?}");
    assert!(
        files.iter().any(|f| f.starts_with("site/pkg/tsuzuki")),
        "{files:?}"
    );
    for shell_or_tools in ["bin/", "usr/", "sbin/", "lib/"] {
        assert!(
            !files.iter().any(|f| f.starts_with(shell_or_tools)),
            "{shell_or_tools} in the image: {files:?}"
        );
    }

    let port = cli::free_port();
    let mut run = vec!["run", "-d", "--name", "tsuzuki", "--network", "host"];
    let settings = short_segments(port);
    for setting in &settings {
        run.extend(["-e", setting]);
    }
    run.extend([
        "--tmpfs",
        "/data:uid=65532,gid=65532,mode=0700",
        "tsuzuki:local",
    ]);
    cli::run(&engine, "docker", &run);
    eventually(
        60,
        "the container's HEALTHCHECK reports healthy",
        || async { cli::inspect(&engine, "tsuzuki", "{{.State.Health.Status}}") == "healthy" },
    )
    .await;
    expect_page_and_segment(&format!("http://127.0.0.1:{port}"), 8.0).await;

    let logs = cli::attempt(&engine, "docker", &["logs", "tsuzuki"]);
    let logs = String::from_utf8_lossy(&logs.stdout) + String::from_utf8_lossy(&logs.stderr);
    assert!(logs.contains("in a container"), "{logs}");
    assert!(!logs.contains("listening beyond this machine"), "{logs}");
    // It stops on Docker's SIGTERM, promptly and cleanly.
    cli::run(&engine, "docker", &["stop", "-t", "20", "tsuzuki"]);
    assert_eq!(cli::inspect(&engine, "tsuzuki", "{{.State.ExitCode}}"), "0");
}

/// Nothing of the project is left on `engine`: no container, volume or network of its own.
fn expect_nothing_left(engine: &dockerd::Dockerd) {
    assert_eq!(
        cli::run(engine, "docker", &["ps", "-aq"]),
        "",
        "containers left"
    );
    assert_eq!(
        cli::run(engine, "docker", &["volume", "ls", "-q"]),
        "",
        "volumes left"
    );
    let networks = cli::run(
        engine,
        "docker",
        &["network", "ls", "--format", "{{.Name}}"],
    );
    assert!(
        networks
            .lines()
            .all(|n| ["host", "none", "bridge"].contains(&n)),
        "networks left: {networks}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn compose_serves_the_page_and_a_segment_and_down_leaves_nothing_behind() {
    let Some(engine) = engine_with_image("compose").await else {
        return;
    };
    let port = cli::free_port();
    compose::as_written(&engine, &["config", "-q"]);
    let compose = Compose::on_host_network(port, &short_segments(port)[1..]);
    let began = std::time::Instant::now();
    compose.run(&engine, &["up", "-d"]);
    expect_page_and_segment(&format!("http://127.0.0.1:{port}"), 8.0).await;
    // A figure for the README, not a limit: timing is for benchmarks on a machine this shared.
    eprintln!(
        "from `up -d` to segment 0 downloaded: {:?}",
        began.elapsed()
    );
    eventually(60, "compose's container reports healthy", || async {
        let id = compose.run(&engine, &["ps", "-q", "tsuzuki"]);
        cli::inspect(&engine, &id, "{{.State.Health.Status}}") == "healthy"
    })
    .await;
    compose.run(&engine, &["down"]);
    expect_nothing_left(&engine);
}

#[tokio::test(flavor = "multi_thread")]
async fn compose_gpu_profile_without_a_gpu_runtime_plays_the_synthesizer_and_says_why() {
    let Some(engine) = engine_with_image("compose-gpu").await else {
        return;
    };
    let port = cli::free_port();
    compose::as_written(&engine, &["--profile", "gpu", "config", "-q"]);
    let compose = Compose::on_host_network(port, &short_segments(port)[1..]);
    // ACE-Step's image is here (the double under its name, serving on its port, as the real image's
    // CMD does): what this machine lacks is the GPU runtime.
    let stand_in = tempfile::tempdir().unwrap();
    std::fs::write(
        stand_in.path().join("Dockerfile"),
        format!(
            "FROM {}\nCMD [\"/acestep-double\", \"--port\", \"8001\"]\n",
            dockerd::IMAGE
        ),
    )
    .unwrap();
    let acestep = "ghcr.io/ace-step/ace-step-1.5:latest";
    let stand_in = stand_in.path().to_string_lossy();
    cli::run(
        &engine,
        "docker",
        &["build", "-q", "-t", acestep, &stand_in],
    );

    compose.run(&engine, &["--profile", "gpu", "up", "-d", "tsuzuki-gpu"]);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    eventually(60, "tsuzuki-gpu answers", || async {
        http.get(format!("{base}/health")).send().await.is_ok()
    })
    .await;
    // Play: the synthesizer covers while the model cannot, and the status says why it cannot.
    expect_page_and_segment(&base, 8.0).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        let text = http.get(format!("{base}/session/status")).send().await;
        let text = match text {
            Ok(reply) => reply.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains("no NVIDIA GPU runtime available to Docker") {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the status never named the missing GPU runtime: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    eprintln!("the status on a machine without a GPU runtime: {status}");
    let status: Status = serde_json::from_str(&status).unwrap();
    assert_eq!(
        (status.backend.kind.as_str(), status.backend.active.as_str()),
        ("acestep", "synth")
    );

    compose.run(&engine, &["--profile", "gpu", "down"]);
    expect_nothing_left(&engine);
}
