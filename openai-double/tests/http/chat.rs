use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;

use super::*;

#[tokio::test]
async fn a_streamed_chat_arrives_word_by_word_and_ends_with_usage_and_done() {
    let url = start(quick()).await;
    let reply = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(&json!({
            "model": "double",
            "messages": [
                { "role": "system", "content": "be brief" },
                { "role": "user", "content": "say something nice" },
            ],
            "stream": true,
            "stream_options": { "include_usage": true },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(reply.headers()["content-type"], "text/event-stream");
    // Each piece is timed as it arrives: a buffered reply would come as one piece, all at the end.
    let sent = Instant::now();
    let mut arrivals = Vec::new();
    let mut body = Vec::new();
    let mut pieces = reply.bytes_stream();
    while let Some(piece) = pieces.next().await {
        arrivals.push(sent.elapsed());
        body.extend_from_slice(&piece.unwrap());
    }
    assert!(arrivals.len() >= 4, "{arrivals:?}");
    assert!(arrivals[arrivals.len() - 1] - arrivals[0] >= Duration::from_millis(40));

    let body = String::from_utf8(body).unwrap();
    let events = events(&body);
    assert_eq!(events.last(), Some(&"[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|event| serde_json::from_str(event).unwrap())
        .collect();
    let (usage, chunks) = chunks.split_last().unwrap();
    let (end, words) = chunks.split_last().unwrap();
    assert_eq!(words.len(), 4);
    assert_eq!(words[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = words
        .iter()
        .map(|chunk| chunk["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "echo: say something nice");
    for chunk in chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], chunks[0]["id"]);
        assert_eq!(chunk["model"], "double");
    }
    assert!(chunks[0]["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(end["choices"][0]["delta"], json!({}));
    assert_eq!(end["choices"][0]["finish_reason"], "stop");
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        usage["usage"],
        json!({ "prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9 })
    );
}

#[tokio::test]
async fn a_whole_chat_reply_counts_words_as_tokens() {
    let url = start(quick()).await;
    let (status, reply) = post_json(
        &url,
        "/v1/chat/completions",
        json!({ "messages": [
            { "role": "user", "content": "first question" },
            { "role": "assistant", "content": "an answer" },
            { "role": "user", "content": [{ "type": "text", "text": "count these four words" }] },
        ]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["object"], "chat.completion");
    assert!(reply["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(reply["created"].as_u64().unwrap() > 1_700_000_000);
    // Without a `model`, the first served model answers.
    assert_eq!(reply["model"], "double");
    assert_eq!(
        reply["choices"],
        json!([{
            "index": 0,
            "message": { "role": "assistant", "content": "echo: count these four words" },
            "finish_reason": "stop",
        }])
    );
    assert_eq!(
        reply["usage"],
        json!({ "prompt_tokens": 8, "completion_tokens": 5, "total_tokens": 13 })
    );
}

#[tokio::test]
async fn a_fixed_reply_is_cut_at_max_tokens() {
    let url = start(Options {
        reply: Some("one two three four five".into()),
        ..quick()
    })
    .await;
    let ask = |max_tokens: u32| json!({ "messages": [{ "role": "user", "content": "hi" }], "max_tokens": max_tokens });
    let (_, whole) = post_json(&url, "/v1/chat/completions", ask(10)).await;
    assert_eq!(
        whole["choices"][0]["message"]["content"],
        "one two three four five"
    );
    let (_, cut) = post_json(&url, "/v1/chat/completions", ask(2)).await;
    assert_eq!(cut["choices"][0]["message"]["content"], "one two");
    assert_eq!(cut["choices"][0]["finish_reason"], "length");
    assert_eq!(cut["usage"]["completion_tokens"], 2);
}
