//! Docker's own command-line tools (`docker`, `docker-compose`) pointed at a private engine: what a user
//! types, so the image and compose.yaml are tested the way they are used.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::common::dockerd::Dockerd;

/// The build context `scripts/image.sh --context-only` assembles, beside this test's target dir.
pub fn context() -> Option<PathBuf> {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent()?;
    let context = target.join("image/context");
    if context.join("Dockerfile").exists() {
        return Some(context);
    }
    let reason = format!(
        "no image build context at {}: run scripts/image.sh --context-only (scripts/test.sh does)",
        context.display()
    );
    if std::env::var("TSUZUKI_REQUIRE_DOCKER").as_deref() == Ok("1") {
        panic!("{reason}");
    }
    eprintln!("\n*** SKIPPED: {reason} ***\n");
    None
}

/// `program args…` against `engine`, with its output; panics (with the output) when it fails.
pub fn run(engine: &Dockerd, program: &str, args: &[&str]) -> String {
    let output = attempt(engine, program, args);
    assert!(
        output.status.success(),
        "{program} {} failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// `program args…` against `engine`, succeeding or not.
pub fn attempt(engine: &Dockerd, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env("DOCKER_HOST", &engine.host)
        // compose.yaml's gpu profile mounts this engine's socket rather than the system's.
        .env(
            "TSUZUKI_DOCKER_SOCKET",
            engine.host.trim_start_matches("unix://"),
        )
        // The classic builder, as scripts/image.sh uses it.
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Builds `tsuzuki:local` on `engine` from `context`.
pub fn build(engine: &Dockerd, context: &Path) {
    let context = context.to_string_lossy();
    run(
        engine,
        "docker",
        &["build", "-q", "-t", "tsuzuki:local", &context],
    );
}

/// The paths in the image's file system, as `docker export` writes them.
pub fn files(engine: &Dockerd, image: &str) -> Vec<String> {
    let id = run(engine, "docker", &["create", image]);
    let export = Command::new("sh")
        .args(["-c", "docker export \"$0\" | tar -t", &id])
        .env("DOCKER_HOST", &engine.host)
        .output()
        .expect("docker export | tar -t");
    assert!(export.status.success(), "{export:?}");
    run(engine, "docker", &["rm", &id]);
    String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| l.trim_start_matches("./").to_string())
        .collect()
}

/// `docker inspect` of one field, as its Go template prints it.
pub fn inspect(engine: &Dockerd, what: &str, template: &str) -> String {
    run(engine, "docker", &["inspect", "-f", template, what])
}

/// A free port on this machine (the engine's containers share its network).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
