//! The command line, in llama-server's long flags so a llama.cpp-style command works unchanged; the flags
//! only a real model needs are accepted and ignored.

use std::ffi::OsString;
use std::time::Duration;

use clap::Parser;
use openai_double::Options;

#[derive(Parser)]
#[command(
    name = "openai-double",
    version,
    about = "A stand-in for an OpenAI-compatible model server such as llama-server, for tests"
)]
pub(crate) struct Cli {
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    #[arg(long, default_value_t = 8080)]
    pub(crate) port: u16,
    /// The model ids served; repeat the flag or separate them with commas.
    #[arg(
        short = 'm',
        long = "model",
        value_name = "NAME",
        value_delimiter = ',',
        default_value = "double"
    )]
    models: Vec<String>,
    /// The only model id listed and accepted, whatever `--model` says (as in llama-server).
    #[arg(short = 'a', long, value_name = "NAME")]
    alias: Option<String>,
    /// Accepted for llama-server's sake; there is no GPU to offload to.
    #[arg(long, value_name = "N", alias = "gpu-layers")]
    pub(crate) n_gpu_layers: Option<String>,
    /// How long the pretend model load takes; `/health` answers 503 meanwhile.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    startup_delay_ms: u64,
    /// The pause between streamed chunks.
    #[arg(long, value_name = "MS", default_value_t = 40)]
    chunk_delay_ms: u64,
    /// A fixed reply for every completion, instead of echoing the prompt.
    #[arg(long, value_name = "TEXT")]
    reply: Option<String>,
    /// Fail the model load as a full GPU does: print PyTorch's CUDA out-of-memory error and exit 1.
    #[arg(long)]
    pub(crate) out_of_memory: bool,
    /// Like `--out-of-memory`, but only when FILE does not exist yet (it is created): the first start
    /// fails, the next succeeds, as when memory was freed in between.
    #[arg(long, value_name = "FILE")]
    pub(crate) out_of_memory_once: Option<std::path::PathBuf>,
    /// Load, then answer every model request with a 500 "CUDA out of memory", but only when FILE does not
    /// exist yet (it is created): a restarted server answers normally.
    #[arg(long, value_name = "FILE")]
    answers_out_of_memory_once: Option<std::path::PathBuf>,
}

impl Cli {
    /// Whether this start fails for lack of GPU memory (creating the `--out-of-memory-once` marker).
    pub(crate) fn out_of_memory_now(&self) -> bool {
        if self.out_of_memory {
            return true;
        }
        first_time(self.out_of_memory_once.as_deref())
    }

    /// Parses `args`, reading llama.cpp's multi-letter `-ngl` as `--n-gpu-layers` (clap's short flags are
    /// one letter).
    pub(crate) fn parse_llama(args: impl IntoIterator<Item = OsString>) -> Cli {
        Cli::parse_from(args.into_iter().map(|arg| {
            if arg == "-ngl" {
                "--n-gpu-layers".into()
            } else {
                arg
            }
        }))
    }

    pub(crate) fn options(&self) -> Options {
        let mut models: Vec<String> = match &self.alias {
            Some(alias) => vec![alias.clone()],
            None => self.models.clone(),
        };
        models.retain(|model| !model.is_empty());
        if models.is_empty() {
            models = Options::default().models;
        }
        Options {
            models,
            startup_delay: Duration::from_millis(self.startup_delay_ms),
            chunk_delay: Duration::from_millis(self.chunk_delay_ms),
            reply: self.reply.clone(),
            out_of_memory_answers: first_time(self.answers_out_of_memory_once.as_deref()),
        }
    }
}

/// True (and the marker made) when `marker` is given and does not exist yet.
fn first_time(marker: Option<&std::path::Path>) -> bool {
    marker.is_some_and(|m| !m.exists() && std::fs::write(m, b"tried\n").is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::parse_llama(["openai-double"].iter().chain(args).map(OsString::from))
    }

    #[test]
    fn defaults_are_llama_servers_address_and_one_model() {
        let cli = parse(&[]);
        assert_eq!((cli.host.as_str(), cli.port), ("127.0.0.1", 8080));
        let options = cli.options();
        assert_eq!(options.models, ["double"]);
        assert_eq!(options.chunk_delay, Duration::from_millis(40));
        assert_eq!(options.startup_delay, Duration::ZERO);
        assert_eq!(options.reply, None);
    }

    #[test]
    fn a_llama_cpp_command_line_parses() {
        let cli = parse(&[
            "-m",
            "qwen,llama",
            "--model",
            "phi",
            "-ngl",
            "99",
            "--host",
            "0.0.0.0",
            "--port",
            "9000",
            "--startup-delay-ms",
            "500",
            "--chunk-delay-ms",
            "5",
            "--reply",
            "hi there",
        ]);
        assert_eq!((cli.host.as_str(), cli.port), ("0.0.0.0", 9000));
        assert_eq!(cli.n_gpu_layers.as_deref(), Some("99"));
        let options = cli.options();
        assert_eq!(options.models, ["qwen", "llama", "phi"]);
        assert_eq!(options.startup_delay, Duration::from_millis(500));
        assert_eq!(options.chunk_delay, Duration::from_millis(5));
        assert_eq!(options.reply.as_deref(), Some("hi there"));
    }

    #[test]
    fn an_alias_is_the_only_model_name() {
        let options = parse(&["-m", "/models/q.gguf", "--alias", "q"]).options();
        assert_eq!(options.models, ["q"]);
    }
}
