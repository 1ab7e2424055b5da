#!/usr/bin/env bash
# Installs the clients that tests/tests/clients_compat.rs runs, when they are missing: the npm
# packages of tests/clients/node and tests/clients/browser (`npm ci`, versions from their
# package-lock.json) and Debian's chromium. Needs Node.js 20 or later with npm, and root or sudo
# for apt-get when /usr/bin/chromium is missing. Set CHROMIUM to use another Chromium executable.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}

fail() {
    echo "error: $*" >&2
    exit 1
}

step() { printf '\n==> %s\n' "$*"; }

command -v node >/dev/null 2>&1 || fail "node is not on PATH: install Node.js 20 or later (Debian package nodejs)"
command -v npm >/dev/null 2>&1 || fail "npm is not on PATH: install npm (Debian package npm)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node.js $(node --version) is too old: playwright-core needs Node.js 20 or later"

# Runs `npm ci` in a client directory unless its lock file is already installed there.
install_npm_client() {
    local dir=$1
    # npm writes node_modules/.package-lock.json on install. When its packages equal those of
    # package-lock.json, node_modules is up to date.
    if [ -f "$dir/node_modules/.package-lock.json" ] &&
        node -e '
            const fs = require("fs");
            const [lock, installed] = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f)));
            const expected = Object.fromEntries(Object.entries(lock.packages).filter(([k]) => k !== ""));
            process.exit(JSON.stringify(expected) === JSON.stringify(installed.packages) ? 0 : 1);
        ' "$dir/package-lock.json" "$dir/node_modules/.package-lock.json"; then
        echo "npm packages of ${dir#"$root"/} are installed"
        return
    fi
    step "npm ci in ${dir#"$root"/}"
    (cd "$dir" && npm ci --no-audit --no-fund) || fail "npm ci failed in $dir"
}

install_npm_client "$root/tests/clients/node"
install_npm_client "$root/tests/clients/browser"

if [ ! -x "$chromium" ]; then
    [ "$chromium" = /usr/bin/chromium ] ||
        fail "CHROMIUM=$chromium is not an executable file"
    if [ "$(id -u)" -eq 0 ]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        fail "/usr/bin/chromium is missing and installing it needs root: run 'apt-get install -y chromium' as root"
    fi
    step "Installing Debian's chromium"
    "${as_root[@]}" apt-get update || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y chromium ||
        fail "apt-get install -y chromium failed"
    [ -x "$chromium" ] || fail "apt-get installed chromium, but $chromium is still missing"
fi
echo "chromium: $("$chromium" --version 2>/dev/null || echo "$chromium")"
