//! The page and its files over real HTTP: compressed as the browser accepts, cached for good when named by
//! their content, revalidated otherwise; segments never compressed.

use super::common::{self, short, spawn};
use leptos::config::LeptosOptions;
use serde_json::json;

const WASM: &str = "/pkg/tsuzuki.cHMj-Y7c92noH_UXMYdgPg.wasm";

/// The whole HTTP surface on a loopback port, over a site folder with a hashed wasm file and a favicon.
async fn site() -> (String, reqwest::Client, common::Server, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("pkg")).unwrap();
    // Compressible, like a real module: repeated instruction patterns.
    let module: Vec<u8> = (0..400_000u32)
        .map(|i| (i % 251) as u8 ^ (i / 4096) as u8)
        .collect();
    std::fs::write(root.path().join(&WASM[1..]), module).unwrap();
    std::fs::write(
        root.path().join("favicon.svg"),
        "<svg xmlns='http://www.w3.org/2000/svg'/>".repeat(20),
    )
    .unwrap();
    let api = spawn(short(std::path::Path::new("unused"))).await;
    let options = LeptosOptions::builder()
        .output_name("tsuzuki")
        .site_root(root.path().to_string_lossy().to_string())
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = tsuzuki::web::router(api.sessions.clone(), options);
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, reqwest::Client::new(), api, root)
}

#[tokio::test]
async fn files_go_out_in_the_encoding_the_browser_accepts() {
    let (base, http, _api, _root) = site().await;
    let mut sizes = Vec::new();
    for encoding in ["br", "gzip", "identity"] {
        let reply = http
            .get(format!("{base}{WASM}"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "{encoding}");
        let got = reply
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            got.as_deref(),
            (encoding != "identity").then_some(encoding),
            "{encoding}"
        );
        assert_eq!(
            reply.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(reply.headers()["vary"], "accept-encoding");
        sizes.push(reply.bytes().await.unwrap().len());
    }
    assert_eq!(sizes[2], 400_000);
    assert!(
        sizes[0] < sizes[2] / 4 && sizes[1] < sizes[2] / 4,
        "{sizes:?}"
    );
}

#[tokio::test]
async fn the_page_and_unhashed_files_are_revalidated() {
    let (base, http, _api, _root) = site().await;
    let page = http
        .get(format!("{base}/"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-cache");
    assert_eq!(page.headers()["content-encoding"], "gzip");
    let missing = http
        .get(format!("{base}/pkg/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("Nothing here"));
    let icon = http
        .get(format!("{base}/favicon.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(icon.headers()["cache-control"], "no-cache");
    let modified = icon.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_string();
    let again = http
        .get(format!("{base}/favicon.svg"))
        .header("if-modified-since", modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn segments_are_never_compressed_on_the_way() {
    let (base, http, api, _root) = site().await;
    api.post("/session/start", json!({})).await;
    api.wait_for(30, |s| s.segment_index == Some(0)).await;
    for extension in ["wav", "flac", "opus"] {
        let reply = http
            .get(format!("{base}/audio/0.{extension}"))
            .header("accept-encoding", "br, gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        assert!(
            reply.headers().get("content-encoding").is_none(),
            "{extension}"
        );
        common::declared_body(reply).await;
    }
}
