#!/usr/bin/env bash
# What the site and its tests need from outside PyPI, installed only when missing (safe to run again):
#   - Debian packages: chromium (the browser test), fonts-wqy-microhei (Chinese glyphs in Chromium and in figures);
#   - KaTeX from npm, copied into docs/assets/vendor/katex/ (git-ignored) so formulas render with no network;
#   - iframe-worker's shim from npm, into docs/assets/vendor/iframe-worker/: the offline copy (book/offline.py) runs
#     the search worker through it when a page is opened from the file system.
# Runs as root (or with sudo) on a fresh Debian machine; prints nothing when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

KATEX_VERSION=0.16.47
APT_PACKAGES=(chromium fonts-wqy-microhei)
NPM_DIR=.cache/npm
KATEX_DEST=docs/assets/vendor/katex
IFRAME_WORKER_VERSION=1.0.4
IFRAME_WORKER_DEST=docs/assets/vendor/iframe-worker

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# `python3 -m venv` (make setup) needs ensurepip, which Debian ships apart in python3-venv; npm installs KaTeX.
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

stamp="$KATEX_DEST/.version"
if [[ ! -f $stamp || $(cat "$stamp") != "$KATEX_VERSION" ]]; then
    echo "setup-system: npm install katex@$KATEX_VERSION"
    mkdir -p "$NPM_DIR"
    npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$NPM_DIR" "katex@$KATEX_VERSION"
    dist="$NPM_DIR/node_modules/katex/dist"
    rm -rf "$KATEX_DEST"
    mkdir -p "$KATEX_DEST/contrib" "$KATEX_DEST/fonts"
    cp "$dist/katex.min.js" "$dist/katex.min.css" "$KATEX_DEST/"
    cp "$dist/contrib/auto-render.min.js" "$KATEX_DEST/contrib/"
    # Every browser the site targets reads woff2: the .woff and .ttf copies would only add weight.
    cp "$dist"/fonts/*.woff2 "$KATEX_DEST/fonts/"
    echo "$KATEX_VERSION" >"$stamp"
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
