use reqwest::multipart::{Form, Part};
use serde_json::json;

use super::*;

fn two_models() -> Options {
    Options {
        models: vec!["alpha".into(), "beta".into()],
        ..quick()
    }
}

#[tokio::test]
async fn models_lists_every_served_id() {
    let url = start(two_models()).await;
    let list: Value = reqwest::get(format!("{url}/v1/models"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|model| model["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alpha", "beta"]);
    assert_eq!(list["data"][1]["object"], "model");
    assert_eq!(list["data"][1]["owned_by"], "openai-double");
    assert!(list["data"][1]["created"].as_u64().unwrap() > 1_700_000_000);
}

#[tokio::test]
async fn embeddings_are_deterministic_and_of_unit_length() {
    let url = start(two_models()).await;
    let ask =
        json!({ "model": "beta", "input": ["the same text", "another text", "the same text"] });
    let (status, first) = post_json(&url, "/v1/embeddings", ask.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (_, again) = post_json(&url, "/v1/embeddings", ask).await;
    assert_eq!(first, again);
    assert_eq!(first["object"], "list");
    assert_eq!(first["model"], "beta");
    assert_eq!(
        first["usage"],
        json!({ "prompt_tokens": 8, "total_tokens": 8 })
    );
    let data = first["data"].as_array().unwrap();
    let vectors: Vec<Vec<f64>> = data
        .iter()
        .enumerate()
        .map(|(index, item)| {
            assert_eq!(
                (item["object"].as_str(), item["index"].as_u64()),
                (Some("embedding"), Some(index as u64))
            );
            serde_json::from_value(item["embedding"].clone()).unwrap()
        })
        .collect();
    assert_eq!(vectors[0], vectors[2]);
    assert_ne!(vectors[0], vectors[1]);
    for vector in &vectors {
        assert_eq!(vector.len(), 8);
        let norm = vector.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    }
    let (_, single) = post_json(&url, "/v1/embeddings", json!({ "input": "the same text" })).await;
    assert_eq!(
        single["data"][0]["embedding"],
        first["data"][0]["embedding"]
    );
}

#[tokio::test]
async fn an_unknown_model_is_a_404_and_a_malformed_body_a_400() {
    let url = start(two_models()).await;
    let not_found = json!({ "error": {
        "message": "model \"gamma\" not found",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }});
    for (path, body) in [
        (
            "/v1/chat/completions",
            json!({ "model": "gamma", "messages": [] }),
        ),
        (
            "/v1/completions",
            json!({ "model": "gamma", "prompt": "hi" }),
        ),
        ("/v1/embeddings", json!({ "model": "gamma", "input": "hi" })),
    ] {
        assert_eq!(
            post_json(&url, path, body).await,
            (StatusCode::NOT_FOUND, not_found.clone()),
            "{path}"
        );
    }
    let (status, error) =
        post_json(&url, "/v1/chat/completions", json!({ "model": "alpha" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("messages"),
        "{error}"
    );
    let reply = reqwest::Client::new()
        .post(format!("{url}/v1/embeddings"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
    let error: Value = reply.json().await.unwrap();
    assert_eq!(
        (
            error["error"]["param"].clone(),
            error["error"]["code"].clone()
        ),
        (Value::Null, Value::Null)
    );
}

#[tokio::test]
async fn a_transcription_counts_the_bytes_of_the_file() {
    let url = start(two_models()).await;
    let transcribe = |model: &'static str| {
        let form = Form::new().text("model", model).part(
            "file",
            Part::bytes(vec![7u8; 12_345]).file_name("speech.wav"),
        );
        reqwest::Client::new()
            .post(format!("{url}/v1/audio/transcriptions"))
            .multipart(form)
            .send()
    };
    let reply = transcribe("alpha").await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(
        reply.json::<Value>().await.unwrap(),
        json!({ "text": "transcribed 12345 bytes" })
    );
    let reply = transcribe("whisper").await.unwrap();
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
}
