//! The real ACE-Step client (`backend::acestep::AceStep`) against the ACE-Step double over loopback HTTP,
//! in both of the double's modes: the February 2026 snapshot and today's upstream server.

mod current;
mod jobs;

use std::time::Duration;

use acestep_double::{serve, Faults, Mode, Options};
use serde_json::Value;
use tokio::sync::watch;
use tsuzuki_audio::Audio;

use super::{AceStep, RepaintMode, Settings};
use crate::backend::{Backend, BackendError, Job, Task};

const RATE: u32 = 48_000;
/// Every test that holds for both servers runs against each.
const MODES: [Mode; 2] = [Mode::February, Mode::Current];

struct Double {
    url: String,
    http: reqwest::Client,
}

/// A double of the server `mode` with `options`, serving until the test ends.
async fn double(mode: Mode, options: Options) -> Double {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let options = Options { mode, ..options };
    tokio::spawn(serve(listener, options, std::future::pending()));
    Double {
        url,
        http: reqwest::Client::new(),
    }
}

fn faulty(faults: Faults) -> Options {
    Options {
        faults,
        ..Options::default()
    }
}

/// What the client asks the server `mode` to encode its audio as.
fn format_of(mode: Mode) -> &'static str {
    match mode {
        Mode::February => "wav",
        Mode::Current => "flac",
    }
}

impl Double {
    fn client(&self, api_key: Option<&str>) -> AceStep {
        client_for(&self.url, api_key)
    }

    async fn set_faults(&self, faults: Value) {
        let reply = self
            .http
            .post(format!("{}/_double/faults", self.url))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
    }

    async fn requests(&self) -> Vec<Value> {
        let reply = self
            .http
            .get(format!("{}/_double/requests", self.url))
            .send()
            .await
            .unwrap();
        reply.json().await.unwrap()
    }

    /// What each `/release_task` call asked for, in order.
    async fn releases(&self) -> Vec<Value> {
        self.requests()
            .await
            .into_iter()
            .filter_map(|r| r.get("release_task").cloned().filter(|r| !r.is_null()))
            .collect()
    }

    /// The paths of the requests so far, in order.
    async fn paths(&self) -> Vec<String> {
        self.requests()
            .await
            .iter()
            .filter_map(|r| r["path"].as_str().map(str::to_string))
            .collect()
    }

    /// The double's own `/health` data.
    async fn health(&self) -> Value {
        let reply: Value = self
            .http
            .get(format!("{}/health", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        reply["data"].clone()
    }
}

fn client_for(url: &str, api_key: Option<&str>) -> AceStep {
    AceStep::new(Settings {
        url: url.to_string(),
        api_key: api_key.map(str::to_string),
        model: "acestep-v15-sft".into(),
        poll_interval: Duration::from_millis(20),
        repaint_mode: RepaintMode::Conservative,
    })
    .unwrap()
}

fn job(task: Task, prompt: &str, seconds: f64) -> Job {
    Job {
        index: 1,
        task,
        prompt: prompt.into(),
        previous_prompt: None,
        duration_seconds: seconds,
        timeline_seconds: 0.0,
        session_seed: 7,
    }
}

fn text2music(seconds: f64) -> Job {
    job(Task::Text2Music, "warm analog synth pads", seconds)
}

async fn generate(backend: &AceStep, job: &Job) -> Result<Audio, BackendError> {
    backend.generate(job, &watch::channel(0.0).0).await
}

/// The largest absolute sample of all channels.
fn peak(audio: &Audio) -> f32 {
    audio
        .channels
        .iter()
        .flatten()
        .fold(0.0, |m, s| m.max(s.abs()))
}
