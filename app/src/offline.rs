//! Installable and quick to open: registers the service worker (`public/sw.js`), which keeps the app shell
//! (never the music) so the page opens even while the server is down.

use wasm_bindgen::JsValue;

pub fn register_service_worker() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let navigator = window.navigator();
    // Only secure contexts (https, or this machine) have service workers; calling into a missing one
    // would throw.
    if !js_sys::Reflect::has(&navigator, &JsValue::from_str("serviceWorker")).unwrap_or(false) {
        return;
    }
    let _ = navigator.service_worker().register("/sw.js");
}
