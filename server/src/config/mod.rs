//! Settings from flags, `TSUZUKI_*` environment variables, a TOML file and defaults, in that order of
//! precedence, checked once at start-up so a bad combination stops the server with one clear line.
//!
//! Two steps, as in ripgrep's flags: [`RawSettings`] holds what was given (flags and environment through
//! clap, the file through serde, everything optional); `validate` turns the merged layers into a [`Config`]
//! of small sub-configs, each used by one part of the server.

mod declaration;
mod diff;
mod file;
mod macros;
mod raw;
mod services;
mod templates;
#[cfg(test)]
mod tests;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::backend::acestep;
#[cfg(test)]
pub(crate) use declaration::service_from_toml;
pub use diff::{diff, Diff};
pub use raw::RawSettings;
pub use services::{Gpus, Network, Restart, ServiceConfig};
pub(crate) use validate::engine_machine;

/// Output sample rate of every segment (ACE-Step's native rate, shared with the synthesizer).
pub use tsuzuki_audio::SAMPLE_RATE;
/// Output channels of every segment.
pub const CHANNELS: u16 = 2;

#[derive(Clone, Debug)]
pub struct Config {
    pub http: HttpConfig,
    pub session: SessionConfig,
    pub backend: BackendKind,
    pub containers: ContainersConfig,
    pub telemetry: TelemetryConfig,
}

/// Docker's TLS files (`DOCKER_CERT_PATH`): the engine's CA, and our certificate and key.
#[derive(Clone, Debug, PartialEq)]
pub struct DockerTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Where OpenTelemetry goes; with no endpoint nothing is exported (and nothing is recorded for it).
#[derive(Clone, Debug, Default)]
pub struct TelemetryConfig {
    /// The collector's base URL, without a trailing slash.
    pub otlp_endpoint: Option<String>,
}

#[derive(Clone, Debug)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    /// Required as `Authorization: Bearer` by the control endpoints when set.
    pub api_token: Option<String>,
}

/// How sessions make their segments, and where they keep them.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub data_dir: PathBuf,
    pub segment_seconds: f64,
    pub overlap_seconds: f64,
    pub max_attempts: u32,
    pub retry_backoff: Duration,
    pub job_timeout: Duration,
    /// The integrated loudness segments are levelled to, in LUFS; `None` leaves them as made.
    pub loudness_target: Option<f64>,
    /// Bits per second of every segment's Opus copy.
    pub opus_bitrate: u32,
    /// Whether the embedded synthesizer plays while the model is loading, unreachable or failing.
    pub bridge: bool,
}

impl SessionConfig {
    /// A segment's length in frames at the output rate.
    pub(crate) fn segment_frames(&self) -> usize {
        tsuzuki_audio::frames_in(self.segment_seconds, SAMPLE_RATE)
    }

    /// The overlap's length in frames: what a repaint keeps of its seed.
    pub(crate) fn overlap_frames(&self) -> usize {
        tsuzuki_audio::frames_in(self.overlap_seconds, SAMPLE_RATE)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum BackendKind {
    Synth,
    /// ACE-Step at the settings' URL; with a service id, in that managed container.
    AceStep(acestep::Settings, Option<String>),
}

#[derive(Clone, Debug)]
pub struct ContainersConfig {
    /// The model containers this server may run.
    pub services: Vec<ServiceConfig>,
    pub gpu_memory_budget_gb: Option<f64>,
    pub docker_host: Option<String>,
    /// The files that prove who we are to a TLS engine, and who it is.
    pub docker_tls: Option<DockerTls>,
    /// The file the services were declared in, watched for changes.
    pub config_file: Option<PathBuf>,
}

impl Config {
    /// Settings for tests and embedding: the defaults with the given data dir and lengths.
    pub fn with(data_dir: PathBuf, segment_seconds: f64, overlap_seconds: f64) -> Config {
        let mut config =
            Config::load(RawSettings::default(), None).unwrap_or_else(|e| panic!("{e}"));
        config.session.data_dir = data_dir;
        config.session.segment_seconds = segment_seconds;
        config.session.overlap_seconds = overlap_seconds;
        config
    }

    /// Merges `flags` (flags and environment, as clap parsed them), the config file they name,
    /// `leptos_addr` and the defaults, and checks the result.
    pub fn load(flags: RawSettings, leptos_addr: Option<SocketAddr>) -> Result<Config, String> {
        let file = match &flags.config {
            None => RawSettings::default(),
            Some(path) => RawSettings::from_file(path)?,
        };
        validate::config(flags.or(file), leptos_addr)
    }

    /// The JSON Schema of the config file, for editors.
    pub fn schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(RawSettings)).unwrap_or_default()
    }
}

/// Where the config comes from, kept to read it again on a reload: the flags and environment as given at
/// start-up (they still win over the file) and the address cargo-leptos asked for.
#[derive(Clone, Debug)]
pub struct Source {
    pub flags: RawSettings,
    pub leptos_addr: Option<SocketAddr>,
}

impl Source {
    pub fn load(&self) -> Result<Config, String> {
        Config::load(self.flags.clone(), self.leptos_addr)
    }

    /// The config file the flags name, if any.
    pub fn flags_file(&self) -> Option<PathBuf> {
        self.flags.config.clone()
    }
}
