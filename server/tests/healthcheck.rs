//! `tsuzuki healthcheck` (the image's HEALTHCHECK) as a user runs it: the real binary, its settings before
//! or after the word, against a running server and against none.

mod common;

use std::process::{Child, Command, Output, Stdio};

use common::eventually;

/// The server binary on `port`, stopped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tsuzuki(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tsuzuki"));
    command.args(args).env("LEPTOS_OUTPUT_NAME", "tsuzuki");
    command
}

fn healthcheck(args: &[&str]) -> Output {
    tsuzuki(args).output().expect("tsuzuki healthcheck runs")
}

#[tokio::test]
async fn healthcheck_passes_for_a_running_server_and_fails_in_words_without_one() {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let server = tsuzuki(&["--addr", &addr])
        .arg("--data-dir")
        .arg(data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let server = Running(server);
    let http = reqwest::Client::new();
    eventually(30, "the server answers", || async {
        http.get(format!("http://{addr}/health"))
            .send()
            .await
            .is_ok()
    })
    .await;

    // Settings after the word, and a wildcard address (as in the image) probed on loopback.
    let wildcard = format!("0.0.0.0:{port}");
    let after = healthcheck(&["healthcheck", "--addr", &wildcard]);
    assert!(after.status.success(), "{after:?}");
    let before = healthcheck(&["--addr", &addr, "healthcheck"]);
    assert!(before.status.success(), "{before:?}");

    drop(server);
    let down = healthcheck(&["healthcheck", "--addr", &addr]);
    assert_eq!(down.status.code(), Some(2), "{down:?}");
    let said = String::from_utf8_lossy(&down.stderr);
    assert!(
        said.starts_with(&format!("tsuzuki: http://{addr}/health: ")),
        "{said}"
    );
}
