//! The `POST /v1/init` body as pydantic's `InitModelRequest` reads it: `model`, `slot` (1–3), `init_llm`,
//! `lm_model_path`, all optional, unknown fields ignored, lax coercion of strings; anything else a 422.

use serde_json::{Map, Value};

use super::validation::{Invalid, Violation};

#[derive(Debug, Default, PartialEq)]
pub(crate) struct InitRequest {
    pub model: Option<String>,
    pub slot: Option<u8>,
    pub init_llm: bool,
    pub lm_model_path: Option<String>,
}

pub(crate) fn parse(bytes: &[u8]) -> Result<InitRequest, Invalid> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Invalid::of(vec![Violation::new(
            "missing",
            &["body"],
            "Field required",
            Value::Null,
        )]));
    }
    let body = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(body)) => body,
        Ok(other) => {
            return Err(Invalid::of(vec![Violation::new(
                "model_attributes_type",
                &["body"],
                "Input should be a valid dictionary or object to extract fields from",
                other,
            )]))
        }
        Err(_) => {
            return Err(Invalid::of(vec![Violation::new(
                "json_invalid",
                &["body"],
                "JSON decode error",
                Value::Object(Map::new()),
            )]))
        }
    };
    let mut errors = Vec::new();
    let request = InitRequest {
        model: text(&body, "model", &mut errors),
        slot: slot(&body, &mut errors),
        init_llm: flag(&body, &mut errors),
        lm_model_path: text(&body, "lm_model_path", &mut errors),
    };
    if errors.is_empty() {
        Ok(request)
    } else {
        Err(Invalid::of(errors))
    }
}

fn text(body: &Map<String, Value>, name: &str, errors: &mut Vec<Violation>) -> Option<String> {
    match body.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            errors.push(Violation::new(
                "string_type",
                &["body", name],
                "Input should be a valid string",
                other.clone(),
            ));
            None
        }
    }
}

fn slot(body: &Map<String, Value>, errors: &mut Vec<Violation>) -> Option<u8> {
    let value = body.get("slot").filter(|v| !v.is_null())?;
    let number = match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let violation = |r#type, msg| Violation::new(r#type, &["body", "slot"], msg, value.clone());
    match number {
        None => errors.push(violation(
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
        )),
        Some(n) if n < 1 => errors.push(violation(
            "greater_than_equal",
            "Input should be greater than or equal to 1",
        )),
        Some(n) if n > 3 => errors.push(violation(
            "less_than_equal",
            "Input should be less than or equal to 3",
        )),
        Some(n) => return Some(n as u8),
    }
    None
}

/// Pydantic's lax booleans; `init_llm` defaults to false but may not be null.
fn flag(body: &Map<String, Value>, errors: &mut Vec<Violation>) -> bool {
    let Some(value) = body.get("init_llm") else {
        return false;
    };
    let parsed = match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Some(false),
            Some(1.0) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
            "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.unwrap_or_else(|| {
        errors.push(Violation::new(
            "bool_parsing",
            &["body", "init_llm"],
            "Input should be a valid boolean, unable to interpret input",
            value.clone(),
        ));
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, to_value};

    #[test]
    fn fields_are_optional_and_strings_are_coerced() {
        assert_eq!(parse(b"{}").unwrap(), InitRequest::default());
        let request = parse(
            br#"{"model": "acestep-v15-sft", "slot": "2", "init_llm": "yes",
                 "lm_model_path": "acestep-5Hz-lm-1.7B", "extra": 1}"#,
        )
        .unwrap();
        assert_eq!(
            request,
            InitRequest {
                model: Some("acestep-v15-sft".into()),
                slot: Some(2),
                init_llm: true,
                lm_model_path: Some("acestep-5Hz-lm-1.7B".into()),
            }
        );
        assert_eq!(
            parse(br#"{"slot": 1.0, "model": null}"#).unwrap().slot,
            Some(1)
        );
    }

    #[test]
    fn bad_bodies_get_one_entry_per_field() {
        let invalid =
            to_value(parse(br#"{"slot": 0, "init_llm": "maybe", "model": 5}"#).unwrap_err())
                .unwrap();
        let types: Vec<&Value> = invalid["detail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| &v["type"])
            .collect();
        assert_eq!(
            types,
            [
                &json!("string_type"),
                &json!("greater_than_equal"),
                &json!("bool_parsing")
            ]
        );
        assert_eq!(invalid["detail"][1]["loc"], json!(["body", "slot"]));
        assert_eq!(
            to_value(parse(b"[1]").unwrap_err()).unwrap()["detail"][0]["type"],
            "model_attributes_type"
        );
        assert_eq!(
            to_value(parse(b"{nope").unwrap_err()).unwrap()["detail"][0]["type"],
            "json_invalid"
        );
        assert_eq!(
            to_value(parse(b"").unwrap_err()).unwrap()["detail"][0]["type"],
            "missing"
        );
        assert!(parse(br#"{"slot": 4}"#).is_err());
        assert!(parse(br#"{"init_llm": null}"#).is_err());
    }
}
