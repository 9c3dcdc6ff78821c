import type { ModelInfo } from '../io/model_folder';
import type { ImageDecoder } from './image_decoder';

/** What every protocol's handlers share: the served model and the one admission, decode and batch path. */
export interface ServeContext {
  /** The name clients address the model by (`--name`; /v2/models/{name}, /v1/models/{name}). */
  readonly name: string;
  readonly info: ModelInfo;
  /** Largest accepted request body, bytes. */
  readonly maxBodyBytes: number;
  readonly decoder: ImageDecoder;
  /** Throws 503 with Retry-After when `count` more images would overfill the queue. */
  admit(count: number): void;
  /** Class probabilities of each normalised HWC input, through the shared micro-batcher. */
  classify(inputs: Float32Array[]): Promise<Float32Array[]>;
  /** False while draining (SIGTERM): readiness probes then take the replica out of rotation. */
  ready(): boolean;
}
