//! Server-sent events sent as they are made: each event waits out its delay inside the body stream, so a
//! client sees the first words while the last are still being "generated", as from a real model server.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, Sse};
use futures::{Stream, StreamExt};

/// `data: …` events, `delay` apart.
pub(crate) fn events(
    data: Vec<String>,
    delay: Duration,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream =
        futures::stream::iter(data.into_iter().enumerate()).then(move |(index, data)| async move {
            if index > 0 {
                tokio::time::sleep(delay).await;
            }
            Ok(Event::default().data(data))
        });
    Sse::new(stream)
}
