#!/usr/bin/env bash
# SimCLR, ResNet-18 with the 32 px stem, on all of CIFAR-10 on one GPU, then the weighted kNN of
# lightly's CIFAR-10 benchmark (50k training images as the memory, 10k test images).
#   bash benchmarks/gpu_simclr.sh [OUT=/tmp/gpu_simclr]
#   EPOCHS=200 (the schedule's length)  MINUTES=8 (stop there; a short session cannot hold 200 epochs)
#   DATA=../shared/data/images/cifar10-jpg.tar  BATCH=512  TRAIN=50000  TEST=10000 (smaller for a smoke run)
#   PEER_MINUTES=$MINUTES (each side of the lightly comparison; 0 skips it)
# Writes OUT/simclr.json: epochs done, seconds per epoch, the projected time of EPOCHS epochs and
# the kNN top-1 reached. Anchor: lightly's SimCLR ResNet-18, 200 epochs, kNN 0.847 in 87 minutes on
# an A6000. A run cut by MINUTES has not finished its learning-rate schedule, so its kNN is a
# lower bound of the full run's; set MINUTES past the projected time for the full figure.
# Then the same SimCLR beside lightly's (benchmarks/peer_ssl.py, needs pip install -e '.[peers]'): both
# sides ResNet-18 with the 32 px stem, PEER_MINUTES each, one after the other on this GPU; writes
# OUT/peer_simclr.json (images/s, probe and kNN top-1 with standard errors, ours / lightly).
set -euo pipefail
OUT=${1:-/tmp/gpu_simclr}
PY=${PYTHON:-python}
EPOCHS=${EPOCHS:-200}
MINUTES=${MINUTES:-8}
DATA=${DATA:-../shared/data/images/cifar10-jpg.tar}
BATCH=${BATCH:-512}
TRAIN=${TRAIN:-50000}
TEST=${TEST:-10000}
PEER_MINUTES=${PEER_MINUTES:-$MINUTES}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT/gpu.txt" 2>&1 || echo "no GPU" > "$OUT/gpu.txt"

start=$(date +%s)
timeout $((MINUTES * 60 + 180)) $PY -m multiview.cli.main fit --config recipes/simclr_cifar10.yaml --data.path "$DATA" \
  --data.train_limit "$TRAIN" --data.test_limit "$TEST" --data.batch_size "$BATCH" --data.num_workers 8 \
  --model.encoder '{name: resnet18_cifar}' --model.lr 0.003 --model.temperature 0.5 \
  --trainer.max_epochs "$EPOCHS" --trainer.max_time "{minutes: ${MINUTES}}" --trainer.callbacks '[]' \
  --trainer.limit_val_batches 0 --trainer.enable_progress_bar false --trainer.default_root_dir "$OUT/run" \
  || echo "simclr fit failed" | tee -a "$OUT/errors.txt"
fit_s=$(( $(date +%s) - start ))

timeout 240 $PY -m multiview.cli.main eval knn --checkpoint "$OUT/run" --data "$DATA" --train-limit "$TRAIN" \
  --test-limit "$TEST" --baselines '' --out "$OUT/knn" || echo "knn failed" | tee -a "$OUT/errors.txt"

$PY - "$OUT" "$fit_s" "$EPOCHS" <<'EOF'
import csv, json, sys
from pathlib import Path
out, fit_s, epochs = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
rows = list(csv.DictReader(open(out / "run" / "metrics.csv")))
done = 1 + max(int(r["epoch"]) for r in rows if r.get("epoch"))
knn = json.loads(next((out / "knn").rglob("*.json")).read_text())
per_epoch = fit_s / max(done, 1)
result = {"epochs_done": done, "fit_seconds": fit_s, "seconds_per_epoch": per_epoch,
          "projected_minutes_for_epochs": per_epoch * epochs / 60, "epochs": epochs,
          "knn": knn, "anchor": {"lightly_simclr_resnet18_200ep_knn": 0.847, "lightly_minutes_a6000": 87}}
(out / "simclr.json").write_text(json.dumps(result, indent=1))
print(json.dumps(result, indent=1))
EOF

if [ "$PEER_MINUTES" != "0" ]; then
  timeout $(( ${PEER_MINUTES%.*} * 120 + 600 )) $PY benchmarks/peer_ssl.py --data "$DATA" --methods simclr \
    --encoder resnet18 --minutes "$PEER_MINUTES" --batch-size "$BATCH" --train-limit "$TRAIN" --workers 8 \
    --probe-train "$(( TRAIN < 10000 ? TRAIN : 10000 ))" --probe-test "$TEST" --workdir "$OUT/peer" \
    --out "$OUT/peer_simclr.json" || echo "peer_ssl failed" | tee -a "$OUT/errors.txt"
fi
