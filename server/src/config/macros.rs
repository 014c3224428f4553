//! `${NAME}` macros in a service's command, environment, volumes, image and health path: the built-in ones
//! (`${ID}`, `${PORT}`, `${MODEL}`, `${MODEL_DIR}`, `${GPUS}`) and the file's own `macros`. An unknown
//! name is an error rather than text left as it is: a typo would otherwise reach the model server as a
//! literal `${MODLE}` and fail there, far from its cause. `$$` writes a single `$`.

use std::collections::BTreeMap;

/// `text` with every macro replaced by its value in `values`; `what` names the key for the error.
pub(super) fn expand(
    text: &str,
    values: &BTreeMap<String, String>,
    what: &str,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('{') {
            let end = tail
                .find('}')
                .ok_or_else(|| format!("{what}: unterminated macro in {text:?}"))?;
            let name = &tail[..end];
            let value = values
                .get(name)
                .ok_or_else(|| unknown(name, values, what))?;
            out.push_str(value);
            rest = &tail[end + 1..];
        } else {
            // A lone `$` (a shell variable meant for the container, say) stays as written.
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn unknown(name: &str, values: &BTreeMap<String, String>, what: &str) -> String {
    let known: Vec<String> = values.keys().map(|k| format!("${{{k}}}")).collect();
    format!(
        "{what}: unknown macro ${{{name}}} (known here: {})",
        known.join(", ")
    )
}

/// A user macro's name: letters, digits and `_`, as in the built-in ones.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> BTreeMap<String, String> {
        [("PORT", "8080"), ("MODEL", "/models/qwen.gguf")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn macros_are_replaced_and_dollars_escaped() {
        let text = expand("-m ${MODEL} --port ${PORT} $$HOME $1", &values(), "command").unwrap();
        assert_eq!(text, "-m /models/qwen.gguf --port 8080 $HOME $1");
        assert_eq!(expand("plain", &values(), "x").unwrap(), "plain");
    }

    #[test]
    fn an_unknown_or_unterminated_macro_is_an_error_naming_the_key() {
        let error = expand("${MODLE}", &values(), "services[0].command[1]").unwrap_err();
        assert_eq!(
            error,
            "services[0].command[1]: unknown macro ${MODLE} (known here: ${MODEL}, ${PORT})"
        );
        let error = expand("${PORT", &values(), "env.X").unwrap_err();
        assert!(error.contains("unterminated"), "{error}");
    }

    #[test]
    fn macro_names_are_plain_words() {
        assert!(valid_name("HF_HOME_2"));
        assert!(!valid_name(""));
        assert!(!valid_name("a-b"));
    }
}
