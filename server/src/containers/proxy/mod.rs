//! The reverse proxy to a service (`/service/{id}/…`, and `/v1/…` routed by model), starting it on demand.
//! Bodies stream both ways (an upload is not collected first; server-sent events pass through chunk by
//! chunk), and the service is held (leased) until the reply's last byte is out, so idleness never stops it
//! mid-reply. Each call is metered on the way (`meter.rs`) for the usage statistics. A service that answers
//! "CUDA out of memory" is restarted once the idle services have given their memory back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use app::api::ServiceState;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use futures::stream::BoxStream;
use futures::StreamExt;
use tracing::field::Empty;

use super::memory;
use super::{Containers, Lease, ServiceError, LOG_TAIL_LINES};
use crate::metrics::Served;
use crate::telemetry;
use crate::usage::{Call, TokenCounter, Usage};
use meter::Meter;

mod meter;

/// Connection-level headers a proxy must not forward (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// Why a proxied request got no reply from the service.
pub enum ProxyError {
    Service(ServiceError),
    /// The service is up but the request to it failed.
    Upstream(String),
}

/// Forwards `request` to `path` (with its query) on service `id`. `own_token` is this server's API token: a
/// request's `Authorization` carrying it was meant for us and is not passed on.
/// A request's body: streamed through as it arrives, or held whole (then it can be sent again).
pub enum Payload {
    Stream(Body),
    Held(Bytes),
}

/// Forwards a request to `path` (with its query) on service `id`. `own_token` is this server's API token: a
/// request's `Authorization` carrying it was meant for us and is not passed on. An answer that says the GPU
/// is out of memory stops the idle services and restarts this one; a held request is then sent once more.
pub async fn forward(
    containers: &Containers,
    id: &str,
    path: &str,
    parts: Parts,
    payload: Payload,
    own_token: Option<&str>,
) -> Result<Response, ProxyError> {
    let held = match &payload {
        Payload::Held(bytes) => Some(bytes.clone()),
        Payload::Stream(_) => None,
    };
    let to = Target {
        containers,
        id,
        path,
        parts: &parts,
        own_token,
    };
    let lines = match to.send(payload).await?.examine().await {
        Examined::Fine(answer) => return Ok(answer.respond(containers)),
        Examined::OutOfGpuMemory(lines) => lines,
    };
    tracing::warn!(
        service = id,
        "answered out of GPU memory: stopping the idle services and restarting it"
    );
    containers
        .free_gpu_memory(id)
        .await
        .map_err(ProxyError::Service)?;
    let out_of_memory = |logs| {
        ProxyError::Service(ServiceError::OutOfGpuMemory {
            service: id.to_string(),
            logs,
        })
    };
    // A streamed request is gone; its client may send it again to the restarted service.
    let Some(bytes) = held else {
        return Err(out_of_memory(lines));
    };
    match to.send(Payload::Held(bytes)).await?.examine().await {
        Examined::Fine(answer) => Ok(answer.respond(containers)),
        Examined::OutOfGpuMemory(lines) => Err(out_of_memory(lines)),
    }
}

/// Where a request goes, and what it carries besides its body.
struct Target<'a> {
    containers: &'a Containers,
    id: &'a str,
    path: &'a str,
    parts: &'a Parts,
    own_token: Option<&'a str>,
}

impl Target<'_> {
    /// Sends the request once the service is ready (starting it if needed) and has a place for it.
    async fn send(&self, payload: Payload) -> Result<Answer, ProxyError> {
        let (containers, id) = (self.containers, self.id);
        let usage = containers.metrics().usage().clone();
        let cold_start = containers
            .info(id)
            .is_ok_and(|info| info.state != ServiceState::Ready);
        let failed = |usage: &Usage| {
            let call = Call {
                error: true,
                cold_start,
                ..Call::default()
            };
            usage.record(id, &call);
        };
        let lease = match containers.ensure_ready_for_request(id).await {
            Ok(lease) => lease,
            Err(e) => {
                if !matches!(e, ServiceError::UnknownService(_)) {
                    failed(&usage);
                }
                return Err(ProxyError::Service(e));
            }
        };
        let in_flight = usage.begin(id);
        let mut url = format!("{}/{}", lease.url(), self.path.trim_start_matches('/'));
        if let Some(query) = self.parts.uri.query() {
            url.push('?');
            url.push_str(query);
        }
        let mut headers = without_hop_by_hop(&self.parts.headers);
        headers.remove(header::HOST);
        let ours = self.own_token.map(|t| format!("Bearer {t}"));
        if ours.is_some()
            && headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                == ours.as_deref()
        {
            headers.remove(header::AUTHORIZATION);
        }
        let span = tracing::info_span!(
            "proxy",
            otel.name = format!("{} {id}", self.parts.method),
            otel.kind = "client",
            otel.status_code = Empty,
            service = id,
            url.path = self.path,
            http.response.status_code = Empty,
            gen_ai.usage.input_tokens = Empty,
            gen_ai.usage.output_tokens = Empty,
        );
        let mut upstream = containers
            .http()
            .request(self.parts.method.clone(), url)
            .headers(headers);
        let bytes_in = Arc::new(AtomicU64::new(0));
        match payload {
            Payload::Held(bytes) => {
                bytes_in.store(bytes.len() as u64, Ordering::Relaxed);
                if !bytes.is_empty() {
                    upstream = upstream.body(bytes);
                }
            }
            Payload::Stream(body) if body.size_hint().exact() != Some(0) => {
                let counted = bytes_in.clone();
                let body = body.into_data_stream().inspect(move |chunk| {
                    if let Ok(bytes) = chunk {
                        counted.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    }
                });
                upstream = upstream.body(reqwest::Body::wrap_stream(body));
            }
            Payload::Stream(_) => {}
        }
        let sent = Instant::now();
        // Our call's trace context replaces any the client sent: the service's spans nest under this one.
        let reply = match telemetry::send_in(&span, upstream).await {
            Ok(reply) => reply,
            Err(e) => {
                failed(&usage);
                return Err(ProxyError::Upstream(format!(
                    "service {id:?} did not answer: {e}"
                )));
            }
        };
        let status = reply.status();
        let mut headers = without_hop_by_hop(reply.headers());
        // Chunked or not is hyper's business on our side of the connection.
        headers.remove(header::TRANSFER_ENCODING);
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if content_type.starts_with("text/event-stream") {
            // Tells nginx and similar front proxies not to buffer the events (llama-swap #236).
            headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        }
        let meter = Meter {
            usage,
            service: id.to_string(),
            sent,
            bytes_in,
            tokens: TokenCounter::new(&content_type),
            call: Call {
                error: status.is_server_error(),
                cold_start,
                ..Call::default()
            },
            _in_flight: in_flight,
            span,
        };
        Ok(Answer {
            status,
            headers,
            body: reply.bytes_stream().boxed(),
            lease,
            meter,
        })
    }
}

/// A service's answer on its way back.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: BoxStream<'static, Result<Bytes, reqwest::Error>>,
    lease: Lease,
    meter: Meter,
}

enum Examined {
    Fine(Box<Answer>),
    /// The answer's lines, which say the GPU is full.
    OutOfGpuMemory(Vec<String>),
}

/// Error answers longer than this are passed on without a look.
const ERROR_LOOK: usize = 64 * 1024;

impl Answer {
    /// Reads a server error's body (they are short) for an out-of-memory message; any other answer passes
    /// untouched.
    async fn examine(mut self) -> Examined {
        if !self.status.is_server_error() {
            return Examined::Fine(Box::new(self));
        }
        let mut seen: Vec<Result<Bytes, reqwest::Error>> = Vec::new();
        let mut size = 0;
        while size < ERROR_LOOK {
            let Some(chunk) = self.body.next().await else {
                break;
            };
            size += chunk.as_ref().map_or(0, Bytes::len);
            seen.push(chunk);
        }
        let text: String = seen
            .iter()
            .flatten()
            .map(|b| String::from_utf8_lossy(b))
            .collect();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if memory::out_of_gpu_memory(&lines) {
            for chunk in &seen {
                self.meter.passed(chunk);
            }
            let keep = lines.len().saturating_sub(LOG_TAIL_LINES);
            return Examined::OutOfGpuMemory(lines[keep..].to_vec());
        }
        self.body = futures::stream::iter(seen).chain(self.body).boxed();
        Examined::Fine(Box::new(self))
    }

    fn respond(self: Box<Self>, containers: &Containers) -> Response {
        let Answer {
            status,
            headers,
            body,
            lease,
            mut meter,
        } = *self;
        let metrics = containers.metrics().clone();
        let body = body.map(move |chunk| {
            // The lease lives as long as the body: the service stays in use until the last byte.
            let _held = &lease;
            meter.passed(&chunk);
            if let Ok(bytes) = &chunk {
                metrics.served(Served::Proxy, bytes.len() as u64);
            }
            chunk
        });
        let mut response = Response::new(Body::from_stream(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }
}

fn without_hop_by_hop(headers: &HeaderMap) -> HeaderMap {
    let mut kept = headers.clone();
    // Headers named in `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        kept.remove(name);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_named_in_connection_are_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-private"),
        );
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        let kept = without_hop_by_hop(&headers);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[header::ACCEPT], "text/event-stream");
    }
}
