//! Model containers: the services declared in the config file, started on demand, watched while they load,
//! stopped when idle. Each service is driven by ONE actor task that owns its state and takes requests over
//! a channel (like llama-swap's single-writer run loop with `EnsureReady`), so start, stop, idle expiry and
//! crash detection cannot race: they are handled one at a time, in order. A pure function
//! (`lifecycle::step`) decides what each event means; the actor only carries out its effects. Users hold
//! a [`Lease`] while they use a service; a service with a lease (or a parked request) is never stopped.
//!
//! - `handle.rs`: [`Containers`], the shared handle; `manager.rs`: what the handles share (the services
//!   declared now, GPU admission as it is carried out); `reload.rs`: a new config applied, and watched for;
//!   `inspect.rs`: a container and its logs.
//! - `actor.rs`: the per-service run loop; `lifecycle.rs`: its states and decisions.
//! - `start.rs` and `health.rs`: the start procedure and the health and liveness checks.
//! - `admission.rs`: the GPU budget as pure decisions.
//! - `engine.rs`: what the lifecycle needs from a container engine; `docker.rs`: that over bollard;
//!   `labels.rs`: how our containers are marked.

mod actor;
mod admission;
mod docker;
mod engine;
mod error;
mod handle;
mod health;
mod inspect;
mod labels;
pub(crate) mod lifecycle;
mod manager;
mod memory;
pub(crate) mod proxy;
mod reload;
mod service;
mod slot;
mod start;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub use docker::container_body;
pub use error::{ServiceError, SetupError};
pub use handle::Containers;
pub use reload::ReloadError;
pub use slot::Lease;

/// Log lines kept of a container: while it loads, when it fails, and when asked for.
const LOG_TAIL_LINES: usize = 12;
