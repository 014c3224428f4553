//! The settings as given: ONE struct that clap fills from flags (and their environment variables) and serde
//! from the config file, so each setting is declared once and has the same name as a flag, a variable and a key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use schemars::JsonSchema;
use serde::Deserialize;

use super::declaration::ServiceDeclaration;

#[derive(Parser, Deserialize, JsonSchema, Clone, Debug, Default)]
#[command(
    name = "tsuzuki",
    version,
    about = "Endless focus music: the generation server and web app"
)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// Address to listen on [default: 127.0.0.1:3000, or LEPTOS_SITE_ADDR under cargo-leptos]
    #[arg(long, env = "TSUZUKI_ADDR")]
    pub(super) addr: Option<SocketAddr>,
    /// Music generator: `synth` (embedded, CPU) or `acestep` (ACE-Step 1.5 over HTTP) [default: synth]
    #[arg(long, env = "TSUZUKI_BACKEND")]
    pub(super) backend: Option<String>,
    /// Base URL of the ACE-Step API server [default: http://127.0.0.1:8001]
    #[arg(long, env = "TSUZUKI_ACESTEP_URL")]
    pub(super) acestep_url: Option<String>,
    /// ACE-Step DiT model: acestep-v15-sft or acestep-v15-turbo [default: acestep-v15-sft]
    #[arg(long, env = "TSUZUKI_ACESTEP_MODEL")]
    pub(super) acestep_model: Option<String>,
    /// How ACE-Step joins a repaint to the overlap it keeps: conservative or balanced [default: conservative]
    #[arg(long, env = "TSUZUKI_ACESTEP_REPAINT_MODE")]
    pub(super) acestep_repaint_mode: Option<String>,
    /// Bearer key for an ACE-Step server started with ACESTEP_API_KEY
    #[arg(long, env = "ACESTEP_API_KEY", hide_env_values = true)]
    pub(super) acestep_api_key: Option<String>,
    /// Folder for segment files [default: a private folder under the system temp dir]
    #[arg(long, env = "TSUZUKI_DATA_DIR")]
    pub(super) data_dir: Option<PathBuf>,
    /// Length of each generated segment in seconds [default: 60]
    #[arg(long, env = "TSUZUKI_SEGMENT_SECONDS")]
    pub(super) segment_seconds: Option<f64>,
    /// Seconds each segment repeats from the end of the one before, for the crossfade [default: 15]
    #[arg(long, env = "TSUZUKI_OVERLAP_SECONDS")]
    pub(super) overlap_seconds: Option<f64>,
    /// Tries per segment before the session reports an error [default: 3]
    #[arg(long, env = "TSUZUKI_MAX_ATTEMPTS")]
    pub(super) max_attempts: Option<u32>,
    /// Wait before the first retry, doubled for each further one, in milliseconds [default: 2000]
    #[arg(long, env = "TSUZUKI_RETRY_BACKOFF_MS")]
    pub(super) retry_backoff_ms: Option<u64>,
    /// Give up on one generation attempt after this many seconds [default: 600]
    #[arg(long, env = "TSUZUKI_JOB_TIMEOUT_SECONDS")]
    pub(super) job_timeout_seconds: Option<f64>,
    /// Integrated loudness every segment is brought to (ITU-R BS.1770), in LUFS, or `off` [default: -16]
    #[arg(long, env = "TSUZUKI_LOUDNESS_TARGET", allow_hyphen_values = true)]
    pub(super) loudness_target: Option<String>,
    /// Bitrate of the Opus copy of every segment, for slow links, in kb/s (16 to 256) [default: 128]
    #[arg(long, env = "TSUZUKI_OPUS_BITRATE")]
    pub(super) opus_bitrate: Option<u32>,
    /// Never let the embedded synthesizer play while the model loads or fails: wait for the model instead
    #[arg(long, env = "TSUZUKI_NO_BRIDGE", num_args = 0..=1, default_missing_value = "true")]
    pub(super) no_bridge: Option<bool>,
    /// How often to ask ACE-Step about a running task, in milliseconds [default: 1000]
    #[arg(long, env = "TSUZUKI_POLL_INTERVAL_MS")]
    pub(super) poll_interval_ms: Option<u64>,
    /// Run ACE-Step in the managed container service with this id (a `[[services]]` entry of the config file)
    #[arg(long, env = "TSUZUKI_ACESTEP_SERVICE")]
    pub(super) acestep_service: Option<String>,
    /// Bearer token required by the service control endpoints, the service proxy and /metrics
    #[arg(long, env = "TSUZUKI_API_TOKEN", hide_env_values = true)]
    pub(super) api_token: Option<String>,
    /// Docker engine of the model containers [default: unix:///var/run/docker.sock]
    #[arg(long, env = "DOCKER_HOST")]
    pub(super) docker_host: Option<String>,
    /// OpenTelemetry collector to send traces, metrics and logs to over OTLP/HTTP (protobuf), e.g.
    /// http://collector:4318; `/v1/traces`, `/v1/metrics` and `/v1/logs` are appended [default: none]
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub(super) otlp_endpoint: Option<String>,
    /// Verify a tcp:// engine's TLS certificate and present ours, as Docker's CLI does when this variable is
    /// set to anything
    #[arg(long, env = "DOCKER_TLS_VERIFY")]
    pub(super) docker_tls_verify: Option<String>,
    /// Folder with the engine's ca.pem and our cert.pem and key.pem [default: ~/.docker]
    #[arg(long, env = "DOCKER_CERT_PATH")]
    pub(super) docker_cert_path: Option<PathBuf>,
    /// GPU memory the model containers may claim together (config file only: it goes with `services`).
    #[arg(skip)]
    pub(super) gpu_memory_budget_gb: Option<f64>,
    /// The model services (config file only: a service is too big for a flag).
    #[arg(skip)]
    pub(super) services: Option<Vec<ServiceDeclaration>>,
    /// Values for `${NAME}` in the services' commands, environment and volumes (config file only).
    #[arg(skip)]
    pub(super) macros: Option<BTreeMap<String, String>>,
    /// TOML or YAML file with any of the settings above (keys as the flags, with underscores); reloaded
    /// on SIGHUP and when it changes
    // Not a key itself: a config file does not name another one.
    #[arg(long, env = "TSUZUKI_CONFIG")]
    #[serde(skip)]
    pub(super) config: Option<PathBuf>,
}

impl RawSettings {
    /// The settings written in the TOML or YAML file at `path`.
    pub(super) fn from_file(path: &Path) -> Result<RawSettings, String> {
        super::file::read(path)
    }

    /// Each setting from `self` when given there, else from `lower`: flags and environment (already merged
    /// by clap) over the file, or a subcommand's flags over those before it. Listing every field keeps a new
    /// one from being forgotten: it must be named here.
    pub fn or(self, lower: RawSettings) -> RawSettings {
        RawSettings {
            addr: self.addr.or(lower.addr),
            backend: self.backend.or(lower.backend),
            acestep_url: self.acestep_url.or(lower.acestep_url),
            acestep_model: self.acestep_model.or(lower.acestep_model),
            acestep_repaint_mode: self.acestep_repaint_mode.or(lower.acestep_repaint_mode),
            acestep_api_key: self.acestep_api_key.or(lower.acestep_api_key),
            data_dir: self.data_dir.or(lower.data_dir),
            segment_seconds: self.segment_seconds.or(lower.segment_seconds),
            overlap_seconds: self.overlap_seconds.or(lower.overlap_seconds),
            max_attempts: self.max_attempts.or(lower.max_attempts),
            retry_backoff_ms: self.retry_backoff_ms.or(lower.retry_backoff_ms),
            job_timeout_seconds: self.job_timeout_seconds.or(lower.job_timeout_seconds),
            loudness_target: self.loudness_target.or(lower.loudness_target),
            opus_bitrate: self.opus_bitrate.or(lower.opus_bitrate),
            no_bridge: self.no_bridge.or(lower.no_bridge),
            poll_interval_ms: self.poll_interval_ms.or(lower.poll_interval_ms),
            acestep_service: self.acestep_service.or(lower.acestep_service),
            api_token: self.api_token.or(lower.api_token),
            docker_host: self.docker_host.or(lower.docker_host),
            docker_tls_verify: self.docker_tls_verify.or(lower.docker_tls_verify),
            docker_cert_path: self.docker_cert_path.or(lower.docker_cert_path),
            otlp_endpoint: self.otlp_endpoint.or(lower.otlp_endpoint),
            gpu_memory_budget_gb: self.gpu_memory_budget_gb.or(lower.gpu_memory_budget_gb),
            services: self.services.or(lower.services),
            macros: self.macros.or(lower.macros),
            config: self.config.or(lower.config),
        }
    }
}
