/**
 * Benchmarks. Each measures ratios side by side in one run, because these machines are noisy:
 * absolute times from different runs are not comparable, ratios taken together are.
 */
package dev.kiln.bench;
