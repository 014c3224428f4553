//! tsuzuki's browser app: the page, the gapless player, and the API types shared with the server.

// The services page's view is one deeply nested type; the release wasm build computes its layout past the
// default limit of 128.
#![recursion_limit = "256"]

mod access;
pub mod api;
mod fetch;
mod moods;
mod offline;
mod player;
mod services;
mod settings;
mod storage;
mod timer;
mod ui;
mod view;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="description" content="Endless focus music, generated as you listen"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <link rel="manifest" href="/manifest.webmanifest"/>
                <link rel="apple-touch-icon" href="/icon-192.png"/>
                <meta name="theme-color" content="#0f1216"/>
                <AutoReload options=options.clone()/>
                // The page's own files carry content hashes in their names (cargo-leptos), so they can be
                // cached for good; the page itself is always revalidated.
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The app: the player at `/`, the model services at `/services`. Two pages need no client-side router
/// (leptos_router was a sixth of the wasm): the server renders the page its path names, and the browser
/// hydrates the same one.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let services = page_path() == services::PATH;
    let title = if services {
        "Model services · tsuzuki"
    } else {
        "tsuzuki · endless focus music"
    };
    // Type-erased: the pages' full view types are too deep for the server's SSR build.
    let page = if services {
        view! { <services::ServicesPage/> }.into_any()
    } else {
        view! { <ui::Home/> }.into_any()
    };
    view! {
        <Title text=title/>
        {page}
    }
}

/// The path of the page being rendered: the request's on the server, the location's in the browser.
fn page_path() -> String {
    #[cfg(feature = "ssr")]
    let path = use_context::<http::request::Parts>().map(|parts| parts.uri.path().to_string());
    #[cfg(not(feature = "ssr"))]
    let path = web_sys::window().and_then(|w| w.location().pathname().ok());
    path.unwrap_or_default()
}

/// Entry point of the server-rendered build (cargo-leptos).
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}

/// Entry point of the client-only build (Trunk).
#[cfg(feature = "csr")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}
