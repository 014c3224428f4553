//! The gapless player: follows the server's status, downloads each next segment ahead of time, and plays
//! the stream through Web Audio with a crossfade inside every overlap, holding the music when a segment is
//! late so the listener never hears silence.
//!
//! The decisions are pure and tested natively (`plan`, `timeline`, `lookahead`, `sync`); `audio_graph`,
//! `net`, `gate` and `media` are thin browser glue; `stream` runs the loop that carries out each tick's
//! plan, and [`Player`] here is the handle the page holds.
//!
//! Nothing in the loop may panic: the browser build aborts on a panic, which would end the music for good.

mod audio_graph;
pub mod encoding;
mod gate;
mod lookahead;
mod media;
mod net;
mod plan;
mod stream;
mod sync;
mod tabs;
pub mod telemetry;
pub mod timeline;
mod timer_nodes;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use leptos::prelude::*;
use leptos::reactive::send_wrapper_ext::SendOption;

use crate::api::{
    FocusModulation, FocusRequest, PromptRequest, PromptResponse, SessionState, StartRequest,
    Status,
};
use crate::timer::Plan;
use crate::view::{Notice, PlayerState, View};
use audio_graph::AudioGraph;
use gate::Gate;
use telemetry::Telemetry;

/// The player as the page holds it (through Leptos context): `Copy`, `Send` and `Sync`, so reactive
/// closures may capture it.
#[derive(Clone, Copy)]
pub struct Player {
    pub view: View,
    // Browser-only state, made on first use: a server-side render never creates any, so it never drops one
    // on another thread (which would panic).
    shared: StoredValue<SendOption<Rc<Shared>>>,
}

/// The player's browser state, shared by the handle and the current run's loop and downloads.
#[derive(Default)]
struct Shared {
    /// Bumped by every Play and Stop, so a superseded loop notices and ends.
    run: Cell<u64>,
    graph: RefCell<Option<AudioGraph>>,
    gate: Gate,
    /// The other tabs of this page, once the page has hydrated.
    tabs: RefCell<Option<tabs::Channel>>,
}

impl Shared {
    fn next_run(&self) -> u64 {
        self.run.set(self.run.get().wrapping_add(1));
        self.run.get()
    }

    fn tell(&self, word: tabs::Word) {
        if let Ok(Some(tabs)) = self.tabs.try_borrow().as_deref() {
            tabs.tell(word);
        }
    }

    fn stop_graph(&self) {
        let graph = self.graph.try_borrow_mut().ok().and_then(|mut g| g.take());
        if let Some(graph) = graph {
            graph.close();
            net::log("playback stopped");
        }
    }
}

/// One run of the player, from Play (or joining) to Stop: what its loop and downloads hold.
#[derive(Clone)]
struct Run {
    view: View,
    shared: Rc<Shared>,
    id: u64,
}

impl Run {
    fn current(&self) -> bool {
        self.shared.run.get() == self.id
    }

    /// Runs `f` with the audio graph, if this run is still current.
    fn with_graph<T>(&self, f: impl FnOnce(&AudioGraph) -> T) -> Option<T> {
        if !self.current() {
            return None;
        }
        self.shared.graph.try_borrow().ok()?.as_ref().map(f)
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        url: &str,
        body: Option<&impl serde::Serialize>,
    ) -> Result<T, String> {
        net::json(&self.shared.gate, self.view, method, url, body).await
    }

    fn fail(&self, message: String) {
        net::log_error(&message);
        self.shared.stop_graph();
        self.view.message.set(Some(message));
        show(self.view, PlayerState::Error);
    }
}

/// Shows `state` in the badge and to the operating system's media controls.
fn show(view: View, state: PlayerState) {
    let Some(shown) = view.state.try_get_untracked() else {
        return;
    };
    if shown != state {
        net::log(&format!("state {} -> {}", shown.label(), state.label()));
        view.state.set(state);
        media::playback_state(state.active());
    }
}

/// How often a page that cannot reach the server tries again.
const RECONNECT_MS: u32 = 2000;

/// How long a tab that opens waits for a playing tab to answer before it joins the stream itself.
const ANSWER_MS: u32 = 300;

/// Ends the current run and its sound, and shows the player idle; the server is not told.
fn halt(shared: &Shared, view: View) {
    shared.next_run();
    shared.stop_graph();
    show(view, PlayerState::Idle);
    view.segment.set(None);
    view.download.set(None);
    view.applies_from.set(None);
    view.time_left.set(None);
    view.heard.set(None);
}

/// Ends the music here and the server's session (its files are deleted), and tells the other tabs;
/// `notice` says why, when it was not the listener's Stop.
fn end(shared: Rc<Shared>, view: View, notice: Option<Notice>) {
    halt(&shared, view);
    view.notice.set(notice);
    shared.tell(tabs::Word::Stopped);
    wasm_bindgen_futures::spawn_local(async move {
        let stop = net::json::<Status>(&shared.gate, view, "POST", "/session/stop", None::<&()>);
        let _ = stop.await;
    });
}

impl Player {
    pub fn new(view: View) -> Player {
        Player {
            view,
            shared: StoredValue::new(SendOption::new_local(None)),
        }
    }

    fn shared(self) -> Option<Rc<Shared>> {
        self.shared
            .try_update_value(|s| Rc::clone(s.get_or_insert_with(Rc::default)))
    }

    /// Starts a new stream with the view's prompt.
    pub fn play(self) {
        self.begin(true);
    }

    /// Joins the stream the server is already running (after a reload), taking its prompt.
    pub fn rejoin(self) {
        let Some(shared) = self.shared() else { return };
        let view = self.view;
        wasm_bindgen_futures::spawn_local(async move {
            // A page opened from the service worker's cache while the server is down waits for it.
            while !net::reachable().await {
                view.notice.set(Some(Notice::ServerAway));
                gloo_timers::future::TimeoutFuture::new(RECONNECT_MS).await;
            }
            if view.notice.try_get_untracked().flatten() == Some(Notice::ServerAway) {
                view.notice.set(None);
            }
            let status =
                net::json::<Status>(&shared.gate, view, "GET", "/session/status", None::<&()>);
            if let Ok(status) = status.await {
                if matches!(
                    status.state,
                    SessionState::Generating | SessionState::Waiting
                ) {
                    view.prompt.set(status.prompt);
                    // Another tab of this browser may be playing it: then offer to take over instead.
                    shared.tell(tabs::Word::WhoPlays);
                    gloo_timers::future::TimeoutFuture::new(ANSWER_MS).await;
                    if view.notice.try_get_untracked().flatten() != Some(Notice::PlayingElsewhere) {
                        net::log("a stream is running on the server; joining it");
                        self.begin(false);
                    }
                }
            }
        });
    }

    /// Moves the music from the tab that plays it to this one: the same session, joined here.
    pub fn take_over(self) {
        self.begin(false);
    }

    fn begin(self, start: bool) {
        let Some(shared) = self.shared() else { return };
        let view = self.view;
        shared.stop_graph();
        let run = Run {
            view,
            id: shared.next_run(),
            shared,
        };
        view.message.set(None);
        view.notice.set(None);
        run.shared.tell(tabs::Word::Playing);
        view.telemetry.set(Telemetry::default());
        show(view, PlayerState::Generating);
        let volume = view.volume.try_get_untracked().unwrap_or_default();
        let timer = view.timer.try_get_untracked().flatten();
        match AudioGraph::new(volume, timer) {
            Ok(graph) => match run.shared.graph.try_borrow_mut() {
                Ok(mut slot) => *slot = Some(graph),
                Err(_) => return run.fail("The player is busy; press Play again.".into()),
            },
            Err(e) => return run.fail(format!("Audio is not available in this browser: {e}")),
        }
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = async {
                let status: Status = if start {
                    let body = StartRequest {
                        prompt: view.prompt.try_get_untracked(),
                        focus_modulation: view.focus.try_get_untracked(),
                    };
                    run.json("POST", "/session/start", Some(&body)).await?
                } else {
                    run.json("GET", "/session/status", None::<&()>).await?
                };
                stream::run(run.clone(), status).await
            }
            .await;
            if let Err(message) = outcome {
                if run.current() {
                    run.fail(message);
                }
            }
        });
    }

    /// Stops playback and the server's session.
    pub fn stop(self) {
        if let Some(shared) = self.shared() {
            end(shared, self.view, None);
        }
    }

    /// Sends a new prompt for the running session.
    pub fn change_prompt(self) {
        let Some(shared) = self.shared() else { return };
        let view = self.view;
        let prompt = view.prompt.try_get_untracked().unwrap_or_default();
        wasm_bindgen_futures::spawn_local(async move {
            let body = PromptRequest { prompt };
            match net::json::<PromptResponse>(
                &shared.gate,
                view,
                "POST",
                "/session/prompt",
                Some(&body),
            )
            .await
            {
                Ok(reply) => view.applies_from.set(Some(reply.applies_from_segment)),
                Err(e) => view.message.set(Some(e)),
            }
        });
    }

    /// Sets the focus modulation for the next Play and, while music plays, from the next segment made.
    pub fn set_focus(self, focus: FocusModulation) {
        self.view.focus.set(focus);
        let Some(shared) = self.shared() else { return };
        let view = self.view;
        wasm_bindgen_futures::spawn_local(async move {
            let body = FocusRequest {
                focus_modulation: focus,
            };
            let sent = net::json::<FocusRequest>(
                &shared.gate,
                view,
                "POST",
                "/session/focus",
                Some(&body),
            );
            if let Err(e) = sent.await {
                view.message.set(Some(e));
            }
        });
    }

    pub fn set_volume(self, volume: f64) {
        let Some(shared) = self.shared() else { return };
        let graph = shared.graph.try_borrow();
        if let Some(graph) = graph.as_ref().ok().and_then(|g| g.as_ref()) {
            graph.set_volume(volume);
        }
    }

    /// Sets the timer for the next Play, and for the music playing here (if any) afresh from now; `None`
    /// clears it.
    pub fn set_timer(self, plan: Option<Plan>) {
        self.view.timer.set(plan);
        let Some(shared) = self.shared() else { return };
        let Ok(mut graph) = shared.graph.try_borrow_mut() else {
            return;
        };
        if let Some(Err(e)) = graph.as_mut().map(|g| g.set_timer(plan)) {
            net::log_error(&format!("cannot set the timer: {e}"));
        }
    }

    /// How loud the music is now (0..1), if it plays here.
    pub fn level(self) -> Option<f32> {
        let shared = self.shared()?;
        let graph = shared.graph.try_borrow().ok()?;
        graph.as_ref().map(AudioGraph::level)
    }

    /// The listener's answer to the access-token form (`None`: declined).
    pub fn answer_token(self, token: Option<&str>) {
        if let Some(shared) = self.shared() {
            shared.gate.answer(self.view, token);
        }
    }

    /// Joins the page's other tabs, so only one of them plays.
    pub fn install_tabs(self) {
        let Some(shared) = self.shared() else { return };
        let channel = tabs::Channel::open(move |word| self.hear(word));
        let slot = shared.tabs.try_borrow_mut();
        if let Ok(mut slot) = slot {
            *slot = channel;
        }
    }

    fn hear(self, word: tabs::Word) {
        let view = self.view;
        let playing = view
            .state
            .try_get_untracked()
            .is_some_and(PlayerState::active);
        match tabs::hear(word, playing) {
            tabs::Reply::Yield => {
                net::log("another tab plays now; falling silent here");
                if let Some(shared) = self.shared() {
                    halt(&shared, view);
                }
                view.notice.set(Some(Notice::PlayingElsewhere));
            }
            tabs::Reply::Answer => {
                if let Some(shared) = self.shared() {
                    shared.tell(tabs::Word::Playing);
                }
            }
            tabs::Reply::ShowPlayingElsewhere => view.notice.set(Some(Notice::PlayingElsewhere)),
            tabs::Reply::ShowStopped => view.notice.set(Some(Notice::StoppedElsewhere)),
            tabs::Reply::Nothing => {}
        }
    }

    /// Lets the operating system's media keys play and stop the stream.
    pub fn install_media_keys(self) {
        media::install(move || self.play(), move || self.stop());
    }
}
