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
