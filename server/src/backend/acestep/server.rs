//! Which ACE-Step server we talk to and whether its models are loaded, read from what it reports:
//! the February snapshot's `/health` is static (it loads before it listens); the current one's carries
//! `models_initialized` and loads lazily (§9.2 of the reference).

use serde_json::Value;

use super::super::BackendError;

/// The two servers the client speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Generation {
    /// The 2026-02-08 snapshot: WAV out, models loaded before the port opens, no `/v1/init`.
    February,
    /// Today's upstream: FLAC out, lazy loading, `/v1/init`, the VRAM pre-flight.
    Current,
}

impl Generation {
    /// The lossless container to ask for (a lossy one would change the overlap that was heard): FLAC
    /// from the current server, about half the bytes; the February one keeps the WAV it was proven with.
    pub(super) fn audio_format(self) -> &'static str {
        match self {
            Generation::February => "wav",
            Generation::Current => "flac",
        }
    }
}

/// What `/health` says.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Health {
    pub generation: Generation,
    /// The DiT and, because every text2music job thinks, the LM are loaded.
    pub ready: bool,
    pub loaded_lm_model: Option<String>,
}

/// Reads the (unwrapped) `/health` data.
pub(super) fn health(data: &Value) -> Result<Health, BackendError> {
    match data["status"].as_str() {
        Some("ok") => {}
        other => return Err(BackendError::Protocol(format!("health status {other:?}"))),
    }
    let Some(models) = data.get("models_initialized") else {
        return Ok(Health {
            generation: Generation::February,
            ready: true,
            loaded_lm_model: None,
        });
    };
    let flag = |name: &str, value: &Value| {
        value.as_bool().ok_or_else(|| {
            BackendError::Protocol(format!("health {name} is {value}, not a boolean"))
        })
    };
    let models = flag("models_initialized", models)?;
    let llm = flag(
        "llm_initialized",
        data.get("llm_initialized").unwrap_or(&Value::Bool(false)),
    )?;
    Ok(Health {
        generation: Generation::Current,
        ready: models && llm,
        loaded_lm_model: data["loaded_lm_model"].as_str().map(str::to_string),
    })
}

/// The LM names in a model inventory (`lm_models: [{"name", "is_loaded"}]`); `None` when the answer has
/// no such list (the February server, or the OpenRouter listing that shadows `/v1/models` upstream).
pub(super) fn lm_models(data: &Value) -> Option<Vec<String>> {
    let list = data.get("lm_models")?.as_array()?;
    Some(
        list.iter()
            .filter_map(|entry| entry["name"].as_str().or_else(|| entry.as_str()))
            .map(str::to_string)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_static_health_is_the_february_server_and_ready() {
        let h =
            health(&json!({"status": "ok", "service": "ACE-Step API", "version": "1.0"})).unwrap();
        assert_eq!(h.generation, Generation::February);
        assert!(h.ready, "it loads before it listens");
        assert_eq!(h.generation.audio_format(), "wav");
    }

    #[test]
    fn the_current_server_is_ready_only_with_the_models_and_the_lm() {
        let body = |models: bool, llm: bool| {
            json!({"status": "ok", "models_initialized": models, "llm_initialized": llm,
                   "loaded_model": null, "loaded_lm_model": if llm { json!("acestep-5Hz-lm-4B") } else { json!(null) }})
        };
        for (models, llm, ready) in [
            (false, false, false),
            (true, false, false),
            (false, true, false),
            (true, true, true),
        ] {
            let h = health(&body(models, llm)).unwrap();
            assert_eq!(h.generation, Generation::Current);
            assert_eq!(h.ready, ready, "models {models}, llm {llm}");
        }
        let loaded = health(&body(true, true)).unwrap().loaded_lm_model;
        assert_eq!(loaded.as_deref(), Some("acestep-5Hz-lm-4B"));
        assert_eq!(Generation::Current.audio_format(), "flac");
    }

    #[test]
    fn a_bad_health_is_a_protocol_error() {
        for body in [
            json!({"status": "starting"}),
            json!({}),
            json!({"status": "ok", "models_initialized": "yes"}),
        ] {
            assert!(
                matches!(health(&body), Err(BackendError::Protocol(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn lm_names_come_from_the_inventory_and_not_from_other_listings() {
        let inventory = json!({"models": [], "lm_models": [
            {"name": "acestep-5Hz-lm-1.7B", "is_loaded": false},
            {"name": "acestep-5Hz-lm-4B", "is_loaded": false}]});
        assert_eq!(
            lm_models(&inventory),
            Some(vec![
                "acestep-5Hz-lm-1.7B".to_string(),
                "acestep-5Hz-lm-4B".to_string()
            ])
        );
        let openrouter = json!([{"id": "acestep/acestep-v15-turbo"}]);
        assert_eq!(lm_models(&openrouter), None);
    }
}
