//! Helpers for the HTTP tests of the current server: start a double in a mode, make a piece, cut a seed from
//! it, repaint it, and measure what came back.

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use tsuzuki_audio::{wav, Audio};

use super::{finished, release};
use crate::level::{db_to_gain, fit_gain};
use crate::{Faults, Mode, Options};

pub(super) fn current(options: Options) -> Options {
    Options {
        mode: Mode::Current,
        ..options
    }
}

pub(super) fn with_faults(mode: Mode, faults: Faults) -> Options {
    Options {
        mode,
        faults,
        ..Options::default()
    }
}

pub(super) async fn get_json(url: &str, path: &str) -> Value {
    reqwest::get(format!("{url}{path}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub(super) fn results(entry: &Value) -> Vec<Value> {
    serde_json::from_str(entry["result"].as_str().unwrap()).unwrap()
}

/// The first file of a finished job, decoded by its content type.
pub(super) async fn download(url: &str, entry: &Value) -> (String, Audio) {
    assert_eq!(entry["status"], 1, "{entry}");
    let file = results(entry)[0]["file"].as_str().unwrap().to_string();
    let reply = reqwest::get(format!("{url}{file}")).await.unwrap();
    let content_type = reply.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let bytes = reply.bytes().await.unwrap();
    let audio = if content_type == "audio/flac" {
        let mut reader = claxon::FlacReader::new(bytes.as_ref()).unwrap();
        let channels = reader.streaminfo().channels as usize;
        let samples: Vec<i32> = reader.samples().map(Result::unwrap).collect();
        Audio {
            sample_rate: 48_000,
            channels: (0..channels)
                .map(|c| {
                    samples
                        .iter()
                        .skip(c)
                        .step_by(channels)
                        .map(|&s| s as f32 / 32768.0)
                        .collect()
                })
                .collect(),
        }
    } else {
        wav::decode(&bytes).unwrap()
    };
    (content_type, audio)
}

pub(super) async fn text2music(url: &str, seconds: f64) -> Audio {
    let body = json!({"audio_format": "wav", "audio_duration": seconds, "batch_size": 1, "prompt": "calm piano"});
    let id = release(url, body).await;
    download(url, &finished(url, &id).await).await.1
}

/// The client's seed: the last `kept` seconds of `audio` times `db`, then as much silence.
pub(super) fn seed(audio: &Audio, kept: f64, db: f64) -> Audio {
    let frames = (kept * 48_000.0) as usize;
    let gain = db_to_gain(db) as f32;
    let channels = audio
        .channels
        .iter()
        .map(|c| {
            let mut s: Vec<f32> = c[c.len() - frames..].iter().map(|x| x * gain).collect();
            s.resize(2 * frames, 0.0);
            s
        })
        .collect();
    wav::decode(
        &wav::encode(&Audio {
            sample_rate: 48_000,
            channels,
        })
        .unwrap(),
    )
    .unwrap()
}

/// Repaints everything after `kept` seconds of `seed`, uploaded; returns the finished entry.
pub(super) async fn repaint(url: &str, seed: &Audio, kept: f64, extra: Value) -> Value {
    let mut form = Form::new()
        .text("task_type", "repaint")
        .text("repainting_start", kept.to_string())
        .text("repainting_end", "-1")
        .text("batch_size", "1")
        .text("audio_format", "wav")
        .text("prompt", "calm piano")
        .part(
            "src_audio",
            Part::bytes(wav::encode(seed).unwrap()).file_name("seed.wav"),
        );
    for (key, value) in extra.as_object().unwrap() {
        form = form.text(key.clone(), value.as_str().unwrap().to_string());
    }
    let reply: Value = reqwest::Client::new()
        .post(format!("{url}/release_task"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    finished(url, reply["data"]["task_id"].as_str().unwrap()).await
}

/// The least-squares gain of `out` over `seed` on the first `frames` frames, and the largest sample left
/// over once that gain is taken out, in 16-bit steps.
pub(super) fn kept_fit(out: &Audio, seed: &Audio, frames: usize) -> (f64, f64) {
    let flat = |a: &Audio| -> Vec<f64> {
        a.channels
            .iter()
            .flat_map(|c| c[..frames].iter().map(|&s| f64::from(s)))
            .collect()
    };
    let (reference, got) = (flat(seed), flat(out));
    let gain = fit_gain(&reference, &got).unwrap();
    let residual = reference
        .iter()
        .zip(&got)
        .map(|(r, g)| (g - gain * r).abs() * 32768.0)
        .fold(0.0, f64::max);
    (gain, residual)
}

pub(super) fn peak_dbfs(audio: &Audio) -> f64 {
    let peak = audio
        .channels
        .iter()
        .flatten()
        .fold(0.0f32, |p, s| p.max(s.abs()));
    20.0 * f64::from(peak).log10()
}

pub(super) fn db(gain: f64) -> f64 {
    20.0 * gain.log10()
}
