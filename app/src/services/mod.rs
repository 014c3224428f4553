//! The model services page (`/services`): every service the server may run, with its state, models, GPU
//! memory, uptime and last use, its use through the proxy, its log tail, and buttons to start, stop and
//! restart it; while one starts, how long it has taken and what it last logged. It polls the API (the
//! list each second, statistics and logs every other); a server with a token asks for it once, and the
//! player uses the same one.

mod card;
mod format;
mod net;

use std::collections::{BTreeMap, BTreeSet};

use leptos::ev::SubmitEvent;
use leptos::html::Input;
use leptos::prelude::*;

use crate::access::{self, Ask};
use crate::api::{LogsResponse, ServicesResponse, StatsResponse};
use crate::storage;
use card::ServiceCard;
use net::Failure;

/// Where the page is served.
pub const PATH: &str = "/services";

/// Lines of each service's log shown.
const LOG_LINES: usize = 12;

/// What the page shows, shared by its parts.
#[derive(Clone, Copy)]
struct Page {
    services: RwSignal<Option<ServicesResponse>>,
    stats: RwSignal<Option<StatsResponse>>,
    logs: RwSignal<BTreeMap<String, Vec<String>>>,
    asking: RwSignal<Option<Ask>>,
    error: RwSignal<Option<String>>,
    /// Services with a start, stop or restart on its way.
    busy: RwSignal<BTreeSet<String>>,
}

impl Page {
    /// Refreshes what the page shows; `all` adds the statistics and logs.
    async fn refresh(self, all: bool) {
        let services = match net::get::<ServicesResponse>("/api/v1/services").await {
            Ok(services) => services,
            Err(failure) => return self.failed(failure),
        };
        self.error.set(None);
        let running: Vec<String> = services
            .services
            .iter()
            .filter(|s| s.container_id.is_some())
            .map(|s| s.id.clone())
            .collect();
        self.services.set(Some(services));
        if !all {
            return;
        }
        match net::get::<StatsResponse>("/api/v1/stats").await {
            Ok(stats) => self.stats.set(Some(stats)),
            Err(failure) => return self.failed(failure),
        }
        let mut logs = BTreeMap::new();
        for id in running {
            let url = format!("/api/v1/service/{id}/logs?tail={LOG_LINES}");
            // A container may stop between the list and this: then it has no log to show.
            if let Ok(reply) = net::get::<LogsResponse>(&url).await {
                logs.insert(id, reply.lines);
            }
        }
        self.logs.set(logs);
    }

    fn failed(self, failure: Failure) {
        match failure {
            Failure::Token(ask) => self.asking.set(Some(ask)),
            Failure::Other(message) => self.error.set(Some(message)),
        }
    }

    /// Starts, stops or restarts service `id`; the list shows the outcome as it polls.
    fn act(self, id: String, action: &'static str) {
        self.busy.update(|b| {
            b.insert(id.clone());
        });
        leptos::task::spawn_local(async move {
            let url = format!("/api/v1/service/{id}/{action}");
            if let Err(failure) = net::post(&url).await {
                self.failed(failure);
            }
            self.busy.update(|b| {
                b.remove(&id);
            });
            self.refresh(false).await;
        });
    }
}

/// Polls for as long as the page is open; not while it waits for the token.
fn poll(page: Page) {
    leptos::task::spawn_local(async move {
        for tick in 0u64.. {
            if page.asking.get_untracked().is_none() {
                page.refresh(tick % 2 == 0).await;
            }
            gloo_timers::future::TimeoutFuture::new(1000).await;
        }
    });
}

#[component]
pub fn ServicesPage() -> impl IntoView {
    let page = Page {
        services: RwSignal::new(None),
        stats: RwSignal::new(None),
        logs: RwSignal::new(BTreeMap::new()),
        asking: RwSignal::new(None),
        error: RwSignal::new(None),
        busy: RwSignal::new(BTreeSet::new()),
    };
    // In the browser only, after hydration.
    Effect::new(move |_| poll(page));
    let ids = move || {
        page.services
            .get()
            .map(|list| list.services.into_iter().map(|s| s.id).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    view! {
        <main class="page services-page">
            <header class="masthead">
                <h1>"Model services"</h1>
                <p class="tagline">
                    "What this server runs for you, and how it is used. "
                    <a href="/">"Back to the music"</a>
                </p>
            </header>
            <TokenForm page/>
            {move || page.error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <Summary page/>
            <Show when=move || page.services.get().is_some_and(|l| l.services.is_empty())>
                <p class="panel">
                    "No model services are configured. Declare them in the config file's "
                    <code>"services"</code> " (see the README), and they appear here."
                </p>
            </Show>
            <Show when=move || page.services.get().is_none() && page.error.get().is_none()>
                <p class="panel">"Loading the services…"</p>
            </Show>
            <div class="service-list">
                <For each=ids key=|id| id.clone() let:id>
                    <ServiceCard page id/>
                </For>
            </div>
        </main>
    }
}

/// The GPUs or the budget, above the services.
#[component]
fn Summary(page: Page) -> impl IntoView {
    let text = move || {
        let list = page.services.get()?;
        let gpus = &list.gpus;
        Some(if gpus.devices.is_empty() {
            let budget = list
                .gpu_memory_budget_gb
                .map_or("no budget".to_string(), |b| format!("a {b:.1} GB budget"));
            let why = gpus.reason.clone().unwrap_or_default();
            format!(
                "GPU memory: {:.1} GB claimed of {budget}, as declared. {why}",
                list.gpu_memory_claimed_gb
            )
        } else {
            gpus.devices
                .iter()
                .map(|d| {
                    let busy = d
                        .utilization_percent
                        .map(|p| format!(", {p}% busy"))
                        .unwrap_or_default();
                    format!(
                        "GPU {} {}: {:.1} of {:.1} GB in use{busy}",
                        d.index, d.name, d.memory_used_gb, d.memory_total_gb
                    )
                })
                .collect::<Vec<_>>()
                .join(" · ")
        })
    };
    view! { <p id="gpu-summary" class="gpu-summary">{text}</p> }
}

/// Asks for the server's access token, once: it is kept in this browser.
#[component]
fn TokenForm(page: Page) -> impl IntoView {
    let field = NodeRef::<Input>::new();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let typed = field.get_untracked().map(|f| f.value()).unwrap_or_default();
        if let Some(token) = access::token(&typed) {
            storage::set_token(&token);
            page.asking.set(None);
            leptos::task::spawn_local(page.refresh(true));
        }
    };
    let message = move || match page.asking.get() {
        Some(Ask::Rejected) => "That access token was not accepted; check it and enter it again.",
        _ => "This server needs its access token to show and control its services.",
    };
    view! {
        <Show when=move || page.asking.get().is_some()>
            <form id="access" class="panel" on:submit=submit>
                <p id="access-message" class="note" role="alert">{message}</p>
                <div class="buttons">
                    <label for="token">"Access token"</label>
                    <input id="token" type="password" autocomplete="off" required node_ref=field/>
                    <button type="submit" class="apply">"Use token"</button>
                </div>
            </form>
        </Show>
    }
}
