//! The double over real HTTP: the protocol details the tsuzuki client does not exercise. February mode
//! here; the current server in `tests/audio_output.rs` and `tests/model_service.rs`.

mod audio_output;
mod model_service;
mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::*;

async fn start(options: Options) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(listener, options, std::future::pending()));
    url
}

fn keyed() -> Options {
    Options {
        api_key: Some("k".into()),
        ..Options::default()
    }
}

async fn post_json(url: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let reply = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (reply.status(), reply.json().await.unwrap())
}

async fn release(url: &str, body: Value) -> String {
    let (status, reply) = post_json(url, "/release_task", body).await;
    assert_eq!(status, 200, "{reply}");
    reply["data"]["task_id"].as_str().unwrap().to_string()
}

/// Polls until the task leaves status 0; returns its entry.
async fn finished(url: &str, id: &str) -> Value {
    for _ in 0..500 {
        let (_, reply) = post_json(url, "/query_result", json!({ "task_id_list": [id] })).await;
        if reply["data"][0]["status"] != 0 {
            return reply["data"][0].clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("task {id} never finished");
}

#[tokio::test]
async fn health_and_models_answer_without_the_key_in_acestep_shapes() {
    let url = start(keyed()).await;
    let health = reqwest::get(format!("{url}/health"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        health.starts_with(
            r#"{"data":{"status":"ok","service":"ACE-Step API","version":"1.0"},"code":200,"error":null,"timestamp":"#
        ),
        "{health}"
    );
    assert!(health.ends_with(r#","extra":null}"#), "{health}");
    let models = reqwest::get(format!("{url}/v1/models"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        models.starts_with(r#"{"object":"list","data":[{"id":"acestep/acestep-v15-turbo","name":"ACE-Step acestep-v15-turbo","created":1767400000,"#),
        "{models}"
    );
    for path in ["/nowhere", "/v1/init", "/v1/model_inventory"] {
        let missing = reqwest::Client::new()
            .post(format!("{url}{path}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            missing.status(),
            404,
            "{path} is not on the February server"
        );
        assert_eq!(
            missing.json::<Value>().await.unwrap(),
            json!({"detail": "Not Found"})
        );
    }
}

#[tokio::test]
async fn the_key_is_taken_from_ai_token_first_then_the_header() {
    let url = start(keyed()).await;
    let http = reqwest::Client::new();
    let release = |body: Value, auth: Option<&'static str>| {
        let mut request = http.post(format!("{url}/release_task")).json(&body);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        async move {
            let reply = request.send().await.unwrap();
            (
                reply.status().as_u16(),
                reply.json::<Value>().await.unwrap()["detail"].clone(),
            )
        }
    };
    let body = json!({"audio_format": "wav", "audio_duration": 1});
    assert_eq!(
        release(body.clone(), None).await,
        (401, json!("Missing ai_token or Authorization header"))
    );
    assert_eq!(
        release(body.clone(), Some("Bearer nope")).await,
        (401, json!("Invalid API key"))
    );
    assert_eq!(release(body.clone(), Some("Bearer k")).await.0, 200);
    assert_eq!(
        release(body.clone(), Some("k")).await.0,
        200,
        "a raw key is accepted too"
    );
    let token = |t: &str| json!({"ai_token": t, "audio_format": "wav"});
    assert_eq!(release(token("k"), None).await.0, 200);
    assert_eq!(
        release(token("no"), Some("Bearer k")).await,
        (401, json!("Invalid ai_token"))
    );

    let stats = http.get(format!("{url}/v1/stats")).send().await.unwrap();
    assert_eq!(stats.status(), 401);
    assert_eq!(
        stats.json::<Value>().await.unwrap()["detail"],
        "Missing Authorization header"
    );
    let stats: Value = http
        .get(format!("{url}/v1/stats"))
        .bearer_auth("k")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["data"]["queue_maxsize"], 200);
    assert_eq!(
        stats["data"]["jobs"]["total"], 3,
        "refused requests leave no record"
    );
    let audio = http
        .get(format!("{url}/v1/audio?path=/x.wav"))
        .bearer_auth("no")
        .send()
        .await
        .unwrap();
    assert_eq!(audio.status(), 401);
}

#[tokio::test]
async fn bodies_are_read_as_form_or_sniffed_and_others_refused() {
    let url = start(Options::default()).await;
    let http = reqwest::Client::new();
    let form = http
        .post(format!("{url}/release_task"))
        .form(&[
            ("prompt", "soft rain"),
            ("batch_size", "1"),
            ("thinking", "on"),
            ("audio_format", "wav"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let bare = http
        .post(format!("{url}/release_task"))
        .body(r#"{"taskType": "repaint"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 200);
    let refused = http
        .post(format!("{url}/release_task"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 415);
    assert_eq!(
        refused.json::<Value>().await.unwrap(),
        json!({"detail": "Unsupported Content-Type: "})
    );
    let array = post_json(&url, "/release_task", json!([1])).await;
    assert_eq!(
        array,
        (
            StatusCode::BAD_REQUEST,
            json!({"detail": "JSON payload must be an object"})
        )
    );

    let log: Value = reqwest::get(format!("{url}/_double/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let form = &log[0]["release_task"];
    assert_eq!(
        (form["body"].clone(), form["prompt"].clone()),
        (json!("form"), json!("soft rain"))
    );
    assert_eq!(
        (form["batch_size"].clone(), form["thinking"].clone()),
        (json!(1), json!(true))
    );
    assert_eq!(log[1]["release_task"]["body"], "json");
    assert_eq!(log[1]["release_task"]["task_type"], "repaint");
    assert_eq!(log[2]["status"], 415);
}

#[tokio::test]
async fn default_batch_makes_two_files_and_non_wav_formats_fail() {
    let url = start(Options::default()).await;
    let two = release(&url, json!({"audio_format": "wav", "audio_duration": 6})).await;
    let entry = finished(&url, &two).await;
    assert_eq!(entry["status"], 1);
    let results: Vec<Value> = serde_json::from_str(entry["result"].as_str().unwrap()).unwrap();
    assert_eq!(results.len(), 2);
    assert_ne!(results[0]["file"], results[1]["file"]);
    for result in &results {
        let bytes = reqwest::get(format!("{url}{}", result["file"].as_str().unwrap()))
            .await
            .unwrap();
        assert_eq!(bytes.headers()["content-type"], "audio/wav");
        let audio = tsuzuki_audio::wav::decode(&bytes.bytes().await.unwrap()).unwrap();
        assert_eq!(
            (audio.sample_rate, audio.channels.len(), audio.frames()),
            (48_000, 2, 150 * 1920)
        );
    }
    let mp3 = release(&url, json!({"audio_duration": 6, "batch_size": 1})).await;
    let entry = finished(&url, &mp3).await;
    assert_eq!(entry["status"], 2);
    assert_eq!(
        entry["result"]
            .as_str()
            .unwrap()
            .split(", \"create_time\"")
            .next()
            .unwrap(),
        r#"[{"file": "", "wave": "", "status": 2"#
    );
    assert!(entry["result"]
        .as_str()
        .unwrap()
        .ends_with(r#""progress": 0.0, "stage": "failed"}]"#));
}

#[tokio::test]
async fn unknown_busy_and_forgotten_tasks_look_as_on_acestep() {
    let url = start(Options {
        faults: Faults {
            busy_next: 1,
            forget_next: 1,
            ..Faults::default()
        },
        ..Options::default()
    })
    .await;
    let (status, busy) = post_json(&url, "/release_task", json!({"audio_format": "wav"})).await;
    assert_eq!(
        (status, busy),
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"detail": "Server busy: queue is full"})
        )
    );
    let stats: Value = reqwest::get(format!("{url}/v1/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats["data"]["jobs"]["queued"], 1,
        "the 429 left an orphan record"
    );
    assert_eq!(stats["data"]["queue_size"], 0);

    let forgotten = release(&url, json!({"audio_format": "wav"})).await;
    let reply = reqwest::Client::new()
        .post(format!("{url}/query_result"))
        .json(&json!({ "task_id_list": serde_json::to_string(&[&forgotten, "nope"]).unwrap() }))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expected = format!(
        r#"{{"data":[{{"task_id":"{forgotten}","result":"[]","status":0}},{{"task_id":"nope","result":"[]","status":0}}],"code":200,"error":null,"timestamp":"#
    );
    assert!(reply.starts_with(&expected), "{reply}");
}

#[tokio::test]
async fn a_dropped_request_is_a_transport_error_and_the_next_one_works() {
    let url = start(Options::default()).await;
    let set: Value = reqwest::Client::new()
        .post(format!("{url}/_double/faults"))
        .json(&json!({"drop_next": 1, "delay_ms": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        set,
        json!({
            "delay_ms": 5, "fail_next": 0, "busy_next": 0, "silent_next": 0, "drop_next": 1,
            "forget_next": 0, "vram_next": 0, "level_jitter_db": 0.0, "alter_overlap_next": 0,
            "first_delay_ms": 0, "lm_4b_short_of_vram": false
        })
    );
    let error = reqwest::get(format!("{url}/health")).await.unwrap_err();
    assert!(error.is_request() && !error.is_status(), "{error:?}");
    assert_eq!(
        reqwest::get(format!("{url}/health"))
            .await
            .unwrap()
            .status(),
        200
    );
    let log: Value = reqwest::get(format!("{url}/_double/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (log[0]["dropped"].clone(), log[1]["dropped"].clone()),
        (json!(true), json!(false))
    );
    let faults: Value = reqwest::get(format!("{url}/_double/faults"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["drop_next"], 0);
}

#[tokio::test]
async fn audio_outside_the_output_directory_is_refused() {
    let url = start(Options::default()).await;
    let id = release(
        &url,
        json!({"audio_format": "wav", "audio_duration": 6, "batch_size": 1}),
    )
    .await;
    let entry = finished(&url, &id).await;
    let results: Vec<Value> = serde_json::from_str(entry["result"].as_str().unwrap()).unwrap();
    let file = results[0]["file"].as_str().unwrap();
    assert!(
        file.starts_with("/v1/audio?path=%2F") && file.ends_with(".wav"),
        "{file}"
    );
    let get = |query: String| {
        let address = format!("{url}/v1/audio{query}");
        async move {
            let reply = reqwest::get(address).await.unwrap();
            let status = reply.status().as_u16();
            (
                status,
                reply.json::<Value>().await.unwrap()["detail"].clone(),
            )
        }
    };
    let escape = file
        .replace(".wav", ".wav%2F..%2F..%2F..%2Fsecret.wav")
        .replace("/v1/audio", "");
    assert_eq!(
        get(escape).await,
        (403, json!("Access denied: path outside allowed directory"))
    );
    assert_eq!(get("?path=%2Fetc%2Fpasswd".into()).await.0, 403);
    let gone = file.replace(".wav", "-gone.wav").replace("/v1/audio", "");
    assert_eq!(get(gone).await, (404, json!("Audio file not found")));
    assert_eq!(get(String::new()).await.0, 422);
}

#[tokio::test]
async fn the_sse_stream_sends_each_event_as_it_comes() {
    let url = start(Options::default()).await;
    let started = std::time::Instant::now();
    let reply = reqwest::get(format!("{url}/_double/sse?n=3&interval_ms=150"))
        .await
        .unwrap();
    assert_eq!(reply.headers()["content-type"], "text/event-stream");
    let mut stream = reply.bytes_stream();
    let first = futures::StreamExt::next(&mut stream)
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("data: {\"index\":0}"));
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "the first event came late"
    );
    let mut rest = String::new();
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        rest.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert_eq!(rest.matches("data: ").count(), 2, "{rest}");
    assert!(started.elapsed() >= Duration::from_millis(300));
}
