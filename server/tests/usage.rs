//! Seeing inside the model proxy on a real Docker engine with the OpenAI-compatible double: usage statistics
//! per service (JSON and Prometheus), the GPU readings' absent path (no NVML here), and recovery from a
//! GPU out of memory, at start and in an answer. Each test skips loudly when no engine can start.

mod common;

use common::dockerd::{self, Dockerd, OPENAI_IMAGE};
use common::{eventually, short, spawn, Server};
use serde_json::{json, Value};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A service of the double with `args`, on its own port (host networking), holding `gpu_gb`.
fn double(id: &str, args: &[&str], volume: Option<&str>, gpu_gb: f64) -> Value {
    let port = free_port();
    let mut command = vec!["--host", "127.0.0.1", "--port", "${PORT}", "--model", id];
    command.extend(args);
    let mut service = json!({
        "id": id, "image": OPENAI_IMAGE, "network": "host", "port": port, "command": command,
        "startup_timeout_seconds": 15, "stop_timeout_seconds": 3, "gpu_memory_gb": gpu_gb,
    });
    if let Some(volume) = volume {
        service["volumes"] = json!([volume]);
    }
    service
}

/// A server with `services` (written as a YAML file, which JSON is) on `engine`.
async fn server(engine: &Dockerd, services: Vec<Value>) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tsuzuki.yaml");
    let text = json!({"services": services}).to_string();
    std::fs::write(&file, text).unwrap();
    let mut config = short(std::path::Path::new("unused"));
    let loaded = tsuzuki::config::Source {
        flags: clap::Parser::parse_from(["tsuzuki", "--config", file.to_str().unwrap()]),
        leptos_addr: None,
    }
    .load()
    .unwrap();
    config.containers = loaded.containers;
    config.containers.docker_host = Some(engine.host.clone());
    (spawn(config).await, dir)
}

async fn chat(server: &Server, model: &str, stream: bool) -> reqwest::Response {
    let body = json!({"model": model, "stream": stream,
        "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "three little words"}]});
    server.post("/v1/chat/completions", body).await
}

#[tokio::test]
async fn each_service_s_use_is_counted_in_the_stats_and_the_metrics() {
    let Some(engine) = dockerd::start("usage_stats").await else {
        return;
    };
    let (server, _dir) = server(&engine, vec![double("s", &[], None, 0.0)]).await;
    let whole = chat(&server, "s", false).await;
    assert_eq!(whole.status(), 200);
    whole.bytes().await.unwrap();
    let streamed = chat(&server, "s", true).await;
    assert_eq!(streamed.status(), 200);
    streamed.bytes().await.unwrap();
    assert_eq!(chat(&server, "nope", false).await.status(), 404);

    let stats: Value = server.get("/api/v1/stats").await.json().await.unwrap();
    let s = &stats["services"][0];
    assert_eq!(s["id"], "s");
    for window in ["since_start", "last_hour"] {
        let t = &s[window];
        assert_eq!(t["requests"], 2, "{window}: {t}");
        assert_eq!(t["errors"], 0);
        assert_eq!(
            t["cold_starts"], 1,
            "the first request waited for the start"
        );
        // "echo: three little words" is four words; the prompt three.
        assert_eq!(
            (t["prompt_tokens"].as_u64(), t["completion_tokens"].as_u64()),
            (Some(6), Some(8))
        );
        assert!(t["bytes_in"].as_u64().unwrap() > 100);
        assert!(t["bytes_out"].as_u64().unwrap() > t["bytes_in"].as_u64().unwrap());
        let p50 = t["latency_seconds"]["p50"].as_f64().unwrap();
        let first = t["time_to_first_byte_seconds"]["p50"].as_f64().unwrap();
        assert!(first > 0.0 && first <= p50 * 1.1, "{first} vs {p50}");
        assert!(t["busy_seconds"].as_f64().unwrap() > 0.0);
    }
    let metrics = server.get("/metrics").await.text().await.unwrap();
    for line in [
        "tsuzuki_proxy_requests_total{service=\"s\"} 2",
        "tsuzuki_tokens_total{service=\"s\",kind=\"completion\"} 8",
        "tsuzuki_proxy_cold_starts_total{service=\"s\"} 1",
        "tsuzuki_gpu_readings 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
    // No NVML on this machine: the API says the figures are the declared ones, and why.
    let services: Value = server.get("/api/v1/services").await.json().await.unwrap();
    assert_eq!(services["gpus"]["source"], "declared");
    assert!(services["gpus"]["reason"]
        .as_str()
        .unwrap()
        .contains("NVML"));
}

#[tokio::test]
async fn a_start_out_of_gpu_memory_is_tried_again_after_the_idle_services_stop() {
    let Some(engine) = dockerd::start("oom_at_start").await else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let volume = format!("{}:/state", state.path().display());
    let once = ["--out-of-memory-once", "/state/tried"];
    let services = vec![
        double("idle", &[], None, 0.0),
        double("big", &once, Some(&volume), 0.0),
        double("hopeless", &["--out-of-memory"], None, 0.0),
    ];
    let (server, _dir) = server(&engine, services).await;
    assert_eq!(chat(&server, "idle", false).await.status(), 200);

    let reply = chat(&server, "big", false).await;
    assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap());
    assert!(
        state.path().join("tried").exists(),
        "the first start ran out of memory"
    );
    assert_eq!(
        engine.container("tsuzuki-idle").await,
        None,
        "the idle service made room"
    );

    let reply = chat(&server, "hopeless", false).await;
    assert_eq!(reply.status(), 503);
    let error: Value = reply.json().await.unwrap();
    assert_eq!(error["error"]["code"], "gpu_memory");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("CUDA out of memory"), "{message}");
    assert!(
        message.contains("again after the idle services were stopped"),
        "{message}"
    );
    assert!(
        engine.container("tsuzuki-big").await.is_none(),
        "big was idle: stopped too"
    );
}

#[tokio::test]
async fn an_answer_out_of_gpu_memory_restarts_the_service_and_is_sent_again() {
    let Some(engine) = dockerd::start("oom_in_answer").await else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let volume = format!("{}:/state", state.path().display());
    let once = ["--answers-out-of-memory-once", "/state/tried"];
    let services = vec![
        double("idle", &[], None, 0.0),
        double("s", &once, Some(&volume), 0.0),
    ];
    let (server, _dir) = server(&engine, services).await;
    assert_eq!(chat(&server, "idle", false).await.status(), 200);
    let reply = chat(&server, "s", false).await;
    assert_eq!(reply.status(), 200, "answered by the restarted service");
    let answer: Value = reply.json().await.unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "echo: three little words"
    );
    assert_eq!(engine.container("tsuzuki-idle").await, None);
    eventually(5, "the failed answer is counted", || async {
        let stats: Value = server.get("/api/v1/stats").await.json().await.unwrap();
        let s = stats["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == "s")
            .cloned()
            .unwrap();
        s["since_start"]["errors"] == 1 && s["since_start"]["requests"] == 2
    })
    .await;
}
