#!/usr/bin/env bash
# The GPU checks of docs/scale.md, in under 8 minutes on one H200. Writes JSON under OUT.
#   bash benchmarks/gpu_check.sh [OUT=/tmp/gpu_check]
# 1. CMC audio-visual (recipes/cmc_av_folder.yaml) from shards: samples/s (goal >= 5,000), data
#    wait vs compute, MFU; the shards are cut from the embedded synthetic corpus (or $INDEX).
# 2. ResNet-50 224 px bf16 training img/s vs the A100 AMP anchor 2,470 (goal >= 1.5x).
# 3. word2vec on the GPU vs gensim on the CPU, words/s (goal >= 20x).
set -euo pipefail
OUT=${1:-/tmp/gpu_check}
PY=${PYTHON:-python}
mkdir -p "$OUT"
export LITDATA_DISABLE_VERSION_CHECK=1
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"

if [ -z "${INDEX:-}" ]; then
  FOLDER=$($PY -c "from multiview.data.video.synthetic import SyntheticAV as S; d=S(); d.prepare_data(); print(d.index)")
  INDEX="$OUT/synthetic.index"
  timeout 120 $PY -m multiview.cli.main data index "$FOLDER" --out "$INDEX" --workers 8
fi
timeout 150 $PY -m multiview.cli.main data shard "$INDEX" --out "$OUT/shards" --workers 12 --clips_per_video 16
timeout 120 $PY -m multiview.cli.main bench --config recipes/cmc_av_folder.yaml \
  --data multiview.data.video.shard_stream.ShardDataModule --data.shards "$OUT/shards" \
  --data.batch_size 512 --data.num_workers 8 --data.val_fraction 0.1 --steps 60 --warmup 10 \
  --out "$OUT/cmc_bench.json" || echo "cmc bench failed" | tee -a "$OUT/errors.txt"

timeout 90 $PY benchmarks/resnet50_throughput.py --out "$OUT/resnet50.json" \
  || echo "resnet50 failed" | tee -a "$OUT/errors.txt"

timeout 120 $PY benchmarks/word2vec_vs_gensim.py --corpus lee --seeds 1 --epochs 5 --accelerator gpu \
  --workers 8 > "$OUT/word2vec.json" || echo "word2vec failed" | tee -a "$OUT/errors.txt"
cat "$OUT"/*.json
