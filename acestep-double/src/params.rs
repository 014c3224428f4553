//! What `/release_task` and `/query_result` accept: JSON, multipart or url-encoded bodies, read as leniently
//! as ACE-Step's `RequestParser` reads them (aliases, nested `param_obj`/`metas`, numbers and booleans as
//! strings, unparsable values falling back to the default).

use serde::Serialize;
use serde_json::{Map, Value};

/// A request body as ACE-Step sees it: named values, plus the uploaded source audio if any.
#[derive(Debug, Default)]
pub(crate) struct Body {
    /// How it came: `json`, `multipart` or `form` (for the request log).
    pub kind: &'static str,
    pub fields: Map<String, Value>,
    /// The bytes of an `src_audio`/`ctx_audio` file upload.
    pub source: Option<Vec<u8>>,
}

#[derive(Debug, PartialEq)]
pub(crate) enum BodyError {
    NotAnObject,
    InvalidJson,
    Unsupported(String),
    Multipart,
}

impl BodyError {
    pub fn status_and_detail(&self) -> (u16, String) {
        match self {
            BodyError::NotAnObject => (400, "JSON payload must be an object".into()),
            BodyError::InvalidJson => (400, "Invalid JSON body".into()),
            BodyError::Unsupported(content_type) => {
                (415, format!("Unsupported Content-Type: {content_type}"))
            }
            // Starlette's message when a multipart body cannot be parsed.
            BodyError::Multipart => (400, "There was an error parsing the body".into()),
        }
    }
}

/// Reads a non-multipart body by its content type, sniffing it when the type is missing or unknown.
pub(crate) fn parse(content_type: &str, bytes: &[u8]) -> Result<Body, BodyError> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        return json(bytes);
    }
    if essence == "application/x-www-form-urlencoded" {
        return Ok(form(bytes));
    }
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.starts_with('{') || text.starts_with('[') {
        json(bytes)
    } else if text.contains('=') {
        Ok(form(bytes))
    } else {
        Err(BodyError::Unsupported(content_type.to_string()))
    }
}

fn json(bytes: &[u8]) -> Result<Body, BodyError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(fields)) => Ok(Body {
            kind: "json",
            fields,
            source: None,
        }),
        Ok(_) => Err(BodyError::NotAnObject),
        Err(_) => Err(BodyError::InvalidJson),
    }
}

/// Python's `parse_qs` drops blank values, so `prompt=` means "not sent".
fn form(bytes: &[u8]) -> Body {
    let text = String::from_utf8_lossy(bytes);
    let fields = text
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| (percent_decode(key), Value::String(percent_decode(value))))
        .collect();
    Body {
        kind: "form",
        fields,
        source: None,
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters, like Python's `quote(s, safe="")`.
pub(crate) fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                char::from(b).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// The task ids of a `/query_result` body: an array, or a JSON string holding one.
pub(crate) fn task_ids(fields: &Map<String, Value>) -> Vec<String> {
    let list = match fields.get("task_id_list") {
        Some(Value::Array(list)) => list.clone(),
        Some(Value::String(text)) => serde_json::from_str(text).unwrap_or_default(),
        _ => Vec::new(),
    };
    list.iter().map(text_of).collect()
}

/// `str(value)` as Python would print it.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

/// The parameters of one `/release_task` call, after lookup and coercion.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Params {
    pub task_type: String,
    pub prompt: String,
    pub lyrics: String,
    pub audio_duration: Option<f64>,
    pub bpm: Option<i64>,
    pub key_scale: String,
    pub time_signature: String,
    pub batch_size: i64,
    pub audio_format: String,
    pub thinking: bool,
    pub lm_backend: String,
    pub lm_model_path: Option<String>,
    pub model: Option<String>,
    pub inference_steps: i64,
    pub shift: f64,
    pub guidance_scale: f64,
    pub repainting_start: f64,
    pub repainting_end: Option<f64>,
    pub src_audio_path: Option<String>,
    /// The current server's repaint fields (the February one does not read them).
    pub repaint_mode: String,
    pub repaint_strength: f64,
    pub chunk_mask_mode: String,
    /// Accepted and then ignored upstream: mode and strength decide.
    pub repaint_latent_crossfade_frames: i64,
    pub repaint_wav_crossfade_sec: f64,
}

/// Largest batch on a ≥24 GB GPU.
const MAX_BATCH: i64 = 8;

impl Params {
    pub fn from_fields(fields: &Map<String, Value>) -> Params {
        let find = Lookup::new(fields);
        let text = |names: &[&str], default: &str| {
            find.get(names).map_or_else(|| default.to_string(), text_of)
        };
        let optional_text = |names: &[&str]| find.get(names).map(text_of).filter(|s| !s.is_empty());
        Params {
            task_type: text(&["task_type", "taskType"], "text2music"),
            prompt: text(&["prompt", "caption"], ""),
            lyrics: text(&["lyrics"], ""),
            audio_duration: to_float(find.get(&[
                "audio_duration",
                "duration",
                "audioDuration",
                "target_duration",
                "targetDuration",
            ])),
            bpm: to_int(find.get(&["bpm"])),
            key_scale: text(&["key_scale", "keyscale", "keyScale", "key"], ""),
            time_signature: text(&["time_signature", "timesignature", "timeSignature"], ""),
            batch_size: to_int(find.get(&["batch_size"]))
                .unwrap_or(2)
                .clamp(1, MAX_BATCH),
            audio_format: text(&["audio_format"], "mp3").to_ascii_lowercase(),
            thinking: to_bool(find.get(&["thinking"]), false),
            lm_backend: text(&["lm_backend"], "vllm"),
            lm_model_path: optional_text(&["lm_model_path"]),
            model: optional_text(&["model", "model_name", "modelName", "dit_model", "ditModel"]),
            inference_steps: to_int(find.get(&["inference_steps", "inferenceSteps"])).unwrap_or(8),
            shift: to_float(find.get(&["shift"])).unwrap_or(3.0),
            guidance_scale: to_float(find.get(&["guidance_scale", "guidanceScale"])).unwrap_or(7.0),
            repainting_start: to_float(find.get(&["repainting_start"])).unwrap_or(0.0),
            repainting_end: to_float(find.get(&["repainting_end"])),
            src_audio_path: optional_text(&[
                "src_audio_path",
                "ctx_audio_path",
                "sourceAudioPath",
                "srcAudioPath",
                "ctxAudioPath",
            ]),
            repaint_mode: text(&["repaint_mode"], "balanced"),
            repaint_strength: to_float(find.get(&["repaint_strength"])).unwrap_or(0.5),
            chunk_mask_mode: text(&["chunk_mask_mode"], "auto"),
            repaint_latent_crossfade_frames: to_int(find.get(&["repaint_latent_crossfade_frames"]))
                .unwrap_or(10),
            repaint_wav_crossfade_sec: to_float(find.get(&["repaint_wav_crossfade_sec"]))
                .unwrap_or(0.0),
        }
    }

    /// What the current server's request model refuses (its `Literal`s and the strength's 0–1 range).
    pub fn current_server_rejects(&self) -> bool {
        !super::repaint::MODES.contains(&self.repaint_mode.as_str())
            || !matches!(self.chunk_mask_mode.as_str(), "auto" | "explicit")
            || !(0.0..=1.0).contains(&self.repaint_strength)
    }
}

/// RequestParser's search order: the body itself, then `param_obj`, then the first non-empty metadata object.
struct Lookup<'a> {
    layers: Vec<std::borrow::Cow<'a, Map<String, Value>>>,
}

impl<'a> Lookup<'a> {
    fn new(fields: &'a Map<String, Value>) -> Lookup<'a> {
        let object = |value: &Value| match value {
            Value::Object(map) => Some(map.clone()),
            Value::String(text) => serde_json::from_str::<Map<String, Value>>(text).ok(),
            _ => None,
        };
        let mut layers = vec![std::borrow::Cow::Borrowed(fields)];
        layers.extend(
            fields
                .get("param_obj")
                .and_then(object)
                .map(std::borrow::Cow::Owned),
        );
        let metas = ["metas", "meta", "metadata", "user_metadata", "userMetadata"]
            .iter()
            .filter_map(|name| fields.get(*name).and_then(object))
            .find(|map| !map.is_empty());
        layers.extend(metas.map(std::borrow::Cow::Owned));
        Lookup { layers }
    }

    fn get(&self, names: &[&str]) -> Option<&Value> {
        self.layers.iter().find_map(|layer| {
            names
                .iter()
                .find_map(|name| layer.get(*name).filter(|v| !v.is_null()))
        })
    }
}

pub(crate) fn to_bool(value: Option<&Value>, default: bool) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::String(s)) => matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "y" | "on"
        ),
        _ => default,
    }
}

/// Python's `int(value)`: integers and integer strings; floats are truncated; anything else is "not given".
pub(crate) fn to_int(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

pub(crate) fn to_float(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn booleans_accept_python_truthy_words() {
        for word in ["1", "true", "TRUE", "yes", "y", "on", " On "] {
            assert!(to_bool(Some(&json!(word)), false), "{word}");
        }
        for word in ["0", "false", "no", "off", "", "maybe"] {
            assert!(!to_bool(Some(&json!(word)), true), "{word}");
        }
        assert!(to_bool(Some(&json!(1)), false));
        assert!(!to_bool(Some(&json!(0)), true));
        assert!(to_bool(None, true));
        assert!(!to_bool(Some(&Value::Null), false));
    }

    #[test]
    fn numbers_may_come_as_strings_and_garbage_falls_back() {
        assert_eq!(to_int(Some(&json!("4"))), Some(4));
        assert_eq!(to_int(Some(&json!(4.9))), Some(4));
        assert_eq!(to_int(Some(&json!("4.0"))), None);
        assert_eq!(to_int(Some(&json!("many"))), None);
        assert_eq!(to_float(Some(&json!("-1"))), Some(-1.0));
        assert_eq!(to_float(Some(&json!(" 2.5 "))), Some(2.5));
        assert_eq!(to_float(Some(&json!("nan"))), None);
        assert_eq!(to_float(Some(&json!([1]))), None);
    }

    #[test]
    fn defaults_are_acestep_defaults() {
        let p = Params::from_fields(&Map::new());
        assert_eq!(p.task_type, "text2music");
        assert_eq!(p.batch_size, 2);
        assert_eq!(p.audio_format, "mp3");
        assert!(!p.thinking);
        assert_eq!(p.lm_backend, "vllm");
        assert_eq!(
            (p.inference_steps, p.shift, p.guidance_scale),
            (8, 3.0, 7.0)
        );
        assert_eq!(
            (p.repainting_start, p.repainting_end, p.audio_duration),
            (0.0, None, None)
        );
        assert_eq!((&p.model, &p.lm_model_path), (&None, &None));
        assert_eq!(
            (
                p.repaint_mode.as_str(),
                p.repaint_strength,
                p.chunk_mask_mode.as_str()
            ),
            ("balanced", 0.5, "auto")
        );
        assert_eq!(
            (
                p.repaint_latent_crossfade_frames,
                p.repaint_wav_crossfade_sec
            ),
            (10, 0.0)
        );
        assert!(!p.current_server_rejects());
    }

    #[test]
    fn the_current_server_refuses_repaint_fields_out_of_their_range() {
        let rejects = |body: Value| Params::from_fields(&fields(body)).current_server_rejects();
        assert!(!rejects(
            json!({"repaint_mode": "conservative", "chunk_mask_mode": "explicit"})
        ));
        assert!(!rejects(json!({"repaint_strength": "1"})));
        assert!(rejects(json!({"repaint_mode": "Balanced"})));
        assert!(rejects(json!({"chunk_mask_mode": "manual"})));
        assert!(rejects(json!({"repaint_strength": 1.5})));
        assert!(
            !rejects(json!({"repaint_strength": "lots"})),
            "unparsable means the default"
        );
    }

    #[test]
    fn aliases_param_obj_and_metas_are_searched_in_order() {
        let p = Params::from_fields(&fields(json!({
            "caption": "rain",
            "taskType": "repaint",
            "batch_size": "1",
            "thinking": "yes",
            "param_obj": "{\"duration\": \"30\", \"bpm\": 90, \"caption\": \"ignored\"}",
            "metas": {},
            "metadata": {"bpm": 120, "keyscale": "A minor", "timeSignature": 3},
            "ditModel": "acestep-v15-sft",
        })));
        assert_eq!(p.prompt, "rain");
        assert_eq!(p.task_type, "repaint");
        assert_eq!(p.batch_size, 1);
        assert!(p.thinking);
        assert_eq!(p.audio_duration, Some(30.0));
        assert_eq!(p.bpm, Some(90), "param_obj comes before metadata");
        assert_eq!(p.key_scale, "A minor");
        assert_eq!(p.time_signature, "3");
        assert_eq!(p.model.as_deref(), Some("acestep-v15-sft"));
    }

    #[test]
    fn batch_size_is_clamped_to_the_tier() {
        assert_eq!(
            Params::from_fields(&fields(json!({"batch_size": 0}))).batch_size,
            1
        );
        assert_eq!(
            Params::from_fields(&fields(json!({"batch_size": 99}))).batch_size,
            8
        );
    }

    #[test]
    fn bodies_are_read_by_content_type_or_sniffed() {
        let body = parse("application/json; charset=utf-8", br#"{"a": 1}"#).unwrap();
        assert_eq!((body.kind, body.fields["a"].clone()), ("json", json!(1)));
        assert_eq!(
            parse("application/vnd.x+json", b"[1]").unwrap_err(),
            BodyError::NotAnObject
        );
        assert_eq!(
            parse("application/json", b"{nope").unwrap_err(),
            BodyError::InvalidJson
        );
        let body = parse("", br#" {"prompt": "x"}"#).unwrap();
        assert_eq!(body.fields["prompt"], "x");
        let body = parse("text/plain", b"prompt=soft+rain%21&empty=&batch_size=1").unwrap();
        assert_eq!(body.kind, "form");
        assert_eq!(body.fields["prompt"], "soft rain!");
        assert_eq!(body.fields["batch_size"], "1");
        assert!(!body.fields.contains_key("empty"));
        assert_eq!(
            parse("text/plain", b"hello")
                .unwrap_err()
                .status_and_detail(),
            (415, "Unsupported Content-Type: text/plain".into())
        );
    }

    #[test]
    fn percent_coding_matches_python_quote() {
        assert_eq!(
            percent_encode("/tmp/a b/x-1_~.wav"),
            "%2Ftmp%2Fa%20b%2Fx-1_~.wav"
        );
        assert_eq!(percent_decode("%2Ftmp%2fa%20b+c%zz%"), "/tmp/a b c%zz%");
    }

    #[test]
    fn task_ids_come_as_an_array_or_a_json_string() {
        assert_eq!(
            task_ids(&fields(json!({"task_id_list": ["a", "b"]}))),
            ["a", "b"]
        );
        assert_eq!(task_ids(&fields(json!({"task_id_list": "[\"a\"]"}))), ["a"]);
        assert!(task_ids(&fields(json!({"task_id_list": "a"}))).is_empty());
        assert!(task_ids(&Map::new()).is_empty());
    }
}
