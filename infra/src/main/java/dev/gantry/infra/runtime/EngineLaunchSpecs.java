package dev.gantry.infra.runtime;

import dev.gantry.api.deployment.Framework;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.gpu.GpuInventory.Allocation;
import dev.gantry.infra.model.ModelPreparer;
import jakarta.annotation.PreDestroy;
import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.springframework.stereotype.Component;

/**
 * Turns a worker's launch request into the command line of its engine. Engines bind to loopback
 * only: the gateway on this host is their sole client, and nothing else should reach a model server
 * that has no authentication of its own.
 */
@Component
public class EngineLaunchSpecs {
  static final String HOST = "127.0.0.1";
  static final String SIM_MAIN_CLASS = "dev.gantry.sim.SimMain";

  /** Longest a training run for the simulator's ahead-of-time cache may take. */
  private static final Duration AOT_TRAINING_TIMEOUT = Duration.ofMinutes(5);

  private final List<String> simPrefix;

  /**
   * The simulator's ahead-of-time cache when workers start from its own jar on JDK 25+, else null.
   */
  private final SimAotCache simAotCache;

  /** The command that starts the simulator from that cache, before the cache's own option. */
  private final List<String> aotSimPrefix;

  public EngineLaunchSpecs(GantryProperties properties) {
    var local = properties.runtime().local();
    String classPath = absolute(System.getProperty("java.class.path", ""));
    Optional<Path> simJar = Optional.empty();
    if (local.simCommand().isEmpty() && isFatJar(classPath)) {
      // The simulator's own jars, out of the fat jar: a much cheaper JVM start (SimJar).
      simJar = SimJar.extract(Path.of(classPath), properties.dataDir().resolve("engines"));
      classPath = simJar.map(Path::toString).orElse(classPath);
    }
    String java = currentJavaBinary();
    this.simPrefix = simPrefix(local.simCommand(), local.simJvmOptions(), java, classPath);
    Optional<List<String>> aotOptions =
        simJar.isPresent() && local.simAotCache() && SimAotCache.supported()
            ? SimAotCache.compatible(local.simJvmOptions())
            : Optional.empty();
    if (aotOptions.isPresent()) {
      this.simAotCache =
          new SimAotCache(
              simJar.get().getParent(),
              simJar.get().toString(),
              java,
              aotOptions.get(),
              SimAotCache.currentJvm(),
              AOT_TRAINING_TIMEOUT);
      this.aotSimPrefix = simPrefix(List.of(), aotOptions.get(), java, classPath);
      // Built now, in the background, so that the first burst finds it.
      simAotCache.options();
    } else {
      this.simAotCache = null;
      this.aotSimPrefix = simPrefix;
    }
  }

  /** Stops a training run of the simulator's cache that is still under way. */
  @PreDestroy
  public void close() {
    if (simAotCache != null) {
      simAotCache.close();
    }
  }

  /** The command that starts a simulator now: from the ahead-of-time cache once it is built. */
  List<String> simPrefix() {
    List<String> aot = simAotCache == null ? List.of() : simAotCache.options();
    if (aot.isEmpty()) {
      return simPrefix;
    }
    List<String> prefix = new ArrayList<>(aotSimPrefix.size() + aot.size());
    prefix.add(aotSimPrefix.getFirst());
    prefix.addAll(aot);
    prefix.addAll(aotSimPrefix.subList(1, aotSimPrefix.size()));
    return prefix;
  }

  private static boolean isFatJar(String classPath) {
    return !classPath.contains(File.pathSeparator) && classPath.endsWith(".jar");
  }

  /**
   * The engine's command line and environment on this host.
   *
   * @param port the loopback port the engine must listen on
   * @param allocation the worker's GPUs; a virtual slot sets no {@code CUDA_VISIBLE_DEVICES}
   */
  public EngineLaunchSpec build(WorkerLaunchRequest request, int port, Allocation allocation) {
    EngineLaunchSpec engine = withCompileCaches(engine(request, HOST, port, simPrefix()), request);
    if (allocation.isVirtual()) {
      return engine;
    }
    Map<String, String> env = new LinkedHashMap<>();
    // Without PCI_BUS_ID, CUDA numbers GPUs fastest-first and the indices would not be the
    // nvidia-smi ones the inventory is configured with.
    env.put("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
    env.put(
        "CUDA_VISIBLE_DEVICES",
        allocation.indices().stream().map(String::valueOf).collect(Collectors.joining(",")));
    env.putAll(engine.env());
    return new EngineLaunchSpec(engine.command(), env, engine.healthPath(), engine.metricsPath());
  }

  /**
   * Each framework's command line, platform env, health and metrics paths, wherever the engine
   * runs: both runtimes start engines from this, so a framework's flags live in one place.
   *
   * @param host the address the engine binds to (loopback on this host, every address in a Pod)
   * @param port the port the engine must listen on
   * @param simPrefix the command that starts the simulator, before its flags
   */
  public static EngineLaunchSpec engine(
      WorkerLaunchRequest request, String host, int port, List<String> simPrefix) {
    String portArg = Integer.toString(port);
    Map<String, String> env = new LinkedHashMap<>();
    List<String> command = new ArrayList<>();
    return switch (request.framework()) {
      case SIM -> {
        command.addAll(simPrefix);
        command.addAll(List.of("--host", host, "--port", portArg, "--model", request.model()));
        command.addAll(batchFlag(request, "--max-concurrency", Integer.MAX_VALUE));
        command.addAll(request.frameworkArgs());
        yield new EngineLaunchSpec(command, env, "/health", "/metrics");
      }
      case VLLM -> {
        offline(env);
        command.addAll(List.of("vllm", "serve", modelDir(request).toString()));
        command.addAll(servingFlags(host, portArg, request.model()));
        // vLLM refuses a batch of more sequences than it may batch tokens.
        command.addAll(
            batchFlag(request, "--max-num-seqs", intArg(request, "--max-num-batched-tokens")));
        command.addAll(request.frameworkArgs());
        yield new EngineLaunchSpec(command, env, "/health", "/metrics");
      }
      case SGLANG -> {
        offline(env);
        command.addAll(
            List.of(
                "python3",
                "-m",
                "sglang.launch_server",
                "--model-path",
                modelDir(request).toString()));
        command.addAll(servingFlags(host, portArg, request.model()));
        command.addAll(batchFlag(request, "--max-running-requests", Integer.MAX_VALUE));
        command.addAll(request.frameworkArgs());
        yield new EngineLaunchSpec(command, env, "/health", "/metrics");
      }
      case OLLAMA -> {
        // Ollama takes its address and model store from the environment, not from flags.
        command.addAll(List.of("ollama", "serve"));
        command.addAll(request.frameworkArgs());
        env.put("OLLAMA_HOST", host + ":" + portArg);
        // The model was pulled into this store before any worker started; serve never pulls.
        env.put(
            "OLLAMA_MODELS",
            ModelPreparer.modelDirOf(Framework.OLLAMA, request.storageDir()).toString());
        yield new EngineLaunchSpec(command, env, "/api/version", null);
      }
    };
  }

  /**
   * The engine's batch sized to the deployment's {@code concurrency}, at most {@code cap}: the
   * gateways send a worker that many requests at once, and an engine that runs fewer queues the
   * rest inside itself, out of the platform's sight, where their wait shows up only as a longer
   * time to first token (the simulator's default batch is 8). A value the deployment sets itself in
   * {@code framework_args} wins; none is added when the concurrency is not known. (Ollama keeps its
   * own {@code OLLAMA_NUM_PARALLEL}, which the deployment's env may set: its memory grows with it,
   * context by context, so the platform does not raise it unasked.)
   */
  static List<String> batchFlag(WorkerLaunchRequest request, String flag, int cap) {
    if (request.concurrency() <= 0 || intArg(request, flag) != Integer.MAX_VALUE) {
      return List.of();
    }
    for (String arg : request.frameworkArgs()) {
      if (arg.equals(flag)) {
        return List.of();
      }
    }
    return List.of(flag + "=" + Math.max(1, Math.min(request.concurrency(), cap)));
  }

  /** The value of {@code --flag=N} in the deployment's args; {@code MAX_VALUE} when absent. */
  static int intArg(WorkerLaunchRequest request, String flag) {
    for (String arg : request.frameworkArgs()) {
      if (arg.startsWith(flag + "=")) {
        try {
          return Integer.parseInt(arg.substring(flag.length() + 1));
        } catch (NumberFormatException e) {
          return 1; // set, though not a number: the platform adds none (the engine will say what)
        }
      }
    }
    return Integer.MAX_VALUE;
  }

  /** Where {@link ModelPreparer} put the deployment's weights. */
  private static Path modelDir(WorkerLaunchRequest request) {
    return ModelPreparer.modelDirOf(request.framework(), request.storageDir());
  }

  /**
   * The model is complete in storage before a worker starts: the engine must load it from there and
   * never reach the Hub, even for a tokenizer file, so a worker boots without network and cannot
   * download a second copy. These win over the deployment's own env.
   */
  private static void offline(Map<String, String> env) {
    env.put("HF_HUB_OFFLINE", "1");
    env.put("TRANSFORMERS_OFFLINE", "1");
  }

  /** Where a deployment's engines keep what they compile, in its storage: shared by its workers. */
  static Path caches(WorkerLaunchRequest request) {
    return request.storageDir().resolve("cache");
  }

  /**
   * On this host, the kernels and graphs an engine compiles at boot (Triton, TorchInductor; vLLM's
   * own under {@code VLLM_CACHE_ROOT}) are kept in the deployment's storage rather than in the
   * worker's own home, which goes with the worker: the next worker of the deployment loads them
   * instead of compiling them again, often the longest part of a cold start after the weights. The
   * storage belongs to the deployment's own uid alone, so one tenant's compiled code never reaches
   * another's engine. (Pods mount the storage read-only: there the caches stay the Pod's.)
   */
  private static EngineLaunchSpec withCompileCaches(
      EngineLaunchSpec engine, WorkerLaunchRequest request) {
    if (request.framework() != Framework.VLLM && request.framework() != Framework.SGLANG) {
      return engine;
    }
    Path caches = caches(request);
    Map<String, String> env = new LinkedHashMap<>(engine.env());
    env.put("TRITON_CACHE_DIR", caches.resolve("triton").toString());
    env.put("TORCHINDUCTOR_CACHE_DIR", caches.resolve("torchinductor").toString());
    if (request.framework() == Framework.VLLM) {
      env.put("VLLM_CACHE_ROOT", caches.resolve("vllm").toString());
    }
    return new EngineLaunchSpec(engine.command(), env, engine.healthPath(), engine.metricsPath());
  }

  private static List<String> servingFlags(String host, String port, String model) {
    return List.of("--host", host, "--port", port, "--served-model-name", model);
  }

  /**
   * The command that starts the simulator, before its flags. A configured {@code sim-command} is
   * used as is. Otherwise the simulator runs on this very JVM and its code: from the Spring Boot
   * fat jar ({@code java -jar gantry.jar sim}, whose main hands {@code sim} over to {@link
   * #SIM_MAIN_CLASS}), from the simulator's own jar taken out of it ({@link SimJar}; its manifest
   * names its dependencies), or from the class path when Gantry runs unpacked (an IDE, the tests).
   */
  static List<String> simPrefix(
      List<String> simCommand, List<String> jvmOptions, String javaBinary, String classPath) {
    if (!simCommand.isEmpty()) {
      return List.copyOf(simCommand);
    }
    List<String> prefix = new ArrayList<>();
    prefix.add(javaBinary);
    prefix.addAll(jvmOptions);
    if (isFatJar(classPath)
        && !Path.of(classPath).getFileName().toString().startsWith("engine-sim-")) {
      prefix.addAll(List.of("-jar", classPath, "sim"));
    } else {
      prefix.addAll(List.of("-cp", classPath, SIM_MAIN_CLASS));
    }
    return List.copyOf(prefix);
  }

  /**
   * The class path with every entry made absolute: {@code ./gantry} runs {@code java -jar
   * app/target/gantry.jar}, and the simulator starts in the deployment's storage directory, where
   * that relative path leads nowhere.
   */
  static String absolute(String classPath) {
    return Arrays.stream(classPath.split(File.pathSeparator))
        .filter(entry -> !entry.isEmpty())
        .map(entry -> Path.of(entry).toAbsolutePath().normalize().toString())
        .collect(Collectors.joining(File.pathSeparator));
  }

  private static String currentJavaBinary() {
    return ProcessHandle.current()
        .info()
        .command()
        .orElseGet(() -> Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }
}
