//! OpenTelemetry as a collector receives it: the traces of a Play (request → session → segment → attempt
//! → call to the model) and of a proxied call (client → request → proxy → model server) with their parent
//! links, the trace context passed on to the model servers, and metrics and logs. One test in its own
//! binary: it installs the process's global subscriber.

mod collector;
#[path = "../common/mod.rs"]
mod common;

use std::collections::HashMap;

use acestep_double::Options;
use app::api::SessionState;
use clap::Parser;
use collector::{text, Collector};
use common::dockerd::{self, OPENAI_IMAGE};
use common::{short, spawn, Server};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{json, Value};
use tsuzuki::config::{Config, RawSettings, TelemetryConfig};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> String {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .map(|a| text(a.value.as_ref()))
        .unwrap_or_default()
}

/// The spans by id, to walk from any of them up to its root.
struct Trace<'a> {
    by_id: HashMap<&'a [u8], &'a Span>,
}

impl<'a> Trace<'a> {
    fn of(spans: &'a [Span]) -> Trace<'a> {
        Trace {
            by_id: spans.iter().map(|s| (s.span_id.as_slice(), s)).collect(),
        }
    }

    fn parent(&self, span: &Span) -> Option<&'a Span> {
        self.by_id.get(span.parent_span_id.as_slice()).copied()
    }

    /// The names from `span` up to its root, `span` first.
    fn lineage(&self, span: &'a Span) -> Vec<&'a str> {
        let mut names = vec![span.name.as_str()];
        let mut at = span;
        while let Some(parent) = self.parent(at) {
            assert_eq!(parent.trace_id, at.trace_id, "{} left its trace", at.name);
            names.push(parent.name.as_str());
            at = parent;
        }
        names
    }
}

/// Play on ACE-Step (the double, in-process) until two segments are made, then Stop.
async fn play(double_url: &str) -> Server {
    let raw = RawSettings::try_parse_from([
        "tsuzuki",
        "--backend",
        "acestep",
        "--acestep-url",
        double_url,
        "--segment-seconds",
        "8",
        "--overlap-seconds",
        "2",
        "--poll-interval-ms",
        "20",
        "--no-bridge",
    ])
    .unwrap();
    let server = spawn(Config::load(raw, None).unwrap()).await;
    assert!(server
        .post("/session/start", json!({}))
        .await
        .status()
        .is_success());
    let made = |index| {
        server.wait_for(60, move |s| {
            assert_ne!(s.state, SessionState::Error, "{s:?}");
            s.segment_index >= Some(index)
        })
    };
    made(0).await;
    // Segment 1 is made once 0 is downloaded; 1 stays where it is, so no third one is begun.
    let audio = server.get("/audio/0.flac").await;
    assert_eq!(audio.status(), 200);
    audio.bytes().await.unwrap();
    made(1).await;
    assert!(server
        .post("/session/stop", json!({}))
        .await
        .status()
        .is_success());
    server
}

/// A chat completion through the proxy to the OpenAI-compatible double in a container, sent with the
/// trace context of a client that traces; returns the double's request log lines. `None` without Docker.
async fn proxied_chat(client_trace: &str) -> Option<Vec<String>> {
    let engine = dockerd::start("telemetry_proxy").await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tsuzuki.yaml");
    let service = json!({
        "id": "chat", "image": OPENAI_IMAGE, "network": "host", "port": port,
        "command": ["--host", "127.0.0.1", "--port", "${PORT}", "--model", "chat"],
        "startup_timeout_seconds": 15, "stop_timeout_seconds": 3,
    });
    std::fs::write(&file, json!({ "services": [service] }).to_string()).unwrap();
    let mut config = short(std::path::Path::new("unused"));
    config.containers = tsuzuki::config::Source {
        flags: RawSettings::parse_from(["tsuzuki", "--config", file.to_str().unwrap()]),
        leptos_addr: None,
    }
    .load()
    .unwrap()
    .containers;
    config.containers.docker_host = Some(engine.host.clone());
    let server = spawn(config).await;
    let reply = server
        .http
        .post(format!("{}/v1/chat/completions", server.base))
        .header("traceparent", client_trace)
        .json(&json!({"model": "chat", "messages": [{"role": "user", "content": "hello there"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    reply.bytes().await.unwrap();
    let logs: Value = server
        .get("/api/v1/service/chat/logs?tail=50")
        .await
        .json()
        .await
        .unwrap();
    server.containers.as_ref().unwrap().shutdown().await;
    let lines = logs["lines"].as_array().unwrap();
    Some(
        lines
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_play_and_a_proxied_call_reach_the_collector_as_traces_with_their_parents() {
    let collector = Collector::start().await;
    let telemetry = tsuzuki::telemetry::init(&TelemetryConfig {
        otlp_endpoint: Some(collector.base.clone()),
    })
    .unwrap();
    let double = acestep_double_on_loopback().await;
    let server = play(&double.0).await;
    telemetry.observe(server.sessions.metrics().clone(), None);
    let client = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331");
    let chat = proxied_chat(&format!("00-{}-{}-01", client.0, client.1)).await;
    telemetry.shutdown().await;
    let told: Vec<String> = reqwest::get(format!("{}/_double/requests", double.0))
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r["path"] == "/release_task")
        .map(|r| r["traceparent"].as_str().unwrap_or("none").to_string())
        .collect();
    let received = collector.received();
    assert!(
        received.services.iter().all(|s| s == "tsuzuki"),
        "{:?}",
        received.services
    );
    let trace = Trace::of(&received.spans);

    // The Play: every call to the model descends from the request that pressed it, through its segment.
    let play = received
        .spans
        .iter()
        .find(|s| s.name == "POST /session/start")
        .expect("the Play request's span");
    assert_eq!(play.kind, SpanKind::Server as i32);
    assert_eq!(attribute(play, "http.response.status_code"), "200");
    let calls: Vec<&Span> = received
        .spans
        .iter()
        .filter(|s| s.name == "POST /release_task")
        .collect();
    assert_eq!(calls.len(), 2, "a text2music and a repaint");
    for call in &calls {
        assert_eq!(call.kind, SpanKind::Client as i32);
        assert_eq!(
            trace.lineage(call),
            [
                "POST /release_task",
                "attempt",
                "segment",
                "session",
                "POST /session/start"
            ]
        );
        assert_eq!(call.trace_id, play.trace_id);
    }
    let segments: Vec<String> = calls
        .iter()
        .map(|c| {
            attribute(
                trace.parent(trace.parent(c).unwrap()).unwrap(),
                "segment.index",
            )
        })
        .collect();
    assert_eq!(segments, ["0", "1"]);
    // The model server was told which call each request was.
    let expected: Vec<String> = calls
        .iter()
        .map(|c| format!("00-{}-{}-01", hex(&c.trace_id), hex(&c.span_id)))
        .collect();
    assert_eq!(told, expected);

    // Metrics and logs came too.
    for metric in ["tsuzuki.segments.generated", "tsuzuki.served"] {
        assert!(
            received.metrics.iter().any(|m| m == metric),
            "{metric}: {:?}",
            received.metrics
        );
    }
    assert!(
        received.logs.iter().any(|l| l == "segment ready"),
        "{:?}",
        received.logs
    );

    // The proxied call continues the client's trace, and the model server continues ours.
    let Some(lines) = chat else { return };
    let request = received
        .spans
        .iter()
        .find(|s| s.name == "POST /v1/chat/completions")
        .expect("the proxied request's span");
    assert_eq!(
        (hex(&request.trace_id), hex(&request.parent_span_id)),
        (client.0.into(), client.1.into())
    );
    let proxy = received
        .spans
        .iter()
        .find(|s| s.name == "POST chat")
        .expect("the proxy span");
    assert_eq!(
        trace.lineage(proxy),
        ["POST chat", "POST /v1/chat/completions"]
    );
    assert_eq!(attribute(proxy, "http.response.status_code"), "200");
    assert!(
        attribute(proxy, "gen_ai.usage.output_tokens")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    let passed_on = format!("traceparent=00-{}-{}-01", client.0, hex(&proxy.span_id));
    assert!(
        lines.iter().any(|l| l.ends_with(&passed_on)),
        "{passed_on} in {lines:?}"
    );
    // Container starts and stops are traces of their own.
    for name in ["container.start", "container.stop"] {
        let span = received.spans.iter().find(|s| s.name == name).expect(name);
        assert!(span.parent_span_id.is_empty(), "{name} has a parent");
        assert_eq!(attribute(span, "service"), "chat");
    }
    drop(server);
}

/// The ACE-Step double on a loopback port, served until the handle is dropped.
async fn acestep_double_on_loopback() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = tokio::spawn(async move {
        let _ = acestep_double::serve(listener, Options::default(), std::future::pending()).await;
    });
    (url, served)
}
