package dev.gantry.infra.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.infra.config.GantryProperties;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Endpoints a tenant may point a deployment at: only allowed ones are dialled, internal addresses
 * are refused after redirects, a foreign reply is never quoted, closed and open ports look alike,
 * and a Hub that trickles its listing or files, or lists too many files, cannot hold a download.
 */
@Timeout(60)
class HostileEndpointTest {
  static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

  @TempDir Path storage;
  FakeHub hub;

  @BeforeEach
  void startHub() throws IOException {
    hub = new FakeHub();
  }

  @AfterEach
  void stopHub() {
    hub.close();
  }

  static GantryProperties.Models models(
      String hfEndpoint,
      List<String> allowed,
      boolean allowPrivate,
      long minBytesPerSecond,
      int maxFiles) {
    return new GantryProperties.Models(
        hfEndpoint,
        "http://127.0.0.1:1",
        2,
        Duration.ofSeconds(2),
        Duration.ofSeconds(20),
        0,
        Duration.ofMillis(50),
        0,
        allowed,
        allowPrivate,
        minBytesPerSecond,
        Duration.ofSeconds(2),
        maxFiles,
        4,
        200);
  }

  FakeHub.Repo repo() {
    byte[] weights = new byte[200_000];
    new Random(3).nextBytes(weights);
    return hub.repo("org/tiny", COMMIT)
        .file("config.json", "{}")
        .lfsFile("model.safetensors", weights);
  }

  ModelException prepareFails(GantryProperties.Models settings, String tenantEndpoint) {
    return prepareFails(settings, tenantEndpoint, ProgressListener.NONE);
  }

  ModelException prepareFails(
      GantryProperties.Models settings, String tenantEndpoint, ProgressListener listener) {
    var request =
        new ModelRequest(
            "dep_hostile", Framework.VLLM, "org/tiny", storage, 1, null, tenantEndpoint);
    return catchThrowableOfType(
        ModelException.class,
        () -> new ModelPreparer(settings, p -> Long.MAX_VALUE).prepare(request, listener));
  }

  @Test
  void aTenantEndpointTheOperatorDidNotAllowIsRefusedWithoutBeingDialled() {
    repo();
    var settings = models("http://127.0.0.1:1", List.of(), true, 0, 100);

    var e = prepareFails(settings, hub.endpoint().toString());

    assertThat(e.type()).isEqualTo(FailureType.INVALID_SPEC);
    assertThat(e.getMessage()).contains("HF_ENDPOINT is not one of the model mirrors");
    assertThat(hub.requests).isEmpty();
  }

  @Test
  void aRedirectToAnInternalAddressIsRefusedUnlessTheOperatorAllowsIt() throws IOException {
    repo();
    // The Hub itself is configured (trusted); its CDN is another loopback port nobody allowed.
    var e = prepareFails(models(hub.endpoint().toString(), List.of(), false, 0, 100), null);

    assertThat(e.type()).isEqualTo(FailureType.INVALID_SPEC);
    assertThat(e.getMessage())
        .contains("redirected to an address this platform does not download from");
    assertThat(hub.requests).noneMatch(r -> r.server().equals("cdn"));

    var allowed = models(hub.endpoint().toString(), List.of(), true, 0, 100);
    var request =
        new ModelRequest("dep_hostile", Framework.VLLM, "org/tiny", storage, 1, null, null);
    new ModelPreparer(allowed, p -> Long.MAX_VALUE).prepare(request, ProgressListener.NONE);
    assertThat(hub.requests).anyMatch(r -> r.server().equals("cdn"));
  }

  @Test
  void aReplyThatIsNotAHubListingIsNeverQuoted() {
    repo();
    hub.rawListing =
        "SSH-2.0-OpenSSH_9.6 internal-banner-4f2a\r\n".getBytes(StandardCharsets.US_ASCII);

    var e = prepareFails(models(hub.endpoint().toString(), List.of(), true, 0, 100), null);

    assertThat(e.getMessage())
        .contains("did not answer like a Hugging Face Hub")
        .doesNotContain("SSH")
        .doesNotContain("internal-banner");
  }

  @Test
  void aClosedPortAndAPortThatAnswersNothingUsefulReadTheSame() throws IOException {
    String closed;
    try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closed = "http://127.0.0.1:" + socket.getLocalPort();
    }
    try (var open = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
      var acceptor =
          Thread.ofVirtual()
              .start(
                  () -> {
                    while (!open.isClosed()) {
                      try (var s = open.accept()) {
                        s.getOutputStream().write("220 mail ready\r\n".getBytes());
                      } catch (IOException e) {
                        return;
                      }
                    }
                  });
      String listening = "http://127.0.0.1:" + open.getLocalPort();

      var whenClosed = prepareFails(models(closed, List.of(), true, 0, 100), null);
      var whenOpen = prepareFails(models(listening, List.of(), true, 0, 100), null);

      assertThat(whenClosed.getMessage()).isEqualTo(whenOpen.getMessage());
      assertThat(whenOpen.getMessage()).doesNotContain("220").doesNotContain("refused");
      acceptor.interrupt();
    }
  }

  @Test
  void aListingThatTricklesIsStoppedByTheMinimumRateWhileTheActivityHeartbeats() {
    repo();
    hub.trickleListing = Duration.ofMillis(50);
    var heartbeats = new AtomicInteger();
    ProgressListener listener =
        new ProgressListener() {
          @Override
          public void progress(long bytesDone, long bytesTotal) {}

          @Override
          public void waiting() {
            heartbeats.incrementAndGet();
          }
        };

    long start = System.nanoTime();
    var e =
        prepareFails(models(hub.endpoint().toString(), List.of(), true, 1000, 100), null, listener);

    assertThat(e.type()).isEqualTo(FailureType.TRANSIENT);
    assertThat(e.getMessage()).contains("too slow");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(15));
    assertThat(heartbeats.get()).isGreaterThan(3);
  }

  @Test
  void aFileThatTricklesIsStoppedByTheMinimumRate() {
    repo();
    hub.trickleFiles = Duration.ofMillis(50);

    var e = prepareFails(models(hub.endpoint().toString(), List.of(), true, 1000, 100), null);

    assertThat(e.type()).isEqualTo(FailureType.TRANSIENT);
    assertThat(e.getMessage()).contains("too slow");
  }

  @Test
  void aListingOfMoreFilesThanTheBoundIsRefused() {
    var repo = repo();
    for (int i = 0; i < 10; i++) {
      repo.file("extra-" + i + ".json", "{}");
    }

    var e = prepareFails(models(hub.endpoint().toString(), List.of(), true, 0, 5), null);

    assertThat(e.type()).isEqualTo(FailureType.INVALID_SPEC);
    assertThat(e.getMessage()).contains("lists more than 5 files");
  }

  @Test
  void theProcessHfEndpointVariableIsTheDefaultBelowTheSetting() {
    var env = java.util.Map.of("HF_ENDPOINT", "https://mirror.example/hf");
    assertThat(GantryProperties.Models.defaultHfEndpoint(null, env))
        .isEqualTo("https://mirror.example/hf");
    assertThat(GantryProperties.Models.defaultHfEndpoint(" ", env))
        .isEqualTo("https://mirror.example/hf");
    assertThat(GantryProperties.Models.defaultHfEndpoint("https://set.example", env))
        .isEqualTo("https://set.example");
    assertThat(GantryProperties.Models.defaultHfEndpoint(null, java.util.Map.of()))
        .isEqualTo("https://huggingface.co");
    // Bound without the property, the settings take the variable (or the Hub) the same way.
    var bound =
        new org.springframework.boot.context.properties.bind.Binder(
                new org.springframework.boot.context.properties.source
                    .MapConfigurationPropertySource(java.util.Map.of("gantry.data-dir", "/tmp/x")))
            .bind("gantry", GantryProperties.class)
            .get();
    assertThat(bound.models().hfEndpoint())
        .isEqualTo(GantryProperties.Models.defaultHfEndpoint(null, System.getenv()));
    assertThat(bound.models().maxListingFiles()).isEqualTo(10_000);
  }

  @Test
  void internalAddressesAreRecognisedAndNamesAreCheckedAfterDns() throws Exception {
    for (String internal :
        List.of(
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1")) {
      assertThat(EndpointPolicy.internal(InetAddress.getByName(internal))).as(internal).isTrue();
    }
    for (String external : List.of("8.8.8.8", "1.1.1.1", "2606:4700:4700::1111")) {
      assertThat(EndpointPolicy.internal(InetAddress.getByName(external))).as(external).isFalse();
    }
    var policy =
        new EndpointPolicy(
            models("https://huggingface.co", List.of("https://mirror.example/hf/"), false, 0, 9),
            host ->
                new InetAddress[] {
                  InetAddress.getByName(host.equals("rebound.example") ? "10.0.0.7" : "8.8.8.8")
                });
    assertThat(policy.allowsTenantEndpoint("https://mirror.example/hf")).isTrue();
    assertThat(policy.allowsTenantEndpoint("HTTPS://Mirror.example:443/hf/")).isTrue();
    assertThat(policy.allowsTenantEndpoint("https://huggingface.co/")).isTrue();
    assertThat(policy.allowsTenantEndpoint("https://mirror.example/other")).isFalse();
    assertThat(policy.allowsTenantEndpoint("http://mirror.example/hf")).isFalse();
    assertThat(policy.allowsTenantEndpoint("http://169.254.169.254")).isFalse();
    assertThat(policy.allowsTenantEndpoint("https://user:pw@mirror.example/hf")).isFalse();
    assertThat(policy.allowsOllamaHost("registry.ollama.ai")).isTrue();
    assertThat(policy.allowsOllamaHost("mirror.example")).isFalse();
    policy.checkConnect(java.net.URI.create("https://cdn.example/x"), true);
    var refused =
        catchThrowableOfType(
            ModelException.class,
            () -> policy.checkConnect(java.net.URI.create("https://rebound.example/x"), true));
    assertThat(refused.type()).isEqualTo(FailureType.INVALID_SPEC);
  }
}
