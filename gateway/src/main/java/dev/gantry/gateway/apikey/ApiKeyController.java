package dev.gantry.gateway.apikey;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.gantry.gateway.auth.Caller;
import dev.gantry.gateway.error.ApiProblem;
import dev.gantry.gateway.error.FieldError;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeyRecord;
import dev.gantry.infra.auth.ApiKeyRepository;
import dev.gantry.infra.auth.ApiKeys;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.Parameter;
import io.swagger.v3.oas.annotations.media.ArraySchema;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * {@code /api/v1/api-keys}. Admin keys create keys for any tenant and see all keys; other keys see
 * and revoke only their own tenant's.
 */
@ConditionalOnGatewayRole
@RestController
@RequestMapping("/api/v1/api-keys")
@Tag(name = "API keys", description = "Keys of tenants; admin keys manage every tenant's")
public class ApiKeyController {
  private static final Pattern TENANT = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
  static final Set<String> FIELDS = Set.of("tenant", "name", "admin");

  private final ApiKeys apiKeys;
  private final ApiKeyRepository repository;
  private final ApiKeyCache keyCache;

  public ApiKeyController(ApiKeys apiKeys, ApiKeyRepository repository, ApiKeyCache keyCache) {
    this.apiKeys = apiKeys;
    this.repository = repository;
    this.keyCache = keyCache;
  }

  /** A key as listed: never the key itself. */
  @Schema(
      name = "ApiKey",
      description = "An API key as listed: never the key itself",
      requiredProperties = {"id", "prefix", "tenant", "name", "admin", "created_at"})
  public record KeyView(
      @Schema(example = "key_4n8r2t6w0y3b7d1f5h9k") String id,
      @Schema(description = "The key's first 11 characters", example = "gk_Vt4lX0c9") String prefix,
      String tenant,
      String name,
      boolean admin,
      @JsonProperty("created_at") @Schema(format = "date-time") String createdAt) {
    static KeyView of(ApiKeyRecord r) {
      return new KeyView(
          r.id(), r.prefix(), r.tenantId(), r.name(), r.admin(), r.createdAt().toString());
    }
  }

  /** A key as created: the only response that carries the key. */
  @Schema(
      name = "CreatedApiKey",
      description = "A new API key: the only answer that ever carries the key itself",
      requiredProperties = {"id", "key", "prefix", "tenant", "name", "admin", "created_at"})
  public record CreatedKey(
      @Schema(example = "key_4n8r2t6w0y3b7d1f5h9k") String id,
      @Schema(description = "The key: gk_ and 43 base64url characters; shown only here") String key,
      @Schema(description = "The key's first 11 characters", example = "gk_Vt4lX0c9") String prefix,
      String tenant,
      String name,
      boolean admin,
      @JsonProperty("created_at") @Schema(format = "date-time") String createdAt) {}

  /** The body of a create, as the OpenAPI document shows it; {@link #FIELDS} are its fields. */
  @Schema(name = "CreateApiKey", description = "A new key; unknown fields are refused")
  public record CreateRequest(
      @Schema(
              requiredMode = Schema.RequiredMode.REQUIRED,
              description =
                  "1-63 characters of [a-z0-9-], starting with a letter or digit; created when"
                      + " it does not exist yet",
              pattern = "[a-z0-9][a-z0-9-]{0,62}",
              example = "acme")
          String tenant,
      @Schema(
              requiredMode = Schema.RequiredMode.REQUIRED,
              description = "1-100 characters, no control characters",
              maxLength = 100,
              example = "ci")
          String name,
      @Schema(description = "Whether the key is an admin key", defaultValue = "false")
          Boolean admin) {}

  @PostMapping
  @Operation(
      summary = "Create an API key (admin only)",
      operationId = "createApiKey",
      requestBody =
          @io.swagger.v3.oas.annotations.parameters.RequestBody(
              required = true,
              content = @Content(schema = @Schema(implementation = CreateRequest.class))))
  @ApiResponse(responseCode = "201", description = "The new key, shown this once")
  @ApiResponse(
      responseCode = "400",
      description = "Invalid fields (all listed in errors), or a body that is not JSON")
  @ApiResponse(responseCode = "403", description = "The caller's key is not an admin key")
  Mono<ResponseEntity<CreatedKey>> create(
      @RequestBody Map<String, Object> body, ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    if (!caller.admin()) {
      return Mono.error(
          new ApiProblem(HttpStatus.FORBIDDEN, "Creating API keys needs an admin key."));
    }
    var errors = new ArrayList<FieldError>();
    body.keySet().stream()
        .filter(k -> !FIELDS.contains(k))
        .sorted()
        .forEach(k -> errors.add(new FieldError(k, "is not a known field")));
    Object tenant = body.get("tenant");
    Object name = body.get("name");
    Object admin = body.getOrDefault("admin", Boolean.FALSE);
    if (!(tenant instanceof String t) || !TENANT.matcher(t).matches()) {
      errors.add(new FieldError("tenant", "must be 1-63 lowercase letters, digits or '-'"));
    }
    if (!(name instanceof String n)
        || n.isBlank()
        || n.length() > 100
        || n.chars().anyMatch(Character::isISOControl)) {
      errors.add(new FieldError("name", "must be 1-100 characters"));
    }
    if (!(admin instanceof Boolean)) {
      errors.add(new FieldError("admin", "must be true or false"));
    }
    if (!errors.isEmpty()) {
      return Mono.error(ApiProblem.validation(errors));
    }
    // ApiKeys puts the new key into this instance's key cache; other replicas load it on refresh.
    return Mono.fromCallable(
            () -> apiKeys.issue((String) tenant, ((String) name).strip(), (Boolean) admin))
        .subscribeOn(Schedulers.boundedElastic())
        .map(
            issued -> {
              var r = issued.record();
              return ResponseEntity.status(HttpStatus.CREATED)
                  .body(
                      new CreatedKey(
                          r.id(),
                          issued.key(),
                          r.prefix(),
                          r.tenantId(),
                          r.name(),
                          r.admin(),
                          r.createdAt().toString()));
            });
  }

  @GetMapping
  @Operation(
      summary = "List active API keys",
      operationId = "listApiKeys",
      description =
          "Newest first: every tenant's for an admin key, the caller's tenant's for another key.")
  @ApiResponse(
      responseCode = "200",
      description = "The active keys, without the keys themselves",
      content = @Content(array = @ArraySchema(schema = @Schema(implementation = KeyView.class))))
  Mono<List<KeyView>> list(ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    return Mono.fromCallable(
            () ->
                repository.listActive(caller.admin() ? null : caller.tenantId()).stream()
                    .map(KeyView::of)
                    .toList())
        .subscribeOn(Schedulers.boundedElastic());
  }

  @DeleteMapping("/{id}")
  @Operation(
      summary = "Revoke an API key",
      operationId = "revokeApiKey",
      description =
          "An admin key may revoke any key, another key only its own tenant's (itself too).")
  @ApiResponse(responseCode = "204", description = "Revoked; no body")
  @ApiResponse(responseCode = "404", description = "Unknown or revoked key, or another tenant's")
  Mono<ResponseEntity<Void>> revoke(
      @Parameter(description = "The key's id (key_...)") @PathVariable String id,
      ServerWebExchange exchange) {
    var caller = Caller.of(exchange);
    return Mono.fromCallable(
            () -> {
              var key =
                  repository
                      .findActive(id)
                      .filter(k -> caller.admin() || k.tenantId().equals(caller.tenantId()));
              if (key.isEmpty()) {
                throw ApiProblem.notFound("API key " + id);
              }
              repository.revoke(id);
              // Refused on this instance from the response on; other replicas drop it on refresh.
              keyCache.remove(key.get().keyHash());
              return ResponseEntity.noContent().<Void>build();
            })
        .subscribeOn(Schedulers.boundedElastic());
  }
}
