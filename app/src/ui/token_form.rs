//! The inline form that asks for the server's access token when the server wants one; the music keeps
//! playing while it shows, and the answer goes to every request waiting for it.

use leptos::ev::SubmitEvent;
use leptos::html::Input;
use leptos::prelude::*;

use crate::access::{self, Ask};

#[component]
pub fn TokenForm() -> impl IntoView {
    let player = super::player();
    let view = player.view;
    let field = NodeRef::<Input>::new();
    // Focus the field as it appears, so the listener can type at once.
    Effect::new(move |_| {
        if let Some(field) = field.get() {
            let _ = field.focus();
        }
    });
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let typed = field.get_untracked().map(|f| f.value()).unwrap_or_default();
        if let Some(token) = access::token(&typed) {
            player.answer_token(Some(&token));
        }
    };
    view! {
        <Show when=move || view.asking.get().is_some()>
            <form id="access" on:submit=submit>
                <p id="access-message" class="note" role="alert">
                    {move || view.asking.get().map(Ask::message)}
                </p>
                <div class="buttons">
                    <label for="token">"Access token"</label>
                    <input id="token" type="password" autocomplete="off" required node_ref=field/>
                    <button type="submit" class="apply">"Use token"</button>
                    <button type="button" class="stop" on:click=move |_| player.answer_token(None)>
                        "Cancel"
                    </button>
                </div>
            </form>
        </Show>
    }
}
