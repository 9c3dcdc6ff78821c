"""Makes test/fixtures/keras_inception_v3_reference.json from real Keras, so that the CI test compares
inception-v3 + loadKerasInceptionV3Weights with Keras without TensorFlow. Run by hand where Keras is:

    python3 -m venv /work/venv-keras && /work/venv-keras/bin/pip install tensorflow-cpu keras h5py
    /work/venv-keras/bin/python test/support/keras_inception_v3_reference.py
    npx biome format --write test/fixtures/keras_inception_v3_reference.json   # the house's JSON layout

It dumps keras.applications.InceptionV3's layers (name, class, weight shapes, in model.layers order), checks
that keras_inception_v3_h5.py writes the layout Keras's own legacy `save_weights` writes (same layers in the
same order, same weights per layer, same shapes; names differ only in Keras 2's numbering), writes the
fixture files with that script, loads them into Keras with `model.load_weights` (Keras's legacy .h5 path),
and records Keras's outputs on two deterministic images (IMAGE_FORMULA, computed in float64 then rounded to
float32; the TS test computes the same).
"""

import json
import os
import platform
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WRITER = os.path.join(HERE, "keras_inception_v3_h5.py")
OUT = os.path.join(HERE, "..", "fixtures", "keras_inception_v3_reference.json")
SEED = 11
IMAGE_FORMULA = "sin(0.05*(h+1)*(c+1) + 0.07*w + 1.7*n) * cos(0.031*w*(n+1) - 0.013*h + 0.5*c)"

sys.path.insert(0, HERE)
from keras_inception_v3_h5 import keras2_name  # noqa: E402


def images(n, size):
    nn, h, w, c = np.meshgrid(np.arange(n), np.arange(size), np.arange(size), np.arange(3), indexing="ij")
    x = np.sin(0.05 * (h + 1) * (c + 1) + 0.07 * w + 1.7 * nn) * np.cos(0.031 * w * (nn + 1) - 0.013 * h + 0.5 * c)
    return x.astype(np.float32)


def layer_list(model):
    return [
        [l.name, type(l).__name__, [list(map(int, w.shape)) for w in l.trainable_weights + l.non_trainable_weights]]
        for l in model.layers
    ]


def read_layout(path):
    """[(layer name, [(weight kind, shape)])] in layer_names order, for layers with weights."""
    out = []
    with h5py.File(path, "r") as f:
        for name in legacy_h5_format.load_attributes_from_hdf5_group(f, "layer_names"):
            names = legacy_h5_format.load_attributes_from_hdf5_group(f[name], "weight_names")
            out.append((name, [(w.split("/")[-1].split(":")[0], list(f[name][w].shape)) for w in names]))
    return out


def check_layout(model, fixture, tmp):
    ours = os.path.join(tmp, "keras_own.h5")
    with h5py.File(ours, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    keras_layout = read_layout(ours)
    fixture_layout = read_layout(fixture)
    assert len(keras_layout) == len(fixture_layout), (len(keras_layout), len(fixture_layout))
    for (kn, kw), (fn, fw) in zip(keras_layout, fixture_layout):
        assert keras2_name(kn) == fn, (kn, fn)
        assert kw == fw, (kn, kw, fw)
    print(f"layout: {len(keras_layout)} layers ({sum(1 for _, w in keras_layout if w)} with weights) as Keras writes them")


def run(model, path, x):
    model.load_weights(path)
    # Keras took every value from the file, in order: layer k with weights holds the file's k-th such layer.
    with h5py.File(path, "r") as f:
        saved = [
            [f[n][w][()] for w in legacy_h5_format.load_attributes_from_hdf5_group(f[n], "weight_names")]
            for n in legacy_h5_format.load_attributes_from_hdf5_group(f, "layer_names")
        ]
        saved = [ws for ws in saved if ws]
        mine = [[w.numpy() for w in l.trainable_weights + l.non_trainable_weights] for l in model.layers if l.weights]
        assert len(saved) == len(mine)
        for s, m in zip(saved, mine):
            assert all(np.array_equal(a, b) for a, b in zip(s, m))
    return model.predict(x, verbose=0)


def main():
    # Each model in a fresh session, so that both carry the names a user's first model gets.
    keras.backend.clear_session()
    top = keras.applications.InceptionV3(weights=None, classifier_activation=None)
    layers = layer_list(top)
    keras.backend.clear_session()
    notop = keras.applications.InceptionV3(weights=None, include_top=False, pooling="avg", input_shape=(150, 150, 3))
    assert [l[0] for l in layer_list(notop)][:-1] == [l[0] for l in layers if l[0] not in ("avg_pool", "predictions")]
    with tempfile.TemporaryDirectory() as tmp:
        layers_json = os.path.join(tmp, "layers.json")
        with open(layers_json, "w") as f:
            json.dump(layers, f)
        files = {}
        for kind, extra in (("top", []), ("notop", ["--notop"])):
            files[kind] = os.path.join(tmp, f"{kind}.h5")
            subprocess.run([sys.executable, WRITER, layers_json, files[kind], "--seed", str(SEED), *extra], check=True)
        check_layout(top, files["top"], tmp)
        top_out = run(top, files["top"], images(2, 299))
        notop_out = run(notop, files["notop"], images(2, 150))
    doc = {
        "made_by": "test/support/keras_inception_v3_reference.py",
        "versions": {
            "python": platform.python_version(),
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "numpy": np.__version__,
            "h5py": h5py.__version__,
        },
        "seed": SEED,
        "image_formula": IMAGE_FORMULA,
        "keras_layers": layers,
        "outputs": {
            "top": {
                "keras_call": "InceptionV3(weights=None, classifier_activation=None)",
                "input_shape": [2, 299, 299, 3],
                "output": [[float(f"{v:.7g}") for v in row] for row in top_out.tolist()],
            },
            "notop": {
                "keras_call": "InceptionV3(weights=None, include_top=False, pooling='avg', input_shape=(150, 150, 3))",
                "input_shape": [2, 150, 150, 3],
                "output": [[float(f"{v:.7g}") for v in row] for row in notop_out.tolist()],
            },
        },
    }
    for kind, o in doc["outputs"].items():
        a = np.array(o["output"])
        print(f"{kind}: output {a.shape}, |x| mean {np.abs(a).mean():.4g}, max {np.abs(a).max():.4g}")
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
