//! What the page shows of the player, and the listener's settings: reactive state the player writes and
//! the UI reads (and the settings, the other way round).

use leptos::prelude::*;

use crate::access::Ask;
use crate::player::telemetry::Telemetry;
use crate::player::timeline::Placement;
use crate::settings::{CROSSFADE, MAX_LEAD, VOLUME};

/// What the listener sees in the state badge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayerState {
    Idle,
    Generating,
    Downloading,
    Playing,
    Error,
}

impl PlayerState {
    pub fn label(self) -> &'static str {
        match self {
            PlayerState::Idle => "idle",
            PlayerState::Generating => "generating",
            PlayerState::Downloading => "downloading",
            PlayerState::Playing => "playing",
            PlayerState::Error => "error",
        }
    }

    /// Whether a stream is under way (Play is disabled, Stop enabled).
    pub fn active(self) -> bool {
        !matches!(self, PlayerState::Idle | PlayerState::Error)
    }
}

/// One voice as the visual timeline draws it, in audio-clock seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct VoiceView {
    pub index: u64,
    pub hold: bool,
    pub placement: Placement,
}

/// Where the next segment stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stage {
    /// Being generated, this far along (0..1).
    Generating(f64),
    /// Being downloaded, this far along (0..1).
    Downloading(f64),
    /// Downloaded and decoded, waiting for its crossfade.
    Ready,
}

/// The segment after the last scheduled one, where it will play.
#[derive(Clone, Debug, PartialEq)]
pub struct Upcoming {
    pub index: u64,
    pub placement: Placement,
    pub stage: Stage,
}

/// A picture of the stream for the visual timeline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    pub now: f64,
    pub segment: f64,
    pub overlap: f64,
    pub voices: Vec<VoiceView>,
    pub upcoming: Option<Upcoming>,
}

/// The player's reactive state and the listener's settings, shared with the UI.
#[derive(Clone, Copy)]
pub struct View {
    pub state: RwSignal<PlayerState>,
    pub message: RwSignal<Option<String>>,
    pub segment: RwSignal<Option<u64>>,
    pub generating: RwSignal<Option<u64>>,
    pub progress: RwSignal<f32>,
    /// The segment downloading and how far along (0..1).
    pub download: RwSignal<Option<(u64, f64)>>,
    pub applies_from: RwSignal<Option<u64>>,
    pub telemetry: RwSignal<Telemetry>,
    pub frame: RwSignal<Frame>,
    /// Set while a request waits for the listener to enter the server's access token.
    pub asking: RwSignal<Option<Ask>>,
    pub prompt: RwSignal<String>,
    pub crossfade: RwSignal<f64>,
    pub volume: RwSignal<f64>,
    /// How far the prefetch lead may widen for slow downloads, in seconds.
    pub max_lead: RwSignal<f64>,
}

impl View {
    pub fn new() -> View {
        View {
            state: RwSignal::new(PlayerState::Idle),
            message: RwSignal::new(None),
            segment: RwSignal::new(None),
            generating: RwSignal::new(None),
            progress: RwSignal::new(0.0),
            download: RwSignal::new(None),
            applies_from: RwSignal::new(None),
            telemetry: RwSignal::new(Telemetry::default()),
            frame: RwSignal::new(Frame::default()),
            asking: RwSignal::new(None),
            prompt: RwSignal::new(String::new()),
            crossfade: RwSignal::new(CROSSFADE.default),
            volume: RwSignal::new(VOLUME.default),
            max_lead: RwSignal::new(MAX_LEAD.default),
        }
    }
}
