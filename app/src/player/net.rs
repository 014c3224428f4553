//! HTTP from the browser: the JSON API and segment downloads, each logged with its duration, and each
//! with the access token once the listener gave one (`crate::access` decides when to ask).

use js_sys::{ArrayBuffer, Date, Reflect, Uint8Array};
use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, RequestInit, Response};

use crate::access::{self, Ask, Step};
use crate::api::{
    ErrorBody, JOIN_CORRELATED_HEADER, JOIN_CORRELATION_HEADER, SEGMENT_INDEX_HEADER,
};
use crate::storage;
use crate::view::View;

use super::gate::Gate;
use super::timeline::{join_blend, Blend};

/// Writes a timestamped line to the developer console.
pub fn log(message: &str) {
    web_sys::console::log_1(
        &format!("[{}] tsuzuki: {message}", Date::new_0().to_iso_string()).into(),
    );
}

/// Writes a timestamped error to the developer console.
pub fn log_error(message: &str) {
    web_sys::console::error_1(
        &format!("[{}] tsuzuki: {message}", Date::new_0().to_iso_string()).into(),
    );
}

/// Milliseconds on the page's monotonic clock.
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

fn describe(error: JsValue) -> String {
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}

/// One request, with the stored access token if there is one.
async fn fetch(
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

/// The reply if it is a success, else its error message.
async fn checked(method: &str, url: &str, reply: Response) -> Result<Response, String> {
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

/// Sends, and while the server wants a token, asks the listener for it and sends again.
async fn send(
    gate: &Gate,
    view: View,
    method: &str,
    url: &str,
    body: Option<&str>,
) -> Result<Response, String> {
    loop {
        let sent = storage::token();
        let reply = fetch(method, url, body, sent.as_deref()).await?;
        let challenge = reply.headers().get("www-authenticate").ok().flatten();
        let stored = storage::token();
        match access::after(
            reply.status(),
            challenge.as_deref(),
            sent.as_deref(),
            stored.as_deref(),
        ) {
            Step::Done => return checked(method, url, reply).await,
            Step::Retry => {}
            Step::Ask(ask) => {
                log(&format!(
                    "{method} {url}: the server wants its access token"
                ));
                if ask == Ask::Rejected {
                    storage::forget_token();
                }
                let token = gate.ask(view, ask).await.ok_or(access::DECLINED)?;
                storage::set_token(&token);
            }
        }
    }
}

/// A JSON request; `body` is sent as JSON when present. A server that wants its access token gets it.
pub async fn json<T: DeserializeOwned>(
    gate: &Gate,
    view: View,
    method: &str,
    url: &str,
    body: Option<&impl Serialize>,
) -> Result<T, String> {
    let started = now_ms();
    log(&format!("{method} {url} started"));
    let body = body.map(|b| serde_json::to_string(b).unwrap_or_default());
    let outcome = async {
        let reply = send(gate, view, method, url, body.as_deref()).await?;
        let text = JsFuture::from(reply.text().map_err(describe)?)
            .await
            .map_err(describe)?;
        serde_json::from_str(&text.as_string().unwrap_or_default())
            .map_err(|e| format!("{url}: {e}"))
    }
    .await;
    match &outcome {
        Ok(_) => log(&format!(
            "{method} {url} done in {:.0} ms",
            now_ms() - started
        )),
        Err(e) => log_error(e),
    }
    outcome
}

/// Downloads segment `index`, checking the server sent exactly that one and reporting progress (0..1) as
/// bytes arrive. Returns the bytes, the download latency in seconds, and how the segment crossfades in
/// from the one before.
pub async fn segment(
    index: u64,
    progress: impl Fn(f64),
) -> Result<(ArrayBuffer, f64, Blend), String> {
    let url = format!("/audio/{index}.wav");
    let token = storage::token();
    let token = token.as_deref();
    let started = now_ms();
    log(&format!("download of segment {index} started"));
    let reply = async { checked("GET", &url, fetch("GET", &url, None, token).await?).await }
        .await
        .inspect_err(|e| log_error(e))?;
    let header = reply.headers().get(SEGMENT_INDEX_HEADER).ok().flatten();
    if header.as_deref() != Some(index.to_string().as_str()) {
        let message = format!("asked for segment {index}, the server sent {header:?}");
        log_error(&message);
        return Err(message);
    }
    let header = |name| reply.headers().get(name).ok().flatten();
    let blend = join_blend(
        header(JOIN_CORRELATED_HEADER).as_deref(),
        header(JOIN_CORRELATION_HEADER).as_deref(),
    );
    let total: f64 = reply
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let body = reply.body().ok_or("the reply has no body")?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut chunks: Vec<Uint8Array> = Vec::new();
    let mut received = 0u32;
    loop {
        let step = JsFuture::from(reader.read()).await.map_err(describe)?;
        let done = Reflect::get(&step, &"done".into())
            .map_err(describe)?
            .as_bool()
            .unwrap_or(true);
        if done {
            break;
        }
        let chunk: Uint8Array = Reflect::get(&step, &"value".into())
            .map_err(describe)?
            .unchecked_into();
        received += chunk.length();
        chunks.push(chunk);
        if total > 0.0 {
            progress(f64::from(received) / total);
        }
    }
    let bytes = Uint8Array::new_with_length(received);
    let mut at = 0;
    for chunk in chunks {
        bytes.set(&chunk, at);
        at += chunk.length();
    }
    let latency = (now_ms() - started) / 1000.0;
    log(&format!(
        "download of segment {index} done in {:.0} ms ({received} bytes)",
        latency * 1000.0
    ));
    Ok((bytes.buffer(), latency, blend))
}
