#!/usr/bin/env bash
# Validates the deployment files offline against their schemas:
#   - docker-compose.yml against the Compose Specification schema that check-jsonschema ships
#     (--builtin-schema vendor.compose-spec);
#   - the Kubernetes manifests against the Kubernetes OpenAPI schemas that kubernetes-validate
#     ships, in strict mode (unknown fields are errors). kustomization.yaml is no Kubernetes
#     resource and is skipped; tests/tests/deploy.rs checks its resource list.
#
# Usage: scripts/validate-deploy.sh [--compose FILE]... [--kubernetes FILE]...
# Without arguments it validates the repository's files. With arguments it validates only the
# files given.
#
# The tools come from the virtual environment of $CERTSTREAM_TEST_PYTHON (scripts/test.sh sets
# it), or from .tools/venv when the variable is unset.

set -euo pipefail

# Oldest Kubernetes release the manifests must work on. HorizontalPodAutoscaler autoscaling/v2
# and PodDisruptionBudget policy/v1 are both stable in it.
KUBERNETES_VERSION=1.30.0

root=$(cd "$(dirname "$0")/.." && pwd)
python=${CERTSTREAM_TEST_PYTHON:-$root/.tools/venv/bin/python}
bin_dir=$(dirname "$python")

usage() {
    echo "usage: $0 [--compose FILE]... [--kubernetes FILE]..." >&2
    exit 2
}

compose_files=()
kubernetes_files=()
while [ $# -gt 0 ]; do
    case $1 in
        --compose)
            [ $# -ge 2 ] || usage
            compose_files+=("$2")
            shift 2
            ;;
        --kubernetes)
            [ $# -ge 2 ] || usage
            kubernetes_files+=("$2")
            shift 2
            ;;
        *) usage ;;
    esac
done

if [ ${#compose_files[@]} -eq 0 ] && [ ${#kubernetes_files[@]} -eq 0 ]; then
    compose_files=("$root/docker-compose.yml")
    for manifest in "$root"/deploy/kubernetes/*.yaml; do
        [ "$(basename "$manifest")" = kustomization.yaml ] || kubernetes_files+=("$manifest")
    done
fi

for tool in check-jsonschema kubernetes-validate; do
    if [ ! -x "$bin_dir/$tool" ]; then
        echo "error: $tool not found in $bin_dir; run scripts/test.sh, which installs it, or" \
            "install the versions it pins with $bin_dir/pip install" >&2
        exit 1
    fi
done

status=0
if [ ${#compose_files[@]} -gt 0 ]; then
    echo "==> Compose files against the Compose Specification ($("$bin_dir/check-jsonschema" --version))"
    "$bin_dir/check-jsonschema" --builtin-schema vendor.compose-spec "${compose_files[@]}" || status=1
fi
if [ ${#kubernetes_files[@]} -gt 0 ]; then
    echo "==> Kubernetes manifests against Kubernetes $KUBERNETES_VERSION ($("$bin_dir/kubernetes-validate" --version))"
    "$bin_dir/kubernetes-validate" --strict --kubernetes-version "$KUBERNETES_VERSION" \
        "${kubernetes_files[@]}" || status=1
fi
exit $status
