//! The session's handle against a backend the test controls.

use std::sync::mpsc;
use std::time::Duration;

use app::api::{BackendInfo, SessionState};
use async_trait::async_trait;
use tokio::sync::watch;
use tsuzuki_audio::Audio;

use super::{DataDir, Sessions};
use crate::backend::{Backend, BackendError, Job};
use crate::config::Config;

/// A model that is down: `check` reports that it was called, then fails.
struct Down(mpsc::Sender<()>);

#[async_trait]
impl Backend for Down {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "down".into(),
            model: None,
            lm_model: None,
            lm_fallback_reason: None,
            active: "down".into(),
            bridge_reason: None,
            bridge_detail: None,
            heard: None,
            ignored: None,
        }
    }

    async fn check(&self) -> Result<(), BackendError> {
        let _ = self.0.send(());
        Err(BackendError::Failed("down for the test".into()))
    }

    async fn generate(&self, _: &Job, _: &watch::Sender<f32>) -> Result<Audio, BackendError> {
        unreachable!("a failed check makes nothing")
    }
}

#[test]
fn a_worker_never_runs_before_its_session_is_installed() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (checked, check_calls) = mpsc::channel();
    let sessions = Sessions::new(
        Config::with(dir.path().to_path_buf(), 8.0, 2.0),
        std::sync::Arc::new(Down(checked)),
        DataDir::open(dir.path()).unwrap(),
    );
    // Hold the session lock, so `start` cannot install its session yet; started from a plain thread, its
    // worker lands on the runtime's other threads at once and would run ahead if it had been spawned.
    let held = sessions.live();
    let starter = {
        let (sessions, handle) = (sessions.clone(), runtime.handle().clone());
        std::thread::spawn(move || handle.block_on(sessions.start(None, Default::default())))
    };
    let ran_early = check_calls.recv_timeout(Duration::from_millis(500)).is_ok();
    drop(held);
    assert!(
        !ran_early,
        "the worker ran before its session was installed"
    );
    starter.join().unwrap().unwrap();
    // ...and so its failure reaches the listener instead of a session `starting` for ever.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sessions.status().state != SessionState::Error {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            sessions.status()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let error = sessions.status().error.unwrap();
    assert!(error.message.contains("down for the test"), "{error:?}");
}
