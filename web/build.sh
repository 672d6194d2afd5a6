#!/usr/bin/env bash
# Builds the page's wasm package: the library compiled for wasm32-unknown-unknown as a
# cdylib, bound by wasm-bindgen (--target web) into web/pkg. Serve web/ with any static
# file server afterwards, e.g. `python3 -m http.server -d web 8000`.
# `build.sh --tools-only` only installs what the build needs (.ci/setup-tests uses it).
set -euo pipefail
cd "$(dirname "$0")/.."
tools_only=false
[ "${1:-}" = --tools-only ] && tools_only=true

# The wasm-bindgen CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$version" ]; then
  echo "build.sh: no wasm-bindgen in Cargo.lock" >&2
  exit 1
fi
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $version"; then
  echo "build.sh: installing wasm-bindgen-cli $version (about 5 minutes)"
  # --locked first; a registry mirror that lacks one of the CLI's locked dependencies
  # (seen here: webpki-roots 1.0.11) gets the newest compatible ones instead.
  cargo install wasm-bindgen-cli --version "=$version" --locked ||
    cargo install wasm-bindgen-cli --version "=$version"
fi
rustup target list --installed | grep -qx wasm32-unknown-unknown ||
  rustup target add wasm32-unknown-unknown
$tools_only && exit 0

# `cargo rustc --crate-type cdylib` keeps the library an rlib for every other build.
cargo rustc --locked --release --lib --target wasm32-unknown-unknown --crate-type cdylib
target_dir=${CARGO_TARGET_DIR:-target}
rm -rf web/pkg
wasm-bindgen --target web --no-typescript --out-dir web/pkg \
  "$target_dir/wasm32-unknown-unknown/release/vgg_wgpu.wasm"
echo "build.sh: web/pkg ready ($(du -h web/pkg/vgg_wgpu_bg.wasm | cut -f1) of wasm)"
