/**
 * The engine simulator: a small OpenAI-compatible inference server (vLLM-like routes, error shapes
 * and {@code /metrics} names) that stands in for a GPU engine in tests and demos.
 *
 * <p>Entry points: {@link dev.gantry.sim.SimMain#main} (CLI, {@code sim --port N --model NAME
 * [flags]}) and {@link dev.gantry.sim.SimServer#start(dev.gantry.sim.SimConfig)} (in-process).
 * Output is deterministic: the same prompt always produces the same completion, and the same input
 * the same embedding.
 */
package dev.gantry.sim;
