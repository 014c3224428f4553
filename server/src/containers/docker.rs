//! The Docker engine through bollard: the container a service declaration becomes, and the few calls the
//! lifecycle needs, with the engine's errors turned into messages a user can act on.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, DeviceRequest, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures::StreamExt;
use tokio::sync::OnceCell;

use super::engine::{ContainerEngine, CreateError, Found, LogLines};
use super::error::ServiceError;
use super::labels::{self, LABEL_INSTANCE, LABEL_MANAGED};
use crate::config::{engine_machine, DockerTls, Gpus, Network, ServiceConfig};

/// Where the engine is when nothing else is said.
const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The engine, connected on first use (so the server starts, and the embedded backend works, without Docker).
pub(super) struct Docker {
    host: String,
    tls: Option<DockerTls>,
    /// On another machine the server is not the containers' neighbour: it comes over the network.
    remote: bool,
    timeout: Duration,
    client: OnceCell<bollard::Docker>,
}

impl Docker {
    /// `timeout` bounds each engine call; a stop takes up to its grace period, so it must exceed that.
    pub fn new(host: Option<String>, tls: Option<DockerTls>, timeout: Duration) -> Docker {
        let host = host.unwrap_or_else(|| DEFAULT_HOST.to_string());
        Docker {
            remote: engine_machine(&host).is_some(),
            host,
            tls,
            timeout,
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<&bollard::Docker, ServiceError> {
        self.client
            .get_or_try_init(|| async {
                let docker = match &self.tls {
                    Some(tls) => bollard::Docker::connect_with_ssl(
                        &self.host,
                        &tls.key,
                        &tls.cert,
                        &tls.ca,
                        self.timeout.as_secs(),
                        bollard::API_DEFAULT_VERSION,
                    ),
                    None => bollard::Docker::connect_with_host(&self.host),
                }
                .map_err(|e| self.error(e))?
                .with_timeout(self.timeout);
                // The engine here may be older than bollard's default API version (dockerd 20.10: 1.41).
                docker.negotiate_version().await.map_err(|e| self.error(e))
            })
            .await
    }

    /// The engine's error as the user should read it.
    fn error(&self, error: DockerError) -> ServiceError {
        match error {
            DockerError::DockerResponseServerError {
                status_code,
                message,
            } => ServiceError::Engine(format!("Docker answered {status_code}: {message}")),
            DockerError::RequestTimeoutError => ServiceError::EngineUnreachable {
                host: self.host.clone(),
                detail: "it did not answer in time".into(),
            },
            other => {
                // The cause is deep down (hyper's "client error (Connect)" says nothing on its own).
                let mut detail = other.to_string();
                let mut source = std::error::Error::source(&other);
                while let Some(cause) = source {
                    let text = cause.to_string();
                    if !detail.contains(&text) {
                        detail = format!("{detail}: {text}");
                    }
                    source = cause.source();
                }
                // A certificate refused either way fails the handshake at once; say which files to check.
                let detail = if detail.contains("certificate")
                    || detail.contains("CertificateRequired")
                {
                    format!(
                        "its TLS certificate was not accepted, or ours was not (check ca.pem, cert.pem \
                         and key.pem in DOCKER_CERT_PATH): {detail}"
                    )
                } else {
                    detail
                };
                ServiceError::EngineUnreachable {
                    host: self.host.clone(),
                    detail,
                }
            }
        }
    }
}

#[async_trait]
impl ContainerEngine for Docker {
    async fn list_ours(&self, instance: &str) -> Result<Vec<Found>, ServiceError> {
        let docker = self.client().await?;
        let filters = HashMap::from([(
            "label",
            vec![
                format!("{LABEL_MANAGED}=true"),
                format!("{LABEL_INSTANCE}={instance}"),
            ],
        )]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.error(e))?;
        let mut found = Vec::new();
        for summary in list {
            if let Some(container) = self.inspect(summary.id.as_deref().unwrap_or("")).await? {
                found.push(container);
            }
        }
        Ok(found)
    }

    async fn inspect(&self, name: &str) -> Result<Option<Found>, ServiceError> {
        let docker = self.client().await?;
        match docker.inspect_container(name, None).await {
            Ok(c) => {
                let state = c.state.unwrap_or_default();
                let config = c.config.unwrap_or_default();
                Ok(Some(Found {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .name
                        .unwrap_or_default()
                        .trim_start_matches('/')
                        .to_string(),
                    image: config.image.unwrap_or_default(),
                    labels: config.labels.unwrap_or_default().into_iter().collect(),
                    status: state.status.map(|s| s.to_string()).unwrap_or_default(),
                    running: state.running.unwrap_or(false),
                    exit_code: state.exit_code,
                    started_at: state.started_at,
                    finished_at: state.finished_at,
                }))
            }
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    async fn create(&self, service: &ServiceConfig, instance: &str) -> Result<String, CreateError> {
        let docker = self.client().await.map_err(CreateError::Failed)?;
        let options = CreateContainerOptionsBuilder::new()
            .name(&service.container_name())
            .build();
        let mut body = container_body(service, instance);
        if self.remote {
            publish_on(&mut body, "0.0.0.0");
        }
        match docker.create_container(Some(options), body).await {
            Ok(created) => Ok(created.id),
            Err(DockerError::DockerResponseServerError {
                status_code: 409, ..
            }) => Err(CreateError::NameInUse),
            Err(DockerError::DockerResponseServerError {
                status_code: 404,
                message,
            }) if message.contains("No such image") => {
                Err(CreateError::Failed(ServiceError::ImageMissing {
                    image: service.image.clone(),
                }))
            }
            Err(e) => Err(CreateError::Failed(self.error(e))),
        }
    }

    async fn start(&self, id: &str) -> Result<(), ServiceError> {
        let docker = self.client().await?;
        match docker.start_container(id, None).await {
            Ok(()) => Ok(()),
            Err(DockerError::DockerResponseServerError { message, .. })
                if message.contains("could not select device driver") =>
            {
                Err(ServiceError::GpuUnavailable { detail: message })
            }
            Err(e) => Err(self.error(e)),
        }
    }

    async fn stop_and_remove(&self, id: &str, grace: Duration) -> Result<(), ServiceError> {
        let docker = self.client().await?;
        let options = StopContainerOptionsBuilder::new()
            .t(grace.as_secs_f64().ceil() as i32)
            .build();
        match docker.stop_container(id, Some(options)).await {
            Ok(())
            | Err(DockerError::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => {}
            Err(e) => return Err(self.error(e)),
        }
        self.remove(id).await
    }

    async fn remove(&self, id: &str) -> Result<(), ServiceError> {
        let docker = self.client().await?;
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match docker.remove_container(id, Some(options)).await {
            Ok(())
            | Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            // "removal already in progress": someone else is removing it; wait until it is gone.
            Err(DockerError::DockerResponseServerError {
                status_code: 409, ..
            }) => {
                for _ in 0..100 {
                    if self.inspect(id).await?.is_none() {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(ServiceError::Engine(format!(
                    "container {id} is still being removed"
                )))
            }
            Err(e) => Err(self.error(e)),
        }
    }

    async fn log_tail(&self, id: &str, lines: usize) -> Vec<String> {
        let Ok(docker) = self.client().await else {
            return Vec::new();
        };
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = docker.logs(id, Some(options));
        let mut text = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        tail(&text, lines)
    }

    async fn follow_logs(&self, id: &str, tail: usize) -> Result<LogLines, ServiceError> {
        let docker = self.client().await?.clone();
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .follow(true)
            .tail(&tail.to_string())
            .build();
        let (lines, receiver) = tokio::sync::mpsc::channel(64);
        let id = id.to_string();
        // A task of its own owns the engine's stream; it ends with the container, or when the reader is
        // gone (the send fails), so a client that hangs up leaves nothing behind.
        tokio::spawn(async move {
            let mut stream = docker.logs(&id, Some(options));
            let mut partial = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                partial.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                while let Some(end) = partial.find('\n') {
                    let line = strip_ansi(partial[..end].trim_end());
                    partial.drain(..=end);
                    if !line.is_empty() && lines.send(line).await.is_err() {
                        return;
                    }
                }
            }
            let line = strip_ansi(partial.trim_end());
            if !line.is_empty() {
                let _ = lines.send(line).await;
            }
        });
        Ok(
            futures::stream::unfold(receiver, |mut receiver| async move {
                receiver.recv().await.map(|line| (line, receiver))
            })
            .boxed(),
        )
    }
}

/// The last `lines` non-empty lines of `text`, with ANSI escape sequences removed.
fn tail(text: &str, lines: usize) -> Vec<String> {
    let plain = strip_ansi(text);
    let all: Vec<&str> = plain
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI sequences: ESC [ parameters final-byte (0x40..=0x7e).
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The container a service declaration becomes: labelled as ours, with its ports, GPUs and volumes.
pub fn container_body(service: &ServiceConfig, instance: &str) -> ContainerCreateBody {
    let port = format!("{}/tcp", service.port);
    let labels = labels::labels(service, instance);
    let device_requests = match &service.gpus {
        Gpus::None => None,
        gpus => Some(vec![DeviceRequest {
            driver: Some("nvidia".into()),
            count: match gpus {
                Gpus::All => Some(-1),
                Gpus::Count(n) => Some(i64::from(*n)),
                _ => None,
            },
            device_ids: match gpus {
                Gpus::Devices(ids) => Some(ids.clone()),
                _ => None,
            },
            capabilities: Some(vec![vec!["gpu".into()]]),
            options: None,
        }]),
    };
    let bridge = service.network == Network::Bridge;
    ContainerCreateBody {
        image: Some(service.image.clone()),
        cmd: (!service.command.is_empty()).then(|| service.command.clone()),
        env: Some(
            service
                .env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        labels: Some(labels),
        exposed_ports: bridge.then(|| vec![port.clone()]),
        stop_timeout: Some(service.stop_timeout().as_secs_f64().ceil() as i64),
        host_config: Some(HostConfig {
            init: Some(service.init),
            network_mode: (!bridge).then(|| "host".to_string()),
            // Published on loopback only: the server is the service's one client.
            port_bindings: bridge.then(|| {
                HashMap::from([(
                    port,
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some(service.host_port().to_string()),
                    }]),
                )])
            }),
            binds: (!service.volumes.is_empty()).then(|| service.volumes.clone()),
            device_requests,
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    }
}

/// Publishes the container's ports on `ip` of the engine's machine (rather than its loopback).
fn publish_on(body: &mut ContainerCreateBody, ip: &str) {
    let bindings = body
        .host_config
        .as_mut()
        .and_then(|h| h.port_bindings.as_mut());
    for binding in bindings
        .into_iter()
        .flat_map(|b| b.values_mut())
        .flatten()
        .flatten()
    {
        binding.host_ip = Some(ip.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acestep() -> ServiceConfig {
        crate::config::service_from_toml(
            r#"
            id = "acestep"
            image = "ghcr.io/ace-step/ace-step-1.5:latest"
            port = 8001
            host_port = 8101
            gpus = "all"
            volumes = ["/srv/acestep/checkpoints:/app/checkpoints"]
            env = { ACESTEP_CONFIG_PATH = "acestep-v15-sft" }
            "#,
        )
    }

    #[test]
    fn the_container_is_labelled_published_on_loopback_and_gets_the_gpus() {
        let body = container_body(&acestep(), "abc");
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["Image"], "ghcr.io/ace-step/ace-step-1.5:latest");
        assert_eq!(json["Labels"]["tsuzuki.managed"], "true");
        assert_eq!(json["Labels"]["tsuzuki.service"], "acestep");
        assert_eq!(json["Labels"]["tsuzuki.instance"], "abc");
        assert_eq!(json["Env"][0], "ACESTEP_CONFIG_PATH=acestep-v15-sft");
        assert!(json.get("Cmd").is_none(), "the image's own command is kept");
        assert_eq!(json["ExposedPorts"]["8001/tcp"], serde_json::json!({}));
        let host = &json["HostConfig"];
        assert_eq!(
            host["PortBindings"]["8001/tcp"][0],
            serde_json::json!({"HostIp": "127.0.0.1", "HostPort": "8101"})
        );
        assert_eq!(
            host["Binds"][0],
            "/srv/acestep/checkpoints:/app/checkpoints"
        );
        assert_eq!(host["Init"], true);
        let gpu = &host["DeviceRequests"][0];
        assert_eq!(
            (&gpu["Driver"], &gpu["Count"], &gpu["Capabilities"]),
            (
                &serde_json::json!("nvidia"),
                &serde_json::json!(-1),
                &serde_json::json!([["gpu"]])
            )
        );
    }

    #[test]
    fn on_another_machine_s_engine_the_ports_are_published_beyond_its_loopback() {
        let mut body = container_body(&acestep(), "abc");
        publish_on(&mut body, "0.0.0.0");
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json["HostConfig"]["PortBindings"]["8001/tcp"][0],
            serde_json::json!({"HostIp": "0.0.0.0", "HostPort": "8101"})
        );
    }

    #[test]
    fn host_networking_publishes_nothing_and_device_ids_pick_gpus() {
        let mut service = acestep();
        service.network = Network::Host;
        service.host_port = None;
        service.gpus = Gpus::Devices(vec!["1".into()]);
        service.command = vec!["/serve".into(), "--port".into(), "8001".into()];
        let json = serde_json::to_value(container_body(&service, "abc")).unwrap();
        assert_eq!(json["HostConfig"]["NetworkMode"], "host");
        assert!(json["HostConfig"].get("PortBindings").is_none());
        assert!(json.get("ExposedPorts").is_none());
        assert_eq!(json["Cmd"], serde_json::json!(["/serve", "--port", "8001"]));
        assert_eq!(
            json["HostConfig"]["DeviceRequests"][0]["DeviceIDs"],
            serde_json::json!(["1"])
        );
    }

    #[test]
    fn log_tails_keep_the_last_lines_without_colours() {
        let text = "one\n\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m two\n\nthree\n";
        assert_eq!(tail(text, 2), vec!["2026  INFO two", "three"]);
        assert_eq!(tail(text, 10).len(), 3);
    }
}
