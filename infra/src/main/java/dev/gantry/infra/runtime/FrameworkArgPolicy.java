package dev.gantry.infra.runtime;

import dev.gantry.api.deployment.Framework;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Which engine flags a deployment's {@code framework_args} may hold: per engine, an allowlist of
 * flags with typed values. A deny list of spellings cannot work against argparse, which treats
 * {@code _} like {@code -} in vLLM, accepts any unique prefix ({@code --trust-remote}, {@code
 * --hos=}) and lets one flag read a host file; so every token must name a listed flag exactly, in
 * its canonical spelling, with a value of the listed type. An exact match is also what argparse
 * tries first, so no listed spelling can be taken for another flag.
 *
 * <p>Flags that read or write host paths ({@code --config}, {@code --chat-template}, {@code
 * --download-dir}, {@code --tokenizer}, {@code --ssl-*}, {@code --lora-modules}, {@code
 * --allowed-local-media-path}...), load code or plugins, take JSON, or rebind the server are not
 * listed. {@code --trust-remote-code} runs the model repository's Python and is for admin keys
 * only.
 */
public final class FrameworkArgPolicy {
  /** Flags Gantry sets itself: the engine's address and the model it serves. */
  static final Set<String> SET_BY_GANTRY =
      Set.of("--host", "--port", "--model", "--model-path", "--served-model-name");

  static final String TRUST_REMOTE_CODE = "--trust-remote-code";

  private static final Pattern TOKEN =
      Pattern.compile("--[A-Za-z0-9][A-Za-z0-9._-]*(=.*)?", Pattern.DOTALL);
  private static final Pattern SHELL_META = Pattern.compile("[;&|$`<>\\\\'\"(){}\\[\\]*?!~#\\s]");

  /** A value naming a built-in component (a parser, a backend): never a path. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  private static final Pattern INTEGER = Pattern.compile("-?[0-9]{1,10}");
  private static final Pattern DECIMAL = Pattern.compile("-?[0-9]{1,10}(\\.[0-9]{1,10})?");

  enum Kind {
    BOOL,
    INT,
    FLOAT,
    CHOICE,
    NAME
  }

  record Flag(String name, Kind kind, double min, double max, Set<String> choices) {}

  private static final Map<Framework, Map<String, Flag>> FLAGS =
      Map.of(
          Framework.VLLM, vllm(),
          Framework.SGLANG, sglang(),
          // 'ollama serve' takes no flags: it is configured through its environment.
          Framework.OLLAMA, Map.of(),
          Framework.SIM, sim());

  private FrameworkArgPolicy() {}

  /**
   * Why this token may not be passed to the engine, in words for an API error; empty when it may.
   *
   * @param framework the engine; null checks only what holds for every engine
   * @param admin whether the caller may use admin-only flags ({@code --trust-remote-code})
   */
  public static Optional<String> refusal(Framework framework, String arg, boolean admin) {
    if (arg.chars().anyMatch(Character::isISOControl)) {
      return Optional.of("must not contain control characters");
    }
    if (!TOKEN.matcher(arg).matches()) {
      return Optional.of("must be a single --flag or --flag=value token");
    }
    if (SHELL_META.matcher(arg).find()) {
      return Optional.of("must not contain whitespace or shell metacharacters");
    }
    int eq = arg.indexOf('=');
    String flag = eq < 0 ? arg : arg.substring(0, eq);
    String value = eq < 0 ? null : arg.substring(eq + 1);
    String canonical = canonical(flag);
    if (SET_BY_GANTRY.contains(canonical) || isPrefixOfAny(canonical, SET_BY_GANTRY)) {
      return Optional.of(flag + " is set by Gantry and cannot be overridden");
    }
    if (TRUST_REMOTE_CODE.equals(canonical) || isPrefixOf(canonical, TRUST_REMOTE_CODE)) {
      if (!admin) {
        return Optional.of(TRUST_REMOTE_CODE + " requires an admin API key");
      }
    }
    if (framework == null) {
      return Optional.empty();
    }
    Map<String, Flag> known = FLAGS.get(framework);
    Flag spec = known.get(flag);
    if (spec == null) {
      if (known.containsKey(canonical)) {
        return Optional.of(
            flag + " must be spelled " + canonical + " (the engine's canonical spelling)");
      }
      if (known.isEmpty()) {
        return Optional.of(framework.wireName() + " takes no framework_args");
      }
      return Optional.of(
          flag
              + " is not a flag "
              + framework.wireName()
              + " deployments may set (abbreviations and flags that read host files are not"
              + " accepted; see docs/security.md)");
    }
    return checkValue(spec, value);
  }

  private static Optional<String> checkValue(Flag spec, String value) {
    if (spec.kind() == Kind.BOOL) {
      return value == null
          ? Optional.empty()
          : Optional.of(spec.name() + " is a switch and takes no value");
    }
    if (value == null || value.isEmpty()) {
      return Optional.of(spec.name() + " needs a value: " + spec.name() + "=<value>");
    }
    return switch (spec.kind()) {
      case INT -> {
        if (!INTEGER.matcher(value).matches()) {
          yield Optional.of(spec.name() + " expects an integer");
        }
        long n = Long.parseLong(value);
        yield n < spec.min() || n > spec.max()
            ? Optional.of(
                "%s must be between %d and %d"
                    .formatted(spec.name(), (long) spec.min(), (long) spec.max()))
            : Optional.empty();
      }
      case FLOAT -> {
        if (!DECIMAL.matcher(value).matches()) {
          yield Optional.of(spec.name() + " expects a number");
        }
        double d = Double.parseDouble(value);
        yield d < spec.min() || d > spec.max()
            ? Optional.of(spec.name() + " must be between " + spec.min() + " and " + spec.max())
            : Optional.empty();
      }
      case CHOICE ->
          spec.choices().contains(value)
              ? Optional.empty()
              : Optional.of(
                  spec.name()
                      + " must be one of "
                      + String.join(", ", spec.choices().stream().sorted().toList()));
      case NAME ->
          NAME.matcher(value).matches()
              ? Optional.empty()
              : Optional.of(spec.name() + " expects a name (letters, digits, . _ -), not a path");
      case BOOL -> throw new IllegalStateException("handled above");
    };
  }

  /** argparse's view of a flag: vLLM reads {@code _} as {@code -}; case is kept. */
  static String canonical(String flag) {
    return "--" + flag.substring(2).replace('_', '-');
  }

  private static boolean isPrefixOf(String flag, String full) {
    return flag.length() > 2 && full.startsWith(flag);
  }

  private static boolean isPrefixOfAny(String flag, Set<String> full) {
    return full.stream().anyMatch(f -> isPrefixOf(flag, f));
  }

  // ---------------------------------------------------------------- the lists

  private static Map<String, Flag> vllm() {
    var m = new Builder();
    m.integer("--max-model-len", 1, 10_000_000);
    m.decimal("--gpu-memory-utilization", 0.01, 1.0);
    m.integer("--tensor-parallel-size", 1, 64);
    m.integer("--pipeline-parallel-size", 1, 64);
    m.integer("--max-num-seqs", 1, 100_000);
    m.integer("--max-num-batched-tokens", 1, 10_000_000);
    m.integer("--max-seq-len-to-capture", 1, 10_000_000);
    m.integer("--max-logprobs", 0, 100_000);
    m.integer("--seed", 0, Integer.MAX_VALUE);
    m.integer("--block-size", 1, 1024);
    m.integer("--max-parallel-loading-workers", 1, 1024);
    m.integer("--long-prefill-token-threshold", 0, 10_000_000);
    m.integer("--max-num-partial-prefills", 1, 1024);
    m.decimal("--swap-space", 0, 1024);
    m.decimal("--cpu-offload-gb", 0, 4096);
    m.bool("--enforce-eager");
    m.bool("--enable-prefix-caching");
    m.bool("--no-enable-prefix-caching");
    m.bool("--enable-chunked-prefill");
    m.bool("--no-enable-chunked-prefill");
    m.bool("--disable-log-requests");
    m.bool("--disable-log-stats");
    m.bool("--disable-sliding-window");
    m.bool("--disable-custom-all-reduce");
    m.bool("--enable-auto-tool-choice");
    m.bool("--enable-expert-parallel");
    m.bool("--return-tokens-as-token-ids");
    m.bool(TRUST_REMOTE_CODE);
    m.choice("--dtype", "auto", "half", "float16", "bfloat16", "float", "float32");
    m.choice("--kv-cache-dtype", "auto", "fp8", "fp8_e4m3", "fp8_e5m2");
    m.choice(
        "--quantization",
        "awq",
        "awq_marlin",
        "gptq",
        "gptq_marlin",
        "marlin",
        "fp8",
        "fbgemm_fp8",
        "bitsandbytes",
        "compressed-tensors",
        "experts_int8",
        "modelopt",
        "modelopt_fp4");
    // Not tensorizer, runai_streamer, sharded_state or npcache: they read or write other places.
    m.choice("--load-format", "auto", "pt", "safetensors", "dummy");
    m.choice("--tokenizer-mode", "auto", "slow", "mistral");
    m.choice("--generation-config", "auto", "vllm");
    m.choice("--scheduling-policy", "fcfs", "priority");
    m.choice(
        "--task",
        "auto",
        "generate",
        "embedding",
        "embed",
        "classify",
        "score",
        "reward",
        "transcription");
    m.choice("--runner", "auto", "generate", "pooling");
    m.choice("--uvicorn-log-level", "critical", "error", "warning", "info", "debug", "trace");
    m.name("--tool-call-parser");
    m.name("--reasoning-parser");
    m.name("--response-role");
    return m.build();
  }

  private static Map<String, Flag> sglang() {
    var m = new Builder();
    m.integer("--tp-size", 1, 64);
    m.integer("--tensor-parallel-size", 1, 64);
    m.integer("--context-length", 1, 10_000_000);
    m.integer("--max-running-requests", 1, 100_000);
    m.integer("--max-total-tokens", 1, 100_000_000);
    m.integer("--max-prefill-tokens", 1, 10_000_000);
    m.integer("--chunked-prefill-size", -1, 10_000_000);
    m.integer("--cuda-graph-max-bs", 1, 100_000);
    m.integer("--torch-compile-max-bs", 1, 100_000);
    m.integer("--stream-interval", 1, 100_000);
    m.integer("--random-seed", 0, Integer.MAX_VALUE);
    m.decimal("--mem-fraction-static", 0.01, 1.0);
    m.decimal("--schedule-conservativeness", 0, 100);
    m.bool("--disable-radix-cache");
    m.bool("--disable-cuda-graph");
    m.bool("--disable-overlap-schedule");
    m.bool("--enable-torch-compile");
    m.bool("--enable-mixed-chunk");
    m.bool("--enable-metrics");
    m.bool("--enable-p2p-check");
    m.bool("--log-requests");
    m.bool("--is-embedding");
    m.bool("--skip-tokenizer-init");
    m.bool(TRUST_REMOTE_CODE);
    m.choice("--dtype", "auto", "half", "float16", "bfloat16", "float", "float32");
    m.choice("--kv-cache-dtype", "auto", "fp8_e4m3", "fp8_e5m2");
    m.choice(
        "--quantization",
        "awq",
        "awq_marlin",
        "gptq",
        "gptq_marlin",
        "marlin",
        "fp8",
        "bitsandbytes",
        "compressed-tensors",
        "modelopt",
        "w8a8_int8",
        "w8a8_fp8");
    m.choice("--load-format", "auto", "pt", "safetensors", "dummy");
    m.choice("--tokenizer-mode", "auto", "slow");
    m.choice("--schedule-policy", "lpm", "random", "fcfs", "dfs-weight");
    m.choice("--grammar-backend", "xgrammar", "outlines", "llguidance", "none");
    m.choice("--log-level", "critical", "error", "warning", "info", "debug");
    m.name("--attention-backend");
    m.name("--sampling-backend");
    m.name("--tool-call-parser");
    m.name("--reasoning-parser");
    return m.build();
  }

  /** The simulator's own flags ({@code SimConfig}), without the ones Gantry sets. */
  private static Map<String, Flag> sim() {
    var m = new Builder();
    m.decimal("--startup-seconds", 0, 3600);
    m.integer("--ttft-ms", 0, Integer.MAX_VALUE);
    m.integer("--inter-token-ms", 0, Integer.MAX_VALUE);
    m.integer("--prefill-ms-per-1k-tokens", 0, 3_600_000);
    m.decimal("--decode-slowdown", 0, 1000);
    m.integer("--max-concurrency", 1, Integer.MAX_VALUE);
    m.integer("--fail-after-requests", 0, Integer.MAX_VALUE);
    m.integer("--max-tokens-default", 1, Integer.MAX_VALUE);
    m.integer("--embedding-dim", 1, 65536);
    return m.build();
  }

  private static final class Builder {
    private final Map<String, Flag> flags = new LinkedHashMap<>();

    private void add(Flag flag) {
      if (!flag.name().equals(flag.name().toLowerCase(Locale.ROOT))
          || !flag.name().equals(canonical(flag.name()))
          || flags.put(flag.name(), flag) != null) {
        throw new IllegalStateException("bad or duplicate flag " + flag.name());
      }
    }

    void bool(String name) {
      add(new Flag(name, Kind.BOOL, 0, 0, Set.of()));
    }

    void integer(String name, long min, long max) {
      add(new Flag(name, Kind.INT, min, max, Set.of()));
    }

    void decimal(String name, double min, double max) {
      add(new Flag(name, Kind.FLOAT, min, max, Set.of()));
    }

    void choice(String name, String... choices) {
      add(new Flag(name, Kind.CHOICE, 0, 0, Set.copyOf(List.of(choices))));
    }

    void name(String name) {
      add(new Flag(name, Kind.NAME, 0, 0, Set.of()));
    }

    Map<String, Flag> build() {
      return Map.copyOf(flags);
    }
  }
}
