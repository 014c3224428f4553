//! The timer: a session length in one click or typed, Pomodoro breaks, and a sleep timer's long fade.
//! A change while music plays starts the timer afresh from now.

use leptos::prelude::*;

use crate::timer::{Breaks, Plan, LENGTHS, LONG_BREAKS, MINUTES, POMODORO};

/// The break patterns offered, by the select's value.
const BREAKS: [(&str, &str, Option<Breaks>); 3] = [
    ("none", "No breaks", None),
    ("25", "25 min focus, 5 min break", Some(POMODORO)),
    ("50", "50 min focus, 10 min break", Some(LONG_BREAKS)),
];

#[component]
pub fn TimerPanel() -> impl IntoView {
    let player = super::player();
    let view = player.view;
    let change = move |plan: Option<Plan>| player.set_timer(plan);
    let length = move |minutes: f64| {
        let plan = view.timer.get_untracked().map_or(
            Plan {
                minutes,
                breaks: None,
                sleep: false,
            },
            |p| Plan { minutes, ..p },
        );
        change(Some(plan));
    };
    let edit = move |f: &dyn Fn(&mut Plan)| {
        if let Some(mut plan) = view.timer.get_untracked() {
            f(&mut plan);
            change(Some(plan));
        }
    };
    let off = move || view.timer.get().is_none();
    let minutes = move || view.timer.get().map(|p| p.minutes);
    let breaks = move || {
        let breaks = view.timer.get().and_then(|p| p.breaks);
        BREAKS
            .iter()
            .find(|(_, _, b)| *b == breaks)
            .map_or("custom", |(value, _, _)| value)
    };
    let custom = move || {
        let b = view.timer.get().and_then(|p| p.breaks)?;
        (breaks() == "custom").then(|| {
            let words = format!("{} min focus, {} min break", b.focus, b.rest);
            view! { <option value="custom">{words}</option> }
        })
    };
    let lengths = LENGTHS
        .into_iter()
        .map(|m| {
            view! {
                <button class="small" data-minutes=m aria-pressed=move || (minutes() == Some(m)).to_string()
                    on:click=move |_| length(m)>{format!("{m} min")}</button>
            }
        })
        .collect_view();
    view! {
        <section class="timer panel" aria-labelledby="timer-title">
            <h2 id="timer-title">"Timer"</h2>
            <div class="lengths" role="group" aria-label="Session length">
                <button id="timer-off" class="small" aria-pressed=move || off().to_string()
                    on:click=move |_| change(None)>"Off"</button>
                {lengths}
                <label class="minutes">
                    <input id="timer-minutes" type="number" min="1" max=*MINUTES.end() step="1"
                        aria-label="Session length in minutes"
                        prop:value=move || minutes().map(|m| m.to_string()).unwrap_or_default()
                        on:change=move |ev| {
                            match event_target_value(&ev).parse::<f64>() {
                                Ok(m) if (1.0..=*MINUTES.end()).contains(&m) => length(m),
                                _ => view.timer.notify(),
                            }
                        }/>
                    " min"
                </label>
            </div>
            <label>
                <span>"Breaks"</span>
                <select id="timer-breaks" prop:disabled=off prop:value=breaks
                    on:change=move |ev| {
                        let chosen = event_target_value(&ev);
                        if let Some((_, _, b)) = BREAKS.iter().find(|(v, _, _)| *v == chosen) {
                            edit(&|p| p.breaks = *b);
                        }
                    }>
                    {BREAKS.iter().map(|&(value, words, _)| view! { <option value=value>{words}</option> }).collect_view()}
                    {custom}
                </select>
            </label>
            <label class="toggle">
                <input id="timer-sleep" type="checkbox" prop:disabled=off
                    prop:checked=move || view.timer.get().is_some_and(|p| p.sleep)
                    on:change=move |ev| {
                        let sleep = event_target_checked(&ev);
                        edit(&|p| p.sleep = sleep);
                    }/>
                <span>"Sleep timer " <small>"(fades out over the last 5 minutes)"</small></span>
            </label>
            <p class="hint">
                "Breaks soften the music, and a soft chime marks their start and end. At the end the music fades \
                 out and the session stops."
            </p>
        </section>
    }
}
