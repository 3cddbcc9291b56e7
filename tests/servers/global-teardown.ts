// Jest global teardown: stops what ./global-setup.ts started.
export { stopServers as default } from './global-setup';
