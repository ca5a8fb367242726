package dev.gantry.sim;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * Configuration of the engine simulator.
 *
 * @param port TCP port to listen on; {@code 0} picks an ephemeral port (see {@link
 *     SimServer#port()})
 * @param host interface to bind, default {@code 127.0.0.1}
 * @param model the served model name; requests naming another model get vLLM's 404
 * @param startupSeconds simulated model load time: {@code /health} and the inference routes answer
 *     503 until it has elapsed
 * @param ttftMs time to first token, in milliseconds, for the shortest prompt and counted from
 *     admission (a request waiting for a batch slot waits before that)
 * @param interTokenMs time between two generated tokens, in milliseconds, for a lone request
 * @param prefillMsPer1kTokens prefill time added to the time to first token (and to an embeddings
 *     answer) per 1000 prompt tokens, in milliseconds; {@code 0} (the default) leaves it at {@code
 *     ttftMs} whatever the prompt (see {@link Throughput})
 * @param decodeSlowdown how much slower each token comes when the batch is full: the time between
 *     tokens is {@code interTokenMs × (1 + decodeSlowdown × (running − 1) / (maxConcurrency − 1))};
 *     {@code 0} (the default) keeps it at {@code interTokenMs} (see {@link Throughput})
 * @param maxConcurrency how many requests generate at once (the running batch); the rest wait
 *     inside the engine in FIFO order, shown as {@code vllm:num_requests_waiting}
 * @param failAfterRequests after this many completed inference requests the process exits with
 *     {@link SimServer#FAILURE_EXIT_CODE}; {@code 0} means never
 * @param maxTokensDefault completion length when a request gives no {@code max_tokens}
 * @param embeddingDim dimension of the vectors returned by {@code /v1/embeddings}
 */
public record SimConfig(
    int port,
    String host,
    String model,
    double startupSeconds,
    long ttftMs,
    long interTokenMs,
    int prefillMsPer1kTokens,
    double decodeSlowdown,
    int maxConcurrency,
    int failAfterRequests,
    int maxTokensDefault,
    int embeddingDim) {

  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final double DEFAULT_STARTUP_SECONDS = 0;
  public static final long DEFAULT_TTFT_MS = 50;
  public static final long DEFAULT_INTER_TOKEN_MS = 10;
  public static final int DEFAULT_PREFILL_MS_PER_1K_TOKENS = 0;
  public static final double DEFAULT_DECODE_SLOWDOWN = 0;

  /**
   * Bound of {@code --prefill-ms-per-1k-tokens}: an hour per 1000 tokens, far beyond any engine,
   * and low enough that a prompt of any {@code int} length costs a {@code long} of nanoseconds.
   */
  public static final int MAX_PREFILL_MS_PER_1K_TOKENS = 3_600_000;

  /** Bound of {@code --decode-slowdown}: a full batch 1001 times slower than a lone request. */
  public static final double MAX_DECODE_SLOWDOWN = 1000;

  public static final int DEFAULT_MAX_CONCURRENCY = 8;
  public static final int DEFAULT_FAIL_AFTER_REQUESTS = 0;
  public static final int DEFAULT_MAX_TOKENS = 64;
  public static final int DEFAULT_EMBEDDING_DIM = 384;

  /** Command-line usage, printed by {@code --help}. */
  public static final String USAGE =
      """
      Usage: sim --port N --model NAME [options]

      An OpenAI-compatible inference server that simulates a GPU engine (vLLM-like).

      Required:
        --port N                  port to listen on (0 = ephemeral; the chosen port is printed)
        --model NAME              served model name

      Options:
        --host H                  interface to bind (default 127.0.0.1)
        --startup-seconds S       simulated load time; /health is 503 until then (default 0)
        --ttft-ms N               time to first token in ms, from admission (default 50)
        --inter-token-ms N        time between tokens in ms, for a lone request (default 10)
        --prefill-ms-per-1k-tokens N
                                  prefill time added to the time to first token per 1000
                                  prompt tokens, in ms (default 0: ttft is --ttft-ms for any
                                  prompt)
        --decode-slowdown X       the time between tokens grows with the running batch:
                                  inter-token-ms * (1 + X * (running - 1) / (max-concurrency - 1)),
                                  so a full batch decodes 1+X times slower (default 0: no
                                  slowdown)
        --max-concurrency N       running batch size; others wait in the engine, FIFO, and their
                                  time to first token includes the wait (default 8)
        --fail-after-requests N   exit with status 3 after N completed requests (default 0 = never)
        --max-tokens-default N    completion length when max_tokens is absent (default 64)
        --embedding-dim N         embedding vector dimension (default 384)
        --help                    print this help

      Flags accept both "--flag value" and "--flag=value".
      """;

  public SimConfig {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be between 0 and 65535, got " + port);
    }
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("host must not be blank");
    }
    if (model == null || model.isBlank()) {
      throw new IllegalArgumentException("model must not be blank");
    }
    if (!(startupSeconds >= 0) || Double.isInfinite(startupSeconds)) {
      throw new IllegalArgumentException(
          "startupSeconds must be a finite number >= 0, got " + startupSeconds);
    }
    if (ttftMs < 0) {
      throw new IllegalArgumentException("ttftMs must be >= 0, got " + ttftMs);
    }
    if (interTokenMs < 0) {
      throw new IllegalArgumentException("interTokenMs must be >= 0, got " + interTokenMs);
    }
    if (prefillMsPer1kTokens < 0 || prefillMsPer1kTokens > MAX_PREFILL_MS_PER_1K_TOKENS) {
      throw new IllegalArgumentException(
          "prefillMsPer1kTokens must be between 0 and "
              + MAX_PREFILL_MS_PER_1K_TOKENS
              + ", got "
              + prefillMsPer1kTokens);
    }
    if (!(decodeSlowdown >= 0 && decodeSlowdown <= MAX_DECODE_SLOWDOWN)) {
      throw new IllegalArgumentException(
          "decodeSlowdown must be a number between 0 and "
              + MAX_DECODE_SLOWDOWN
              + ", got "
              + decodeSlowdown);
    }
    if (maxConcurrency < 1) {
      throw new IllegalArgumentException("maxConcurrency must be >= 1, got " + maxConcurrency);
    }
    if (failAfterRequests < 0) {
      throw new IllegalArgumentException(
          "failAfterRequests must be >= 0 (0 = never), got " + failAfterRequests);
    }
    if (maxTokensDefault < 1) {
      throw new IllegalArgumentException("maxTokensDefault must be >= 1, got " + maxTokensDefault);
    }
    if (embeddingDim < 1) {
      throw new IllegalArgumentException("embeddingDim must be >= 1, got " + embeddingDim);
    }
  }

  /** A config serving {@code model} on an ephemeral port with every other setting at default. */
  public static SimConfig defaults(String model) {
    return new SimConfig(
        0,
        DEFAULT_HOST,
        model,
        DEFAULT_STARTUP_SECONDS,
        DEFAULT_TTFT_MS,
        DEFAULT_INTER_TOKEN_MS,
        DEFAULT_PREFILL_MS_PER_1K_TOKENS,
        DEFAULT_DECODE_SLOWDOWN,
        DEFAULT_MAX_CONCURRENCY,
        DEFAULT_FAIL_AFTER_REQUESTS,
        DEFAULT_MAX_TOKENS,
        DEFAULT_EMBEDDING_DIM);
  }

  public SimConfig withPort(int port) {
    return new SimConfig(
        port,
        host,
        model,
        startupSeconds,
        ttftMs,
        interTokenMs,
        prefillMsPer1kTokens,
        decodeSlowdown,
        maxConcurrency,
        failAfterRequests,
        maxTokensDefault,
        embeddingDim);
  }

  public SimConfig withHost(String host) {
    return new SimConfig(
        port,
        host,
        model,
        startupSeconds,
        ttftMs,
        interTokenMs,
        prefillMsPer1kTokens,
        decodeSlowdown,
        maxConcurrency,
        failAfterRequests,
        maxTokensDefault,
        embeddingDim);
  }

  public SimConfig withModel(String model) {
    return new SimConfig(
        port,
        host,
        model,
        startupSeconds,
        ttftMs,
        interTokenMs,
        prefillMsPer1kTokens,
        decodeSlowdown,
        maxConcurrency,
        failAfterRequests,
        maxTokensDefault,
        embeddingDim);
  }

  public SimConfig withStartupSeconds(double startupSeconds) {
    return new SimConfig(
        port,
        host,
        model,
        startupSeconds,
        ttftMs,
        interTokenMs,
        prefillMsPer1kTokens,
        decodeSlowdown,
        maxConcurrency,
        failAfterRequests,
        maxTokensDefault,
        embeddingDim);
  }

  /** Sets the time to first token and the time between tokens, in milliseconds. */
  public SimConfig withTiming(long ttftMs, long interTokenMs) {
    return new SimConfig(
        port,
        host,
        model,
        startupSeconds,
        ttftMs,
        interTokenMs,
        prefillMsPer1kTokens,
        decodeSlowdown,
        maxConcurrency,
        failAfterRequests,
        maxTokensDefault,
        embeddingDim);
  }

  /**
   * Sets the throughput model: prefill time per 1000 prompt tokens (ms) and the decode slowdown of
   * a full batch (see {@link Throughput}).
   */
  public SimConfig withThroughput(int prefillMsPer1kTokens, double decodeSlowdown) {
    return new SimConfig(
        port,
        host,
        model,
        startupSeconds,
        ttftMs,
        interTokenMs,
        prefillMsPer1kTokens,
        decodeSlowdown,
        maxConcurrency,
        failAfterRequests,
        maxTokensDefault,
        embeddingDim);
  }

  public SimConfig withMaxConcurrency(int maxConcurrency) {
    return new SimConfig(
        port,
        host,
        model,
        startupSeconds,
        ttftMs,
        interTokenMs,
        prefillMsPer1kTokens,
        decodeSlowdown,
        maxConcurrency,
        failAfterRequests,
        maxTokensDefault,
        embeddingDim);
  }

  public SimConfig withFailAfterRequests(int failAfterRequests) {
    return new SimConfig(
        port,
        host,
        model,
        startupSeconds,
        ttftMs,
        interTokenMs,
        prefillMsPer1kTokens,
        decodeSlowdown,
        maxConcurrency,
        failAfterRequests,
        maxTokensDefault,
        embeddingDim);
  }

  public SimConfig withMaxTokensDefault(int maxTokensDefault) {
    return new SimConfig(
        port,
        host,
        model,
        startupSeconds,
        ttftMs,
        interTokenMs,
        prefillMsPer1kTokens,
        decodeSlowdown,
        maxConcurrency,
        failAfterRequests,
        maxTokensDefault,
        embeddingDim);
  }

  public SimConfig withEmbeddingDim(int embeddingDim) {
    return new SimConfig(
        port,
        host,
        model,
        startupSeconds,
        ttftMs,
        interTokenMs,
        prefillMsPer1kTokens,
        decodeSlowdown,
        maxConcurrency,
        failAfterRequests,
        maxTokensDefault,
        embeddingDim);
  }

  /**
   * The command-line flags that {@link #parse(String[])} turns back into this config; handy to
   * spawn a simulator child process ({@code java -jar gantry.jar sim <toArgs()>}).
   */
  public List<String> toArgs() {
    List<String> args = new ArrayList<>();
    args.add("--port=" + port);
    args.add("--model=" + model);
    args.add("--host=" + host);
    args.add("--startup-seconds=" + startupSeconds);
    args.add("--ttft-ms=" + ttftMs);
    args.add("--inter-token-ms=" + interTokenMs);
    args.add("--prefill-ms-per-1k-tokens=" + prefillMsPer1kTokens);
    args.add("--decode-slowdown=" + decodeSlowdown);
    args.add("--max-concurrency=" + maxConcurrency);
    args.add("--fail-after-requests=" + failAfterRequests);
    args.add("--max-tokens-default=" + maxTokensDefault);
    args.add("--embedding-dim=" + embeddingDim);
    return args;
  }

  /**
   * Parses command-line flags ({@code --flag value} or {@code --flag=value}). {@code --port} and
   * {@code --model} are required.
   *
   * @throws IllegalArgumentException with a message fit for the user on an unknown flag, a missing
   *     or malformed value, a repeated flag or a missing required flag
   */
  public static SimConfig parse(String[] args) {
    Objects.requireNonNull(args, "args");
    Integer port = null;
    String model = null;
    String host = DEFAULT_HOST;
    double startupSeconds = DEFAULT_STARTUP_SECONDS;
    long ttftMs = DEFAULT_TTFT_MS;
    long interTokenMs = DEFAULT_INTER_TOKEN_MS;
    int prefillMsPer1kTokens = DEFAULT_PREFILL_MS_PER_1K_TOKENS;
    double decodeSlowdown = DEFAULT_DECODE_SLOWDOWN;
    int maxConcurrency = DEFAULT_MAX_CONCURRENCY;
    int failAfterRequests = DEFAULT_FAIL_AFTER_REQUESTS;
    int maxTokensDefault = DEFAULT_MAX_TOKENS;
    int embeddingDim = DEFAULT_EMBEDDING_DIM;

    Set<String> seen = new HashSet<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg == null || !arg.startsWith("--") || arg.length() == 2) {
        throw new IllegalArgumentException(
            "unexpected argument '" + arg + "' (flags look like --name value; see --help)");
      }
      String flag;
      String value;
      int eq = arg.indexOf('=');
      if (eq >= 0) {
        flag = arg.substring(0, eq);
        value = arg.substring(eq + 1);
      } else {
        flag = arg;
        value = null;
      }
      if (!FLAGS.contains(flag)) {
        throw new IllegalArgumentException(
            "unknown flag " + flag + " (known flags: " + String.join(", ", FLAGS) + ")");
      }
      if (value == null) {
        if (i + 1 >= args.length || args[i + 1] == null || args[i + 1].startsWith("--")) {
          throw new IllegalArgumentException("missing value for " + flag);
        }
        value = args[++i];
      }
      if (!seen.add(flag)) {
        throw new IllegalArgumentException(flag + " given more than once");
      }
      switch (flag) {
        case "--port" -> port = parseInt(flag, value, 0, 65535);
        case "--model" -> model = nonBlank(flag, value);
        case "--host" -> host = nonBlank(flag, value);
        case "--startup-seconds" -> startupSeconds = parseSeconds(flag, value);
        case "--ttft-ms" -> ttftMs = parseInt(flag, value, 0, Integer.MAX_VALUE);
        case "--inter-token-ms" -> interTokenMs = parseInt(flag, value, 0, Integer.MAX_VALUE);
        case "--prefill-ms-per-1k-tokens" ->
            prefillMsPer1kTokens = parseInt(flag, value, 0, MAX_PREFILL_MS_PER_1K_TOKENS);
        case "--decode-slowdown" -> decodeSlowdown = parseNumber(flag, value, MAX_DECODE_SLOWDOWN);
        case "--max-concurrency" -> maxConcurrency = parseInt(flag, value, 1, Integer.MAX_VALUE);
        case "--fail-after-requests" ->
            failAfterRequests = parseInt(flag, value, 0, Integer.MAX_VALUE);
        case "--max-tokens-default" ->
            maxTokensDefault = parseInt(flag, value, 1, Integer.MAX_VALUE);
        case "--embedding-dim" -> embeddingDim = parseInt(flag, value, 1, 65536);
        default -> throw new IllegalStateException("unhandled flag " + flag);
      }
    }
    if (port == null) {
      throw new IllegalArgumentException("missing required flag --port (use 0 for any free port)");
    }
    if (model == null) {
      throw new IllegalArgumentException("missing required flag --model");
    }
    return new SimConfig(
        port,
        host,
        model,
        startupSeconds,
        ttftMs,
        interTokenMs,
        prefillMsPer1kTokens,
        decodeSlowdown,
        maxConcurrency,
        failAfterRequests,
        maxTokensDefault,
        embeddingDim);
  }

  private static final List<String> FLAGS =
      List.of(
          "--port",
          "--model",
          "--host",
          "--startup-seconds",
          "--ttft-ms",
          "--inter-token-ms",
          "--prefill-ms-per-1k-tokens",
          "--decode-slowdown",
          "--max-concurrency",
          "--fail-after-requests",
          "--max-tokens-default",
          "--embedding-dim");

  private static String nonBlank(String flag, String value) {
    if (value.isBlank()) {
      throw new IllegalArgumentException(flag + " must not be empty");
    }
    return value;
  }

  private static int parseInt(String flag, String value, int min, int max) {
    int parsed;
    try {
      parsed = Integer.parseInt(value.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          flag + " expects an integer" + range(min, max) + ", got '" + value + "'");
    }
    if (parsed < min || parsed > max) {
      throw new IllegalArgumentException(
          flag + " expects an integer" + range(min, max) + ", got " + parsed);
    }
    return parsed;
  }

  private static String range(int min, int max) {
    return max == Integer.MAX_VALUE
        ? " >= " + min
        : String.format(Locale.ROOT, " between %d and %d", min, max);
  }

  private static double parseNumber(String flag, String value, double max) {
    String expected = flag + " expects a number between 0 and " + formatted(max);
    double parsed;
    try {
      parsed = Double.parseDouble(value.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(expected + ", got '" + value + "'");
    }
    if (!(parsed >= 0 && parsed <= max)) {
      throw new IllegalArgumentException(expected + ", got '" + value + "'");
    }
    return parsed;
  }

  private static String formatted(double value) {
    return value == Math.rint(value) ? Long.toString((long) value) : Double.toString(value);
  }

  private static double parseSeconds(String flag, String value) {
    double parsed;
    try {
      parsed = Double.parseDouble(value.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          flag + " expects a number of seconds >= 0, got '" + value + "'");
    }
    if (!(parsed >= 0) || Double.isInfinite(parsed)) {
      throw new IllegalArgumentException(
          flag + " expects a number of seconds >= 0, got '" + value + "'");
    }
    return parsed;
  }
}
