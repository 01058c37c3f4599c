#!/usr/bin/env bash
# est-train killed with SIGKILL at random moments — many of them while a checkpoint is being
# written or an old one pruned, since the run saves at every step — and resumed each time, must
# end with the same bytes as a run never interrupted, and leave no step directory that is not a
# complete checkpoint. Usage: kill_test.sh EST_TRAIN TEXT_FILE WORK_DIR [KILLS]
set -u
est_train=$1 data=$2 work=$3 kills=${4:-25}
rm -rf "$work"
mkdir -p "$work"
fail() {
  echo "FAILED: $*"
  exit 1
}
args=(--preset tiny --schedule est --steps 100 --batch 2 --seq 32 --eval-interval 4 --threads 2
      --sample 0 --data "$data" --checkpoint-interval 1 --keep 2 --quiet)
"$est_train" "${args[@]}" --checkpoint-dir "$work/straight" > /dev/null 2>&1 || fail "straight run"
final=step-00000100
[[ -f $work/straight/$final/model.safetensors ]] || fail "the straight run has no $final"

has_checkpoint() {
  for d in "$work/killed"/step-*; do
    [[ -f $d/state.json ]] && grep -q '"complete": true' "$d/state.json" && return 0
  done
  return 1
}
RANDOM=20261202
done_kills=0
for ((i = 0; i < kills; ++i)); do
  [[ -f $work/killed/$final/state.json ]] && break
  if has_checkpoint; then
    "$est_train" --checkpoint-dir "$work/killed" --resume --quiet > /dev/null 2>&1 &
  else
    "$est_train" "${args[@]}" --checkpoint-dir "$work/killed" > /dev/null 2>&1 &
  fi
  pid=$!
  sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
  kill -9 "$pid" 2> /dev/null && done_kills=$((done_kills + 1))
  wait "$pid" 2> /dev/null
done
if [[ ! -f $work/killed/$final/state.json ]]; then
  if has_checkpoint; then
    "$est_train" --checkpoint-dir "$work/killed" --resume --quiet > /dev/null 2>&1 || fail "resume"
  else
    "$est_train" "${args[@]}" --checkpoint-dir "$work/killed" > /dev/null 2>&1 || fail "restart"
  fi
fi
for f in model.safetensors optimizer.safetensors; do
  cmp -s "$work/straight/$final/$f" "$work/killed/$final/$f" \
    || fail "$f after $done_kills kills differs from the uninterrupted run's"
done
for d in "$work/killed"/step-*; do
  grep -q '"complete": true' "$d/state.json" 2> /dev/null || fail "orphan: $d"
done
hidden=$(find "$work/killed" -maxdepth 1 -name '.step-*' | wc -l)
((hidden == 0)) || fail "hidden leftovers after the last save: $(ls -A "$work/killed")"
echo "identical after $done_kills kills"
