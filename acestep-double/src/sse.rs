//! `GET /_double/sse?n=3&interval_ms=200`: n server-sent events, one per interval. The real server streams
//! SSE from `/v1/chat/completions` with `stream: true`; this simpler stream lets tests check that a proxy
//! passes events through as they come instead of buffering the reply.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::Query;
use axum::response::sse::{Event, Sse};
use futures::Stream;
use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct Params {
    #[serde(default = "default_n")]
    n: u32,
    #[serde(default = "default_interval")]
    interval_ms: u64,
}

fn default_n() -> u32 {
    3
}

fn default_interval() -> u64 {
    200
}

pub(crate) async fn events(
    Query(params): Query<Params>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let interval = Duration::from_millis(params.interval_ms);
    let stream = futures::stream::unfold(0, move |index| async move {
        if index >= params.n {
            return None;
        }
        if index > 0 {
            tokio::time::sleep(interval).await;
        }
        let event = Event::default().data(format!("{{\"index\":{index}}}"));
        Some((Ok(event), index + 1))
    });
    Sse::new(stream)
}
