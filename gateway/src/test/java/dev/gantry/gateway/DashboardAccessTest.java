package dev.gantry.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeys;
import java.io.IOException;
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
 * The dashboard is static and public: its page and assets load without an API key, under a strict
 * Content-Security-Policy, while every API route it calls still needs a key.
 */
@SpringBootTest(
    classes = GatewayTestApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class DashboardAccessTest {
  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    TestData.embedded(registry, "dashboard");
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  @Autowired ApiKeyCache keyCache;

  private WebTestClient client() {
    return WebTestClient.bindToServer().baseUrl("http://127.0.0.1:" + port).build();
  }

  @Test
  void thePageAndItsAssetsNeedNoKeyAndCarryAStrictPolicy() {
    for (String path : new String[] {"/", "/index.html"}) {
      var page =
          client()
              .get()
              .uri(path)
              .exchange()
              .expectStatus()
              .isOk()
              .expectHeader()
              .contentTypeCompatibleWith(MediaType.TEXT_HTML)
              .expectBody(String.class)
              .returnResult();
      assertThat(page.getResponseBody()).contains("<title>Gantry</title>", "/ui/app.js");
      // No inline script or handler: the policy below would block them.
      assertThat(page.getResponseBody()).doesNotContainPattern("<script>|\\son[a-z]+=");
      assertThat(page.getResponseHeaders().getFirst("Content-Security-Policy"))
          .contains("script-src 'self'", "frame-ancestors 'none'")
          .doesNotContain("unsafe-inline", "unsafe-eval");
    }
    var script =
        client()
            .get()
            .uri("/ui/app.js")
            .exchange()
            .expectStatus()
            .isOk()
            .expectHeader()
            .valueEquals("X-Content-Type-Options", "nosniff")
            .expectBody(String.class)
            .returnResult()
            .getResponseBody();
    // The key is kept for the tab only, and API data is never parsed as HTML.
    assertThat(script).contains("sessionStorage").doesNotContain("localStorage", "innerHTML");
    client().get().uri("/ui/app.css").exchange().expectStatus().isOk();
  }

  @Test
  void theApiBehindTheDashboardStillNeedsAKey() {
    for (String path :
        new String[] {
          "/api/v1/deployments", "/api/v1/api-keys", "/api/v1/deployments/dep_x/usage"
        }) {
      client()
          .get()
          .uri(path)
          .exchange()
          .expectStatus()
          .isEqualTo(HttpStatus.UNAUTHORIZED)
          .expectHeader()
          .valueEquals("WWW-Authenticate", "Bearer");
    }
    // Static-looking paths below /api are not served as files either.
    client().get().uri("/api/v1/ui/app.js").exchange().expectStatus().isUnauthorized();

    String key = apiKeys.issue("acme", "acme", false).key();
    keyCache.refresh();
    client()
        .get()
        .uri("/api/v1/deployments")
        .header("Authorization", "Bearer " + key)
        .exchange()
        .expectStatus()
        .isOk();
  }
}
