//! The config file as a user writes it: YAML or TOML to the same settings, templates and macros, and
//! mistakes reported with the file, the line and the key.

use super::cli;
use crate::config::{Config, Gpus, Restart};

/// `text` written to a file named `name` in a fresh folder, loaded as `--config`.
fn load(name: &str, text: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    Config::load(cli(&["--config", path.to_str().unwrap()]), None)
        .map_err(|e| e.replace(&path.display().to_string(), name))
}

const YAML: &str = r#"
gpu_memory_budget_gb: 24
macros:
  MODELS: /srv/models
services:
  - id: qwen
    template: llama.cpp
    model: /models/qwen2.5-7b-instruct-q4_k_m.gguf
    model_dir: ${MODELS}/gguf
    models: [qwen, qwen2.5-7b]
    max_concurrent: 4
    gpu_memory_gb: 6
  - id: embed
    template: infinity
    model: BAAI/bge-small-en-v1.5
    model_dir: ${MODELS}/hf
    restart: immediately
"#;

const TOML: &str = r#"
gpu_memory_budget_gb = 24
macros = { MODELS = "/srv/models" }

[[services]]
id = "qwen"
template = "llama.cpp"
model = "/models/qwen2.5-7b-instruct-q4_k_m.gguf"
model_dir = "${MODELS}/gguf"
models = ["qwen", "qwen2.5-7b"]
max_concurrent = 4
gpu_memory_gb = 6

[[services]]
id = "embed"
template = "infinity"
model = "BAAI/bge-small-en-v1.5"
model_dir = "${MODELS}/hf"
restart = "immediately"
"#;

#[test]
fn yaml_and_toml_give_the_same_config() {
    let yaml = load("tsuzuki.yaml", YAML).unwrap().containers;
    let yml = load("tsuzuki.yml", YAML).unwrap().containers;
    let toml = load("tsuzuki.toml", TOML).unwrap().containers;
    assert_eq!(yaml.services, toml.services);
    assert_eq!(yml.services, toml.services);
    assert_eq!(yaml.gpu_memory_budget_gb, Some(24.0));
    assert_eq!(yaml.services.len(), 2);
}

#[test]
fn a_template_fills_in_the_server_and_every_key_can_be_overridden() {
    let services = load("t.yaml", YAML).unwrap().containers.services;
    let qwen = &services[0];
    assert_eq!(qwen.image, "ghcr.io/ggml-org/llama.cpp:server-cuda");
    assert_eq!(qwen.port, 8080);
    assert_eq!(
        qwen.command.join(" "),
        "--model /models/qwen2.5-7b-instruct-q4_k_m.gguf --alias qwen --host 0.0.0.0 --port 8080 \
         --n-gpu-layers 999"
    );
    assert_eq!(qwen.volumes, ["/srv/models/gguf:/models:ro"]);
    assert_eq!(qwen.gpus, Gpus::All);
    assert_eq!(qwen.models, ["qwen", "qwen2.5-7b"]);
    assert_eq!(qwen.max_concurrent, Some(4));
    let embed = &services[1];
    assert_eq!(embed.port, 7997);
    assert_eq!(
        embed.models,
        ["embed"],
        "an OpenAI server is routed by its id"
    );
    assert_eq!(embed.restart, Restart::Immediately);

    let overridden = load(
        "o.yaml",
        "services:\n  - id: big\n    template: vllm\n    model: Qwen/Qwen2.5-7B\n    model_dir: /hf\n    \
         image: vllm/vllm-openai:v0.9.0\n    port: 9000\n    gpus: [\"1\"]\n    health_path: /ping\n",
    )
    .unwrap()
    .containers
    .services
    .remove(0);
    assert_eq!(overridden.image, "vllm/vllm-openai:v0.9.0");
    assert!(overridden.command.join(" ").contains("--port 9000"));
    assert_eq!(overridden.gpus, Gpus::Devices(vec!["1".into()]));
    assert_eq!(overridden.health_path, "/ping");

    let acestep = load(
        "a.toml",
        "[[services]]\nid = \"acestep\"\ntemplate = \"acestep\"\nmodel_dir = \"/srv/acestep\"\n",
    )
    .unwrap()
    .containers
    .services
    .remove(0);
    assert!(
        acestep.models.is_empty(),
        "ACE-Step is not an OpenAI server"
    );
    assert_eq!(acestep.env["ACESTEP_LM_MODEL_PATH"], "acestep-5Hz-lm-4B");
    assert_eq!(acestep.volumes, ["/srv/acestep:/app/checkpoints"]);
}

#[test]
fn mistakes_name_the_file_the_line_and_the_key() {
    let error = load(
        "bad.yaml",
        "services:\n  - id: a\n    image: x\n    port: eighty\n",
    )
    .unwrap_err();
    assert!(
        error.starts_with("config file bad.yaml, line 4, services[0].port: invalid type"),
        "{error}"
    );
    let error = load(
        "bad.toml",
        "[[services]]\nid = \"a\"\nimage = \"x\"\nport = 80\ncolour = \"red\"\n",
    )
    .unwrap_err();
    assert!(
        error.starts_with(
            "config file bad.toml, line 5, services[0].colour: unknown field `colour`"
        ),
        "{error}"
    );
    let error = load("x.conf", "").unwrap_err();
    assert!(error.contains("use a .toml, .yaml or .yml file"), "{error}");
    assert!(load("empty.yaml", "# nothing yet\n").is_ok());
}

#[test]
fn unknown_macros_templates_and_clashing_models_are_refused() {
    let cases = [
        (
            "services:\n  - id: a\n    template: llama.cpp\n    model: m.gguf\n",
            "service \"a\": volumes[0]: unknown macro ${MODEL_DIR}",
        ),
        (
            "services:\n  - id: a\n    image: x\n    port: 80\n    command: [\"${MODLE}\"]\n",
            "command[0]: unknown macro ${MODLE}",
        ),
        (
            "services:\n  - id: a\n    template: ollama\n",
            "unknown template \"ollama\"",
        ),
        (
            "services:\n  - {id: a, image: x, port: 80, models: [m]}\n  - {id: b, image: x, port: 81, models: [m]}\n",
            "model \"m\" is served by both \"a\" and \"b\"",
        ),
        (
            "services:\n  - {id: a, image: x, port: 80, max_concurrent: 0}\n",
            "max_concurrent must be 1 or more",
        ),
        ("services:\n  - {id: a, port: 80}\n", "image is missing"),
    ];
    for (text, words) in cases {
        let error = load("c.yaml", text).unwrap_err();
        assert!(error.contains(words), "{text}: {error}");
        assert!(!error.contains('\n'), "{error}");
    }
}

#[test]
fn the_schema_describes_the_file() {
    let schema = Config::schema();
    let properties = &schema["properties"];
    assert!(properties["services"].is_object(), "{schema}");
    assert!(properties["gpu_memory_budget_gb"].is_object());
    assert!(
        properties.get("config").is_none(),
        "the file does not name another"
    );
    let text = schema.to_string();
    for key in ["template", "max_concurrent", "model_dir", "restart"] {
        assert!(text.contains(key), "{key} missing from the schema");
    }
}
