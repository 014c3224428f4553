//! The model proxy on a real Docker engine (a private dockerd per test, common/dockerd.rs) with the
//! OpenAI-compatible double in a FROM-scratch image: routing by `model` starts the right container and
//! evicts the idle one; streamed answers arrive chunk by chunk; OpenAI's error shapes; a YAML config
//! reloaded through the API and by a change of the file; templates; restart; logs; `max_concurrent`; a
//! client that gives up while its service starts. Each test skips loudly when no engine can start.

mod common;

use std::time::{Duration, Instant};

use clap::Parser;
use common::dockerd::{self, Dockerd, OPENAI_IMAGE};
use common::{eventually, spawn, Server};
use futures::StreamExt;
use serde_json::{json, Value};
use tsuzuki::config::{RawSettings, Source};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One service of the double in YAML: its own port (host networking), its model names, more arguments for
/// the double and more keys.
fn double(id: &str, models: &[&str], args: &[&str], extra: &str) -> String {
    let port = free_port();
    let names = models.join(",");
    let args: String = args.iter().map(|a| format!(", \"{a}\"")).collect();
    format!(
        "  - id: {id}\n    image: {OPENAI_IMAGE}\n    network: host\n    port: {port}\n    \
         command: [--host, 127.0.0.1, --port, \"${{PORT}}\", --model, \"{names}\"{args}]\n    \
         models: [{names}]\n    startup_timeout_seconds: 15\n    stop_timeout_seconds: 3\n{extra}"
    )
}

/// A server whose config file is `yaml` (watched for changes, as the binary does), on engine `engine`.
struct Proxy {
    server: Server,
    file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn proxy(engine: &Dockerd, yaml: &str) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tsuzuki.yaml");
    std::fs::write(&file, yaml).unwrap();
    let flags = RawSettings::try_parse_from([
        "tsuzuki",
        "--config",
        file.to_str().unwrap(),
        "--docker-host",
        &engine.host,
    ])
    .unwrap();
    let source = Source {
        flags,
        leptos_addr: None,
    };
    let server = spawn(source.load().unwrap()).await;
    server.containers.as_ref().unwrap().watch(source);
    Proxy {
        server,
        file,
        _dir: dir,
    }
}

impl Proxy {
    async fn chat(&self, model: &str, stream: bool) -> reqwest::Response {
        let body = json!({"model": model, "stream": stream,
            "messages": [{"role": "user", "content": "hello there"}]});
        self.server.post("/v1/chat/completions", body).await
    }

    async fn services(&self) -> Value {
        self.server
            .get("/api/v1/services")
            .await
            .json()
            .await
            .unwrap()
    }

    async fn container_of(&self, id: &str) -> Option<String> {
        let services = self.services().await;
        let service = services["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)?;
        service["container_id"].as_str().map(str::to_string)
    }
}

async fn error_of(reply: reqwest::Response) -> (u16, Value) {
    let status = reply.status().as_u16();
    (
        status,
        reply.json::<Value>().await.unwrap()["error"].clone(),
    )
}

#[tokio::test]
async fn routing_by_model_starts_the_right_container_and_evicts_the_idle_one() {
    let Some(engine) = dockerd::start("routing_by_model").await else {
        return;
    };
    let budget = "    gpu_memory_gb: 8\n";
    let yaml = format!(
        "gpu_memory_budget_gb: 10\nservices:\n{}{}",
        double("chat", &["chat-model", "chat-alias"], &[], budget),
        double("embed", &["embed-model"], &[], budget)
    );
    let p = proxy(&engine, &yaml).await;
    let listed: Value = p.server.get("/v1/models").await.json().await.unwrap();
    let ids: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["chat-model", "chat-alias", "embed-model"]);
    assert_eq!(listed["data"][0]["service"], "chat");
    assert_eq!(listed["data"][0]["state"], "stopped");

    let reply = p.chat("chat-alias", false).await;
    assert_eq!(reply.status(), 200);
    let answer: Value = reply.json().await.unwrap();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "echo: hello there"
    );
    assert!(engine.container("tsuzuki-chat").await.unwrap().1);

    let body = json!({"model": "embed-model", "input": ["a", "b"]});
    let reply = p.server.post("/v1/embeddings", body).await;
    assert_eq!(reply.status(), 200);
    let answer: Value = reply.json().await.unwrap();
    assert_eq!(answer["data"].as_array().unwrap().len(), 2);
    assert!(engine.container("tsuzuki-embed").await.unwrap().1);
    assert_eq!(
        engine.container("tsuzuki-chat").await,
        None,
        "the idle chat service made room in the GPU budget"
    );
}

#[tokio::test]
async fn a_streamed_completion_arrives_chunk_by_chunk() {
    let Some(engine) = dockerd::start("streamed_completion").await else {
        return;
    };
    let args = [
        "--chunk-delay-ms",
        "150",
        "--reply",
        "one two three four five",
    ];
    let yaml = format!("services:\n{}", double("s", &["m"], &args, ""));
    let p = proxy(&engine, &yaml).await;
    let reply = p.chat("m", true).await;
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["x-accel-buffering"], "no");
    let began = Instant::now();
    let mut arrivals = Vec::new();
    let mut text = String::new();
    let mut body = reply.bytes_stream();
    while let Some(chunk) = body.next().await {
        arrivals.push(began.elapsed());
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let content: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(content, "one two three four five");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(arrivals.len() >= 4, "{} reads: {text}", arrivals.len());
    let spread = *arrivals.last().unwrap() - arrivals[0];
    assert!(
        spread >= Duration::from_millis(450),
        "the chunks came together ({spread:?}): buffered"
    );
}

#[tokio::test]
async fn openai_clients_get_openai_errors() {
    let Some(engine) = dockerd::start("openai_errors").await else {
        return;
    };
    let yaml = format!("services:\n{}", double("s", &["m"], &[], ""));
    let p = proxy(&engine, &yaml).await;
    let (status, error) = error_of(p.chat("nope", false).await).await;
    assert_eq!(status, 404);
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["code"], "model_not_found");
    assert_eq!(error["param"], "model");
    assert!(error["message"].as_str().unwrap().contains("nope"));

    let reply = p
        .server
        .post("/v1/chat/completions", json!({"messages": []}))
        .await;
    let (status, error) = error_of(reply).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("model_missing"))
    );

    let reply = p
        .server
        .http
        .post(format!("{}/v1/embeddings", p.server.base))
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(reply).await;
    assert_eq!(
        (status, error["type"].as_str()),
        (400, Some("invalid_request_error"))
    );
    assert_eq!(engine.container("tsuzuki-s").await, None, "nothing started");
}

#[tokio::test]
async fn a_reload_keeps_restarts_stops_and_adds_services_and_refuses_a_bad_file() {
    let Some(engine) = dockerd::start("reload").await else {
        return;
    };
    let keep = double("keep", &["keep-model"], &[], "");
    let change = double("change", &["change-model"], &[], "");
    let remove = double("remove", &["remove-model"], &[], "");
    let p = proxy(&engine, &format!("services:\n{keep}{change}{remove}")).await;
    for id in ["keep", "change", "remove"] {
        let reply = p
            .server
            .post(&format!("/api/v1/service/{id}/start"), json!({}))
            .await;
        assert_eq!(reply.status(), 200, "{id}");
    }
    let kept = p.container_of("keep").await.unwrap();

    let changed = change.replace("\"change-model\"]", "\"change-model\", --reply, fresh]");
    let add = double("add", &["add-model"], &[], "");
    std::fs::write(&p.file, format!("services:\n{keep}{changed}{add}")).unwrap();
    let reply = p.server.post("/api/v1/config/reload", json!({})).await;
    assert_eq!(reply.status(), 200);
    let diff: Value = reply.json().await.unwrap();
    assert_eq!(diff["added"], json!(["add"]));
    assert_eq!(diff["changed"], json!(["change"]));
    assert_eq!(diff["removed"], json!(["remove"]));
    assert_eq!(diff["unchanged"], json!(["keep"]));

    eventually(
        10,
        "the removed and the changed containers are gone",
        || async {
            engine.container("tsuzuki-remove").await.is_none()
                && engine.container("tsuzuki-change").await.is_none()
        },
    )
    .await;
    assert_eq!(p.container_of("keep").await.as_deref(), Some(kept.as_str()));
    let answer: Value = p.chat("change-model", false).await.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "fresh");
    assert_eq!(p.chat("add-model", false).await.status(), 200);
    assert_eq!(p.chat("remove-model", false).await.status(), 404);

    std::fs::write(&p.file, "services:\n  - id: [broken\n").unwrap();
    let reply = p.server.post("/api/v1/config/reload", json!({})).await;
    let (status, error) = error_of(reply).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (422, Some("invalid_config"))
    );
    assert!(
        error["message"].as_str().unwrap().contains("line 2"),
        "{error}"
    );
    assert_eq!(
        p.chat("add-model", false).await.status(),
        200,
        "the running config stays"
    );

    // Without any call: the file's change alone is noticed.
    std::fs::write(&p.file, format!("services:\n{keep}{changed}")).unwrap();
    eventually(10, "the file change removed `add`", || async {
        p.services().await["services"].as_array().unwrap().len() == 2
    })
    .await;
    assert_eq!(p.container_of("keep").await.as_deref(), Some(kept.as_str()));
}

#[tokio::test]
async fn a_template_runs_the_server_with_its_macros_expanded() {
    let Some(engine) = dockerd::start("template").await else {
        return;
    };
    let models = tempfile::tempdir().unwrap();
    std::fs::write(models.path().join("tiny.gguf"), b"GGUF").unwrap();
    let yaml = format!(
        "macros:\n  HOME_MODELS: {}\nservices:\n  - id: tiny\n    template: llama.cpp\n    \
         model: /models/tiny.gguf\n    model_dir: ${{HOME_MODELS}}\n    image: {OPENAI_IMAGE}\n    \
         port: {}\n    network: host\n    gpus: none\n    startup_timeout_seconds: 15\n",
        models.path().display(),
        free_port()
    );
    let p = proxy(&engine, &yaml).await;
    let reply = p.chat("tiny", false).await;
    assert_eq!(reply.status(), 200);
    let answer: Value = reply.json().await.unwrap();
    assert_eq!(
        answer["model"], "tiny",
        "--alias ${{ID}} reached the server"
    );
    let inspected = engine
        .docker()
        .inspect_container("tsuzuki-tiny", None)
        .await
        .unwrap();
    let mount = &inspected.mounts.unwrap()[0];
    assert_eq!(
        mount.source.as_deref(),
        Some(models.path().to_str().unwrap())
    );
    assert_eq!(mount.destination.as_deref(), Some("/models"));
    assert_eq!(mount.rw, Some(false), "the models are mounted read-only");
    let args = inspected.args.unwrap().join(" ");
    assert!(
        args.starts_with("--model /models/tiny.gguf --alias tiny --host 0.0.0.0 --port"),
        "{args}"
    );
}

#[tokio::test]
async fn restart_gives_a_new_container_and_logs_follow_it_until_it_stops() {
    let Some(engine) = dockerd::start("restart_and_logs").await else {
        return;
    };
    let p = proxy(
        &engine,
        &format!("services:\n{}", double("s", &["m"], &[], "")),
    )
    .await;
    assert_eq!(p.chat("m", false).await.status(), 200);
    let first = p.container_of("s").await.unwrap();

    let follow = p
        .server
        .get("/api/v1/service/s/logs?tail=100&follow=true")
        .await;
    assert_eq!(follow.status(), 200);
    assert!(follow.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut events = follow.bytes_stream();
    assert_eq!(p.chat("m", false).await.status(), 200);
    let mut text = String::new();
    let reading = async {
        while let Some(chunk) = events.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if text.matches("/v1/chat/completions").count() >= 2 {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), reading)
        .await
        .expect("the second request's log line arrived live");

    let reply = p.server.post("/api/v1/service/s/restart", json!({})).await;
    assert_eq!(reply.status(), 200);
    let info: Value = reply.json().await.unwrap();
    assert_eq!(info["state"], "ready");
    assert_ne!(info["container_id"].as_str(), Some(first.as_str()));
    // The followed container is gone: its stream ends with an `end` event.
    let rest = tokio::time::timeout(Duration::from_secs(10), async {
        let mut rest = String::new();
        while let Some(chunk) = events.next().await {
            rest.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
        rest
    })
    .await
    .expect("the log stream ended with the container");
    assert!(rest.contains("event: end"), "{rest}");
}

#[tokio::test]
async fn requests_beyond_max_concurrent_get_429_with_retry_after() {
    let Some(engine) = dockerd::start("max_concurrent").await else {
        return;
    };
    let limits = "    max_concurrent: 1\n    queue_timeout_seconds: 0.3\n";
    let args = ["--chunk-delay-ms", "300", "--reply", "a b c d e"];
    let yaml = format!("services:\n{}", double("s", &["m"], &args, limits));
    let p = proxy(&engine, &yaml).await;
    let streaming = p.chat("m", true).await;
    assert_eq!(streaming.status(), 200);
    let reply = p.chat("m", false).await;
    assert_eq!(reply.status(), 429);
    assert_eq!(reply.headers()["retry-after"], "1");
    let (_, error) = error_of(reply).await;
    assert_eq!(error["type"], "rate_limit_error");
    // Reading the stream to its end gives the place back.
    streaming.bytes().await.unwrap();
    assert_eq!(p.chat("m", false).await.status(), 200);
}

#[tokio::test]
async fn a_client_that_gives_up_during_the_start_does_not_keep_the_service() {
    let Some(engine) = dockerd::start("gives_up").await else {
        return;
    };
    let extra = "    idle_ttl_seconds: 1\n";
    let args = ["--startup-delay-ms", "1500"];
    let yaml = format!("services:\n{}", double("s", &["m"], &args, extra));
    let p = proxy(&engine, &yaml).await;
    let impatient = p
        .server
        .http
        .post(format!("{}/v1/chat/completions", p.server.base))
        .json(&json!({"model": "m", "messages": []}))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(impatient.is_err(), "the client gave up");
    eventually(
        10,
        "the service started and then stopped for idleness",
        || async {
            let services = p.services().await;
            let s = &services["services"][0];
            s["in_use"] == 0 && s["state"] == "stopped" && s["last_used"].is_string()
        },
    )
    .await;
    assert_eq!(engine.container("tsuzuki-s").await, None);
}

/// Not a test: the time a request to an already running service takes through the proxy, against the
/// same request straight to the container. `cargo nextest run -p server --run-ignored only proxy_overhead
/// --no-capture`, with `TSUZUKI_BENCH_TELEMETRY` unset (no subscriber at all), `terminal` (the server's own
/// subscriber, no collector) or `otlp` (exporting everything to a collector here that drops it): the
/// subscriber is the process's, so each is a run of its own, each measured against the direct calls.
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn proxy_overhead() {
    let otlp_endpoint = match std::env::var("TSUZUKI_BENCH_TELEMETRY").as_deref() {
        Ok("otlp") => Some(Some(collector_that_drops_everything().await)),
        Ok("terminal") => Some(None),
        _ => None,
    };
    let _telemetry = otlp_endpoint.map(|otlp_endpoint| {
        tsuzuki::telemetry::init(&tsuzuki::config::TelemetryConfig { otlp_endpoint }).unwrap()
    });
    let Some(engine) = dockerd::start("proxy_overhead").await else {
        return;
    };
    let p = proxy(
        &engine,
        &format!("services:\n{}", double("s", &["m"], &[], "")),
    )
    .await;
    assert_eq!(p.chat("m", false).await.status(), 200);
    let url = p.services().await["services"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let http = reqwest::Client::new();
    let time = |target: String| {
        let (http, body) = (http.clone(), body.clone());
        async move {
            let mut took = Vec::new();
            for _ in 0..300 {
                let began = Instant::now();
                let reply = http.post(&target).json(&body).send().await.unwrap();
                reply.bytes().await.unwrap();
                took.push(began.elapsed().as_secs_f64() * 1000.0);
            }
            took.sort_by(f64::total_cmp);
            (took[took.len() / 2], took[took.len() * 95 / 100])
        }
    };
    // Interleaved rounds, so both see the same machine load.
    for round in 0..3 {
        let direct = time(format!("{url}/v1/chat/completions")).await;
        let proxied = time(format!("{}/v1/chat/completions", p.server.base)).await;
        println!(
            "round {round}: direct p50 {:.3} ms p95 {:.3} ms; through tsuzuki p50 {:.3} ms p95 {:.3} ms; \
             ratio p50 {:.2}",
            direct.0,
            direct.1,
            proxied.0,
            proxied.1,
            proxied.0 / direct.0
        );
    }
}

#[tokio::test]
async fn without_services_or_a_config_file_the_answers_are_clear() {
    let server = spawn(common::short(std::path::Path::new("unused"))).await;
    let (status, error) = error_of(
        server
            .post("/v1/chat/completions", json!({"model": "m"}))
            .await,
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("model_not_found"))
    );
    let listed: Value = server.get("/v1/models").await.json().await.unwrap();
    assert_eq!(listed, json!({"object": "list", "data": []}));
    let (status, error) = error_of(server.post("/api/v1/config/reload", json!({})).await).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("no_config_file"))
    );
    let schema: Value = server
        .get("/api/v1/config/schema")
        .await
        .json()
        .await
        .unwrap();
    assert!(schema["properties"]["services"].is_object());
}

/// An OTLP/HTTP endpoint that takes every export and keeps nothing.
async fn collector_that_drops_everything() -> String {
    let app = axum::Router::new().route(
        "/v1/{signal}",
        axum::routing::post(|_: axum::body::Bytes| async { "" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}
