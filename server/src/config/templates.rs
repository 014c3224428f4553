//! Ready-made declarations per kind of model server (`template = "llama.cpp"` and so on): the image, port,
//! health path, command, volumes and GPU defaults that server needs, written with macros so that a service
//! names little more than its model. Every key a template fills can still be set by the service itself.

/// What a template fills in; the service's own keys win.
#[derive(Debug)]
pub(super) struct Template {
    pub name: &'static str,
    pub image: &'static str,
    pub port: u16,
    pub health_path: &'static str,
    /// Arguments to the image's own entrypoint.
    pub command: &'static [&'static str],
    pub env: &'static [(&'static str, &'static str)],
    pub volumes: &'static [&'static str],
    pub gpus_all: bool,
    pub startup_timeout_seconds: f64,
    /// Speaks OpenAI's API: its `id` is a model name for `/v1/*` unless `models` says otherwise.
    pub openai: bool,
}

/// Every template, in the order the docs list them.
pub(super) const TEMPLATES: [Template; 5] = [
    // ggml-org's server image: the entrypoint is llama-server; `/health` answers 503 while it loads.
    Template {
        name: "llama.cpp",
        image: "ghcr.io/ggml-org/llama.cpp:server-cuda",
        port: 8080,
        health_path: "/health",
        command: &[
            "--model",
            "${MODEL}",
            "--alias",
            "${ID}",
            "--host",
            "0.0.0.0",
            "--port",
            "${PORT}",
            "--n-gpu-layers",
            "999",
        ],
        env: &[],
        volumes: &["${MODEL_DIR}:/models:ro"],
        gpus_all: true,
        startup_timeout_seconds: 600.0,
        openai: true,
    },
    // The entrypoint is the OpenAI-compatible server; the Hugging Face cache is kept on the host, since the
    // first start downloads the weights.
    Template {
        name: "vllm",
        image: "vllm/vllm-openai:latest",
        port: 8000,
        health_path: "/health",
        command: &[
            "--model",
            "${MODEL}",
            "--served-model-name",
            "${ID}",
            "--host",
            "0.0.0.0",
            "--port",
            "${PORT}",
        ],
        env: &[],
        volumes: &["${MODEL_DIR}:/root/.cache/huggingface"],
        gpus_all: true,
        startup_timeout_seconds: 1200.0,
        openai: true,
    },
    // Embeddings and reranking; the entrypoint is `infinity_emb`.
    Template {
        name: "infinity",
        image: "michaelf34/infinity:latest",
        port: 7997,
        health_path: "/health",
        command: &[
            "v2",
            "--model-id",
            "${MODEL}",
            "--served-model-name",
            "${ID}",
            "--port",
            "${PORT}",
        ],
        env: &[],
        volumes: &["${MODEL_DIR}:/app/.cache"],
        gpus_all: true,
        startup_timeout_seconds: 600.0,
        openai: true,
    },
    // The coding assistant's server; its data folder holds the downloaded models.
    Template {
        name: "tabby",
        image: "tabbyml/tabby:latest",
        port: 8080,
        health_path: "/v1/health",
        command: &[
            "serve", "--model", "${MODEL}", "--device", "cuda", "--port", "${PORT}",
        ],
        env: &[],
        volumes: &["${MODEL_DIR}:/data"],
        gpus_all: true,
        startup_timeout_seconds: 900.0,
        openai: true,
    },
    // ACE-Step 1.5 for the music sessions: the image's own command runs its API server on 8001. The first
    // start downloads tens of GB of checkpoints before it listens.
    Template {
        name: "acestep",
        image: "ghcr.io/ace-step/ace-step-1.5:latest",
        port: 8001,
        health_path: "/health",
        command: &[],
        env: &[
            ("ACESTEP_CONFIG_PATH", "acestep-v15-sft"),
            ("ACESTEP_LM_MODEL_PATH", "acestep-5Hz-lm-4B"),
            ("ACESTEP_LM_BACKEND", "vllm"),
            ("ACESTEP_INIT_LLM", "true"),
        ],
        volumes: &["${MODEL_DIR}:/app/checkpoints"],
        gpus_all: true,
        startup_timeout_seconds: 1800.0,
        openai: false,
    },
];

/// The template called `name`, or an error listing the known ones.
pub(super) fn find(name: &str) -> Result<&'static Template, String> {
    TEMPLATES.iter().find(|t| t.name == name).ok_or_else(|| {
        let known: Vec<&str> = TEMPLATES.iter().map(|t| t.name).collect();
        format!("unknown template {name:?} (use {})", known.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_found_by_name_and_a_typo_lists_them() {
        assert_eq!(find("vllm").unwrap().port, 8000);
        assert_eq!(
            find("llamacpp").unwrap_err(),
            "unknown template \"llamacpp\" (use llama.cpp, vllm, infinity, tabby, acestep)"
        );
    }
}
