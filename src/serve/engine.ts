// The service runs the one inference step that predict, evaluate and report use.
export { classifier } from '../inference/classify';
