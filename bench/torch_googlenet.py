#!/usr/bin/env python3
"""PyTorch twin of inception-net's default googlenet, timed for `inception bench`.

Same architecture as src/models/googlenet.ts (the Keras notebook's network: conv+ReLU everywhere, no BN,
no LRN, no auxiliary heads, `same` padding, global average pool, dropout 0.5, dense softmax head), so the
same FLOPs and the same 5,983,802 parameters at 10 classes. Weights are random: only speed is measured.

Speaks JSON on stdout, one document per call:
  --probe                             versions, or {"ok": false, "reason": ...}
  --mode infer|train --size N --batch B --layout nchw|channels_last --threads T --warmup W --reps R
    [--variant eager|compile|bf16]    {"ok": true, "times_ms": [...], "peak_rss_bytes": ..., ...}
                                      compile: torch.compile (inductor), compiled before the warm-up and
                                      not timed; bf16: torch.autocast("cpu", dtype=torch.bfloat16)
  --export-onnx PATH --size N         writes an ONNX model (NCHW input "input", dynamic batch)
"""

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import time


def fail(reason, missing=False):
    # missing: this Python cannot run the variant at all (as opposed to it breaking while running).
    print(json.dumps({"ok": False, "reason": reason, **({"missing": True} if missing else {})}))
    sys.exit(0)


try:
    import torch
    from torch import nn
except Exception as e:  # noqa: BLE001 - any import failure means "torch missing"
    fail(f"import torch failed: {type(e).__name__}: {e}".splitlines()[0], missing=True)

# [name, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj], as INCEPTION_TABLE in src/models/googlenet.ts.
INCEPTION_TABLE = [
    [("3a", 64, 96, 128, 16, 32, 32), ("3b", 128, 128, 192, 32, 96, 64)],
    [
        ("4a", 192, 96, 208, 16, 48, 64),
        ("4b", 160, 112, 224, 24, 64, 64),
        ("4c", 128, 128, 256, 24, 64, 64),
        ("4d", 112, 144, 288, 32, 64, 64),
        ("4e", 256, 160, 320, 32, 128, 128),
    ],
    [("5a", 256, 160, 320, 32, 128, 128), ("5b", 384, 192, 384, 48, 128, 128)],
]


def conv_relu(cin, cout, k, stride=1):
    # Odd kernels with padding k//2 give tfjs `same` output shapes (and its FLOPs) at stride 1 and 2.
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2), nn.ReLU(inplace=True))


def max_pool(stride):
    return nn.MaxPool2d(3, stride, 1)


class Inception(nn.Module):
    def __init__(self, cin, f1, f3r, f3, f5r, f5, fp):
        super().__init__()
        self.b1 = conv_relu(cin, f1, 1)
        self.b2 = nn.Sequential(conv_relu(cin, f3r, 1), conv_relu(f3r, f3, 3))
        self.b3 = nn.Sequential(conv_relu(cin, f5r, 1), conv_relu(f5r, f5, 5))
        self.b4 = nn.Sequential(max_pool(1), conv_relu(cin, fp, 1))
        self.out_channels = f1 + f3 + f5 + fp

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


def scale(filters, width):
    # As scaleFilters in googlenet.ts: Math.round (half up), at least 1.
    return max(1, math.floor(filters * width + 0.5))


def googlenet(num_classes=10, width=1.0):
    w = lambda f: scale(f, width)  # noqa: E731
    layers = [conv_relu(3, w(64), 7, 2), max_pool(2), conv_relu(w(64), w(64), 1)]
    layers += [conv_relu(w(64), w(192), 3), max_pool(2)]
    cin = w(192)
    for i, stage in enumerate(INCEPTION_TABLE):
        for _, *filters in stage:
            module = Inception(cin, *map(w, filters))
            layers.append(module)
            cin = module.out_channels
        if i < len(INCEPTION_TABLE) - 1:
            layers.append(max_pool(2))
    # Logits here; training applies log-softmax inside the loss, inference the softmax, as tfjs does.
    head = [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers, *head)


def peak_rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def versions():
    return {"torch": torch.__version__, "python": platform.python_version()}


def fit_budget(step_s, args):
    # As fitBudget in bench/timing.ts: a slow step cuts warm-up to 1 and reps to what fits, never below 3.
    if args.budget_s <= 0 or step_s * (args.warmup + args.reps) <= args.budget_s:
        return args.warmup, args.reps
    fitting = int(args.budget_s / step_s) - 1
    return 1, max(min(3, args.reps), min(args.reps, fitting))


def variant_unavailable(variant):
    """Why this Python and CPU cannot run `variant`, or None."""
    where = f"torch {torch.__version__} at {sys.executable}"
    if variant == "compile":
        if not hasattr(torch, "compile"):
            return f"torch.compile needs PyTorch 2 ({where}; point INCEPTION_BENCH_PYTHON at one)"
        import shutil

        if not shutil.which(os.environ.get("CXX", "g++")):
            return "torch.compile (inductor) needs a C++ compiler on PATH (g++ or $CXX)"
    if variant == "bf16":
        supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        if supported is None or not supported():
            return f"bf16 autocast: this CPU lacks AVX512_BF16 and AMX (or {where} cannot use them)"
    return None


def measure(args):
    why = variant_unavailable(args.variant)
    if why:
        fail(why, missing=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    memory_format = torch.channels_last if args.layout == "channels_last" else torch.contiguous_format
    model = googlenet(args.classes, args.width).to(memory_format=memory_format)
    params = sum(p.numel() for p in model.parameters())
    x = torch.randn(args.batch, 3, args.size, args.size).to(memory_format=memory_format)
    forward = torch.compile(model) if args.variant == "compile" else model
    autocast = (
        (lambda: torch.autocast("cpu", dtype=torch.bfloat16))
        if args.variant == "bf16"
        else contextlib.nullcontext
    )
    if args.mode == "infer":
        model.eval()

        def step():
            with torch.no_grad(), autocast():
                torch.softmax(forward(x), 1)

    else:
        model.train()
        labels = torch.randint(0, args.classes, (args.batch,))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()

        def step():
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = loss_fn(forward(x), labels)
            loss.backward()
            optimizer.step()
            loss.item()

    notes = []
    if args.variant == "compile":
        # Compilation happens on the first calls; it is reported, not timed.
        start = time.perf_counter()
        step()
        step()
        notes.append(f"torch.compile (inductor): compiled in {time.perf_counter() - start:.1f} s, not timed")
    if args.variant == "bf16":
        notes.append('torch.autocast("cpu", dtype=torch.bfloat16): conv and matmul in bf16')
    warmup, reps = args.warmup, args.reps
    for i in range(warmup):
        start = time.perf_counter()
        step()
        if i == 0:
            warmup, reps = fit_budget(time.perf_counter() - start, args)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return {
        "ok": True,
        "times_ms": times,
        "warmup": warmup,
        "peak_rss_bytes": peak_rss_bytes(),
        "threads": torch.get_num_threads(),
        "params": params,
        "versions": versions(),
        "notes": notes,
    }


def export_onnx(args):
    model = googlenet(args.classes, args.width).eval()
    x = torch.randn(1, 3, args.size, args.size)
    tmp = args.export_onnx + ".tmp"
    torch.onnx.export(
        model,
        x,
        tmp,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=13,
    )
    os.replace(tmp, args.export_onnx)
    return {"ok": True, "path": args.export_onnx, "versions": versions()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--probe", action="store_true")
    p.add_argument("--export-onnx", metavar="PATH")
    p.add_argument("--mode", choices=["infer", "train"])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--layout", choices=["nchw", "channels_last"], default="nchw")
    p.add_argument("--variant", choices=["eager", "compile", "bf16"], default="eager")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--budget-s", type=float, default=0, help="see Plan.budgetMs in bench/types.ts")
    args = p.parse_args()
    try:
        if args.probe:
            model = googlenet(args.classes, args.width)
            result = {"ok": True, "params": sum(p.numel() for p in model.parameters())}
            result["versions"] = versions()
        elif args.export_onnx:
            result = export_onnx(args)
        elif args.mode:
            result = measure(args)
        else:
            p.error("one of --probe, --export-onnx, --mode is required")
    except Exception as e:  # noqa: BLE001 - reported to the bench as a failed engine, one line
        fail(f"{type(e).__name__}: {e}".splitlines()[0])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
