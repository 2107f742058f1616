#!/usr/bin/env bash
# The project's run on a machine with a real GPU, in at most 8 minutes, in the project's root:
#   bash bench/gpu-run.sh OUTDIR [--quick]
# after `npm ci`, `npm run build:cli` and `npm run bench -- --help` (which builds bench/dist), or
# on a machine without Node and network from a pack made beside them (.gpu-pack/: node.xz,
# modules.tar.xz, deb/, torch_speed.py), which it unpacks first. Writes to OUTDIR:
#   env.txt, probe.json   the adapter (features, limits), dispatch and handoff costs, residency
#   check.txt             char-rnn check with every recurrent schedule forced, LSTM H=256 B=32
#                         and B=1, H=1024 B=8
#   bench.md, bench.json  the GPU engine (its schedule measured) on the tanh, LSTM and GRU rows
#                         at H=256, B=1 and 32, and the two-layer LSTMs of --big
#   torch.json            PyTorch (cuDNN) on the same shapes, where python3 has torch with CUDA
#   run.log               everything printed
# Each part has its own time limit; a failing part does not stop the others.
set -u
out=${1:?usage: bench/gpu-run.sh OUTDIR [--quick]}; quick=${2:-}
mkdir -p "$out"; out=$(cd "$out" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd); cd "$root"; p=$root/.gpu-pack
exec > >(tee -a "$out/run.log") 2>&1
step() { echo; echo "=== $* ($(date +%T))"; }

step setup
if ! command -v node >/dev/null && [ -f $p/node.xz ]; then
  rt=/tmp/gpu-run-node; mkdir -p $rt
  [ -x $rt/node ] || { xz -dc $p/node.xz > $rt/node && chmod +x $rt/node; }
  export PATH=$rt:$PATH
fi
if [ -f $p/modules.tar.xz ] && { [ ! -d node_modules/webgpu/dist/linux-x64 ] || [ ! -d bench/node_modules/@tensorflow ]; }; then
  tmp=$(mktemp -d); tar -C $tmp -xJf $p/modules.tar.xz
  [ -d node_modules/webgpu/dist/linux-x64 ] || { rm -rf node_modules; mv $tmp/node_modules node_modules; }
  [ -d bench/node_modules/@tensorflow ] || { rm -rf bench/node_modules; mv $tmp/bench_node_modules bench/node_modules; }
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  for f in $p/deb/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done; ldconfig
fi
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  [ -f $icd ] && { export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd; break; }
done
# Some driver installs point the ICD at libGLX_nvidia.so.0, which has no vkCreateInstance there
# (Dawn then finds no adapter); the same driver's libEGL_nvidia.so.0 works.
if [ -n "${VK_DRIVER_FILES:-}" ] && grep -q 'libGLX_nvidia' "$VK_DRIVER_FILES" && ldconfig -p | grep -q 'libEGL_nvidia.so.0'; then
  sed 's/libGLX_nvidia\.so\.0/libEGL_nvidia.so.0/' "$VK_DRIVER_FILES" > /tmp/gpu-run-nvidia_icd.json
  export VK_DRIVER_FILES=/tmp/gpu-run-nvidia_icd.json VK_ICD_FILENAMES=/tmp/gpu-run-nvidia_icd.json
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} XDG_CACHE_HOME=$out/cache
node --version; { nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; } > $out/env.txt 2>&1; cat $out/env.txt

step probe
timeout 120 node bench/dist/probe.js --out $out/probe 2>&1 | grep -v '^Warning: maxDynamic'
f=$(ls -t $out/probe/*.json 2>/dev/null | head -1); [ -n "$f" ] && cp "$f" $out/probe.json

step check
cli="node dist/cli.js"
{ while read -r spec; do
    [ -n "$spec" ] || continue; echo "--- check $spec"
    timeout 100 $cli check --text corpus/lighthouse.txt --steps 1 --optimizer adam $spec > /tmp/gpu-run-check.txt 2>&1; rc=$?
    grep -v '^Warning: maxDynamic' /tmp/gpu-run-check.txt | grep -E '^check:|FAIL|passed|failed|Error' | head -8; echo "exit $rc"
  done <<SPECS
--cell lstm --hidden 256 --batch 32 --seq-len 64 --recurrence auto
$([ "$quick" = --quick ] || for r in streams4 streams8 reference steps grid; do echo "--cell lstm --hidden 256 --batch 32 --seq-len 64 --recurrence $r"; done)
--cell lstm --hidden 256 --batch 1 --seq-len 64 --recurrence streams1
$([ "$quick" = --quick ] || for r in reference steps grid; do echo "--cell lstm --hidden 1024 --batch 8 --seq-len 16 --recurrence $r"; done)
SPECS
  } > $out/check.txt 2>&1 || true
echo "checks passed: $(grep -c '^exit 0' $out/check.txt) of $(grep -c '^exit ' $out/check.txt)"; cat $out/check.txt

step bench
text=corpus/lighthouse.txt; [ -f $p/tinyshakespeare.txt ] && text=$p/tinyshakespeare.txt
cases=h256-b1,h256-b32,lstm-h256-b1,lstm-h256-b32,gru-h256-b1,gru-h256-b32
bargs="--text $text --engines gpu --reps 3 --max-cell-time 25 --out $out/bench"
[ "$quick" = --quick ] && bargs="$bargs --cases h256-b1,lstm-h256-b32 --max-cell-time 10" || bargs="$bargs --big --cases $cases,lstm2-h512-b32,lstm2-h1024-b16"
timeout 300 node bench/dist/bench.js $bargs 2>&1 | grep -v '^Warning: maxDynamic' | tail -60
f=$(ls -t $out/bench/*.md 2>/dev/null | head -1); [ -n "$f" ] && cp "$f" $out/bench.md && cp "${f%.md}.json" $out/bench.json

step torch
ts=$p/torch_speed.py
if [ -f $ts ] && python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  timeout 150 python3 $ts --device cuda --reps 3 --min-time 0.2 --out $out/torch.json --big --deep 2>&1 | tail -30
else echo "no torch_speed.py in .gpu-pack or no torch with CUDA: skipped"; fi
step done
ls -la $out
