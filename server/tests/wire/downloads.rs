//! Segment downloads over real HTTP: the three encodings, byte ranges, resumption and revalidation.

use super::common::{self, short, spawn, Server};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value};
use tsuzuki_audio::{flac, wav};

/// A session on short segments whose first segment is ready.
async fn playing() -> Server {
    let server = spawn(short(std::path::Path::new("unused"))).await;
    server.post("/session/start", json!({})).await;
    server.wait_for(30, |s| s.segment_index == Some(0)).await;
    server
}

async fn get(server: &Server, path: &str, headers: &[(&'static str, &str)]) -> reqwest::Response {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    server
        .http
        .get(format!("{}{path}", server.base))
        .headers(map)
        .send()
        .await
        .unwrap()
}

/// Decodes an Ogg Opus file as a browser does: the pre-skip dropped, cut at the last granule position.
fn opus_frames(bytes: &[u8]) -> usize {
    let mut reader = ogg::PacketReader::new(std::io::Cursor::new(bytes));
    let head = reader.read_packet_expected().unwrap();
    assert_eq!(&head.data[..8], b"OpusHead");
    assert_eq!(head.data[9], 2, "stereo");
    let pre_skip = u16::from_le_bytes([head.data[10], head.data[11]]) as u64;
    let mut last = 0;
    while let Some(packet) = reader.read_packet().unwrap() {
        last = packet.absgp_page();
    }
    (last - pre_skip) as usize
}

#[tokio::test]
async fn a_segment_comes_as_wav_flac_and_opus_with_the_same_frames() {
    let server = playing().await;
    let mut bodies = Vec::new();
    for (extension, mime) in [
        ("wav", "audio/wav"),
        ("flac", "audio/flac"),
        ("opus", "audio/ogg; codecs=opus"),
    ] {
        let reply = server.get(&format!("/audio/0.{extension}")).await;
        assert_eq!(reply.status(), 200, "{extension}");
        assert_eq!(reply.headers()["content-type"], mime);
        assert_eq!(reply.headers()["accept-ranges"], "bytes");
        assert_eq!(reply.headers()["x-segment-index"], "0");
        let etag = reply.headers()["etag"].to_str().unwrap().to_string();
        assert!(
            etag.starts_with('"') && etag.ends_with(&format!("-0.{extension}\"")),
            "{etag}"
        );
        let bytes = common::declared_body(reply).await;
        bodies.push(bytes);
    }
    let pcm = wav::decode(&bodies[0]).unwrap();
    assert_eq!(pcm.frames(), 384_000);
    assert_eq!(flac::decode(&bodies[1]).unwrap(), pcm, "FLAC is lossless");
    assert_eq!(
        opus_frames(&bodies[2]),
        384_000,
        "Opus ends where the segment ends"
    );
    let (wav, flac, opus) = (
        bodies[0].len() as f64,
        bodies[1].len() as f64,
        bodies[2].len() as f64,
    );
    // The synthesizer fills the spectrum (air, hats), which lossless coding shrinks to about 70 %.
    assert!(flac < 0.8 * wav, "FLAC {flac} of WAV {wav}");
    // 128 kb/s for 8 s is 128 kB; Ogg framing and VBR add a little.
    assert!((100_000.0..160_000.0).contains(&opus), "Opus {opus}");
}

#[tokio::test]
async fn a_cut_download_resumes_from_the_byte_it_reached() {
    let server = playing().await;
    let whole = server.get("/audio/0.flac").await;
    let etag = whole.headers()["etag"].to_str().unwrap().to_string();
    let whole = whole.bytes().await.unwrap();
    // That was every byte: generation moved on. The next segment is downloaded in two parts.
    server.wait_for(30, |s| s.segment_index == Some(1)).await;
    let full = get(&server, "/audio/1.flac", &[])
        .await
        .bytes()
        .await
        .unwrap();
    let half = full.len() / 2;
    let head = get(
        &server,
        "/audio/1.flac",
        &[("range", &format!("bytes=0-{}", half - 1))],
    )
    .await;
    assert_eq!(head.status(), 206);
    assert_eq!(
        head.headers()["content-range"],
        format!("bytes 0-{}/{}", half - 1, full.len()).as_str()
    );
    let head = head.bytes().await.unwrap();
    assert_eq!(&head[..], &full[..half]);
    assert_ne!(whole, full);
    let etag1 = format!("{}1.flac\"", etag.trim_end_matches("0.flac\""));
    let tail = get(
        &server,
        "/audio/1.flac",
        &[("range", &format!("bytes={half}-")), ("if-range", &etag1)],
    )
    .await;
    assert_eq!(tail.status(), 206);
    let tail = tail.bytes().await.unwrap();
    assert_eq!([&head[..], &tail[..]].concat(), &full[..]);
}

#[tokio::test]
async fn half_a_segment_does_not_let_generation_move_on() {
    let server = playing().await;
    let total: usize = server
        .get("/audio/0.flac")
        .await
        .bytes()
        .await
        .unwrap()
        .len();
    server.wait_for(30, |s| s.segment_index == Some(1)).await;
    // A listener that received only the first half of segment 1 has not downloaded it.
    let part = get(&server, "/audio/1.flac", &[("range", "bytes=0-999")]).await;
    assert_eq!(part.bytes().await.unwrap().len(), 1000);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let status = server.status().await;
    assert_eq!(
        (status.segment_index, status.generating_index),
        (Some(1), None)
    );
    assert!(total > 1000);
    // The rest completes it: segment 2 is made.
    let rest = get(&server, "/audio/1.flac", &[("range", "bytes=1000-")]).await;
    assert_eq!(rest.status(), 206);
    rest.bytes().await.unwrap();
    server.wait_for(30, |s| s.segment_index == Some(2)).await;
}

#[tokio::test]
async fn the_same_version_is_not_modified_and_a_bad_range_is_refused_clearly() {
    let server = playing().await;
    let reply = server.get("/audio/0.opus").await;
    let etag = reply.headers()["etag"].to_str().unwrap().to_string();
    let total = reply.bytes().await.unwrap().len();
    let again = get(&server, "/audio/0.opus", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    let other = get(&server, "/audio/0.flac", &[("if-none-match", &etag)]).await;
    assert_eq!(other.status(), 200, "another encoding is another version");

    for (range, reason) in [
        (format!("bytes={total}-"), "does not fit"),
        ("bytes=9-3".to_string(), "does not fit"),
        ("lines=0-3".to_string(), "malformed"),
        ("bytes=0-1,4-5".to_string(), "one range at a time"),
    ] {
        let refused = get(&server, "/audio/0.opus", &[("range", &range)]).await;
        assert_eq!(refused.status(), 416, "{range}");
        assert_eq!(
            refused.headers()["content-range"],
            format!("bytes */{total}").as_str()
        );
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_range");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(reason),
            "{body}"
        );
    }
    let unknown = server.get("/audio/0.mp3").await;
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("wav, flac or opus"));
    // Nothing of that changed the session.
    assert_eq!(server.status().await.segment_index, Some(0));
}
