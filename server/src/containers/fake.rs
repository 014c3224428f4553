//! A container engine in memory for the actor's unit tests. A started container is a tiny HTTP server on
//! the service's port answering 200 to everything, so the real health check passes; starts and stops can
//! be slowed down or made to fail, and a container can be killed as if it crashed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::engine::{ContainerEngine, CreateError, Found, LogLines};
use super::error::ServiceError;
use super::labels;
use crate::config::ServiceConfig;

#[derive(Default)]
pub(super) struct FakeEngine {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    containers: BTreeMap<String, Container>,
    creates: u32,
    start_delay: Duration,
    stop_delay: Duration,
    fail_start: Option<ServiceError>,
}

struct Container {
    found: Found,
    port: u16,
    server: Option<JoinHandle<()>>,
}

impl FakeEngine {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    pub fn set_start_delay(&self, delay: Duration) {
        self.inner().start_delay = delay;
    }

    pub fn set_stop_delay(&self, delay: Duration) {
        self.inner().stop_delay = delay;
    }

    /// Every start fails with `error` from now on (`None`: starts work again).
    pub fn fail_starts(&self, error: Option<ServiceError>) {
        self.inner().fail_start = error;
    }

    /// Containers created so far.
    pub fn creates(&self) -> u32 {
        self.inner().creates
    }

    /// The names of the containers that exist now.
    pub fn names(&self) -> Vec<String> {
        let inner = self.inner();
        inner
            .containers
            .values()
            .map(|c| c.found.name.clone())
            .collect()
    }

    /// The container dies as if killed (exit code 137).
    pub fn kill(&self, name: &str) {
        let mut inner = self.inner();
        let container = inner.containers.values_mut().find(|c| c.found.name == name);
        let container = container.expect("no such container");
        container.found.running = false;
        container.found.exit_code = Some(137);
        if let Some(server) = container.server.take() {
            server.abort();
        }
    }

    fn id_of(inner: &Inner, name: &str) -> Option<String> {
        inner
            .containers
            .values()
            .find(|c| c.found.id == name || c.found.name == name)
            .map(|c| c.found.id.clone())
    }
}

/// Answers every request with 200 and closes the connection.
async fn serve(listener: TcpListener) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let mut request = [0; 4096];
        let _ = stream.read(&mut request).await;
        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
        let _ = stream.write_all(reply).await;
    }
}

/// The port may still be held for a moment by the server of a container just removed.
async fn bind(port: u16) -> Result<TcpListener, ServiceError> {
    let mut tries = 0;
    loop {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return Ok(listener),
            Err(_) if tries < 100 => tries += 1,
            Err(e) => return Err(ServiceError::Engine(format!("fake port {port}: {e}"))),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[async_trait]
impl ContainerEngine for FakeEngine {
    async fn list_ours(&self, instance: &str) -> Result<Vec<Found>, ServiceError> {
        let inner = self.inner();
        let ours = inner.containers.values().map(|c| &c.found);
        Ok(ours.filter(|f| f.is_ours(instance)).cloned().collect())
    }

    async fn inspect(&self, name: &str) -> Result<Option<Found>, ServiceError> {
        let inner = self.inner();
        let id = FakeEngine::id_of(&inner, name);
        Ok(id.map(|id| inner.containers[&id].found.clone()))
    }

    async fn create(&self, service: &ServiceConfig, instance: &str) -> Result<String, CreateError> {
        let mut inner = self.inner();
        let name = service.container_name();
        if FakeEngine::id_of(&inner, &name).is_some() {
            return Err(CreateError::NameInUse);
        }
        inner.creates += 1;
        let id = format!("{:064x}", 0xc0de_0000 + inner.creates);
        let found = Found {
            id: id.clone(),
            name,
            image: service.image.clone(),
            labels: labels::labels(service, instance).into_iter().collect(),
            status: "created".into(),
            running: false,
            exit_code: None,
            started_at: None,
            finished_at: None,
        };
        let port = service.host_port();
        let container = Container {
            found,
            port,
            server: None,
        };
        inner.containers.insert(id.clone(), container);
        Ok(id)
    }

    async fn start(&self, id: &str) -> Result<(), ServiceError> {
        let (delay, failure, port) = {
            let inner = self.inner();
            let port = inner.containers.get(id).map(|c| c.port);
            (inner.start_delay, inner.fail_start.clone(), port)
        };
        tokio::time::sleep(delay).await;
        if let Some(error) = failure {
            return Err(error);
        }
        let port = port.ok_or_else(|| ServiceError::Engine(format!("no container {id}")))?;
        let server = tokio::spawn(serve(bind(port).await?));
        let mut inner = self.inner();
        let Some(container) = inner.containers.get_mut(id) else {
            server.abort();
            return Err(ServiceError::Engine(format!("no container {id}")));
        };
        container.found.running = true;
        container.found.status = "running".into();
        container.server = Some(server);
        Ok(())
    }

    async fn stop_and_remove(&self, id: &str, _grace: Duration) -> Result<(), ServiceError> {
        let delay = self.inner().stop_delay;
        tokio::time::sleep(delay).await;
        self.remove(id).await
    }

    async fn remove(&self, id: &str) -> Result<(), ServiceError> {
        let mut inner = self.inner();
        if let Some(id) = FakeEngine::id_of(&inner, id) {
            let container = inner.containers.remove(&id).unwrap();
            if let Some(server) = container.server {
                server.abort();
            }
        }
        Ok(())
    }

    async fn log_tail(&self, _id: &str, _lines: usize) -> Vec<String> {
        vec!["fake: loading".into()]
    }

    async fn follow_logs(&self, _id: &str, _tail: usize) -> Result<LogLines, ServiceError> {
        Ok(futures::stream::iter(["fake: loading".to_string()]).boxed())
    }
}
