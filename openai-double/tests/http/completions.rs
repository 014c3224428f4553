use serde_json::json;

use super::*;

#[tokio::test]
async fn a_text_completion_echoes_the_prompt() {
    let url = start(quick()).await;
    let (status, reply) = post_json(
        &url,
        "/v1/completions",
        json!({ "model": "double", "prompt": "once upon a time" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["object"], "text_completion");
    assert!(reply["id"].as_str().unwrap().starts_with("cmpl-"));
    assert_eq!(
        reply["choices"],
        json!([{ "index": 0, "text": "echo: once upon a time", "finish_reason": "stop" }])
    );
    assert_eq!(
        reply["usage"],
        json!({ "prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9 })
    );
}

#[tokio::test]
async fn a_streamed_text_completion_ends_with_stop_then_done() {
    let url = start(quick()).await;
    let body = reqwest::Client::new()
        .post(format!("{url}/v1/completions"))
        .json(&json!({ "prompt": "hello world", "stream": true }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = events(&body);
    assert_eq!(events.len(), 5, "{body}");
    assert_eq!(events[4], "[DONE]");
    let chunks: Vec<Value> = events[..4]
        .iter()
        .map(|event| serde_json::from_str(event).unwrap())
        .collect();
    let texts: Vec<&str> = chunks
        .iter()
        .map(|chunk| chunk["choices"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["echo: ", "hello ", "world", ""]);
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], "stop");
    assert!(chunks
        .iter()
        .all(|chunk| chunk["object"] == "text_completion"));
}
