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
public class ApiKeyController {
  private static final Pattern TENANT = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
  private static final Set<String> FIELDS = Set.of("tenant", "name", "admin");

  private final ApiKeys apiKeys;
  private final ApiKeyRepository repository;
  private final ApiKeyCache keyCache;

  public ApiKeyController(ApiKeys apiKeys, ApiKeyRepository repository, ApiKeyCache keyCache) {
    this.apiKeys = apiKeys;
    this.repository = repository;
    this.keyCache = keyCache;
  }

  /** A key as listed: never the key itself. */
  public record KeyView(
      String id,
      String prefix,
      String tenant,
      String name,
      boolean admin,
      @JsonProperty("created_at") String createdAt) {
    static KeyView of(ApiKeyRecord r) {
      return new KeyView(
          r.id(), r.prefix(), r.tenantId(), r.name(), r.admin(), r.createdAt().toString());
    }
  }

  /** A key as created: the only response that carries the key. */
  public record CreatedKey(
      String id,
      String key,
      String prefix,
      String tenant,
      String name,
      boolean admin,
      @JsonProperty("created_at") String createdAt) {}

  @PostMapping
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
  Mono<ResponseEntity<Void>> revoke(@PathVariable String id, ServerWebExchange exchange) {
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
