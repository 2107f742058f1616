#!/usr/bin/env bash
# Installs what char-rnn-webgpu needs on a Debian bookworm machine, idempotently:
#   - the npm dependencies (npm ci, skipped when node_modules matches the lockfile)
#   - on Linux without a Vulkan driver Dawn can use: Mesa's software Vulkan (lavapipe)
#     from bookworm-backports (bookworm's own Mesa 22 is too old for Dawn)
#   - with --browser, what the tests need besides: Debian's chromium, for the browser tests,
#     and PyTorch for /usr/bin/python3 (Debian's python3-torch), for test/pytorch.test.ts, which
#     loads an exported model in PyTorch, with jsonschema (python3-jsonschema), with which
#     scripts/train_pytorch.py checks a checkpoint's metadata against schema/checkpoint.schema.json
# Quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
for a in "$@"; do
  case "$a" in
    --browser) want_browser=1 ;;
    *) echo "setup.sh: unknown option $a (known: --browser)" >&2; exit 2 ;;
  esac
done

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "setup.sh: need root to run: $*" >&2; return 1; fi; }

# --- npm dependencies -------------------------------------------------------
stamp=node_modules/.setup-lock-copy
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# --- Debian packages ----------------------------------------------------------
is_debian_bookworm() { [ -r /etc/os-release ] && . /etc/os-release && [ "${VERSION_CODENAME:-}" = bookworm ]; }

mesa_ok() {
  # Mesa >= 23 lavapipe (or any other Vulkan ICD besides the old lavapipe) is what Dawn needs.
  local v
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 23 && dpkg-query -W libvulkan1 >/dev/null 2>&1
}

apt_updated=0
apt_update() { [ $apt_updated = 1 ] || { as_root apt-get update -qq; apt_updated=1; }; }

if is_debian_bookworm && ! mesa_ok; then
  src=/etc/apt/sources.list.d/bookworm-backports.sources
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Same URIs and keyring as the machine's main Debian source (the stanza that lists 'bookworm').
    base=/etc/apt/sources.list.d/debian.sources
    uris=$(awk -v RS= '/Suites:[^\n]*bookworm( |$|\n)/ && !/security/' "$base" | sed -n 's/^URIs: *//p' | head -1)
    key=$(awk -v RS= '/Suites:[^\n]*bookworm( |$|\n)/ && !/security/' "$base" | sed -n 's/^Signed-By: *//p' | head -1)
    if [ -z "$uris" ]; then
      echo "setup.sh: could not read the Debian mirror from $base; add a bookworm-backports source by hand" >&2; exit 1
    fi
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\n%s\n' \
      "$uris" "${key:+Signed-By: $key}" | as_root tee "$src" >/dev/null
  fi
  apt_update
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
fi

if [ $want_browser = 1 ] && ! /usr/bin/python3 -c 'import torch, jsonschema' >/dev/null 2>&1; then
  apt_update
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-torch python3-jsonschema >/dev/null
fi

if [ $want_browser = 1 ] && ! command -v chromium >/dev/null; then
  apt_update
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi
exit 0
