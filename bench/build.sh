# Sourced by bench/run.sh. `sif build` of the debootstrap python image from the local
# TLS registry, with a cold cache and with a warm one, against the floor and against
# Charliecloud (ch-image pull, then ch-convert to squashfs). The floor is one stream:
# the layer blobs, `gzip -dc` in order, joined into one archive (bench/one-tar.py) and
# piped into `tar2sqfs -c zstd -X level=3 -j <cores>`, what sif's default compression
# does, with no registry, no digests and no merge. Wall time and peak RSS, median of
# BENCH_BUILD_RUNS runs; ratios from this run only. Then where sif's time goes
# (SIF_BUILD_TIMINGS), and one warm build per other compression for the README's table.

bench_build() {
  local env_json=$repo/.cache/test-registry/env.json runs=${BENCH_BUILD_RUNS:-3} cores
  local images=${SIF_TEST_IMAGES:-$repo/.cache/test-images}
  cores=$(nproc)
  [ -r "$env_json" ] || { log "build: $env_json missing (run bench as root: it starts the test registries)"; return 0; }
  command -v tar2sqfs >/dev/null || { log "build: tar2sqfs missing (squashfs-tools-ng), no floor"; return 0; }
  local host ca user pass
  read -r host ca user pass < <(node -e '
    const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(e.basic.host, e.caFile, e.basic.user, e.basic.password)' "$env_json")
  local ref=$host/sif/python:latest
  # The python image's layer blobs, as pushed, bottom first, for the floor.
  local layers
  layers=$(node -e '
    const fs = require("fs"), dir = process.argv[1];
    const blob = (d) => `${dir}/blobs/sha256/${d.slice(7)}`;
    const idx = JSON.parse(fs.readFileSync(`${dir}/index.json`, "utf8"));
    const m = idx.manifests.find((d) => d.annotations?.["org.opencontainers.image.ref.name"] === "python");
    console.log(JSON.parse(fs.readFileSync(blob(m.digest), "utf8")).layers.map((l) => blob(l.digest)).join(" "))' "$images/oci")

  echo "== build: python image ($ref), $runs runs, median; $cores cores"
  local results=$work/build.txt timings=$work/build-timings.txt sizes=$work/build-sizes.txt
  : >"$results"
  : >"$timings"
  : >"$sizes"
  # measure NAME CMD...: appends "NAME seconds peak_kb" for one run; keeps sif's timing line.
  measure() {
    local name=$1
    shift
    if /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >"$work/build.log" 2>&1; then
      echo "$name $(cat "$work/time.out")" >>"$results"
      sed -n "s/^sif: timings (s): /$name /p" "$work/build.log" >>"$timings"
    else
      log "FAILED: $name:"
      tail -n 5 "$work/build.log" | sed 's/^/bench:    /' >&2
    fi
  }
  local sif_build=(env SIF_CACHEDIR="$work/sif-cache" SIF_PASSWORD="$pass" SIF_BUILD_TIMINGS=1
    "$sif" build -F --ca-cert "$ca" --username "$user")
  local i have_ch=
  command -v ch-image >/dev/null && command -v ch-convert >/dev/null && have_ch=1
  [ -n "$have_ch" ] || log "build: ch-image or ch-convert missing: no Charliecloud ratio"
  for i in $(seq "$runs"); do
    rm -rf "$work/sif-cache" "$work/py.sif" "$work/ch" "$work/ch.sqfs" "$work/floor.sqfs"
    measure floor bash -c "for l in $layers; do gzip -dc \"\$l\" || exit 1; done | python3 '$repo/bench/one-tar.py' |
      tar2sqfs -q -c zstd -X level=3 -j $cores -f '$work/floor.sqfs'"
    measure sif-cold "${sif_build[@]}" "$work/py.sif" "docker://$ref"
    measure sif-warm "${sif_build[@]}" "$work/py.sif" "docker://$ref"
    if [ -n "$have_ch" ]; then
      measure ch-image env CH_IMAGE_USERNAME="$user" CH_IMAGE_PASSWORD="$pass" CH_IMAGE_STORAGE="$work/ch" \
        ch-image --no-cache --auth pull --tls-no-verify "$ref"
      measure ch-convert env CH_IMAGE_STORAGE="$work/ch" ch-convert -i ch-image -o squash "$ref" "$work/ch.sqfs"
    fi
  done
  echo "default $(stat -c %s "$work/py.sif" 2>/dev/null || echo 0)" >>"$sizes"
  # The other compressions, warm (the blobs are in the cache): time and size.
  local c
  for c in ${BENCH_BUILD_COMPRESS:-zstd:19 gzip}; do
    measure "sif-warm-$c" "${sif_build[@]}" --compress "$c" "$work/py-$c.sif" "docker://$ref"
    echo "$c $(stat -c %s "$work/py-$c.sif" 2>/dev/null || echo 0)" >>"$sizes"
  done
  echo "floor image $(stat -c %s "$work/floor.sqfs" 2>/dev/null || echo 0)" >>"$sizes"
  [ -n "$have_ch" ] && echo "charliecloud image $(stat -c %s "$work/ch.sqfs" 2>/dev/null || echo 0)" >>"$sizes"
  node "$repo/bench/stats.mjs" build "$results" "$timings" "$sizes"
}
