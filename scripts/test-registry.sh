#!/usr/bin/env bash
# Usage: scripts/test-registry.sh start|stop|status      (start and stop as root)
# Real Docker registries (Debian's docker-registry, distribution 2.8) on 127.0.0.1 for
# the image builder's tests, with the fixtures of scripts/test-images.sh pushed to them:
#   basic  https://127.0.0.1:5443  htpasswd auth, user sifuser password sifpass
#   token  https://127.0.0.1:5444  token auth; token server test/support/token-server.mjs
#          on https://127.0.0.1:5445/token (anonymous: pull public/*; sifuser: all)
#   plain  http://127.0.0.1:5080   no TLS, no auth (for --insecure)
# Everything lives under ${SIF_TEST_REGISTRY:-<repo>/.cache/test-registry}: a test CA and
# certificates, one directory per registry (config, storage, log, pid), and env.json,
# which test/support/registry.ts reads. Storage is kept between runs and pushed to again
# only when the fixtures changed (their stamp is kept next to the storage).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd -P)
umask 022

log() { echo "test-registry: $*" >&2; }
die() { log "error: $*"; exit 1; }

dir=${SIF_TEST_REGISTRY:-$repo/.cache/test-registry}
images=${SIF_TEST_IMAGES:-$repo/.cache/test-images}
ca=$dir/ca
certdir=$dir/certs.d # for skopeo --cert-dir: only ca.crt, no key without its cert
user=sifuser password=sifpass
service=sif-test-registry issuer=sif-test-issuer
realm=https://127.0.0.1:5445/token
declare -A port=([basic]=5443 [token]=5444 [plain]=5080 [token-server]=5445)
declare -A expect=([basic]=401 [token]=401 [plain]=200 [token-server]=200) # probe answers
instances=(basic token plain)

# The pid in NAME/pid, if that process is alive and still ours (its command line names
# our directory: a recycled pid is not mistaken for it).
running_pid() {
  local pid
  pid=$(cat "$dir/$1/pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && grep -qF "$dir/" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

stop_one() {
  local pid i
  if pid=$(running_pid "$1"); then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    log "stopped $1 (pid $pid)"
  fi
  rm -f "$dir/$1/pid"
}

url_of() { if [ "$1" = plain ]; then echo "http://127.0.0.1:${port[$1]}"; else echo "https://127.0.0.1:${port[$1]}"; fi; }
probe_path() { if [ "$1" = token-server ]; then echo /token; else echo /v2/; fi; }

# HTTP status of the instance's probe URL, 000 when nothing answers.
http_code() {
  curl -s -o /dev/null -m 3 -w '%{http_code}' --cacert "$ca/ca.crt" "$(url_of "$1")$(probe_path "$1")" || true
}

cmd_status() {
  local name pid code bad=0
  for name in "${instances[@]}" token-server; do
    pid=$(running_pid "$name") || pid=
    code=$(http_code "$name")
    if [ -n "$pid" ] && [ "$code" = "${expect[$name]}" ]; then
      echo "$name: running, pid $pid, $(url_of "$name")$(probe_path "$name") -> $code"
    else
      echo "$name: not running${pid:+ (pid $pid answers $code, not ${expect[$name]})}"
      bad=1
    fi
  done
  return $bad
}

need_root() { [ "$(id -u)" = 0 ] || die "must run as root ($dir and the fixtures belong to root)"; }

case ${1:-} in
  status)
    cmd_status
    exit $?
    ;;
  stop)
    need_root
    [ -d "$dir" ] || exit 0
    exec 9>"$dir/.lock" # not while a start is under way
    flock 9
    for name in "${instances[@]}" token-server; do stop_one "$name"; done
    exit 0
    ;;
  start) ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac

# ---- start -------------------------------------------------------------------------
need_root
bash "$(dirname "$0")/ensure-packages.sh" test-registry docker-registry apache2-utils openssl curl skopeo

stamp=$(cat "$images/oci-fixtures.stamp" 2>/dev/null) ||
  die "no fixtures in $images: run scripts/test-images.sh first (as root)"
mkdir -p "$dir" "$ca" "$certdir"
exec 9>"$dir/.lock" # one start at a time
flock 9

# The test CA signs the TLS certificate (127.0.0.1 and localhost) and the token signer.
# Made once and kept: clients may have cached env.json's caFile.
if [ ! -f "$ca/ca.crt" ] || [ ! -f "$ca/server.crt" ] || [ ! -f "$ca/token.crt" ]; then
  log "making the test CA and certificates in $ca"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sif test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$ca/ca.key" -out "$ca/ca.crt" 2>/dev/null
  sign_cert() { # NAME SUBJECT EXTENSIONS
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$ca/$1.key" -out "$ca/$1.csr" 2>/dev/null
    openssl x509 -req -in "$ca/$1.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial \
      -days 3650 -out "$ca/$1.crt" -extfile <(printf '%s\n' "$3") 2>/dev/null
    rm -f "$ca/$1.csr"
  }
  sign_cert server "/CN=127.0.0.1" "$(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth')"
  sign_cert token "/CN=sif test token signer" "$(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature')"
  rm -f "$dir/basic/storage.stamp" "$dir/token/storage.stamp" # new CA: push again
fi
cp "$ca/ca.crt" "$certdir/ca.crt"

mkdir -p "$dir/basic"
htpasswd -vb "$dir/basic/htpasswd" "$user" "$password" >/dev/null 2>&1 ||
  htpasswd -Bbn "$user" "$password" >"$dir/basic/htpasswd"

# Config of one registry on stdout.
config() { # NAME
  local d=$dir/$1
  cat <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $d/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port[$1]}
  secret: sif-test-registry-secret
  headers:
    X-Content-Type-Options: [nosniff]
EOF
  if [ "$1" != plain ]; then
    printf '  tls:\n    certificate: %s\n    key: %s\n' "$ca/server.crt" "$ca/server.key"
  fi
  case $1 in
    basic) printf 'auth:\n  htpasswd:\n    realm: sif-test-basic\n    path: %s\n' "$d/htpasswd" ;;
    token)
      printf 'auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n' \
        "$realm" "$service" "$issuer" "$ca/ca.crt"
      ;;
  esac
}

# Starts NAME in the background (own session, output to NAME/log) and waits until it
# answers its probe URL. setsid execs without forking here (the script is no process
# group leader), so $! is the server's own pid.
start_one() { # NAME COMMAND...
  local name=$1 d=$dir/$1 i code pid
  shift
  code=$(http_code "$name")
  [ "$code" = 000 ] || die "another process already listens on $(url_of "$name") (answers $code): stop it (ss -ltnp shows which)"
  : >"$d/log"
  setsid "$@" </dev/null >>"$d/log" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$d/pid"
  for i in $(seq 100); do
    code=$(http_code "$name")
    kill -0 "$pid" 2>/dev/null || break
    [ "$code" = "${expect[$name]}" ] && { log "started $name (pid $pid, $(url_of "$name") answers $code)"; return 0; }
    sleep 0.1
  done
  log "error: $name did not start ($(url_of "$name")$(probe_path "$name") answers ${code:-nothing}, not ${expect[$name]}); last lines of $d/log:"
  tail -n 20 "$d/log" >&2
  stop_one "$name"
  exit 1
}

need_push=()
for name in "${instances[@]}"; do
  d=$dir/$name
  mkdir -p "$d"
  config "$name" >"$d/config.yml.new"
  if ! cmp -s "$d/config.yml.new" "$d/config.yml"; then
    stop_one "$name" # it runs an older config
    mv "$d/config.yml.new" "$d/config.yml"
  else
    rm -f "$d/config.yml.new"
  fi
  if [ "$(cat "$d/storage.stamp" 2>/dev/null || true)" != "$stamp" ]; then
    # Fixtures changed (or a push was cut short): start from empty storage.
    stop_one "$name"
    rm -rf --one-file-system "$d/storage" "$d/pushed.txt" "$d/storage.stamp"
    need_push+=("$name")
  fi
  mkdir -p "$d/storage"
  running_pid "$name" >/dev/null || start_one "$name" /usr/bin/docker-registry serve "$d/config.yml"
done

# The token server: its arguments are part of its "config" too.
d=$dir/token-server
mkdir -p "$d"
ts_args=(--host 127.0.0.1 --port "${port[token-server]}" --cert "$ca/server.crt" --key "$ca/server.key"
  --sign-cert "$ca/token.crt" --sign-key "$ca/token.key" --issuer "$issuer" --service "$service"
  --user "$user:$password")
printf '%s\n' "$repo/test/support/token-server.mjs" "${ts_args[@]}" | sha256sum >"$d/args.new"
sha256sum "$repo/test/support/token-server.mjs" >>"$d/args.new"
if ! cmp -s "$d/args.new" "$d/args"; then
  stop_one token-server
  mv "$d/args.new" "$d/args"
else
  rm -f "$d/args.new"
fi
running_pid token-server >/dev/null ||
  start_one token-server node "$repo/test/support/token-server.mjs" "${ts_args[@]}"

# ---- pushes ------------------------------------------------------------------------
# push NAME SOURCE REPO:TAG [skopeo options]: copies and records "ref digest mediaType".
push() {
  local name=$1 src=$2 ref=127.0.0.1:${port[$1]}/$3 d=$dir/$1 auth=() digest media
  shift 3
  if [ "$name" = plain ]; then auth=(--dest-tls-verify=false); else auth=(--dest-cert-dir "$certdir" --dest-creds "$user:$password"); fi
  skopeo --insecure-policy copy --quiet --retry-times 2 "${auth[@]}" --digestfile "$d/digest" "$@" \
    "$src" "docker://$ref" >"$d/push.log" 2>&1 || { cat "$d/push.log" >&2; return 1; }
  digest=$(cat "$d/digest")
  # The same options for inspect, without their --dest- prefix.
  media=$(skopeo inspect --raw "${auth[@]/--dest-/--}" "docker://${ref%:*}@$digest" |
    node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const m = JSON.parse(s); // OCI manifests may leave mediaType out: tell them by shape
      console.log(m.mediaType ?? (m.manifests ? "application/vnd.oci.image.index.v1+json" : "application/vnd.oci.image.manifest.v1+json"));
    })')
  echo "$ref $digest $media" >>"$d/pushed.txt"
  rm -f "$d/digest" "$d/push.log"
}

oci=oci:$images/oci
for name in "${need_push[@]}"; do
  log "pushing fixtures to $name"
  case $name in
    basic)
      push basic "$oci:small" sif/small:latest
      push basic "$oci:python" sif/python:latest
      push basic "$oci:multi" sif/multi:latest --all
      push basic "$oci:small" sif/small:v2s2 --format v2s2
      # Like every push, a failure here fails the set-up (set -e): the zstd test needs it.
      push basic "oci:$images/oci-zstd:small" sif/small:zstd
      ;;
    token)
      push token "$oci:small" public/small:latest
      push token "$oci:small" private/small:latest
      ;;
    plain) push plain "$oci:small" sif/small:latest ;;
  esac
  echo "$stamp" >"$dir/$name/storage.stamp"
done

# ---- env.json ----------------------------------------------------------------------
node --input-type=module - "$dir" "$stamp" "$user" "$password" "$realm" "$service" "$issuer" \
  "${port[basic]}" "${port[token]}" "${port[plain]}" <<'EOF'
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
const [dir, fixtures, user, password, realm, service, issuer, basicPort, tokenPort, plainPort] =
  process.argv.slice(2);
const images = {};
for (const name of ['basic', 'token', 'plain']) {
  let text = '';
  try {
    text = readFileSync(`${dir}/${name}/pushed.txt`, 'utf8');
  } catch {}
  for (const line of text.split('\n').filter(Boolean)) {
    const [ref, digest, mediaType] = line.split(' ');
    images[ref] = { digest, mediaType };
  }
}
const host = (port) => `127.0.0.1:${port}`;
const env = {
  caFile: `${dir}/ca/ca.crt`,
  certDir: `${dir}/certs.d`,
  basic: { url: `https://${host(basicPort)}`, host: host(basicPort), user, password, realm: 'sif-test-basic' },
  token: { url: `https://${host(tokenPort)}`, host: host(tokenPort), user, password, realm, service, issuer },
  plain: { url: `http://${host(plainPort)}`, host: host(plainPort) },
  fixtures,
  images,
};
writeFileSync(`${dir}/env.json.tmp`, JSON.stringify(env, null, 2) + '\n');
renameSync(`${dir}/env.json.tmp`, `${dir}/env.json`);
EOF
log "ready: $dir/env.json"
