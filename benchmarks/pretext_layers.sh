#!/usr/bin/env bash
# The lecture's chart (Zhang et al. 2017, Table 2) from our own runs: every CIFAR-10 pretext recipe
# at its defaults, then a linear probe on every layer of each, beside the same architecture at
# random init, a supervised network, raw pixels and Gabor features.
#   bash benchmarks/pretext_layers.sh [OUT=/tmp/pretext_layers]
#   DATA=../shared/data/images/cifar10-jpg.tar  SPATIAL=2 (maps pooled to SxS)  METHODS="rotation ..."
#   FIT_ARGS="--data.train_limit 256 --trainer.max_epochs 1" and LIMITS="--train-limit 500 --test-limit 200
#   --supervised-epochs 1" shrink it to a smoke run
# Writes OUT/times.txt (wall seconds per recipe) and OUT/chart/layers.{json,md,png}. A finished
# recipe (OUT/<method>/done) is not trained again, so a stopped run picks up where it was.
# About 90 minutes for the first seven recipes on 2 idle CPU cores; the probes took 36 minutes at SPATIAL=2
# with the supervised ceiling, and about 5.5 minutes per network at SPATIAL=4.
set -euo pipefail
OUT=${1:-/tmp/pretext_layers}
PY=${PYTHON:-python}
DATA=${DATA:-../shared/data/images/cifar10-jpg.tar}
SPATIAL=${SPATIAL:-2}
FIT_ARGS=${FIT_ARGS:-}
LIMITS=${LIMITS:---train-limit 5000 --test-limit 2000 --supervised-epochs 15}
METHODS=${METHODS:-rotation relative_position jigsaw colorization context_encoder autoencoder denoising_autoencoder split_brain}
mkdir -p "$OUT"

runs=()
for m in $METHODS; do
  runs+=("$OUT/$m")
  [ -f "$OUT/$m/done" ] && continue
  start=$(date +%s)
  $PY -m multiview.cli.main fit --config "recipes/${m}_cifar10.yaml" --data.path "$DATA" \
    --trainer.enable_progress_bar false --trainer.default_root_dir "$OUT/$m" $FIT_ARGS > "$OUT/$m.log" 2>&1
  echo "$m $(( $(date +%s) - start )) s" >> "$OUT/times.txt"
  touch "$OUT/$m/done"
done

names=$(echo $METHODS | tr ' ' ',')
$PY -m multiview.cli.main eval layers "${runs[@]}" --names "$names" --data "$DATA" $LIMITS \
  --spatial "$SPATIAL" --out "$OUT/chart" > "$OUT/chart.log" 2>&1
cat "$OUT/chart/layers.md"
