#!/usr/bin/env bash
# Runs tsuzuki on the embedded synthesizer at http://127.0.0.1:3000, installing whatever is missing first.
# Extra arguments go to the server, e.g. `scripts/run.sh -- --segment-seconds 30`.
source "$(dirname "$0")/setup.sh"

setup_rust
setup_npm
step "Building and starting tsuzuki (release) on http://127.0.0.1:3000"
# --precompress writes brotli and gzip copies of the page's files, which the server sends as they are.
exec cargo leptos serve --release --precompress "$@"
