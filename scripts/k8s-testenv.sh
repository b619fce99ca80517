#!/usr/bin/env bash
# A throwaway Kubernetes API server and controller manager for the orchestrator's tests:
#
#   scripts/k8s-testenv.sh build              # once per machine: ~4 min cold, ~3 s cached
#   scripts/k8s-testenv.sh start RUN_DIR      # ~7 s; writes RUN_DIR/kubeconfig
#   scripts/k8s-testenv.sh stop RUN_DIR
#
# `build` compiles kube-apiserver and kube-controller-manager v1.20.2 from Debian bookworm's
# `kubernetes` source package (the only Kubernetes source Debian ships) and caches them with a
# matching kubectl under $K8S_TESTENV_CACHE (default /var/cache/vigil-k8s-testenv), keyed by
# the package versions: a rebuild happens only when Debian publishes a new one. Runs as root
# (it installs Debian packages). `start` needs no network: fresh certificates, a random admin
# token and an empty etcd in RUN_DIR each time, all listening on 127.0.0.1 only.
#
# There is no kubelet and no scheduler: no container ever runs, Pods stay Pending, and tests
# move them forward by writing their status. docs/orchestration.md says what the tests rely on.
#
# Ports: etcd $ETCD_PORT and $ETCD_PORT+1 (default 2379), the API server $APISERVER_PORT (6443),
# the controller manager $KCM_PORT (10257); give each environment its own to run several.
# $APISERVER_ARGS / $KCM_ARGS add flags.
set -euo pipefail
CACHE_ROOT=${K8S_TESTENV_CACHE:-/var/cache/vigil-k8s-testenv}
RECIPE=1 # bump whenever the build recipe changes: it forces a rebuild
ETCD_PORT=${ETCD_PORT:-2379} APISERVER_PORT=${APISERVER_PORT:-6443} KCM_PORT=${KCM_PORT:-10257}

ver() { apt-cache show --no-all-versions "$1" | sed -n 's/^Version: //p'; }
stamp() {
  local p
  for p in kubernetes-client golang-1.19-go golang-github-modern-go-reflect2-dev; do echo "$p $(ver "$p")"; done
  echo "recipe $RECIPE"
}
# Polls a command for up to 90 s; fails at once when the process it waits for has died.
wait_for() {
  local pidfile=$1 i
  shift
  for i in $(seq 300); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "k8s-testenv: $(basename "$pidfile" .pid) exited; see its log in $(dirname "$pidfile")" >&2; return 1; }
    sleep 0.3
  done
  echo "k8s-testenv: timeout waiting for: $*" >&2
  return 1
}

build() {
  mkdir -p "$CACHE_ROOT"
  # One build at a time per cache: another test run may be building the same thing.
  exec 9>"$CACHE_ROOT/.lock"
  flock 9
  apt-get update -qq
  local SRCVER C
  SRCVER=$(ver kubernetes-client) # built from the `kubernetes` source of the same version
  [ -n "$SRCVER" ] || { echo "k8s-testenv: apt knows no kubernetes-client package" >&2; return 1; }
  C=$CACHE_ROOT/$SRCVER-r$RECIPE
  if [ -x "$C/bin/kube-apiserver" ] && [ "$(cat "$C/STAMP" 2>/dev/null)" = "$(stamp)" ]; then
    ln -sfn "$C" "$CACHE_ROOT/current"
    echo "k8s-testenv: cached: $C/bin"
    return
  fi
  echo "k8s-testenv: building Kubernetes $SRCVER (about 4 minutes on 2 cores)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go \
    etcd-server dpkg-dev openssl curl golang-github-modern-go-reflect2-dev >/dev/null
  local W
  W=$(mktemp -d /var/tmp/k8s-testenv-build.XXXXXX)
  # 1. The source, through a temporary deb-src twin of every `deb` stanza of debian.sources
  #    (the version may come from a point release or a security update), removed afterwards.
  local SL=/etc/apt/sources.list.d/k8s-testenv-deb-src.sources
  [ -f /etc/apt/sources.list.d/debian.sources ] || {
    echo "k8s-testenv: no /etc/apt/sources.list.d/debian.sources (Debian 12's deb822 list) to take the source from" >&2
    return 1
  }
  trap 'rm -f '"$SL"'; apt-get update -qq; rm -rf '"$W" EXIT
  sed -e 's/^Types: .*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$SL"
  apt-get update -qq
  (cd "$W" && apt-get source "kubernetes=$SRCVER" >apt-source.log 2>&1 \
    && apt-get download -qq "kubernetes-client=$SRCVER" 2>/dev/null)
  rm -f "$SL"
  apt-get update -qq
  trap 'rm -rf '"$W" EXIT
  # kubectl from the .deb, not installed: it would replace whatever /usr/bin/kubectl is there.
  dpkg -x "$W"/kubernetes-client_*.deb "$W/kubectl-deb"
  local T
  T=$(echo "$W"/kubernetes-*/)
  T=${T%/}
  # 2. GOPATH mode, as Kubernetes 1.20's own build does (module mode fails under Go 1.19).
  mkdir -p "$W/gopath/src/k8s.io"
  ln -s "$T" "$W/gopath/src/k8s.io/kubernetes"
  export GOPATH=$W/gopath GO111MODULE=off CGO_ENABLED=0 GOCACHE=$W/gocache GOFLAGS=
  cd "$W/gopath/src/k8s.io/kubernetes"
  # 3. The vendored github.com/modern-go/reflect2 v1.0.1 crashes the API server under Go >= 1.18;
  #    Debian's 1.0.2 replaces it.
  local V=vendor/github.com/modern-go/reflect2 D=/usr/share/gocode/src/github.com/modern-go/reflect2
  find $V -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) -delete
  cp $D/*.go $D/*.s $V/
  # 4. pkg/generated/openapi/zz_generated.openapi.go is made by `make`, not shipped: generate it.
  go build -o "$W/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  local dirs
  dirs=$(grep -rl --include='*.go' --exclude-dir=vendor --exclude-dir=debian \
    --exclude-dir=.pc '^// *+k8s:' . | xargs grep -l '+k8s:openapi-gen=' \
    | sed 's|^\./||; s|^staging/src/|vendor/|; s|/[^/]*$||' \
    | grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' \
    | LC_ALL=C sort -u | sed 's|^|k8s.io/kubernetes/|' | paste -sd,)
  "$W/openapi-gen" -i "$dirs" -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
    -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$W/api-violations.report" 2>"$W/openapi-gen.log"
  # 5. Both servers in one go build, with the version stamps `make` would set.
  local LDF="-s -w" p
  for p in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
    LDF="$LDF -X $p.gitVersion=v1.20.2 -X $p.gitMajor=1 -X $p.gitMinor=20 -X $p.gitTreeState=clean -X $p.buildDate=2021-01-13T00:00:00Z"
  done
  mkdir -p "$W/out"
  go build -ldflags "$LDF" -o "$W/out/" ./cmd/kube-apiserver ./cmd/kube-controller-manager
  # 6. Cache the binaries; the 1.9 GB build dir goes (the EXIT trap).
  mkdir -p "$C/bin.new"
  cp "$W"/out/kube-* "$W/kubectl-deb/usr/bin/kubectl" "$C/bin.new/"
  rm -rf "$C/bin"
  mv "$C/bin.new" "$C/bin"
  stamp >"$C/STAMP"
  ln -sfn "$C" "$CACHE_ROOT/current"
  cd /
  echo "k8s-testenv: built: $C/bin"
}

start() {
  local B=${K8S_TESTENV_BIN:-$CACHE_ROOT/current/bin}
  [ -x "$B/kube-apiserver" ] || { echo "k8s-testenv: no binaries in $B: run '$0 build' first" >&2; return 1; }
  command -v etcd >/dev/null || { echo "k8s-testenv: etcd is not installed: run '$0 build'" >&2; return 1; }
  mkdir -p "$1/pki"
  local R P
  R=$(cd "$1" && pwd)
  P=$R/pki
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.crt" -days 7 -subj /CN=testenv-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$P/apiserver.key" -out "$P/apiserver.csr" -subj /CN=kube-apiserver 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$P/ext.cnf"
  openssl x509 -req -in "$P/apiserver.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
    -out "$P/apiserver.crt" -days 7 -extfile "$P/ext.cnf" 2>/dev/null
  openssl genrsa -out "$P/sa.key" 2048 2>/dev/null
  openssl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub" 2>/dev/null
  local TOKEN
  TOKEN=$(head -c 32 /dev/urandom | base64 | tr -d '/+=')
  (umask 077 && echo "$TOKEN,admin,admin,system:masters" >"$P/tokens.csv")
  (umask 077 && cat >"$R/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority-data: "$(base64 -w0 "$P/ca.crt")"}
users:
- name: admin
  user: {token: "$TOKEN"}
contexts:
- name: testenv
  context: {cluster: testenv, user: admin, namespace: default}
current-context: testenv
EOF
  )
  rm -rf "$R/etcd"
  /usr/bin/etcd --name testenv --data-dir "$R/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "testenv=http://127.0.0.1:$((ETCD_PORT + 1))" >"$R/etcd.log" 2>&1 &
  echo $! >"$R/etcd.pid"
  wait_for "$R/etcd.pid" curl -sf "http://127.0.0.1:$ETCD_PORT/health"
  # shellcheck disable=SC2086 # APISERVER_ARGS is a list of flags
  "$B/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" --insecure-port=0 \
    --endpoint-reconciler-type=none --service-cluster-ip-range=127.100.0.0/24 \
    --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" --client-ca-file="$P/ca.crt" \
    --token-auth-file="$P/tokens.csv" --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$P/sa.pub" \
    --service-account-signing-key-file="$P/sa.key" --profiling=false --v=1 ${APISERVER_ARGS:-} >"$R/apiserver.log" 2>&1 &
  echo $! >"$R/apiserver.pid"
  wait_for "$R/apiserver.pid" curl -sf --cacert "$P/ca.crt" -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$APISERVER_PORT/readyz"
  # Controllers that need nodes or a cloud are off.
  # shellcheck disable=SC2086 # KCM_ARGS is a list of flags
  "$B/kube-controller-manager" --kubeconfig="$R/kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --port=0 --cert-dir="$R/kcm-certs" --leader-elect=false \
    --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
    --controllers='*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-route,-service,-persistentvolume-binder,-attachdetach,-csrsigning' \
    --profiling=false --v=1 ${KCM_ARGS:-} >"$R/kcm.log" 2>&1 &
  echo $! >"$R/kcm.pid"
  # Ready once the controller manager has made the default ServiceAccount (Pod admission needs it).
  wait_for "$R/kcm.pid" curl -sf --cacert "$P/ca.crt" -H "Authorization: Bearer $TOKEN" \
    "https://127.0.0.1:$APISERVER_PORT/api/v1/namespaces/default/serviceaccounts/default"
  echo "KUBECONFIG=$R/kubeconfig"
}

stop() { # by PID, controller manager first
  local s pid
  for s in kcm apiserver etcd; do
    [ -f "$1/$s.pid" ] || continue
    pid=$(cat "$1/$s.pid")
    if kill "$pid" 2>/dev/null; then
      timeout 20 tail -s 0.2 --pid="$pid" -f /dev/null || kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$1/$s.pid"
  done
}

case ${1:-} in
  build) build ;;
  start) start "${2:?usage: $0 start RUN_DIR}" ;;
  stop) stop "${2:?usage: $0 stop RUN_DIR}" ;;
  *)
    echo "usage: $0 build | start RUN_DIR | stop RUN_DIR" >&2
    exit 2
    ;;
esac
