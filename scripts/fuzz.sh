#!/usr/bin/env bash
# Fuzzes the decoder: runs each cargo-fuzz target of fuzz/ for SECONDS seconds on a corpus seeded
# from tests/fixtures, and exits non-zero when a target crashes (the input is saved under
# fuzz/artifacts/<target>/). Installs cargo-fuzz when it is missing.
#
# Usage: scripts/fuzz.sh SECONDS [TARGET...]   (default targets: decode_entry render_der)
#
# cargo-fuzz builds with unstable rustc flags (-Zsanitizer=address and others). On a stable
# toolchain this script sets RUSTC_BOOTSTRAP=1, which lets stable rustc accept them.
set -euo pipefail

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -eq 0 ]; then
    echo "usage: $0 SECONDS [TARGET...]: SECONDS is the run time of each target, at least 1" >&2
    exit 2
fi
seconds=$1
shift

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"
if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=(decode_entry render_der)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> Installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

echo "==> Writing seed corpora from tests/fixtures"
python3 write_seeds.py "$root/tests/fixtures" corpus

status=0
for target in "${targets[@]}"; do
    echo "==> Fuzzing $target for ${seconds} s"
    # -rss_limit_mb: the 10,000-SAN style inputs stay far below it; a leak or blow-up does not.
    if ! cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1; then
        echo "error: fuzz target $target failed; the crashing input is in fuzz/artifacts/$target/" >&2
        status=1
    fi
done
exit $status
