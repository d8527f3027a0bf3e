export * from './alertmanager.js';
export * from './compose.js';
export * from './generate.js';
export * from './kubernetes.js';
export * from './manifest.js';
export * from './paths.js';
export * from './prometheus.js';
export { GENERATED_MARK, GeneratedFileError } from './yaml-document.js';
