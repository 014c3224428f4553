//! tsuzuki's server: generates an endless stream of music segments and serves them with the web app.

pub mod api;
pub mod backend;
pub mod config;
pub mod containers;
pub mod encoding;
pub mod gpu;
pub mod healthcheck;
pub mod metrics;
pub mod session;
pub mod telemetry;
pub mod usage;
pub mod web;

use std::sync::Arc;

use backend::{acestep::AceStep, synth::Synth, Backend};
use config::{BackendKind, Config, SAMPLE_RATE};

/// The backend `config` asks for.
pub fn backend_for(config: &Config) -> Result<Arc<dyn Backend>, String> {
    Ok(match &config.backend {
        BackendKind::Synth => Arc::new(Synth::new(SAMPLE_RATE)),
        BackendKind::AceStep(settings, _) => Arc::new(AceStep::new(settings.clone())?),
    })
}
