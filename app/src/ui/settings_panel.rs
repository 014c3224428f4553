//! The settings: the longest prefetch lead, the crossfade and the volume, each a slider over its range in
//! `crate::settings`, data saver, and focus modulation.

use leptos::prelude::*;

use super::percent;
use crate::api::FocusModulation;
use crate::settings::{Setting, CROSSFADE, MAX_LEAD, VOLUME};

#[component]
pub fn SettingsPanel() -> impl IntoView {
    let player = super::player();
    let view = player.view;
    view! {
        <section class="settings">
            <Slider id="max-lead" label="Longest prefetch lead " setting=MAX_LEAD value=view.max_lead
                shown=|v| format!("{v:.0} s")/>
            <Slider id="crossfade" label="Crossfade " setting=CROSSFADE value=view.crossfade
                shown=|v| format!("{v:.1} s")/>
            <Slider id="volume" label="Volume " setting=VOLUME value=view.volume shown=percent
                changed=Callback::new(move |v| player.set_volume(v))/>
            <label class="toggle">
                <input id="data-saver" type="checkbox" prop:checked=move || view.data_saver.get()
                    on:change=move |ev| view.data_saver.set(event_target_checked(&ev))/>
                <span>"Data saver " <small>"(Opus, about 1 MB a minute, instead of lossless FLAC)"</small></span>
            </label>
            <label>
                <span>"Focus modulation "
                    <small>"(a gentle 16 Hz pulse in the sound above the bass; some find it helps them stay on task)"</small>
                </span>
                <select id="focus-modulation" prop:value=move || view.focus.get().name()
                    on:change=move |ev| {
                        let chosen = FocusModulation::from_name(&event_target_value(&ev));
                        player.set_focus(chosen.unwrap_or_default());
                    }>
                    {FocusModulation::ALL.into_iter().map(|f| view! {
                        <option value=f.name() selected=move || view.focus.get() == f>{f.name()}</option>
                    }).collect::<Vec<_>>()}
                </select>
            </label>
            <p class="hint">
                "Space plays and stops. Media keys work too. The model services this server runs: "
                <a href="/services">"Services"</a>
            </p>
        </section>
    }
}

/// One setting's slider, its value shown beside its name.
#[component]
fn Slider(
    id: &'static str,
    label: &'static str,
    setting: Setting,
    value: RwSignal<f64>,
    shown: fn(f64) -> String,
    /// Told each new value as the listener moves the slider.
    #[prop(optional)]
    changed: Option<Callback<f64>>,
) -> impl IntoView {
    view! {
        <label>
            <span>{label} <b>{move || shown(value.get())}</b></span>
            <input id=id type="range" min=setting.min max=setting.max step=setting.step
                prop:value=move || value.get().to_string()
                on:input=move |ev| {
                    let v = setting.parse_or_default(&event_target_value(&ev));
                    value.set(v);
                    if let Some(changed) = changed {
                        changed.run(v);
                    }
                }/>
        </label>
    }
}
