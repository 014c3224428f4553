//! `/service/{id}/{*path}`: a reverse proxy to a service, starting it on demand. Bodies stream both ways
//! (an upload is not collected first; server-sent events pass through chunk by chunk), and the service is
//! held (leased) until the reply's last byte is out, so idleness never stops it mid-reply.

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use futures::StreamExt;

use super::{Containers, ServiceError};
use crate::metrics::Served;

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
pub async fn forward(
    containers: &Containers,
    id: &str,
    path: &str,
    request: Request,
    own_token: Option<&str>,
) -> Result<Response, ProxyError> {
    let lease = containers
        .ensure_ready_for_request(id)
        .await
        .map_err(ProxyError::Service)?;
    let (parts, body) = request.into_parts();
    let mut url = format!("{}/{}", lease.url(), path.trim_start_matches('/'));
    if let Some(query) = parts.uri.query() {
        url.push('?');
        url.push_str(query);
    }
    let mut headers = without_hop_by_hop(&parts.headers);
    headers.remove(header::HOST);
    let ours = own_token.map(|t| format!("Bearer {t}"));
    if ours.is_some()
        && headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            == ours.as_deref()
    {
        headers.remove(header::AUTHORIZATION);
    }
    let mut upstream = containers
        .http()
        .request(parts.method, url)
        .headers(headers);
    if body.size_hint().exact() != Some(0) {
        upstream = upstream.body(reqwest::Body::wrap_stream(body.into_data_stream()));
    }
    let reply = upstream
        .send()
        .await
        .map_err(|e| ProxyError::Upstream(format!("service {id:?} did not answer: {e}")))?;
    let status = reply.status();
    let mut headers = without_hop_by_hop(reply.headers());
    // Chunked or not is hyper's business on our side of the connection.
    headers.remove(header::TRANSFER_ENCODING);
    let event_stream = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if event_stream {
        // Tells nginx and similar front proxies not to buffer the events (llama-swap #236).
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
    let metrics = containers.metrics().clone();
    let body = reply.bytes_stream().map(move |chunk| {
        // The lease lives as long as the body: the service stays in use until the last byte.
        let _held = &lease;
        if let Ok(bytes) = &chunk {
            metrics.served(Served::Proxy, bytes.len() as u64);
        }
        chunk
    });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
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
