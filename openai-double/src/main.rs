//! openai-double: a stand-in for an OpenAI-compatible model server such as llama-server, for container
//! tests. It may run as PID 1 in a FROM-scratch image, so it handles SIGTERM itself.

mod cli;

use std::process::ExitCode;

use cli::Cli;
use openai_double::serve;

#[tokio::main]
async fn main() -> ExitCode {
    // Logs go to stderr: stdout carries the plain progress and request lines tests match.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse_llama(std::env::args_os());
    if let Some(layers) = &cli.n_gpu_layers {
        tracing::info!(
            layers,
            "--n-gpu-layers ignored: there is no GPU to offload to"
        );
    }
    if cli.out_of_memory_now() {
        // What vLLM or a PyTorch server prints when the weights do not fit.
        println!("loading model: 0%");
        eprintln!(
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total \
             capacity of 23.65 GiB of which 1.12 GiB is free."
        );
        return ExitCode::FAILURE;
    }
    // Registered before serving: as PID 1 in a container, an unhandled SIGTERM would be ignored.
    let terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        Ok(signal) => signal,
        Err(e) => {
            eprintln!("openai-double: cannot handle SIGTERM: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind((cli.host.as_str(), cli.port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "openai-double: cannot listen on {}:{}: {e}",
                cli.host, cli.port
            );
            return ExitCode::FAILURE;
        }
    };
    match serve(listener, cli.options(), shutdown(terminate)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openai-double: {e}");
            ExitCode::FAILURE
        }
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
