// The package root: everything users reach with require('reclin') / import ... from 'reclin'.
// Each area exports through its own index file; add exports there, not here.
export * from './tensor';
export * from './ops';
export * from './optim';
export * from './nn';
export * from './recursive';
export * from './data';
export * from './train';
export * from './format';
export * from './experiment';
export * from './tensorboard';
export * from './hub';
export { loadAddon, syncCheck } from './native';
export * as reference from './reference';
