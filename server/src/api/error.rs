//! Every API error is `{"error": {"code", "message"}}` with a fitting status code.

use app::api::{ErrorBody, ErrorDetail};
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::containers::proxy::ProxyError;
use crate::containers::ServiceError;
use crate::session::SessionError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds, for `Retry-After` on a 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.into(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        let (status, code) = match &rejection {
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "not_json")
            }
            JsonRejection::BytesRejection(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            _ => (StatusCode::BAD_REQUEST, "bad_request"),
        };
        ApiError::new(status, code, rejection.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> ApiError {
        ApiError::new(rejection.status(), "body_too_large", rejection.body_text())
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> ApiError {
        let (status, code) = match &error {
            SessionError::NoSession => (StatusCode::CONFLICT, "no_session"),
            SessionError::Gone(_) => (StatusCode::GONE, "segment_deleted"),
            SessionError::Missing(_) | SessionError::NothingYet => {
                (StatusCode::NOT_FOUND, "no_such_segment")
            }
            SessionError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage"),
        };
        ApiError::new(status, code, error.to_string())
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        let (status, code) = match &error {
            ServiceError::UnknownService(_) => (StatusCode::NOT_FOUND, "no_such_service"),
            ServiceError::NoContainer(_) => (StatusCode::NOT_FOUND, "no_container"),
            ServiceError::InUse { .. } => (StatusCode::CONFLICT, "service_in_use"),
            ServiceError::Busy { .. } => {
                let mut busy =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "busy", error.to_string());
                // Its queue was full for the whole queue timeout: a moment later a place may be free.
                busy.retry_after = Some(1);
                return busy;
            }
            ServiceError::NoGpuRoom(_) | ServiceError::OutOfGpuMemory { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "gpu_memory")
            }
            ServiceError::EngineUnreachable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "engine_unreachable")
            }
            ServiceError::ImageMissing { .. } => (StatusCode::SERVICE_UNAVAILABLE, "image_missing"),
            ServiceError::GpuUnavailable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "gpu_unavailable")
            }
            _ => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
        };
        ApiError::new(status, code, error.to_string())
    }
}

impl From<ProxyError> for ApiError {
    fn from(error: ProxyError) -> ApiError {
        match error {
            ProxyError::Service(e) => e.into(),
            ProxyError::Upstream(message) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "bad_gateway", message)
            }
        }
    }
}
