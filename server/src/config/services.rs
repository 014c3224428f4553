//! A model service as the server runs it: a declaration from the config file (`declaration.rs`) with its
//! template and macros applied, checked once. Only these can ever become containers: no request names an
//! image, a command or a mount. (How a service becomes a container's name and label is in
//! `containers::service`.)

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceConfig {
    /// Names the service in URLs, in `--acestep-service` and in its container's name.
    pub id: String,
    pub image: String,
    /// Program and arguments; empty keeps the image's own command.
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// The port the service listens on inside the container.
    pub port: u16,
    /// The port on 127.0.0.1 the server reaches it at [default: `port`]; equal to `port` with host networking.
    pub host_port: Option<u16>,
    /// Where the server reaches it, when not on this machine's `host_port`: declared (a tunnel, a proxy in
    /// front), or the engine's machine when the engine is on another one.
    pub url: Option<String>,
    pub network: Network,
    pub health_path: String,
    pub gpus: Gpus,
    /// `host-path-or-volume:/container/path[:ro]`, as `docker run -v` takes them.
    pub volumes: Vec<String>,
    pub startup_timeout_seconds: f64,
    /// Seconds without a session or a request before the container is stopped; 0 keeps it running.
    pub idle_ttl_seconds: f64,
    /// Grace after SIGTERM before Docker kills the container.
    pub stop_timeout_seconds: f64,
    /// GPU memory the service needs, counted against `gpu_memory_budget_gb`.
    pub gpu_memory_gb: f64,
    /// Run a tiny init as PID 1 (`docker run --init`), so SIGTERM reaches servers that do not handle it.
    pub init: bool,
    /// The names `/v1/*` requests route to this service by (their `model` field).
    pub models: Vec<String>,
    /// Requests proxied at once; more wait up to `queue_timeout_seconds`, then get 429. `None`: no limit.
    pub max_concurrent: Option<u32>,
    pub queue_timeout_seconds: f64,
    /// When a reload changes the container this service runs in.
    pub restart: Restart,
}

/// What a changed declaration does to a running container on reload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// Once nothing uses it: no reply is cut off, no session loses its model.
    #[default]
    WhenIdle,
    /// At once, even in use (requests in flight fail; sessions retry on the new container).
    Immediately,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Docker's default network, with `port` published on 127.0.0.1:`host_port`.
    #[default]
    Bridge,
    /// The host's network stack (`--network host`).
    Host,
}

/// Which GPUs the container gets (`docker run --gpus`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(into = "GpusValue")]
pub enum Gpus {
    #[default]
    None,
    All,
    Count(u32),
    Devices(Vec<String>),
}

/// `gpus = "none" | "all" | 2 | ["0", "GPU-uuid"]` as written in the file.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(super) enum GpusValue {
    Word(String),
    Count(u32),
    Devices(Vec<String>),
}

impl TryFrom<GpusValue> for Gpus {
    type Error = String;

    fn try_from(value: GpusValue) -> Result<Gpus, String> {
        match value {
            GpusValue::Word(w) if w == "none" => Ok(Gpus::None),
            GpusValue::Word(w) if w == "all" => Ok(Gpus::All),
            GpusValue::Word(w) => Err(format!(
                "gpus {w:?} is not \"none\", \"all\", a count or a list of device ids"
            )),
            GpusValue::Count(0) => Ok(Gpus::None),
            GpusValue::Count(n) => Ok(Gpus::Count(n)),
            GpusValue::Devices(ids) if ids.is_empty() => Ok(Gpus::None),
            GpusValue::Devices(ids) => Ok(Gpus::Devices(ids)),
        }
    }
}

impl Gpus {
    /// As the `gpus` key writes it, for the `${GPUS}` macro.
    pub(super) fn word(&self) -> String {
        match self {
            Gpus::None => "none".into(),
            Gpus::All => "all".into(),
            Gpus::Count(n) => n.to_string(),
            Gpus::Devices(ids) => ids.join(","),
        }
    }
}

impl From<Gpus> for GpusValue {
    fn from(gpus: Gpus) -> GpusValue {
        match gpus {
            Gpus::None => GpusValue::Word("none".into()),
            Gpus::All => GpusValue::Word("all".into()),
            Gpus::Count(n) => GpusValue::Count(n),
            Gpus::Devices(ids) => GpusValue::Devices(ids),
        }
    }
}

impl ServiceConfig {
    /// The first problem with this declaration, as one line.
    pub(super) fn check(&self) -> Result<(), String> {
        let id = &self.id;
        let valid_id = !id.is_empty()
            && id.len() <= 48
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && !id.starts_with(['-', '_']);
        if !valid_id {
            return Err(format!(
                "service id {id:?} must be 1–48 of a-z, 0-9, '-' and '_', starting with a letter or digit"
            ));
        }
        let problem = |what: String| Err(format!("service {id:?}: {what}"));
        if self.image.trim().is_empty() {
            return problem("image is empty".into());
        }
        if self.port == 0 || self.host_port == Some(0) {
            return problem("port must be between 1 and 65535".into());
        }
        if self.network == Network::Host && self.host_port.is_some_and(|p| p != self.port) {
            return problem("with host networking, host_port must equal port".into());
        }
        if let Some(url) = &self.url {
            let parsed = reqwest::Url::parse(url);
            if !parsed.is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()) {
                return problem(format!(
                    "url {url:?} must be an http:// or https:// address"
                ));
            }
        }
        if !self.health_path.starts_with('/') {
            return problem(format!(
                "health_path {:?} must start with '/'",
                self.health_path
            ));
        }
        for (name, value, min) in [
            ("startup_timeout_seconds", self.startup_timeout_seconds, 0.0),
            ("stop_timeout_seconds", self.stop_timeout_seconds, 0.0),
        ] {
            if !(value.is_finite() && value > min && value <= 86_400.0) {
                return problem(format!(
                    "{name} must be above 0 and at most 86400, not {value}"
                ));
            }
        }
        for (name, value) in [
            ("idle_ttl_seconds", self.idle_ttl_seconds),
            ("gpu_memory_gb", self.gpu_memory_gb),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return problem(format!("{name} must be 0 or more, not {value}"));
            }
        }
        // `idle_ttl()` makes a Duration of it, which would panic past about 5.8e11 years.
        if Duration::try_from_secs_f64(self.idle_ttl_seconds).is_err() {
            return problem(format!(
                "idle_ttl_seconds {} is too long (0 keeps the container running)",
                self.idle_ttl_seconds
            ));
        }
        if let Some(name) = self
            .models
            .iter()
            .find(|m| m.is_empty() || m.chars().any(char::is_whitespace))
        {
            return problem(format!(
                "model name {name:?} must be non-empty and without spaces"
            ));
        }
        if self.max_concurrent == Some(0) {
            return problem("max_concurrent must be 1 or more (leave it out for no limit)".into());
        }
        if !(self.queue_timeout_seconds.is_finite()
            && (0.0..=86_400.0).contains(&self.queue_timeout_seconds))
        {
            return problem(format!(
                "queue_timeout_seconds must be between 0 and 86400, not {}",
                self.queue_timeout_seconds
            ));
        }
        if let Some(key) = self.env.keys().find(|k| k.is_empty() || k.contains('=')) {
            return problem(format!("environment variable name {key:?} is not valid"));
        }
        for volume in &self.volumes {
            let parts: Vec<&str> = volume.split(':').collect();
            let valid = matches!(parts.len(), 2 | 3)
                && !parts[0].is_empty()
                && parts[1].starts_with('/')
                && parts.get(2).is_none_or(|m| matches!(*m, "ro" | "rw"));
            if !valid {
                return problem(format!(
                    "volume {volume:?} is not source:/container/path[:ro|rw]"
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn host_port(&self) -> u16 {
        self.host_port.unwrap_or(self.port)
    }

    /// Where the server reaches the service.
    pub fn url(&self) -> String {
        match &self.url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://127.0.0.1:{}", self.host_port()),
        }
    }

    pub(crate) fn startup_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.startup_timeout_seconds)
    }

    /// `None`: never stopped for idleness.
    pub(crate) fn idle_ttl(&self) -> Option<Duration> {
        (self.idle_ttl_seconds > 0.0).then(|| Duration::from_secs_f64(self.idle_ttl_seconds))
    }

    pub(crate) fn stop_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.stop_timeout_seconds)
    }
}

/// What shapes a service's container: a change here needs a new container, any other change (idle TTL,
/// models, limits) applies to the running one. Serialised, it is the fingerprint leftovers are adopted by.
#[derive(Serialize, PartialEq)]
pub(crate) struct ContainerShape<'a> {
    image: &'a str,
    command: &'a [String],
    env: &'a BTreeMap<String, String>,
    port: u16,
    host_port: Option<u16>,
    network: Network,
    health_path: &'a str,
    gpus: &'a Gpus,
    volumes: &'a [String],
    init: bool,
}

impl ServiceConfig {
    pub(crate) fn container_shape(&self) -> ContainerShape<'_> {
        ContainerShape {
            image: &self.image,
            command: &self.command,
            env: &self.env,
            port: self.port,
            host_port: self.host_port,
            network: self.network,
            health_path: &self.health_path,
            gpus: &self.gpus,
            volumes: &self.volumes,
            init: self.init,
        }
    }
}
