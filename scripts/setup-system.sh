#!/usr/bin/env bash
# What the site and its tests need from outside PyPI, installed only when missing (safe to run again):
#   - Debian packages: chromium-headless-shell (the browser test), chromium (the PDFs), fonts-wqy-microhei (Chinese
#     glyphs in Chromium and in figures);
#   - iframe-worker's shim from npm, into docs/assets/vendor/iframe-worker/: the offline copy (book/offline.py) runs
#     the search worker through it when a page is opened from the file system.
# KaTeX, which typesets the formulas, comes from pip (the docs extra; book/katex.py), as on the pip-only path.
# Runs as root (or with sudo) on a fresh Debian machine; prints nothing when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(chromium chromium-headless-shell fonts-wqy-microhei)
NPM_DIR=.cache/npm
IFRAME_WORKER_VERSION=1.0.4
IFRAME_WORKER_DEST=docs/assets/vendor/iframe-worker

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# `python3 -m venv` (make setup) needs ensurepip, which Debian ships apart in python3-venv; npm installs the shim.
python3 -c "import ensurepip" 2>/dev/null || missing+=(python3-venv)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
    echo "setup-system: apt-get install ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # matplotlib lists the system fonts once and caches the list: make it look again for the new CJK font.
    rm -f "${MPLCONFIGDIR:-${XDG_CACHE_HOME:-$HOME/.cache}/matplotlib}"/fontlist-*.json
fi

stamp="$IFRAME_WORKER_DEST/.version"
if [[ ! -f $stamp || $(cat "$stamp") != "$IFRAME_WORKER_VERSION" ]]; then
    echo "setup-system: npm install iframe-worker@$IFRAME_WORKER_VERSION"
    mkdir -p "$NPM_DIR"
    npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$NPM_DIR" \
        "iframe-worker@$IFRAME_WORKER_VERSION"
    rm -rf "$IFRAME_WORKER_DEST"
    mkdir -p "$IFRAME_WORKER_DEST"
    cp "$NPM_DIR/node_modules/iframe-worker/shim/index.js" "$IFRAME_WORKER_DEST/shim.js"
    echo "$IFRAME_WORKER_VERSION" >"$stamp"
fi
