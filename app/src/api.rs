//! The JSON API spoken between the browser app and the server. Both sides compile these types, so the
//! wire format has exactly one definition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The mood used when the listener leaves the prompt empty.
pub const DEFAULT_PROMPT: &str =
    "instrumental ambient focus music, smooth continuous texture, no vocals, stable rhythm";

/// ACE-Step advises captions under 512 characters; longer ones are truncated by its tokenizer.
pub const MAX_PROMPT_CHARS: usize = 512;

/// `POST /session/start`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    #[serde(default)]
    pub prompt: Option<String>,
    /// Off unless given.
    #[serde(default)]
    pub focus_modulation: Option<FocusModulation>,
}

/// A smooth 16 Hz amplitude modulation of the mix above the bass, opt-in: Brain.fm's studies found
/// modulation of this kind helped some listeners' sustained attention.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FocusModulation {
    #[default]
    Off,
    Low,
    Medium,
    High,
}

impl FocusModulation {
    pub const ALL: [FocusModulation; 4] = [
        FocusModulation::Off,
        FocusModulation::Low,
        FocusModulation::Medium,
        FocusModulation::High,
    ];

    /// How far each dip goes below the peaks: 25 %, 50 % and 75 % (about 2.5, 6 and 12 dB).
    pub fn depth(self) -> f64 {
        match self {
            FocusModulation::Off => 0.0,
            FocusModulation::Low => 0.25,
            FocusModulation::Medium => 0.5,
            FocusModulation::High => 0.75,
        }
    }

    /// The name on the wire and in the page: `off`, `low`, `medium`, `high`.
    pub fn name(self) -> &'static str {
        match self {
            FocusModulation::Off => "off",
            FocusModulation::Low => "low",
            FocusModulation::Medium => "medium",
            FocusModulation::High => "high",
        }
    }

    pub fn from_name(name: &str) -> Option<FocusModulation> {
        FocusModulation::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// `POST /session/focus`: applies from the next segment made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FocusRequest {
    pub focus_modulation: FocusModulation,
}

/// `POST /session/prompt`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptRequest {
    pub prompt: String,
}

/// Reply to `POST /session/prompt`: the prompt now in force and the first segment it shapes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PromptResponse {
    pub prompt: String,
    pub applies_from_segment: u64,
}

/// What the generation loop is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// No session.
    Idle,
    /// A session exists but its backend is not ready yet (for example a model container loading).
    Starting,
    /// A segment is being generated.
    Generating,
    /// The next segment is ready; generation waits until a listener downloads it.
    Waiting,
    /// Generation gave up after retries; `POST /session/start` recovers.
    Error,
}

/// The generator behind the session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// `synth` or `acestep`.
    pub kind: String,
    /// The model that makes the audio (the DiT for ACE-Step).
    pub model: Option<String>,
    /// The language model in use, where there is one.
    pub lm_model: Option<String>,
    /// Why the language model is not the first choice (the server does not offer it, or it ran out of
    /// GPU memory), in the model server's own words where it gave any.
    #[serde(default)]
    pub lm_fallback_reason: Option<String>,
    /// Which generator makes the segments now: `acestep`, or `synth` while the embedded synthesizer
    /// bridges a wait for the model.
    #[serde(default)]
    pub active: String,
    /// Why the synthesizer plays instead of the model; `None` while the model plays.
    #[serde(default)]
    pub bridge_reason: Option<BridgeReason>,
    /// While the synthesizer stands in after the model failed: the failure in its own words (say, that
    /// Docker has no NVIDIA GPU runtime), so the listener can act on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_detail: Option<String>,
    /// While the embedded synthesizer plays: the prompt's words it used ("rain", "84 bpm", "no drums").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heard: Option<Vec<String>>,
    /// ...and the words it could not use. Both are absent while a model plays: it reads the whole prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<Vec<String>>,
}

/// Why the embedded synthesizer stands in for the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BridgeReason {
    /// The model's container is starting, its weights are loading, or its first segment is being made.
    ModelLoading,
    /// The model server does not answer.
    Unreachable,
    /// The model server answers but its jobs fail (or come too late to play).
    Failing,
}

/// How a segment joins the one before it: the gain that matched its overlap to what was heard, and how
/// much the model changed the overlap beyond that gain.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Join {
    pub segment: u64,
    pub gain_db: f64,
    /// Energy of what is left after the gain, relative to the heard overlap (dB; very low when the overlap
    /// came back as the same music).
    pub residual_db: f64,
    /// The overlap is the same music as what was heard, so the player crossfades with gains summing to
    /// one; otherwise with equal power.
    pub correlated: bool,
    /// How much the overlap still shares with what was heard (0..1, the normalised correlation): an
    /// equal-power crossfade is corrected by it, so shared music does not add up louder.
    #[serde(default)]
    pub correlation: f64,
}

/// Why the session stopped generating.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusError {
    pub message: String,
    /// Whether `POST /session/start` is likely to succeed without the user changing anything.
    pub retryable: bool,
    /// RFC 3339 time of the failure.
    pub at: String,
}

/// `GET /session/status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub session_id: Option<String>,
    pub state: SessionState,
    /// The latest playable segment; only grows within a session.
    pub segment_index: Option<u64>,
    /// The segment being generated, if any.
    pub generating_index: Option<u64>,
    /// 0..1 of the segment being generated.
    pub progress: f32,
    /// The newest prompt.
    pub prompt: String,
    /// The first segment shaped by `prompt`.
    pub prompt_applies_from: Option<u64>,
    pub segment_seconds: f64,
    pub overlap_seconds: f64,
    pub sample_rate: u32,
    pub channels: u16,
    pub backend: BackendInfo,
    pub error: Option<StatusError>,
    /// While the session waits for its model container to load.
    #[serde(default)]
    pub starting: Option<StartingInfo>,
    /// How the latest segment joins its predecessor.
    #[serde(default)]
    pub last_join: Option<Join>,
    /// While no session runs: the one a listener last stopped (`POST /session/stop`). A player still on
    /// it was stopped from another tab or device, and stops too instead of starting a new one.
    #[serde(default)]
    pub stopped_session: Option<String>,
    /// The session's focus modulation, as the newest segments carry it.
    #[serde(default)]
    pub focus_modulation: FocusModulation,
}

/// What a starting backend is waiting for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartingPhase {
    /// The model's container is starting and its server not yet answering.
    #[default]
    StartingContainer,
    /// The model server answers and is loading its weights.
    LoadingModel,
}

/// A model container that is loading: which service, for how long so far, and what it last logged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartingInfo {
    #[serde(default)]
    pub phase: StartingPhase,
    pub service: String,
    pub elapsed_seconds: f64,
    pub log_tail: Vec<String>,
}

/// `GET /health`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// `ok` when the backend answers, `degraded` otherwise.
    pub status: String,
    pub backend: BackendInfo,
    pub backend_reachable: bool,
    pub backend_message: Option<String>,
}

/// Every error reply: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// Where a managed model container stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Stopped,
    Starting,
    Ready,
    Stopping,
    /// The last start failed or the container died; the next use starts it again.
    Failed,
}

/// One configured model service (`GET /api/v1/services`, and the reply of its start and stop).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub id: String,
    pub image: String,
    /// The names `/v1/*` requests route here by.
    #[serde(default)]
    pub models: Vec<String>,
    /// Requests proxied at once; `None`: no limit.
    #[serde(default)]
    pub max_concurrent: Option<u32>,
    pub state: ServiceState,
    pub container_id: Option<String>,
    /// Where the server reaches the service.
    pub url: String,
    /// Seconds since the service became ready.
    pub uptime_seconds: Option<f64>,
    /// RFC 3339 time of the last use (a session or a proxied request ending).
    pub last_used: Option<String>,
    /// Sessions and requests holding it right now; a service in use is never stopped.
    pub in_use: u32,
    /// Seconds of idleness after which it stops; `None` means never.
    pub idle_ttl_seconds: Option<f64>,
    /// The GPU memory it is declared to need.
    pub gpu_memory_gb: f64,
    pub starting: Option<StartingInfo>,
    /// Why the last start failed or the container died.
    pub error: Option<String>,
}

/// `GET /api/v1/services`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServicesResponse {
    pub services: Vec<ServiceInfo>,
    /// The configured GPU memory budget, if any.
    pub gpu_memory_budget_gb: Option<f64>,
    /// GPU memory claimed by services that are starting, ready or stopping.
    pub gpu_memory_claimed_gb: f64,
    /// The GPUs as measured, when they can be.
    #[serde(default)]
    pub gpus: GpuReport,
}

/// What the GPUs hold, measured (`source` "nvml") or not (`source` "declared", with the reason): then the
/// services' declared `gpu_memory_gb` are all that is known.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuReport {
    pub source: String,
    pub reason: Option<String>,
    pub devices: Vec<GpuDevice>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GpuDevice {
    pub index: u32,
    pub name: String,
    pub memory_total_gb: f64,
    pub memory_used_gb: f64,
    pub memory_free_gb: f64,
    pub utilization_percent: Option<u32>,
}

/// `GET /api/v1/service/{id}/logs?tail=N`: the container's last lines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogsResponse {
    pub service: String,
    pub container_id: String,
    pub lines: Vec<String>,
}

/// `GET /api/v1/stats`: how each service was used through the proxy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatsResponse {
    /// RFC 3339 time the server started: the "since start" window begins here.
    pub since: String,
    pub uptime_seconds: f64,
    pub services: Vec<ServiceStats>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceStats {
    pub id: String,
    pub since_start: UsageTally,
    pub last_hour: UsageTally,
}

/// One service's use over a window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTally {
    pub requests: u64,
    /// Answered 5xx by the service, or failed on the way.
    pub errors: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Seconds with at least one request in flight.
    pub busy_seconds: f64,
    /// Requests that waited for the service to start.
    pub cold_starts: u64,
    /// From OpenAI-compatible answers' `usage`.
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// From the request sent to the service to its answer's last byte.
    pub latency_seconds: Quantiles,
    /// From the request sent to the service to its answer's first body byte.
    pub time_to_first_byte_seconds: Quantiles,
}

/// Quantiles in seconds; `None` before the first sample.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

/// `POST /api/v1/config/reload` (and the log line of a reload on SIGHUP or a file change): what it did, by
/// service id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReloadResponse {
    /// Declared now: available at once, started on demand.
    pub added: Vec<String>,
    /// Their container changes: restarted once idle (or at once with `restart = "immediately"`).
    pub changed: Vec<String>,
    /// Other settings changed (idle TTL, models, limits): applied to the running container.
    pub updated: Vec<String>,
    /// No longer declared: stopped once idle.
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
    pub gpu_memory_budget_gb: Option<f64>,
}

/// `GET /api/v1/container/{id}`: a managed container as the Docker engine reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub service: String,
    pub image: String,
    /// Docker's word: `created`, `running`, `exited`, ...
    pub status: String,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub log_tail: Vec<String>,
}

/// The header that names the segment a WAV response carries.
pub const SEGMENT_INDEX_HEADER: &str = "x-segment-index";

/// The header that says (`true`/`false`) whether a segment's overlap is the same music as its
/// predecessor's tail, which decides the player's crossfade curve.
pub const JOIN_CORRELATED_HEADER: &str = "x-join-correlated";

/// The header with a segment's [`Join::correlation`], for the crossfade curve of a join that is not
/// correlated.
pub const JOIN_CORRELATION_HEADER: &str = "x-join-correlation";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_serialise_as_the_documented_words() {
        let words: Vec<String> = [
            SessionState::Idle,
            SessionState::Starting,
            SessionState::Generating,
            SessionState::Waiting,
            SessionState::Error,
        ]
        .iter()
        .map(|s| serde_json::to_string(s).unwrap())
        .collect();
        assert_eq!(
            words,
            [
                r#""idle""#,
                r#""starting""#,
                r#""generating""#,
                r#""waiting""#,
                r#""error""#
            ]
        );
    }

    #[test]
    fn a_status_without_starting_info_still_parses() {
        let mut status = serde_json::to_value(Status {
            session_id: None,
            state: SessionState::Idle,
            segment_index: None,
            generating_index: None,
            progress: 0.0,
            prompt: DEFAULT_PROMPT.into(),
            prompt_applies_from: None,
            segment_seconds: 60.0,
            overlap_seconds: 15.0,
            sample_rate: 48_000,
            channels: 2,
            backend: BackendInfo {
                kind: "synth".into(),
                model: None,
                lm_model: None,
                lm_fallback_reason: None,
                active: "synth".into(),
                bridge_reason: None,
                bridge_detail: None,
                heard: None,
                ignored: None,
            },
            error: None,
            starting: None,
            last_join: None,
            stopped_session: None,
            focus_modulation: FocusModulation::Medium,
        })
        .unwrap();
        let object = status.as_object_mut().unwrap();
        object.remove("starting");
        object.remove("last_join");
        object.remove("stopped_session");
        object.remove("focus_modulation");
        let parsed: Status = serde_json::from_value(status).unwrap();
        assert_eq!((parsed.starting, parsed.last_join), (None, None));
        assert_eq!(parsed.stopped_session, None);
        assert_eq!(parsed.focus_modulation, FocusModulation::Off);
    }

    #[test]
    fn start_request_accepts_a_missing_prompt_and_rejects_unknown_fields() {
        let empty: StartRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(empty.prompt, None);
        assert_eq!(empty.focus_modulation, None);
        let focused: StartRequest =
            serde_json::from_str(r#"{"focus_modulation": "medium"}"#).unwrap();
        assert_eq!(focused.focus_modulation, Some(FocusModulation::Medium));
        assert!(serde_json::from_str::<StartRequest>(r#"{"focus_modulation": "max"}"#).is_err());
        for f in FocusModulation::ALL {
            assert_eq!(FocusModulation::from_name(f.name()), Some(f));
            let wire = serde_json::to_string(&f).unwrap();
            assert_eq!(wire, format!("\"{}\"", f.name()));
        }
        assert!(serde_json::from_str::<StartRequest>(r#"{"promt": "x"}"#).is_err());
    }
}
