//! A private Docker engine per test: its own dockerd (temporary data root, exec root, pidfile, socket and
//! containerd namespace; no bridge and no iptables, so containers use host networking), and images built
//! FROM scratch that hold the doubles: ACE-Step's, and an OpenAI-compatible model server's. Nothing is
//! pulled: no registry is needed.
//!
//! When no engine can be started (dockerd missing, not root), [`start`] prints a loud `SKIPPED` line and
//! returns `None`; with `TSUZUKI_REQUIRE_DOCKER=1` it fails the test instead, so CI cannot skip silently.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;

/// The test image: the doubles at `/acestep-double` and `/openai-double`, their shared libraries, and `/tmp`.
pub const IMAGE: &str = "tsuzuki-test/acestep-double:1";
/// The same files with `/openai-double` as the entrypoint, as a model server's image has its server: a
/// template's command is then only the arguments.
pub const OPENAI_IMAGE: &str = "tsuzuki-test/openai-double:1";

pub struct Dockerd {
    /// `unix://…/docker.sock`, for the code under test's config.
    pub host: String,
    /// Where the engine also listens on TLS, when started with [`start_tls`].
    pub tls: Option<Tls>,
    /// Connected once dockerd answers.
    docker: Option<Docker>,
    dir: Option<tempfile::TempDir>,
    dockerd: Child,
}

/// An engine's TLS listener, as another machine's would be: at this machine's network address (not
/// loopback), with certificates made for the test.
pub struct Tls {
    /// `tcp://address:port`, for `DOCKER_HOST`.
    pub host: String,
    /// The address alone: where the engine's services are reached.
    pub machine: String,
    pub files: super::tls::Files,
}

/// Starts a private engine with the test image loaded, or explains loudly why not.
pub async fn start(test: &str) -> Option<Dockerd> {
    start_engine(test, false).await
}

/// The same engine, listening on TLS too.
pub async fn start_tls(test: &str) -> Option<Dockerd> {
    start_engine(test, true).await
}

async fn start_engine(test: &str, tls: bool) -> Option<Dockerd> {
    match try_start(tls).await {
        Ok(dockerd) => Some(dockerd),
        Err(reason) if std::env::var("TSUZUKI_REQUIRE_DOCKER").as_deref() == Ok("1") => {
            panic!("{test}: no Docker engine, and TSUZUKI_REQUIRE_DOCKER=1: {reason}")
        }
        Err(reason) => {
            // Straight to the stderr handle: libtest's capture only takes `eprintln!`'s output.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED {test}: no Docker engine could be started: {reason}. \
                 Install docker.io and run the tests as root (scripts/test.sh does both). ***\n"
            );
            None
        }
    }
}

/// This machine's first IPv4 address beyond loopback, or loopback when it has none.
fn this_machine() -> String {
    let listed = Command::new("hostname").arg("-I").output();
    let text = listed.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let first = text.ok().and_then(|t| {
        t.split_whitespace()
            .find(|a| {
                a.parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| !ip.is_loopback())
            })
            .map(str::to_string)
    });
    first.unwrap_or_else(|| "127.0.0.1".into())
}

async fn try_start(tls: bool) -> Result<Dockerd, String> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_default();
    if uid != "0" {
        return Err(format!("dockerd needs root and this is uid {uid}"));
    }
    let dir = tempfile::Builder::new()
        .prefix("tsz-dockerd-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let d = dir.path();
    std::fs::write(d.join("daemon.json"), "{}").map_err(|e| e.to_string())?;
    let log = std::fs::File::create(d.join("dockerd.log")).map_err(|e| e.to_string())?;
    let namespace = format!("tsuzuki-test-{}", std::process::id());
    let path = |name: &str| d.join(name).to_string_lossy().into_owned();
    let socket = path("docker.sock");
    let tls = if tls {
        let machine = this_machine();
        let port = std::net::TcpListener::bind("0.0.0.0:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        Some(Tls {
            host: format!("tcp://{machine}:{port}"),
            files: super::tls::make(&d.join("tls"), &machine)?,
            machine,
        })
    } else {
        None
    };
    let mut listen = vec!["-H".to_string(), format!("unix://{socket}")];
    if let Some(tls) = &tls {
        let [ca, cert, key] = &tls.files.server;
        let file = |p: &PathBuf| p.to_string_lossy().into_owned();
        listen.extend(["--tlsverify".into(), "--tlscacert".into(), file(ca)]);
        listen.extend(["--tlscert".into(), file(cert), "--tlskey".into(), file(key)]);
        listen.extend(["-H".into(), tls.host.clone()]);
    }
    let dockerd = Command::new("dockerd")
        .args(["--config-file", &path("daemon.json")])
        .args(["--data-root", &path("data")])
        .args(["--exec-root", &path("exec")])
        .args(["--pidfile", &path("dockerd.pid")])
        .args(&listen)
        .args(["--containerd-namespace", &namespace])
        .args([
            "--containerd-plugins-namespace",
            &format!("{namespace}-plugins"),
        ])
        .args(["--iptables=false", "--bridge=none"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot run dockerd: {e}"))?;
    let mut engine = Dockerd {
        host: format!("unix://{socket}"),
        tls,
        docker: None,
        dir: Some(dir),
        dockerd,
    };
    let began = Instant::now();
    loop {
        if let Ok(Some(status)) = engine.dockerd.try_wait() {
            return Err(format!("dockerd exited ({status}): {}", engine.log_tail()));
        }
        if let Ok(docker) =
            Docker::connect_with_unix(&engine.host, 30, bollard::API_DEFAULT_VERSION)
        {
            if docker.ping().await.is_ok() {
                engine.docker = Some(
                    docker
                        .negotiate_version()
                        .await
                        .map_err(|e| e.to_string())?,
                );
                break;
            }
        }
        if began.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "dockerd did not answer within 30 s: {}",
                engine.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine.import_image().await?;
    Ok(engine)
}

impl Dockerd {
    pub fn docker(&self) -> &Docker {
        self.docker.as_ref().expect("dockerd answers")
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().expect("the engine is running").path()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir().join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    async fn import_image(&self) -> Result<(), String> {
        let tar = std::fs::read(rootfs_tar()?).map_err(|e| e.to_string())?;
        let entrypoint = vec![r#"ENTRYPOINT ["/openai-double"]"#.to_string()];
        for (image, changes) in [(IMAGE, Vec::new()), (OPENAI_IMAGE, entrypoint)] {
            let (repo, tag) = image.split_once(':').unwrap();
            let options = CreateImageOptionsBuilder::new()
                .from_src("-")
                .repo(repo)
                .tag(tag)
                .changes(changes)
                .build();
            let body = Some(bollard::body_full(tar.clone().into()));
            let mut progress = self.docker().create_image(Some(options), body, None);
            while let Some(step) = progress.next().await {
                step.map_err(|e| format!("docker import: {e}"))?;
            }
        }
        Ok(())
    }

    /// The container's (id, running), or `None` when the engine does not know it (inspect answers 404).
    pub async fn container(&self, name: &str) -> Option<(String, bool)> {
        match self.docker().inspect_container(name, None).await {
            Ok(c) => Some((
                c.id.unwrap_or_default(),
                c.state.and_then(|s| s.running).unwrap_or(false),
            )),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => None,
            Err(e) => panic!("inspect {name}: {e}"),
        }
    }

    /// The value of the container's label `key`.
    pub async fn label(&self, name: &str, key: &str) -> Option<String> {
        let c = self.docker().inspect_container(name, None).await.ok()?;
        c.config?.labels?.remove(key)
    }
}

impl Drop for Dockerd {
    /// Removes every container, stops dockerd (SIGTERM, as its docs ask), unmounts what it left mounted and
    /// deletes its folders. Runs on a thread of its own: Drop may run inside the test's runtime.
    fn drop(&mut self) {
        let docker = self.docker.clone();
        let _ = std::thread::spawn(move || {
            let Some(docker) = docker else {
                return;
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let all = ListContainersOptionsBuilder::new().all(true).build();
                for c in docker.list_containers(Some(all)).await.unwrap_or_default() {
                    let force = RemoveContainerOptionsBuilder::new().force(true).build();
                    let _ = docker
                        .remove_container(c.id.as_deref().unwrap_or(""), Some(force))
                        .await;
                }
            });
        })
        .join();
        let _ = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.dockerd.id())])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while !matches!(self.dockerd.try_wait(), Ok(Some(_))) {
            if Instant::now() > deadline {
                let _ = self.dockerd.kill();
                let _ = self.dockerd.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(dir) = self.dir.take() {
            unmount_under(dir.path());
            let _ = dir.close();
        }
    }
}

/// dockerd leaves network namespaces mounted under its exec root; unmount them so the folder can go.
fn unmount_under(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        let _ = Command::new("umount").args(["-l", point]).status();
    }
}

const DOUBLES: [&str; 2] = ["acestep-double", "openai-double"];

/// The doubles' binaries, built (or found up to date) by cargo in this test's target dir and profile: they
/// are other packages' binaries, which cargo builds for a test only with `--workspace`.
fn double_binaries() -> Result<Vec<PathBuf>, String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let built = Command::new(env!("CARGO"))
        .args(["build", "--quiet"])
        .args(DOUBLES.iter().flat_map(|d| ["-p", d]))
        .arg("--manifest-path")
        .arg(&manifest)
        .status()
        .map_err(|e| format!("cannot run cargo to build the doubles: {e}"))?;
    if !built.success() {
        return Err("cargo could not build the doubles".into());
    }
    // This test runs as <target>/<profile>/deps/<test>; the binaries sit in <target>/<profile>.
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("the test binary is not in a target dir")?;
    Ok(DOUBLES.iter().map(|d| profile_dir.join(d)).collect())
}

/// A tarball of the test image's root: the doubles (stripped of debug info: 700 MB → 12 MB), the shared
/// libraries `ldd` lists, and `/tmp`. Built once per build of the doubles and kept in the target dir.
fn rootfs_tar() -> Result<PathBuf, String> {
    let binaries = double_binaries()?;
    let mut stamp = 0u128;
    for binary in &binaries {
        let meta = std::fs::metadata(binary).map_err(|e| e.to_string())?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        stamp = stamp
            .wrapping_mul(31)
            .wrapping_add(modified ^ u128::from(meta.len()));
    }
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("doubles-rootfs-{stamp}.tar"));
    if cache.exists() {
        return Ok(cache);
    }
    let staging = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).map_err(|e| e.to_string())?;
    let root = staging.path().join("rootfs");
    std::fs::create_dir_all(root.join("tmp")).map_err(|e| e.to_string())?;
    for binary in &binaries {
        copy_with_libraries(binary, &root)?;
    }
    let tar = staging.path().join("rootfs.tar");
    let made = Command::new("sh")
        .args([
            "-c",
            &format!(
                "chmod 1777 '{}/tmp' && tar --numeric-owner -C '{}' -cf '{}' .",
                root.display(),
                root.display(),
                tar.display()
            ),
        ])
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    if !made.success() {
        return Err("tar failed".into());
    }
    // Rename is atomic: a parallel test sees either no tarball or a whole one.
    std::fs::rename(&tar, &cache).map_err(|e| e.to_string())?;
    // Tarballs of earlier builds of the double are of no further use.
    for entry in std::fs::read_dir(env!("CARGO_TARGET_TMPDIR"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("doubles-rootfs-") && entry.path() != cache {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(cache)
}

/// `binary` at the root (stripped when `strip` is there) and the shared libraries `ldd` lists for it.
fn copy_with_libraries(binary: &Path, root: &Path) -> Result<(), String> {
    let inside = root.join(binary.file_name().ok_or("a binary without a name")?);
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&inside)
        .arg(binary)
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(binary, &inside).map_err(|e| e.to_string())?;
    }
    let ldd = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    for library in String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|word| word.starts_with('/'))
    {
        let target = root.join(library.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::copy(library, &target).map_err(|e| format!("{library}: {e}"))?;
    }
    Ok(())
}
