#!/usr/bin/env bash
# est-train on a full disk, on a small tmpfs (needs root to mount one; exits 77, which CTest
# reports as skipped, otherwise):
#   1. a checkpoint directory without room for a checkpoint is refused before training;
#   2. a disk that fills up between checkpoints stops the run with a non-zero exit and a message,
#      the earlier checkpoint stays complete and resumable, and no partial checkpoint remains;
#   3. --metrics and --plot on a full disk fail loudly instead of leaving empty or cut files;
#   4. --resume on a disk without room for the next checkpoint is refused before training, and
#      the checkpoint it would resume from stays byte for byte as it was.
# Usage: full_disk_test.sh EST_TRAIN TEXT_FILE WORK_DIR
set -u
est_train=$1 data=$2 work=$3
umount "$work/small" 2> /dev/null
rm -rf "$work"
mkdir -p "$work/small" "$work/big"
if [[ $EUID -ne 0 ]] || ! mount -t tmpfs -o size=3m tmpfs "$work/small" 2> /dev/null; then
  echo "skipped: mounting a small tmpfs needs root"
  exit 77
fi
trap 'umount "$work/small"' EXIT
fail() {
  echo "FAILED: $*"
  exit 1
}
args=(--preset tiny --schedule est --steps 6 --batch 2 --seq 32 --eval-interval 0 --threads 2
      --sample 0 --data "$data" --quiet)

# 1. Room for the probe (params x 16 bytes + 1 MB, about 2.98 MB of the 3 MB) is missing once
#    2 MB are taken.
dd if=/dev/zero of="$work/small/filler" bs=1M count=2 status=none
out=$("$est_train" "${args[@]}" --checkpoint-dir "$work/small/a" 2>&1) && fail "1: exit 0: $out"
[[ $out == *"cannot take a checkpoint"* ]] || fail "1: unexpected message: $out"
[[ -z $(ls -A "$work/small/a" 2> /dev/null) ]] || fail "1: files were left: $(ls -A "$work/small/a")"
rm -f "$work/small/filler"

# 2. The first checkpoint (about 1.9 MB) fits, the second does not.
out=$("$est_train" "${args[@]}" --checkpoint-dir "$work/small/b" --checkpoint-interval 2 2>&1) \
  && fail "2: exit 0 although the second checkpoint cannot fit: $out"
[[ $out == *"est-train:"* ]] || fail "2: no error message: $out"
[[ -f $work/small/b/step-00000002/state.json ]] || fail "2: the first checkpoint is gone"
[[ ! -e $work/small/b/step-00000004 ]] || fail "2: a partial second checkpoint is in place"
[[ -z $(ls -A "$work/small/b" | grep -v '^step-00000002$') ]] \
  || fail "2: leftovers: $(ls -A "$work/small/b")"
cp -r "$work/small/b" "$work/big/b"
"$est_train" --checkpoint-dir "$work/big/b" --resume --quiet > /dev/null 2>&1 \
  || fail "2: the kept checkpoint does not resume"
[[ -f $work/big/b/step-00000006/state.json ]] || fail "2: the resumed run did not finish"
rm -rf "$work/small/b"

# 4. A stopped run moved to the small disk: its 1.9 MB checkpoint leaves no room for the next.
"$est_train" "${args[@]}" --checkpoint-dir "$work/big/c" --stop-after 2 > /dev/null 2>&1 \
  || fail "4: the run to resume did not stop cleanly"
cp -r "$work/big/c" "$work/small/c"
digests() { (cd "$1" && find . -type f -exec sha256sum {} + | sort); }
before=$(digests "$work/small/c")
out=$("$est_train" --checkpoint-dir "$work/small/c" --resume --quiet 2>&1) \
  && fail "4: --resume on a full disk exited 0: $out"
[[ $out == *"cannot take a checkpoint"* ]] || fail "4: unexpected message: $out"
[[ $before == "$(digests "$work/small/c")" ]] || fail "4: the stored checkpoint changed"
rm -rf "$work/small/c"

# 3. A full disk under --metrics and --plot.
dd if=/dev/zero of="$work/small/filler" bs=64k status=none 2> /dev/null
out=$("$est_train" "${args[@]}" --metrics "$work/small/m.jsonl" 2>&1) && fail "3: metrics: exit 0"
[[ $out == *"--metrics: writing"* ]] || fail "3: metrics: unexpected message: $out"
out=$("$est_train" "${args[@]}" --plot "$work/small/p.png" 2>&1) && fail "3: plot: exit 0"
[[ $out == *"--plot: cannot write"* || $out == *"wrote no image"* ]] \
  || fail "3: plot: unexpected message: $out"
echo "full-disk cases behave"
