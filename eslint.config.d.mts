// Types for eslint.config.mjs, so the unit test of the layer rule type-checks.
import type { ESLint, Linter } from 'eslint';

export declare const layers: ESLint.Plugin;
declare const config: Linter.Config[];
export default config;
