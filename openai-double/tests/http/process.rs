//! The binary as a container runs it: a llama.cpp-style command line, plain lines on stdout, and a graceful
//! end on SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

use super::*;

/// The next stdout line, failing the test rather than hanging on a silent process.
async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(Duration::from_secs(2), lines.next_line())
        .await
        .expect("no line within 2 s")
        .unwrap()
        .expect("stdout closed")
}

#[tokio::test]
async fn the_binary_logs_loading_and_requests_and_ends_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_openai-double"))
        .args([
            "--port",
            "0",
            "-m",
            "a,b",
            "-ngl",
            "99",
            "--startup-delay-ms",
            "200",
        ])
        .args(["--chunk-delay-ms", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = next_line(&mut lines).await;
    let url = listening.strip_prefix("listening on ").unwrap().to_string();
    assert_eq!(next_line(&mut lines).await, "loading model: 50%");
    assert_eq!(next_line(&mut lines).await, "loading model: 100%");
    assert_eq!(next_line(&mut lines).await, "model loaded");

    let ask =
        json!({ "model": "b", "messages": [{ "role": "user", "content": "hi" }], "stream": true });
    let reply = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(&ask)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert!(reply.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    assert_eq!(
        next_line(&mut lines).await,
        "request POST /v1/chat/completions model=b stream=true"
    );
    reqwest::get(format!("{url}/health")).await.unwrap();
    assert_eq!(next_line(&mut lines).await, "request GET /health");

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = tokio::time::timeout(Duration::from_secs(2), child.wait())
        .await
        .expect("still running 2 s after SIGTERM")
        .unwrap();
    assert!(exit.success(), "{exit}");
}
