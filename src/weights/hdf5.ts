import * as fs from 'node:fs';

/** The parts of h5wasm (an ESM-only package) used here. */
/** Attributes are listed lazily: reading `attrs` lists names, each value is read when asked for. */
type H5Attribute = unknown;
interface H5Entity {
  attrs: Record<string, H5Attribute>;
  get_attribute(name: string, jsonCompatible: false): unknown;
}
interface H5Group extends H5Entity {
  keys(): string[];
  get(path: string): H5Entity | null;
}
interface H5Dataset extends H5Entity {
  dtype: unknown;
  shape: number[] | null;
  value: unknown;
}
interface H5File extends H5Group {
  close(): unknown;
}
interface H5Wasm {
  ready: Promise<unknown>;
  File: new (file: string, mode: 'r') => H5File;
  Group: abstract new (...args: never[]) => H5Group;
  Dataset: abstract new (...args: never[]) => H5Dataset;
  Module: { activate_throwing_error_handler(): number };
}

// tsc compiling to CommonJS would turn `import()` into `require()`, which cannot load h5wasm (ESM only); a
// function built at run time keeps Node's real dynamic import, in dist/ and in the installed package alike.
const dynamicImport = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<unknown>;

let h5wasm: Promise<H5Wasm> | null = null;

/** h5wasm, loaded once, with HDF5's errors thrown (caught and summarised below) instead of printed to stderr. */
function loadH5wasm(): Promise<H5Wasm> {
  h5wasm ??= dynamicImport('h5wasm/node').then(async (module) => {
    const h5 = module as H5Wasm;
    await h5.ready;
    h5.Module.activate_throwing_error_handler();
    return h5;
  });
  return h5wasm;
}

/**
 * One line out of HDF5's error stack: the innermost frame says what is wrong ("file signature not found",
 * "truncated file: eof = ..."), the outer ones only that opening failed.
 */
export function summariseHdf5Error(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const truncated = /truncated file: eof = (\d+).*stored_eof = (\d+)/.exec(text);
  if (truncated) return `truncated: ${truncated[1]} of ${truncated[2]} bytes`;
  if (/file signature not found|Not an HDF5 file/.test(text)) return 'not an HDF5 file';
  const frames = [...text.matchAll(/#\d+: [^\n]* in [^\n]*?\(\): ([^\n]*)/g)];
  const innermost = frames.at(-1)?.[1]?.trim();
  return innermost || text.split('\n')[0].trim() || 'unreadable HDF5';
}

/** A floating-point dataset's description, read without its values. */
export interface Hdf5ArrayInfo {
  path: string;
  shape: number[];
}

/** An HDF5 file opened for reading; every error names the file (and the object, where there is one). */
export class Hdf5Reader {
  private constructor(
    readonly file: string,
    private readonly h5: H5Wasm,
    private readonly root: H5File,
  ) {}

  static async open(file: string): Promise<Hdf5Reader> {
    // Checked here: HDF5 would say only that it cannot open the file.
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? error})`}`);
    }
    if (!stat.isFile()) throw new Error(`${file}: not a file`);
    const h5 = await loadH5wasm();
    try {
      return new Hdf5Reader(file, h5, new h5.File(file, 'r'));
    } catch (error) {
      throw new Error(`${file}: ${summariseHdf5Error(error)}`);
    }
  }

  close(): void {
    try {
      this.root.close();
    } catch {
      // Closing a file that failed mid-read must not hide the error that ended the read.
    }
  }

  private fail(where: string, problem: string): never {
    throw new Error(`${this.file}: ${where}: ${problem}`);
  }

  /** Objects already looked up: h5wasm's `get` costs a few HDF5 calls, and the layout is walked twice. */
  private readonly entities = new Map<string, H5Entity | null>();

  private entity(path: string): H5Entity | null {
    let entity = this.entities.get(path);
    if (entity === undefined) {
      try {
        entity = path === '/' || path === '' ? this.root : this.root.get(path);
      } catch (error) {
        this.fail(path, summariseHdf5Error(error));
      }
      this.entities.set(path, entity);
    }
    return entity;
  }

  /** Whether `path` is a group. */
  isGroup(path: string): boolean {
    return this.entity(path) instanceof this.h5.Group;
  }

  /** The names of a group's members. */
  keys(path: string): string[] {
    const group = this.entity(path);
    if (!(group instanceof this.h5.Group)) this.fail(path, 'no such group');
    return group.keys();
  }

  /** An attribute's value (strings decoded by h5wasm), or undefined when the object has none of that name. */
  attribute(path: string, name: string): unknown {
    const entity = this.entity(path);
    if (!entity) this.fail(path, 'no such group or dataset');
    try {
      return Object.hasOwn(entity.attrs, name) ? entity.get_attribute(name, false) : undefined;
    } catch (error) {
      this.fail(`${path} attribute ${name}`, summariseHdf5Error(error));
    }
  }

  /** A list-of-strings attribute as Keras writes it: one array, or split into `name0`, `name1`, ... when large. */
  stringList(path: string, name: string): string[] | undefined {
    const whole = this.attribute(path, name);
    const parts: unknown[] = [];
    if (whole !== undefined) parts.push(whole);
    else
      for (let i = 0; this.attribute(path, `${name}${i}`) !== undefined; i++)
        parts.push(this.attribute(path, `${name}${i}`));
    if (parts.length === 0) return undefined;
    // An empty list is stored as an empty float64 array (numpy's default dtype).
    const values = parts.flatMap((part) =>
      Array.isArray(part) ? part : ArrayBuffer.isView(part) ? Array.from(part as Float64Array) : [part],
    );
    if (!values.every((v) => typeof v === 'string'))
      this.fail(`${path} attribute ${name}`, 'not a list of strings');
    return values as string[];
  }

  private dataset(path: string): H5Dataset {
    const entity = this.entity(path);
    if (!(entity instanceof this.h5.Dataset)) this.fail(path, entity ? 'not a dataset' : 'missing');
    return entity;
  }

  /** A floating-point dataset's shape, without reading its values. */
  arrayInfo(path: string): Hdf5ArrayInfo {
    const dataset = this.dataset(path);
    try {
      return { path, shape: dataset.shape ?? [] };
    } catch (error) {
      this.fail(path, summariseHdf5Error(error));
    }
  }

  /** A float32 or float64 dataset's values as float32. */
  readFloat32(path: string): Float32Array {
    const dataset = this.dataset(path);
    let value: unknown;
    try {
      value = dataset.value;
    } catch (error) {
      this.fail(path, summariseHdf5Error(error));
    }
    if (value instanceof Float32Array) return value;
    if (value instanceof Float64Array) return Float32Array.from(value);
    return this.fail(path, `holds ${JSON.stringify(dataset.dtype)} values, not float32 or float64`);
  }
}

/** One weight of a layer in a Keras legacy weights file. */
export interface KerasH5Weight {
  /** As the file names it (`conv2d_1/kernel:0`). */
  name: string;
  /** The dataset's path in the file. */
  path: string;
  shape: number[];
}

/** A layer with weights in a Keras legacy weights file. */
export interface KerasH5Layer {
  name: string;
  weights: KerasH5Weight[];
}

/**
 * The layers with weights of a Keras legacy HDF5 weights file (`model.save_weights('w.h5')` in Keras 1-2,
 * Keras 3's `legacy_h5_format`, or the `model_weights` group of a whole-model .h5), in the order of the
 * root's `layer_names` attribute: the order Keras's `load_weights` matches them to a model's layers in. Each
 * layer group lists its datasets in its `weight_names` attribute (trainable weights first).
 */
export function kerasLegacyLayers(reader: Hdf5Reader): KerasH5Layer[] {
  let root = '/';
  let layerNames = reader.stringList(root, 'layer_names');
  if (layerNames === undefined && reader.isGroup('model_weights')) {
    root = 'model_weights';
    layerNames = reader.stringList(root, 'layer_names');
  }
  if (layerNames === undefined) {
    throw new Error(`${reader.file}: not Keras HDF5 weights (no layer_names attribute)`);
  }
  const layers: KerasH5Layer[] = [];
  for (const name of layerNames) {
    const group = root === '/' ? name : `${root}/${name}`;
    if (!reader.isGroup(group)) throw new Error(`${reader.file}: layer ${name} is listed but has no group`);
    const weightNames = reader.stringList(group, 'weight_names') ?? [];
    if (weightNames.length === 0) continue;
    const weights = weightNames.map((weight) => {
      const { path, shape } = reader.arrayInfo(`${group}/${weight}`);
      return { name: weight, path, shape };
    });
    layers.push({ name, weights });
  }
  return layers;
}
