#!/usr/bin/env bash
# Runs every check and test: formatting, lints (native and wasm), all Rust tests, the Trunk CSR build and
# the Playwright end-to-end suite in Debian's Chromium. Installs whatever is missing first.
source "$(dirname "$0")/setup.sh"

setup_rust
setup_trunk
setup_npm
apt_install chromium docker.io docker-compose binutils

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (server and app, native)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo clippy (app in the browser: hydrate and csr)"
cargo clippy -p app --lib --target wasm32-unknown-unknown --features hydrate -- -D warnings
cargo clippy -p app --lib --target wasm32-unknown-unknown --features csr -- -D warnings

step "The container image's build context (static server, release site), for the image and compose tests"
bash scripts/image.sh --context-only

step "Rust tests (nextest; container tests start their own dockerd and must not skip here)"
require_docker=0
[ "$(id -u)" -eq 0 ] && require_docker=1 # dockerd needs root; as root a skipped container test is a failure
TSUZUKI_REQUIRE_DOCKER=$require_docker cargo nextest run --workspace --no-fail-fast

step "Trunk CSR build of app/"
trunk build

step "End-to-end tests (cargo leptos end-to-end, Playwright + Chromium)"
cargo build -p acestep-double -p openai-double # the tests start doubles beside the server cargo-leptos builds
TSUZUKI_REQUIRE_DOCKER=$require_docker TSUZUKI_SEGMENT_SECONDS=8 TSUZUKI_OVERLAP_SECONDS=2 \
  TSUZUKI_DATA_DIR=$(mktemp -d) cargo leptos end-to-end

step "All checks passed"
