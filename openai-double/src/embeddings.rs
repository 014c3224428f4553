//! `POST /v1/embeddings`: short vectors that depend only on the text, so tests can compare them across
//! runs and builds, and of unit length, as real embedding models' usually are.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::completion::count_tokens;
use crate::errors::{ApiError, Payload};
use crate::models::resolve;
use crate::Server;

const DIMENSIONS: usize = 8;

#[derive(Deserialize)]
pub(crate) struct EmbeddingRequest {
    model: Option<String>,
    input: Input,
}

/// OpenAI's `input`: one text or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    One(String),
    Many(Vec<String>),
}

pub(crate) async fn embed(
    State(server): State<Arc<Server>>,
    Payload(request): Payload<EmbeddingRequest>,
) -> Result<Json<Value>, ApiError> {
    let model = resolve(&server, request.model)?;
    let texts = match request.input {
        Input::One(text) => vec![text],
        Input::Many(texts) => texts,
    };
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(index, text)| json!({ "object": "embedding", "index": index, "embedding": vector(text) }))
        .collect();
    let tokens: usize = texts.iter().map(|text| count_tokens(text)).sum();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    })))
}

/// FNV-1a of the text seeds SplitMix64, whose outputs become the components: std's hashers are not
/// promised to stay the same between Rust releases.
fn vector(text: &str) -> [f32; DIMENSIONS] {
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let raw: [f64; DIMENSIONS] = std::array::from_fn(|_| {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 53 bits as a fraction in [0, 1), then spread over [-1, 1).
        (z >> 11) as f64 / (1_u64 << 53) as f64 * 2.0 - 1.0
    });
    let norm = raw.iter().map(|x| x * x).sum::<f64>().sqrt();
    raw.map(|x| (x / norm) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_fixed_by_the_text_and_of_unit_length() {
        assert_eq!(vector("hello"), vector("hello"));
        assert_ne!(vector("hello"), vector("hello!"));
        for text in ["", "hello", "a longer text with several words"] {
            let norm: f32 = vector(text).iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{text:?}: {norm}");
        }
    }
}
