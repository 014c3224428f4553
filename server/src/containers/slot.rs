//! What a service's actor publishes about it (state, container, log tail) and what its users record (leases,
//! last use), shared between the actor, the handle and the leases.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use app::api::{ServiceInfo, StartingInfo};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::error::ServiceError;

use super::lifecycle::State;
use crate::config::ServiceConfig;

pub(super) struct Slot {
    /// The declaration the container runs (or will run) with; a reload swaps it only while no container of
    /// it runs, or when the container stays the same (see `actor.rs`).
    config: Mutex<Arc<ServiceConfig>>,
    /// Places for proxied requests under `max_concurrent`, made anew with each declaration.
    places: Mutex<Option<Arc<Semaphore>>>,
    /// No longer declared: nobody new may use it, and its actor ends once its container is gone.
    retired: AtomicBool,
    view: Mutex<View>,
    /// Leases held now.
    in_use: AtomicU32,
    usage: Mutex<Usage>,
    /// Wakes the actor when a lease ends, so the idle timer restarts from then.
    pub released: Notify,
}

#[derive(Clone)]
pub(super) struct View {
    pub state: State,
    pub container_id: Option<String>,
    pub ready_since: Option<Instant>,
    pub starting_since: Option<Instant>,
    /// A starting service counts against the GPU budget once admitted.
    pub admitted: bool,
    pub log_tail: Vec<String>,
    pub error: Option<String>,
}

pub(super) struct Usage {
    /// Idle time counts from here: the last lease's end, or becoming ready.
    pub last_use: Instant,
    /// The last lease's end, for people.
    pub last_used: Option<SystemTime>,
}

/// Holding one keeps the service from being stopped; dropping it marks the service used now.
pub struct Lease {
    slot: Arc<Slot>,
    /// A proxied request's place under `max_concurrent`, given back with the lease.
    place: Option<OwnedSemaphorePermit>,
}

impl Lease {
    /// Where the service answers.
    pub fn url(&self) -> String {
        self.slot.config().url()
    }

    pub(super) fn hold(&mut self, place: Option<OwnedSemaphorePermit>) {
        self.place = place;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        {
            let mut usage = self.slot.usage();
            usage.last_use = Instant::now();
            usage.last_used = Some(SystemTime::now());
        }
        self.slot.in_use.fetch_sub(1, Ordering::SeqCst);
        self.slot.released.notify_one();
    }
}

impl Slot {
    pub fn new(config: ServiceConfig) -> Slot {
        Slot {
            places: Mutex::new(places(&config)),
            config: Mutex::new(Arc::new(config)),
            retired: AtomicBool::new(false),
            view: Mutex::new(View {
                state: State::Stopped,
                container_id: None,
                ready_since: None,
                starting_since: None,
                admitted: false,
                log_tail: Vec::new(),
                error: None,
            }),
            in_use: AtomicU32::new(0),
            usage: Mutex::new(Usage {
                last_use: Instant::now(),
                last_used: None,
            }),
            released: Notify::new(),
        }
    }

    pub fn config(&self) -> Arc<ServiceConfig> {
        self.config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Takes `config` from now on; requests already holding a place keep it.
    pub fn set_config(&self, config: ServiceConfig) {
        *self.places.lock().unwrap_or_else(|e| e.into_inner()) = places(&config);
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    }

    pub fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
    }

    pub fn unretire(&self) {
        self.retired.store(false, Ordering::SeqCst);
    }

    pub fn retired(&self) -> bool {
        self.retired.load(Ordering::SeqCst)
    }

    /// A place for one proxied request, waiting up to the queue timeout for one to free up.
    pub async fn place(&self) -> Result<Option<OwnedSemaphorePermit>, ServiceError> {
        let places = self
            .places
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(places) = places else {
            return Ok(None);
        };
        let config = self.config();
        let wait = Duration::from_secs_f64(config.queue_timeout_seconds);
        match tokio::time::timeout(wait, places.acquire_owned()).await {
            Ok(Ok(place)) => Ok(Some(place)),
            // Closed never happens (the semaphore is never closed); treat it as busy all the same.
            Ok(Err(_)) | Err(_) => Err(ServiceError::Busy {
                service: config.id.clone(),
                limit: config.max_concurrent.unwrap_or(0),
                waited: wait.as_secs_f64(),
            }),
        }
    }

    /// A panicking holder leaves plain data behind, still fine to read.
    pub fn view(&self) -> MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn usage(&self) -> MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn leases(&self) -> u32 {
        self.in_use.load(Ordering::SeqCst)
    }

    /// Only the actor calls this, so a lease can never appear behind its back.
    pub fn lease(self: &Arc<Slot>) -> Lease {
        self.in_use.fetch_add(1, Ordering::SeqCst);
        Lease {
            slot: self.clone(),
            place: None,
        }
    }

    pub fn info(&self) -> ServiceInfo {
        let config = self.config();
        let view = self.view().clone();
        let last_used = self.usage().last_used;
        ServiceInfo {
            id: config.id.clone(),
            image: config.image.clone(),
            models: config.models.clone(),
            max_concurrent: config.max_concurrent,
            state: view.state,
            container_id: view.container_id.clone(),
            url: config.url(),
            uptime_seconds: view
                .ready_since
                .filter(|_| view.state == State::Ready)
                .map(|t| t.elapsed().as_secs_f64()),
            last_used: last_used.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
            in_use: self.leases(),
            idle_ttl_seconds: config.idle_ttl().map(|d| d.as_secs_f64()),
            gpu_memory_gb: config.gpu_memory_gb,
            starting: self.starting(&view),
            error: view.error,
        }
    }

    pub fn starting(&self, view: &View) -> Option<StartingInfo> {
        (view.state == State::Starting).then(|| StartingInfo {
            phase: app::api::StartingPhase::StartingContainer,
            service: self.config().id.clone(),
            elapsed_seconds: view
                .starting_since
                .map_or(0.0, |t| t.elapsed().as_secs_f64()),
            log_tail: view.log_tail.clone(),
        })
    }
}

fn places(config: &ServiceConfig) -> Option<Arc<Semaphore>> {
    config
        .max_concurrent
        .map(|n| Arc::new(Semaphore::new(n as usize)))
}
