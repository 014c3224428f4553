//! The stream as it goes: the live timeline, generation and download progress, and a few figures.

use leptos::prelude::*;

use super::percent;
use super::timeline::Timeline;

#[component]
pub fn StreamPanel() -> impl IntoView {
    let view = super::player().view;
    let telemetry = view.telemetry;
    view! {
        <section class="stream">
            <Timeline frame=view.frame/>
            <p id="generator" class="generator">{move || view.generator.get()}</p>
            <div class="progress">
                <span>
                    {move || match view.generating.get() {
                        Some(n) => format!("Generating segment {n}: {}", percent(f64::from(view.progress.get()))),
                        None => "Generator waiting for the player".to_string(),
                    }}
                </span>
                <span>
                    {move || match view.download.get() {
                        Some((n, p)) => format!("Downloading segment {n}: {}", percent(p)),
                        None => "No download running".to_string(),
                    }}
                </span>
            </div>
            <dl class="stats">
                <div><dt>"Segment"</dt><dd id="segment">{move || view.segment.get().map_or("–".into(), |n| n.to_string())}</dd></div>
                <div><dt>"Download"</dt><dd>{move || format!("{:.0} ms", telemetry.get().last_latency * 1000.0)}</dd></div>
                <div><dt>"Prefetch lead"</dt><dd>{move || format!("{:.0} s", telemetry.get().lead)}</dd></div>
                <div><dt>"Format"</dt><dd id="format">{move || {
                    let t = telemetry.get();
                    t.format.map_or("–".into(), |f| format!("{} · {:.1} MB/min", f.label(), t.bytes_per_minute / 1e6))
                }}</dd></div>
                <div><dt>"Holds"</dt><dd id="holds">{move || telemetry.get().holds}</dd></div>
            </dl>
            // Heard by screen readers only: a hold changes nothing a listener hears, but is worth a word.
            <p id="holds-said" class="sr-only" aria-live="polite">
                {move || match telemetry.get().holds {
                    0 => String::new(),
                    n => format!("The next segment was late; the music held ({n} so far)."),
                }}
            </p>
        </section>
    }
}
