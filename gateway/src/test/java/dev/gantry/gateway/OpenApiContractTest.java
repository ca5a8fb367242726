package dev.gantry.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.job.JobStatus;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.gateway.jobs.JobController;
import dev.gantry.gateway.jobs.JobRouteDocs;
import dev.gantry.gateway.jobs.JobService;
import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeys;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Import;
import org.springframework.core.annotation.AnnotatedElementUtils;
import org.springframework.http.MediaType;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.context.bean.override.mockito.MockitoBean;
import org.springframework.test.web.reactive.server.WebTestClient;
import org.springframework.web.bind.annotation.RequestMethod;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.result.method.annotation.RequestMappingHandlerMapping;

/**
 * The OpenAPI document at {@code /v3/api-docs} covers every route the gateway's controllers
 * register, with a summary and documented answers, its schemas come from the code (enums, required
 * fields), and it is public without making anything else public.
 */
@SpringBootTest(
    classes = GatewayTestApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
// The async job API too (the test application leaves it out), its service a mock: the document
// must cover every controller.
@Import({JobController.class, JobRouteDocs.class})
class OpenApiContractTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @MockitoBean JobService jobService;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    TestData.embedded(registry, "openapi");
    // Most requests of the path test fail to authenticate on purpose, all from one address.
    registry.add("gantry.auth.failed-attempts-burst", () -> "100000");
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  @Autowired ApiKeyCache keyCache;
  @Autowired ApplicationContext context;

  @Autowired
  @Qualifier("requestMappingHandlerMapping")
  RequestMappingHandlerMapping handlerMapping;

  WebTestClient http;

  @BeforeEach
  void setUp() {
    http = WebTestClient.bindToServer().baseUrl("http://localhost:" + port).build();
  }

  JsonNode document() throws IOException {
    var body =
        http.get()
            .uri("/v3/api-docs")
            .exchange()
            .expectStatus()
            .isOk()
            .expectBody(String.class)
            .returnResult()
            .getResponseBody();
    return JSON.readTree(body);
  }

  /** Every handler method of every controller, as "METHOD path" in the document's spelling. */
  List<String> registeredRoutes() {
    var routes = new ArrayList<String>();
    handlerMapping
        .getHandlerMethods()
        .forEach(
            (info, handler) -> {
              if (handler.getBeanType().getName().startsWith("org.springdoc.")) {
                return; // the document's own routes
              }
              String where = handler.getBeanType().getSimpleName() + "#" + handler.getMethod();
              Set<RequestMethod> methods = info.getMethodsCondition().getMethods();
              assertThat(methods).as(where + " names its HTTP methods").isNotEmpty();
              // Documented by hand, not only by what springdoc infers (a bare "200 OK").
              assertThat(
                      AnnotatedElementUtils.findMergedRepeatableAnnotations(
                          handler.getMethod(), ApiResponse.class))
                  .as(where + " has @ApiResponse annotations")
                  .isNotEmpty();
              for (var pattern : info.getPatternsCondition().getPatterns()) {
                for (var method : methods) {
                  routes.add(method.name() + " " + documentedPath(pattern.getPatternString()));
                }
              }
            });
    return routes;
  }

  /** Path variables as OpenAPI writes them: no regex, no capture-the-rest star. */
  static String documentedPath(String pattern) {
    return pattern.replaceAll("\\{\\*?([^}:]+)(:[^}]*)?}", "{$1}");
  }

  @Test
  void everyRegisteredRouteIsDocumentedWithASummaryAndItsAnswers() throws IOException {
    var paths = document().path("paths");
    var routes = registeredRoutes();
    // Not vacuous: the management API, the API keys and the async job API are all checked.
    assertThat(routes)
        .contains(
            "POST /api/v1/deployments",
            "GET /api/v1/deployments/{id}/workers",
            "DELETE /api/v1/api-keys/{id}",
            "POST /deployment/{deploymentId}/**",
            "GET /deployment/{deploymentId}/{requestId}");
    var documented = new TreeSet<String>();
    var incomplete = new ArrayList<String>();
    for (var path : iterable(paths.fieldNames())) {
      for (var method : iterable(paths.path(path).fieldNames())) {
        var operation = paths.path(path).path(method);
        if (!operation.has("responses")) {
          continue; // path-level fields such as parameters
        }
        String route = method.toUpperCase(Locale.ROOT) + " " + path;
        documented.add(route);
        if (operation.path("summary").asText().isBlank()) {
          incomplete.add(route + ": no summary");
        }
        // Named for the clients generated from the document, not numbered by springdoc.
        if (!operation.path("operationId").asText().matches("[a-z][A-Za-z]*")) {
          incomplete.add(route + ": operationId " + operation.path("operationId") + " not named");
        }
        if (operation.path("responses").isEmpty()) {
          incomplete.add(route + ": no documented response");
        }
        for (var code : iterable(operation.path("responses").fieldNames())) {
          if (operation.path("responses").path(code).path("description").asText().isBlank()) {
            incomplete.add(route + ": response " + code + " has no description");
          }
        }
      }
    }
    assertThat(incomplete).as("operations without documentation").isEmpty();
    var covered = documented.stream().map(d -> servedBy(d, routes)).collect(Collectors.toSet());
    var undocumented = routes.stream().filter(r -> !covered.contains(r)).sorted().toList();
    assertThat(undocumented).as("routes missing from /v3/api-docs").isEmpty();
    // Nothing documented that no controller serves.
    assertThat(covered).containsExactlyInAnyOrderElementsOf(new TreeSet<>(routes));
  }

  /**
   * The registered route that serves a documented one: itself, or a {@code /**} route it lies under
   * (the document may list the paths such a route accepts instead of the wildcard).
   */
  static String servedBy(String documented, List<String> registered) {
    if (registered.contains(documented)) {
      return documented;
    }
    for (String route : registered) {
      if (route.endsWith("/**")
          && documented.startsWith(route.substring(0, route.length() - 2))
          && !documented.substring(route.length() - 2).isEmpty()) {
        return route;
      }
    }
    return documented;
  }

  @Test
  void noRouterFunctionRoutesEscapeTheCheck() {
    // Functional routes are not in the handler mapping above: one added must be checked too.
    var functional =
        context.getBeansOfType(RouterFunction.class).entrySet().stream()
            .filter(e -> !e.getValue().getClass().getName().startsWith("org.springdoc."))
            .map(Map.Entry::getKey)
            .toList();
    assertThat(functional).as("RouterFunction beans; extend this test to cover them").isEmpty();
  }

  @Test
  void schemasAreGeneratedFromTheCode() throws IOException {
    var doc = document();
    var schemas = doc.path("components").path("schemas");

    var create = schemas.path("CreateDeployment");
    assertThat(names(create.path("required")))
        .containsExactlyInAnyOrder("name", "model", "framework");
    assertThat(enumOf(doc, create.path("properties").path("framework")))
        .containsExactlyInAnyOrderElementsOf(wireNames(Framework.values(), Framework::wireName));
    assertThat(create.path("properties").path("gpu").path("$ref").asText())
        .isEqualTo("#/components/schemas/GpuRequest");
    assertThat(
            doc.at("/paths/~1api~1v1~1deployments/post/requestBody/content")
                .findValue("$ref")
                .asText())
        .isEqualTo("#/components/schemas/CreateDeployment");

    var deployment = schemas.path("Deployment");
    assertThat(enumOf(doc, deployment.path("properties").path("status")))
        .containsExactlyInAnyOrderElementsOf(
            wireNames(DeploymentStatus.values(), DeploymentStatus::wireName));
    assertThat(enumOf(doc, deployment.path("properties").path("framework")))
        .containsExactlyInAnyOrderElementsOf(wireNames(Framework.values(), Framework::wireName));
    assertThat(names(deployment.path("required")))
        .contains("id", "status", "status_reason", "openai_base_url")
        .doesNotContain("download");
    assertThat(enumOf(doc, schemas.path("Worker").path("properties").path("status")))
        .containsExactlyInAnyOrderElementsOf(
            wireNames(WorkerStatus.values(), WorkerStatus::wireName));
    assertThat(enumOf(doc, schemas.path("Job").path("properties").path("status")))
        .containsExactlyInAnyOrderElementsOf(wireNames(JobStatus.values(), JobStatus::wireName));
    assertThat(names(schemas.path("Problem").path("required")))
        .contains("type", "title", "status", "detail");
  }

  @Test
  void errorsHaveTheirRouteFamilysShapeAndKeysAreDocumented() throws IOException {
    var doc = document();
    var scheme = doc.at("/components/securitySchemes/bearer");
    assertThat(scheme.path("type").asText()).isEqualTo("http");
    assertThat(scheme.path("scheme").asText()).isEqualTo("bearer");
    assertThat(doc.at("/security/0").has("bearer")).isTrue();
    assertThat(doc.at("/info/title").asText()).isNotBlank();
    assertThat(doc.at("/info/version").asText()).isNotBlank();
    assertThat(doc.at("/info/description").asText()).contains("/openai/", "docs/api.md");

    var get = doc.at("/paths/~1api~1v1~1deployments~1{id}/get");
    assertThat(get.has("security")).as("protected routes keep the global key").isFalse();
    assertThat(get.at("/responses/404/content/application~1problem+json/schema/$ref").asText())
        .isEqualTo("#/components/schemas/Problem");
    assertThat(get.at("/responses/401/content/application~1problem+json/schema/$ref").asText())
        .isEqualTo("#/components/schemas/Problem");
    assertThat(get.at("/responses/200/content/application~1json/schema/$ref").asText())
        .isEqualTo("#/components/schemas/Deployment");

    var poll = doc.at("/paths/~1deployment~1{deploymentId}~1{requestId}/get");
    assertThat(poll.at("/responses/404/content/application~1json/schema/$ref").asText())
        .isEqualTo("#/components/schemas/OpenAiError");
    assertThat(poll.at("/responses/401/content/application~1json/schema/$ref").asText())
        .isEqualTo("#/components/schemas/OpenAiError");
    assertThat(poll.at("/responses/410/content/application~1json/schema/$ref").asText())
        .isEqualTo("#/components/schemas/EndedJob");
    // The async submit is listed once per route it accepts, not as its wildcard.
    assertThat(doc.path("paths").has("/deployment/{deploymentId}/**")).isFalse();
    for (String route :
        List.of(
            "v1/chat/completions",
            "v1/completions",
            "v1/embeddings",
            "v1/responses",
            "v1/rerank",
            "v1/score")) {
      var submit = doc.path("paths").path("/deployment/{deploymentId}/" + route).path("post");
      assertThat(submit.path("requestBody").findValue("$ref").asText())
          .as(route)
          .isEqualTo("#/components/schemas/JobSubmit");
      assertThat(names(submit.path("parameters").findValues("name").stream()))
          .as(route)
          .contains("deploymentId", "Idempotency-Key");
      assertThat(submit.at("/responses/401/content/application~1json/schema/$ref").asText())
          .as(route)
          .isEqualTo("#/components/schemas/OpenAiError");
    }
  }

  @Test
  void theContractAndItsUiNeedNoKey() {
    http.get()
        .uri("/v3/api-docs")
        .exchange()
        .expectStatus()
        .isOk()
        .expectHeader()
        .contentTypeCompatibleWith(MediaType.APPLICATION_JSON);
    http.get().uri("/v3/api-docs/swagger-config").exchange().expectStatus().isOk();
    var redirect =
        http.get()
            .uri("/swagger-ui.html")
            .exchange()
            .expectStatus()
            .is3xxRedirection()
            .returnResult(Void.class)
            .getResponseHeaders()
            .getLocation();
    assertThat(redirect).isNotNull();
    var page =
        http.get()
            .uri(redirect.toString())
            .exchange()
            .expectStatus()
            .isOk()
            .expectBody(String.class)
            .returnResult()
            .getResponseBody();
    assertThat(page).contains("swagger-ui");
  }

  /** Paths that spell a protected route through, or next to, the public documentation. */
  static Stream<String> pathsThroughTheDocs() {
    return Stream.of(
        "/v3/api-docs/../api/v1/deployments",
        "/v3/api-docs/../api/v1/api-keys",
        "/v3/api-docs/../../api/v1/deployments",
        "/v3/api-docs/%2e%2e/api/v1/deployments",
        "/v3/api-docs/%2E%2E/api/v1/api-keys",
        "/v3/api-docs/..%2fapi%2fv1%2fdeployments",
        "/v3/api-docs/..;/api/v1/deployments",
        "/v3/api-docs;x=y/../api/v1/deployments",
        "/v3/api-docs/%2e%2e%2fapi/v1/api-keys",
        "/v3/api-docs/./../api/v1/deployments",
        "/v3/api-docs//../api/v1/deployments",
        "/v3/api-docs\\..\\api\\v1\\deployments",
        "/swagger-ui.html/../api/v1/deployments",
        "/swagger-ui/../api/v1/api-keys",
        "/webjars/swagger-ui/../../api/v1/deployments",
        "/webjars/swagger-ui/%2e%2e/%2e%2e/api/v1/api-keys",
        "/webjars/..%2fapi/v1/deployments",
        "/v3/api-docs/../deployment/dep_x/req_x",
        "/v3/api-docs/../openai/dep_x/v1/models",
        // Protected routes that merely mention the public ones.
        "/api/v1/api-keys;/v3/api-docs",
        "/api/v1/deployments;swagger-ui.html",
        "/api/v1/api-keys?/v3/api-docs",
        "/api/v1/api-keys/%2e%2e/%2e%2e/v3/api-docs",
        "/api/v1/deployments/..;/..;/swagger-ui.html",
        "/v3/api-docs/../api/v1/api-keys?/v3/api-docs");
  }

  @ParameterizedTest
  @MethodSource("pathsThroughTheDocs")
  void pathsThroughTheDocsStillNeedAKey(String path) throws IOException {
    var key = apiKeys.issue("acme", "openapi-" + System.nanoTime(), true);
    keyCache.refresh();
    // Control: the protected data is there, and a plain request without a key is refused.
    assertThat(raw("GET", "/api/v1/api-keys", key.key())).contains(key.record().id());
    assertThat(raw("GET", "/api/v1/api-keys", null)).startsWith("HTTP/1.1 401");

    for (String method : new String[] {"GET", "POST", "DELETE"}) {
      String response = raw(method, path, null);
      int status = Integer.parseInt(response.substring(9, 12));
      assertThat(status).as(method + " " + path).isIn(400, 401, 404, 405);
      assertThat(response).as(method + " " + path).doesNotContain(key.record().id());
    }
  }

  /** One request sent exactly as written, on a fresh connection; the whole response. */
  String raw(String method, String path, String bearer) throws IOException {
    return PathAuthTest.raw(port, method, path, bearer);
  }

  /** The enum values of a property, following a reference to a component schema. */
  static List<String> enumOf(JsonNode doc, JsonNode property) {
    var node = property;
    if (node.has("$ref")) {
      node = doc.at("/components/schemas/" + node.path("$ref").asText().replaceAll(".*/", ""));
    }
    if (!node.has("enum") && node.has("allOf")) {
      return enumOf(doc, node.path("allOf").path(0));
    }
    return names(node.path("enum"));
  }

  static List<String> names(JsonNode array) {
    var out = new ArrayList<String>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }

  static List<String> names(Stream<JsonNode> nodes) {
    return nodes.map(JsonNode::asText).toList();
  }

  static <E> List<String> wireNames(E[] values, Function<E, String> wire) {
    return Arrays.stream(values).map(wire).collect(Collectors.toList());
  }

  static <T> Iterable<T> iterable(Iterator<T> iterator) {
    return () -> iterator;
  }
}
