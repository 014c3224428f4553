//! compose.yaml as the test engine can run it. That engine has no bridge network, so every service goes on
//! the host's network on a free port; Compose 1.29 refuses `ports` beside `network_mode: host`, so they go.
//! Everything else is the file as users run it, from the repository's folder (for `./deploy`).

use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use super::cli;
use super::common::dockerd::Dockerd;

/// The repository's compose.yaml.
fn original() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../compose.yaml")
}

pub struct Compose {
    _dir: tempfile::TempDir,
    file: PathBuf,
}

impl Compose {
    /// Every service on the host's network at `port`, with `settings` (`NAME=value`) added to each one's
    /// environment.
    pub fn on_host_network(port: u16, settings: &[String]) -> Compose {
        let text = std::fs::read_to_string(original()).unwrap();
        let mut file: Value = serde_yaml_ng::from_str(&text).unwrap();
        let services = file["services"].as_mapping_mut().unwrap();
        for (_, service) in services.iter_mut() {
            let service = service.as_mapping_mut().unwrap();
            service.remove("ports");
            service.insert("network_mode".into(), "host".into());
            let environment = service
                .entry("environment".into())
                .or_insert_with(|| Value::Mapping(Mapping::new()))
                .as_mapping_mut()
                .expect("compose.yaml's environments are mappings");
            // Where the file names an address, only its port changes.
            let address = match environment.get("TSUZUKI_ADDR").and_then(Value::as_str) {
                Some(a) => format!("{}:{port}", a.rsplit_once(':').unwrap().0),
                None => format!("0.0.0.0:{port}"),
            };
            environment.insert("TSUZUKI_ADDR".into(), address.into());
            for setting in settings {
                let (name, value) = setting.split_once('=').unwrap();
                environment.insert(name.into(), value.into());
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("compose.yaml");
        std::fs::write(&path, serde_yaml_ng::to_string(&file).unwrap()).unwrap();
        Compose {
            _dir: dir,
            file: path,
        }
    }

    /// `docker-compose args…` on this file, from the repository's folder.
    pub fn run(&self, engine: &Dockerd, args: &[&str]) -> String {
        compose(engine, &self.file, args)
    }
}

/// `docker-compose args…` on the repository's compose.yaml as it is.
pub fn as_written(engine: &Dockerd, args: &[&str]) -> String {
    compose(engine, &original(), args)
}

fn compose(engine: &Dockerd, file: &Path, args: &[&str]) -> String {
    let project = original();
    let project = project.parent().unwrap().to_string_lossy();
    let file = file.to_string_lossy();
    let base = [
        "-p",
        "tsuzuki-test",
        "--project-directory",
        &project,
        "-f",
        &file,
    ];
    cli::run(engine, "docker-compose", &[&base[..], args].concat())
}
