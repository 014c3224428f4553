//! The mood, Play, Stop and Change mood, the state badge, and what needs the listener's attention.

use leptos::prelude::*;

use super::token_form::TokenForm;
use crate::api::DEFAULT_PROMPT;
use crate::view::Notice;

#[component]
pub fn Controls() -> impl IntoView {
    let player = super::player();
    let view = player.view;
    let active = move || view.state.get().active();
    // Play stays disabled until the page has hydrated (effects run only in the browser): a click on the
    // server-rendered button before then would do nothing, silently. `data-ready` says so to tests.
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    view! {
        <section class="controls" data-ready=move || ready.get().to_string()>
            <label for="prompt">"Mood"</label>
            <textarea
                id="prompt"
                rows="2"
                maxlength="512"
                placeholder=DEFAULT_PROMPT
                prop:value=move || view.prompt.get()
                on:input=move |ev| view.prompt.set(event_target_value(&ev))
            ></textarea>
            <Show when=move || view.heard.get().is_some()>
                <p id="heard" class="heard">{move || view.heard.get().unwrap_or_default()}</p>
            </Show>
            <div class="buttons">
                <button id="play" class="play" on:click=move |_| player.play()
                    disabled=move || active() || !ready.get()>
                    "Play"
                </button>
                <button id="stop" class="stop" on:click=move |_| player.stop() disabled=move || !active()>
                    "Stop"
                </button>
                <Show when=active>
                    <button id="apply" class="apply" on:click=move |_| player.change_prompt()>
                        "Change mood"
                    </button>
                </Show>
                <button id="calm" class="quiet" on:click=move |_| view.calm.set(true)>"Calm view"</button>
                <Show when=move || view.time_left.get().is_some()>
                    // A timer role is not announced every second; the state badge's changes are.
                    <span id="time-left" class="time-left" role="timer" aria-label="Time left">
                        {move || view.time_left.get().unwrap_or_default()}
                    </span>
                </Show>
                <span id="state" class="badge" role="status" data-state=move || view.state.get().label()>
                    {move || view.state.get().label()}
                </span>
            </div>
            <TokenForm/>
            <Show when=move || view.applies_from.get().is_some()>
                <p id="applies" class="note">
                    {move || format!("New mood applies from segment {}", view.applies_from.get().unwrap_or_default())}
                </p>
            </Show>
            <Show when=move || view.notice.get().is_some()>
                <p id="notice" class="note" role="status">
                    <span>{move || view.notice.get().map(Notice::text)}</span>
                    <Show when=move || view.notice.get() == Some(Notice::PlayingElsewhere)>
                        " "
                        <button id="take-over" class="retry" on:click=move |_| player.take_over()>
                            "Play here"
                        </button>
                    </Show>
                </p>
            </Show>
            <Show when=move || view.message.get().is_some()>
                <div id="error" class="error" role="alert">
                    <span>{move || view.message.get().unwrap_or_default()}</span>
                    <button id="retry" class="retry" on:click=move |_| player.play()>"Retry"</button>
                </div>
            </Show>
        </section>
    }
}
