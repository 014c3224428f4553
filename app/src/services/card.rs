//! One service on the services page: what it is, its state and memory, its buttons, its use and its log.

use leptos::prelude::*;

use super::format::{self, actions};
use super::Page;
use crate::api::{ServiceInfo, ServiceStats, StartingPhase};

/// Seconds since the RFC 3339 time `at`, by the browser's clock.
fn seconds_since(at: &str) -> Option<f64> {
    let then = js_sys::Date::parse(at);
    (!then.is_nan()).then(|| (js_sys::Date::now() - then) / 1000.0)
}

#[component]
pub(super) fn ServiceCard(page: Page, id: String) -> impl IntoView {
    let info = {
        let id = id.clone();
        Memo::new(move |_| {
            page.services
                .get()
                .and_then(|l| l.services.into_iter().find(|s| s.id == id))
        })
    };
    let state = move || info.get().map(|s| s.state);
    let busy = {
        let id = id.clone();
        move || page.busy.get().contains(&id)
    };
    let button = {
        let id = id.clone();
        move |action: &'static str, label: &'static str, offered: fn(format::Actions) -> bool| {
            let (id, busy) = (id.clone(), busy.clone());
            let disabled = move || busy() || !state().is_some_and(|s| offered(actions(s)));
            view! {
                <button class="small" data-action=action disabled=disabled
                    on:click=move |_| page.act(id.clone(), action)>{label}</button>
            }
        }
    };
    let (name, attribute, usage_id) = (id.clone(), id.clone(), id.clone());
    view! {
        <section class="panel service" data-service=attribute>
            <header class="service-head">
                <h2>{name}</h2>
                <span class="badge" data-state=move || state().map(format::state)>
                    {move || state().map(format::state)}
                </span>
            </header>
            {move || info.get().map(|s| view! { <Facts service=s page/> })}
            <div class="buttons">
                {button("start", "Start", |a| a.start)}
                {button("stop", "Stop", |a| a.stop)}
                {button("restart", "Restart", |a| a.restart)}
            </div>
            <Usage page id=usage_id/>
            <Log page id/>
        </section>
    }
}

/// What the service is, and how it is doing now.
#[component]
fn Facts(service: ServiceInfo, page: Page) -> impl IntoView {
    let list = page.services.get_untracked();
    let bar = list
        .as_ref()
        .map(|l| format::memory_bar(service.gpu_memory_gb, l.gpu_memory_budget_gb, &l.gpus));
    let models = if service.models.is_empty() {
        "none (reached at /service/{id}/)".replace("{id}", &service.id)
    } else {
        service.models.join(", ")
    };
    let uptime = service
        .uptime_seconds
        .map(|s| format!("up {}", format::duration(s)));
    let last_used = service
        .last_used
        .as_deref()
        .and_then(seconds_since)
        .map_or("never used".to_string(), |s| {
            format!("last used {}", format::ago(s))
        });
    let holders = match service.in_use {
        0 => String::new(),
        1 => "in use by 1".into(),
        n => format!("in use by {n}"),
    };
    let starting = service.starting.map(|s| {
        let phase = match s.phase {
            StartingPhase::StartingContainer => "starting its container",
            StartingPhase::LoadingModel => "loading the model",
        };
        let last = s.log_tail.last().cloned().unwrap_or_default();
        (
            format!("{phase}, {}", format::duration(s.elapsed_seconds)),
            last,
        )
    });
    view! {
        <p class="service-image">{service.image}
            {service.container_id.map(|c| format!(" · container {}", c.chars().take(12).collect::<String>()))}
        </p>
        <p class="service-models">"Models: " {models}</p>
        <p class="service-times">
            {uptime.map(|u| view! { <span class="uptime">{u}</span> " · " })}
            <span class="last-used">{last_used}</span>
            {(!holders.is_empty()).then(|| view! { " · " <span>{holders}</span> })}
        </p>
        {bar.map(|bar| {
            let title = bar.label.clone();
            view! {
            <div class="memory" title=title>
                <div class="memory-bar">
                    <span class="share" style=format!("width: {:.1}%", bar.share * 100.0)></span>
                    {bar.measured.map(|m| view! {
                        <span class="measured" style=format!("left: {:.1}%", m * 100.0)></span>
                    })}
                </div>
                <span class="memory-label">{bar.label}</span>
            </div>
            }
        })}
        {starting.map(|(progress, last)| view! {
            <div class="starting" role="status">
                <span class="starting-progress">"Starting: " {progress}</span>
                <code class="starting-line">{last}</code>
            </div>
        })}
        {service.error.map(|e| view! { <p class="error service-error">{e}</p> })}
    }
}

/// Use through the proxy, since the server started and in the last hour.
#[component]
fn Usage(page: Page, id: String) -> impl IntoView {
    let stats = move || -> Option<ServiceStats> {
        page.stats.get()?.services.into_iter().find(|s| s.id == id)
    };
    move || {
        stats().map(|s| {
            let (all, hour) = (s.since_start, s.last_hour);
            let figures = [
                (
                    "Requests",
                    format!("{} ({} in the last hour)", all.requests, hour.requests),
                ),
                ("Errors", all.errors.to_string()),
                (
                    "Tokens in / out",
                    format!("{} / {}", all.prompt_tokens, all.completion_tokens),
                ),
                (
                    "Latency p50 / p95",
                    format!(
                        "{} / {}",
                        format::latency(all.latency_seconds.p50),
                        format::latency(all.latency_seconds.p95)
                    ),
                ),
                (
                    "First byte p50",
                    format::latency(all.time_to_first_byte_seconds.p50),
                ),
                ("Busy", format::duration(all.busy_seconds)),
                ("Cold starts", all.cold_starts.to_string()),
                (
                    "Bytes in / out",
                    format!("{} / {}", all.bytes_in, all.bytes_out),
                ),
            ];
            view! {
                <dl class="stats usage">
                    {figures.into_iter().map(|(name, value)| view! {
                        <div><dt>{name}</dt><dd>{value}</dd></div>
                    }).collect_view()}
                </dl>
            }
        })
    }
}

/// The container's last lines.
#[component]
fn Log(page: Page, id: String) -> impl IntoView {
    let lines = move || page.logs.get().get(&id).cloned();
    move || {
        lines().map(|lines| {
            view! {
                <pre class="log" aria-label="Log">{lines.join("\n")}</pre>
            }
        })
    }
}
