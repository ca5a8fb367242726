package dev.gantry.infra.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import dev.gantry.infra.gpu.GpuInventory.Allocation;
import java.io.File;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EngineLaunchSpecsTest {
  private static final Allocation TWO_H100 = new Allocation("H100", List.of(2, 3));
  private static final Allocation VIRTUAL = new Allocation(null, List.of(0));

  @TempDir Path dataDir;

  private final Path storage = Path.of("/data/storage/dep_abcdef");

  private EngineLaunchSpecs specs(Map<String, String> settings) {
    return new EngineLaunchSpecs(TestProperties.bind(dataDir, settings));
  }

  private WorkerLaunchRequest request(Framework framework, List<String> args) {
    return new WorkerLaunchRequest(
        "dep_abcdef",
        "dep_abcdef-w0",
        framework,
        "org/model; rm -rf /",
        storage,
        Map.of("HF_TOKEN", "secret"),
        args,
        new GpuSpec("H100", 2, List.of()),
        0);
  }

  private WorkerLaunchRequest request(
      Framework framework, List<String> args, Map<String, String> env, int concurrency) {
    return new WorkerLaunchRequest(
        "dep_abcdef",
        "dep_abcdef-w0",
        framework,
        "m",
        storage,
        env,
        args,
        framework == Framework.SIM ? null : new GpuSpec("H100", 1, List.of()),
        concurrency);
  }

  private static EngineLaunchSpec engine(WorkerLaunchRequest request) {
    return EngineLaunchSpecs.engine(request, "127.0.0.1", 41000, List.of("sim"));
  }

  @Test
  void eachEnginesBatchIsSizedToTheDeploymentsConcurrency() {
    assertThat(engine(request(Framework.SIM, List.of(), Map.of(), 16)).command())
        .contains("--max-concurrency=16");
    assertThat(engine(request(Framework.VLLM, List.of(), Map.of(), 16)).command())
        .contains("--max-num-seqs=16");
    assertThat(engine(request(Framework.SGLANG, List.of(), Map.of(), 16)).command())
        .contains("--max-running-requests=16");
    // Ollama's memory grows with its parallel requests: it keeps its own unless the env sets it.
    assertThat(engine(request(Framework.OLLAMA, List.of(), Map.of(), 16)).env())
        .doesNotContainKey("OLLAMA_NUM_PARALLEL");
  }

  @Test
  void vllmsBatchIsNoLargerThanTheTokensItMayBatch() {
    assertThat(
            engine(request(Framework.VLLM, List.of("--max-num-batched-tokens=512"), Map.of(), 1024))
                .command())
        .contains("--max-num-seqs=512");
  }

  @Test
  void aBatchSizeTheDeploymentSetsItselfWins() {
    var own = engine(request(Framework.SIM, List.of("--max-concurrency", "4"), Map.of(), 16));
    assertThat(own.command()).containsSubsequence("--max-concurrency", "4");
    assertThat(own.command()).noneMatch(arg -> arg.startsWith("--max-concurrency="));
    assertThat(
            engine(request(Framework.VLLM, List.of("--max-num-seqs=64"), Map.of(), 16)).command())
        .filteredOn(arg -> arg.startsWith("--max-num-seqs"))
        .containsExactly("--max-num-seqs=64");
  }

  @Test
  void anUnknownConcurrencyLeavesTheEnginesOwnBatchSize() {
    assertThat(engine(request(Framework.SIM, List.of(), Map.of(), 0)).command())
        .noneMatch(arg -> arg.startsWith("--max-concurrency"));
    assertThat(engine(request(Framework.VLLM, List.of(), Map.of(), 0)).command())
        .noneMatch(arg -> arg.startsWith("--max-num-seqs"));
  }

  @Test
  void vllmServesTheModelDirectoryUnderTheDeploymentName() {
    EngineLaunchSpec spec =
        specs(Map.of())
            .build(
                request(Framework.VLLM, List.of("--max-model-len", "4096 $(id)")), 41000, TWO_H100);

    assertThat(spec.command())
        .containsExactly(
            "vllm",
            "serve",
            "/data/storage/dep_abcdef/model",
            "--host",
            "127.0.0.1",
            "--port",
            "41000",
            "--served-model-name",
            "org/model; rm -rf /",
            "--max-model-len",
            "4096 $(id)");
    assertThat(spec.env())
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(
                "CUDA_VISIBLE_DEVICES",
                "2,3",
                "CUDA_DEVICE_ORDER",
                "PCI_BUS_ID",
                "HF_HUB_OFFLINE",
                "1",
                "TRANSFORMERS_OFFLINE",
                "1",
                // Compiled kernels and graphs outlive the worker, for the deployment's next ones.
                "VLLM_CACHE_ROOT",
                "/data/storage/dep_abcdef/cache/vllm",
                "TRITON_CACHE_DIR",
                "/data/storage/dep_abcdef/cache/triton",
                "TORCHINDUCTOR_CACHE_DIR",
                "/data/storage/dep_abcdef/cache/torchinductor"));
    assertThat(spec.healthPath()).isEqualTo("/health");
    assertThat(spec.metricsPath()).isEqualTo("/metrics");
  }

  @Test
  void sglangRunsTheLaunchServerModule() {
    EngineLaunchSpec spec =
        specs(Map.of()).build(request(Framework.SGLANG, List.of("--tp", "2")), 41001, TWO_H100);

    assertThat(spec.command())
        .containsExactly(
            "python3",
            "-m",
            "sglang.launch_server",
            "--model-path",
            "/data/storage/dep_abcdef/model",
            "--host",
            "127.0.0.1",
            "--port",
            "41001",
            "--served-model-name",
            "org/model; rm -rf /",
            "--tp",
            "2");
    assertThat(spec.env())
        .containsEntry("CUDA_VISIBLE_DEVICES", "2,3")
        .containsEntry("HF_HUB_OFFLINE", "1")
        .containsEntry("TRITON_CACHE_DIR", "/data/storage/dep_abcdef/cache/triton")
        .containsEntry("TORCHINDUCTOR_CACHE_DIR", "/data/storage/dep_abcdef/cache/torchinductor");
    assertThat(spec.healthPath()).isEqualTo("/health");
    assertThat(spec.metricsPath()).isEqualTo("/metrics");
  }

  @Test
  void ollamaTakesItsAddressAndModelStoreFromTheEnvironment() {
    EngineLaunchSpec spec =
        specs(Map.of()).build(request(Framework.OLLAMA, List.of()), 41002, TWO_H100);

    assertThat(spec.command()).containsExactly("ollama", "serve");
    assertThat(spec.env())
        .containsExactlyInAnyOrderEntriesOf(
            Map.of(
                "OLLAMA_HOST", "127.0.0.1:41002",
                "OLLAMA_MODELS", "/data/storage/dep_abcdef/ollama",
                "CUDA_VISIBLE_DEVICES", "2,3",
                "CUDA_DEVICE_ORDER", "PCI_BUS_ID"));
    assertThat(spec.healthPath()).isEqualTo("/api/version");
    assertThat(spec.metricsPath()).isNull();
  }

  @Test
  void simUsesTheConfiguredCommandAndNoGpu() {
    EngineLaunchSpec spec =
        specs(
                Map.of(
                    "runtime.local.sim-command[0]", "/opt/gantry/bin/sim",
                    "runtime.local.sim-command[1]", "--quiet"))
            .build(request(Framework.SIM, List.of("--ttft-ms", "5")), 41003, VIRTUAL);

    assertThat(spec.command())
        .containsExactly(
            "/opt/gantry/bin/sim",
            "--quiet",
            "--host",
            "127.0.0.1",
            "--port",
            "41003",
            "--model",
            "org/model; rm -rf /",
            "--ttft-ms",
            "5");
    assertThat(spec.env()).isEmpty();
    assertThat(spec.healthPath()).isEqualTo("/health");
    assertThat(spec.metricsPath()).isEqualTo("/metrics");
  }

  @Test
  void simWithoutACommandRunsOnThisJvmAndClassPath() {
    EngineLaunchSpec spec =
        specs(Map.of()).build(request(Framework.SIM, List.of()), 41004, VIRTUAL);

    List<String> command = spec.command();
    assertThat(Path.of(command.getFirst()).getFileName().toString()).startsWith("java");
    assertThat(command)
        .containsSequence("-XX:+UseSerialGC", "-Xmx192m", "-XX:TieredStopAtLevel=1", "-Xshare:auto")
        .containsSequence(
            "-cp",
            EngineLaunchSpecs.absolute(System.getProperty("java.class.path")),
            "dev.gantry.sim.SimMain",
            "--host",
            "127.0.0.1",
            "--port",
            "41004",
            "--model");
  }

  @Test
  void simFromTheFatJarPassesSimAsTheFirstArgument() {
    assertThat(
            EngineLaunchSpecs.simPrefix(
                List.of(), List.of("-Xmx64m"), "/jdk/bin/java", "/opt/gantry/gantry.jar"))
        .containsExactly("/jdk/bin/java", "-Xmx64m", "-jar", "/opt/gantry/gantry.jar", "sim");
  }

  @Test
  void simFromItsOwnJarRunsTheSimulatorsMainClassOverTheJarsManifest() {
    assertThat(
            EngineLaunchSpecs.simPrefix(
                List.of(),
                List.of(),
                "/jdk/bin/java",
                "/data/engines/sim-1a2b/engine-sim-0.1.0-SNAPSHOT.jar"))
        .containsExactly(
            "/jdk/bin/java",
            "-cp",
            "/data/engines/sim-1a2b/engine-sim-0.1.0-SNAPSHOT.jar",
            "dev.gantry.sim.SimMain");
  }

  @Test
  void classPathEntriesBecomeAbsoluteBecauseTheSimulatorRunsInAnotherDirectory() {
    Path cwd = Path.of("").toAbsolutePath();

    assertThat(EngineLaunchSpecs.absolute("app/target/gantry.jar"))
        .isEqualTo(cwd.resolve("app/target/gantry.jar").toString());
    assertThat(EngineLaunchSpecs.absolute("/opt/a.jar" + File.pathSeparator + "./classes"))
        .isEqualTo("/opt/a.jar" + File.pathSeparator + cwd.resolve("classes"));
  }

  @Test
  void simFromAClassPathRunsTheSimulatorsMainClass() {
    String classPath = String.join(File.pathSeparator, "/app/classes", "/app/lib/sim.jar");

    assertThat(
            EngineLaunchSpecs.simPrefix(List.of(), List.of("-Xmx64m"), "/jdk/bin/java", classPath))
        .containsExactly("/jdk/bin/java", "-Xmx64m", "-cp", classPath, "dev.gantry.sim.SimMain");
  }
}
