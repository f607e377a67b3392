# Sourced by bench/run.sh. `sif build` of the debootstrap python image from the local
# TLS registry with a cold cache, against Charliecloud (ch-image pull, then ch-convert
# to squashfs) and against the floor: each layer's `gzip -dc` piped into
# `tar2sqfs -c zstd` (no registry, no merge). Wall time and peak RSS, median of
# BENCH_BUILD_RUNS runs; ratios from this run only.

bench_build() {
  local env_json=$repo/.cache/test-registry/env.json runs=${BENCH_BUILD_RUNS:-3}
  local images=${SIF_TEST_IMAGES:-$repo/.cache/test-images}
  [ -r "$env_json" ] || { log "build: $env_json missing (run bench as root: it starts the test registries)"; return 0; }
  local host ca user pass
  read -r host ca user pass < <(node -e '
    const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(e.basic.host, e.caFile, e.basic.user, e.basic.password)' "$env_json")
  local ref=$host/sif/python:latest
  # The python image's layer blobs, as pushed, for the floor.
  local layers
  layers=$(node -e '
    const fs = require("fs"), dir = process.argv[1];
    const blob = (d) => `${dir}/blobs/sha256/${d.slice(7)}`;
    const idx = JSON.parse(fs.readFileSync(`${dir}/index.json`, "utf8"));
    const m = idx.manifests.find((d) => d.annotations?.["org.opencontainers.image.ref.name"] === "python");
    console.log(JSON.parse(fs.readFileSync(blob(m.digest), "utf8")).layers.map((l) => blob(l.digest)).join(" "))' "$images/oci")

  echo "== build: python image ($ref), cold cache, $runs runs, median"
  local results=$work/build.txt
  : >"$results"
  # measure NAME CMD...: appends "NAME seconds peak_kb" for one run.
  measure() {
    local name=$1
    shift
    if /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >"$work/build.log" 2>&1; then
      echo "$name $(cat "$work/time.out")" >>"$results"
    else
      log "FAILED: $name:"
      tail -n 5 "$work/build.log" | sed 's/^/bench:    /' >&2
    fi
  }
  local i
  for i in $(seq "$runs"); do
    rm -rf "$work/sif-cache" "$work/py.sif" "$work/ch" "$work/ch.sqfs" "$work/floor"*
    measure sif env SIF_CACHEDIR="$work/sif-cache" SIF_PASSWORD="$pass" \
      "$sif" build --ca-cert "$ca" --username "$user" "$work/py.sif" "docker://$ref"
    measure ch-image env CH_IMAGE_USERNAME="$user" CH_IMAGE_PASSWORD="$pass" CH_IMAGE_STORAGE="$work/ch" \
      ch-image --no-cache --auth pull --tls-no-verify "$ref"
    measure ch-convert env CH_IMAGE_STORAGE="$work/ch" ch-convert -i ch-image -o squash "$ref" "$work/ch.sqfs"
    measure floor bash -c "n=0; for l in $layers; do n=\$((n+1)); gzip -dc \"\$l\" | tar2sqfs -q -c zstd -f $work/floor\$n.sqfs || exit 1; done"
  done
  node "$repo/bench/stats.mjs" build "$results"
  echo "image: $(du -h "$work/py.sif" 2>/dev/null | cut -f1) sif, $(du -h "$work/ch.sqfs" 2>/dev/null | cut -f1) charliecloud squashfs"
}
