//! The current server's model service and job failures over real HTTP (lazy loading, `/v1/init`, the
//! inventory, the VRAM pre-flight), against the February server where the two differ.

use std::time::{Duration, Instant};

use serde_json::json;

use super::support::*;
use super::{finished, post_json, release, start};
use crate::{Faults, Mode, Options};

#[tokio::test]
async fn health_says_not_initialised_until_init_has_loaded() {
    let url = start(current(Options {
        model_load_ms: 300,
        ..Options::default()
    }))
    .await;
    let health = get_json(&url, "/health").await;
    assert_eq!(health["code"], 200);
    let data = &health["data"];
    assert_eq!(
        (
            data["status"].clone(),
            data["models_initialized"].clone(),
            data["llm_initialized"].clone()
        ),
        (json!("ok"), json!(false), json!(false))
    );
    assert_eq!(
        data["loaded_model"], "acestep-v15-turbo",
        "the configured DiT, as upstream reads it"
    );
    assert_eq!(
        (data["loaded_lm_model"].clone(), data["device_map"].clone()),
        (json!(null), json!(null))
    );
    assert_eq!(data["gpus"][0]["name"], "NVIDIA H100 80GB HBM3");
    let began = Instant::now();
    let body = json!({"init_llm": true, "lm_model_path": "acestep-5Hz-lm-1.7B"});
    let init = tokio::spawn({
        let url = url.clone();
        async move { post_json(&url, "/v1/init", body).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        get_json(&url, "/health").await["data"]["models_initialized"],
        false
    );
    let (status, reply) = init.await.unwrap();
    assert!(
        began.elapsed() >= Duration::from_millis(300),
        "it answers when loaded"
    );
    assert_eq!((status.as_u16(), reply["code"].clone()), (200, json!(200)));
    let data = &reply["data"];
    assert_eq!(data["message"], "Model initialization completed");
    assert_eq!(
        (data["slot"].clone(), data["loaded_model"].clone()),
        (json!(1), json!("acestep-v15-turbo"))
    );
    assert_eq!(
        (
            data["loaded_lm_model"].clone(),
            data["llm_initialized"].clone()
        ),
        (json!("acestep-5Hz-lm-1.7B"), json!(true))
    );
    let health = get_json(&url, "/health").await["data"].clone();
    assert_eq!(
        (
            health["models_initialized"].clone(),
            health["loaded_lm_model"].clone()
        ),
        (json!(true), json!("acestep-5Hz-lm-1.7B"))
    );
    assert_eq!(
        health["device_map"]["summary"],
        "dit:0, vae:0, text_encoder:0, lm:0"
    );
    for path in ["/v1/models", "/v1/model_inventory"] {
        let inventory = get_json(&url, path).await["data"].clone();
        assert_eq!(
            inventory["lm_models"],
            json!([{"name": "acestep-5Hz-lm-1.7B", "is_loaded": true}, {"name": "acestep-5Hz-lm-4B", "is_loaded": false}]),
            "{path}"
        );
        assert_eq!(
            inventory["models"][1],
            json!({"name": "acestep-v15-turbo", "is_default": true, "is_loaded": true, "supported_task_types": ["text2music", "repaint", "cover"]})
        );
        assert_eq!(
            (
                inventory["default_model"].clone(),
                inventory["llm_initialized"].clone()
            ),
            (json!("acestep-v15-turbo"), json!(true))
        );
    }
}

#[tokio::test]
async fn init_refuses_what_it_cannot_load_as_upstream_does() {
    let url = start(current(Options::default())).await;
    let (status, unknown) =
        post_json(&url, "/v1/init", json!({"model": "acestep-v15-xl-turbo"})).await;
    assert_eq!(
        (
            status.as_u16(),
            unknown["code"].clone(),
            unknown["data"].clone()
        ),
        (200, json!(500), json!(null))
    );
    assert!(unknown["error"]
        .as_str()
        .unwrap()
        .starts_with("Model initialization failed: DiT init failed for slot 1:"));
    let (_, slot) = post_json(&url, "/v1/init", json!({"slot": 3})).await;
    assert_eq!(slot["code"], 400);
    let (_, lm) = post_json(
        &url,
        "/v1/init",
        json!({"init_llm": true, "lm_model_path": "acestep-5Hz-lm-9B"}),
    )
    .await;
    assert!(
        lm["error"]
            .as_str()
            .unwrap()
            .starts_with("Model initialization failed: LLM init failed:"),
        "{lm}"
    );
    let (status, invalid) = post_json(&url, "/v1/init", json!({"slot": 0})).await;
    assert_eq!(status.as_u16(), 422);
    assert_eq!(invalid["detail"][0]["loc"], json!(["body", "slot"]));
    let keyed = start(current(super::keyed())).await;
    for path in ["/v1/models", "/v1/model_inventory"] {
        assert_eq!(
            reqwest::get(format!("{keyed}{path}"))
                .await
                .unwrap()
                .status(),
            401,
            "{path}"
        );
    }
    assert_eq!(
        post_json(&keyed, "/v1/init", json!({})).await.0.as_u16(),
        401
    );
    assert_eq!(
        reqwest::get(format!("{keyed}/health"))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn the_first_job_pays_the_load_while_it_reads_as_queued() {
    let url = start(current(Options {
        model_load_ms: 800,
        ..Options::default()
    }))
    .await;
    let body = json!({"audio_format": "wav", "audio_duration": 6, "batch_size": 1});
    let began = Instant::now();
    let id = release(&url, body.clone()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, reply) = post_json(&url, "/query_result", json!({ "task_id_list": [&id] })).await;
    assert_eq!(results(&reply["data"][0])[0]["stage"], "queued");
    assert_eq!(finished(&url, &id).await["status"], 1);
    assert!(began.elapsed() >= Duration::from_millis(800));
    let health = get_json(&url, "/health").await["data"].clone();
    assert_eq!(
        (
            health["models_initialized"].clone(),
            health["loaded_lm_model"].clone()
        ),
        (json!(true), json!("acestep-5Hz-lm-4B")),
        "the lazy load takes the first LM listed"
    );
    let began = Instant::now();
    let second = release(&url, body).await;
    assert_eq!(finished(&url, &second).await["status"], 1);
    assert!(began.elapsed() < Duration::from_millis(800), "loaded once");
}

#[tokio::test]
async fn first_delay_makes_only_the_next_job_slow() {
    let faults = Faults {
        first_delay_ms: 600,
        ..Faults::default()
    };
    let url = start(with_faults(Mode::February, faults)).await;
    let body = json!({"audio_format": "wav", "audio_duration": 6, "batch_size": 1});
    for (slow, expected) in [(true, "the cold first job"), (false, "a warm one")] {
        let began = Instant::now();
        let id = release(&url, body.clone()).await;
        finished(&url, &id).await;
        assert_eq!(
            began.elapsed() >= Duration::from_millis(600),
            slow,
            "{expected}"
        );
    }
}

#[tokio::test]
async fn vram_failures_say_why_on_the_current_server_only() {
    let body = json!({"audio_format": "wav", "audio_duration": 6, "batch_size": 1});
    for mode in [Mode::February, Mode::Current] {
        let faults = Faults {
            vram_next: 1,
            ..Faults::default()
        };
        let url = start(with_faults(mode, faults)).await;
        let failed = finished(&url, &release(&url, body.clone()).await).await;
        assert_eq!(failed["status"], 2);
        let entry = &results(&failed)[0];
        match mode {
            Mode::February => assert!(entry.get("error").is_none(), "{entry}"),
            Mode::Current => assert_eq!(
                entry["error"],
                "Insufficient free VRAM: need ~0.8 GB, only 0.4 GB available. \
                 Reduce batch size (currently 1) or audio duration (currently 6s)."
            ),
        }
        assert_eq!(
            finished(&url, &release(&url, body.clone()).await).await["status"],
            1
        );
    }
}

#[tokio::test]
async fn a_4b_short_of_vram_fails_every_job_until_the_client_switches_to_the_1_7b() {
    let faults = Faults {
        lm_4b_short_of_vram: true,
        ..Faults::default()
    };
    let url = start(with_faults(Mode::Current, faults.clone())).await;
    let body = json!({"audio_format": "wav", "audio_duration": 6, "batch_size": 1});
    for _ in 0..2 {
        let failed = finished(&url, &release(&url, body.clone()).await).await;
        let error = results(&failed)[0]["error"].as_str().unwrap().to_string();
        assert!(
            error.starts_with("Insufficient free VRAM: need ~0.8 GB"),
            "{error}"
        );
    }
    assert_eq!(
        get_json(&url, "/health").await["data"]["gpus"][0]["free_vram_gb"],
        0.4
    );
    let switch = json!({"init_llm": true, "lm_model_path": "acestep-5Hz-lm-1.7B"});
    assert_eq!(post_json(&url, "/v1/init", switch).await.1["code"], 200);
    let done = finished(&url, &release(&url, body.clone()).await).await;
    assert_eq!(done["status"], 1);
    assert_eq!(results(&done)[0]["lm_model"], "acestep-5Hz-lm-1.7B");

    // February cannot switch: a job runs with the LM it names.
    let url = start(with_faults(Mode::February, faults)).await;
    let named = |lm: &str| json!({"audio_format": "wav", "audio_duration": 6, "batch_size": 1, "lm_model_path": lm});
    let failed = finished(&url, &release(&url, named("acestep-5Hz-lm-4B")).await).await;
    assert_eq!(failed["status"], 2);
    assert!(results(&failed)[0].get("error").is_none());
    let done = finished(&url, &release(&url, named("acestep-5Hz-lm-1.7B")).await).await;
    assert_eq!(done["status"], 1);
    assert_eq!(
        results(&done)[0]["lm_model"],
        "acestep-5Hz-lm-0.6B",
        "February's quirk"
    );
}

#[tokio::test]
async fn repaint_fields_are_logged_and_the_current_server_refuses_bad_ones() {
    for mode in [Mode::February, Mode::Current] {
        let url = start(with_faults(mode, Faults::default())).await;
        let body = json!({"task_type": "repaint", "repaint_mode": "conservative", "repaint_strength": 0.2,
                          "chunk_mask_mode": "explicit", "repaint_wav_crossfade_sec": 0.3});
        assert_eq!(post_json(&url, "/release_task", body).await.0, 200);
        let bad = json!({"repaint_mode": "wild", "audio_format": "wav"});
        let status = reqwest::Client::new()
            .post(format!("{url}/release_task"))
            .json(&bad)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(
            status,
            if mode == Mode::Current { 500 } else { 200 },
            "{mode:?}"
        );
        let log = get_json(&url, "/_double/requests").await;
        let logged = &log[0]["release_task"];
        assert_eq!(
            (
                logged["repaint_mode"].clone(),
                logged["repaint_strength"].clone(),
                logged["chunk_mask_mode"].clone()
            ),
            (json!("conservative"), json!(0.2), json!("explicit"))
        );
        assert_eq!(
            logged["repaint_wav_crossfade_sec"], 0.3,
            "accepted, then ignored"
        );
        let config = json!({"injection_ratio": 1.0, "latent_crossfade_frames": 25, "wav_crossfade_sec": 0.05});
        match mode {
            Mode::February => assert!(logged.get("repaint_config").is_none()),
            Mode::Current => assert_eq!(logged["repaint_config"], config),
        }
    }
}

#[tokio::test]
async fn stats_have_the_same_shape_on_both_servers() {
    for mode in [Mode::February, Mode::Current] {
        let url = start(with_faults(mode, Faults::default())).await;
        let id = release(
            &url,
            json!({"audio_format": "wav", "audio_duration": 6, "batch_size": 1}),
        )
        .await;
        finished(&url, &id).await;
        let stats = get_json(&url, "/v1/stats").await["data"].clone();
        assert_eq!(
            stats["jobs"],
            json!({"total": 1, "queued": 0, "running": 0, "succeeded": 1, "failed": 0})
        );
        let mut keys: Vec<&String> = stats.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["avg_job_seconds", "jobs", "queue_maxsize", "queue_size"]
        );
        assert_eq!(stats["queue_maxsize"], 200);
    }
}
