//! What a listener gets from the embedded synthesizer through the API: an account of the mood's words
//! in the status, and focus modulation they can hear in the downloads, switched on and off.

mod common;

use app::api::FocusModulation;
use common::{short, spawn, Server};
use serde_json::{json, Value};
use tsuzuki_audio::{wav, Audio};

fn strings(words: &[&str]) -> Option<Vec<String>> {
    Some(words.iter().map(|w| w.to_string()).collect())
}

#[tokio::test]
async fn the_status_says_which_words_the_synthesizer_used() {
    let server = spawn(short(std::path::Path::new("unused"))).await;
    let idle = server.status().await;
    assert_eq!((idle.backend.heard, idle.backend.ignored), (None, None));
    let started = server
        .post(
            "/session/start",
            json!({"prompt": "rain, piano, 84 bpm and a kazoo"}),
        )
        .await;
    assert_eq!(started.status(), 200);
    let status = server.status().await;
    assert_eq!(status.backend.heard, strings(&["rain", "piano", "84 bpm"]));
    assert_eq!(status.backend.ignored, strings(&["kazoo"]));
    let changed = server
        .post(
            "/session/prompt",
            json!({"prompt": "lofi hip hop, no drums"}),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let status = server.status().await;
    assert_eq!(
        status.backend.heard,
        strings(&["lofi", "hip hop", "no drums"])
    );
    assert_eq!(status.backend.ignored, strings(&[]));
    // The raw JSON carries them as `backend.heard` and `backend.ignored`.
    let raw: Value = server.get("/session/status").await.json().await.unwrap();
    assert_eq!(raw["backend"]["heard"][2], "no drums");
    assert!(raw["backend"]["ignored"].as_array().unwrap().is_empty());
}

/// How strongly the loudness of everything above 400 Hz pulses at `hz`, relative to its pulsing at the
/// rates around it (1 means no more than the music's own movement).
fn pulsing_at(audio: &Audio, hz: f64) -> f64 {
    let rate = f64::from(audio.sample_rate);
    let a = (1.0 - (-std::f64::consts::TAU * 400.0 / rate).exp()) as f32;
    let mut low = 0.0f32;
    let slice = (0.002 * rate) as usize;
    let (mut envelope, mut acc) = (Vec::new(), 0.0f32);
    // Skip the first second (the fade-in) and the last (no full slices).
    let frames = audio.frames();
    for i in (rate as usize)..frames - rate as usize {
        let x = 0.5 * (audio.channels[0][i] + audio.channels[1][i]);
        low += a * (x - low);
        acc += (x - low).powi(2);
        if i % slice == slice - 1 {
            envelope.push(f64::from((acc / slice as f32).sqrt()));
            acc = 0.0;
        }
    }
    let mean = envelope.iter().sum::<f64>() / envelope.len() as f64;
    let magnitude = |f: f64| {
        let w = std::f64::consts::TAU * f * 0.002;
        let (re, im) = envelope
            .iter()
            .enumerate()
            .fold((0.0, 0.0), |(re, im), (k, e)| {
                let v = e - mean;
                (re + v * (w * k as f64).cos(), im + v * (w * k as f64).sin())
            });
        re.hypot(im)
    };
    let around: Vec<f64> = [9.0, 10.5, 12.0, 21.0, 23.0, 25.0]
        .iter()
        .map(|&f| magnitude(f))
        .collect();
    magnitude(hz) / (around.iter().sum::<f64>() / around.len() as f64)
}

async fn first_segment(server: &Server) -> Audio {
    server.wait_for(30, |s| s.segment_index == Some(0)).await;
    let reply = server.get("/audio/current.wav").await;
    assert_eq!(reply.status(), 200);
    wav::decode(&reply.bytes().await.unwrap()).unwrap()
}

async fn error_of(reply: reqwest::Response) -> (u16, String) {
    let status = reply.status().as_u16();
    let body: Value = reply.json().await.unwrap();
    (
        status,
        body["error"]["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn focus_modulation_pulses_at_sixteen_hertz_when_asked_for() {
    let prompt = "bright piano";
    let plain = spawn(short(std::path::Path::new("unused"))).await;
    let started = plain
        .post("/session/start", json!({"prompt": prompt}))
        .await;
    assert_eq!(started.status(), 200);
    assert_eq!(plain.status().await.focus_modulation, FocusModulation::Off);
    let without = pulsing_at(&first_segment(&plain).await, 16.0);

    let focused = spawn(short(std::path::Path::new("unused"))).await;
    let body = json!({"prompt": prompt, "focus_modulation": "high"});
    assert_eq!(focused.post("/session/start", body).await.status(), 200);
    assert_eq!(
        focused.status().await.focus_modulation,
        FocusModulation::High
    );
    let with = pulsing_at(&first_segment(&focused).await, 16.0);
    eprintln!("16 Hz pulsing: {without:.1}× its surroundings without, {with:.1}× with high focus");
    assert!(
        with > 5.0 && with > 3.0 * without,
        "{without:.1} vs {with:.1}"
    );

    // Changed mid-session, the reply and the status say so; bad input changes nothing.
    let reply = focused
        .post("/session/focus", json!({"focus_modulation": "low"}))
        .await;
    assert_eq!(reply.status(), 200);
    let echoed: Value = reply.json().await.unwrap();
    assert_eq!(echoed["focus_modulation"], "low");
    for (body, code) in [
        (json!({"focus_modulation": "max"}), 422),
        (json!({}), 422),
        (json!({"focus_modulation": "low", "depth": 1}), 422),
    ] {
        let (status, message) = error_of(focused.post("/session/focus", body.clone()).await).await;
        assert_eq!(status, code, "{body}: {message}");
        assert!(
            message.contains("focus_modulation") || message.contains("depth"),
            "{message}"
        );
    }
    let text = focused
        .http
        .post(format!("{}/session/focus", focused.base))
        .header("content-type", "text/plain")
        .body("high")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    assert_eq!(
        focused.status().await.focus_modulation,
        FocusModulation::Low
    );

    // Without a session there is nothing to modulate.
    let idle = spawn(short(std::path::Path::new("unused"))).await;
    let (status, _) = error_of(
        idle.post("/session/focus", json!({"focus_modulation": "high"}))
            .await,
    )
    .await;
    assert_eq!(status, 409);
}
