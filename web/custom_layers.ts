// Registers the layers tfjs lacks (LRN) with the page's tfjs, so plain `tf.loadLayersModel` can read an
// exported model that uses them. Import this module once before loading a model.
import '../src/layers/lrn';
