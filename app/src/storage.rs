//! What the page remembers across reloads, in `localStorage`: the prompt, the settings, the timer, the
//! favourite moods, and the server's access token.

use crate::api::FocusModulation;
use crate::moods::{self, Mood};
use crate::settings::{CROSSFADE, MAX_LEAD, VOLUME};
use crate::timer::Plan;

const PROMPT: &str = "tsuzuki.prompt";
const CROSSFADE_KEY: &str = "tsuzuki.crossfade";
const VOLUME_KEY: &str = "tsuzuki.volume";
const MAX_LEAD_KEY: &str = "tsuzuki.max_lead";
const DATA_SAVER_KEY: &str = "tsuzuki.data_saver";
const TIMER_KEY: &str = "tsuzuki.timer";
const FOCUS_KEY: &str = "tsuzuki.focus_modulation";
const FAVOURITES_KEY: &str = "tsuzuki.favourites";
const TOKEN: &str = "tsuzuki.token";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn get(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

fn set(key: &str, value: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(key, value);
    }
}

/// The stored prompt and settings; a setting never saved, or unreadable, is its default.
pub struct Prefs {
    pub prompt: String,
    pub crossfade: f64,
    pub volume: f64,
    pub max_lead: f64,
    pub data_saver: bool,
    pub timer: Option<Plan>,
    pub favourites: Vec<Mood>,
    pub focus: FocusModulation,
}

pub fn load() -> Prefs {
    let setting = |key, range: crate::settings::Setting| {
        get(key)
            .and_then(|v| range.parse(&v))
            .unwrap_or(range.default)
    };
    Prefs {
        prompt: get(PROMPT).unwrap_or_default(),
        crossfade: setting(CROSSFADE_KEY, CROSSFADE),
        volume: setting(VOLUME_KEY, VOLUME),
        max_lead: setting(MAX_LEAD_KEY, MAX_LEAD),
        data_saver: get(DATA_SAVER_KEY).as_deref() == Some("true"),
        timer: get(TIMER_KEY).as_deref().and_then(Plan::parse),
        favourites: get(FAVOURITES_KEY)
            .as_deref()
            .map(moods::parse)
            .unwrap_or_default(),
        focus: get(FOCUS_KEY)
            .as_deref()
            .and_then(FocusModulation::from_name)
            .unwrap_or_default(),
    }
}

pub fn save(prefs: &Prefs) {
    set(PROMPT, &prefs.prompt);
    set(CROSSFADE_KEY, &prefs.crossfade.to_string());
    set(VOLUME_KEY, &prefs.volume.to_string());
    set(MAX_LEAD_KEY, &prefs.max_lead.to_string());
    set(DATA_SAVER_KEY, &prefs.data_saver.to_string());
    set(FOCUS_KEY, prefs.focus.name());
    if let Ok(timer) = serde_json::to_string(&prefs.timer) {
        set(TIMER_KEY, &timer);
    }
    if let Ok(favourites) = serde_json::to_string(&prefs.favourites) {
        set(FAVOURITES_KEY, &favourites);
    }
}

/// The access token the listener gave, if any.
pub fn token() -> Option<String> {
    get(TOKEN)
}

pub fn set_token(token: &str) {
    set(TOKEN, token);
}

/// Forgets a token the server refused.
pub fn forget_token() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(TOKEN);
    }
}
