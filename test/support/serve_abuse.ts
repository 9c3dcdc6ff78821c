// Abusive clients for the serve load test, in a child process of their own so that building and sending
// their requests does not load the event loop of the server under test. Run as
// `node serve_abuse.js URL`; on the IPC message 'stop' it answers { bombs, heavy, slowHeldMs } and exits.
import * as net from 'node:net';
import * as zlib from 'node:zlib';
import sharp from 'sharp';

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** A valid 16000x16000 1-bit PNG of ~31 KB: cheap to send, seconds to decode. */
export function pixelBomb(): Buffer {
  const side = 16000;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // grayscale
  const rows = Buffer.alloc((1 + side / 8) * side); // filter byte 0 + zero pixels, per row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(rows, { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A flat-colour PNG of side x side: within a budget, but every pixel must be inflated and resized. */
export const heavyPng = (side: number) =>
  sharp({ create: { width: side, height: side, channels: 3, background: { r: 90, g: 140, b: 30 } } })
    .png()
    .toBuffer();

export function multipart(files: Buffer[], type = 'image/png'): FormData {
  const form = new FormData();
  files.forEach((f, i) => {
    form.append('image', new Blob([f as BlobPart], { type }), `img${i}.png`);
  });
  return form;
}

/** Sends one byte every `everyMs` and never finishes; resolves with the ms until the server hung up. */
export function slowClient(url: string, head: string, everyMs: number, giveUpMs: number): Promise<number> {
  const { port } = new URL(url);
  const t0 = performance.now();
  return new Promise((resolve) => {
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const socket = net.connect(Number(port), '127.0.0.1', () => {
      timer = setInterval(() => socket.write(i < head.length ? head[i++] : 'x'), everyMs);
    });
    const done = () => {
      clearInterval(timer);
      clearTimeout(cap);
      socket.destroy();
      resolve(performance.now() - t0);
    };
    const cap = setTimeout(done, giveUpMs);
    socket.on('close', done);
    socket.on('error', () => {});
    socket.on('data', () => {});
  });
}

async function main(url: string): Promise<void> {
  let stop = false;
  const loop = async (send: () => Promise<Response>) => {
    const statuses: number[] = [];
    while (!stop) {
      const res = await send();
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    return statuses;
  };
  const bombs = multipart(Array(32).fill(pixelBomb()));
  const heavy = multipart(Array(4).fill(await heavyPng(1900))); // 14.4 MP: within a 16 MP budget
  const bombLoops = Array.from({ length: 3 }, () =>
    loop(() => fetch(`${url}/v1/predict`, { method: 'POST', body: bombs })),
  );
  const heavyLoops = Array.from({ length: 2 }, () =>
    loop(() => fetch(`${url}/v1/predict`, { method: 'POST', body: heavy })),
  );
  const slow = [
    ...Array.from({ length: 8 }, () =>
      slowClient(url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', 200, 10_000),
    ),
    ...Array.from({ length: 8 }, () =>
      slowClient(
        url,
        'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 99999\r\n\r\n',
        1,
        10_000,
      ),
    ),
  ];
  process.send!('started');
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  stop = true;
  const result = {
    bombs: (await Promise.all(bombLoops)).flat(),
    heavy: (await Promise.all(heavyLoops)).flat(),
    slowHeldMs: await Promise.all(slow),
  };
  process.send!(result, () => process.exit(0));
}

// Only as the load test's child (with its IPC channel): node's test runner also runs every file under
// dist/test/ on its own, and then there is nothing to do.
if (require.main === module && process.send) void main(process.argv[2]);
