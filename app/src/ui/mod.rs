//! The page: the mood, Play and Stop, the state, a live timeline of the stream, and the settings.

mod controls;
mod settings_panel;
mod stream_panel;
mod timeline;
mod token_form;

use leptos::ev;
use leptos::prelude::*;

use crate::player::Player;
use crate::storage::{self, Prefs};
use crate::view::View;
use controls::Controls;
use settings_panel::SettingsPanel;
use stream_panel::StreamPanel;

fn percent(x: f64) -> String {
    format!("{:.0}%", (x * 100.0).clamp(0.0, 100.0))
}

/// The player, as the page's components find it.
fn player() -> Player {
    expect_context::<Player>()
}

#[component]
pub fn Home() -> impl IntoView {
    let view = View::new();
    let player = Player::new(view);
    provide_context(player);

    // Browser-only set-up, after hydration: settings, media keys, Space, and rejoining a running stream.
    Effect::new(move |_| {
        let stored = storage::load();
        view.prompt.set(stored.prompt);
        view.crossfade.set(stored.crossfade);
        view.volume.set(stored.volume);
        view.max_lead.set(stored.max_lead);
        view.data_saver.set(stored.data_saver);
        player.install_media_keys();
        player.install_tabs();
        player.rejoin();
    });
    Effect::new(move |_| {
        storage::save(&Prefs {
            prompt: view.prompt.get(),
            crossfade: view.crossfade.get(),
            volume: view.volume.get(),
            max_lead: view.max_lead.get(),
            data_saver: view.data_saver.get(),
        })
    });
    let _space = window_event_listener(ev::keydown, move |event| {
        let typing = event
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
            .is_some_and(|e| matches!(e.tag_name().as_str(), "TEXTAREA" | "INPUT" | "BUTTON"));
        if event.code() == "Space" && !typing {
            event.prevent_default();
            if view.state.get_untracked().active() {
                player.stop();
            } else {
                player.play();
            }
        }
    });

    view! {
        <main class="page">
            <header class="masthead">
                <h1>"tsuzuki" <span class="kanji">"続き"</span></h1>
                <p class="tagline">"Endless focus music, generated as you listen."</p>
            </header>
            // Type-erased: the page's full view type is too deep for the server's SSR build.
            {view! { <Controls/> }.into_any()}
            {view! { <StreamPanel/> }.into_any()}
            {view! { <SettingsPanel/> }.into_any()}
        </main>
    }
}
