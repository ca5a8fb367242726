package dev.gantry.sim;

/**
 * The simulator's throughput model: how long an admitted request takes to its first token and
 * between tokens, given its prompt and how many requests share the batch.
 *
 * <ul>
 *   <li><b>Prefill</b>: the first token comes {@code ttftMs + prefillMsPer1kTokens × promptTokens /
 *       1000} after admission. A GPU's prefill is compute-bound and linear in the prompt's length
 *       (attention's quadratic term is small next to the matrix multiplications at the lengths
 *       served), so a per-token cost on top of a fixed latency is the first-order shape. Waiting
 *       for a batch slot comes before admission, so a queued request's time to first token includes
 *       it.
 *   <li><b>Decode</b>: each next token takes {@code interTokenMs × (1 + decodeSlowdown × (running −
 *       1) / (maxConcurrency − 1))}, with {@code running} the batch size when the previous token
 *       came out. One decode step yields a token for every running request; its time is the
 *       weights' read (fixed, dominant at small batches) plus per-request KV-cache reads and
 *       compute, which grow linearly with the batch. So a lone request decodes at {@code
 *       interTokenMs} and a full batch at {@code (1 + decodeSlowdown) × interTokenMs}: {@code
 *       decodeSlowdown} is the slowdown at {@code --max-concurrency}, which plays vLLM's {@code
 *       --max-num-seqs}.
 * </ul>
 *
 * <p>With both coefficients at 0 (the defaults) the timings are exactly {@code ttftMs} and {@code
 * interTokenMs}, whatever the prompt and the batch.
 */
record Throughput(
    long ttftNanos,
    long prefillMsPer1kTokens,
    long interTokenNanos,
    double decodeSlowdown,
    int maxConcurrency) {

  static Throughput of(SimConfig config) {
    return new Throughput(
        config.ttftMs() * 1_000_000L,
        config.prefillMsPer1kTokens(),
        config.interTokenMs() * 1_000_000L,
        config.decodeSlowdown(),
        config.maxConcurrency());
  }

  /**
   * Time from admission to the first token (or to an embeddings answer) for a prompt of {@code
   * promptTokens}.
   */
  long firstTokenNanos(int promptTokens) {
    // ms per 1000 tokens is µs per token: 1000 ns per token per unit. SimConfig bounds the
    // coefficient so that this cannot overflow for any int token count.
    return ttftNanos + prefillMsPer1kTokens * 1000L * promptTokens;
  }

  /** Time from one token to the next while {@code running} requests share the batch. */
  long interTokenNanos(int running) {
    if (decodeSlowdown == 0 || maxConcurrency == 1) {
      return interTokenNanos;
    }
    int others = Math.clamp(running - 1, 0, maxConcurrency - 1);
    double factor = 1 + decodeSlowdown * others / (maxConcurrency - 1);
    return Math.round(interTokenNanos * factor);
  }
}
