//! The double over real HTTP on 127.0.0.1:0, as a client sees it; `process.rs` runs the binary itself.

mod chat;
mod completions;
mod health;
mod other_endpoints;
mod process;

use std::time::Duration;

use openai_double::{serve, Options};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpListener;

/// Starts a double with `options` and returns its base URL.
async fn start(options: Options) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, options, std::future::pending()));
    url
}

/// Options for a ready double that streams quickly.
fn quick() -> Options {
    Options {
        chunk_delay: Duration::from_millis(10),
        ..Options::default()
    }
}

async fn post_json(url: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let reply = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (reply.status(), reply.json().await.unwrap())
}

/// The `data:` payloads of a server-sent event stream, in order.
fn events(body: &str) -> Vec<&str> {
    body.split("\n\n")
        .filter(|event| !event.is_empty())
        .map(|event| {
            event
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("{event:?}"))
        })
        .collect()
}
