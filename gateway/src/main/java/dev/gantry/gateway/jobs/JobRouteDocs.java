package dev.gantry.gateway.jobs;

import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.Operation;
import io.swagger.v3.oas.models.PathItem;
import java.util.Locale;
import java.util.TreeSet;
import org.springdoc.core.customizers.OpenApiCustomizer;
import org.springframework.stereotype.Component;

/**
 * The async submit is one controller method on {@code /deployment/{deploymentId}/**}, but only the
 * routes of {@link JobRoutes} are accepted after the deployment id. The OpenAPI document lists one
 * submit operation per allowed route instead of the wildcard, so clients and Swagger UI call real
 * paths.
 */
@ConditionalOnGatewayRole
@Component
public class JobRouteDocs implements OpenApiCustomizer {
  static final String WILDCARD = "/deployment/{deploymentId}/**";

  @Override
  public void customise(OpenAPI openApi) {
    if (openApi.getPaths() == null) {
      return;
    }
    PathItem wildcard = openApi.getPaths().remove(WILDCARD);
    if (wildcard == null || wildcard.getPost() == null) {
      return;
    }
    Operation submit = wildcard.getPost();
    for (String route : new TreeSet<>(JobRoutes.ALLOWED)) {
      var operation =
          new Operation()
              .tags(submit.getTags())
              .summary(submit.getSummary() + ": " + route)
              .description(submit.getDescription())
              .operationId(submit.getOperationId() + camel(route))
              .parameters(submit.getParameters())
              .requestBody(submit.getRequestBody())
              .responses(submit.getResponses())
              .security(submit.getSecurity());
      openApi
          .getPaths()
          .addPathItem(
              WILDCARD.substring(0, WILDCARD.length() - 2) + route, new PathItem().post(operation));
    }
  }

  /** {@code v1/chat/completions} as {@code ChatCompletions}. */
  static String camel(String route) {
    var out = new StringBuilder();
    for (String segment : route.split("[/_-]")) {
      if (!segment.isEmpty() && !segment.matches("v\\d+")) {
        out.append(segment.substring(0, 1).toUpperCase(Locale.ROOT)).append(segment.substring(1));
      }
    }
    return out.toString();
  }
}
