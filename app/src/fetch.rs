//! One request from the browser with `fetch`, carrying the access token when there is one, and its reply
//! turned into the server's error message when it is not a success.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestInit, Response};

use crate::access::{self, Ask, Step};
use crate::api::ErrorBody;
use crate::storage;

/// What a JavaScript error says.
pub(crate) fn describe(error: JsValue) -> String {
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}

/// One request, with the stored access token if there is one.
pub(crate) async fn fetch(
    method: &str,
    url: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> Result<Response, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    init.set_method(method);
    let headers = web_sys::Headers::new().map_err(describe)?;
    if let Some(token) = token {
        headers
            .set("authorization", &access::authorization(token))
            .map_err(describe)?;
    }
    if let Some(body) = body {
        headers
            .set("content-type", "application/json")
            .map_err(describe)?;
        init.set_body(&JsValue::from_str(body));
    }
    init.set_headers(&headers);
    let reply = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|e| format!("{method} {url}: network error {}", describe(e)))?;
    reply.dyn_into().map_err(describe)
}

/// Sends with the stored access token, and says what to do with the reply (`crate::access` decides); a
/// token the server refused is forgotten.
pub(crate) async fn with_token(
    method: &str,
    url: &str,
    body: Option<&str>,
) -> Result<(Response, Step), String> {
    let sent = storage::token();
    let reply = fetch(method, url, body, sent.as_deref()).await?;
    let challenge = reply.headers().get("www-authenticate").ok().flatten();
    let stored = storage::token();
    let step = access::after(
        reply.status(),
        challenge.as_deref(),
        sent.as_deref(),
        stored.as_deref(),
    );
    if step == Step::Ask(Ask::Rejected) {
        storage::forget_token();
    }
    Ok((reply, step))
}

/// The reply if it is a success, else its error message.
pub(crate) async fn checked(method: &str, url: &str, reply: Response) -> Result<Response, String> {
    if reply.ok() {
        return Ok(reply);
    }
    let status = reply.status();
    let text = match reply.text() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    let message = serde_json::from_str::<ErrorBody>(&text).map_or(text, |b| b.error.message);
    Err(format!("{method} {url}: HTTP {status}: {message}"))
}
