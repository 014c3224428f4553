//! Raw settings → the validated [`Config`]: defaults filled in, each value checked, one line per problem.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use super::raw::RawSettings;
use super::services::ServiceConfig;
use super::{
    BackendKind, Config, ContainersConfig, DockerTls, HttpConfig, SessionConfig, TelemetryConfig,
};
use crate::backend::acestep;

/// Checks in the order a reader meets them: segments, then containers, then the backend that may use one.
pub(super) fn config(raw: RawSettings, leptos_addr: Option<SocketAddr>) -> Result<Config, String> {
    let session = session(&raw)?;
    let containers = containers(&raw)?;
    let backend = backend(&raw, &containers.services)?;
    Ok(Config {
        http: HttpConfig {
            addr: raw
                .addr
                .or(leptos_addr)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000))),
            api_token: raw.api_token.filter(|t| !t.is_empty()),
        },
        session,
        backend,
        containers,
        telemetry: TelemetryConfig {
            otlp_endpoint: otlp_endpoint(raw.otlp_endpoint.as_deref())?,
        },
    })
}

/// An OTLP/HTTP collector's base URL; an empty one (as an unset environment variable may be) means none.
fn otlp_endpoint(given: Option<&str>) -> Result<Option<String>, String> {
    let Some(given) = given.map(str::trim).filter(|g| !g.is_empty()) else {
        return Ok(None);
    };
    let invalid = |why: &str| format!("otlp_endpoint {given:?}: {why}");
    let url = reqwest::Url::parse(given).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            "give the collector's http:// or https:// address, e.g. http://collector:4318",
        ));
    }
    if url.query().is_some() {
        return Err(invalid("a base URL takes no query"));
    }
    Ok(Some(given.trim_end_matches('/').to_string()))
}

fn session(raw: &RawSettings) -> Result<SessionConfig, String> {
    let segment_seconds = raw.segment_seconds.unwrap_or(60.0);
    let overlap_seconds = raw.overlap_seconds.unwrap_or(15.0);
    if !(segment_seconds.is_finite() && (1.0..=600.0).contains(&segment_seconds)) {
        return Err(format!(
            "segment seconds must be between 1 and 600, not {segment_seconds}"
        ));
    }
    if !(overlap_seconds.is_finite() && overlap_seconds > 0.0 && overlap_seconds < segment_seconds)
    {
        return Err(format!(
            "overlap seconds ({overlap_seconds}) must be above 0 and below the segment length ({segment_seconds})"
        ));
    }
    let job_timeout = raw.job_timeout_seconds.unwrap_or(600.0);
    if !(job_timeout.is_finite() && job_timeout > 0.0) {
        return Err(format!(
            "job timeout must be a positive number of seconds, not {job_timeout}"
        ));
    }
    // Beyond about 5.8e11 years a Duration overflows: refuse instead of panicking.
    let job_timeout = Duration::try_from_secs_f64(job_timeout)
        .map_err(|_| format!("job timeout of {job_timeout} seconds is too long"))?;
    let max_attempts = raw.max_attempts.unwrap_or(3);
    if max_attempts == 0 {
        return Err("max attempts must be at least 1".into());
    }
    let opus_kbps = raw.opus_bitrate.unwrap_or(128);
    if !(16..=256).contains(&opus_kbps) {
        return Err(format!(
            "opus bitrate must be between 16 and 256 kb/s, not {opus_kbps}"
        ));
    }
    Ok(SessionConfig {
        loudness_target: loudness_target(raw.loudness_target.as_deref())?,
        opus_bitrate: opus_kbps * 1000,
        bridge: !raw.no_bridge.unwrap_or(false),
        data_dir: raw
            .data_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("tsuzuki")),
        segment_seconds,
        overlap_seconds,
        max_attempts,
        retry_backoff: Duration::from_millis(raw.retry_backoff_ms.unwrap_or(2000)),
        job_timeout,
    })
}

/// Loudness targets between -36 LUFS (very quiet) and -6 LUFS (louder than any streaming service); `off`
/// keeps segments as the generator made them.
fn loudness_target(given: Option<&str>) -> Result<Option<f64>, String> {
    let Some(text) = given.map(str::trim) else {
        return Ok(Some(-16.0));
    };
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let value = text
        .trim_end_matches("LUFS")
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| (-36.0..=-6.0).contains(v));
    value.map(Some).ok_or_else(|| {
        format!("loudness target must be between -36 and -6 LUFS, or off, not {text:?}")
    })
}

fn containers(raw: &RawSettings) -> Result<ContainersConfig, String> {
    let macros = raw.macros.clone().unwrap_or_default();
    if let Some(name) = macros.keys().find(|k| !super::macros::valid_name(k)) {
        return Err(format!(
            "macro name {name:?} must be letters, digits and '_'"
        ));
    }
    let mut services = Vec::new();
    for declaration in raw.services.clone().unwrap_or_default() {
        services.push(declaration.resolve(&macros)?);
    }
    let mut ids = BTreeSet::new();
    let mut models = BTreeMap::new();
    for service in &services {
        if !ids.insert(service.id.as_str()) {
            return Err(format!("service {:?} is declared twice", service.id));
        }
        for model in &service.models {
            if let Some(other) = models.insert(model.as_str(), service.id.as_str()) {
                return Err(format!(
                    "model {model:?} is served by both {other:?} and {:?}: a request could not be routed",
                    service.id
                ));
            }
        }
    }
    if let Some(budget) = raw.gpu_memory_budget_gb {
        if !(budget.is_finite() && budget > 0.0) {
            return Err(format!(
                "gpu memory budget must be a positive number of GB, not {budget}"
            ));
        }
    }
    let docker_host = raw.docker_host.clone().filter(|h| !h.is_empty());
    let docker_tls = docker_tls(raw, docker_host.as_deref())?;
    // On another machine's engine, a service is reached on that machine unless it says otherwise.
    if let Some(machine) = docker_host.as_deref().and_then(engine_machine) {
        for service in services.iter_mut().filter(|s| s.url.is_none()) {
            service.url = Some(format!("http://{machine}:{}", service.host_port()));
        }
    }
    Ok(ContainersConfig {
        services,
        gpu_memory_budget_gb: raw.gpu_memory_budget_gb,
        docker_host,
        docker_tls,
        config_file: raw.config.clone(),
    })
}

/// The machine of a `tcp://` (or `https://`) engine address, when it is not this one.
pub(crate) fn engine_machine(host: &str) -> Option<&str> {
    let rest = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("https://"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let machine = match authority.rsplit_once(':') {
        Some((machine, port)) if port.bytes().all(|b| b.is_ascii_digit()) => machine,
        _ => authority,
    };
    let local = ["localhost", "127.0.0.1", "[::1]", ""].contains(&machine);
    (!local).then_some(machine)
}

/// Docker's TLS settings, read as its CLI reads them: any value of `DOCKER_TLS_VERIFY` turns them on, and
/// the files are `ca.pem`, `cert.pem` and `key.pem` in `DOCKER_CERT_PATH` (else `~/.docker`).
fn docker_tls(raw: &RawSettings, host: Option<&str>) -> Result<Option<DockerTls>, String> {
    if raw.docker_tls_verify.as_deref().is_none_or(str::is_empty) {
        return Ok(None);
    }
    let host = host.unwrap_or_default();
    if !(host.starts_with("tcp://") || host.starts_with("https://")) {
        return Err(format!(
            "DOCKER_TLS_VERIFY is set, so DOCKER_HOST must be the engine's tcp:// address (e.g. \
             tcp://gpu-box:2376), not {host:?}"
        ));
    }
    let dir = match &raw.docker_cert_path {
        Some(dir) => dir.clone(),
        None => std::env::var_os("HOME")
            .map(|home| std::path::PathBuf::from(home).join(".docker"))
            .ok_or("DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor HOME is")?,
    };
    let file = |name: &str| {
        let path = dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "DOCKER_CERT_PATH {}: {name} is missing (Docker's TLS files are ca.pem, cert.pem and \
                 key.pem)",
                dir.display()
            ))
        }
    };
    Ok(Some(DockerTls {
        ca: file("ca.pem")?,
        cert: file("cert.pem")?,
        key: file("key.pem")?,
    }))
}

fn backend(raw: &RawSettings, services: &[ServiceConfig]) -> Result<BackendKind, String> {
    match raw.backend.as_deref().unwrap_or("synth") {
        "synth" => Ok(BackendKind::Synth),
        "acestep" => {
            let service = raw.acestep_service.clone();
            let url = acestep_url(raw.acestep_url.clone(), service.as_deref(), services)?;
            reqwest::Url::parse(&url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| format!("ACE-Step URL {url:?} is not an http(s) URL"))?;
            let model = raw
                .acestep_model
                .clone()
                .unwrap_or_else(|| "acestep-v15-sft".into());
            if !matches!(model.as_str(), "acestep-v15-sft" | "acestep-v15-turbo") {
                return Err(format!(
                    "unknown ACE-Step model {model:?} (use acestep-v15-sft or acestep-v15-turbo)"
                ));
            }
            let settings = acestep::Settings {
                url,
                api_key: raw.acestep_api_key.clone().filter(|k| !k.is_empty()),
                model,
                poll_interval: Duration::from_millis(raw.poll_interval_ms.unwrap_or(1000).max(1)),
                repaint_mode: repaint_mode(raw.acestep_repaint_mode.as_deref())?,
            };
            Ok(BackendKind::AceStep(settings, service))
        }
        other => Err(format!("unknown backend {other:?} (use synth or acestep)")),
    }
}

fn repaint_mode(given: Option<&str>) -> Result<acestep::RepaintMode, String> {
    match given.unwrap_or("conservative") {
        "conservative" => Ok(acestep::RepaintMode::Conservative),
        "balanced" => Ok(acestep::RepaintMode::Balanced),
        "aggressive" => Err("ACE-Step repaint mode \"aggressive\" is refused: it regenerates the overlap, so the stream would no longer continue what was heard (use conservative or balanced)".into()),
        other => Err(format!(
            "unknown ACE-Step repaint mode {other:?} (use conservative or balanced)"
        )),
    }
}

/// The given URL, or the managed service's, or the default; never both a URL and a service.
fn acestep_url(
    explicit: Option<String>,
    service: Option<&str>,
    services: &[ServiceConfig],
) -> Result<String, String> {
    match service {
        None => Ok(explicit.unwrap_or_else(|| "http://127.0.0.1:8001".into())),
        Some(_) if explicit.is_some() => {
            Err("give either an ACE-Step URL or an ACE-Step service, not both".into())
        }
        Some(id) => services
            .iter()
            .find(|s| s.id == id)
            .map(ServiceConfig::url)
            .ok_or_else(|| {
                let mut known: Vec<&str> = services.iter().map(|s| s.id.as_str()).collect();
                known.sort_unstable();
                format!(
                    "unknown ACE-Step service {id:?} (configured services: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )
            }),
    }
}
