#!/usr/bin/env bash
# Build the release binary for the Azure Functions Linux host and lay out the deployment package.
#
# Usage: scripts/package.sh [--check-only]
#
#   --check-only  Skip the build. Check and package the binary left by an earlier run.
#
# Outputs, relative to the repository root:
#   dist/package/              host.json, the sentinel-ip-enrich binary and one folder per function
#   dist/sentinel-ip-enrich.zip  the same files at the zip root, for zip deployment
#
# Environment:
#   CARGO_TARGET_DIR  cargo's build folder (default: target/package, so the glibc-pinned build
#                     does not invalidate the debug and test builds in target/)
#
# Needs cargo, python3 with pip, objdump (binutils) and network access to PyPI and crates.io on the
# first run, when it installs the ziglang package and cargo-zigbuild.
set -euo pipefail

# The azure-functions-docker README lists Debian 11 (glibc 2.31) or Debian 12 as the base of the
# Functions v4 Linux images, so a binary linked against glibc 2.28 (Debian 10) loads on them,
# whatever glibc the build machine has.
# NOTE: the Flex Consumption host image is not named there, so 2.28 is a margin, not a measured floor.
readonly MAX_GLIBC=2.28
readonly RUST_TARGET=x86_64-unknown-linux-gnu
readonly BIN_NAME=sentinel-ip-enrich

check_only=false
case "${1:-}" in
  "") ;;
  --check-only) check_only=true ;;
  -h | --help)
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    exit 0
    ;;
  *)
    echo "error: unknown argument '$1'. The only option is --check-only." >&2
    exit 2
    ;;
esac

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# A CARGO_TARGET_DIR given by the caller is relative to the caller's directory, not the repository.
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
  CARGO_TARGET_DIR="$(realpath -m "$CARGO_TARGET_DIR")"
fi
cd "$repo_root"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/package}"
# cargo-zigbuild builds into <target>/<triple>/release, without the glibc suffix.
bin_path="$CARGO_TARGET_DIR/$RUST_TARGET/release/$BIN_NAME"
dist_dir="dist/package"
zip_path="dist/$BIN_NAME.zip"

# cargo-zigbuild runs `python3 -m ziglang` (or CARGO_ZIGBUILD_PYTHON_PATH) before `zig` on PATH.
python="${CARGO_ZIGBUILD_PYTHON_PATH:-python3}"

install_build_tools() {
  if ! "$python" -m ziglang version >/dev/null 2>&1; then
    echo "==> Installing zig from the PyPI package ziglang"
    "$python" -m pip install --quiet ziglang
  fi
  # `cargo zigbuild` has no --version flag, so ask the cargo-zigbuild executable itself.
  if ! cargo-zigbuild --version >/dev/null 2>&1; then
    echo "==> Installing cargo-zigbuild"
    cargo install --locked cargo-zigbuild
  fi
  echo "==> zig $("$python" -m ziglang version), $(cargo-zigbuild --version)"
}

build_binary() {
  echo "==> Building $BIN_NAME for $RUST_TARGET with glibc $MAX_GLIBC (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  cargo zigbuild --locked --release --bin "$BIN_NAME" --target "$RUST_TARGET.$MAX_GLIBC"
}

# Fail unless the binary is an x86-64 ELF whose required GLIBC_ symbol versions are all <= MAX_GLIBC.
check_binary() {
  if [[ ! -f "$bin_path" ]]; then
    echo "error: binary not found at $bin_path. Run scripts/package.sh without --check-only first." >&2
    exit 1
  fi

  if ! objdump -f "$bin_path" | grep -q 'file format elf64-x86-64'; then
    echo "error: $bin_path is not an x86-64 ELF file" >&2
    exit 1
  fi

  local versions highest
  versions="$(objdump -T "$bin_path" | grep -o 'GLIBC_[0-9.]*' | sed 's/^GLIBC_//' | sort -uV)"
  if [[ -z "$versions" ]]; then
    echo "error: objdump -T found no GLIBC_ symbol versions in $bin_path, but a dynamically linked glibc binary is expected" >&2
    exit 1
  fi
  highest="$(tail -n 1 <<<"$versions")"
  echo "==> GLIBC versions required: $(tr '\n' ' ' <<<"$versions")"
  echo "==> Highest GLIBC version required: $highest (maximum allowed: $MAX_GLIBC)"

  if [[ "$(printf '%s\n%s\n' "$MAX_GLIBC" "$highest" | sort -V | tail -n 1)" != "$MAX_GLIBC" ]]; then
    echo "error: $bin_path requires GLIBC_$highest, newer than $MAX_GLIBC, so the Functions host may fail to load it" >&2
    exit 1
  fi
}

assemble_package() {
  echo "==> Assembling $dist_dir"
  rm -rf "$dist_dir" "$zip_path"
  mkdir -p "$dist_dir"

  cp host.json "$dist_dir/host.json"
  install -m 0755 "$bin_path" "$dist_dir/$BIN_NAME"

  local function_count=0 trigger_dir name
  for trigger_dir in function-triggers/*/; do
    name="$(basename "$trigger_dir")"
    if [[ ! -f "$trigger_dir/function.json" ]]; then
      echo "error: function.json missing in $trigger_dir" >&2
      exit 1
    fi
    cp -R "${trigger_dir%/}" "$dist_dir/$name"
    function_count=$((function_count + 1))
  done
  if ((function_count == 0)); then
    echo "error: no function folders found under function-triggers/" >&2
    exit 1
  fi
}

# Zip the package contents, not the folder, because the Functions host expects host.json at the zip
# root. The binary keeps mode 0755 in the zip, because the host executes it in place.
zip_package() {
  echo "==> Writing $zip_path"
  if command -v zip >/dev/null 2>&1; then
    (cd "$dist_dir" && zip -q -r -X "../$(basename "$zip_path")" .)
  else
    "$python" - "$dist_dir" "$zip_path" <<'PY'
import os
import sys
import zipfile

source_dir, zip_path = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
    for folder, subfolders, files in os.walk(source_dir):
        subfolders.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            # ZipInfo.from_file stores st_mode in the high 16 bits of external_attr, which keeps
            # the executable bit. writestr() with a bare file name would store mode 0600.
            info = zipfile.ZipInfo.from_file(path, os.path.relpath(path, source_dir))
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as handle:
                archive.writestr(info, handle.read())
PY
  fi
}

print_summary() {
  echo "==> Package contents"
  find "$dist_dir" -type f -print0 | sort -z | xargs -0 ls -l
  echo "==> Zip"
  ls -l "$zip_path"
  echo "package: $repo_root/$dist_dir"
  echo "zip:     $repo_root/$zip_path ($(stat -c %s "$zip_path") bytes)"
}

if [[ "$check_only" == false ]]; then
  install_build_tools
  build_binary
fi
check_binary
assemble_package
zip_package
print_summary
