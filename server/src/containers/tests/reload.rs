//! A reload as the running services live it, on the fake engine: unchanged ones keep their container,
//! changed ones move to a new one once idle (or at once), removed ones stop once idle and take no new
//! requests; a restart gives a new container; `max_concurrent` queues, then refuses.

use std::sync::Arc;
use std::time::Duration;

use super::{containers, service, state, until};
use crate::config::{Restart, ServiceConfig};
use crate::containers::fake::FakeEngine;
use crate::containers::lifecycle::State;
use crate::containers::{Containers, ServiceError};

fn with(id: &str, change: impl FnOnce(&mut ServiceConfig)) -> ServiceConfig {
    let mut service = service(id);
    change(&mut service);
    service
}

async fn image_running(c: &Containers, id: &str) -> String {
    c.container(id).await.unwrap().image
}

#[tokio::test]
async fn an_unchanged_service_keeps_its_container_and_an_update_applies_in_place() {
    let engine = Arc::new(FakeEngine::default());
    let a = service("a");
    let c = containers(std::slice::from_ref(&a), &engine, None);
    drop(c.ensure_ready("a").await.unwrap());
    let before = c.info("a").unwrap().container_id;

    let done = c.apply(std::slice::from_ref(&a), None);
    assert_eq!(done.unchanged, ["a"]);
    let updated = with("a", |s| {
        s.port = a.port;
        s.idle_ttl_seconds = 5.0;
        s.models = vec!["m".into()];
    });
    let done = c.apply(&[updated], Some(8.0));
    assert_eq!(done.updated, ["a"]);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let info = c.info("a").unwrap();
    assert_eq!(info.container_id, before, "the same container");
    assert_eq!(
        (info.idle_ttl_seconds, info.models),
        (Some(5.0), vec!["m".into()])
    );
    assert_eq!(c.list().gpu_memory_budget_gb, Some(8.0));
    assert_eq!(engine.creates(), 1);
}

#[tokio::test]
async fn a_changed_service_restarts_once_idle_on_its_new_declaration() {
    let engine = Arc::new(FakeEngine::default());
    let a = service("a");
    let c = containers(std::slice::from_ref(&a), &engine, None);
    let lease = c.ensure_ready("a").await.unwrap();
    let changed = with("a", |s| {
        s.port = a.port;
        s.image = "fake:2".into();
    });
    assert_eq!(c.apply(&[changed], None).changed, ["a"]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(state(&c, "a"), State::Ready, "in use: not touched yet");
    assert_eq!(image_running(&c, "a").await, "fake");
    // New requests meanwhile are served by the running container.
    drop(c.ensure_ready("a").await.unwrap());
    drop(lease);
    until(&c, "a", State::Stopped, 5).await;
    drop(c.ensure_ready("a").await.unwrap());
    assert_eq!(image_running(&c, "a").await, "fake:2");
    assert_eq!(engine.creates(), 2);
}

#[tokio::test]
async fn restart_immediately_does_not_wait_for_the_service_to_be_idle() {
    let engine = Arc::new(FakeEngine::default());
    let a = service("a");
    let c = containers(std::slice::from_ref(&a), &engine, None);
    let _held = c.ensure_ready("a").await.unwrap();
    let changed = with("a", |s| {
        s.port = a.port;
        s.image = "fake:2".into();
        s.restart = Restart::Immediately;
    });
    c.apply(&[changed], None);
    until(&c, "a", State::Stopped, 5).await;
    drop(c.ensure_ready("a").await.unwrap());
    assert_eq!(image_running(&c, "a").await, "fake:2");
}

#[tokio::test]
async fn a_removed_service_takes_no_new_requests_and_stops_once_idle() {
    let engine = Arc::new(FakeEngine::default());
    let c = containers(&[service("a"), service("b")], &engine, None);
    let lease = c.ensure_ready("a").await.unwrap();
    let done = c.apply(&[service("b"), service("new")], None);
    assert_eq!(
        (done.removed, done.added),
        (vec!["a".into()], vec!["new".into()])
    );
    assert!(matches!(
        c.ensure_ready("a").await,
        Err(ServiceError::UnknownService(_))
    ));
    assert_eq!(engine.names(), ["tsuzuki-a"], "still serving its request");
    drop(lease);
    for _ in 0..500 {
        if engine.names().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(engine.names().is_empty(), "stopped once idle");
    let ids: Vec<String> = c.list().services.into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["b", "new"]);
    drop(c.ensure_ready("new").await.unwrap());
}

#[tokio::test]
async fn a_restart_gives_a_new_container_even_in_use() {
    let engine = Arc::new(FakeEngine::default());
    let c = containers(&[service("a")], &engine, None);
    let _held = c.ensure_ready("a").await.unwrap();
    let first = c.info("a").unwrap().container_id;
    let info = c.restart("a").await.unwrap();
    assert_eq!(info.state, State::Ready);
    assert_ne!(info.container_id, first);
    assert_eq!(engine.creates(), 2);
}

#[tokio::test]
async fn requests_beyond_max_concurrent_wait_then_are_refused() {
    let engine = Arc::new(FakeEngine::default());
    let limited = with("a", |s| {
        s.max_concurrent = Some(1);
        s.queue_timeout_seconds = 0.2;
    });
    let c = containers(&[limited], &engine, None);
    let first = c.ensure_ready_for_request("a").await.unwrap();
    let refused = c.ensure_ready_for_request("a").await.err();
    assert!(
        matches!(refused, Some(ServiceError::Busy { limit: 1, .. })),
        "{refused:?}"
    );
    // A waiting request gets the place its predecessor gives back.
    let waiting = tokio::spawn({
        let c = c.clone();
        async move { c.ensure_ready_for_request("a").await.is_ok() }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(first);
    assert!(waiting.await.unwrap());
    // Sessions are not limited.
    let _session = c.ensure_ready("a").await.unwrap();
}
