//! One proxied call measured as its answer goes by, recorded when it is over: at the answer's last byte, or
//! when the client hangs up (the body, and the meter with it, is dropped).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;

use crate::usage::{Call, InFlight, TokenCounter, Usage};

/// Watches one answer go by and records the call when it is over: at its last byte, or when the client
/// hangs up (the body, and this with it, is dropped).
pub(super) struct Meter {
    pub usage: Arc<Usage>,
    pub service: String,
    pub sent: Instant,
    pub bytes_in: Arc<AtomicU64>,
    pub tokens: TokenCounter,
    pub call: Call,
    pub _in_flight: InFlight,
    /// The call's span: it ends with the answer, so a streamed answer's span lasts as long as the stream.
    pub span: tracing::Span,
}

impl Meter {
    pub fn passed(&mut self, chunk: &Result<Bytes, reqwest::Error>) {
        match chunk {
            Ok(bytes) => {
                self.call
                    .first_byte
                    .get_or_insert_with(|| self.sent.elapsed());
                self.call.bytes_out += bytes.len() as u64;
                self.tokens.feed(bytes);
            }
            Err(_) => self.call.error = true,
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        let mut call = std::mem::take(&mut self.call);
        call.took = Some(self.sent.elapsed());
        call.bytes_in = self.bytes_in.load(Ordering::Relaxed);
        let tokens = std::mem::replace(&mut self.tokens, TokenCounter::new(""));
        call.tokens = tokens.finish();
        if let Some((prompt, completion)) = call.tokens {
            self.span
                .record("gen_ai.usage.input_tokens", prompt)
                .record("gen_ai.usage.output_tokens", completion);
        }
        self.usage.record(&self.service, &call);
    }
}
