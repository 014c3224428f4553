//! The actors and the handle against a fake engine (`fake.rs`): racing requests, stops during requests and
//! starts, crashes, idleness, leftovers and the GPU budget. The real-dockerd versions are in
//! `tests/containers.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::engine::ContainerEngine;
use super::fake::FakeEngine;
use super::lifecycle::State;
use super::{Containers, ServiceError};
use crate::config::ServiceConfig;

mod reload;

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub(super) fn service(id: &str) -> ServiceConfig {
    let port = free_port();
    crate::config::service_from_toml(&format!(
        "id = \"{id}\"\nimage = \"fake\"\nport = {port}\nstartup_timeout_seconds = 5\n"
    ))
}

pub(super) fn containers(
    services: &[ServiceConfig],
    engine: &Arc<FakeEngine>,
    budget: Option<f64>,
) -> Containers {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let engine: Arc<dyn ContainerEngine> = engine.clone();
    Containers::with_engine(
        services,
        engine,
        "test".into(),
        budget,
        http,
        Arc::default(),
    )
}

pub(super) fn state(containers: &Containers, id: &str) -> State {
    containers.info(id).unwrap().state
}

/// Polls until the service is in `wanted`, failing the test after `seconds`.
pub(super) async fn until(containers: &Containers, id: &str, wanted: State, seconds: u64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while state(containers, id) != wanted {
        assert!(Instant::now() < deadline, "{id} never became {wanted:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn requests_during_a_start_share_that_one_start() {
    let engine = Arc::new(FakeEngine::default());
    engine.set_start_delay(Duration::from_millis(200));
    let c = containers(&[service("s")], &engine, None);
    let (a, b, d) = tokio::join!(
        c.ensure_ready("s"),
        c.ensure_ready("s"),
        c.ensure_ready("s")
    );
    let leases = [a.unwrap(), b.unwrap(), d.unwrap()];
    assert_eq!(engine.creates(), 1, "one container for everyone");
    let info = c.info("s").unwrap();
    assert_eq!((info.state, info.in_use), (State::Ready, 3));
    drop(leases);
    assert_eq!(c.info("s").unwrap().in_use, 0);
    let metrics = c.metrics().render();
    assert!(
        metrics.contains("tsuzuki_container_starts_total{service=\"s\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_stop_during_a_request_is_refused_and_the_request_gets_its_lease() {
    let engine = Arc::new(FakeEngine::default());
    engine.set_start_delay(Duration::from_millis(300));
    let c = containers(&[service("s")], &engine, None);
    let request = tokio::spawn({
        let c = c.clone();
        async move { c.ensure_ready("s").await }
    });
    until(&c, "s", State::Starting, 5).await;
    let refused = c.stop("s").await.unwrap_err();
    assert!(
        matches!(refused, ServiceError::InUse { holders: 1, .. }),
        "{refused}"
    );
    let lease = request.await.unwrap().unwrap();
    assert!(matches!(
        c.stop("s").await,
        Err(ServiceError::InUse { holders: 1, .. })
    ));
    drop(lease);
    assert_eq!(c.stop("s").await.unwrap().state, State::Stopped);
    assert!(engine.names().is_empty());
}

#[tokio::test]
async fn a_shutdown_during_a_start_fails_its_requests_and_removes_what_it_made() {
    let engine = Arc::new(FakeEngine::default());
    engine.set_start_delay(Duration::from_secs(30));
    let c = containers(&[service("s")], &engine, None);
    let request = tokio::spawn({
        let c = c.clone();
        async move { c.ensure_ready("s").await }
    });
    until(&c, "s", State::Starting, 5).await;
    while engine.names().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    c.shutdown().await;
    assert_eq!(
        request.await.unwrap().err(),
        Some(ServiceError::ShuttingDown)
    );
    assert_eq!(state(&c, "s"), State::Stopped);
    assert!(
        engine.names().is_empty(),
        "the abandoned start's container is removed"
    );
}

#[tokio::test]
async fn a_request_during_a_stop_waits_and_gets_a_fresh_container() {
    let engine = Arc::new(FakeEngine::default());
    let c = containers(&[service("s")], &engine, None);
    c.start("s").await.unwrap();
    engine.set_stop_delay(Duration::from_millis(200));
    let (stopped, lease) = tokio::join!(c.stop("s"), c.ensure_ready("s"));
    stopped.unwrap();
    let _lease = lease.unwrap();
    assert_eq!(engine.creates(), 2);
    assert_eq!(state(&c, "s"), State::Ready);
    assert_eq!(engine.names(), ["tsuzuki-s"]);
}

#[tokio::test]
async fn a_crash_while_ready_is_noticed_and_the_next_request_restarts_the_service() {
    let engine = Arc::new(FakeEngine::default());
    let c = containers(&[service("s")], &engine, None);
    c.start("s").await.unwrap();
    engine.kill("tsuzuki-s");
    until(&c, "s", State::Failed, 10).await;
    let info = c.info("s").unwrap();
    let error = info.error.unwrap();
    assert!(
        error.starts_with(
            "the s container exited on its own (exit code 137); its last lines: fake: loading"
        ),
        "{error}"
    );
    assert_eq!(info.container_id, None);
    assert!(engine.names().is_empty(), "the dead container is removed");
    let _lease = c.ensure_ready("s").await.unwrap();
    assert_eq!(engine.creates(), 2);
    assert_eq!(c.info("s").unwrap().error, None);
}

#[tokio::test]
async fn a_failed_start_is_reported_to_every_waiting_request() {
    let engine = Arc::new(FakeEngine::default());
    engine.set_start_delay(Duration::from_millis(100));
    let gpu = ServiceError::GpuUnavailable {
        detail: "no nvidia".into(),
    };
    engine.fail_starts(Some(gpu.clone()));
    let c = containers(&[service("s")], &engine, None);
    let (a, b) = tokio::join!(c.ensure_ready("s"), c.ensure_ready("s"));
    assert_eq!((a.err(), b.err()), (Some(gpu.clone()), Some(gpu.clone())));
    assert_eq!(engine.creates(), 1);
    assert!(
        engine.names().is_empty(),
        "a failed start leaves no container"
    );
    let info = c.info("s").unwrap();
    assert_eq!(
        (info.state, info.error),
        (State::Failed, Some(gpu.to_string()))
    );
    // A failed service starts again on the next request.
    engine.fail_starts(None);
    let _lease = c.ensure_ready("s").await.unwrap();
    assert_eq!(state(&c, "s"), State::Ready);
}

#[tokio::test]
async fn an_idle_service_is_stopped_after_its_ttl_and_a_held_one_is_not() {
    let engine = Arc::new(FakeEngine::default());
    let mut s = service("s");
    s.idle_ttl_seconds = 0.3;
    let c = containers(&[s], &engine, None);
    let lease = c.ensure_ready("s").await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(state(&c, "s"), State::Ready, "held: never idle");
    let released = Instant::now();
    drop(lease);
    until(&c, "s", State::Stopped, 5).await;
    assert!(released.elapsed() >= Duration::from_millis(300));
    assert!(engine.names().is_empty());
}

#[tokio::test]
async fn a_leftover_of_ours_is_adopted_without_a_new_start_and_others_are_removed() {
    let engine = Arc::new(FakeEngine::default());
    let (kept, old) = (service("kept"), service("old"));
    let mine = engine.create(&kept, "test").await.ok().unwrap();
    engine.start(&mine).await.unwrap();
    let theirs = engine.create(&old, "another").await.ok().unwrap();
    let gone = service("gone");
    let gone_id = engine.create(&gone, "test").await.ok().unwrap();
    let c = containers(&[kept, old], &engine, None);
    let mut done = c.adopt_leftovers().await.unwrap();
    done.sort();
    assert_eq!(
        done,
        [
            format!("adopted tsuzuki-kept ({})", &mine[..12]),
            format!("removed tsuzuki-gone ({})", &gone_id[..12]),
        ]
    );
    let _lease = c.ensure_ready("kept").await.unwrap();
    assert_eq!(c.info("kept").unwrap().container_id, Some(mine));
    assert_eq!(engine.creates(), 3, "adopting is not creating");
    assert!(c
        .metrics()
        .render()
        .contains("tsuzuki_container_starts_total{service=\"kept\"} 0"));
    assert!(
        engine.names().contains(&"tsuzuki-old".to_string()),
        "another server's: {theirs}"
    );
}

#[tokio::test]
async fn a_second_service_evicts_the_idle_first_and_is_refused_while_the_first_is_busy() {
    let engine = Arc::new(FakeEngine::default());
    let (mut a, mut b) = (service("a"), service("b"));
    a.gpu_memory_gb = 8.0;
    b.gpu_memory_gb = 8.0;
    let c = containers(&[a, b], &engine, Some(12.0));
    c.start("a").await.unwrap();
    assert_eq!(c.list().gpu_memory_claimed_gb, 8.0);
    // b waits until a is stopped and gone, then starts.
    engine.set_stop_delay(Duration::from_millis(200));
    let began = Instant::now();
    let lease = c.ensure_ready("b").await.unwrap();
    assert!(began.elapsed() >= Duration::from_millis(200));
    assert_eq!(state(&c, "a"), State::Stopped);
    assert_eq!(engine.names(), ["tsuzuki-b"]);
    assert_eq!(c.list().gpu_memory_claimed_gb, 8.0);
    // b is busy now: a cannot start, and says why.
    let refused = c.start("a").await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "not enough GPU memory for service \"a\": it needs 8 GB, the budget is 12 GB and services in use hold b (8 GB)"
    );
    assert_eq!(state(&c, "b"), State::Ready);
    drop(lease);
}

#[tokio::test]
async fn an_unknown_service_is_named_in_the_error() {
    let engine = Arc::new(FakeEngine::default());
    let c = containers(&[service("s")], &engine, None);
    assert_eq!(
        c.ensure_ready("nope").await.err(),
        Some(ServiceError::UnknownService("nope".into()))
    );
    assert!(c.info("nope").is_err());
    assert!(matches!(
        c.container("nope").await,
        Err(ServiceError::UnknownService(_))
    ));
}
