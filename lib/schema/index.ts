export * from './derive.js';
export * from './tables.js';
export * from './types.js';
