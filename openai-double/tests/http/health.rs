use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

#[tokio::test]
async fn health_answers_503_while_loading_then_200() {
    let started = Instant::now();
    let url = start(Options {
        startup_delay: Duration::from_millis(300),
        ..quick()
    })
    .await;
    let loading = json!({ "error": { "message": "Loading model", "type": "unavailable_error", "code": 503 } });
    for path in ["/health", "/v1/models"] {
        let reply = reqwest::get(format!("{url}{path}")).await.unwrap();
        assert_eq!(reply.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(reply.json::<Value>().await.unwrap(), loading, "{path}");
    }
    let (status, body) = post_json(&url, "/v1/chat/completions", json!({ "messages": [] })).await;
    assert_eq!((status, body), (StatusCode::SERVICE_UNAVAILABLE, loading));
    loop {
        let reply = reqwest::get(format!("{url}/health")).await.unwrap();
        if reply.status() == StatusCode::OK {
            assert_eq!(
                reply.json::<Value>().await.unwrap(),
                json!({ "status": "ok" })
            );
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(2), "never loaded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn without_a_startup_delay_it_is_ready_at_once() {
    let url = start(quick()).await;
    let reply = reqwest::get(format!("{url}/health")).await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
}
