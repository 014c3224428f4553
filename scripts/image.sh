#!/usr/bin/env bash
# Builds the container image tsuzuki:<version>, also tagged tsuzuki:local: the server as one static binary
# (musl, rustls: no glibc, no OpenSSL) and the release site, on an empty root: no shell, no package manager.
# No registry is needed: the image is assembled FROM scratch out of what this machine builds.
#
#   scripts/image.sh                 build on the Docker engine DOCKER_HOST names (default: the local one)
#   scripts/image.sh --context-only  only assemble the build context; print its folder
set -euo pipefail
source "$(dirname "$0")/setup.sh"

TARGET=x86_64-unknown-linux-musl
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
CONTEXT=$CARGO_TARGET_DIR/image/context

setup_rust
setup_npm
if rustup target list --installed | grep -qx "$TARGET"; then
  note "$TARGET target: present"
else
  step "Adding the $TARGET target"
  rustup target add "$TARGET"
fi
# musl-gcc compiles ring's and libopus's C for the static binary; cmake builds the bundled libopus.
apt_install musl-tools cmake binutils

step "Building the release site"
# Its own site folder: the one under target/ belongs to `cargo leptos serve` and the end-to-end tests.
LEPTOS_SITE_ROOT=$CARGO_TARGET_DIR/image/site cargo leptos build --release --precompress --frontend-only

step "Building the static server ($TARGET, profile image)"
# libopus is built from the sources audiopus_sys bundles and linked statically, not found by pkg-config
# (which knows only the host's glibc library).
LIBOPUS_STATIC=1 LIBOPUS_NO_PKG=1 cargo build --profile image --target "$TARGET" -p server --bin tsuzuki

step "Assembling the build context in $CONTEXT"
rm -rf "$CONTEXT"
mkdir -p "$CONTEXT/root" "$CONTEXT/data"
cp "$CARGO_TARGET_DIR/$TARGET/image/tsuzuki" "$CONTEXT/root/tsuzuki"
# cargo-leptos leaves the hash of the site's file names beside where it would put the server.
cp "$CARGO_TARGET_DIR/release/hash.txt" "$CONTEXT/root/hash.txt"
cp -r "$CARGO_TARGET_DIR/image/site" "$CONTEXT/root/site"
cp scripts/image.Dockerfile "$CONTEXT/Dockerfile"
if readelf --program-headers "$CONTEXT/root/tsuzuki" | grep -q INTERP; then
  echo "the server binary asks for a dynamic loader: it would not start on an empty root" >&2
  exit 1
fi
note "server $(du -h "$CONTEXT/root/tsuzuki" | cut -f1), site $(du -sh "$CONTEXT/root/site" | cut -f1)"

if [ "${1:-}" = "--context-only" ]; then
  echo "$CONTEXT"
  exit 0
fi

apt_install docker.io
step "Building tsuzuki:$VERSION and tsuzuki:local"
# The classic builder: a FROM scratch image needs nothing BuildKit adds, and Debian's docker.io may come
# without the buildx plugin.
DOCKER_BUILDKIT=0 docker build --quiet -t "tsuzuki:$VERSION" -t tsuzuki:local "$CONTEXT"
size=$(docker image inspect -f '{{.Size}}' tsuzuki:local)
note "tsuzuki:$VERSION is $((size / 1000000)) MB ($size bytes)"
