//! The page: the mood, Play and Stop, the state, the moods and the timer, a live timeline of the stream,
//! and the settings.

mod calm_view;
mod controls;
mod kanji;
mod moods_panel;
mod settings_panel;
mod stream_panel;
mod timeline;
mod timer_panel;
mod token_form;

use leptos::ev;
use leptos::prelude::*;

use crate::player::Player;
use crate::storage::{self, Prefs};
use crate::view::View;
use calm_view::CalmView;
use controls::Controls;
use kanji::Kanji;
use moods_panel::MoodsPanel;
use settings_panel::SettingsPanel;
use stream_panel::StreamPanel;
use timer_panel::TimerPanel;

fn percent(x: f64) -> String {
    format!("{:.0}%", (x * 100.0).clamp(0.0, 100.0))
}

/// Moves keyboard focus to the element `id`, once it is on the page.
fn focus(id: &'static str) {
    request_animation_frame(move || {
        let element = document().get_element_by_id(id);
        if let Some(element) =
            element.and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
        {
            let _ = element.focus();
        }
    });
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
        view.timer.set(stored.timer);
        view.favourites.set(stored.favourites);
        view.focus.set(stored.focus);
        crate::offline::register_service_worker();
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
            timer: view.timer.get(),
            favourites: view.favourites.get(),
            focus: view.focus.get(),
        })
    });
    let _keys = window_event_listener(ev::keydown, move |event| {
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
        if event.code() == "Escape" && view.calm.get_untracked() {
            view.calm.set(false);
        }
    });
    // Keyboard focus follows the view: onto Details as the calm view opens, back to its button as it closes.
    Effect::new(move |was: Option<bool>| {
        let calm = view.calm.get();
        if was.is_some_and(|was| was != calm) {
            focus(if calm { "details" } else { "calm" });
        }
        calm
    });

    view! {
        <Show when=move || view.calm.get()>
            <CalmView/>
        </Show>
        <main class="page" hidden=move || view.calm.get()>
            <header class="masthead">
                <h1>"tsuzuki" <Kanji/></h1>
                <p class="tagline">"Endless focus music, generated as you listen."</p>
            </header>
            // Type-erased: the page's full view type is too deep for the server's SSR build.
            {view! { <Controls/> }.into_any()}
            <div class="pair">
                {view! { <MoodsPanel/> }.into_any()}
                {view! { <TimerPanel/> }.into_any()}
            </div>
            {view! { <StreamPanel/> }.into_any()}
            {view! { <SettingsPanel/> }.into_any()}
        </main>
    }
}
