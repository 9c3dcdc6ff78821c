#!/usr/bin/env bash
# Consumer test: what a user gets from `npm install inception-net`. Packs the tarball (prepack makes the
# prebuilt engine), installs it into a fresh project outside the repo as a non-root user with its own HOME and
# npm cache (nothing from this checkout: no build/, no devDependencies), then runs every command, the ESM /
# CommonJS / tsc checks and `doctor --json`, proves the bundled oneDNN is the one mapped (the system's
# libdnnl hidden in a mount namespace when this runs as root), and checks that a corrupt prebuilt binary
# gives the fallback warning and a working command. Prints `consumer: N passed, M failed` last.
# KEEP_CONSUMER=1 keeps the temporary folder; CONSUMER_TARBALL=FILE tests that tarball instead of packing.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d /tmp/inception-consumer.XXXXXX)"
chmod 755 "$WORK"
PROJECT="$WORK/project"
LOGS="$WORK/logs"
USER_HOME="$WORK/home"
mkdir -p "$PROJECT" "$LOGS" "$USER_HOME"
export ONNXRUNTIME_NODE_INSTALL_CUDA=skip ONNXRUNTIME_NODE_INSTALL=skip
passed=0
failed=0
SERVER_PID=""

cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  if [ "${KEEP_CONSUMER:-}" = 1 ]; then echo "consumer: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The user: a throw-away non-root account when this runs as root, else the caller (with a fresh HOME).
RUN=()
if [ "$(id -u)" = 0 ]; then
  CONSUMER=inception-consumer
  id "$CONSUMER" >/dev/null 2>&1 || useradd --no-create-home --shell /bin/bash --user-group "$CONSUMER"
  chown -R "$CONSUMER:" "$PROJECT" "$USER_HOME"
  RUN=(runuser -u "$CONSUMER" --)
fi
# A clean environment, as a new shell of that user would have.
USER_ENV=(env -i PATH="/usr/local/bin:/usr/bin:/bin" HOME="$USER_HOME" LANG=C.UTF-8
  npm_config_cache="$USER_HOME/.npm" npm_config_update_notifier=false
  ONNXRUNTIME_NODE_INSTALL_CUDA=skip ONNXRUNTIME_NODE_INSTALL=skip)
as_user() {
  (cd "$PROJECT" && "${RUN[@]}" "${USER_ENV[@]}" "$@")
}

ok() {
  passed=$((passed + 1))
  echo "  ok    $1"
}
bad() {
  failed=$((failed + 1))
  echo "  FAIL  $1${2:+: $2}"
  [ -f "$LOGS/$1.log" ] && tail -n 8 "$LOGS/$1.log" | sed 's/^/        /'
}
# run_check NAME COMMAND...: runs COMMAND as is; its stdout+stderr go to logs/NAME.log.
run_check() {
  local name="$1"
  shift
  if "$@" >"$LOGS/$name.log" 2>&1; then ok "$name"; else bad "$name" "exit $?"; fi
}
# check NAME COMMAND...: run_check as the user, in the project, 180 s at most.
check() {
  local name="$1"
  shift
  run_check "$name" as_user timeout 180 "$@"
}
# expect NAME 'JS expression over `log` (the text of logs/NAME.log)': a check on a command's output.
expect() {
  local name="$1" condition="$2"
  if node -e "const log = require('fs').readFileSync(process.argv[1], 'utf8'); process.exit(($condition) ? 0 : 1)" \
    "$LOGS/$name.log" 2>/dev/null; then
    ok "$name: $condition"
  else
    bad "$name: $condition"
  fi
}
seconds() { echo $(($(date +%s%N) / 1000000)); }

echo "consumer: packing $ROOT"
start=$(seconds)
if [ -n "${CONSUMER_TARBALL:-}" ]; then
  cp "$CONSUMER_TARBALL" "$WORK/"
elif ! (cd "$ROOT" && npm pack --pack-destination "$WORK" >"$LOGS/pack.log" 2>&1); then
  bad pack
  echo "consumer: $passed passed, $failed failed"
  exit 1
fi
TARBALL="$(ls "$WORK"/inception-net-*.tgz)"
chmod 644 "$TARBALL"
ok "pack: $(basename "$TARBALL"), $(($(stat -c %s "$TARBALL") / 1024)) KiB in $((($(seconds) - start) / 1000)) s"

echo "consumer: installing into $PROJECT as ${CONSUMER:-$(id -un)}"
start=$(seconds)
check init npm init -y
check install npm install --no-audit --no-fund "$TARBALL" typescript@5 @types/node@20
echo "  (install: $((($(seconds) - start) / 1000)) s)"
PKG="$PROJECT/node_modules/inception-net"
# npm 11 skips dependency install scripts until approved; approved, the script must find the prebuilt engine.
check install-script sh -c 'npm install-scripts approve inception-net && npm rebuild --foreground-scripts inception-net'
expect install-script "/native oneDNN engine: prebuilt/.test(log)"

echo "consumer: commands"
SAMPLE="$PKG/data/cifar10-sample"
IMAGE="$SAMPLE/val/ship/0000.jpg"
# A few dozen images: 3 classes, 8 for training and 4 for validation each.
for cls in airplane cat ship; do
  mkdir -p "$PROJECT/tiny/train/$cls" "$PROJECT/tiny/val/$cls"
  cp $(ls "$SAMPLE/train/$cls"/* | head -8) "$PROJECT/tiny/train/$cls/"
  cp $(ls "$SAMPLE/val/$cls"/* | head -4) "$PROJECT/tiny/val/$cls/"
done
[ "$(id -u)" = 0 ] && chown -R "$CONSUMER:" "$PROJECT/tiny"
SMALL=(--input-size 32 --width 0.1)
check help npx inception --help
expect help "/doctor/.test(log) && /predict/.test(log)"
check summary npx inception summary "${SMALL[@]}" --json
check train npx inception train --data tiny/train --val-data tiny/val "${SMALL[@]}" --epochs 1 --batch-size 8 --out tiny-model --json
check evaluate npx inception evaluate --model-dir tiny-model --data tiny/val --json
check predict npx inception predict --model cifar10 --top 1 --json "$IMAGE"
expect predict "/\"ship\"/.test(log) && !/unavailable/.test(log)"
# Starting from weights: the shipped model as a frozen body, its features, and the HDF5 reader (ESM-only h5wasm,
# imported from the CommonJS package) reached from the installed package: a bad .h5 must be its one-line error.
check fine-tune npx inception train --data tiny/train --val-data tiny/val --weights cifar10 --freeze base --epochs 1 --batch-size 8 --out tiny-ft --json
check features npx inception features --weights cifar10 tiny/val --out features.csv
expect features "require('fs').readFileSync('$PROJECT/features.csv', 'utf8').trim().split('\\n').length === 13"
as_user sh -c 'echo "not hdf5" > not.h5'
check h5-error sh -c "npx inception predict --model inception-v3 --weights not.h5 '$IMAGE'; test \$? = 1"
expect h5-error "/not\.h5.*not an HDF5 file/.test(log) && !/Cannot find|ERR_|\n\s+at /.test(log)"
check export-onnx npx inception export --model-dir tiny-model --format onnx --out tiny.onnx
check export-tfjs npx inception export --model-dir tiny-model --format tfjs --out tiny-web
check report npx inception report --model-dir tiny-model --data tiny/val --out report.html
check plot npx inception plot "${SMALL[@]}" --out net.svg
check bench npx inception bench --quick --only infer-224-b1 --engines onednn,onnxruntime --width 0.1 --json
expect bench "/\"missing\"/.test(log) && /onnxruntime-node does not load/.test(log)"
# The same binary on an AVX2-only CPU: oneDNN capped at AVX2 must still run it.
check avx2-predict env DNNL_MAX_CPU_ISA=AVX2 sh -c "npx inception predict --model cifar10 --top 1 '$IMAGE' && npx inception doctor --json"
expect avx2-predict "/ship/.test(log) && /\"cpuIsa\": \"avx2\"/.test(log)"
check doctor npx inception doctor --json
expect doctor "(() => { const d = JSON.parse(log); return d.backend.backend === 'onednn' && d.addon.source === 'prebuilt' && d.addon.bundledOneDnn && d.addon.libraries.libdnnl.includes('/node_modules/inception-net/prebuilds/'); })()"

# serve: the page at / and a prediction, then the process's own maps: the bundled oneDNN is what it runs.
# As root, in a mount namespace where the system's libdnnl, libgomp and libOpenCL are empty files.
HIDE=()
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  HIDE=(unshare -m sh -c 'touch "$0"; for f in $(readlink -f /usr/lib/x86_64-linux-gnu/libdnnl.so* /usr/lib/x86_64-linux-gnu/libgomp.so* /usr/lib/x86_64-linux-gnu/libOpenCL.so* | sort -u); do mount --bind "$0" "$f"; done; exec "$@"' "$WORK/empty")
  echo "consumer: system libdnnl/libgomp/libOpenCL hidden for serve, predict and doctor"
  run_check hidden-predict timeout 180 "${HIDE[@]}" "${RUN[@]}" "${USER_ENV[@]}" sh -c \
    "cd '$PROJECT' && npx inception predict --model cifar10 --top 1 '$IMAGE' && npx inception doctor --json"
  expect hidden-predict "/ship/.test(log) && !/unavailable/.test(log) && /\"bundledOneDnn\": true/.test(log)"
else
  echo "consumer: not root or no unshare: the system's libraries stay visible (maps still checked)"
fi
"${HIDE[@]}" "${RUN[@]}" "${USER_ENV[@]}" \
  sh -c "cd '$PROJECT' && exec node_modules/.bin/inception serve --model cifar10 --port 0" >"$LOGS/serve.log" 2>&1 &
SERVER_PID=$!
url=""
for _ in $(seq 1 120); do
  url="$(grep -o 'http://[0-9.:]*' "$LOGS/serve.log" | head -1)"
  [ -n "$url" ] && break
  sleep 0.5
done
if [ -n "$url" ] && curl -fsS "$url/" -o "$LOGS/serve-page.html" && grep -qi '<html' "$LOGS/serve-page.html"; then
  ok "serve: page at /"
else
  bad serve "no page at ${url:-(no url)}/"
fi
if [ -n "$url" ] && curl -fsS -H 'content-type: image/jpeg' --data-binary "@$IMAGE" "$url/v1/predict" >"$LOGS/serve-predict.log"; then
  ok "serve: POST /v1/predict"
  expect serve-predict "/ship/.test(log)"
else
  bad "serve: POST /v1/predict"
fi
# The node process under the wrappers (runuser stays as its parent; its command line names the same words).
node_pid=""
for p in /proc/[0-9]*; do
  [ "$(cat "$p/comm" 2>/dev/null)" = node ] || continue
  tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q "inception serve --model cifar10 --port 0" && node_pid=${p#/proc/}
done
if [ -n "$node_pid" ] && grep -q "$PKG/prebuilds/linux-x64/libdnnl.so.2" "/proc/$node_pid/maps" &&
  ! grep -E "/usr/lib/[^ ]*/libdnnl.so" "/proc/$node_pid/maps" >/dev/null; then
  ok "serve: /proc/$node_pid/maps maps the bundled libdnnl only"
else
  bad "serve: maps" "pid ${node_pid:-none}: $(grep libdnnl "/proc/$node_pid/maps" 2>/dev/null | awk '{print $6}' | sort -u | tr '\n' ' ')"
fi
kill "$SERVER_PID" 2>/dev/null
[ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=""

echo "consumer: module systems and types"
cat >"$PROJECT/esm.mjs" <<'EOF'
import { backendReady, googlenet, tf } from 'inception-net';
import * as whole from 'inception-net';
import { createRequire } from 'node:module';
const cjs = createRequire(import.meta.url)('inception-net');
await backendReady;
const model = googlenet({ inputShape: [32, 32, 3], numClasses: 10, widthMultiplier: 0.1 });
const y = model.predict(tf.zeros([1, 32, 32, 3]));
const missing = Object.keys(cjs).filter((k) => !(k in whole));
if (missing.length) throw new Error(`ESM lacks ${missing.join(', ')}`);
if (whole.tf !== cjs.tf) throw new Error('ESM and CommonJS see different tfjs');
console.log(`esm ${tf.getBackend()} ${y.shape}`);
EOF
cat >"$PROJECT/cjs.cjs" <<'EOF'
const { backendReady, googlenet, tf } = require('inception-net');
backendReady.then(() => {
  const model = googlenet({ inputShape: [32, 32, 3], numClasses: 10, widthMultiplier: 0.1 });
  console.log(`cjs ${tf.getBackend()} ${model.predict(tf.zeros([1, 32, 32, 3])).shape}`);
});
EOF
mkdir -p "$PROJECT/ts"
cat >"$PROJECT/ts/main.ts" <<'EOF'
import { backendReady, googlenet, type GoogLeNetArgs, tf } from 'inception-net';

const args: GoogLeNetArgs = { inputShape: [32, 32, 3], numClasses: 10, widthMultiplier: 0.1 };
await backendReady;
const model: tf.LayersModel = googlenet(args);
const y = model.predict(tf.zeros([1, 32, 32, 3])) as tf.Tensor;
console.log(`ts ${tf.getBackend()} ${y.shape}`);
EOF
echo '{ "type": "module" }' >"$PROJECT/ts/package.json"
# skipLibCheck as `tsc --init` sets it: tfjs's own .d.ts files do not pass strict checking.
for resolution in node16 bundler; do
  module=node16
  [ $resolution = bundler ] && module=esnext
  cat >"$PROJECT/tsconfig.$resolution.json" <<EOF
{ "compilerOptions": { "strict": true, "target": "es2022", "module": "$module", "moduleResolution": "$resolution",
  "skipLibCheck": true, "types": ["node"], "rootDir": "ts", "outDir": "out-$resolution" }, "files": ["ts/main.ts"] }
EOF
done
[ "$(id -u)" = 0 ] && chown -R "$CONSUMER:" "$PROJECT"
check esm node esm.mjs
expect esm "/esm onednn 1,10/.test(log)"
check cjs node cjs.cjs
expect cjs "/cjs onednn 1,10/.test(log)"
check tsc-node16 npx tsc -p tsconfig.node16.json
check tsc-bundler npx tsc -p tsconfig.bundler.json
check ts-run sh -c 'cp ts/package.json out-node16/ && node out-node16/main.js'
expect ts-run "/ts onednn 1,10/.test(log)"

echo "consumer: a corrupt prebuilt binary"
addon="$PKG/prebuilds/linux-x64/node.napi.glibc.node"
head -c 65536 "$addon" >"$WORK/truncated.node" && cat "$WORK/truncated.node" >"$addon"
check corrupt-predict npx inception predict --model cifar10 --top 1 "$IMAGE"
expect corrupt-predict "/ship/.test(log) && log.split('\\n').filter((l) => /native oneDNN engine unavailable/.test(l)).length === 1 && /does not load/.test(log) && /using tfjs 'wasm'/.test(log)"
check corrupt-doctor npx inception doctor --json
expect corrupt-doctor "(() => { const d = JSON.parse(log.slice(log.indexOf('{'))); return d.backend.how === 'fallback' && d.backend.backend === 'cpu'; })()"

echo "consumer: $passed passed, $failed failed"
[ "$failed" = 0 ]
