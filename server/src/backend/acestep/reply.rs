//! ACE-Step's replies as the server sends them: normal ones wrapped in `{"data", "code", "error", ...}`
//! (sometimes HTTP 200 with `code != 200`), errors as FastAPI `{"detail"}` with an HTTP status.

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::super::BackendError;

/// The wrapper around every normal reply.
#[derive(Deserialize)]
struct Wrapped<T> {
    data: Option<T>,
    code: Option<i64>,
    error: Option<Value>,
}

/// The `data` of a wrapped reply, or the error the status or the wrapper carries.
pub(super) async fn unwrap_reply<T: serde::de::DeserializeOwned>(
    reply: reqwest::Response,
) -> Result<T, BackendError> {
    if !reply.status().is_success() {
        let status = reply.status();
        return Err(status_error(status, detail(reply).await));
    }
    let wrapped: Wrapped<T> = reply
        .json()
        .await
        .map_err(|e| BackendError::Protocol(format!("unexpected reply: {e}")))?;
    match (wrapped.code, wrapped.data) {
        (Some(200) | None, Some(data)) => Ok(data),
        (code, _) => Err(BackendError::Failed(format!(
            "code {}: {}",
            code.unwrap_or_default(),
            wrapped
                .error
                .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
                .unwrap_or_default()
        ))),
    }
}

/// The `detail` of a FastAPI error, or the start of whatever else came back.
pub(super) async fn detail(reply: reqwest::Response) -> String {
    let text = reply.text().await.unwrap_or_default();
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

pub(super) fn status_error(status: StatusCode, detail: String) -> BackendError {
    match status {
        StatusCode::TOO_MANY_REQUESTS => BackendError::Busy,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => BackendError::Unauthorized,
        s if s.is_server_error() => BackendError::Failed(format!("HTTP {}: {detail}", s.as_u16())),
        s => BackendError::Protocol(format!("HTTP {}: {detail}", s.as_u16())),
    }
}
