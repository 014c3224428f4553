//! What the page shows of the player, and the listener's settings: reactive state the player writes and
//! the UI reads (and the settings, the other way round).

use leptos::prelude::*;

use crate::access::Ask;
use crate::api::{BackendInfo, BridgeReason, FocusModulation, StartingInfo, StartingPhase};
use crate::moods::Mood;
use crate::player::telemetry::Telemetry;
use crate::player::timeline::Placement;
use crate::settings::{CROSSFADE, MAX_LEAD, VOLUME};
use crate::timer::Plan;

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

/// Where the music is, when it is not in this tab: not an error, so said calmly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Notice {
    /// Another tab of this browser plays: this one offers to take over.
    PlayingElsewhere,
    /// The listener stopped the music in another tab or on another device.
    StoppedElsewhere,
    /// The timer ran out and ended the session.
    TimerEnded,
    /// The page opened (from the service worker's cache) while the server is down.
    ServerAway,
}

impl Notice {
    pub fn text(self) -> &'static str {
        match self {
            Notice::PlayingElsewhere => "Playing in another tab.",
            Notice::StoppedElsewhere => "Stopped from another tab or device.",
            Notice::TimerEnded => "Time is up: the session has ended.",
            Notice::ServerAway => {
                "The server is not answering; this page reconnects when it is back."
            }
        }
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

/// Who makes the music, in the listener's words: the model and its language model (and why not the
/// first choice), or the embedded synthesizer and why it stands in.
/// The synthesizer's account of the mood, quietly shown under it: "heard: rain, piano, 84 bpm · not
/// understood: kazoo". `None` while a model plays (it reads the whole prompt) or before any status.
pub fn heard_words(backend: &BackendInfo) -> Option<String> {
    let heard = backend.heard.as_ref()?;
    let ignored = backend.ignored.as_deref().unwrap_or_default();
    let mut parts = Vec::new();
    if !heard.is_empty() {
        parts.push(format!("heard: {}", heard.join(", ")));
    }
    if !ignored.is_empty() {
        parts.push(format!("not understood: {}", ignored.join(", ")));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// The model's failure as the server worded it, in parentheses, or nothing.
fn in_its_words(backend: &BackendInfo) -> String {
    backend
        .bridge_detail
        .as_deref()
        .map_or(String::new(), |d| format!(" ({d})"))
}

pub fn generator_words(backend: &BackendInfo, starting: Option<&StartingInfo>) -> String {
    let waiting = |what: &str| match starting {
        Some(s) => format!("{what} ({:.0} s so far)", s.elapsed_seconds),
        None => what.to_string(),
    };
    if backend.kind == "acestep" && backend.active == "synth" {
        let why = match (backend.bridge_reason, starting.map(|s| s.phase)) {
            (Some(BridgeReason::ModelLoading), Some(StartingPhase::StartingContainer)) => {
                waiting("while the model's container starts")
            }
            (Some(BridgeReason::ModelLoading), Some(StartingPhase::LoadingModel)) => {
                waiting("while the model loads")
            }
            (Some(BridgeReason::ModelLoading), None) => {
                "while the model makes its first segment".to_string()
            }
            (Some(BridgeReason::Unreachable), _) => format!(
                "because the model cannot be reached{}; it returns when the model answers",
                in_its_words(backend)
            ),
            (Some(BridgeReason::Failing), _) => format!(
                "because the model's segments fail{}; it returns when the model recovers",
                in_its_words(backend)
            ),
            (None, _) => String::new(),
        };
        return format!("Embedded synthesizer {why}").trim_end().to_string();
    }
    match backend.kind.as_str() {
        "acestep" => {
            let model = backend.model.as_deref().unwrap_or("ACE-Step");
            let lm = match (&backend.lm_model, &backend.lm_fallback_reason) {
                (Some(lm), Some(why)) => format!(", language model {lm} ({why})"),
                (Some(lm), None) => format!(", language model {lm}"),
                (None, _) => String::new(),
            };
            format!("ACE-Step {model}{lm}")
        }
        _ => "Embedded synthesizer".to_string(),
    }
}

/// The player's reactive state and the listener's settings, shared with the UI.
#[derive(Clone, Copy)]
pub struct View {
    pub state: RwSignal<PlayerState>,
    pub message: RwSignal<Option<String>>,
    /// A calm word on where the music is, when not here.
    pub notice: RwSignal<Option<Notice>>,
    pub segment: RwSignal<Option<u64>>,
    pub generating: RwSignal<Option<u64>>,
    pub progress: RwSignal<f32>,
    /// The segment downloading and how far along (0..1).
    pub download: RwSignal<Option<(u64, f64)>>,
    pub applies_from: RwSignal<Option<u64>>,
    /// Who makes the music now, in plain words.
    pub generator: RwSignal<String>,
    pub telemetry: RwSignal<Telemetry>,
    pub frame: RwSignal<Frame>,
    /// Set while a request waits for the listener to enter the server's access token.
    pub asking: RwSignal<Option<Ask>>,
    pub prompt: RwSignal<String>,
    pub crossfade: RwSignal<f64>,
    pub volume: RwSignal<f64>,
    /// How far the prefetch lead may widen for slow downloads, in seconds.
    pub max_lead: RwSignal<f64>,
    /// Download the small Opus encoding whatever the link.
    pub data_saver: RwSignal<bool>,
    /// The session timer for the next Play (and the music playing, when set while it plays).
    pub timer: RwSignal<Option<Plan>>,
    /// The timer's reading while music plays, in words.
    pub time_left: RwSignal<Option<String>>,
    pub favourites: RwSignal<Vec<Mood>>,
    /// The calm view is shown instead of the full page.
    pub calm: RwSignal<bool>,
    /// Focus modulation for the next Play (and the music playing, when changed while it plays).
    pub focus: RwSignal<FocusModulation>,
    /// What the embedded synthesizer made of the mood, in words; `None` while a model plays.
    pub heard: RwSignal<Option<String>>,
}

impl View {
    pub fn new() -> View {
        View {
            state: RwSignal::new(PlayerState::Idle),
            message: RwSignal::new(None),
            notice: RwSignal::new(None),
            segment: RwSignal::new(None),
            generating: RwSignal::new(None),
            progress: RwSignal::new(0.0),
            download: RwSignal::new(None),
            applies_from: RwSignal::new(None),
            generator: RwSignal::new(String::new()),
            telemetry: RwSignal::new(Telemetry::default()),
            frame: RwSignal::new(Frame::default()),
            asking: RwSignal::new(None),
            prompt: RwSignal::new(String::new()),
            crossfade: RwSignal::new(CROSSFADE.default),
            volume: RwSignal::new(VOLUME.default),
            max_lead: RwSignal::new(MAX_LEAD.default),
            data_saver: RwSignal::new(false),
            timer: RwSignal::new(None),
            time_left: RwSignal::new(None),
            favourites: RwSignal::new(Vec::new()),
            calm: RwSignal::new(false),
            focus: RwSignal::new(FocusModulation::Off),
            heard: RwSignal::new(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(active: &str, reason: Option<BridgeReason>) -> BackendInfo {
        BackendInfo {
            kind: "acestep".into(),
            model: Some("acestep-v15-sft".into()),
            lm_model: Some("acestep-5Hz-lm-1.7B".into()),
            lm_fallback_reason: Some("the server offers only acestep-5Hz-lm-1.7B".into()),
            active: active.into(),
            bridge_reason: reason,
            bridge_detail: None,
            heard: None,
            ignored: None,
        }
    }

    #[test]
    fn the_page_says_who_plays_and_why_in_plain_words() {
        let loading = StartingInfo {
            phase: StartingPhase::LoadingModel,
            service: "acestep".into(),
            elapsed_seconds: 12.4,
            log_tail: Vec::new(),
        };
        assert_eq!(
            generator_words(
                &backend("synth", Some(BridgeReason::ModelLoading)),
                Some(&loading)
            ),
            "Embedded synthesizer while the model loads (12 s so far)"
        );
        assert_eq!(
            generator_words(&backend("synth", Some(BridgeReason::ModelLoading)), None),
            "Embedded synthesizer while the model makes its first segment"
        );
        assert!(
            generator_words(&backend("synth", Some(BridgeReason::Unreachable)), None)
                .contains("cannot be reached")
        );
        let no_gpu = BackendInfo {
            bridge_detail: Some("no NVIDIA GPU runtime available to Docker".into()),
            ..backend("synth", Some(BridgeReason::Unreachable))
        };
        assert_eq!(
            generator_words(&no_gpu, None),
            "Embedded synthesizer because the model cannot be reached (no NVIDIA GPU runtime available \
             to Docker); it returns when the model answers"
        );
        assert_eq!(
            generator_words(&backend("acestep", None), None),
            "ACE-Step acestep-v15-sft, language model acestep-5Hz-lm-1.7B (the server offers only acestep-5Hz-lm-1.7B)"
        );
        let synth = BackendInfo {
            kind: "synth".into(),
            active: "synth".into(),
            ..backend("synth", None)
        };
        assert_eq!(generator_words(&synth, None), "Embedded synthesizer");
    }

    #[test]
    fn the_synthesizer_says_what_it_heard_and_a_model_says_nothing() {
        let words = |h: &[&str], i: &[&str]| BackendInfo {
            heard: Some(h.iter().map(|w| w.to_string()).collect()),
            ignored: Some(i.iter().map(|w| w.to_string()).collect()),
            ..backend("synth", None)
        };
        assert_eq!(
            heard_words(&words(&["rain", "piano", "84 bpm"], &["kazoo"])).as_deref(),
            Some("heard: rain, piano, 84 bpm · not understood: kazoo")
        );
        assert_eq!(
            heard_words(&words(&["rain"], &[])).as_deref(),
            Some("heard: rain")
        );
        assert_eq!(
            heard_words(&words(&[], &["kazoo"])).as_deref(),
            Some("not understood: kazoo")
        );
        assert_eq!(heard_words(&words(&[], &[])), None);
        assert_eq!(heard_words(&backend("acestep", None)), None);
    }
}
