//! The calm view: the whole window for what plays, the time left, and a slow glow that follows the music's
//! loudness (from an analyser on the audio graph), with Play or Stop and a way back to the details.

use leptos::prelude::*;

use crate::api::DEFAULT_PROMPT;

/// How often the glow reads the music's level; the CSS eases between readings over 1.5 s, so the light
/// drifts rather than flickers.
const LEVEL_MS: u32 = 250;

#[component]
pub fn CalmView() -> impl IntoView {
    let player = super::player();
    let view = player.view;
    let level = RwSignal::new(0f32);
    Effect::new(move |_| {
        if !view.calm.get() {
            return;
        }
        wasm_bindgen_futures::spawn_local(async move {
            while view.calm.try_get_untracked() == Some(true) {
                level.set(player.level().unwrap_or(0.0));
                gloo_timers::future::TimeoutFuture::new(LEVEL_MS).await;
            }
        });
    });
    let mood = move || {
        let prompt = view.prompt.get();
        if prompt.trim().is_empty() {
            DEFAULT_PROMPT.to_string()
        } else {
            prompt
        }
    };
    let active = move || view.state.get().active();
    view! {
        <section id="calm-view" class="calm" aria-label="Now playing" data-level=move || format!("{:.2}", level.get())
            style:--level=move || format!("{:.3}", level.get())>
            <div class="glow" aria-hidden="true"></div>
            <div class="calm-content">
                <p class="calm-mood">{mood}</p>
                <p class="calm-time" role="status">
                    {move || view.time_left.get().unwrap_or_else(|| view.state.get().label().to_string())}
                </p>
                <div class="calm-buttons">
                    <Show when=active fallback=move || view! {
                        <button class="play" on:click=move |_| player.play()>"Play"</button>
                    }>
                        <button class="stop" on:click=move |_| player.stop()>"Stop"</button>
                    </Show>
                    <button id="details" class="quiet" on:click=move |_| view.calm.set(false)>"Details"</button>
                </div>
            </div>
        </section>
    }
}
