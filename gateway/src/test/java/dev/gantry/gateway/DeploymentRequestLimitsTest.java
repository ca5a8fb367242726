package dev.gantry.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.infra.auth.ApiKeys;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.reactive.server.WebTestClient;

/** {@code max_tokens_limit} and {@code n_limit} on the deployment object. */
@SpringBootTest(
    classes = GatewayTestApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class DeploymentRequestLimitsTest {
  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    TestData.embedded(registry, "reqlimits");
    registry.add("gantry.limits.default-max-tokens-limit", () -> "2048");
    registry.add("gantry.limits.max-max-tokens-limit", () -> "32768");
    registry.add("gantry.limits.default-n-limit", () -> "2");
    registry.add("gantry.limits.max-n-limit", () -> "16");
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  WebTestClient http;
  String acme;

  @BeforeEach
  void setUp() {
    http = WebTestClient.bindToServer().baseUrl("http://localhost:" + port).build();
    acme = apiKeys.issue("acme", "acme", false).key();
  }

  WebTestClient.ResponseSpec create(Map<String, Object> extra) {
    var body =
        new HashMap<String, Object>(Map.of("name", "chat", "model", "tiny", "framework", "sim"));
    body.putAll(extra);
    return http.post()
        .uri("/api/v1/deployments")
        .header("Authorization", "Bearer " + acme)
        .contentType(MediaType.APPLICATION_JSON)
        .bodyValue(body)
        .exchange();
  }

  @Test
  void aDeploymentShowsThePlatformDefaultsUnlessItSetsItsOwn() {
    create(Map.of())
        .expectStatus()
        .isCreated()
        .expectBody()
        .jsonPath("$.max_tokens_limit")
        .isEqualTo(2048)
        .jsonPath("$.n_limit")
        .isEqualTo(2);

    var id =
        create(Map.of("max_tokens_limit", 32768, "n_limit", 16))
            .expectStatus()
            .isCreated()
            .expectBody(Map.class)
            .returnResult()
            .getResponseBody()
            .get("id");
    http.get()
        .uri("/api/v1/deployments/" + id)
        .header("Authorization", "Bearer " + acme)
        .exchange()
        .expectBody()
        .jsonPath("$.max_tokens_limit")
        .isEqualTo(32768)
        .jsonPath("$.n_limit")
        .isEqualTo(16);
  }

  @Test
  void limitsOutOfRangeAreRefused() {
    for (var bad :
        new Object[][] {
          {"max_tokens_limit", 0},
          {"max_tokens_limit", 32769},
          {"max_tokens_limit", "lots"},
          {"n_limit", 0},
          {"n_limit", 17}
        }) {
      var problem =
          create(Map.of((String) bad[0], bad[1]))
              .expectStatus()
              .isBadRequest()
              .expectBody(Map.class)
              .returnResult()
              .getResponseBody();
      assertThat(problem.get("errors").toString()).as(bad[0] + "=" + bad[1]).contains(bad[0] + "");
    }
  }
}
