//! `GET /audio/{n}.{wav,flac,opus}` and `GET /audio/current.{…}`: segment downloads, with an `ETag` per
//! session, segment and encoding, and byte ranges so a download cut off half-way resumes from the byte it
//! reached. Each response reports the bytes it handed to the connection; the session counts a segment as
//! downloaded once all of them have gone out (`crate::session::Sent`).

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use app::api::{JOIN_CORRELATED_HEADER, JOIN_CORRELATION_HEADER, SEGMENT_INDEX_HEADER};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::ApiError;
use crate::encoding::{self, Format};
use crate::metrics::{Metrics, Served};
use crate::session::{Segment, Sent, Sessions, Which};

const CHUNK: usize = 64 * 1024;

pub(super) async fn audio(
    State(sessions): State<Sessions>,
    Path(file): Path<String>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let (which, format) = name(&file)?;
    let started = Instant::now();
    let segment = sessions.open(which, format)?;
    let etag = format!(
        "\"{}-{}.{}\"",
        segment.session_id,
        segment.index,
        format.extension()
    );
    let content = Content::of(segment).await?;
    let total = content.total();
    let mut response = match answer(&request, &etag, total) {
        Answer::NotModified => {
            // The listener holds every byte already.
            content.sent(&sessions, 0..total, started);
            StatusCode::NOT_MODIFIED.into_response()
        }
        Answer::Unsatisfiable(message) => {
            let mut refused =
                ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "bad_range", message)
                    .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{total}")) {
                refused.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(refused);
        }
        Answer::Whole => content.respond(sessions, 0..total, started).await?,
        Answer::Part(range) => {
            let content_range = format!("bytes {}-{}/{total}", range.start, range.end - 1);
            let mut part = content.respond(sessions, range, started).await?;
            *part.status_mut() = StatusCode::PARTIAL_CONTENT;
            if let Ok(value) = HeaderValue::from_str(&content_range) {
                part.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            part
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.mime()),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    // The same URL names another segment in the next session: always ask (the ETag makes that cheap).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// `3.flac` or `current.opus`: which segment, in which encoding.
fn name(file: &str) -> Result<(Which, Format), ApiError> {
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_segment",
            "segments are named current.<ext> or <number>.<ext>, where <ext> is wav, flac or opus",
        )
    };
    let (stem, extension) = file.rsplit_once('.').ok_or_else(unknown)?;
    let format = Format::from_extension(extension).ok_or_else(unknown)?;
    let which = match stem {
        "current" => Which::Current,
        n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            Which::Index(n.parse().map_err(|_| {
                ApiError::new(StatusCode::NOT_FOUND, "no_such_segment", "no such segment")
            })?)
        }
        _ => return Err(unknown()),
    };
    Ok((which, format))
}

/// What a download answers, from its request's headers.
#[derive(Debug, PartialEq)]
enum Answer {
    Whole,
    /// Bytes `start..end`.
    Part(Range<u64>),
    NotModified,
    Unsatisfiable(String),
}

/// `If-None-Match` with this segment's tag: not modified. A `Range` (unless `If-Range` names another
/// version): that one range, or a clear refusal for a range that is malformed, outside the segment or
/// one of several (one at a time is all a resuming player needs).
fn answer(request: &HeaderMap, etag: &str, total: u64) -> Answer {
    let text = |name| {
        request
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(tags) = text(header::IF_NONE_MATCH) {
        let matches = |tag: &str| tag == "*" || tag.trim_start_matches("W/") == etag;
        if tags.split(',').map(str::trim).any(matches) {
            return Answer::NotModified;
        }
    }
    let Some(range) = text(header::RANGE) else {
        return Answer::Whole;
    };
    if text(header::IF_RANGE).is_some_and(|tag| tag.trim() != etag) {
        return Answer::Whole;
    }
    let parsed = http_range_header::parse_range_header(range)
        .map_err(|_| format!("malformed Range {range:?}: ask for bytes=<first>-[<last>]"))
        .and_then(|ranges| {
            ranges
                .validate(total)
                .map_err(|_| format!("Range {range:?} does not fit the segment's {total} bytes"))
        });
    match parsed.as_deref() {
        Ok([one]) => Answer::Part(*one.start()..*one.end() + 1),
        Ok(_) => Answer::Unsatisfiable("one range at a time".into()),
        Err(message) => Answer::Unsatisfiable(message.clone()),
    }
}

/// A segment's bytes as served: its stored file, or for a WAV the WAV made from the stored FLAC.
struct Content {
    segment: Segment,
    made: Option<Bytes>,
}

impl Content {
    async fn of(segment: Segment) -> Result<Content, ApiError> {
        // Only a WAV is made; the other encodings are the stored files themselves.
        if segment.format != Format::Wav {
            return Ok(Content {
                segment,
                made: None,
            });
        }
        let file = segment.file.try_clone().map_err(storage)?;
        let wav = tokio::task::spawn_blocking(move || {
            let mut flac = Vec::new();
            std::io::Read::read_to_end(&mut &file, &mut flac).map_err(|e| e.to_string())?;
            encoding::wav_from_flac(&flac)
        })
        .await
        .map_err(storage)?
        .map_err(storage)?;
        Ok(Content {
            segment,
            made: Some(wav.into()),
        })
    }

    fn total(&self) -> u64 {
        self.made
            .as_ref()
            .map_or(self.segment.bytes, |b| b.len() as u64)
    }

    fn sent(&self, sessions: &Sessions, range: Range<u64>, started: Instant) {
        sessions.sent(self.report(range), started.elapsed());
    }

    fn report(&self, range: Range<u64>) -> Sent {
        Sent {
            session_id: self.segment.session_id.clone(),
            index: self.segment.index,
            format: self.segment.format,
            range,
            total: self.total(),
        }
    }

    /// A response carrying bytes `range`, which reports what went out when it is done or dropped.
    async fn respond(
        self,
        sessions: Sessions,
        range: Range<u64>,
        started: Instant,
    ) -> Result<Response, ApiError> {
        let length = range.end - range.start;
        let chunks: BoxStream<'static, std::io::Result<Bytes>> = match &self.made {
            Some(bytes) => {
                let part = bytes.slice(range.start as usize..range.end as usize);
                let pieces = (0..part.len())
                    .step_by(CHUNK)
                    .map(move |at| Ok(part.slice(at..(at + CHUNK).min(part.len()))));
                futures::stream::iter(pieces.collect::<Vec<_>>()).boxed()
            }
            None => {
                let file = self.segment.file.try_clone().map_err(storage)?;
                let mut file = tokio::fs::File::from_std(file);
                file.seek(std::io::SeekFrom::Start(range.start))
                    .await
                    .map_err(storage)?;
                ReaderStream::with_capacity(file.take(length), CHUNK).boxed()
            }
        };
        let mut response = Body::from_stream(Counted {
            chunks,
            sent: 0,
            metrics: sessions.metrics().clone(),
            report: Some((self.report(range), sessions, started)),
        })
        .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        headers.insert(SEGMENT_INDEX_HEADER, HeaderValue::from(self.segment.index));
        let join = self.segment.join;
        let correlated = join.is_some_and(|j| j.correlated);
        headers.insert(
            JOIN_CORRELATED_HEADER,
            HeaderValue::from_static(if correlated { "true" } else { "false" }),
        );
        let correlation = join.map_or(0.0, |j| j.correlation);
        if let Ok(value) = HeaderValue::from_str(&format!("{correlation:.3}")) {
            headers.insert(JOIN_CORRELATION_HEADER, value);
        }
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(
                "x-segment-index, x-join-correlated, x-join-correlation, etag, content-range",
            ),
        );
        Ok(response)
    }
}

fn storage(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "storage",
        format!("cannot read the segment: {e}"),
    )
}

/// A response body that reports the bytes it handed to the connection when it is dropped: complete or cut
/// off (with a known Content-Length hyper stops polling once the last byte is out).
struct Counted {
    chunks: BoxStream<'static, std::io::Result<Bytes>>,
    sent: u64,
    metrics: Arc<Metrics>,
    report: Option<(Sent, Sessions, Instant)>,
}

impl Stream for Counted {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let next = self.chunks.poll_next_unpin(cx);
        if let std::task::Poll::Ready(Some(Ok(chunk))) = &next {
            self.sent += chunk.len() as u64;
            self.metrics.served(Served::Audio, chunk.len() as u64);
        }
        next
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some((mut sent, sessions, started)) = self.report.take() {
            sent.range.end = sent.range.start + self.sent;
            sessions.sent(sent, started.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "\"s-3.flac\"";

    fn ask(pairs: &[(header::HeaderName, &str)]) -> Answer {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(name, HeaderValue::from_str(value).unwrap());
        }
        answer(&headers, TAG, 1000)
    }

    #[test]
    fn segments_are_named_by_index_or_current_and_encoding() {
        assert_eq!(name("3.flac").unwrap(), (Which::Index(3), Format::Flac));
        assert_eq!(
            name("current.opus").unwrap(),
            (Which::Current, Format::Opus)
        );
        assert_eq!(name("0.wav").unwrap(), (Which::Index(0), Format::Wav));
        for bad in [
            "3.mp3",
            "3",
            ".flac",
            "x.wav",
            "-1.wav",
            "99999999999999999999999.wav",
        ] {
            assert_eq!(
                name(bad).unwrap_err().status,
                StatusCode::NOT_FOUND,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_range_is_served_as_that_part_and_a_resumption_from_a_byte_to_the_end() {
        assert_eq!(ask(&[]), Answer::Whole);
        assert_eq!(ask(&[(header::RANGE, "bytes=0-99")]), Answer::Part(0..100));
        assert_eq!(
            ask(&[(header::RANGE, "bytes=400-")]),
            Answer::Part(400..1000)
        );
        assert_eq!(
            ask(&[(header::RANGE, "bytes=-10")]),
            Answer::Part(990..1000)
        );
        assert_eq!(
            ask(&[(header::RANGE, "bytes=990-5000")]),
            Answer::Part(990..1000)
        );
    }

    #[test]
    fn a_bad_range_is_refused_with_a_reason() {
        for (range, reason) in [
            ("bytes=1000-", "does not fit the segment's 1000 bytes"),
            ("bytes=5-2", "does not fit"),
            ("lines=1-2", "malformed"),
            ("bytes=0-1,5-6", "one range at a time"),
        ] {
            match ask(&[(header::RANGE, range)]) {
                Answer::Unsatisfiable(message) => {
                    assert!(message.contains(reason), "{range}: {message}")
                }
                other => panic!("{range}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_same_version_is_not_sent_again_and_a_range_of_another_version_gets_the_whole() {
        assert_eq!(ask(&[(header::IF_NONE_MATCH, TAG)]), Answer::NotModified);
        assert_eq!(
            ask(&[(header::IF_NONE_MATCH, "\"x\", W/\"s-3.flac\"")]),
            Answer::NotModified
        );
        assert_eq!(
            ask(&[(header::IF_NONE_MATCH, "\"s-2.flac\"")]),
            Answer::Whole
        );
        let resume = (header::RANGE, "bytes=400-");
        assert_eq!(
            ask(&[resume.clone(), (header::IF_RANGE, TAG)]),
            Answer::Part(400..1000)
        );
        assert_eq!(
            ask(&[resume, (header::IF_RANGE, "\"other-3.flac\"")]),
            Answer::Whole
        );
    }
}
