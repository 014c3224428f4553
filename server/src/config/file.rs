//! The config file, in TOML or YAML by its extension, into the same [`RawSettings`]. A mistake is one line
//! naming the file, the line and the key: `config file a.yaml, line 7, services[1].port: invalid value`.

use std::path::Path;

use serde::de::DeserializeOwned;

/// The settings in the file at `path`; an empty file is all defaults.
pub(super) fn read<T: DeserializeOwned + Default>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    let name = path.display();
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => toml_text(&text).map_err(|e| format!("config file {name}, {e}")),
        Some("yaml" | "yml") => yaml_text(&text).map_err(|e| format!("config file {name}, {e}")),
        _ => Err(format!(
            "config file {name}: use a .toml, .yaml or .yml file (the extension says which)"
        )),
    }
}

fn toml_text<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let deserializer = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let line = e
            .inner()
            .span()
            .map(|span| line_of(text, span.start))
            .unwrap_or(0);
        place(line, &e.path().to_string(), e.inner().message())
    })
}

fn yaml_text<T: DeserializeOwned + Default>(text: &str) -> Result<T, String> {
    // Only comments or nothing: YAML calls that no document, we call it the defaults.
    let empty = text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
    if empty {
        return Ok(T::default());
    }
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let line = e.inner().location().map_or(0, |l| l.line());
        let message = e.inner().to_string();
        // The YAML error ends with its own "at line L column C"; the line is said once, up front.
        let message = match message.rfind(" at line ") {
            Some(at) => message[..at].to_string(),
            None => message,
        };
        // It may also start with the key, which `place` puts there itself.
        let key = e.path().to_string();
        let message = message
            .strip_prefix(&format!("{key}: "))
            .unwrap_or(&message);
        place(line, &key, message)
    })
}

/// `line L, key: message`, leaving out what is not known.
fn place(line: usize, key: &str, message: &str) -> String {
    let mut out = String::new();
    if line > 0 {
        out.push_str(&format!("line {line}, "));
    }
    if key != "." && !key.is_empty() {
        out.push_str(&format!("{key}: "));
    }
    out.push_str(message.trim());
    out
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
