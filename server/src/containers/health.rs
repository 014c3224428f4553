//! Is the container healthy: during a start, its health endpoint is polled until it answers; once ready,
//! the engine is asked now and then whether it still runs.

use std::time::{Duration, Instant};

use super::engine::ContainerEngine;
use super::error::{exit_text, lines_text, ServiceError};
use super::slot::Slot;
use super::LOG_TAIL_LINES;

/// Polls the health endpoint until it answers 2xx, the container exits, or the startup timeout passes.
/// Polls fast at first (a warm start answers in well under a second), then backs off. The log tail shown
/// while the service loads is refreshed on the way.
pub(super) async fn wait_healthy(
    slot: &Slot,
    engine: &dyn ContainerEngine,
    http: &reqwest::Client,
    id: &str,
    began: Instant,
) -> Result<(), ServiceError> {
    let config = slot.config();
    let url = format!("{}{}", config.url(), config.health_path);
    let deadline = began + config.startup_timeout();
    let mut last_logs = Instant::now();
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let answer = http
            .get(&url)
            .timeout(remaining.clamp(Duration::from_millis(1), Duration::from_secs(5)))
            .send()
            .await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        let logs = || engine.log_tail(id, LOG_TAIL_LINES);
        match engine.inspect(id).await? {
            Some(found) if found.running => {}
            found => {
                return Err(ServiceError::ExitedDuringStart {
                    service: config.id.clone(),
                    code: found.and_then(|f| f.exit_code),
                    logs: logs().await,
                })
            }
        }
        if Instant::now() >= deadline {
            return Err(ServiceError::HealthTimeout {
                service: config.id.clone(),
                url,
                seconds: config.startup_timeout_seconds,
                logs: logs().await,
            });
        }
        if last_logs.elapsed() >= Duration::from_millis(500) {
            last_logs = Instant::now();
            // More lines than shown: the probes among them are left out.
            let lines = engine.log_tail(id, LOG_TAIL_LINES * 8).await;
            let mut tail = without_probes(lines, &config.health_path);
            tail.drain(..tail.len().saturating_sub(LOG_TAIL_LINES));
            slot.view().log_tail = tail;
        }
        let interval = match began.elapsed().as_secs() {
            0..=2 => Duration::from_millis(25),
            3..=29 => Duration::from_millis(250),
            _ => Duration::from_secs(1),
        };
        tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

/// The lines a loading server logged, less the access-log lines of our own health checks (uvicorn logs
/// each one, as does the test double): they would hide what the server says about its progress.
fn without_probes(lines: Vec<String>, health_path: &str) -> Vec<String> {
    let probe = format!("GET {health_path}");
    lines
        .into_iter()
        .filter(|line| {
            !line.find(&probe).is_some_and(|at| {
                !line[at + probe.len()..].starts_with(|c: char| c == '/' || c.is_alphanumeric())
            })
        })
        .collect()
}

/// `Some(why)` if the ready container `id` of `service` died (it is then removed); `None` while it runs, or
/// when the engine cannot be reached (the next check looks again).
pub(super) async fn died(engine: &dyn ContainerEngine, id: &str, service: &str) -> Option<String> {
    match engine.inspect(id).await {
        Ok(Some(found)) if found.running => None,
        Ok(found) => {
            let logs = engine.log_tail(id, LOG_TAIL_LINES).await;
            let _ = engine.remove(id).await;
            Some(format!(
                "the {service} container exited on its own ({}){}",
                exit_text(&found.and_then(|f| f.exit_code)),
                lines_text(&logs)
            ))
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::without_probes;

    #[test]
    fn the_progress_shown_leaves_out_our_own_health_checks() {
        let lines = [
            "loading model: 40%",
            r#"INFO:     127.0.0.1:51234 - "GET /health HTTP/1.1" 503 Service Unavailable"#,
            "request GET /health",
            "request GET /healthz/deep",
            "Loading safetensors checkpoint shards: 2/4",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            without_probes(lines, "/health"),
            [
                "loading model: 40%",
                "request GET /healthz/deep",
                "Loading safetensors checkpoint shards: 2/4"
            ]
        );
    }
}
