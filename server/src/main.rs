use std::process::ExitCode;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use tsuzuki::config::{Config, RawSettings, Source};
use tsuzuki::containers::Containers;
use tsuzuki::metrics::Metrics;
use tsuzuki::session::{storage::DataDir, Sessions};
use tsuzuki::telemetry::Telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tsuzuki: {message}");
            ExitCode::from(2)
        }
    }
}

#[derive(Parser)]
#[command(
    name = "tsuzuki",
    version,
    about = "Endless focus music: the generation server and web app"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: RawSettings,
}

#[derive(Subcommand)]
enum Command {
    /// Exit 0 when the server these settings describe answers /health (the container image's HEALTHCHECK)
    Healthcheck {
        // Its own copy, so settings work after the word as well as before it.
        #[command(flatten)]
        settings: RawSettings,
    },
}

async fn run() -> Result<(), String> {
    let cli = Cli::parse();
    let (flags, healthcheck) = match cli.command {
        Some(Command::Healthcheck { settings }) => (settings.or(cli.settings), true),
        None => (cli.settings, false),
    };
    let options = leptos::config::get_configuration(None)
        .map_err(|e| format!("leptos configuration: {e}"))?
        .leptos_options;
    let leptos_addr = std::env::var("LEPTOS_SITE_ADDR")
        .ok()
        .and_then(|a| a.parse().ok());
    let source = Source { flags, leptos_addr };
    let config = source.load()?;
    if healthcheck {
        return tsuzuki::healthcheck::check(config.http.addr).await;
    }
    let telemetry = tsuzuki::telemetry::init(&config.telemetry)?;
    let served = serve(config, source, options, &telemetry).await;
    telemetry.shutdown().await;
    served
}

async fn serve(
    config: Config,
    source: Source,
    mut options: leptos::config::LeptosOptions,
    telemetry: &Telemetry,
) -> Result<(), String> {
    options.site_addr = config.http.addr;
    // cargo-leptos tells the server it hashed the site's file names when it starts it; a binary started
    // directly finds out from the hash file cargo-leptos leaves beside it.
    if !options.hash_files {
        options.hash_files = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.join(options.hash_file.as_ref())))
            .is_some_and(|file| file.exists());
    }
    if options.output_name.is_empty() {
        // Built by plain cargo rather than cargo-leptos: use the site name from Cargo.toml.
        options.output_name = "tsuzuki".into();
    }
    let data = DataDir::open(&config.session.data_dir)?;
    let backend = tsuzuki::backend_for(&config)?;
    if tsuzuki::healthcheck::in_container() {
        tracing::info!(addr = %config.http.addr, "in a container: the address it is published on decides who can reach it");
    } else if !config.http.addr.ip().is_loopback() {
        tracing::warn!(addr = %config.http.addr, "listening beyond this machine: anyone who can reach it can control playback");
        if config.http.api_token.is_none() && !config.containers.services.is_empty() {
            tracing::warn!("no api_token is set: anyone who can reach this server can start and stop the model containers");
        }
    }
    let metrics = Arc::new(Metrics::default());
    let containers =
        Containers::from_config(&config, metrics.clone()).map_err(|e| e.to_string())?;
    telemetry.observe(metrics.clone(), containers.clone());
    if let Some(containers) = &containers {
        // Leftovers of a crashed run: adopt the healthy ones, remove the rest. Without Docker, carry on:
        // the error shows when a service is needed.
        match containers.adopt_leftovers().await {
            Ok(done) => {
                for line in done {
                    tracing::info!("leftover container {line}");
                }
            }
            Err(e) => tracing::warn!("model containers: {e}"),
        }
        containers.watch(source);
    }
    let sessions =
        Sessions::with_containers(config.clone(), backend, data, containers.clone(), metrics);
    let app = tsuzuki::web::router(sessions.clone(), options);
    let listener = tokio::net::TcpListener::bind(config.http.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.http.addr))?;
    tracing::info!(
        addr = %config.http.addr,
        backend = ?sessions.status().backend.kind,
        data_dir = %config.session.data_dir.display(),
        "tsuzuki is ready: open http://{}",
        config.http.addr
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    sessions.stop().await;
    if let Some(containers) = containers {
        containers.shutdown().await;
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
    tracing::info!("shutting down");
}
