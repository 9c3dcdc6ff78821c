"""Writes Keras InceptionV3 weights in Keras's legacy HDF5 layout, as the published
inception_v3_weights_tf_dim_ordering_tf_kernels{,_notop}.h5 files hold them, with deterministic values.

    /usr/bin/python3 test/support/keras_inception_v3_h5.py LAYERS.json OUT.h5 [--seed N] [--notop]
        [--no-data] [--wrong-shape LAYER] [--layers-only N] [--nan LAYER] [--group NAME]

LAYERS.json: the "keras_layers" list of test/fixtures/keras_inception_v3_reference.json, i.e.
`[name, class, [weight shapes]]` for each layer of keras.applications.InceptionV3() in model.layers order,
dumped from Keras itself by keras_inception_v3_reference.py.

The layout (Keras 2's `save_weights`, which wrote the published files): the root's `layer_names` attribute
lists every layer in model order; one group per layer, created in sorted name order, whose `weight_names`
attribute lists its weights (trainable first) and which holds each as the dataset `<layer>/<layer>/<w>:0`.
Layer names are Keras 2's (`conv2d_1`, `batch_normalization_1`, ..., numbered from 1) where Keras 3 numbers
from 0 (`conv2d`, `conv2d_1`, ...): a loader must match layers by order, as Keras does, not by name.

Values come from numpy.random.RandomState(seed), drawn per weight in model order (the notop file holds the
same body as the top file of the same seed), scaled so that activations stay of order 1 through the 94
convolutions. --no-data writes shapes without values (HDF5 allocates nothing), for tests that must fail on a
shape; --wrong-shape adds 1 to the last dimension of LAYER's (Keras 3 name) first weight; --layers-only N
keeps only the first N layers (another architecture's file); --nan LAYER writes NaN as the first value of
LAYER's first weight (with --no-data, that dataset alone gets values: zeros and the NaN); --group NAME puts
the layout in group NAME, as `model.save('model.h5')` does under `model_weights`.
"""

import argparse
import json
import re

import h5py
import numpy as np

# Layers Keras names automatically: Keras 2 numbered them from 1, Keras 3 from 0 (without a suffix).
AUTO_NAMED = ("conv2d", "batch_normalization", "activation", "max_pooling2d", "average_pooling2d", "concatenate")

WEIGHT_KINDS = {
    "Conv2D": ["kernel"],
    # scale=False: no gamma; trainable beta first, then the moving statistics.
    "BatchNormalization": ["beta", "moving_mean", "moving_variance"],
    "Dense": ["kernel", "bias"],
}


def keras2_name(name):
    if name == "input_layer":
        return "input_1"
    m = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
    prefix, index = m.group(1), m.group(2)
    if prefix in AUTO_NAMED:
        return f"{prefix}_{int(index or 0) + 1}"
    return name


def values(rs, cls, kind, shape):
    if kind == "kernel":
        fan_in = int(np.prod(shape[:-1]))
        gain = 2.0 if cls == "Conv2D" else 1.0  # He for the ReLU convolutions, LeCun for the classifier
        return rs.standard_normal(shape) * np.sqrt(gain / fan_in)
    if kind in ("beta", "bias"):
        return rs.uniform(-0.2, 0.2, shape)
    if kind == "moving_mean":
        return rs.uniform(-0.1, 0.1, shape)
    if kind == "moving_variance":
        return rs.uniform(0.5, 1.5, shape)
    raise ValueError(kind)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("layers")
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--notop", action="store_true")
    p.add_argument("--no-data", action="store_true")
    p.add_argument("--wrong-shape")
    p.add_argument("--layers-only", type=int)
    p.add_argument("--nan")
    p.add_argument("--group")
    a = p.parse_args()
    with open(a.layers) as f:
        doc = json.load(f)
    layers = doc["keras_layers"] if isinstance(doc, dict) else doc
    if a.notop:
        layers = [l for l in layers if l[0] not in ("avg_pool", "predictions")]
    if a.layers_only:
        layers = layers[: a.layers_only]
    rs = np.random.RandomState(a.seed)
    with h5py.File(a.out, "w") as file:
        f = file.create_group(a.group) if a.group else file
        f.attrs["layer_names"] = np.array([keras2_name(l[0]).encode("utf8") for l in layers])
        f.attrs["backend"] = b"tensorflow"
        # The loader does not read it; Keras reads it only to convert Keras 1 files.
        f.attrs["keras_version"] = b"2.0.2"
        weights = {}
        for name, cls, shapes in layers:
            kinds = WEIGHT_KINDS.get(cls, []) if shapes else []
            assert len(kinds) == len(shapes), (name, cls, shapes)
            entries = []
            for i, (kind, shape) in enumerate(zip(kinds, shapes)):
                if a.wrong_shape == name and i == 0:
                    shape = shape[:-1] + [shape[-1] + 1]
                data = None if a.no_data else values(rs, cls, kind, shape).astype(np.float32)
                if a.nan == name and i == 0:
                    data = np.zeros(shape, np.float32) if data is None else data
                    data.flat[0] = np.nan
                entries.append((f"{keras2_name(name)}/{kind}:0", shape, data))
            weights[keras2_name(name)] = entries
        for name in sorted(weights):
            group = f.create_group(name)
            entries = weights[name]
            group.attrs["weight_names"] = np.array([w.encode("utf8") for w, _, _ in entries], dtype="S")
            for w, shape, data in entries:
                if data is None:
                    group.create_dataset(w, shape=tuple(shape), dtype="float32")
                else:
                    group.create_dataset(w, data=data)


if __name__ == "__main__":
    main()
