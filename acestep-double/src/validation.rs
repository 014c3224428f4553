//! FastAPI's 422 body for a request its pydantic models refuse: one entry per field in error.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct Invalid {
    detail: Vec<Violation>,
}

#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct Violation {
    r#type: &'static str,
    loc: Vec<Value>,
    msg: &'static str,
    input: Value,
}

impl Violation {
    pub fn new(r#type: &'static str, loc: &[&str], msg: &'static str, input: Value) -> Violation {
        Violation {
            r#type,
            loc: loc.iter().map(|l| Value::from(*l)).collect(),
            msg,
            input,
        }
    }
}

impl Invalid {
    pub fn of(detail: Vec<Violation>) -> Invalid {
        Invalid { detail }
    }

    pub fn missing_query(name: &str) -> Invalid {
        Invalid::of(vec![Violation::new(
            "missing",
            &["query", name],
            "Field required",
            Value::Null,
        )])
    }
}

impl IntoResponse for Invalid {
    fn into_response(self) -> Response {
        (StatusCode::UNPROCESSABLE_ENTITY, Json(self)).into_response()
    }
}
