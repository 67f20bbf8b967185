// The package root: everything users reach with require('reclin') / import ... from 'reclin'.
// Each area exports through its own index file.
export * from './tensor';
export { loadAddon } from './native';
