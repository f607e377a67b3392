# Sourced by bench/run.sh. Read throughput: tar all of /usr inside the container, with
# one reader, then with two concurrent readers that each take every other file, so both
# cases read the same bytes. tar writes to a pipe into wc -c: with the archive on
# /dev/null GNU tar would skip reading file contents.

# The payload script for N readers (no single quotes: it travels inside '...'). sort
# makes the split the same on every file system (readdir order differs), hence the bytes.
# Needs GNU tar (-T: names from stdin); /bin/tar by path, as busybox sh would run its
# own tar applet for a bare "tar".
reader_script() {
  echo "n=$1; i=0; while [ \$i -lt \$n ]; do find /usr ! -type d | sort | awk -v n=\$n -v i=\$i \"NR % n == i\" | /bin/tar -cf - -T - 2>/dev/null | wc -c & i=\$((i+1)); done; wait"
}

bench_read() {
  echo "== 2. read throughput: tar of /usr in the container (${read_runs} runs after 1 warm-up) =="
  local n rt prefix names=() cmds=() bytes total
  : >"$work/read-bytes.txt"
  for n in 1 2; do
    for rt in sif ch-run local; do
      case $rt in
        sif) prefix=$sif_cmd ;;
        ch-run) prefix=$ch_cmd ;;
        local) prefix=$bwrap_cmd ;;
      esac
      # One untimed run: checks the runtime works, and counts the bytes tar produced
      # (the same for every runtime, or something is wrong) for the MB/s column.
      if ! bytes=$($prefix sh -c "$(reader_script $n)" 2>"$work/read.err" </dev/null); then
        log "FAILED: $rt with $n reader(s), exit status $? (128+N: signal N); its stderr, by count:"
        sort "$work/read.err" | uniq -c | sort -rn | head -n 4 | sed 's/^/bench:    /' >&2
        continue
      fi
      total=$(printf '%s\n' "$bytes" | awk '{ s += $1 } END { print s + 0 }')
      if [ "$total" -lt 1000000 ]; then
        log "FAILED: $rt with $n reader(s) read only $total bytes (is /bin/tar GNU tar?)"
        continue
      fi
      echo "$rt-$n $total" >>"$work/read-bytes.txt"
      names+=("$rt-$n")
      cmds+=("$prefix sh -c '$(reader_script $n)'")
    done
  done
  local args=() i
  for i in "${!names[@]}"; do args+=("${names[i]}" "${cmds[i]}"); done
  timed_files=()
  timed "$work/read" 1 "$read_runs" "${args[@]}"
  node "$repo/bench/stats.mjs" read "$work/read-bytes.txt" "${timed_files[@]}"
}
