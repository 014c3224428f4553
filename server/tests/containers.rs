//! Model containers on a real Docker engine: a private dockerd per test (common/dockerd.rs) and an image
//! FROM scratch holding the ACE-Step double. Play → container → health → generation through the container
//! → idle stop and removal; clear start failures; leftovers of a crashed run; racing starts and a demand
//! during a stop; the GPU budget; the proxy streaming SSE. Each test skips loudly when no engine can start.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::api::{ServiceState, ServicesResponse, SessionState};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use common::dockerd::{self, Dockerd, IMAGE};
use common::{eventually, short, spawn, Server};
use futures::StreamExt;
use serde_json::{json, Value};
use tsuzuki::backend::acestep::Settings;
use tsuzuki::config::{BackendKind, Config, Gpus, Network, Restart, ServiceConfig};
use tsuzuki::containers::{container_body, Containers, ServiceError};
use tsuzuki::metrics::Metrics;
use tsuzuki::session::{storage::DataDir, Sessions};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A service running the double on a port of its own (host networking), with short timeouts.
fn double(id: &str, extra: &[&str]) -> ServiceConfig {
    let port = free_port();
    let mut command: Vec<String> = ["/acestep-double", "--host", "127.0.0.1", "--port"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    command.push(port.to_string());
    command.extend(extra.iter().map(|s| s.to_string()));
    ServiceConfig {
        id: id.into(),
        image: IMAGE.into(),
        command,
        env: BTreeMap::new(),
        port,
        host_port: None,
        url: None,
        network: Network::Host,
        health_path: "/health".into(),
        gpus: Gpus::None,
        volumes: Vec::new(),
        startup_timeout_seconds: 15.0,
        idle_ttl_seconds: 60.0,
        stop_timeout_seconds: 3.0,
        gpu_memory_gb: 0.0,
        init: true,
        models: vec![id.to_string()],
        max_concurrent: None,
        queue_timeout_seconds: 30.0,
        restart: Restart::WhenIdle,
    }
}

/// Short segments; the engine's services; ACE-Step in service `acestep` when given, else the synthesizer.
fn config(engine_host: &str, services: Vec<ServiceConfig>, acestep: Option<&str>) -> Config {
    let mut config = short(Path::new("unused"));
    // These tests follow the container's lifecycle through the session (starting, errors); the bridge,
    // which would play the synthesizer meanwhile, is tested against the double in `acestep.rs`.
    config.session.bridge = false;
    config.containers.docker_host = Some(engine_host.to_string());
    if let Some(id) = acestep {
        let service = services.iter().find(|s| s.id == id).unwrap();
        config.backend = BackendKind::AceStep(
            Settings {
                url: service.url(),
                api_key: None,
                model: "acestep-v15-turbo".into(),
                poll_interval: Duration::from_millis(20),
                repaint_mode: Default::default(),
            },
            Some(id.to_string()),
        );
    }
    config.containers.services = services;
    config
}

async fn services(server: &Server) -> ServicesResponse {
    server.get("/api/v1/services").await.json().await.unwrap()
}

async fn error_of(reply: reqwest::Response) -> (u16, String, String) {
    let status = reply.status().as_u16();
    let body: Value = reply.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[tokio::test]
async fn play_runs_acestep_in_a_container_and_idleness_stops_and_removes_it() {
    let Some(engine) = dockerd::start("play_runs_acestep_in_a_container").await else {
        return;
    };
    let mut service = double("play", &["--startup-delay-ms", "1500"]);
    service.idle_ttl_seconds = 1.5;
    let server = spawn(config(&engine.host, vec![service], Some("play"))).await;
    assert_eq!(
        engine.container("tsuzuki-play").await,
        None,
        "nothing runs before Play"
    );

    let reply = server
        .post("/session/start", json!({"prompt": "calm piano"}))
        .await;
    assert_eq!(reply.status(), 200);
    // While the model server loads, the status says so, for how long, and what it logs.
    let status = server
        .wait_for(20, |s| {
            s.starting.as_ref().is_some_and(|i| {
                i.log_tail
                    .iter()
                    .any(|l| l.contains("loading model weights"))
            })
        })
        .await;
    assert_eq!(status.state, SessionState::Starting);
    let starting = status.starting.unwrap();
    assert_eq!(starting.service, "play");
    assert!(starting.elapsed_seconds > 0.0);
    let (container, running) = engine.container("tsuzuki-play").await.unwrap();
    assert!(running);

    // Segment 0 (text2music) comes from the container; its download lets segment 1 (a repaint) start.
    server.wait_for(60, |s| s.segment_index == Some(0)).await;
    let listed = services(&server).await.services;
    assert_eq!(listed[0].state, ServiceState::Ready);
    assert_eq!(listed[0].container_id.as_deref(), Some(container.as_str()));
    assert_eq!(listed[0].in_use, 1, "the session holds the service");
    let wav = server.get("/audio/0.wav").await;
    assert_eq!(wav.status(), 200);
    assert!(wav.bytes().await.unwrap().len() > 1_000_000);
    server.wait_for(60, |s| s.segment_index == Some(1)).await;
    let requests: Vec<Value> = server
        .get("/service/play/_double/requests")
        .await
        .json()
        .await
        .unwrap();
    let tasks: Vec<&str> = requests
        .iter()
        .filter_map(|r| r["release_task"]["task_type"].as_str())
        .collect();
    assert_eq!(tasks, ["text2music", "repaint"]);

    // Stop: the session lets go; the container stays for the idle TTL, then is stopped and removed.
    let stopped = Instant::now();
    assert_eq!(server.post("/session/stop", json!({})).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        engine.container("tsuzuki-play").await,
        Some((container.clone(), true)),
        "stopped before its idle TTL"
    );
    eventually(15, "the container is removed", || async {
        engine.container("tsuzuki-play").await.is_none()
    })
    .await;
    assert!(stopped.elapsed() >= Duration::from_millis(1500));
    let listed = services(&server).await.services;
    assert_eq!(
        (listed[0].state, listed[0].container_id.as_deref()),
        (ServiceState::Stopped, None)
    );
    assert!(listed[0].last_used.is_some());
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert_eq!(
        metric(&metrics, "tsuzuki_container_starts_total{service=\"play\"}"),
        1.0
    );
    assert_eq!(
        metric(&metrics, "tsuzuki_container_stops_total{service=\"play\"}"),
        1.0
    );
    assert_eq!(metric(&metrics, "tsuzuki_segments_generated_total"), 2.0);
    assert!(metric(&metrics, "tsuzuki_cold_start_seconds_sum{service=\"play\"}") >= 1.5);
    assert!(metric(&metrics, "tsuzuki_bytes_served_total{kind=\"audio\"}") > 1e6);
}

#[tokio::test]
async fn start_failures_are_clear_and_leave_no_container() {
    let Some(engine) = dockerd::start("start_failures_are_clear").await else {
        return;
    };
    let exits = double("exits", &["--bogus"]);
    let mut slow = double("slow", &[]);
    slow.health_path = "/nope".into();
    slow.startup_timeout_seconds = 1.5;
    let mut gpu = double("gpu", &[]);
    gpu.gpus = Gpus::All;
    let mut missing = double("missing", &[]);
    missing.image = "tsuzuki-test/not-here:1".into();
    let slow_port = slow.port;
    let server = spawn(config(
        &engine.host,
        vec![exits, slow, gpu, missing],
        Some("exits"),
    ))
    .await;

    // Through a session: Play reports the crash with its exit code and last lines.
    server.post("/session/start", json!({})).await;
    let status = server
        .wait_for(20, |s| s.state == SessionState::Error)
        .await;
    let message = status.error.unwrap().message;
    assert!(
        message.starts_with("Cannot start: the exits container exited during start (exit code 2)"),
        "{message}"
    );
    assert!(
        message.contains("unexpected argument '--bogus'"),
        "{message}"
    );

    for (id, code, words) in [
        (
            "slow",
            "service_unavailable",
            format!("did not answer http://127.0.0.1:{slow_port}/nope within 1.5 s"),
        ),
        (
            "gpu",
            "gpu_unavailable",
            "no NVIDIA GPU runtime available to Docker: could not select device driver \"nvidia\" with capabilities: [[gpu]]".into(),
        ),
        (
            "missing",
            "image_missing",
            "pull it first: docker pull tsuzuki-test/not-here:1".into(),
        ),
    ] {
        let began = Instant::now();
        let reply = server
            .http
            .post(format!("{}/api/v1/service/{id}/start", server.base))
            .send()
            .await
            .unwrap();
        let (status, kind, message) = error_of(reply).await;
        assert_eq!((status, kind.as_str()), (503, code), "{id}: {message}");
        assert!(message.contains(&words), "{id}: {message}");
        assert!(began.elapsed() < Duration::from_secs(10), "{id} took too long");
        assert_eq!(
            engine.container(&format!("tsuzuki-{id}")).await,
            None,
            "{id} left its container"
        );
    }
    let listed = services(&server).await.services;
    let slow = listed.iter().find(|s| s.id == "slow").unwrap();
    let slow_message = slow.error.clone().unwrap();
    assert!(
        slow_message.contains("ACE-Step double listening"),
        "the timeout carries the last log lines: {slow_message}"
    );
    assert!(listed.iter().all(|s| s.state == ServiceState::Failed));
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert_eq!(
        metric(
            &metrics,
            "tsuzuki_container_start_failures_total{service=\"gpu\"}"
        ),
        1.0
    );
}

/// Creates a container straight through the engine, as a previous run (or someone else) would have.
async fn create(engine: &Dockerd, name: &str, service: &ServiceConfig, instance: &str) -> String {
    let mut body = container_body(service, instance);
    if instance.is_empty() {
        body.labels = None;
    }
    let options = CreateContainerOptionsBuilder::new().name(name).build();
    engine
        .docker()
        .create_container(Some(options), body)
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn leftovers_of_a_crashed_run_are_adopted_or_removed_and_taken_names_never_wedge() {
    let Some(engine) = dockerd::start("leftovers_of_a_crashed_run").await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let host = Some(engine.host.clone());
    let metrics = Arc::new(Metrics::default());
    let (a, b, c, d) = (
        double("left-a", &[]),
        double("left-b", &[]),
        double("left-c", &[]),
        double("left-d", &[]),
    );
    let all = [a.clone(), b.clone(), c.clone(), d.clone()];
    let first =
        Containers::new(&all, host.clone(), None, None, data.path(), metrics.clone()).unwrap();
    drop(first.ensure_ready("left-a").await.unwrap());
    let instance = engine
        .label("tsuzuki-left-a", "tsuzuki.instance")
        .await
        .unwrap();
    let (running_a, _) = engine.container("tsuzuki-left-a").await.unwrap();
    // Ours but never started; ours for a service no longer declared; another server's; a user's.
    create(&engine, "tsuzuki-left-b", &b, &instance).await;
    create(&engine, "tsuzuki-gone", &double("gone", &[]), &instance).await;
    create(&engine, "tsuzuki-elsewhere", &b, "another-server").await;
    let users = create(&engine, "tsuzuki-left-c", &c, "").await;
    // Ours, same name as a declared service but made from an older declaration.
    let mut old_d = d.clone();
    old_d.env.insert("OLD".into(), "1".into());
    let stale_d = create(&engine, "tsuzuki-left-d", &old_d, &instance).await;
    // The server dies: its tasks end, its containers stay.
    drop(first);

    let second = Containers::new(&all, host, None, None, data.path(), metrics.clone()).unwrap();
    let mut done = second.adopt_leftovers().await.unwrap();
    done.sort();
    let done: Vec<String> = done
        .iter()
        .map(|d| d.split(" (").next().unwrap().to_string())
        .collect();
    assert_eq!(
        done,
        [
            "adopted tsuzuki-left-a",
            "removed tsuzuki-gone",
            "removed tsuzuki-left-b",
            "removed tsuzuki-left-d"
        ]
    );
    assert!(engine.container("tsuzuki-elsewhere").await.is_some());
    assert_eq!(engine.container("tsuzuki-gone").await, None);
    let _ = stale_d;

    // The adopted container serves at once, without a new start.
    let lease = tokio::time::timeout(Duration::from_secs(10), second.ensure_ready("left-a"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        second.info("left-a").unwrap().container_id.as_deref(),
        Some(running_a.as_str())
    );
    drop(lease);
    assert_eq!(
        metric(
            &metrics.render(),
            "tsuzuki_container_starts_total{service=\"left-a\"}"
        ),
        1.0,
        "adopting is not starting"
    );

    // A user's container holds c's name: a clear error, quickly, and the user's container is untouched.
    let refused = tokio::time::timeout(Duration::from_secs(10), second.ensure_ready("left-c"))
        .await
        .expect("a taken name must not wedge the start");
    assert!(
        matches!(&refused, Err(ServiceError::NameTaken { name }) if name == "tsuzuki-left-c"),
        "{:?}",
        refused.err()
    );
    assert_eq!(
        engine.container("tsuzuki-left-c").await.map(|c| c.0),
        Some(users)
    );

    // A stale container of ours appearing under d's name after start-up is replaced on start.
    let stale = create(&engine, "tsuzuki-left-d", &old_d, &instance).await;
    drop(second.ensure_ready("left-d").await.unwrap());
    let (fresh, running) = engine.container("tsuzuki-left-d").await.unwrap();
    assert!(running && fresh != stale);
    second.shutdown().await;
    assert_eq!(engine.container("tsuzuki-left-d").await, None);
}

#[tokio::test]
async fn racing_starts_make_one_container_and_a_demand_during_a_stop_restarts_it() {
    let Some(engine) = dockerd::start("racing_starts").await else {
        return;
    };
    let service = double("race", &["--startup-delay-ms", "300"]);
    let config = config(&engine.host, vec![service], Some("race"));
    let server = spawn(config.clone()).await;
    let containers = server.containers.clone().unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let mut other_config = config.clone();
    other_config.session.data_dir = other_dir.path().to_path_buf();
    let other = Sessions::with_containers(
        other_config.clone(),
        tsuzuki::backend_for(&other_config).unwrap(),
        DataDir::open(other_dir.path()).unwrap(),
        Some(containers.clone()),
        containers.metrics().clone(),
    );

    // Two sessions and five proxied requests, all at once, on a stopped service.
    let requests = futures::future::join_all((0..5).map(|_| server.get("/service/race/health")));
    let (mine, theirs, replies) = tokio::join!(
        server.post("/session/start", json!({})),
        other.start(None, Default::default()),
        requests
    );
    assert_eq!(mine.status(), 200);
    theirs.unwrap();
    assert!(replies.iter().all(|r| r.status() == 200));
    server.wait_for(60, |s| s.segment_index == Some(0)).await;
    eventually(60, "the other session has a segment", || async {
        other.status().segment_index == Some(0)
    })
    .await;
    let metrics = containers.metrics().render();
    assert_eq!(
        metric(&metrics, "tsuzuki_container_starts_total{service=\"race\"}"),
        1.0,
        "one container for everyone"
    );
    let (first, _) = engine.container("tsuzuki-race").await.unwrap();

    // A service in use is never stopped.
    let refused = containers.stop("race").await.unwrap_err();
    assert!(
        matches!(refused, ServiceError::InUse { holders: 2, .. }),
        "{refused}"
    );
    server.post("/session/stop", json!({})).await;
    other.stop().await;

    // A request that arrives while the service stops waits, and gets a freshly started one.
    let (stopped, lease) = tokio::join!(containers.stop("race"), containers.ensure_ready("race"));
    stopped.unwrap();
    let lease = lease.unwrap();
    let (second, running) = engine.container("tsuzuki-race").await.unwrap();
    assert!(running);
    assert_ne!(first, second);
    let metrics = containers.metrics().render();
    assert_eq!(
        metric(&metrics, "tsuzuki_container_starts_total{service=\"race\"}"),
        2.0
    );
    assert_eq!(
        metric(&metrics, "tsuzuki_container_stops_total{service=\"race\"}"),
        1.0
    );
    drop(lease);
    let info = containers.stop("race").await.unwrap();
    assert_eq!(info.state, ServiceState::Stopped);
    assert_eq!(engine.container("tsuzuki-race").await, None);
}

#[tokio::test]
async fn the_gpu_budget_evicts_idle_services_and_refuses_when_the_holder_is_busy() {
    let Some(engine) = dockerd::start("the_gpu_budget").await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let (mut a, mut b) = (double("gpu-a", &[]), double("gpu-b", &[]));
    a.gpu_memory_gb = 8.0;
    b.gpu_memory_gb = 8.0;
    let containers = Containers::new(
        &[a, b],
        Some(engine.host.clone()),
        None,
        Some(12.0),
        data.path(),
        Arc::default(),
    )
    .unwrap();
    containers.start("gpu-a").await.unwrap();
    assert_eq!(containers.list().gpu_memory_claimed_gb, 8.0);
    // b does not fit next to a, and a is idle: a is stopped to make room.
    let lease = containers.ensure_ready("gpu-b").await.unwrap();
    assert_eq!(
        containers.info("gpu-a").unwrap().state,
        ServiceState::Stopped
    );
    assert_eq!(engine.container("tsuzuki-gpu-a").await, None);
    assert_eq!(containers.list().gpu_memory_claimed_gb, 8.0);
    // Now b is busy: a cannot start, and says why.
    let refused = containers.start("gpu-a").await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "not enough GPU memory for service \"gpu-a\": it needs 8 GB, the budget is 12 GB and services in use hold gpu-b (8 GB)"
    );
    assert!(engine.container("tsuzuki-gpu-b").await.unwrap().1);
    drop(lease);
    containers.shutdown().await;
}

#[tokio::test]
async fn the_proxy_streams_events_as_they_come_and_guards_the_control_endpoints() {
    let Some(engine) = dockerd::start("the_proxy_streams_events").await else {
        return;
    };
    let mut config = config(&engine.host, vec![double("proxy", &[])], None);
    config.http.api_token = Some("s3cret".into());
    let server = spawn(config).await;
    let url = |path: &str| format!("{}{path}", server.base);

    for path in ["/api/v1/services", "/metrics", "/service/proxy/health"] {
        let reply = server.get(path).await;
        assert_eq!(reply.headers()["www-authenticate"], "Bearer", "{path}");
        assert_eq!(error_of(reply).await.1, "unauthorized", "{path}");
    }
    assert_eq!(
        server.get("/session/status").await.status(),
        200,
        "the app's endpoints stay open"
    );

    // Server-sent events through the proxy, starting the service on demand: the first event arrives
    // long before the stream ends, so nothing buffered the reply.
    let reply = server
        .http
        .get(url("/service/proxy/_double/sse?n=4&interval_ms=400"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "text/event-stream");
    assert_eq!(reply.headers()["x-accel-buffering"], "no");
    let mut stream = reply.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    let first_at = Instant::now();
    assert!(String::from_utf8_lossy(&first).contains("data: {\"index\":0}"));
    let mut rest = String::new();
    while let Some(chunk) = stream.next().await {
        rest.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(
        first_at.elapsed() >= Duration::from_millis(1100),
        "events were buffered"
    );
    assert_eq!(rest.matches("data: ").count(), 3, "{rest}");

    // A request body streams through; our token is not handed to the service.
    let released: Value = server
        .http
        .post(url("/service/proxy/release_task"))
        .bearer_auth("s3cret")
        .json(&json!({"task_type": "text2music", "prompt": "rain", "audio_duration": 10}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(released["data"]["task_id"].is_string(), "{released}");
    let logged: Vec<Value> = server
        .http
        .get(url("/service/proxy/_double/requests"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let release = logged
        .iter()
        .find(|r| r["path"] == "/release_task")
        .unwrap();
    assert_eq!(release["authorization"], false);
    assert_eq!(release["release_task"]["prompt"], "rain");

    let container: Value = server
        .http
        .get(url("/api/v1/container/proxy"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(container["running"], true);
    assert_eq!(container["name"], "tsuzuki-proxy");
    assert_eq!(container["labels"]["tsuzuki.service"], "proxy");
    assert!(container["log_tail"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l.as_str().unwrap().contains("ACE-Step double listening")));
    let unknown = server
        .http
        .get(url("/service/nope/health"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(unknown).await.1, "no_such_service");
    let metrics = server
        .http
        .get(url("/metrics"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metric(&metrics, "tsuzuki_bytes_served_total{kind=\"proxy\"}") > 100.0);

    // The container dies on its own: the service says so, and the next request starts a new one.
    let (crashed, _) = engine.container("tsuzuki-proxy").await.unwrap();
    engine
        .docker()
        .kill_container(
            &crashed,
            None::<bollard::query_parameters::KillContainerOptions>,
        )
        .await
        .unwrap();
    let containers = server.containers.clone().unwrap();
    eventually(10, "the crash is noticed", || async {
        containers.info("proxy").unwrap().state == ServiceState::Failed
    })
    .await;
    let error = containers.info("proxy").unwrap().error.unwrap();
    assert!(
        error.starts_with("the proxy container exited on its own (exit code 137)"),
        "{error}"
    );
    let again = server
        .http
        .get(url("/service/proxy/health"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let (restarted, running) = engine.container("tsuzuki-proxy").await.unwrap();
    assert!(running && restarted != crashed);
    containers.shutdown().await;
}

#[tokio::test]
async fn without_docker_services_fail_clearly_and_the_synthesizer_still_plays() {
    let mut service = double("acestep", &[]);
    service.image = "ghcr.io/ace-step/ace-step-1.5".into();
    let server = spawn(config(
        "unix:///nonexistent/docker.sock",
        vec![service],
        None,
    ))
    .await;
    let listed = services(&server).await.services;
    assert_eq!(listed[0].state, ServiceState::Stopped);
    let reply = server
        .http
        .post(format!("{}/api/v1/service/acestep/start", server.base))
        .send()
        .await
        .unwrap();
    let (status, kind, message) = error_of(reply).await;
    assert_eq!((status, kind.as_str()), (503, "engine_unreachable"));
    assert!(
        message.contains("the Docker engine at unix:///nonexistent/docker.sock cannot be reached"),
        "{message}"
    );
    server.post("/session/start", json!({})).await;
    let status = server.wait_for(30, |s| s.segment_index == Some(0)).await;
    assert_eq!(status.backend.kind, "synth");
}

/// Measures what the server adds to a cold start: the same container started by hand (create, start,
/// then health polled every 2 ms) against `ensure_ready` on a stopped service. Run with
/// `cargo nextest run -p server --run-ignored only cold_start_overhead --no-capture`.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn cold_start_overhead() {
    let Some(engine) = dockerd::start("cold_start_overhead").await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let service = double("bench", &[]);
    let raw = double("bench-raw", &[]);
    let containers = Containers::new(
        std::slice::from_ref(&service),
        Some(engine.host.clone()),
        None,
        None,
        data.path(),
        Arc::default(),
    )
    .unwrap();
    let http = reqwest::Client::new();
    let (mut by_hand, mut managed) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let began = Instant::now();
        let options = CreateContainerOptionsBuilder::new()
            .name("bench-raw")
            .build();
        let id = engine
            .docker()
            .create_container(Some(options), container_body(&raw, "bench"))
            .await
            .unwrap()
            .id;
        engine.docker().start_container(&id, None).await.unwrap();
        let health = format!("{}/health", raw.url());
        while !http
            .get(&health)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        by_hand.push(began.elapsed().as_secs_f64() * 1000.0);
        let force = bollard::query_parameters::RemoveContainerOptionsBuilder::new()
            .force(true)
            .build();
        engine
            .docker()
            .remove_container(&id, Some(force))
            .await
            .unwrap();

        let began = Instant::now();
        drop(containers.ensure_ready("bench").await.unwrap());
        managed.push(began.elapsed().as_secs_f64() * 1000.0);
        containers.stop("bench").await.unwrap();
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (hand, ours) = (median(&mut by_hand), median(&mut managed));
    eprintln!(
        "cold start, median of 10: by hand {hand:.0} ms (create + start + first healthy answer), \
         through tsuzuki {ours:.0} ms, overhead {:.0} ms\nby hand: {by_hand:.0?}\nmanaged: {managed:.0?}",
        ours - hand
    );
}
