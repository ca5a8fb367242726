package dev.gantry.activities.deployment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.EngineIdentity;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import dev.gantry.api.deployment.ModelActivities;
import dev.gantry.api.deployment.ModelActivities.DownloadProgress;
import dev.gantry.api.deployment.ModelActivities.PrepareModelInput;
import dev.gantry.api.deployment.StorageActivities.StorageRequest;
import dev.gantry.infra.auth.ApiKeyRepository;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.DeploymentRecord;
import dev.gantry.infra.db.DeploymentRepository;
import dev.gantry.infra.model.ModelPreparer;
import dev.gantry.infra.runtime.WorkerRuntime;
import dev.gantry.infra.secrets.SecretStore;
import dev.gantry.infra.storage.LocalStorage;
import io.temporal.failure.ActivityFailure;
import io.temporal.failure.ApplicationFailure;
import io.temporal.testing.TestActivityEnvironment;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.flywaydb.core.Flyway;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.mockito.Mockito;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * The model activity end to end below Temporal: the token and endpoint come from the secret store,
 * progress is heartbeated and recorded for the API, failures map to Temporal failure types, and the
 * storage compensation leaves nothing of a failed download behind.
 */
@Timeout(60)
class ModelActivitiesImplTest {
  static final String DEPLOYMENT = "dep_activity1";
  static final String TOKEN = "hf_" + "activity" + "Token";
  static final String COMMIT = "89abcdef0123456789abcdef0123456789abcdef";

  @TempDir Path dataDir;
  HttpServer hub;
  final List<String> authorizations = new CopyOnWriteArrayList<>();
  volatile boolean gated;
  volatile boolean cutOff;
  final byte[] weights = new byte[3_000_000];
  final byte[] config = "{\"architectures\":[\"Tiny\"]}".getBytes(StandardCharsets.UTF_8);

  TestActivityEnvironment env;
  DeploymentRepository deployments;
  SecretStore secrets;
  LocalStorage storage;
  GantryProperties properties;
  final DownloadSlots slots = new DownloadSlots(1);

  @BeforeEach
  void setUp() throws IOException {
    new Random(7).nextBytes(weights);
    hub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
    hub.createContext("/", this::serve);
    hub.start();

    var h2 = new JdbcDataSource();
    h2.setURL("jdbc:h2:mem:" + System.nanoTime() + ";MODE=PostgreSQL;DB_CLOSE_DELAY=-1");
    Flyway.configure().dataSource(h2).load().migrate();
    var jdbc = JdbcClient.create(h2);
    properties =
        new Binder(
                new MapConfigurationPropertySource(
                    Map.of(
                        "gantry.data-dir", dataDir.toString(),
                        // Unreachable: the deployment's own HF_ENDPOINT must be what is used.
                        "gantry.models.hf-endpoint", "http://127.0.0.1:1",
                        // The operator allowed the deployments' mirror.
                        "gantry.models.allowed-endpoints",
                            "http://127.0.0.1:" + hub.getAddress().getPort(),
                        "gantry.models.file-retries", "0",
                        "gantry.models.progress-interval", "10ms")))
            .bind("gantry", GantryProperties.class)
            .get();
    deployments = new DeploymentRepository(jdbc, Clock.systemUTC());
    secrets = new SecretStore(jdbc, Clock.systemUTC(), properties);
    storage = new LocalStorage(properties);
    new ApiKeyRepository(jdbc, Clock.systemUTC()).ensureTenant("t1");

    env = TestActivityEnvironment.newInstance();
    env.registerActivitiesImplementations(
        new ModelActivitiesImpl(new ModelPreparer(properties), secrets, deployments, slots));
  }

  @AfterEach
  void tearDown() {
    env.close();
    hub.stop(0);
  }

  private String deploy(Map<String, String> env) {
    String secretRef = secrets.put("t1", env);
    var spec =
        new DeploymentSpec(
            "tiny",
            "org/tiny",
            Framework.VLLM,
            new GpuSpec("L4", 1, List.of()),
            0,
            1,
            8,
            300,
            60,
            1,
            List.copyOf(env.keySet()),
            List.of());
    deployments.insert(DEPLOYMENT, "t1", spec, secretRef);
    return secretRef;
  }

  private PrepareModelInput input(String secretRef) {
    Path dir = storage.create(DEPLOYMENT);
    return new PrepareModelInput(
        DEPLOYMENT,
        new EngineIdentity(Framework.VLLM, "org/tiny", null, List.of(), secretRef),
        dir.toString(),
        1);
  }

  private Map<String, String> hubEnv() {
    return Map.of(
        "HF_TOKEN", TOKEN, "HF_ENDPOINT", "http://127.0.0.1:" + hub.getAddress().getPort());
  }

  @Test
  void downloadsWithTheDeploymentsTokenAndEndpointHeartbeatingAndRecordingProgress() {
    String secretRef = deploy(hubEnv());
    List<DownloadProgress> heartbeats = new CopyOnWriteArrayList<>();
    env.setActivityHeartbeatListener(DownloadProgress.class, heartbeats::add);
    var activity = env.newActivityStub(ModelActivities.class);

    var info = activity.prepareModel(input(secretRef));

    long total = weights.length + config.length;
    assertThat(info.bytes()).isEqualTo(total);
    assertThat(Path.of(info.modelDir()).resolve("model.safetensors")).hasBinaryContent(weights);
    // The SDK throttles heartbeats, so not every report arrives; those that do carry the size.
    // Heartbeats before the listing is known (the listing step's) carry no progress yet.
    assertThat(heartbeats)
        .filteredOn(java.util.Objects::nonNull)
        .isNotEmpty()
        .allMatch(p -> p.bytesTotal() == total && p.bytesDone() <= total);
    assertThat(deployments.findById(DEPLOYMENT).orElseThrow().download())
        .isEqualTo(new DeploymentRecord.DownloadProgress(total, total));
    assertThat(authorizations).isNotEmpty().allMatch(("Bearer " + TOKEN)::equals);
  }

  @Test
  void aGatedModelFailsNonRetryablyWithTheReasonAndWithoutTheToken() {
    gated = true;
    String secretRef = deploy(Map.of("HF_ENDPOINT", hubEnv().get("HF_ENDPOINT")));
    var activity = env.newActivityStub(ModelActivities.class);

    var failure =
        catchThrowableOfType(ActivityFailure.class, () -> activity.prepareModel(input(secretRef)));

    var app = (ApplicationFailure) failure.getCause();
    assertThat(app.getType()).isEqualTo(FailureType.MODEL_ACCESS_DENIED.name());
    assertThat(app.isNonRetryable()).isTrue();
    assertThat(app.getOriginalMessage())
        .isEqualTo(
            "org/tiny is gated or private: add an HF_TOKEN with access to it in the"
                + " deployment's env");
  }

  @Test
  void aFailedDownloadIsRetryableAndTheCompensationRemovesItsPartialFiles() throws IOException {
    cutOff = true;
    String secretRef = deploy(hubEnv());
    var activity = env.newActivityStub(ModelActivities.class);
    var in = input(secretRef);

    deployments.updateStatus(DEPLOYMENT, DeploymentStatus.DOWNLOADING_MODEL, null);

    var failure = catchThrowableOfType(ActivityFailure.class, () -> activity.prepareModel(in));

    var app = (ApplicationFailure) failure.getCause();
    assertThat(app.getType()).isEqualTo(FailureType.TRANSIENT.name());
    assertThat(app.isNonRetryable()).isFalse();
    assertThat(app.getOriginalMessage()).doesNotContain(TOKEN);
    // While the workflow's backoff runs, the deployment says which attempt failed and why.
    var record = deployments.findById(DEPLOYMENT).orElseThrow();
    assertThat(record.status()).isEqualTo(DeploymentStatus.DOWNLOADING_MODEL);
    assertThat(record.statusReason())
        .startsWith("model download attempt 1 failed, retrying: ")
        .contains(app.getOriginalMessage())
        .doesNotContain(TOKEN);
    Path dir = Path.of(in.storageLocation());
    try (var files = Files.walk(dir)) {
      assertThat(files.map(Path::toString)).anyMatch(p -> p.endsWith(".part"));
    }

    new StorageActivitiesImpl(storage, Mockito.mock(WorkerRuntime.class))
        .removeStorage(new StorageRequest(DEPLOYMENT, 1));

    assertThat(dir).doesNotExist();
  }

  @Test
  void aTenantAtItsDownloadShareWaitsForASlotWhileHeartbeating() throws Exception {
    String secretRef = deploy(hubEnv());
    deployments.updateStatus(
        DEPLOYMENT, DeploymentStatus.DOWNLOADING_MODEL, "waiting for a download slot: 1 running");
    assertThat(slots.tryAcquire("t1")).isTrue();
    List<Object> heartbeats = new CopyOnWriteArrayList<>();
    env.setActivityHeartbeatListener(Object.class, heartbeats::add);
    var activity = env.newActivityStub(ModelActivities.class);
    var in = input(secretRef);

    var result =
        java.util.concurrent.CompletableFuture.supplyAsync(() -> activity.prepareModel(in));
    org.awaitility.Awaitility.await()
        .atMost(java.time.Duration.ofSeconds(10))
        .until(() -> heartbeats.size() >= 2);
    assertThat(result).isNotDone();
    assertThat(Path.of(in.storageLocation()).resolve("model")).doesNotExist();

    slots.release("t1");
    var info = result.get(30, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(Path.of(info.modelDir()).resolve("model.safetensors")).hasBinaryContent(weights);
    // The slot is given back when the download ends, and the reason no longer says it waits.
    assertThat(slots.tryAcquire("t1")).isTrue();
    assertThat(deployments.findById(DEPLOYMENT).orElseThrow().statusReason()).isNull();
  }

  private void serve(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    String auth = ex.getRequestHeaders().getFirst("Authorization");
    if (auth != null) {
      authorizations.add(auth);
    }
    try (ex) {
      if (path.equals("/api/models/org/tiny/revision/main")) {
        String json =
            "{\"sha\":\"%s\",\"gated\":%s,\"siblings\":[{\"rfilename\":\"config.json\",\"size\":%d,\"blobId\":\"%s\"},{\"rfilename\":\"model.safetensors\",\"size\":%d,\"blobId\":\"0000000000000000000000000000000000000000\",\"lfs\":{\"sha256\":\"%s\",\"size\":%d}}]}"
                .formatted(
                    COMMIT,
                    gated ? "\"manual\"" : "false",
                    config.length,
                    gitBlob(config),
                    weights.length,
                    sha256(weights),
                    weights.length);
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        ex.sendResponseHeaders(200, body.length);
        ex.getResponseBody().write(body);
      } else if (path.equals("/org/tiny/resolve/" + COMMIT + "/config.json")) {
        ex.sendResponseHeaders(200, config.length);
        ex.getResponseBody().write(config);
      } else if (path.equals("/org/tiny/resolve/" + COMMIT + "/model.safetensors")) {
        ex.sendResponseHeaders(200, weights.length);
        ex.getResponseBody().write(weights, 0, cutOff ? weights.length / 3 : weights.length);
        if (cutOff) {
          ex.getResponseBody().flush();
          throw new IOException("cut off on purpose");
        }
      } else {
        ex.sendResponseHeaders(404, -1);
      }
    }
  }

  static String sha256(byte[] b) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static String gitBlob(byte[] b) {
    try {
      var md = MessageDigest.getInstance("SHA-1");
      md.update(("blob " + b.length + "\0").getBytes(StandardCharsets.US_ASCII));
      return HexFormat.of().formatHex(md.digest(b));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
