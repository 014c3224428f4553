# Installs what tsuzuki's build needs, at pinned versions, and only what is missing. Sourced by run.sh
# and test.sh; safe to run any number of times. Versions that build offline on rustc 1.95 are pinned in
# one place here (see docs in README.md).

set -euo pipefail

CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.130 # must equal the wasm-bindgen crate in Cargo.lock
TRUNK_VERSION=0.21.14

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

step() { printf '\n\033[1;36m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }

# A build cache outside the clone, so a fresh clone (and CI) reuses compiled dependencies.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/tsuzuki/target}
# Incremental state for every test binary filled tens of gigabytes of that cache; CI builds from scratch anyway.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
export TRUNK_SKIP_VERSION_CHECK=true
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export PATH="$HOME/.cargo/bin:$ROOT/end2end/node_modules/.bin:$PATH"

have_version() { # command, expected version text
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qF "$2"
}

cargo_tool() { # binary, crate, version, extra install flags...
  local bin=$1 crate=$2 version=$3
  shift 3
  if have_version "$bin" "$version"; then
    note "$crate $version: present"
  else
    step "Installing $crate $version (cargo install; several minutes on first run)"
    cargo install "$crate" --version "$version" "$@"
  fi
}

setup_rust() {
  step "Rust toolchain"
  command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
  note "$(cargo --version)"
  if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    note "wasm32-unknown-unknown target: present"
  else
    step "Adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  # The server's Opus encoder links libopus, found by pkg-config.
  apt_install libopus-dev pkg-config
  cargo_tool cargo-leptos cargo-leptos "$CARGO_LEPTOS_VERSION" --locked
  cargo_tool wasm-bindgen wasm-bindgen-cli "$WASM_BINDGEN_VERSION"
}

setup_trunk() {
  cargo_tool trunk trunk "$TRUNK_VERSION" --locked
}

setup_npm() {
  step "npm tools (Playwright test runner, binaryen's wasm-opt)"
  command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ first" >&2; exit 1; }
  if [ -x end2end/node_modules/.bin/wasm-opt ] && [ -x end2end/node_modules/.bin/playwright ] \
    && [ end2end/node_modules/.package-lock.json -nt end2end/package-lock.json ]; then
    note "end2end/node_modules: up to date"
  else
    (cd end2end && npm ci --no-audit --no-fund)
  fi
}

apt_install() { # packages...
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then
    note "Debian packages present: $*"
    return
  fi
  step "Installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}"
}
