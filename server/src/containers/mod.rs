//! Model containers: the services declared in the config file, started on demand, watched while they load,
//! stopped when idle. Each service is driven by ONE actor task that owns its state and takes requests over
//! a channel (like llama-swap's single-writer run loop with `EnsureReady`), so start, stop, idle expiry and
//! crash detection cannot race: they are handled one at a time, in order. Users hold a [`Lease`] while they
//! use a service; a service with a lease (or a parked request) is never stopped.

pub mod docker;
pub mod lifecycle;
pub mod proxy;
mod service;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime};

use app::api::{ContainerInfo, ServiceInfo, ServicesResponse, StartingInfo};
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::config::{Config, ServiceConfig};
use crate::metrics::Metrics;
use docker::{CreateError, Engine, Found};
use lifecycle::{Claim, Effect, Event, Idle, State};

/// Log lines kept while a container loads.
const LOG_TAIL_LINES: usize = 12;
/// How often a ready container is checked for having died on its own.
const LIVENESS_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ServiceError {
    #[error("no service {0:?} is configured")]
    UnknownService(String),
    #[error("the Docker engine at {host} cannot be reached ({detail}); is dockerd running?")]
    EngineUnreachable { host: String, detail: String },
    #[error("image {image} is not on this machine; pull it first: docker pull {image}")]
    ImageMissing { image: String },
    #[error("no NVIDIA GPU runtime available to Docker: {detail} (install the NVIDIA Container Toolkit, or set gpus = \"none\")")]
    GpuUnavailable { detail: String },
    #[error("a container named {name} exists and was not made by this server; remove it (docker rm -f {name}) or rename the service")]
    NameTaken { name: String },
    #[error("the {service} container exited during start ({}){}", exit_text(.code), lines_text(.logs))]
    ExitedDuringStart {
        service: String,
        code: Option<i64>,
        logs: Vec<String>,
    },
    #[error("the {service} container did not answer {url} within {seconds} s{}", lines_text(.logs))]
    HealthTimeout {
        service: String,
        url: String,
        seconds: f64,
        logs: Vec<String>,
    },
    #[error("{0}")]
    NoGpuRoom(String),
    #[error(
        "service {service:?} is in use by {holders} session(s) or request(s); it stops once idle"
    )]
    InUse { service: String, holders: u32 },
    #[error("the start of {0:?} was abandoned: the service was stopped")]
    Abandoned(String),
    #[error("service {0:?} has no container now")]
    NoContainer(String),
    #[error("{0}")]
    Engine(String),
    #[error("the server is shutting down")]
    ShuttingDown,
}

fn exit_text(code: &Option<i64>) -> String {
    code.map_or("it is gone".into(), |c| format!("exit code {c}"))
}

fn lines_text(logs: &[String]) -> String {
    if logs.is_empty() {
        String::new()
    } else {
        format!("; its last lines: {}", logs.join(" | "))
    }
}

impl ServiceError {
    /// Whether trying again without changing anything may help.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ServiceError::EngineUnreachable { .. }
                | ServiceError::HealthTimeout { .. }
                | ServiceError::NoGpuRoom(_)
                | ServiceError::InUse { .. }
                | ServiceError::Abandoned(_)
                | ServiceError::Engine(_)
        )
    }
}

/// The shared handle to every configured service.
#[derive(Clone)]
pub struct Containers {
    manager: Arc<Manager>,
}

struct Manager {
    engine: Arc<Engine>,
    /// Labels this server's containers, so two servers on one engine never take each other's.
    instance: String,
    budget: Option<f64>,
    slots: BTreeMap<String, Arc<Slot>>,
    senders: BTreeMap<String, mpsc::UnboundedSender<Command>>,
    /// Serialises GPU admission: deciding what to evict and claiming the memory happen as one step.
    admission: tokio::sync::Mutex<()>,
    http: reqwest::Client,
    metrics: Arc<Metrics>,
}

/// What the actor publishes about its service, and what users of it record.
struct Slot {
    config: ServiceConfig,
    view: Mutex<View>,
    in_use: AtomicU32,
    usage: Mutex<Usage>,
    /// Wakes the actor when a lease ends, so the idle timer restarts from then.
    released: Notify,
}

#[derive(Clone)]
struct View {
    state: State,
    container_id: Option<String>,
    ready_since: Option<Instant>,
    starting_since: Option<Instant>,
    /// A starting service counts against the GPU budget once admitted.
    admitted: bool,
    log_tail: Vec<String>,
    error: Option<String>,
}

struct Usage {
    /// Idle time counts from here: the last lease's end, or becoming ready.
    last_use: Instant,
    /// The last lease's end, for people.
    last_used: Option<SystemTime>,
}

/// Holding one keeps the service from being stopped; dropping it marks the service used now.
pub struct Lease {
    slot: Arc<Slot>,
}

impl Lease {
    /// Where the service answers.
    pub fn url(&self) -> String {
        self.slot.config.url()
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
    fn view(&self) -> MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn usage(&self) -> MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Only the actor calls this, so a lease can never appear behind its back.
    fn lease(self: &Arc<Slot>) -> Lease {
        self.in_use.fetch_add(1, Ordering::SeqCst);
        Lease { slot: self.clone() }
    }

    fn info(&self) -> ServiceInfo {
        let view = self.view().clone();
        let last_used = self.usage().last_used;
        ServiceInfo {
            id: self.config.id.clone(),
            image: self.config.image.clone(),
            state: view.state,
            container_id: view.container_id.clone(),
            url: self.config.url(),
            uptime_seconds: view
                .ready_since
                .filter(|_| view.state == State::Ready)
                .map(|t| t.elapsed().as_secs_f64()),
            last_used: last_used.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
            in_use: self.in_use.load(Ordering::SeqCst),
            idle_ttl_seconds: self.config.idle_ttl().map(|d| d.as_secs_f64()),
            gpu_memory_gb: self.config.gpu_memory_gb,
            starting: self.starting(&view),
            error: view.error,
        }
    }

    fn starting(&self, view: &View) -> Option<StartingInfo> {
        (view.state == State::Starting).then(|| StartingInfo {
            service: self.config.id.clone(),
            elapsed_seconds: view
                .starting_since
                .map_or(0.0, |t| t.elapsed().as_secs_f64()),
            log_tail: view.log_tail.clone(),
        })
    }
}

enum Command {
    Ensure(oneshot::Sender<Result<Lease, ServiceError>>),
    /// `force` stops even a service in use (server shutdown).
    Stop {
        force: bool,
        reply: oneshot::Sender<Result<(), ServiceError>>,
    },
    /// Take over a healthy-looking container left by a previous run of this server.
    Adopt(Found),
}

impl Containers {
    /// The manager of `config`'s services, or `None` when none are declared. Nothing touches Docker yet.
    pub fn from_config(config: &Config, metrics: Arc<Metrics>) -> Option<Containers> {
        let containers = &config.containers;
        (!containers.services.is_empty()).then(|| {
            Containers::new(
                &containers.services,
                containers.docker_host.clone(),
                containers.gpu_memory_budget_gb,
                &config.session.data_dir,
                metrics,
            )
        })
    }

    /// Spawns one actor per service (needs a Tokio runtime). The instance label is derived from `data_dir`.
    pub fn new(
        services: &[ServiceConfig],
        docker_host: Option<String>,
        budget: Option<f64>,
        data_dir: &Path,
        metrics: Arc<Metrics>,
    ) -> Containers {
        let longest_stop = services
            .iter()
            .map(ServiceConfig::stop_timeout)
            .max()
            .unwrap_or_default();
        let engine = Arc::new(Engine::new(
            docker_host,
            Duration::from_secs(60) + longest_stop,
        ));
        let dir = data_dir
            .canonicalize()
            .unwrap_or_else(|_| data_dir.to_path_buf());
        let instance = format!("{:016x}", service::fnv1a(dir.to_string_lossy().as_bytes()));
        metrics.register_services(services.iter().map(|s| s.id.as_str()));
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        let mut slots = BTreeMap::new();
        let mut receivers = Vec::new();
        let mut senders = BTreeMap::new();
        for config in services {
            let slot = Arc::new(Slot {
                config: config.clone(),
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
            });
            let (tx, rx) = mpsc::unbounded_channel();
            slots.insert(config.id.clone(), slot.clone());
            senders.insert(config.id.clone(), tx);
            receivers.push((slot, rx));
        }
        let manager = Arc::new(Manager {
            engine,
            instance,
            budget,
            slots,
            senders,
            admission: tokio::sync::Mutex::new(()),
            http,
            metrics,
        });
        for (slot, rx) in receivers {
            let actor = Actor {
                slot,
                manager: Arc::downgrade(&manager),
                engine: manager.engine.clone(),
                instance: manager.instance.clone(),
                http: manager.http.clone(),
                metrics: manager.metrics.clone(),
                state: State::Stopped,
                waiters: Vec::new(),
                stop_waiters: Vec::new(),
                work: None,
                probe: None,
                liveness: liveness_timer(),
            };
            tokio::spawn(actor.run(rx));
        }
        Containers { manager }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.manager.metrics
    }

    /// The client the proxy forwards with (no system proxy: services are on loopback).
    pub fn http(&self) -> &reqwest::Client {
        &self.manager.http
    }

    /// The instance label of this server's containers.
    pub fn instance(&self) -> &str {
        &self.manager.instance
    }

    /// Deals with containers a previous run of this server left behind (it crashed or was killed): a running
    /// one made from the same declaration is adopted (it is checked for health like a fresh start), any
    /// other is removed. Returns what was done, for the log; an unreachable engine is not an error here.
    pub async fn adopt_leftovers(&self) -> Result<Vec<String>, ServiceError> {
        let engine = &self.manager.engine;
        let mut done = Vec::new();
        for found in engine.list_ours(&self.manager.instance).await? {
            let slot = found.service().and_then(|s| self.manager.slots.get(s));
            let adoptable = slot.is_some_and(|slot| {
                found.running
                    && found.name == slot.config.container_name()
                    && found.fingerprint() == Some(slot.config.fingerprint().as_str())
            });
            match (slot, adoptable) {
                (Some(slot), true) => {
                    let sender = &self.manager.senders[&slot.config.id];
                    done.push(format!("adopted {} ({})", found.name, short(&found.id)));
                    let _ = sender.send(Command::Adopt(found));
                }
                _ => {
                    engine.remove(&found.id).await?;
                    done.push(format!("removed {} ({})", found.name, short(&found.id)));
                }
            }
        }
        Ok(done)
    }

    fn sender(&self, id: &str) -> Result<&mpsc::UnboundedSender<Command>, ServiceError> {
        self.manager
            .senders
            .get(id)
            .ok_or_else(|| ServiceError::UnknownService(id.to_string()))
    }

    /// Starts the service if needed and waits until it answers its health check; the lease keeps it running.
    pub async fn ensure_ready(&self, id: &str) -> Result<Lease, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.sender(id)?
            .send(Command::Ensure(reply))
            .map_err(|_| ServiceError::ShuttingDown)?;
        answer.await.map_err(|_| ServiceError::ShuttingDown)?
    }

    /// Starts the service and waits until it is ready; its idle time counts from then.
    pub async fn start(&self, id: &str) -> Result<ServiceInfo, ServiceError> {
        drop(self.ensure_ready(id).await?);
        self.info(id)
    }

    /// Stops and removes the service's container, unless it is in use.
    pub async fn stop(&self, id: &str) -> Result<ServiceInfo, ServiceError> {
        self.manager.stop(id, false).await?;
        self.info(id)
    }

    /// Stops every service, in use or not (the server is exiting: give the GPU memory back).
    pub async fn shutdown(&self) {
        let stops = self.manager.slots.keys().map(|id| async move {
            if let Err(e) = self.manager.stop(id, true).await {
                tracing::warn!(service = id, "could not stop at shutdown: {e}");
            }
        });
        futures::future::join_all(stops).await;
    }

    pub fn info(&self, id: &str) -> Result<ServiceInfo, ServiceError> {
        self.manager
            .slots
            .get(id)
            .map(|s| s.info())
            .ok_or_else(|| ServiceError::UnknownService(id.to_string()))
    }

    pub fn list(&self) -> ServicesResponse {
        let services: Vec<ServiceInfo> = self.manager.slots.values().map(|s| s.info()).collect();
        let claims = self.manager.claims(None);
        ServicesResponse {
            services,
            gpu_memory_budget_gb: self.manager.budget,
            gpu_memory_claimed_gb: claims
                .iter()
                .filter(|c| c.state != State::Starting || c.admitted)
                .filter(|c| !matches!(c.state, State::Stopped | State::Failed))
                .map(|c| c.gpu_memory_gb)
                .sum(),
        }
    }

    /// What a loading service shows in the session status.
    pub fn starting(&self, id: &str) -> Option<StartingInfo> {
        let slot = self.manager.slots.get(id)?;
        let view = slot.view().clone();
        slot.starting(&view)
    }

    /// The container of a service (by service id, or by the container's id or its first 12+ characters), as
    /// the engine reports it. Only this server's containers are shown.
    pub async fn container(&self, id: &str) -> Result<ContainerInfo, ServiceError> {
        let slot = self.manager.slots.get(id).or_else(|| {
            (id.len() >= 12)
                .then(|| {
                    self.manager.slots.values().find(|s| {
                        s.view()
                            .container_id
                            .as_deref()
                            .is_some_and(|c| c.starts_with(id))
                    })
                })
                .flatten()
        });
        let missing = || ServiceError::UnknownService(id.to_string());
        let slot = slot.ok_or_else(missing)?;
        let engine = &self.manager.engine;
        let found = engine
            .inspect(&slot.config.container_name())
            .await?
            .filter(|f| f.is_ours(&self.manager.instance))
            .ok_or_else(|| ServiceError::NoContainer(slot.config.id.clone()))?;
        let log_tail = engine.log_tail(&found.id, LOG_TAIL_LINES).await;
        Ok(ContainerInfo {
            service: slot.config.id.clone(),
            id: found.id,
            name: found.name,
            image: found.image,
            status: found.status,
            running: found.running,
            exit_code: found.exit_code,
            started_at: found.started_at,
            finished_at: found.finished_at,
            labels: found.labels,
            log_tail,
        })
    }
}

/// The first 12 characters of a container id, as `docker ps` shows it.
fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

impl Manager {
    async fn stop(&self, id: &str, force: bool) -> Result<(), ServiceError> {
        let sender = self
            .senders
            .get(id)
            .ok_or_else(|| ServiceError::UnknownService(id.to_string()))?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Command::Stop { force, reply })
            .map_err(|_| ServiceError::ShuttingDown)?;
        answer.await.map_err(|_| ServiceError::ShuttingDown)?
    }

    /// Every service but `except` as GPU admission sees it.
    fn claims(&self, except: Option<&str>) -> Vec<Claim> {
        self.slots
            .values()
            .filter(|s| Some(s.config.id.as_str()) != except)
            .map(|s| {
                let view = s.view();
                Claim {
                    id: s.config.id.clone(),
                    state: view.state,
                    admitted: view.admitted,
                    gpu_memory_gb: s.config.gpu_memory_gb,
                    in_use: s.in_use.load(Ordering::SeqCst) > 0,
                    last_use: s.usage().last_use,
                }
            })
            .collect()
    }

    /// Makes room for `slot` in the GPU budget, stopping idle services if needed, and claims it.
    async fn admit(&self, slot: &Slot) -> Result<(), ServiceError> {
        let id = slot.config.id.as_str();
        let _turn = self.admission.lock().await;
        for _ in 0..3 {
            let chosen = lifecycle::make_room(
                id,
                slot.config.gpu_memory_gb,
                self.budget,
                &self.claims(Some(id)),
            )
            .map_err(|no| ServiceError::NoGpuRoom(no.0))?;
            if chosen.is_empty() {
                slot.view().admitted = true;
                return Ok(());
            }
            for other in chosen {
                tracing::info!(
                    service = id,
                    evicting = other,
                    "stopping an idle service to free GPU memory"
                );
                // A refusal means it became busy meanwhile: the next round decides again.
                if let Err(e) = self.stop(&other, false).await {
                    tracing::info!(service = id, other, "not evicted: {e}");
                }
            }
        }
        Err(ServiceError::NoGpuRoom(format!(
            "not enough GPU memory for service {id:?}: the services holding it stayed busy"
        )))
    }
}

/// What a start or a stop in progress ended with.
enum Done {
    /// The container id, and whether this start created it (rather than adopting a running one).
    Started(Result<(String, bool), ServiceError>, Duration),
    Stopped(Result<(), ServiceError>),
}

/// The single task that owns one service's state.
struct Actor {
    slot: Arc<Slot>,
    manager: Weak<Manager>,
    engine: Arc<Engine>,
    instance: String,
    http: reqwest::Client,
    metrics: Arc<Metrics>,
    state: State,
    /// Requests parked until the service is ready.
    waiters: Vec<oneshot::Sender<Result<Lease, ServiceError>>>,
    /// Stop requests parked until the container is gone.
    stop_waiters: Vec<oneshot::Sender<Result<(), ServiceError>>>,
    /// The start or stop in progress.
    work: Option<BoxFuture<'static, Done>>,
    /// A liveness check of the ready container: `Some(reason)` if it died.
    probe: Option<BoxFuture<'static, Option<String>>>,
    liveness: tokio::time::Interval,
}

fn liveness_timer() -> tokio::time::Interval {
    let mut timer = tokio::time::interval(LIVENESS_INTERVAL);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer
}

/// Why the actor woke up.
enum Wake {
    Command(Option<Command>),
    Done(Done),
    Probe(Option<String>),
    Idle,
    Tick,
    Released,
}

async fn poll_some<T>(future: &mut Option<BoxFuture<'static, T>>) -> T {
    match future {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

impl Actor {
    fn id(&self) -> &str {
        &self.slot.config.id
    }

    /// Someone holds a lease or waits for one (a requester who gave up does not count).
    fn in_use(&self) -> bool {
        self.slot.in_use.load(Ordering::SeqCst) > 0 || self.waiters.iter().any(|w| !w.is_closed())
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            let idle = lifecycle::idle(
                self.state,
                self.in_use(),
                self.slot.config.idle_ttl(),
                self.slot.usage().last_use,
                Instant::now(),
            );
            let idle_timer = async {
                match idle {
                    Idle::Keep => std::future::pending().await,
                    Idle::StopNow => {}
                    Idle::CheckAt(at) => tokio::time::sleep_until(at.into()).await,
                }
            };
            let watching = self.state == State::Ready && self.probe.is_none();
            let wake = tokio::select! {
                command = commands.recv() => Wake::Command(command),
                done = poll_some(&mut self.work) => Wake::Done(done),
                died = poll_some(&mut self.probe) => Wake::Probe(died),
                () = idle_timer => Wake::Idle,
                _ = self.liveness.tick(), if watching => Wake::Tick,
                () = self.slot.released.notified() => Wake::Released,
            };
            match wake {
                // Every handle is gone: leave the container as it is (a restarted server adopts it).
                Wake::Command(None) => return,
                Wake::Command(Some(command)) => self.command(command),
                Wake::Done(done) => {
                    self.work = None;
                    self.done(done);
                }
                Wake::Probe(died) => {
                    self.probe = None;
                    if let Some(reason) = died {
                        self.exited(reason);
                    }
                }
                Wake::Idle => {
                    tracing::info!(
                        service = self.id(),
                        "idle for {:?}: stopping",
                        self.slot.config.idle_ttl().unwrap_or_default()
                    );
                    self.stop_asked(false, None);
                }
                Wake::Tick => self.probe = Some(self.liveness()),
                Wake::Released => {}
            }
        }
    }

    fn set_state(&mut self, state: State) {
        self.state = state;
        let mut view = self.slot.view();
        view.state = state;
        if state != State::Starting && state != State::Ready && state != State::Stopping {
            view.admitted = false;
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Ensure(reply) => {
                let (next, effect) = lifecycle::step(self.state, Event::Demand);
                self.set_state(next);
                match effect {
                    Effect::Grant => {
                        let _ = reply.send(Ok(self.slot.lease()));
                    }
                    Effect::BeginStart => {
                        self.waiters.push(reply);
                        self.begin_start(None);
                    }
                    _ => self.waiters.push(reply),
                }
            }
            Command::Stop { force, reply } => self.stop_asked(force, Some(reply)),
            Command::Adopt(found) => {
                if self.state == State::Stopped {
                    let (next, _) = lifecycle::step(self.state, Event::Demand);
                    self.set_state(next);
                    self.begin_start(Some(found));
                }
            }
        }
    }

    fn stop_asked(
        &mut self,
        force: bool,
        reply: Option<oneshot::Sender<Result<(), ServiceError>>>,
    ) {
        let in_use = !force && self.in_use();
        let (next, effect) = lifecycle::step(self.state, Event::StopAsked { in_use });
        self.set_state(next);
        match effect {
            Effect::RefuseStop => {
                let error = ServiceError::InUse {
                    service: self.id().to_string(),
                    holders: self.slot.in_use.load(Ordering::SeqCst)
                        + self.waiters.iter().filter(|w| !w.is_closed()).count() as u32,
                };
                if let Some(reply) = reply {
                    let _ = reply.send(Err(error));
                }
            }
            Effect::StopDone => {
                self.slot.view().error = None;
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(()));
                }
            }
            Effect::BeginStop | Effect::AbandonStartAndStop => {
                if effect == Effect::AbandonStartAndStop {
                    // Dropping the start future abandons it; the stop below removes whatever it created.
                    self.work = None;
                    let error = if force {
                        ServiceError::ShuttingDown
                    } else {
                        ServiceError::Abandoned(self.id().to_string())
                    };
                    for waiter in self.waiters.drain(..) {
                        let _ = waiter.send(Err(error.clone()));
                    }
                }
                self.stop_waiters.extend(reply);
                self.begin_stop();
            }
            _ => self.stop_waiters.extend(reply),
        }
    }

    fn done(&mut self, done: Done) {
        match done {
            Done::Started(Ok((container_id, created)), took) => {
                let (next, _) = lifecycle::step(self.state, Event::StartSucceeded);
                self.set_state(next);
                tracing::info!(
                    service = self.id(),
                    container = short(&container_id),
                    seconds = took.as_secs_f64(),
                    "service ready"
                );
                if created {
                    self.metrics.container_started(self.id(), took);
                }
                {
                    let mut view = self.slot.view();
                    view.container_id = Some(container_id);
                    view.ready_since = Some(Instant::now());
                    view.error = None;
                }
                self.slot.usage().last_use = Instant::now();
                for waiter in self.waiters.drain(..) {
                    let _ = waiter.send(Ok(self.slot.lease()));
                }
            }
            Done::Started(Err(error), _) => {
                let (next, _) = lifecycle::step(self.state, Event::StartFailed);
                self.set_state(next);
                tracing::error!(service = self.id(), "start failed: {error}");
                self.metrics.container_start_failed(self.id());
                {
                    let mut view = self.slot.view();
                    view.container_id = None;
                    view.error = Some(error.to_string());
                }
                for waiter in self.waiters.drain(..) {
                    let _ = waiter.send(Err(error.clone()));
                }
            }
            Done::Stopped(result) => {
                let event = match &result {
                    Ok(()) => {
                        tracing::info!(service = self.id(), "container stopped and removed");
                        self.metrics.container_stopped(self.id());
                        self.slot.view().container_id = None;
                        Event::StopFinished {
                            demand_waiting: self.waiters.iter().any(|w| !w.is_closed()),
                        }
                    }
                    Err(e) => {
                        tracing::error!(service = self.id(), "stop failed: {e}");
                        self.slot.view().error = Some(format!("could not stop: {e}"));
                        Event::StopFailed
                    }
                };
                let (next, effect) = lifecycle::step(self.state, event);
                self.set_state(next);
                for waiter in self.stop_waiters.drain(..) {
                    let _ = waiter.send(result.clone());
                }
                if effect == Effect::BeginStart {
                    self.begin_start(None);
                } else if next == State::Failed && !self.waiters.is_empty() {
                    // Requests parked during a failed stop: try a fresh start for them.
                    let (next, _) = lifecycle::step(next, Event::Demand);
                    self.set_state(next);
                    self.begin_start(None);
                } else if next == State::Stopped {
                    self.waiters.clear();
                }
            }
        }
    }

    /// The ready container died on its own: remember why; the next demand starts a new one.
    fn exited(&mut self, reason: String) {
        let (next, _) = lifecycle::step(self.state, Event::Exited);
        if next == State::Failed {
            tracing::error!(service = self.id(), "{reason}");
            self.set_state(next);
            let mut view = self.slot.view();
            view.error = Some(reason);
            view.container_id = None;
        }
    }

    fn begin_start(&mut self, adopt: Option<Found>) {
        {
            let mut view = self.slot.view();
            view.starting_since = Some(Instant::now());
            view.log_tail.clear();
            view.error = None;
            view.admitted = false;
        }
        let start = Start {
            slot: self.slot.clone(),
            manager: self.manager.clone(),
            engine: self.engine.clone(),
            instance: self.instance.clone(),
            http: self.http.clone(),
        };
        self.work = Some(
            async move {
                let began = Instant::now();
                let result = start.run(adopt).await;
                Done::Started(result, began.elapsed())
            }
            .boxed(),
        );
    }

    fn begin_stop(&mut self) {
        let engine = self.engine.clone();
        let instance = self.instance.clone();
        let name = self.slot.config.container_name();
        let grace = self.slot.config.stop_timeout();
        self.work = Some(
            async move {
                // By name: the container may be one an abandoned start created without telling us its id.
                let result = match engine.inspect(&name).await {
                    Ok(Some(found)) if found.is_ours(&instance) => {
                        engine.stop_and_remove(&found.id, grace).await
                    }
                    Ok(_) => Ok(()),
                    Err(e) => Err(e),
                };
                Done::Stopped(result)
            }
            .boxed(),
        );
    }

    /// Checks that the ready container still runs; if it died, collects why and removes it.
    fn liveness(&self) -> BoxFuture<'static, Option<String>> {
        let engine = self.engine.clone();
        let id = self.slot.view().container_id.clone().unwrap_or_default();
        let service = self.id().to_string();
        async move {
            match engine.inspect(&id).await {
                Ok(Some(found)) if found.running => None,
                Ok(found) => {
                    let logs = engine.log_tail(&id, LOG_TAIL_LINES).await;
                    let _ = engine.remove(&id).await;
                    Some(format!(
                        "the {service} container exited on its own ({}){}",
                        exit_text(&found.and_then(|f| f.exit_code)),
                        lines_text(&logs)
                    ))
                }
                // The engine is unreachable: say nothing, the next tick looks again.
                Err(_) => None,
            }
        }
        .boxed()
    }
}

/// A start in progress: everything it needs, owned, so it runs beside the actor's command handling.
struct Start {
    slot: Arc<Slot>,
    manager: Weak<Manager>,
    engine: Arc<Engine>,
    instance: String,
    http: reqwest::Client,
}

impl Start {
    async fn run(&self, adopt: Option<Found>) -> Result<(String, bool), ServiceError> {
        let config = &self.slot.config;
        let began = Instant::now();
        let manager = self.manager.upgrade().ok_or(ServiceError::ShuttingDown)?;
        manager.admit(&self.slot).await?;
        drop(manager);
        let (id, created) = match adopt {
            Some(found) => (found.id, false),
            None => self.create_and_start().await?,
        };
        self.slot.view().container_id = Some(id.clone());
        tracing::info!(
            service = config.id,
            container = short(&id),
            ms = began.elapsed().as_millis() as u64,
            "container running; waiting for health"
        );
        match self.healthy(&id, began).await {
            Ok(()) => Ok((id, created)),
            Err(error) => {
                let _ = self.engine.remove(&id).await;
                Err(error)
            }
        }
    }

    async fn create_and_start(&self) -> Result<(String, bool), ServiceError> {
        let config = &self.slot.config;
        let name = config.container_name();
        // Two tries: a leftover of ours is removed (or adopted) once; a name that stays taken is an error.
        for _ in 0..2 {
            match self.engine.create(config, &self.instance).await {
                Ok(id) => {
                    if let Err(error) = self.engine.start(&id).await {
                        let _ = self.engine.remove(&id).await;
                        return Err(error);
                    }
                    return Ok((id, true));
                }
                Err(CreateError::Failed(error)) => return Err(error),
                Err(CreateError::NameInUse) => match self.engine.inspect(&name).await? {
                    None => {}
                    Some(found) if !found.is_ours(&self.instance) => {
                        return Err(ServiceError::NameTaken { name });
                    }
                    Some(found)
                        if found.running
                            && found.fingerprint() == Some(config.fingerprint().as_str()) =>
                    {
                        tracing::info!(
                            service = config.id,
                            container = short(&found.id),
                            "adopting our running container"
                        );
                        return Ok((found.id, false));
                    }
                    Some(found) => {
                        tracing::info!(
                            service = config.id,
                            container = short(&found.id),
                            "removing our stale container"
                        );
                        self.engine.remove(&found.id).await?;
                    }
                },
            }
        }
        Err(ServiceError::Engine(format!(
            "the container name {name} stayed in use"
        )))
    }

    /// Polls the health endpoint until it answers 2xx, the container exits, or the startup timeout passes.
    /// Polls fast at first (a warm start answers in well under a second), then back off.
    async fn healthy(&self, id: &str, began: Instant) -> Result<(), ServiceError> {
        let config = &self.slot.config;
        let url = format!("{}{}", config.url(), config.health_path);
        let deadline = began + config.startup_timeout();
        let mut last_logs = Instant::now();
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let answer = self
                .http
                .get(&url)
                .timeout(remaining.clamp(Duration::from_millis(1), Duration::from_secs(5)))
                .send()
                .await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            let logs = || self.engine.log_tail(id, LOG_TAIL_LINES);
            match self.engine.inspect(id).await? {
                Some(found) if found.running => {}
                found => {
                    return Err(ServiceError::ExitedDuringStart {
                        service: config.id.clone(),
                        code: found.and_then(|f| f.exit_code),
                        logs: logs().await,
                    })
                }
            }
            if Instant::now() >= deadline {
                return Err(ServiceError::HealthTimeout {
                    service: config.id.clone(),
                    url,
                    seconds: config.startup_timeout_seconds,
                    logs: logs().await,
                });
            }
            if last_logs.elapsed() >= Duration::from_millis(500) {
                last_logs = Instant::now();
                let tail = logs().await;
                self.slot.view().log_tail = tail;
            }
            let interval = match began.elapsed().as_secs() {
                0..=2 => Duration::from_millis(25),
                3..=29 => Duration::from_millis(250),
                _ => Duration::from_secs(1),
            };
            tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now())))
                .await;
        }
    }
}
