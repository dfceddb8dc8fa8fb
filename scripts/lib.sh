#!/usr/bin/env bash
# Shared by the setup scripts: install the Debian packages that are missing.
ensure_packages() {
    local sudo="" need=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
    done
    if [ -n "$need" ]; then
        $sudo apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $need
    fi
    command -v cargo >/dev/null || { echo "Rust (cargo) is required: https://rustup.rs" >&2; exit 1; }
}

# The Chromium runner (conformance/chromium): Debian's chromium and nodejs/npm, then the
# runner's npm packages (puppeteer-core only; it never downloads a browser).
ensure_chromium_runner() {
    local need=()
    command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
    command -v node >/dev/null 2>&1 || need+=(nodejs)
    command -v npm >/dev/null 2>&1 || need+=(npm)
    [ ${#need[@]} -eq 0 ] || ensure_packages "${need[@]}"
    if [ ! -d conformance/chromium/node_modules/puppeteer-core ]; then
        (cd conformance/chromium && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund)
    fi
}
