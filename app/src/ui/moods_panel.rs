//! Moods: a preset in one click, and the listener's favourites, saved, renamed and deleted by name.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::moods::{self, Mood};
use crate::player::Player;

/// Applies `mood`: its prompt, volume and timer; to the music playing too, if any (the prompt from the
/// next segment, the timer counted from now).
fn apply(player: Player, mood: &Mood) {
    let view = player.view;
    view.prompt.set(mood.prompt.clone());
    view.volume.set(mood.volume);
    player.set_volume(mood.volume);
    player.set_timer(mood.timer);
    if view.state.get_untracked().active() {
        player.change_prompt();
    }
}

#[component]
pub fn MoodsPanel() -> impl IntoView {
    let player = super::player();
    let view = player.view;
    let error = RwSignal::new(None::<String>);
    let name = RwSignal::new(String::new());
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        let mood = Mood {
            name: name.get_untracked(),
            prompt: view.prompt.get_untracked(),
            volume: view.volume.get_untracked(),
            timer: view.timer.get_untracked(),
        };
        match moods::save(&view.favourites.get_untracked(), mood) {
            Ok(list) => {
                view.favourites.set(list);
                name.set(String::new());
                error.set(None);
            }
            Err(e) => error.set(Some(e.to_string())),
        }
    };
    let presets = moods::presets()
        .into_iter()
        .map(|mood| view! { <MoodButton mood/> })
        .collect_view();
    view! {
        <section class="moods panel" aria-labelledby="moods-title">
            <h2 id="moods-title">"Moods"</h2>
            <div class="presets" role="group" aria-label="Presets">{presets}</div>
            <ul class="favourites" aria-label="Favourites">
                <For each=move || view.favourites.get() key=|m| format!("{m:?}") let:mood>
                    <Favourite mood error/>
                </For>
            </ul>
            <form class="save" on:submit=save>
                <input id="favourite-name" maxlength="40" placeholder="Name this mood"
                    aria-label="Name for a favourite of the mood, volume and timer now set"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                <button type="submit" id="save-favourite" class="quiet">"Save as favourite"</button>
            </form>
            <Show when=move || error.get().is_some()>
                <p id="mood-error" class="note" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}

/// A mood's button: pressed while the prompt is the mood's own.
#[component]
fn MoodButton(mood: Mood) -> impl IntoView {
    let player = super::player();
    let prompt = mood.prompt.clone();
    let pressed = move || (player.view.prompt.get() == prompt).to_string();
    let summary = match mood.timer {
        Some(plan) => format!("{} · {}", mood.prompt, plan.summary()),
        None => mood.prompt.clone(),
    };
    let (name, label) = (mood.name.clone(), mood.name.clone());
    view! {
        <button class="mood" data-mood=name aria-pressed=pressed title=summary
            on:click=move |_| apply(player, &mood)>
            {label}
        </button>
    }
}

/// One favourite: apply it, rename it in place, or delete it.
#[component]
fn Favourite(mood: Mood, error: RwSignal<Option<String>>) -> impl IntoView {
    let player = super::player();
    let view = player.view;
    let editing = RwSignal::new(false);
    let new_name = RwSignal::new(mood.name.clone());
    let name = mood.name.clone();
    let rename = {
        let name = name.clone();
        move |ev: SubmitEvent| {
            ev.prevent_default();
            match moods::rename(
                &view.favourites.get_untracked(),
                &name,
                &new_name.get_untracked(),
            ) {
                Ok(list) => {
                    view.favourites.set(list);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    };
    let delete = {
        let name = name.clone();
        move |_| {
            view.favourites
                .update(|list| *list = moods::delete(list, &name))
        }
    };
    let (rename_label, delete_label) = (format!("Rename {name}"), format!("Delete {name}"));
    let shown = move || {
        let (mood, delete) = (mood.clone(), delete.clone());
        view! {
            <MoodButton mood/>
            <button class="small" aria-label=rename_label.clone() on:click=move |_| editing.set(true)>
                "Rename"
            </button>
            <button class="small" aria-label=delete_label.clone() on:click=delete>"Delete"</button>
        }
    };
    view! {
        <li class="favourite" data-favourite=name>
            <Show when=move || editing.get() fallback=shown>
                <form class="rename" on:submit=rename.clone()>
                    <input class="new-name" maxlength="40" aria-label="New name"
                        prop:value=move || new_name.get() on:input=move |ev| new_name.set(event_target_value(&ev))/>
                    <button type="submit" class="small">"Save name"</button>
                    <button type="button" class="small" on:click=move |_| editing.set(false)>"Cancel"</button>
                </form>
            </Show>
        </li>
    }
}
