//! The token counts an OpenAI-compatible answer reports in `usage`, read from the bytes as they pass: the
//! JSON of a whole answer, or the events of a streamed one (the last chunk carries `usage` when the client
//! asked for `stream_options.include_usage`). Nothing is parsed unless the answer is one of the two.

use serde_json::Value;

/// Answers above this are not kept for their usage (an embedding of a big batch, an image).
const KEEP_AT_MOST: usize = 1 << 20;

#[derive(Debug)]
pub(crate) struct TokenCounter {
    kind: Kind,
    /// A whole JSON answer so far, or the unfinished line of an event stream.
    pending: Vec<u8>,
    found: Option<(u64, u64)>,
}

#[derive(Debug, PartialEq)]
enum Kind {
    Json,
    Events,
    Other,
}

impl TokenCounter {
    /// A counter for an answer of this content type.
    pub fn new(content_type: &str) -> TokenCounter {
        let kind = if content_type.starts_with("application/json") {
            Kind::Json
        } else if content_type.starts_with("text/event-stream") {
            Kind::Events
        } else {
            Kind::Other
        };
        TokenCounter {
            kind,
            pending: Vec::new(),
            found: None,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        match self.kind {
            Kind::Other => {}
            Kind::Json => {
                if self.pending.len() + bytes.len() > KEEP_AT_MOST {
                    self.kind = Kind::Other;
                    self.pending = Vec::new();
                } else {
                    self.pending.extend_from_slice(bytes);
                }
            }
            Kind::Events => {
                self.pending.extend_from_slice(bytes);
                while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = self.pending.drain(..=end).collect();
                    if let Some(data) = line.strip_prefix(b"data:") {
                        self.found = usage(data).or(self.found);
                    }
                }
                if self.pending.len() > KEEP_AT_MOST {
                    self.pending.clear();
                }
            }
        }
    }

    /// Prompt and completion tokens, if the answer said.
    pub fn finish(self) -> Option<(u64, u64)> {
        match self.kind {
            Kind::Json => usage(&self.pending),
            _ => self.found,
        }
    }
}

fn usage(json: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(json).ok()?.trim();
    // Cheap refusal of the many chunks without it.
    if !text.contains("\"usage\"") {
        return None;
    }
    let value: Value = serde_json::from_str(text).ok()?;
    let usage = value.get("usage")?;
    let prompt = usage.get("prompt_tokens")?.as_u64()?;
    let completion = usage
        .get("completion_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Some((prompt, completion))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_json_answer_is_read_across_chunks() {
        let mut counter = TokenCounter::new("application/json");
        let body = br#"{"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46}}"#;
        counter.feed(&body[..20]);
        counter.feed(&body[20..]);
        assert_eq!(counter.finish(), Some((12, 34)));
        let mut embeddings = TokenCounter::new("application/json; charset=utf-8");
        embeddings.feed(br#"{"data": [], "usage": {"prompt_tokens": 5, "total_tokens": 5}}"#);
        assert_eq!(embeddings.finish(), Some((5, 0)));
    }

    #[test]
    fn a_stream_reports_its_usage_in_a_late_event_split_anywhere() {
        let mut counter = TokenCounter::new("text/event-stream");
        let stream = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n\
                      data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n\
                      data: [DONE]\n\n";
        for chunk in stream.as_bytes().chunks(7) {
            counter.feed(chunk);
        }
        assert_eq!(counter.finish(), Some((3, 1)));
    }

    #[test]
    fn other_answers_and_answers_without_usage_report_nothing() {
        let mut audio = TokenCounter::new("audio/flac");
        audio.feed(br#"{"usage": {"prompt_tokens": 1}}"#);
        assert_eq!(audio.finish(), None);
        let mut plain = TokenCounter::new("text/event-stream");
        plain.feed(b"data: {\"choices\": []}\n\n");
        assert_eq!(plain.finish(), None);
    }
}
