//! The GPU on another machine: tsuzuki manages the ACE-Step container on a Docker engine it reaches over TLS,
//! configured as Docker's CLI is (`DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`). The engine is a
//! private dockerd listening at this machine's network address with certificates made in the test, so the
//! service's URL follows the engine's address, as it would to a GPU box. Each test skips loudly when no
//! engine can start.

mod common;

use std::time::Duration;

use app::api::SessionState;
use clap::Parser;
use common::dockerd::{self, Dockerd, IMAGE};
use common::{eventually, spawn, Server};
use serde_json::{json, Value};
use tsuzuki::config::{Config, RawSettings, Source};

/// A server whose ACE-Step runs on `engine` over TLS with the certificates in `certs`.
async fn server(engine: &Dockerd, certs: &std::path::Path) -> (Server, u16, tempfile::TempDir) {
    let tls = engine.tls.as_ref().unwrap();
    let port = std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tsuzuki.yaml");
    // Host networking, listening on every interface: the server comes over the network.
    let service = json!({
        "id": "acestep", "image": IMAGE, "network": "host", "port": port,
        "command": ["/acestep-double", "--host", "0.0.0.0", "--port", port.to_string()],
        "startup_timeout_seconds": 15, "stop_timeout_seconds": 3, "idle_ttl_seconds": 1,
    });
    std::fs::write(&file, json!({ "services": [service] }).to_string()).unwrap();
    let flags = RawSettings::try_parse_from([
        "tsuzuki",
        "--config",
        file.to_str().unwrap(),
        "--backend",
        "acestep",
        "--acestep-service",
        "acestep",
        "--acestep-model",
        "acestep-v15-turbo",
        "--segment-seconds",
        "8",
        "--overlap-seconds",
        "2",
        "--poll-interval-ms",
        "20",
        "--no-bridge",
        "--docker-host",
        &tls.host,
        "--docker-tls-verify",
        "1",
        "--docker-cert-path",
        certs.to_str().unwrap(),
    ])
    .unwrap();
    let config: Config = Source {
        flags,
        leptos_addr: None,
    }
    .load()
    .unwrap();
    (spawn(config).await, port, dir)
}

#[tokio::test]
async fn a_model_on_an_engine_over_tls_makes_music_there_and_stops_when_idle() {
    let Some(engine) = dockerd::start_tls("remote_engine_tls").await else {
        return;
    };
    let tls = engine.tls.as_ref().unwrap();
    let (server, port, _dir) = server(&engine, &tls.files.client).await;
    let listed: Value = server.get("/api/v1/services").await.json().await.unwrap();
    assert_eq!(
        listed["services"][0]["url"],
        format!("http://{}:{port}", tls.machine),
        "the service is reached on the engine's machine"
    );
    assert!(server
        .post("/session/start", json!({}))
        .await
        .status()
        .is_success());
    server
        .wait_for(60, |s| {
            assert_ne!(s.state, SessionState::Error, "{s:?}");
            s.segment_index >= Some(0)
        })
        .await;
    assert_eq!(server.get("/audio/0.flac").await.status(), 200);
    let (container, running) = engine
        .container("tsuzuki-acestep")
        .await
        .expect("made there");
    assert!(running, "{container}");
    server.post("/session/stop", json!({})).await;
    eventually(30, "the idle container is stopped and removed", || async {
        engine.container("tsuzuki-acestep").await.is_none()
    })
    .await;
}

#[tokio::test]
async fn a_certificate_from_the_wrong_authority_is_a_clear_error_at_once() {
    let Some(engine) = dockerd::start_tls("remote_engine_wrong_ca").await else {
        return;
    };
    let tls = engine.tls.as_ref().unwrap();
    let (server, _, _dir) = server(&engine, &tls.files.wrong_ca).await;
    // A refused handshake must come back as an answer, not hang until some timeout.
    let reply = tokio::time::timeout(
        Duration::from_secs(30),
        server.post("/api/v1/service/acestep/start", json!({})),
    )
    .await
    .expect("an answer, not a hang");
    assert_eq!(reply.status(), 503);
    let body: Value = reply.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&tls.host), "names the engine: {message}");
    assert!(message.contains("TLS certificate"), "{message}");
    assert!(message.contains("DOCKER_CERT_PATH"), "{message}");
    assert_eq!(engine.container("tsuzuki-acestep").await, None);
}
