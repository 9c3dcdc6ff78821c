import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What the gauges read when Prometheus scrapes. */
export interface QueueState {
  decodeWaiting(): number;
  inferenceQueued(): number;
  inFlight(): number;
}

/** Latency buckets, seconds: from a cache-hot 32x32 image to a slow 224x224 batch. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The service's Prometheus metrics in a registry of its own (two servers in one process, as in the tests,
 * do not share counters), with prom-client's default process metrics.
 */
export class ServeMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status'>;
  private readonly latency: Histogram<'route'>;
  private readonly inference: Histogram;
  private readonly batchSize: Histogram;
  readonly decodeFailures: Counter;
  readonly rejected: Counter<'code'>;

  constructor(state: QueueState, modelLoadSeconds: number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'inception_http_requests_total',
      help: 'HTTP requests answered, by route, method and status (499: the client closed the connection first)',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'inception_http_request_duration_seconds',
      help: 'Time from the request to the end of its answer, by route',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inference = new Histogram({
      name: 'inception_inference_duration_seconds',
      help: 'Time the model took per inference batch',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.batchSize = new Histogram({
      name: 'inception_batch_size',
      help: 'Images per inference batch',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers,
    });
    new Gauge({
      name: 'inception_queue_depth',
      help: 'Images waiting, by stage: for a decode slot or for an inference batch',
      labelNames: ['stage'],
      registers,
      collect() {
        this.set({ stage: 'decode' }, state.decodeWaiting());
        this.set({ stage: 'inference' }, state.inferenceQueued());
      },
    });
    new Gauge({
      name: 'inception_requests_in_flight',
      help: 'HTTP requests being handled',
      registers,
      collect() {
        this.set(state.inFlight());
      },
    });
    this.decodeFailures = new Counter({
      name: 'inception_decode_failures_total',
      help: 'Uploaded images that could not be decoded',
      registers,
    });
    this.rejected = new Counter({
      name: 'inception_requests_refused_total',
      help: 'Requests answered with a client or overload error, by error code (queue_full, too_many_pixels, bad_image, unauthorized, ...)',
      labelNames: ['code'],
      registers,
    });
    new Gauge({
      name: 'inception_model_load_seconds',
      help: 'Time taken to load the model folder at startup',
      registers,
    }).set(modelLoadSeconds);
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.requests.inc({ route, method, status: String(status) });
    this.latency.observe({ route }, seconds);
  }

  observeBatch(size: number, seconds: number): void {
    this.batchSize.observe(size);
    this.inference.observe(seconds);
  }
}
