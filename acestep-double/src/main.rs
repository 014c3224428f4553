//! acestep-double: a stand-in for ACE-Step 1.5's `acestep-api` server, for tests and demos without a GPU.
//! Faults can be set here and changed at run time with `POST /_double/faults`.

use std::process::ExitCode;

use acestep_double::{serve, Faults, Mode, Options};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "acestep-double",
    version,
    about = "A stand-in for ACE-Step 1.5's acestep-api server, with fault injection under /_double/"
)]
struct Cli {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8001)]
    port: u16,
    /// Require this key (as `ai_token` or `Authorization: Bearer`), like ACE-Step's ACESTEP_API_KEY.
    #[arg(long, env = "ACESTEP_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Wait this long before listening, logging progress, like a model server loading its weights.
    #[arg(long, default_value_t = 0)]
    startup_delay_ms: u64,
    /// Which server to speak as: the 2026-02-08 snapshot or today's upstream.
    #[arg(long, value_enum, default_value_t = Mode::February)]
    mode: Mode,
    /// In current mode, how long loading or switching models takes (on the first job or `/v1/init`).
    #[arg(long, default_value_t = 0)]
    model_load_ms: u64,
    /// The LM checkpoints on disk; a lazy load picks the first.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "acestep-5Hz-lm-4B,acestep-5Hz-lm-1.7B"
    )]
    lm_models: Vec<String>,
    #[command(flatten)]
    faults: Faults,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    // Registered before serving: as PID 1 in a container, an unhandled SIGTERM would be ignored.
    let terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        Ok(signal) => signal,
        Err(e) => {
            eprintln!("acestep-double: cannot handle SIGTERM: {e}");
            return ExitCode::FAILURE;
        }
    };
    load(cli.startup_delay_ms).await;
    let listener = match tokio::net::TcpListener::bind((cli.host.as_str(), cli.port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "acestep-double: cannot listen on {}:{}: {e}",
                cli.host, cli.port
            );
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        host = cli.host,
        port = cli.port,
        auth = cli.api_key.is_some(),
        mode = ?cli.mode,
        "ACE-Step double listening"
    );
    let options = Options {
        api_key: cli.api_key,
        faults: cli.faults,
        mode: cli.mode,
        model_load_ms: cli.model_load_ms,
        lm_models: cli
            .lm_models
            .into_iter()
            .filter(|m| !m.is_empty())
            .collect(),
    };
    match serve(listener, options, shutdown(terminate)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("acestep-double: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Pretends to load weights for `ms` milliseconds, logging a line every 100 ms.
async fn load(ms: u64) {
    let steps = ms.div_ceil(100);
    for step in 1..=steps {
        tokio::time::sleep(std::time::Duration::from_millis(ms / steps)).await;
        tracing::info!("loading model weights: {}%", step * 100 / steps);
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown(mut terminate: tokio::signal::unix::Signal) {
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_and_models_come_from_flags_with_february_defaults() {
        let defaults = Cli::try_parse_from(["acestep-double"]).unwrap();
        assert_eq!(defaults.mode, Mode::February);
        assert_eq!(defaults.lm_models, Options::default().lm_models);
        let current = Cli::try_parse_from([
            "acestep-double",
            "--mode",
            "current",
            "--model-load-ms",
            "1500",
            "--lm-models",
            "acestep-5Hz-lm-1.7B",
        ])
        .unwrap();
        assert_eq!(
            (current.mode, current.model_load_ms, current.lm_models),
            (Mode::Current, 1500, vec!["acestep-5Hz-lm-1.7B".to_string()])
        );
        assert!(Cli::try_parse_from(["acestep-double", "--mode", "march"]).is_err());
    }
}
