//! What `/release_task` is asked for a job: the fields as ACE-Step names them, and how they go as JSON.

use serde_json::{Map, Value};

use super::super::{Job, Task};
use super::server::Generation;
use super::RepaintMode;

/// The parts of the client's state a request depends on.
pub(super) struct Asking<'a> {
    /// The DiT: `acestep-v15-sft` (50 steps, best quality) or `acestep-v15-turbo` (8 steps).
    pub model: &'a str,
    pub lm_model: &'a str,
    pub generation: Generation,
    pub repaint_mode: RepaintMode,
}

/// The text fields of a job.
pub(super) fn fields(job: &Job, asking: &Asking) -> Vec<(&'static str, String)> {
    let sft = asking.model.contains("sft");
    let mut fields = vec![
        ("task_type", job.task.name().to_string()),
        ("prompt", job.prompt.clone()),
        ("lyrics", "[inst]".to_string()),
        ("audio_duration", job.duration_seconds.to_string()),
        ("batch_size", "1".to_string()),
        ("audio_format", asking.generation.audio_format().to_string()),
        ("thinking", "true".to_string()),
        ("lm_backend", "vllm".to_string()),
        ("lm_model_path", asking.lm_model.to_string()),
        ("model", asking.model.to_string()),
        // Per checkpoint training defaults (upstream issue #1114): wrong values cause artefacts.
        ("inference_steps", if sft { "50" } else { "8" }.to_string()),
        ("shift", if sft { "1.0" } else { "3.0" }.to_string()),
    ];
    if sft {
        fields.push(("guidance_scale", "7.0".to_string()));
    }
    if let Task::Repaint {
        repainting_start, ..
    } = &job.task
    {
        fields.push(("repainting_start", repainting_start.to_string()));
        fields.push(("repainting_end", "-1".to_string()));
        // Sent to both servers: one between the two may know these without reporting `models_initialized`,
        // and the February one ignores names it does not know.
        fields.push(("repaint_mode", asking.repaint_mode.as_str().to_string()));
        // A hard mask from the range: `auto` lets the model move the boundary of what it keeps.
        fields.push(("chunk_mask_mode", "explicit".to_string()));
    }
    fields
}

/// The fields as a JSON object. The prompt is free text: "true" or "1e3" must stay text, not become a
/// boolean or a number; the other values go as what they are (ACE-Step coerces either way).
pub(super) fn json_body(fields: Vec<(&'static str, String)>) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(k, v)| {
            let value = if k == "prompt" {
                Value::String(v)
            } else {
                typed(&v)
            };
            (k.to_string(), value)
        })
        .collect()
}

fn typed(value: &str) -> Value {
    serde_json::from_str::<Value>(value)
        .ok()
        .filter(|v| v.is_number() || v.is_boolean())
        .unwrap_or_else(|| Value::String(value.to_string()))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;

    fn job(task: Task) -> Job {
        Job {
            index: 0,
            task,
            prompt: "true".into(),
            previous_prompt: None,
            duration_seconds: 30.0,
            timeline_seconds: 0.0,
            session_seed: 1,
        }
    }

    fn asking(generation: Generation, repaint_mode: RepaintMode) -> Asking<'static> {
        Asking {
            model: "acestep-v15-turbo",
            lm_model: "acestep-5Hz-lm-4B",
            generation,
            repaint_mode,
        }
    }

    fn value<'a>(fields: &'a [(&str, String)], name: &str) -> Option<&'a str> {
        fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_repaint_keeps_its_overlap_with_a_hard_mask_and_the_configured_mode() {
        let repaint = job(Task::Repaint {
            source: PathBuf::from("seed.wav"),
            repainting_start: 15.0,
        });
        for mode in [RepaintMode::Conservative, RepaintMode::Balanced] {
            let sent = fields(&repaint, &asking(Generation::Current, mode));
            assert_eq!(value(&sent, "repainting_start"), Some("15"));
            assert_eq!(value(&sent, "repainting_end"), Some("-1"));
            assert_eq!(value(&sent, "repaint_mode"), Some(mode.as_str()));
            assert_eq!(value(&sent, "chunk_mask_mode"), Some("explicit"));
        }
    }

    #[test]
    fn the_format_follows_the_server_and_text2music_has_no_repaint_fields() {
        for (generation, format) in [(Generation::February, "wav"), (Generation::Current, "flac")] {
            let sent = fields(
                &job(Task::Text2Music),
                &asking(generation, RepaintMode::default()),
            );
            assert_eq!(value(&sent, "audio_format"), Some(format));
            assert_eq!(value(&sent, "repaint_mode"), None);
            assert_eq!(value(&sent, "chunk_mask_mode"), None);
            assert_eq!(value(&sent, "inference_steps"), Some("8"), "turbo");
        }
    }

    #[test]
    fn as_json_only_the_prompt_stays_text() {
        let body = json_body(fields(
            &job(Task::Text2Music),
            &asking(Generation::February, RepaintMode::default()),
        ));
        assert_eq!(body["prompt"], json!("true"));
        assert_eq!(body["thinking"], json!(true));
        assert_eq!(body["audio_duration"].as_f64(), Some(30.0));
        assert_eq!(body["lm_model_path"], json!("acestep-5Hz-lm-4B"));
    }
}
