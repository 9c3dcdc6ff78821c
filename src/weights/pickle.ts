/**
 * A restricted Python unpickler for weight files: it builds plain values (numbers, strings, tuples, dicts)
 * and calls nothing but the callables its caller allows by name. Python's unpickler imports any module
 * and calls any function a pickle names (`os.system` included); this one refuses every opcode outside the
 * few that data needs and every global outside the caller's list, before anything is built from them.
 */

/** A dict or OrderedDict; `state` is what BUILD set on it (an OrderedDict's `__dict__`, e.g. `_metadata`). */
export class PickleDict extends Map<unknown, unknown> {
  state: unknown = undefined;
}

/** A global (`module.name`) the caller allowed: a value, and a function if REDUCE may call it. */
export interface AllowedGlobal {
  call?: (args: unknown[]) => unknown;
}

/** The global as it stands on the stack. */
export class PickleGlobal {
  constructor(
    readonly qualifiedName: string,
    readonly allowed: AllowedGlobal,
  ) {}
}

export interface UnpickleOptions {
  /** Names the file (and the pickle inside it) in errors. */
  where: string;
  /** Globals the pickle may name, by `module.name`; any other is refused. */
  globals: Record<string, AllowedGlobal>;
  /** Resolves BINPERSID ids (PyTorch's storages); without it BINPERSID is refused. */
  persistentLoad?: (pid: unknown) => unknown;
}

/** Longest module or class name accepted (real ones are tens of characters). */
const MAX_NAME = 1000;

const OPCODE_NAMES = new Map<number, string>([
  [0x28, 'MARK'],
  [0x2e, 'STOP'],
  [0x30, 'POP'],
  [0x31, 'POP_MARK'],
  [0x32, 'DUP'],
  [0x46, 'FLOAT'],
  [0x49, 'INT'],
  [0x4a, 'BININT'],
  [0x4b, 'BININT1'],
  [0x4c, 'LONG'],
  [0x4d, 'BININT2'],
  [0x4e, 'NONE'],
  [0x50, 'PERSID'],
  [0x51, 'BINPERSID'],
  [0x52, 'REDUCE'],
  [0x53, 'STRING'],
  [0x54, 'BINSTRING'],
  [0x55, 'SHORT_BINSTRING'],
  [0x56, 'UNICODE'],
  [0x58, 'BINUNICODE'],
  [0x61, 'APPEND'],
  [0x62, 'BUILD'],
  [0x63, 'GLOBAL'],
  [0x64, 'DICT'],
  [0x7d, 'EMPTY_DICT'],
  [0x65, 'APPENDS'],
  [0x67, 'GET'],
  [0x68, 'BINGET'],
  [0x69, 'INST'],
  [0x6a, 'LONG_BINGET'],
  [0x6c, 'LIST'],
  [0x5d, 'EMPTY_LIST'],
  [0x6f, 'OBJ'],
  [0x70, 'PUT'],
  [0x71, 'BINPUT'],
  [0x72, 'LONG_BINPUT'],
  [0x73, 'SETITEM'],
  [0x74, 'TUPLE'],
  [0x29, 'EMPTY_TUPLE'],
  [0x75, 'SETITEMS'],
  [0x47, 'BINFLOAT'],
  [0x80, 'PROTO'],
  [0x81, 'NEWOBJ'],
  [0x82, 'EXT1'],
  [0x83, 'EXT2'],
  [0x84, 'EXT4'],
  [0x85, 'TUPLE1'],
  [0x86, 'TUPLE2'],
  [0x87, 'TUPLE3'],
  [0x88, 'NEWTRUE'],
  [0x89, 'NEWFALSE'],
  [0x8a, 'LONG1'],
  [0x8b, 'LONG4'],
  [0x8c, 'SHORT_BINUNICODE'],
  [0x8d, 'BINUNICODE8'],
  [0x8e, 'BINBYTES8'],
  [0x8f, 'EMPTY_SET'],
  [0x90, 'ADDITEMS'],
  [0x91, 'FROZENSET'],
  [0x92, 'NEWOBJ_EX'],
  [0x93, 'STACK_GLOBAL'],
  [0x94, 'MEMOIZE'],
  [0x95, 'FRAME'],
  [0x96, 'BYTEARRAY8'],
  [0x97, 'NEXT_BUFFER'],
  [0x98, 'READONLY_BUFFER'],
  [0x42, 'BINBYTES'],
  [0x43, 'SHORT_BINBYTES'],
]);

function opcodeName(op: number): string {
  const name = OPCODE_NAMES.get(op) ?? 'unknown';
  const shown = op >= 0x20 && op < 0x7f ? ` '${String.fromCharCode(op)}'` : '';
  return `${name} (0x${op.toString(16).padStart(2, '0')}${shown})`;
}

function describe(value: unknown): string {
  if (value === null) return 'None';
  if (value instanceof PickleGlobal) return `global ${value.qualifiedName}`;
  if (value instanceof PickleDict) return 'a dict';
  if (Array.isArray(value)) return 'a tuple/list';
  return typeof value;
}

/**
 * Unpickles one pickle starting at `start`; returns its value and the offset after its STOP (several pickles
 * may follow each other, as in PyTorch's legacy format). Protocols 2 to 5 as far as the opcodes below go.
 */
export function unpickle(
  bytes: Uint8Array,
  start: number,
  options: UnpickleOptions,
): { value: unknown; end: number } {
  const { where } = options;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let at = start;
  let opAt = start;
  let op = 0;

  const fail = (problem: string): never => {
    throw new Error(`${where}: ${problem} (pickle opcode ${opcodeName(op)} at byte ${opAt})`);
  };
  const need = (n: number): number => {
    if (at + n > bytes.length) fail('truncated pickle');
    const here = at;
    at += n;
    return here;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('malformed pickle: stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('malformed pickle: stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const previous = marks.pop();
    if (!previous) fail('malformed pickle: no MARK');
    stack = previous as unknown[];
    return items;
  };
  const text = (length: number): string => {
    const from = need(length);
    try {
      return decoder.decode(bytes.subarray(from, from + length));
    } catch {
      return fail('malformed pickle: a string is not valid UTF-8');
    }
  };
  const latin1 = (from: number, length: number): string => {
    if (length > MAX_NAME) fail('malformed pickle: a name is too long');
    return String.fromCharCode(...bytes.subarray(from, from + length));
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) fail('truncated pickle');
    const s = latin1(at, end - at);
    at = end + 1;
    return s;
  };
  const global = (module: string, name: string): PickleGlobal => {
    const qualifiedName = `${module}.${name}`;
    const allowed = Object.hasOwn(options.globals, qualifiedName)
      ? options.globals[qualifiedName]
      : undefined;
    if (!allowed) {
      fail(
        `refused global ${qualifiedName}: a state_dict names only ${Object.keys(options.globals).join(', ')}; nothing was executed`,
      );
    }
    return new PickleGlobal(qualifiedName, allowed as AllowedGlobal);
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!(dict instanceof PickleDict)) fail(`malformed pickle: SETITEM on ${describe(dict)}`);
    if (items.length % 2 !== 0) fail('malformed pickle: odd number of dict items');
    for (let i = 0; i < items.length; i += 2) (dict as PickleDict).set(items[i], items[i + 1]);
  };

  for (;;) {
    opAt = at;
    op = bytes[need(1)];
    switch (op) {
      case 0x80: {
        const protocol = bytes[need(1)];
        if (protocol < 2 || protocol > 5) fail(`unsupported pickle protocol ${protocol}`);
        break;
      }
      case 0x95: // FRAME: a length hint only
        need(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0)
          fail('malformed pickle: STOP with a stack that is not one value');
        return { value: stack[0], end: at };
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PickleDict());
        break;
      case 0x5d: // EMPTY_LIST
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: {
        // TUPLE (popMark replaces `stack`: read it only afterwards)
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {
        const n = op - 0x84;
        if (stack.length < n) fail('malformed pickle: stack underflow');
        stack.push(stack.splice(stack.length - n, n));
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(text(view.getUint32(need(4), true)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(bytes[need(1)]));
        break;
      case 0x55: {
        // SHORT_BINSTRING (a Python 2 str)
        const n = bytes[need(1)];
        stack.push(latin1(need(n), n));
        break;
      }
      case 0x71: // BINPUT
        memo.set(bytes[need(1)], top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(view.getUint32(need(4), true), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        const key = op === 0x68 ? bytes[need(1)] : view.getUint32(need(4), true);
        if (!memo.has(key)) fail(`malformed pickle: memo ${key} is empty`);
        stack.push(memo.get(key));
        break;
      }
      case 0x63: {
        // GLOBAL: checked against the allowed list before anything else happens.
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('malformed pickle: STACK_GLOBAL');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('persistent ids are not expected here');
        stack.push(options.persistentLoad!(pid));
        break;
      }
      case 0x52: {
        // REDUCE: only a callable the caller allowed, with a tuple of plain values.
        const args = pop();
        const callable = pop();
        if (!(callable instanceof PickleGlobal) || !callable.allowed.call) {
          fail(`refused to call ${describe(callable)}`);
        }
        if (!Array.isArray(args)) fail(`malformed pickle: REDUCE arguments are ${describe(args)}`);
        stack.push((callable as PickleGlobal).allowed.call!(args as unknown[]));
        break;
      }
      case 0x62: {
        // BUILD: only an OrderedDict's attributes (a state_dict's `_metadata`), kept as data.
        const state = pop();
        const target = top();
        if (!(target instanceof PickleDict)) fail(`refused BUILD on ${describe(target)}`);
        (target as PickleDict).state = state;
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const value = pop();
        const list = top();
        if (!Array.isArray(list)) fail(`malformed pickle: APPEND on ${describe(list)}`);
        (list as unknown[]).push(value);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail(`malformed pickle: APPENDS on ${describe(list)}`);
        (list as unknown[]).push(...items);
        break;
      }
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(bytes[need(1)]);
        break;
      case 0x4d: // BININT2
        stack.push(view.getUint16(need(2), true));
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement; a number when it fits exactly, else a bigint.
        const n = bytes[need(1)];
        const from = need(n);
        let value = 0n;
        for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[from + i]);
        if (n > 0 && bytes[from + n - 1] & 0x80) value -= 1n << BigInt(8 * n);
        const small = value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
        stack.push(small ? Number(value) : value);
        break;
      }
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4e:
        stack.push(null);
        break;
      default:
        throw new Error(
          `${where}: pickle opcode ${opcodeName(op)} at byte ${opAt} is not allowed in a weights file; nothing was executed`,
        );
    }
  }
}
