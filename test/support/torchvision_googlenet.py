"""Writes torchvision GoogLeNet state_dicts and their reference outputs for test/weights_torchvision.test.ts.

Run with Debian's Python (torch 1.13, torchvision 0.14):  /usr/bin/python3 test/support/torchvision_googlenet.py OUT
Writes into OUT: .pth files made by torch.save, inputs and reference outputs as raw little-endian float32
(NCHW, as torch has them) and manifest.json describing them. BN affine parameters are perturbed and the
running statistics calibrated on random data (then perturbed) so that every BN tensor changes the outputs;
some tensors are saved as non-contiguous views or at a storage offset to exercise the strided reader.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torchvision

OUT = sys.argv[1]
torch.manual_seed(1234)
torch.set_num_threads(2)
manifest = {}


def calibrate(model, shape):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
                m.reset_running_stats()
                m.momentum = None  # cumulative average: the calibration batch's statistics
        model.train()
        model(torch.randn(2, *shape))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.add_(0.05 * torch.randn_like(m.running_mean))
                m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.8, 1.25))
                m.momentum = 0.1
    model.eval()


def strided(state):
    """The same values, stored as a transposed view and at a storage offset."""
    state = dict(state)
    w = state["fc.weight"]
    state["fc.weight"] = w.t().contiguous().t()  # stride (1, rows)
    c = state["conv1.conv.weight"]
    big = torch.zeros(c.numel() + 37)
    big[37:] = c.flatten()
    state["conv1.conv.weight"] = big[37:].view(c.shape)  # storage offset 37, storage larger than the tensor
    return state


def save_array(name, tensor):
    tensor.detach().contiguous().float().numpy().tofile(os.path.join(OUT, name + ".bin"))
    return {"file": name + ".bin", "shape": list(tensor.shape)}


def taps(model, names):
    seen = {}
    for name in names:
        getattr(model, name).register_forward_hook(lambda _m, _i, out, name=name: seen.__setitem__(name, out))
    return seen


# 1. The published file's layout: 1000 classes with the (untrained) aux heads, zip format.
model = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True)
calibrate(model, (3, 224, 224))
seen = taps(model, ["inception4a", "inception4d", "avgpool"])
x = torch.randn(2, 3, 224, 224)
with torch.no_grad():
    logits = model(x)
    aux1 = model.aux1(seen["inception4a"])
    aux2 = model.aux2(seen["inception4d"])
torch.save(strided(model.state_dict()), os.path.join(OUT, "googlenet_aux.pth"))
manifest["aux"] = {
    "pth": "googlenet_aux.pth",
    "input": save_array("aux_input", x),
    "logits": save_array("aux_logits", logits),
    "aux1": save_array("aux_aux1", aux1),
    "aux2": save_array("aux_aux2", aux2),
    "features": save_array("aux_features", torch.flatten(seen["avgpool"], 1)),
}

# 2. No aux heads, 10 classes, transform_input, an input whose sides pool with different parities; legacy format.
model = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True, num_classes=10,
                                     transform_input=True)
calibrate(model, (3, 97, 112))
x = torch.randn(1, 3, 97, 112)
with torch.no_grad():
    logits = model(x)
torch.save(strided(model.state_dict()), os.path.join(OUT, "googlenet_legacy.pth"),
           _use_new_zipfile_serialization=False)
manifest["legacy"] = {
    "pth": "googlenet_legacy.pth",
    "input": save_array("legacy_input", x),
    "logits": save_array("legacy_logits", logits),
}

# 3. Files that are not a GoogLeNet state_dict.
torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), os.path.join(OUT, "resnet18.pth"))
torch.save(nn.Linear(2, 2), os.path.join(OUT, "whole_module.pth"))
torch.save({"epoch": 3, "state_dict": {"w": torch.zeros(2)}}, os.path.join(OUT, "checkpoint.pth"))

with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump(manifest, f)
