/**
 * tfjs's Adam, RMSprop and momentum optimizers with each variable's update done by one fused kernel
 * (src/ops/optimizer_updates.ts) where the active backend has it, instead of tfjs's ten or so whole-array
 * kernels per variable. The math is tfjs's own, float32 operation for operation; the optimizer state lives
 * in the same variables under the same names, so getWeights()/setWeights(), getConfig() and the class name
 * (saved with a model) are tfjs's. On a backend without the kernels, applyGradients is tfjs's.
 */
import * as tf from '@tensorflow/tfjs';
import {
  ADAM_UPDATE,
  adamUpdate,
  hasUpdateKernel,
  MOMENTUM_UPDATE,
  momentumUpdate,
  RMSPROP_UPDATE,
  rmsPropUpdate,
} from '../ops/optimizer_updates';

/** How tfjs optimizers hold one state variable per model variable (`getWeights` returns these). */
interface OptimizerVariable {
  originalName: string;
  variable: tf.Variable;
}

/** What tfjs optimizers' applyGradients takes: gradients by variable name, or a list of {name, tensor}. */
export type VariableGradients = Parameters<tf.Optimizer['applyGradients']>[0];

/** The gradients in the order tfjs optimizers index their state by: [variable name, gradient or undefined]. */
export function gradientsByName(variableGradients: VariableGradients): [string, tf.Tensor | undefined][] {
  if (Array.isArray(variableGradients)) return variableGradients.map(({ name, tensor }) => [name, tensor]);
  return Object.keys(variableGradients).map((name) => [name, variableGradients[name]]);
}

/** The state slot `slots[i]`, created as zeros named `<variable>/<suffix>` on first use, as tfjs does. */
function stateVariable(slots: OptimizerVariable[], i: number, name: string, suffix: string): tf.Variable {
  slots[i] ??= {
    originalName: `${name}/${suffix}`,
    variable: tf.tidy(() => tf.zerosLike(tf.engine().registeredVariables[name]).variable(false)),
  };
  return slots[i].variable;
}

/** Runs `update` for each variable with a gradient (as tfjs, state is created even for those without). */
function forEachVariable(
  variableGradients: VariableGradients,
  update: (value: tf.Variable, gradient: tf.Tensor | undefined, name: string, i: number) => void,
): void {
  gradientsByName(variableGradients).forEach(([name, gradient], i) => {
    update(tf.engine().registeredVariables[name], gradient, name, i);
  });
}

/** Assigns each new value to its variable (a no-op rebinding when the kernel updated it in place). */
function assignAll(variables: tf.Variable[], values: tf.Tensor[]): void {
  variables.forEach((variable, i) => {
    variable.assign(values[i]);
  });
}

interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: OptimizerVariable[];
  accumulatedSecondMoment: OptimizerVariable[];
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (!hasUpdateKernel(ADAM_UPDATE)) {
      super.applyGradients(variableGradients);
      return;
    }
    const s = this as unknown as AdamState;
    tf.tidy(() => {
      const oneMinusAccBeta1 = tf.sub<tf.Scalar>(1, s.accBeta1);
      const oneMinusAccBeta2 = tf.sub<tf.Scalar>(1, s.accBeta2);
      // learningRate is read at every step: callbacks (ReduceLROnPlateau, schedules) change it.
      const attrs = { learningRate: s.learningRate, beta1: s.beta1, beta2: s.beta2, epsilon: s.epsilon };
      forEachVariable(variableGradients, (value, gradient, name, i) => {
        const m = stateVariable(s.accumulatedFirstMoment, i, name, 'm');
        const v = stateVariable(s.accumulatedSecondMoment, i, name, 'v');
        if (!gradient) return;
        const updated = adamUpdate(value, gradient, m, v, oneMinusAccBeta1, oneMinusAccBeta2, attrs);
        assignAll([value, m, v], updated);
      });
      s.accBeta1.assign(tf.mul(s.accBeta1, s.beta1));
      s.accBeta2.assign(tf.mul(s.accBeta2, s.beta2));
    });
    this.incrementIterations();
  }
}

interface RMSPropState {
  learningRate: number;
  decay: number;
  momentum: number;
  epsilon: number;
  centered: boolean;
  accumulatedMeanSquares: OptimizerVariable[];
  accumulatedMoments: OptimizerVariable[];
  accumulatedMeanGrads: OptimizerVariable[];
}

export class FusedRMSPropOptimizer extends tf.RMSPropOptimizer {
  override applyGradients(variableGradients: VariableGradients): void {
    if (!hasUpdateKernel(RMSPROP_UPDATE)) {
      super.applyGradients(variableGradients);
      return;
    }
    const s = this as unknown as RMSPropState;
    const attrs = { learningRate: s.learningRate, decay: s.decay, momentum: s.momentum, epsilon: s.epsilon };
    forEachVariable(variableGradients, (value, gradient, name, i) => {
      const meanSquare = stateVariable(s.accumulatedMeanSquares, i, name, 'rms');
      const moment = stateVariable(s.accumulatedMoments, i, name, 'momentum');
      const meanGrad = s.centered ? stateVariable(s.accumulatedMeanGrads, i, name, 'mg') : null;
      if (!gradient) return;
      tf.tidy(() => {
        const updated = rmsPropUpdate(value, gradient, meanSquare, moment, meanGrad, attrs);
        assignAll(meanGrad ? [value, meanSquare, moment, meanGrad] : [value, meanSquare, moment], updated);
      });
    });
    this.incrementIterations();
  }
}

interface MomentumState {
  learningRate: number;
  momentum: number;
  useNesterov: boolean;
  accumulations: OptimizerVariable[];
}

export class FusedMomentumOptimizer extends tf.MomentumOptimizer {
  override applyGradients(variableGradients: Parameters<tf.MomentumOptimizer['applyGradients']>[0]): void {
    if (!hasUpdateKernel(MOMENTUM_UPDATE)) {
      super.applyGradients(variableGradients);
      return;
    }
    const s = this as unknown as MomentumState;
    // tfjs multiplies by a cached -learningRate scalar that setLearningRate() refreshes; same value here.
    const attrs = { learningRate: s.learningRate, momentum: s.momentum, useNesterov: s.useNesterov };
    forEachVariable(variableGradients, (value, gradient, name, i) => {
      const accumulation = stateVariable(s.accumulations, i, name, 'momentum');
      if (!gradient) return;
      tf.tidy(() => {
        assignAll([value, accumulation], momentumUpdate(value, gradient, accumulation, attrs));
      });
    });
    this.incrementIterations();
  }
}
