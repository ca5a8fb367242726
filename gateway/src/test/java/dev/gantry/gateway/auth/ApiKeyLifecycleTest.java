package dev.gantry.gateway.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.gateway.TestData;
import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.auth.BootstrapKey;
import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * Keys issued and revoked through this process take effect at once, although the snapshot is
 * reloaded only every hour here: nothing in this test may wait for a refresh.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class ApiKeyLifecycleTest {
  static final String BOOTSTRAP_KEY = ApiKeys.newKey();

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    TestData.embedded(registry, "auth");
    registry.add("gantry.auth.key-refresh", () -> "1h");
    registry.add("GANTRY_API_KEY", () -> BOOTSTRAP_KEY);
  }

  @LocalServerPort int port;
  @Autowired BootstrapKey bootstrapKey;
  @Autowired ApiKeyCache keyCache;

  WebTestClient http;

  @BeforeEach
  void setUp() {
    http = WebTestClient.bindToServer().baseUrl("http://localhost:" + port).build();
    bootstrapKey.ensure();
  }

  HttpStatus management(String key) {
    return HttpStatus.valueOf(
        http.get()
            .uri("/api/v1/deployments")
            .header("Authorization", "Bearer " + key)
            .exchange()
            .returnResult(String.class)
            .getStatus()
            .value());
  }

  HttpStatus inference(String key) {
    return HttpStatus.valueOf(
        http.get()
            .uri("/openai/dep_doesnotexist00/v1/models")
            .header("Authorization", "Bearer " + key)
            .exchange()
            .returnResult(String.class)
            .getStatus()
            .value());
  }

  @Test
  void theBootstrapKeyWorksWithoutARefresh() {
    assertThat(management(BOOTSTRAP_KEY)).isEqualTo(HttpStatus.OK);
  }

  @Test
  void aKeyIssuedHereWorksAtOnceAndARevokedOneIsRefusedAtOnce() {
    var created =
        http.post()
            .uri("/api/v1/api-keys")
            .header("Authorization", "Bearer " + BOOTSTRAP_KEY)
            .contentType(MediaType.APPLICATION_JSON)
            .bodyValue(Map.of("tenant", "acme", "name", "ci"))
            .exchange()
            .expectStatus()
            .isCreated()
            .expectBody(Map.class)
            .returnResult()
            .getResponseBody();
    String key = (String) created.get("key");
    assertThat(management(key)).isEqualTo(HttpStatus.OK);
    assertThat(inference(key)).isNotEqualTo(HttpStatus.UNAUTHORIZED);

    http.delete()
        .uri("/api/v1/api-keys/" + created.get("id"))
        .header("Authorization", "Bearer " + BOOTSTRAP_KEY)
        .exchange()
        .expectStatus()
        .isNoContent();
    assertThat(management(key)).isEqualTo(HttpStatus.UNAUTHORIZED);
    assertThat(inference(key)).isEqualTo(HttpStatus.UNAUTHORIZED);
    assertThat(keyCache.failedRefreshes()).isZero();
  }
}
