//! The single task that owns one service's state: events come in (requests, finished work, timers, a
//! liveness probe), [`lifecycle::step`] decides, and the actor carries out the effects it returns, in
//! order. Start and stop run as futures beside the loop, so requests are answered while they run.

mod record;
mod work;

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::engine::{ContainerEngine, Found};
use super::error::ServiceError;
use super::lifecycle::{self, Effect, Event, Failure, Idle, State};
use super::manager::Manager;
use super::slot::{Lease, Slot};
use crate::config::ServiceConfig;
use crate::metrics::Metrics;

/// How often a ready container is checked for having died on its own.
const LIVENESS_INTERVAL: Duration = Duration::from_secs(2);

type LeaseReply = oneshot::Sender<Result<Lease, ServiceError>>;
type StopReply = oneshot::Sender<Result<(), ServiceError>>;

pub(super) enum Command {
    Ensure(LeaseReply),
    /// `force` stops even a service in use (server shutdown).
    Stop {
        force: bool,
        reply: StopReply,
    },
    /// Take over a healthy-looking container left by a previous run of this server.
    Adopt(Found),
    /// A reload declared the service anew (`Some`) or removed it (`None`). A new container is needed
    /// only when its shape changed; `immediately` does not wait for the service to be idle.
    Reconfigure {
        config: Option<ServiceConfig>,
        immediately: bool,
    },
}

/// A reload waiting for the container to go.
enum Pending {
    Replace(Box<ServiceConfig>),
    Retire,
}

/// A start that ended well.
struct Started {
    container_id: String,
    /// Made by this start, rather than adopted running.
    created: bool,
    took: Duration,
}

/// What a start or a stop in progress ended with.
enum Done {
    Started(Result<Started, ServiceError>),
    Stopped(Result<(), ServiceError>),
}

/// What came with an event, for the effects that need it; each effect takes what it uses.
#[derive(Default)]
struct Input {
    reply: Option<LeaseReply>,
    stop_reply: Option<StopReply>,
    found: Option<Found>,
    started: Option<Started>,
    /// Why the start failed.
    error: Option<ServiceError>,
    /// How the stop ended.
    stopped: Option<Result<(), ServiceError>>,
    /// Why the container died.
    died: Option<String>,
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

pub(super) struct Actor {
    slot: Arc<Slot>,
    manager: Weak<Manager>,
    engine: Arc<dyn ContainerEngine>,
    instance: String,
    http: reqwest::Client,
    metrics: Arc<Metrics>,
    state: State,
    /// Requests parked until the service is ready.
    waiters: Vec<LeaseReply>,
    /// Stop requests parked until the container is gone.
    stop_waiters: Vec<StopReply>,
    /// The start or stop in progress.
    work: Option<BoxFuture<'static, Done>>,
    /// A liveness check of the ready container: `Some(reason)` if it died.
    probe: Option<BoxFuture<'static, Option<String>>>,
    liveness: tokio::time::Interval,
    /// What a reload asked for, done once the container is stopped; with `immediately`, it is stopped now.
    pending: Option<(Pending, bool)>,
}

async fn poll_some<T>(future: &mut Option<BoxFuture<'static, T>>) -> T {
    match future {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

impl Actor {
    pub fn new(slot: Arc<Slot>, manager: &Arc<Manager>) -> Actor {
        let mut liveness = tokio::time::interval(LIVENESS_INTERVAL);
        liveness.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Actor {
            slot,
            manager: Arc::downgrade(manager),
            engine: manager.engine.clone(),
            instance: manager.instance.clone(),
            http: manager.http.clone(),
            metrics: manager.metrics.clone(),
            state: State::Stopped,
            waiters: Vec::new(),
            stop_waiters: Vec::new(),
            work: None,
            probe: None,
            liveness,
            pending: None,
        }
    }

    fn id(&self) -> String {
        self.slot.config().id.clone()
    }

    /// Requesters still waiting (one who gave up does not count).
    fn open_waiters(&self) -> u32 {
        self.waiters.iter().filter(|w| !w.is_closed()).count() as u32
    }

    /// Someone holds a lease or waits for one.
    fn in_use(&self) -> bool {
        self.slot.leases() > 0 || self.open_waiters() > 0
    }

    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            let wake = self.next_wake(&mut commands).await;
            let (event, input) = match wake {
                // Every handle is gone: leave the container as it is (a restarted server adopts it).
                Wake::Command(None) => return,
                Wake::Command(Some(command)) => match self.command(command) {
                    Some(happened) => happened,
                    None => {
                        if self.settle() {
                            return;
                        }
                        continue;
                    }
                },
                Wake::Done(done) => {
                    self.work = None;
                    if matches!(done, Done::Stopped(Ok(()))) {
                        // The container is gone: a new declaration takes over before anything restarts.
                        self.take_replacement();
                    }
                    self.done(done)
                }
                Wake::Probe(died) => {
                    self.probe = None;
                    let Some(reason) = died else { continue };
                    let input = Input {
                        died: Some(reason),
                        ..Input::default()
                    };
                    (Event::Exited, input)
                }
                Wake::Idle => {
                    tracing::info!(
                        service = self.id(),
                        "idle for {:?}: stopping",
                        self.slot.config().idle_ttl().unwrap_or_default()
                    );
                    let event = Event::StopAsked {
                        in_use: self.in_use(),
                        force: false,
                    };
                    (event, Input::default())
                }
                Wake::Tick => {
                    self.probe = Some(self.liveness());
                    continue;
                }
                Wake::Released => {
                    if self.settle() {
                        return;
                    }
                    continue;
                }
            };
            self.handle(event, input);
            if self.settle() {
                return;
            }
        }
    }

    /// Notes what a reload asked for. A declaration whose container stays the same applies at once.
    fn reconfigure(&mut self, config: Option<ServiceConfig>, immediately: bool) {
        self.pending = match config {
            // The handle has marked the slot retired already (and unmarks it if the service comes back).
            None => Some((Pending::Retire, immediately)),
            Some(config) if config.container_shape() == self.slot.config().container_shape() => {
                self.slot.set_config(config);
                None
            }
            Some(config) => Some((Pending::Replace(Box::new(config)), immediately)),
        };
    }

    /// Carries a pending reload forward: with no container, it applies now; with an idle one (or at once),
    /// the container is stopped first. True when the actor's work is over (its service was removed).
    fn settle(&mut self) -> bool {
        let Some((_, immediately)) = &self.pending else {
            return false;
        };
        let immediately = *immediately;
        match self.state {
            State::Stopped | State::Failed => {
                if self.take_replacement() {
                    // A new declaration deserves a fresh start, not the old one's error.
                    self.handle(
                        Event::StopAsked {
                            in_use: false,
                            force: false,
                        },
                        Input::default(),
                    );
                    return false;
                }
                self.pending = None;
                if let Some(manager) = self.manager.upgrade() {
                    manager.forget(&self.slot);
                }
                tracing::info!(service = self.id(), "removed from the configuration");
                true
            }
            State::Ready if immediately || !self.in_use() => {
                let event = Event::StopAsked {
                    in_use: self.in_use(),
                    force: immediately,
                };
                self.handle(event, Input::default());
                false
            }
            // A start or stop in progress is left to finish; this is looked at again after it.
            _ => false,
        }
    }

    /// Applies a pending new declaration (only ever with no container running). False for a removal.
    fn take_replacement(&mut self) -> bool {
        match self.pending.take() {
            Some((Pending::Replace(config), _)) => {
                tracing::info!(service = config.id, "now runs its new declaration");
                self.slot.set_config(*config);
                true
            }
            other => {
                self.pending = other;
                false
            }
        }
    }

    async fn next_wake(&mut self, commands: &mut mpsc::UnboundedReceiver<Command>) -> Wake {
        let idle = lifecycle::idle(
            self.state,
            self.in_use(),
            self.slot.config().idle_ttl(),
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
        tokio::select! {
            command = commands.recv() => Wake::Command(command),
            done = poll_some(&mut self.work) => Wake::Done(done),
            died = poll_some(&mut self.probe) => Wake::Probe(died),
            () = idle_timer => Wake::Idle,
            _ = self.liveness.tick(), if watching => Wake::Tick,
            () = self.slot.released.notified() => Wake::Released,
        }
    }

    /// The event a command is, or `None` for a reload (which `settle` carries out).
    fn command(&mut self, command: Command) -> Option<(Event, Input)> {
        let happened = match command {
            Command::Ensure(reply) => (
                Event::Demand,
                Input {
                    reply: Some(reply),
                    ..Input::default()
                },
            ),
            Command::Stop { force, reply } => (
                Event::StopAsked {
                    in_use: self.in_use(),
                    force,
                },
                Input {
                    stop_reply: Some(reply),
                    ..Input::default()
                },
            ),
            Command::Reconfigure {
                config,
                immediately,
            } => {
                self.reconfigure(config, immediately);
                return None;
            }
            Command::Adopt(found) => (
                Event::Adopt,
                Input {
                    found: Some(found),
                    ..Input::default()
                },
            ),
        };
        Some(happened)
    }

    fn done(&self, done: Done) -> (Event, Input) {
        match done {
            Done::Started(Ok(started)) => (
                Event::StartSucceeded,
                Input {
                    started: Some(started),
                    ..Input::default()
                },
            ),
            Done::Started(Err(error)) => (
                Event::StartFailed,
                Input {
                    error: Some(error),
                    ..Input::default()
                },
            ),
            Done::Stopped(result) => {
                // A removed service takes no new start, even for those who asked before it was removed.
                let demand_waiting = self.open_waiters() > 0 && !self.slot.retired();
                let event = match result {
                    Ok(()) => Event::StopFinished { demand_waiting },
                    Err(_) => Event::StopFailed { demand_waiting },
                };
                let input = Input {
                    stopped: Some(result),
                    ..Input::default()
                };
                (event, input)
            }
        }
    }

    /// The one place the state changes: `step` decides, the effects are carried out in its order.
    fn handle(&mut self, event: Event, mut input: Input) {
        let (next, effects) = lifecycle::step(self.state, event);
        self.set_state(next);
        for &effect in effects {
            self.apply(effect, &mut input);
        }
    }

    fn set_state(&mut self, state: State) {
        self.state = state;
        let mut view = self.slot.view();
        view.state = state;
        if !matches!(state, State::Starting | State::Ready | State::Stopping) {
            view.admitted = false;
        }
    }

    fn apply(&mut self, effect: Effect, input: &mut Input) {
        match effect {
            Effect::Grant => {
                if let Some(reply) = input.reply.take() {
                    let _ = reply.send(Ok(self.slot.lease()));
                }
            }
            Effect::Park => self.waiters.extend(input.reply.take()),
            Effect::BeginStart => self.begin_start(None),
            Effect::BeginAdopt => self.begin_start(input.found.take()),
            Effect::RecordReady => {
                if let Some(started) = input.started.take() {
                    self.record_ready(started);
                }
            }
            Effect::RecordStartFailure => self.record_start_failure(input.error.as_ref()),
            Effect::GrantWaiting => {
                for waiter in self.waiters.drain(..) {
                    let _ = waiter.send(Ok(self.slot.lease()));
                }
            }
            Effect::FailWaiting(why) => {
                let error = match why {
                    // A failed start always comes with its error.
                    Failure::Start => input.error.clone().unwrap_or(ServiceError::ShuttingDown),
                    Failure::Abandoned => ServiceError::Abandoned(self.id().to_string()),
                    Failure::ShuttingDown => ServiceError::ShuttingDown,
                };
                for waiter in self.waiters.drain(..) {
                    let _ = waiter.send(Err(error.clone()));
                }
            }
            Effect::DropWaiting => self.waiters.clear(),
            // Dropping the start future abandons it.
            Effect::AbandonStart => self.work = None,
            Effect::BeginStop => self.begin_stop(),
            Effect::RefuseStop => {
                let error = ServiceError::InUse {
                    service: self.id().to_string(),
                    holders: self.slot.leases() + self.open_waiters(),
                };
                if let Some(reply) = input.stop_reply.take() {
                    let _ = reply.send(Err(error));
                }
            }
            Effect::ParkStop => self.stop_waiters.extend(input.stop_reply.take()),
            Effect::StopDone => {
                if let Some(reply) = input.stop_reply.take() {
                    let _ = reply.send(Ok(()));
                }
            }
            Effect::ClearError => self.slot.view().error = None,
            Effect::RecordStopped => self.record_stopped(),
            Effect::RecordStopFailure => self.record_stop_failure(input.stopped.as_ref()),
            Effect::AnswerStops => {
                let result = input.stopped.clone().unwrap_or(Ok(()));
                for waiter in self.stop_waiters.drain(..) {
                    let _ = waiter.send(result.clone());
                }
            }
            Effect::RecordExit => self.record_exit(input.died.take().unwrap_or_default()),
        }
    }
}
