//! The settings' behaviour as a user meets it: precedence, defaults, and one clear line per mistake.

use std::sync::Mutex;
use std::time::Duration;

use clap::{CommandFactory, Parser};

use super::*;

mod files;

/// Held while parsing flags, which reads the environment: the test that sets variables must not race others.
static ENV: Mutex<()> = Mutex::new(());

fn try_cli(args: &[&str]) -> Result<RawSettings, clap::Error> {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    RawSettings::try_parse_from(std::iter::once("tsuzuki").chain(args.iter().copied()))
}

pub(super) fn cli(args: &[&str]) -> RawSettings {
    try_cli(args).unwrap()
}

#[test]
fn the_flags_are_well_formed() {
    RawSettings::command().debug_assert();
}

#[test]
fn defaults_are_the_product_defaults() {
    let config = Config::load(cli(&[]), None).unwrap();
    assert_eq!(config.http.addr, "127.0.0.1:3000".parse().unwrap());
    assert_eq!(
        (
            config.session.segment_seconds,
            config.session.overlap_seconds
        ),
        (60.0, 15.0)
    );
    assert_eq!(config.backend, BackendKind::Synth);
    assert_eq!(config.session.max_attempts, 3);
    assert_eq!(config.session.loudness_target, Some(-16.0));
    assert_eq!(config.session.opus_bitrate, 128_000);
    assert!(config.session.bridge);
    assert_eq!(config.telemetry.otlp_endpoint, None);
}

#[test]
fn the_otlp_endpoint_is_a_collector_base_url() {
    let endpoint = |args: &[&str]| Config::load(cli(args), None).map(|c| c.telemetry.otlp_endpoint);
    assert_eq!(
        endpoint(&["--otlp-endpoint", "http://collector:4318/"]).unwrap(),
        Some("http://collector:4318".into())
    );
    assert_eq!(endpoint(&["--otlp-endpoint", ""]).unwrap(), None);
    for bad in [
        "collector:4318",
        "grpc://collector:4317",
        "http://c:4318/?x=1",
    ] {
        let error = endpoint(&["--otlp-endpoint", bad]).unwrap_err();
        assert!(error.starts_with("otlp_endpoint"), "{bad}: {error}");
    }
}

#[test]
fn loudness_can_be_set_or_switched_off_and_the_bridge_refused() {
    let load = |args: &[&str]| Config::load(cli(args), None).unwrap().session;
    assert_eq!(
        load(&["--loudness-target", "-14"]).loudness_target,
        Some(-14.0)
    );
    assert_eq!(
        load(&["--loudness-target", "-23 LUFS"]).loudness_target,
        Some(-23.0)
    );
    assert_eq!(load(&["--loudness-target", "off"]).loudness_target, None);
    assert_eq!(load(&["--opus-bitrate", "96"]).opus_bitrate, 96_000);
    assert!(!load(&["--no-bridge"]).bridge);
    assert!(load(&["--no-bridge", "false"]).bridge);
}

#[test]
fn flags_beat_the_file_and_the_file_beats_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tsuzuki.toml");
    std::fs::write(
        &path,
        "segment_seconds = 8\noverlap_seconds = 2\nbackend = \"acestep\"\n",
    )
    .unwrap();
    let config = Config::load(
        cli(&["--config", path.to_str().unwrap(), "--overlap-seconds", "3"]),
        None,
    )
    .unwrap();
    assert_eq!(
        (
            config.session.segment_seconds,
            config.session.overlap_seconds
        ),
        (8.0, 3.0)
    );
    let BackendKind::AceStep(settings, None) = config.backend else {
        panic!("backend from the file was ignored");
    };
    assert_eq!(settings.model, "acestep-v15-sft");
    assert_eq!(settings.url, "http://127.0.0.1:8001");
    assert_eq!(
        settings.repaint_mode,
        crate::backend::acestep::RepaintMode::Conservative,
        "the mode that keeps the whole overlap"
    );
}

fn repaint_mode(config: Config) -> crate::backend::acestep::RepaintMode {
    match config.backend {
        BackendKind::AceStep(settings, _) => settings.repaint_mode,
        other => panic!("not ACE-Step: {other:?}"),
    }
}

#[test]
fn the_repaint_mode_comes_from_a_flag_the_environment_or_the_file() {
    use crate::backend::acestep::RepaintMode;
    let flag = Config::load(
        cli(&["--backend", "acestep", "--acestep-repaint-mode", "balanced"]),
        None,
    )
    .unwrap();
    assert_eq!(repaint_mode(flag), RepaintMode::Balanced);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tsuzuki.toml");
    std::fs::write(
        &path,
        "backend = \"acestep\"\nacestep_repaint_mode = \"balanced\"\n",
    )
    .unwrap();
    let file = Config::load(cli(&["--config", path.to_str().unwrap()]), None).unwrap();
    assert_eq!(repaint_mode(file), RepaintMode::Balanced);

    let parsed = {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        std::env::set_var("TSUZUKI_ACESTEP_REPAINT_MODE", "balanced");
        let parsed = RawSettings::try_parse_from(["tsuzuki", "--backend", "acestep"]);
        std::env::remove_var("TSUZUKI_ACESTEP_REPAINT_MODE");
        parsed
    };
    let env = Config::load(parsed.unwrap(), None).unwrap();
    assert_eq!(repaint_mode(env), RepaintMode::Balanced);
}

#[test]
fn the_aggressive_repaint_mode_is_refused_with_the_reason() {
    let error = Config::load(
        cli(&[
            "--backend",
            "acestep",
            "--acestep-repaint-mode",
            "aggressive",
        ]),
        None,
    )
    .unwrap_err();
    assert!(
        error.contains("\"aggressive\" is refused")
            && error.contains("would no longer continue what was heard"),
        "{error}"
    );
    assert!(!error.contains('\n'), "{error}");
    let error = Config::load(
        cli(&["--backend", "acestep", "--acestep-repaint-mode", "gentle"]),
        None,
    )
    .unwrap_err();
    assert!(
        error.contains("unknown ACE-Step repaint mode \"gentle\" (use conservative or balanced)"),
        "{error}"
    );
}

#[test]
fn the_leptos_address_is_used_only_when_nothing_else_names_one() {
    let leptos = Some("127.0.0.1:4000".parse().unwrap());
    assert_eq!(
        Config::load(cli(&[]), leptos).unwrap().http.addr.port(),
        4000
    );
    assert_eq!(
        Config::load(cli(&["--addr", "127.0.0.1:5000"]), leptos)
            .unwrap()
            .http
            .addr
            .port(),
        5000
    );
}

#[test]
fn invalid_combinations_are_one_clear_line() {
    for (args, words) in [
        (&["--overlap-seconds", "60"][..], "overlap seconds"),
        (
            &["--segment-seconds", "8", "--overlap-seconds", "9"],
            "below the segment length",
        ),
        (&["--backend", "magic"], "unknown backend \"magic\""),
        (
            &["--backend", "acestep", "--acestep-url", "ftp://x"],
            "not an http(s) URL",
        ),
        (
            &["--backend", "acestep", "--acestep-model", "big"],
            "unknown ACE-Step model",
        ),
        (&["--max-attempts", "0"], "at least 1"),
        (&["--segment-seconds", "NaN"], "between 1 and 600"),
        (&["--loudness-target", "-3"], "between -36 and -6 LUFS"),
        (&["--loudness-target", "loud"], "or off, not \"loud\""),
        (&["--opus-bitrate", "8"], "between 16 and 256 kb/s, not 8"),
    ] {
        let error = Config::load(cli(args), None).unwrap_err();
        assert!(error.contains(words), "{args:?}: {error}");
        assert!(!error.contains('\n'));
    }
}

#[test]
fn an_engine_on_another_machine_is_reached_over_tls_and_so_are_its_services() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let file = dir.path().join("tsuzuki.toml");
    std::fs::write(&file, format!("{SERVICES}\n[[services]]\nid = \"tunnelled\"\nimage = \"x\"\nport = 9000\nurl = \"http://127.0.0.1:19000/\"\n")).unwrap();
    let (file, certs_arg) = (file.to_str().unwrap(), certs.to_str().unwrap());
    let load = |extra: &[&str]| {
        let mut args = vec!["--config", file, "--docker-host", "tcp://gpu-box:2376"];
        args.extend_from_slice(extra);
        Config::load(cli(&args), None)
    };
    // Docker's CLI: any value turns verification on, and the three files must be there.
    let missing = load(&["--docker-tls-verify", "1", "--docker-cert-path", certs_arg]).unwrap_err();
    assert!(missing.contains("ca.pem is missing"), "{missing}");
    for name in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::write(certs.join(name), "PEM").unwrap();
    }
    let config = load(&["--docker-tls-verify", "1", "--docker-cert-path", certs_arg]).unwrap();
    let tls = config.containers.docker_tls.unwrap();
    assert_eq!(
        (tls.ca, tls.key),
        (certs.join("ca.pem"), certs.join("key.pem"))
    );
    let urls: Vec<String> = config
        .containers
        .services
        .iter()
        .map(ServiceConfig::url)
        .collect();
    assert_eq!(urls, ["http://gpu-box:8101", "http://127.0.0.1:19000"]);
    // Without TLS the engine is plain HTTP; an empty variable is no TLS, as for Docker.
    let plain = load(&["--docker-tls-verify", ""]).unwrap();
    assert_eq!(plain.containers.docker_tls, None);
    assert_eq!(plain.containers.services[0].url(), "http://gpu-box:8101");
    // On this machine's engine the service stays on loopback.
    let local = Config::load(
        cli(&["--config", file, "--docker-host", "tcp://127.0.0.1:2376"]),
        None,
    )
    .unwrap();
    assert_eq!(local.containers.services[0].url(), "http://127.0.0.1:8101");
    let error = Config::load(
        cli(&[
            "--config",
            file,
            "--docker-tls-verify",
            "1",
            "--docker-cert-path",
            certs_arg,
        ]),
        None,
    )
    .unwrap_err();
    assert!(
        error.contains("DOCKER_HOST must be the engine's tcp:// address"),
        "{error}"
    );
}

const SERVICES: &str = "[[services]]\nid = \"acestep\"\nimage = \"ghcr.io/ace-step/ace-step-1.5\"\nport = 8001\nhost_port = 8101\n";

#[test]
fn the_acestep_backend_can_run_in_a_configured_service() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tsuzuki.toml");
    std::fs::write(
        &path,
        format!("api_token = \"secret\"\ngpu_memory_budget_gb = 24\n{SERVICES}"),
    )
    .unwrap();
    let file = path.to_str().unwrap();
    let config = Config::load(
        cli(&[
            "--config",
            file,
            "--backend",
            "acestep",
            "--acestep-service",
            "acestep",
        ]),
        None,
    )
    .unwrap();
    let BackendKind::AceStep(settings, Some(service)) = &config.backend else {
        panic!("the service was ignored: {:?}", config.backend);
    };
    assert_eq!(
        (settings.url.as_str(), service.as_str()),
        ("http://127.0.0.1:8101", "acestep")
    );
    assert_eq!(config.containers.services.len(), 1);
    assert_eq!(config.http.api_token.as_deref(), Some("secret"));
    assert_eq!(config.containers.gpu_memory_budget_gb, Some(24.0));

    for (args, words) in [
        (
            &["--acestep-service", "other"][..],
            "unknown ACE-Step service \"other\" (configured services: acestep)",
        ),
        (
            &[
                "--acestep-service",
                "acestep",
                "--acestep-url",
                "http://gpu:8001",
            ],
            "either an ACE-Step URL or an ACE-Step service",
        ),
    ] {
        let mut all = vec!["--config", file, "--backend", "acestep"];
        all.extend_from_slice(args);
        let error = Config::load(cli(&all), None).unwrap_err();
        assert!(error.contains(words), "{args:?}: {error}");
    }
}

#[test]
fn a_bad_or_repeated_service_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tsuzuki.toml");
    for (text, words) in [
        (format!("{SERVICES}{SERVICES}"), "declared twice"),
        (format!("{SERVICES}gpus = \"some\"\n"), "gpus \"some\""),
        (format!("{SERVICES}command = \"run\"\n"), "invalid type"),
        (
            format!("gpu_memory_budget_gb = 0\n{SERVICES}"),
            "gpu memory budget",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let error = Config::load(cli(&["--config", path.to_str().unwrap()]), None).unwrap_err();
        assert!(error.contains(words), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }
}

#[test]
fn a_config_file_with_an_unknown_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "segment_secs = 8\n").unwrap();
    let error = Config::load(cli(&["--config", path.to_str().unwrap()]), None).unwrap_err();
    assert!(error.contains("unknown field `segment_secs`"), "{error}");
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tsuzuki.toml");
    std::fs::write(
        &path,
        "segment_seconds = 20\noverlap_seconds = 5\nmax_attempts = 4\nretry_backoff_ms = 100\n",
    )
    .unwrap();
    let args = [
        "tsuzuki",
        "--config",
        path.to_str().unwrap(),
        "--max-attempts",
        "6",
    ];
    let parsed = {
        let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
        std::env::set_var("TSUZUKI_OVERLAP_SECONDS", "6");
        std::env::set_var("TSUZUKI_MAX_ATTEMPTS", "5");
        let parsed = RawSettings::try_parse_from(args);
        std::env::remove_var("TSUZUKI_OVERLAP_SECONDS");
        std::env::remove_var("TSUZUKI_MAX_ATTEMPTS");
        parsed
    };
    let session = Config::load(parsed.unwrap(), None).unwrap().session;
    assert_eq!(session.max_attempts, 6, "flag over environment");
    assert_eq!(session.overlap_seconds, 6.0, "environment over file");
    assert_eq!(session.segment_seconds, 20.0, "file over default");
    assert_eq!(session.retry_backoff, Duration::from_millis(100), "file");
    assert_eq!(session.job_timeout, Duration::from_secs(600), "default");
}

#[test]
fn a_bad_value_names_the_setting_and_where_it_came_from() {
    let error = try_cli(&["--max-attempts", "many"])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("'many'") && error.contains("--max-attempts"),
        "{error}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tsuzuki.toml");
    let file = path.to_str().unwrap();
    for (text, words) in [
        (
            "segment_seconds = \"long\"\n",
            "invalid type: string \"long\"",
        ),
        (
            "segment_seconds = 900\n",
            "segment seconds must be between 1 and 600, not 900",
        ),
        ("config = \"other.toml\"\n", "unknown field `config`"),
    ] {
        std::fs::write(&path, text).unwrap();
        let error = Config::load(cli(&["--config", file]), None).unwrap_err();
        assert!(error.contains(words), "{text}: {error}");
        assert!(!error.contains('\n'), "{error}");
    }
    let error = Config::load(cli(&["--config", "/nonexistent/tsuzuki.toml"]), None).unwrap_err();
    assert!(
        error.starts_with("cannot read config file /nonexistent/tsuzuki.toml"),
        "{error}"
    );
}

// The `[[services]]` declarations.

fn parse(text: &str) -> Result<ServiceConfig, String> {
    let declaration: declaration::ServiceDeclaration =
        toml::from_str(text).map_err(|e| e.message().to_string())?;
    declaration.resolve(&Default::default())
}

const MINIMAL: &str = "id = \"acestep\"\nimage = \"ghcr.io/ace-step/ace-step-1.5\"\nport = 8001\n";

#[test]
fn a_minimal_declaration_gets_the_documented_defaults() {
    let s = parse(MINIMAL).unwrap();
    assert_eq!(s.health_path, "/health");
    assert_eq!((s.network, s.gpus.clone()), (Network::Bridge, Gpus::None));
    assert_eq!(s.url(), "http://127.0.0.1:8001");
    assert_eq!(s.idle_ttl(), Some(Duration::from_secs(600)));
    assert!(s.init);
}

#[test]
fn gpus_take_none_all_a_count_or_device_ids() {
    for (text, gpus) in [
        ("\"all\"", Gpus::All),
        ("\"none\"", Gpus::None),
        ("2", Gpus::Count(2)),
        (
            "[\"0\", \"3\"]",
            Gpus::Devices(vec!["0".into(), "3".into()]),
        ),
    ] {
        let s = parse(&format!("{MINIMAL}gpus = {text}\n")).unwrap();
        assert_eq!(s.gpus, gpus, "{text}");
    }
    let error = parse(&format!("{MINIMAL}gpus = \"most\"\n")).unwrap_err();
    assert!(error.contains("gpus"), "{error}");
}

#[test]
fn bad_declarations_are_one_clear_line() {
    for (extra, words) in [
        ("health_path = \"health\"\n", "must start with '/'"),
        ("volumes = [\"/models\"]\n", "is not source:/container/path"),
        (
            "volumes = [\"/a:/b:rx\"]\n",
            "is not source:/container/path",
        ),
        ("network = \"host\"\nhost_port = 9000\n", "must equal port"),
        ("startup_timeout_seconds = 0\n", "startup_timeout_seconds"),
        ("idle_ttl_seconds = -1\n", "idle_ttl_seconds"),
        ("env = { \"A=B\" = \"1\" }\n", "environment variable name"),
    ] {
        let error = parse(&format!("{MINIMAL}{extra}")).unwrap_err();
        assert!(error.contains(words), "{extra}: {error}");
        assert!(!error.contains('\n'));
    }
    let error = parse(&MINIMAL.replace("acestep\"", "Ace Step\"")).unwrap_err();
    assert!(error.contains("service id"), "{error}");
}

#[test]
fn a_timeout_too_long_for_a_duration_is_an_error_not_a_panic() {
    let error = Config::load(cli(&["--job-timeout-seconds", "1e20"]), None).unwrap_err();
    assert!(error.contains("job timeout"), "{error}");
    let huge = Config::load(cli(&["--job-timeout-seconds", "1e18"]), None).unwrap();
    assert_eq!(
        huge.session.job_timeout,
        Duration::from_secs(1_000_000_000_000_000_000)
    );

    let error = parse(&format!("{MINIMAL}idle_ttl_seconds = 1e20\n")).unwrap_err();
    assert!(error.contains("idle_ttl_seconds"), "{error}");
}
