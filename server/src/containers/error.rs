//! What can go wrong with a service, in words a user can act on.

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ServiceError {
    #[error("no service {0:?} is configured")]
    UnknownService(String),
    #[error("the Docker engine at {host} cannot be reached ({detail}); is dockerd running?")]
    EngineUnreachable { host: String, detail: String },
    #[error("image {image} is not on this machine; pull it first: docker pull {image}")]
    ImageMissing { image: String },
    #[error("no NVIDIA GPU runtime available to Docker: {detail} (install the NVIDIA Container Toolkit, or set gpus = \"none\")")]
    GpuUnavailable { detail: String },
    #[error("a container named {name} exists and was not made by this server; remove it (docker rm -f {name}) or rename the service")]
    NameTaken { name: String },
    #[error("the {service} container exited during start ({}){}", exit_text(.code), lines_text(.logs))]
    ExitedDuringStart {
        service: String,
        code: Option<i64>,
        logs: Vec<String>,
    },
    #[error("the {service} container did not answer {url} within {seconds} s{}", lines_text(.logs))]
    HealthTimeout {
        service: String,
        url: String,
        seconds: f64,
        logs: Vec<String>,
    },
    #[error("{0}")]
    NoGpuRoom(String),
    #[error("the {service} container ran out of GPU memory while starting, again after the idle services were stopped{}", lines_text(.logs))]
    OutOfGpuMemory { service: String, logs: Vec<String> },
    #[error(
        "service {service:?} is in use by {holders} session(s) or request(s); it stops once idle"
    )]
    InUse { service: String, holders: u32 },
    #[error("service {service:?} is busy: {limit} request(s) at once is its limit, and none finished within {waited} s")]
    Busy {
        service: String,
        limit: u32,
        waited: f64,
    },
    #[error("the start of {0:?} was abandoned: the service was stopped")]
    Abandoned(String),
    #[error("service {0:?} has no container now")]
    NoContainer(String),
    #[error("{0}")]
    Engine(String),
    #[error("the server is shutting down")]
    ShuttingDown,
}

impl ServiceError {
    /// The container's last lines, for failures that come with them.
    pub(super) fn logs(&self) -> &[String] {
        match self {
            ServiceError::ExitedDuringStart { logs, .. }
            | ServiceError::HealthTimeout { logs, .. }
            | ServiceError::OutOfGpuMemory { logs, .. } => logs,
            _ => &[],
        }
    }

    /// Whether trying again without changing anything may help.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ServiceError::EngineUnreachable { .. }
                | ServiceError::HealthTimeout { .. }
                | ServiceError::NoGpuRoom(_)
                | ServiceError::InUse { .. }
                | ServiceError::Abandoned(_)
                | ServiceError::Engine(_)
        )
    }
}

/// Why the container manager could not be set up (the server should not start without it).
#[derive(Debug, thiserror::Error)]
#[error("cannot make the HTTP client the model services are reached with: {0}")]
pub struct SetupError(pub(super) String);

pub(super) fn exit_text(code: &Option<i64>) -> String {
    code.map_or("it is gone".into(), |c| format!("exit code {c}"))
}

pub(super) fn lines_text(logs: &[String]) -> String {
    if logs.is_empty() {
        String::new()
    } else {
        format!("; its last lines: {}", logs.join(" | "))
    }
}
