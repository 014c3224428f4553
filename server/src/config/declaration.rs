//! A service as written in the config file (a `services` entry), and how it becomes a [`ServiceConfig`]: its
//! template's defaults under its own keys, then every macro expanded, then the checks. Kept apart from
//! `ServiceConfig` because here almost everything may be left out, there nothing is.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::macros;
use super::services::{Gpus, GpusValue, Network, Restart, ServiceConfig};
use super::templates::{self, Template};

/// One `services` entry. With a `template`, `image` and `port` may be left out.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceDeclaration {
    /// Names the service in URLs, in `acestep_service` and in its container's name (`tsuzuki-<id>`).
    id: String,
    /// `llama.cpp`, `vllm`, `infinity`, `tabby` or `acestep`: fills in what that server needs.
    template: Option<String>,
    /// The model the server loads, as its command takes it (`${MODEL}`): a file, a Hugging Face id.
    model: Option<String>,
    /// The host folder with the models or their cache (`${MODEL_DIR}`), mounted by the templates.
    model_dir: Option<String>,
    /// Names `/v1/*` requests route here by [default: the id, for OpenAI-compatible servers].
    models: Option<Vec<String>>,
    /// Never pulled: a missing image is an error that says `docker pull <image>`.
    image: Option<String>,
    /// Program and arguments (or the entrypoint's arguments); empty keeps the image's own command.
    command: Option<Vec<String>>,
    /// Merged over the template's variables.
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// The port the service listens on inside the container (`${PORT}`).
    port: Option<u16>,
    /// The port on 127.0.0.1 the server reaches it at [default: `port`].
    host_port: Option<u16>,
    /// Where the server reaches it instead, e.g. through a tunnel [default: this machine's `host_port`, or
    /// the engine's machine when DOCKER_HOST is another one].
    url: Option<String>,
    network: Option<Network>,
    /// Polled until it answers 2xx [default: /health].
    health_path: Option<String>,
    /// `"none"`, `"all"`, a count or a list of device ids (`docker run --gpus`); `${GPUS}`.
    gpus: Option<GpusValue>,
    /// `source:/container/path[:ro|rw]`, as `docker run -v` takes them.
    volumes: Option<Vec<String>>,
    /// From the start to the first healthy answer [default: 600, or the template's].
    startup_timeout_seconds: Option<f64>,
    /// Unused this long: stopped and removed; 0 keeps it running [default: 600].
    idle_ttl_seconds: Option<f64>,
    /// Grace after SIGTERM before Docker kills it [default: 10].
    stop_timeout_seconds: Option<f64>,
    /// Counted against `gpu_memory_budget_gb` [default: 0].
    gpu_memory_gb: Option<f64>,
    /// `docker run --init` [default: true].
    init: Option<bool>,
    /// Requests proxied at once; more wait, then get 429 [default: no limit].
    max_concurrent: Option<u32>,
    /// How long a request waits for a free place under `max_concurrent` [default: 30].
    queue_timeout_seconds: Option<f64>,
    /// On a reload that changes the container: `when_idle` [default] or `immediately`.
    restart: Option<Restart>,
}

impl ServiceDeclaration {
    /// The service to run: the template's defaults under the declared keys, macros expanded, checked.
    pub(super) fn resolve(
        self,
        user_macros: &BTreeMap<String, String>,
    ) -> Result<ServiceConfig, String> {
        let id = self.id.clone();
        let in_service = |e: String| format!("service {id:?}: {e}");
        let template = self
            .template
            .as_deref()
            .map(templates::find)
            .transpose()
            .map_err(in_service)?;
        let service = self.fill(template).map_err(in_service)?;
        let service = expand_all(service, template, user_macros).map_err(in_service)?;
        service.check()?;
        Ok(service)
    }

    /// The declared keys over the template's (or the plain defaults), macros not yet expanded.
    fn fill(self, template: Option<&Template>) -> Result<(ServiceConfig, Extra), String> {
        let owned = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let image = self
            .image
            .or(template.map(|t| t.image.to_string()))
            .ok_or("image is missing (give one, or a template)")?;
        let port = self
            .port
            .or(template.map(|t| t.port))
            .ok_or("port is missing (give one, or a template)")?;
        let mut env: BTreeMap<String, String> = template
            .map(|t| {
                t.env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        env.extend(self.env);
        let gpus = match self.gpus {
            Some(value) => Gpus::try_from(value)?,
            None if template.is_some_and(|t| t.gpus_all) => Gpus::All,
            None => Gpus::None,
        };
        let openai = template.is_none_or(|t| t.openai);
        let service = ServiceConfig {
            models: self.models.unwrap_or_else(|| {
                if openai {
                    vec![self.id.clone()]
                } else {
                    Vec::new()
                }
            }),
            id: self.id,
            image,
            command: self
                .command
                .unwrap_or_else(|| template.map(|t| owned(t.command)).unwrap_or_default()),
            env,
            port,
            host_port: self.host_port,
            url: self.url,
            network: self.network.unwrap_or_default(),
            health_path: self
                .health_path
                .or(template.map(|t| t.health_path.to_string()))
                .unwrap_or_else(|| "/health".into()),
            gpus,
            volumes: self
                .volumes
                .unwrap_or_else(|| template.map(|t| owned(t.volumes)).unwrap_or_default()),
            startup_timeout_seconds: self
                .startup_timeout_seconds
                .or(template.map(|t| t.startup_timeout_seconds))
                .unwrap_or(600.0),
            idle_ttl_seconds: self.idle_ttl_seconds.unwrap_or(600.0),
            stop_timeout_seconds: self.stop_timeout_seconds.unwrap_or(10.0),
            gpu_memory_gb: self.gpu_memory_gb.unwrap_or(0.0),
            init: self.init.unwrap_or(true),
            max_concurrent: self.max_concurrent,
            queue_timeout_seconds: self.queue_timeout_seconds.unwrap_or(30.0),
            restart: self.restart.unwrap_or_default(),
        };
        let extra = Extra {
            model: self.model,
            model_dir: self.model_dir,
        };
        Ok((service, extra))
    }
}

/// The declared keys that exist only as macros.
struct Extra {
    model: Option<String>,
    model_dir: Option<String>,
}

/// Every macro in the strings that reach the engine, replaced. `${MODEL}` and `${MODEL_DIR}` exist only
/// when declared, so a template that needs one names it in its error.
fn expand_all(
    (mut service, extra): (ServiceConfig, Extra),
    template: Option<&Template>,
    user_macros: &BTreeMap<String, String>,
) -> Result<ServiceConfig, String> {
    let mut values = user_macros.clone();
    values.insert("ID".into(), service.id.clone());
    values.insert("PORT".into(), service.port.to_string());
    values.insert("GPUS".into(), service.gpus.word());
    // The model and its folder may be written with the other macros (`${MODELS}/gguf`).
    let mut derived = BTreeMap::new();
    for (name, value) in [("MODEL", extra.model), ("MODEL_DIR", extra.model_dir)] {
        if let Some(value) = value {
            let what = name.to_lowercase();
            derived.insert(name.to_string(), macros::expand(&value, &values, &what)?);
        }
    }
    values.extend(derived);
    let hint = |e: String| match template {
        Some(t) if e.contains("${MODEL") => format!(
            "{e}; template {} needs `model` and `model_dir` (or override the key)",
            t.name
        ),
        _ => e,
    };
    let expand = |text: &str, what: String| macros::expand(text, &values, &what).map_err(hint);
    service.image = expand(&service.image, "image".into())?;
    service.health_path = expand(&service.health_path, "health_path".into())?;
    for (i, arg) in service.command.iter_mut().enumerate() {
        *arg = expand(arg, format!("command[{i}]"))?;
    }
    for (key, value) in service.env.iter_mut() {
        *value = expand(value, format!("env.{key}"))?;
    }
    for (i, volume) in service.volumes.iter_mut().enumerate() {
        *volume = expand(volume, format!("volumes[{i}]"))?;
    }
    for (i, model) in service.models.iter_mut().enumerate() {
        *model = expand(model, format!("models[{i}]"))?;
    }
    Ok(service)
}

/// A service from a TOML table, for unit tests elsewhere in the crate.
#[cfg(test)]
pub(crate) fn service_from_toml(text: &str) -> ServiceConfig {
    let declaration: ServiceDeclaration = toml::from_str(text).unwrap();
    declaration.resolve(&BTreeMap::new()).unwrap()
}
