/** How many classes a top-k answer lists unless asked otherwise (predict, the service). */
export const DEFAULT_TOP_K = 5;

/** One class of a top-k answer. */
export interface Prediction {
  label: string;
  /** Index of the class in labels.json (the network's output unit). */
  index: number;
  probability: number;
}

/** The k most probable classes of one probability row, most probable first (ties keep label order). */
export function topK(probabilities: ArrayLike<number>, labels: string[], k: number): Prediction[] {
  return Array.from(probabilities, (probability, index) => ({ label: labels[index], index, probability }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index)
    .slice(0, Math.max(1, Math.min(k, labels.length)));
}
