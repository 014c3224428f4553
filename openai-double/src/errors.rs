//! Errors in OpenAI's `{"error": {...}}` shape, and the JSON body extractor that turns malformed bodies
//! into one.

use axum::extract::rejection::JsonRejection;
use axum::extract::FromRequest;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

pub(crate) struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    /// What llama-server answers while its weights load.
    pub(crate) fn loading() -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: json!({ "error": {
                "message": "Loading model",
                "type": "unavailable_error",
                "code": 503,
            }}),
        }
    }

    /// What vLLM answers when a request's KV cache no longer fits on the GPU.
    pub(crate) fn out_of_memory() -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: json!({ "error": {
                "message": "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 512.00 MiB",
                "type": "server_error",
                "code": 500,
            }}),
        }
    }

    pub(crate) fn model_not_found(model: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            body: json!({ "error": {
                "message": format!("model {model:?} not found"),
                "type": "invalid_request_error",
                "param": "model",
                "code": "model_not_found",
            }}),
        }
    }

    /// A request the server cannot act on: malformed, missing a part, too large.
    pub(crate) fn invalid(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({ "error": {
                "message": message.into(),
                "type": "invalid_request_error",
                "param": null,
                "code": null,
            }}),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        // A missing content type or a wrong field type is as malformed as broken JSON: all are 400s.
        ApiError::invalid(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

/// A JSON body whose rejections are OpenAI-shaped 400s.
#[derive(FromRequest)]
#[from_request(via(Json), rejection(ApiError))]
pub(crate) struct Payload<T>(pub(crate) T);

/// OpenAI's answer to a path it does not have.
pub(crate) async fn unknown_url(method: Method, uri: Uri) -> ApiError {
    ApiError::invalid(
        StatusCode::NOT_FOUND,
        format!("Invalid URL ({method} {})", uri.path()),
    )
}
