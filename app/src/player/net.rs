//! The player's HTTP: the JSON API and segment downloads, each logged with its duration, and each with the
//! access token once the listener gave one (`crate::access` decides when to ask).

use js_sys::{ArrayBuffer, Date, Reflect, Uint8Array};
use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, RequestCache, RequestInit, Response};

use crate::access::{self, Step};
use crate::api::{JOIN_CORRELATED_HEADER, JOIN_CORRELATION_HEADER, SEGMENT_INDEX_HEADER};
use crate::fetch::{checked, describe, fetch, with_token};
use crate::storage;
use crate::view::View;

use super::encoding::Encoding;
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

/// Whether the server answers at all (its health check needs no token).
pub async fn reachable() -> bool {
    matches!(fetch("GET", "/health", None, None).await, Ok(reply) if reply.ok())
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
        match with_token(method, url, body).await? {
            (reply, Step::Done) => return checked(method, url, reply).await,
            (_, Step::Retry) => {}
            (_, Step::Ask(ask)) => {
                log(&format!(
                    "{method} {url}: the server wants its access token"
                ));
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

/// A segment as downloaded.
pub struct Downloaded {
    pub bytes: ArrayBuffer,
    /// Seconds from the request to the last byte, resumptions included.
    pub latency: f64,
    /// How it crossfades in from the one before.
    pub blend: Blend,
    /// Times the connection broke and the download went on from the byte it had reached.
    pub resumes: u32,
}

/// How often one download may break and resume before it counts as failed (and starts over later).
const RESUMES: u32 = 5;

/// Downloads segment `index` in `encoding`, checking the server sent exactly that one and reporting
/// progress (0..1) as bytes arrive. A connection that breaks half-way is resumed with a `Range` from the
/// byte reached, for the same version only (`If-Range`): another session's segment starts over.
pub async fn segment(
    index: u64,
    encoding: Encoding,
    progress: impl Fn(f64),
) -> Result<Downloaded, String> {
    let url = format!("/audio/{index}.{}", encoding.extension());
    let started = now_ms();
    log(&format!("download of {url} started"));
    let mut body = Body::default();
    let mut blend = None;
    let mut resumes = 0;
    loop {
        let reply = ranged(&url, body.received, body.etag.as_deref())
            .await
            .inspect_err(|e| log_error(e))?;
        let header = |name| reply.headers().get(name).ok().flatten();
        if header(SEGMENT_INDEX_HEADER).as_deref() != Some(index.to_string().as_str()) {
            let message = format!(
                "asked for segment {index}, the server sent {:?}",
                header(SEGMENT_INDEX_HEADER)
            );
            log_error(&message);
            return Err(message);
        }
        if reply.status() != 206 {
            // The whole file: from the start, and with its own join.
            body = Body::default();
            blend = None;
        }
        body.etag = body.etag.or_else(|| header("etag"));
        let length: u32 = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        body.total = body.received + length;
        blend = blend.or_else(|| {
            Some(join_blend(
                header(JOIN_CORRELATED_HEADER).as_deref(),
                header(JOIN_CORRELATION_HEADER).as_deref(),
            ))
        });
        match body.read(&reply, &progress).await {
            Ok(()) => break,
            Err(e) if resumes < RESUMES && body.received > 0 => {
                resumes += 1;
                log_error(&format!(
                    "{url} broke off at byte {} of {} ({e}); resuming from there",
                    body.received, body.total
                ));
            }
            Err(e) => {
                log_error(&format!("{url}: {e}"));
                return Err(e);
            }
        }
    }
    let latency = (now_ms() - started) / 1000.0;
    log(&format!(
        "download of {url} done in {:.0} ms ({} bytes, {resumes} resumptions)",
        latency * 1000.0,
        body.received
    ));
    Ok(Downloaded {
        bytes: body.joined(),
        latency,
        blend: blend.unwrap_or(Blend::Correlated),
        resumes,
    })
}

/// A segment request: the whole file, or from byte `from` on for the version tagged `etag`. Never from
/// or into the HTTP cache: each segment is fetched once, and kept decoded by the player.
async fn ranged(url: &str, from: u32, etag: Option<&str>) -> Result<Response, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    init.set_cache(RequestCache::NoStore);
    let headers = web_sys::Headers::new().map_err(describe)?;
    if let Some(token) = storage::token() {
        headers
            .set("authorization", &access::authorization(&token))
            .map_err(describe)?;
    }
    if from > 0 {
        headers
            .set("range", &format!("bytes={from}-"))
            .map_err(describe)?;
        if let Some(etag) = etag {
            headers.set("if-range", etag).map_err(describe)?;
        }
    }
    init.set_headers(&headers);
    let reply = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|e| format!("GET {url}: network error {}", describe(e)))?;
    checked("GET", url, reply.dyn_into().map_err(describe)?).await
}

/// The bytes of one segment so far, over however many responses.
#[derive(Default)]
struct Body {
    chunks: Vec<Uint8Array>,
    received: u32,
    total: u32,
    etag: Option<String>,
}

impl Body {
    /// Reads `reply`'s body to its end, or until the connection breaks.
    async fn read(&mut self, reply: &Response, progress: &impl Fn(f64)) -> Result<(), String> {
        let body = reply.body().ok_or("the reply has no body")?;
        let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
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
            self.received += chunk.length();
            self.chunks.push(chunk);
            if self.total > 0 {
                progress(f64::from(self.received) / f64::from(self.total));
            }
        }
        // A body that ends early without an error (a proxy closing cleanly) is broken off all the same.
        if self.total > 0 && self.received < self.total {
            return Err(format!("the body ended after {} bytes", self.received));
        }
        Ok(())
    }

    fn joined(self) -> ArrayBuffer {
        let bytes = Uint8Array::new_with_length(self.received);
        let mut at = 0;
        for chunk in self.chunks {
            bytes.set(&chunk, at);
            at += chunk.length();
        }
        bytes.buffer()
    }
}
