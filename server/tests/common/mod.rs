//! A real tsuzuki API server on a loopback port, and the HTTP calls tests make to it.

#![allow(dead_code)] // Each test binary uses a different part of this module.

pub mod dockerd;
pub mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use app::api::Status;
use serde_json::Value;
use tsuzuki::config::Config;
use tsuzuki::containers::Containers;
use tsuzuki::metrics::Metrics;
use tsuzuki::session::{storage::DataDir, Sessions};

pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    pub data: tempfile::TempDir,
    /// The model containers, when the config declares services.
    pub containers: Option<Containers>,
    pub sessions: Sessions,
}

/// Starts the API with `config` (its data dir is replaced by a fresh temporary one), with a container
/// manager when the config declares services, as the binary does.
pub async fn spawn(mut config: Config) -> Server {
    let data = tempfile::tempdir().unwrap();
    config.session.data_dir = data.path().to_path_buf();
    let backend = tsuzuki::backend_for(&config).unwrap();
    let metrics = Arc::new(Metrics::default());
    let containers = Containers::from_config(&config, metrics.clone()).unwrap();
    let sessions = Sessions::with_containers(
        config.clone(),
        backend,
        DataDir::open(&config.session.data_dir).unwrap(),
        containers.clone(),
        metrics,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = tsuzuki::api::router(sessions.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server {
        base,
        http: reqwest::Client::new(),
        data,
        containers,
        sessions,
    }
}

/// A reply's body, checked to be exactly as long as its `Content-Length` said.
pub async fn declared_body(reply: reqwest::Response) -> bytes::Bytes {
    let length: usize = reply.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = reply.bytes().await.unwrap();
    assert_eq!(bytes.len(), length);
    bytes
}

/// Polls `check` until it holds, failing the test after `seconds`.
pub async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Short segments for speed: 8 s with a 2 s overlap.
pub fn short(data_dir: &Path) -> Config {
    let mut config = Config::with(data_dir.to_path_buf(), 8.0, 2.0);
    config.session.retry_backoff = Duration::from_millis(20);
    config
}

impl Server {
    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn status(&self) -> Status {
        self.get("/session/status").await.json().await.unwrap()
    }

    /// Polls the status until `done` holds (or fails the test after `seconds`).
    pub async fn wait_for(&self, seconds: u64, done: impl Fn(&Status) -> bool) -> Status {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            let status = self.status().await;
            if done(&status) {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out; last status {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The files of the (only) session folder, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(self.data.path()).unwrap().flatten() {
            if entry.path().is_dir() {
                for file in std::fs::read_dir(entry.path()).unwrap().flatten() {
                    names.push(file.file_name().to_string_lossy().into_owned());
                }
            }
        }
        names.sort();
        names
    }

    pub fn session_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.data.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect()
    }
}
