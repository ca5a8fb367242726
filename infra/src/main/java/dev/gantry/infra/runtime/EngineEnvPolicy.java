package dev.gantry.infra.runtime;

import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Which environment variables a tenant may give an engine. An allowlist: a name reaches an engine
 * only when it is listed here (or added by the operator through {@code
 * gantry.runtime.local.containment.extra-env}), because engines are large Python and JVM programs
 * whose every library reads variables of its own, and a denylist would have to know all of them.
 *
 * <p>The names below were reviewed against vLLM ({@code vllm/envs.py}), SGLang, Ollama ({@code
 * envconfig}), Hugging Face Hub, PyTorch, NCCL and the JVM: only knobs that tune behaviour are
 * listed; none loads code or plugins, names a file or directory, changes where binaries,
 * certificates or libraries come from, routes network traffic, or rebinds the engine. {@code
 * docs/security.md} carries the reasoning.
 *
 * <p>Some names are {@linkplain #FORBIDDEN forbidden} outright: not even an operator can allow
 * them, as each one lets whoever sets it run code or read files as the engine.
 */
public final class EngineEnvPolicy {

  /** Names (exact) that tenants may set on any engine. */
  static final Set<String> ALLOWED =
      Set.of(
          // Hugging Face: the token for gated models, the endpoint (checked elsewhere for SSRF),
          // and switches without paths. HF_HOME, HF_HUB_CACHE, HF_TOKEN_PATH name paths.
          "HF_TOKEN",
          "HUGGING_FACE_HUB_TOKEN",
          "HF_ENDPOINT",
          "HF_HUB_OFFLINE",
          "TRANSFORMERS_OFFLINE",
          "HF_HUB_DISABLE_TELEMETRY",
          "HF_HUB_DISABLE_PROGRESS_BARS",
          "HF_HUB_ENABLE_HF_TRANSFER",
          "HF_HUB_DOWNLOAD_TIMEOUT",
          "HF_HUB_ETAG_TIMEOUT",
          "HF_HUB_VERBOSITY",
          "TRANSFORMERS_VERBOSITY",
          "TOKENIZERS_PARALLELISM",
          // Threads and allocators.
          "OMP_NUM_THREADS",
          "MKL_NUM_THREADS",
          "OPENBLAS_NUM_THREADS",
          "PYTORCH_CUDA_ALLOC_CONF",
          "CUDA_LAUNCH_BLOCKING",
          "CUDA_MODULE_LOADING",
          // NCCL tuning. Not NCCL_NET_PLUGIN / NCCL_TUNER_PLUGIN (load a shared object),
          // NCCL_DEBUG_FILE (writes a path), NCCL_TOPO_FILE / NCCL_GRAPH_FILE (read a path).
          "NCCL_DEBUG",
          "NCCL_DEBUG_SUBSYS",
          "NCCL_P2P_DISABLE",
          "NCCL_P2P_LEVEL",
          "NCCL_IB_DISABLE",
          "NCCL_SHM_DISABLE",
          "NCCL_CUMEM_ENABLE",
          "NCCL_NVLS_ENABLE",
          "NCCL_ALGO",
          "NCCL_PROTO",
          "NCCL_MIN_NCHANNELS",
          "NCCL_MAX_NCHANNELS",
          "NCCL_BUFFSIZE",
          // vLLM tuning. Not VLLM_PLUGINS, VLLM_*_PATH, VLLM_CONFIG_ROOT, VLLM_CACHE_ROOT,
          // VLLM_ASSETS_CACHE, VLLM_RPC_BASE_PATH, VLLM_TORCH_PROFILER_DIR, VLLM_TRACE_FUNCTION,
          // VLLM_ALLOW_RUNTIME_LORA_UPDATING (API clients load adapters from host paths),
          // VLLM_ALLOW_INSECURE_SERIALIZATION (pickle), VLLM_SERVER_DEV_MODE (debug endpoints),
          // VLLM_USE_MODELSCOPE / VLLM_USAGE_STATS_SERVER (network), VLLM_API_KEY, VLLM_HOST_IP,
          // VLLM_PORT, VLLM_LOOPBACK_IP (rebinding).
          "VLLM_ATTENTION_BACKEND",
          "VLLM_USE_V1",
          "VLLM_LOGGING_LEVEL",
          "VLLM_CONFIGURE_LOGGING",
          "VLLM_LOG_STATS_INTERVAL",
          "VLLM_NO_USAGE_STATS",
          "VLLM_DO_NOT_TRACK",
          "VLLM_ENGINE_ITERATION_TIMEOUT_S",
          "VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS",
          "VLLM_RPC_TIMEOUT",
          "VLLM_HTTP_TIMEOUT_KEEP_ALIVE",
          "VLLM_ALLOW_LONG_MAX_MODEL_LEN",
          "VLLM_WORKER_MULTIPROC_METHOD",
          "VLLM_ENABLE_V1_MULTIPROCESSING",
          "VLLM_FLASH_ATTN_VERSION",
          "VLLM_USE_FLASHINFER_SAMPLER",
          "VLLM_USE_TRITON_FLASH_ATTN",
          "VLLM_FUSED_MOE_CHUNK_SIZE",
          "VLLM_MLA_DISABLE",
          "VLLM_USE_DEEP_GEMM",
          "VLLM_SLEEP_WHEN_IDLE",
          "VLLM_KV_CACHE_LAYOUT",
          "VLLM_MARLIN_USE_ATOMIC_ADD",
          "VLLM_XGRAMMAR_CACHE_MB",
          "VLLM_SKIP_P2P_CHECK",
          "VLLM_TOOL_PARSE_REGEX_TIMEOUT_SECONDS",
          "VLLM_V1_OUTPUT_PROC_CHUNK_SIZE",
          "VLLM_ENABLE_CUDAGRAPH_GC",
          "VLLM_KEEP_ALIVE_ON_ENGINE_DEATH",
          "VLLM_IMAGE_FETCH_TIMEOUT",
          "VLLM_VIDEO_FETCH_TIMEOUT",
          "VLLM_AUDIO_FETCH_TIMEOUT",
          "VLLM_MEDIA_LOADING_THREAD_COUNT",
          "VLLM_MM_INPUT_CACHE_GIB",
          "VLLM_LOGITS_PROCESSOR_THREADS",
          "VLLM_CPU_KVCACHE_SPACE",
          "VLLM_CPU_OMP_THREADS_BIND",
          // SGLang tuning. Not SGLANG_TORCH_PROFILER_DIR, SGLANG_LOGGING_CONFIG_PATH (paths) or
          // SGLANG_USE_MODELSCOPE (network).
          "SGLANG_ENABLE_JIT_DEEPGEMM",
          "SGL_ENABLE_JIT_DEEPGEMM",
          "SGLANG_SET_CPU_AFFINITY",
          // Ollama tuning. Not OLLAMA_HOST / OLLAMA_MODELS (set by Gantry), OLLAMA_ORIGINS (CORS),
          // OLLAMA_TMPDIR, OLLAMA_RUNNERS_DIR, OLLAMA_LLM_LIBRARY (choose code to load).
          "OLLAMA_DEBUG",
          "OLLAMA_FLASH_ATTENTION",
          "OLLAMA_KV_CACHE_TYPE",
          "OLLAMA_KEEP_ALIVE",
          "OLLAMA_NUM_PARALLEL",
          "OLLAMA_MAX_LOADED_MODELS",
          "OLLAMA_MAX_QUEUE",
          "OLLAMA_CONTEXT_LENGTH",
          "OLLAMA_LOAD_TIMEOUT",
          "OLLAMA_SCHED_SPREAD",
          "OLLAMA_GPU_OVERHEAD",
          "OLLAMA_NOPRUNE",
          "OLLAMA_NEW_ENGINE");

  /**
   * Never for an engine, not even when an operator lists them: the dynamic loader and glibc ({@code
   * LD_*}, {@code GLIBC_TUNABLES}, {@code GCONV_PATH}...), interpreters that run code from a
   * variable ({@code PYTHON*}, {@code JAVA_TOOL_OPTIONS}, {@code NODE_OPTIONS}, {@code PERL5*},
   * {@code RUBY*}, {@code BASH_ENV}), where programs, homes and temporary files are, proxies and
   * certificate bundles, the GPUs and address the platform assigns, the platform's own settings,
   * and any name that by its shape names a path, a library or a plugin.
   */
  static final List<Pattern> FORBIDDEN =
      List.of(
          Pattern.compile("LD_.*|DYLD_.*|GLIBC_TUNABLES|GCONV_PATH|LOCPATH|NLSPATH|MALLOC_.*"),
          Pattern.compile("PYTHON.*|JAVA_.*|_JAVA_.*|JDK_JAVA_OPTIONS|CLASSPATH|NODE_.*"),
          Pattern.compile("PERL.*|RUBY.*|BASH_ENV|ENV|IFS|PS4|SHELLOPTS|BASHOPTS|SHELL"),
          Pattern.compile("PATH|HOME|USER|LOGNAME|LANG|LC_.*|TZ|TZDIR|TMPDIR|TMP|TEMP|XDG_.*"),
          Pattern.compile(".*_PROXY|SSL_CERT_.*|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|OPENSSL_.*"),
          Pattern.compile("HOSTALIASES|RES_OPTIONS|LOCALDOMAIN"),
          Pattern.compile("GANTRY_.*|SPRING_.*"),
          Pattern.compile(
              "CUDA_VISIBLE_DEVICES|CUDA_DEVICE_ORDER|NVIDIA_.*|OLLAMA_HOST|OLLAMA_MODELS"),
          Pattern.compile(
              ".*PLUGIN.*|.*_(PATH|PATHS|DIR|DIRS|HOME|ROOT|FILE|CACHE|SO|LIB|LIBRARY)"));

  private final Set<String> allowed;

  /**
   * @param extra names an operator allows beyond the built-in list; a forbidden one is refused
   * @throws IllegalArgumentException when {@code extra} holds a forbidden or malformed name
   */
  public EngineEnvPolicy(Collection<String> extra) {
    var all = new TreeSet<>(ALLOWED);
    for (String name : extra) {
      if (!name.matches("[A-Z_][A-Z0-9_]*") || isForbidden(name)) {
        throw new IllegalArgumentException(
            "gantry.runtime.local.containment.extra-env: "
                + name
                + " can never be given to an engine: it loads code, names a path or rebinds the"
                + " engine (see docs/security.md)");
      }
      all.add(name);
    }
    this.allowed = Set.copyOf(all);
  }

  static boolean isForbidden(String name) {
    return FORBIDDEN.stream().anyMatch(p -> p.matcher(name).matches());
  }

  public boolean allows(String name) {
    return allowed.contains(name);
  }

  /**
   * Why a tenant may not set this variable, in words for an API error that names it first; empty
   * when it may. Never mentions a value.
   */
  public Optional<String> refusal(String name) {
    if (allows(name)) {
      return Optional.empty();
    }
    if (isForbidden(name)) {
      return Optional.of(
          "cannot be set: engines never receive it (it can load code, point at host files or"
              + " rebind the engine)");
    }
    return Optional.of(
        "is not a variable engines may receive; allowed are Hugging Face, NCCL, thread and"
            + " engine tuning variables (see docs/security.md); an operator can allow more with"
            + " gantry.runtime.local.containment.extra-env");
  }
}
