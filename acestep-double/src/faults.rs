//! Fault injection and the request log, under `/_double/` (not part of ACE-Step's API, and never faulted).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::params::Params;
use super::repaint::RepaintConfig;
use super::Shared;

/// Faults to inject; the counters apply to the next N jobs or requests and count down.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, clap::Args)]
pub struct Faults {
    /// Extra time every job takes, in milliseconds (progress is spread over it).
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u64,
    /// The next N jobs end with status 2 and no error text.
    #[arg(long, default_value_t = 0)]
    pub fail_next: u32,
    /// The next N release_task calls get 429 "Server busy: queue is full" (leaving an orphan queued record).
    #[arg(long, default_value_t = 0)]
    pub busy_next: u32,
    /// The next N jobs succeed with a single result whose file is "" (ACE-Step's silent output).
    #[arg(long, default_value_t = 0)]
    pub silent_next: u32,
    /// The next N requests (of any kind) have their connection closed without a response.
    #[arg(long, default_value_t = 0)]
    pub drop_next: u32,
    /// The next N jobs vanish: query_result answers as for an unknown id.
    #[arg(long, default_value_t = 0)]
    pub forget_next: u32,
    /// The next N jobs fail the VRAM pre-flight (the current server says why; February gives no text).
    #[arg(long, default_value_t = 0)]
    pub vram_next: u32,
    /// Each job's new material is scaled by its own gain in [-N, 0] dB before normalisation (a model whose
    /// output level wanders), so consecutive files get different normalisation gains.
    #[arg(long, default_value_t = 0.0, value_parser = jitter_db)]
    pub level_jitter_db: f64,
    /// The next N repaints return a kept region that is not the source times a gain (the source at -6 dB
    /// mixed with other music), as a model that changed the overlap.
    #[arg(long, default_value_t = 0)]
    pub alter_overlap_next: u32,
    /// Extra time the next job takes, in milliseconds; set at start, it is the cold first job.
    #[arg(long, default_value_t = 0)]
    pub first_delay_ms: u64,
    /// While the loaded LM is the 4B, every job fails the VRAM pre-flight (switching to a smaller LM helps).
    #[arg(long)]
    pub lm_4b_short_of_vram: bool,
}

/// `level_jitter_db` is a range in dB: finite and not negative.
fn jitter_db(text: &str) -> Result<f64, String> {
    let db: f64 = text.parse().map_err(|e| format!("{e}"))?;
    check_jitter(db)
}

fn check_jitter(db: f64) -> Result<f64, String> {
    if db.is_finite() && db >= 0.0 {
        Ok(db)
    } else {
        Err(format!(
            "level_jitter_db must be a finite number of dB, 0 or more (got {db})"
        ))
    }
}

/// A `POST /_double/faults` body: the fields given replace the current values.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultUpdate {
    delay_ms: Option<u64>,
    fail_next: Option<u32>,
    busy_next: Option<u32>,
    silent_next: Option<u32>,
    drop_next: Option<u32>,
    forget_next: Option<u32>,
    vram_next: Option<u32>,
    level_jitter_db: Option<f64>,
    alter_overlap_next: Option<u32>,
    first_delay_ms: Option<u64>,
    lm_4b_short_of_vram: Option<bool>,
}

impl Faults {
    fn apply(&mut self, update: FaultUpdate) -> Result<(), String> {
        if let Some(db) = update.level_jitter_db {
            self.level_jitter_db = check_jitter(db)?;
        }
        self.delay_ms = update.delay_ms.unwrap_or(self.delay_ms);
        self.fail_next = update.fail_next.unwrap_or(self.fail_next);
        self.busy_next = update.busy_next.unwrap_or(self.busy_next);
        self.silent_next = update.silent_next.unwrap_or(self.silent_next);
        self.drop_next = update.drop_next.unwrap_or(self.drop_next);
        self.forget_next = update.forget_next.unwrap_or(self.forget_next);
        self.vram_next = update.vram_next.unwrap_or(self.vram_next);
        self.alter_overlap_next = update.alter_overlap_next.unwrap_or(self.alter_overlap_next);
        self.first_delay_ms = update.first_delay_ms.unwrap_or(self.first_delay_ms);
        self.lm_4b_short_of_vram = update
            .lm_4b_short_of_vram
            .unwrap_or(self.lm_4b_short_of_vram);
        Ok(())
    }
}

/// Counts a fault down; true if it fires.
pub(crate) fn take(counter: &mut u32) -> bool {
    let fire = *counter > 0;
    *counter = counter.saturating_sub(1);
    fire
}

/// One request as received.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Logged {
    method: String,
    path: String,
    authorization: bool,
    /// The W3C trace context the caller sent, for tests of its propagation.
    #[serde(skip_serializing_if = "Option::is_none")]
    traceparent: Option<String>,
    dropped: bool,
    /// The reply's HTTP status (absent for a dropped request).
    status: Option<u16>,
    pub release_task: Option<ReleaseLog>,
}

/// What a `/release_task` call asked for, after ACE-Step's parsing.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ReleaseLog {
    /// `json`, `multipart` or `form`.
    pub body: &'static str,
    pub ai_token: bool,
    /// Size of the `src_audio`/`ctx_audio` upload, if there was one.
    pub src_audio_bytes: Option<usize>,
    /// What the current server resolves `repaint_mode`/`repaint_strength` to (absent in February).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repaint_config: Option<RepaintConfig>,
    #[serde(flatten)]
    pub params: Params,
}

/// Where a request's log entry is, for its handler to add to.
#[derive(Clone, Copy)]
pub(crate) struct LogIndex(pub usize);

/// Logs every API request and drops the ones `drop_next` asks for.
pub(crate) async fn gate(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with("/_double/") {
        return next.run(request).await;
    }
    let (index, dropped) = {
        let mut inner = shared.lock();
        let dropped = take(&mut inner.faults.drop_next);
        inner.requests.push(Logged {
            method: request.method().to_string(),
            path: request.uri().path().to_string(),
            authorization: request.headers().contains_key(AUTHORIZATION),
            traceparent: request
                .headers()
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            dropped,
            status: None,
            release_task: None,
        });
        (inner.requests.len() - 1, dropped)
    };
    if dropped {
        // A body that fails before its first byte makes hyper abort the connection unanswered, which the
        // client sees as a transport error (as when the server dies mid-request).
        let failing = futures::stream::once(async {
            Err::<Bytes, _>(std::io::Error::other("dropped by the double"))
        });
        return Body::from_stream(failing).into_response();
    }
    request.extensions_mut().insert(LogIndex(index));
    let response = next.run(request).await;
    shared.lock().requests[index].status = Some(response.status().as_u16());
    response
}

pub(crate) async fn get_faults(State(shared): State<Arc<Shared>>) -> Json<Faults> {
    Json(shared.lock().faults.clone())
}

pub(crate) async fn set_faults(
    State(shared): State<Arc<Shared>>,
    Json(update): Json<FaultUpdate>,
) -> Response {
    let mut inner = shared.lock();
    match inner.faults.apply(update) {
        Ok(()) => Json(inner.faults.clone()).into_response(),
        Err(reason) => (StatusCode::BAD_REQUEST, reason).into_response(),
    }
}

pub(crate) async fn requests(State(shared): State<Arc<Shared>>) -> Json<Vec<Logged>> {
    Json(shared.lock().requests.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_replace_only_the_fields_given() {
        let mut faults = Faults {
            delay_ms: 5,
            fail_next: 2,
            ..Faults::default()
        };
        faults
            .apply(serde_json::from_str(r#"{"fail_next": 0, "drop_next": 3}"#).unwrap())
            .unwrap();
        assert_eq!(
            faults,
            Faults {
                delay_ms: 5,
                drop_next: 3,
                ..Faults::default()
            }
        );
        assert!(serde_json::from_str::<FaultUpdate>(r#"{"fial_next": 1}"#).is_err());
    }

    #[test]
    fn the_new_faults_come_from_json_and_from_kebab_case_flags() {
        let mut faults = Faults::default();
        faults
            .apply(
                serde_json::from_str(
                    r#"{"vram_next": 2, "level_jitter_db": 4.5, "alter_overlap_next": 1,
                        "first_delay_ms": 300, "lm_4b_short_of_vram": true}"#,
                )
                .unwrap(),
            )
            .unwrap();
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            faults: Faults,
        }
        let cli = <Cli as clap::Parser>::try_parse_from([
            "double",
            "--vram-next=2",
            "--level-jitter-db=4.5",
            "--alter-overlap-next=1",
            "--first-delay-ms=300",
            "--lm-4b-short-of-vram",
        ])
        .unwrap();
        assert_eq!(cli.faults, faults);
        assert_eq!(
            faults.apply(serde_json::from_str(r#"{"level_jitter_db": -1}"#).unwrap()),
            Err("level_jitter_db must be a finite number of dB, 0 or more (got -1)".into())
        );
        assert_eq!(
            faults.level_jitter_db, 4.5,
            "a refused update changes nothing"
        );
        assert!(<Cli as clap::Parser>::try_parse_from(["double", "--level-jitter-db=-3"]).is_err());
    }

    #[test]
    fn counters_fire_then_run_out() {
        let mut counter = 2;
        assert!(take(&mut counter));
        assert!(take(&mut counter));
        assert!(!take(&mut counter));
        assert_eq!(counter, 0);
    }
}
