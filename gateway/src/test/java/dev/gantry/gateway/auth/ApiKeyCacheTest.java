package dev.gantry.gateway.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeyRecord;
import dev.gantry.infra.auth.ApiKeyRepository;
import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.db.EmbeddedDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.jdbc.datasource.DelegatingDataSource;
import org.springframework.jdbc.datasource.SimpleDriverDataSource;
import org.springframework.test.web.reactive.server.WebTestClient;

/**
 * The key snapshot behind {@link ApiKeyAuthFilter}, on H2 through a data source that counts
 * connections and can be switched off, so the tests see exactly when the database is touched.
 */
@Timeout(60)
class ApiKeyCacheTest {
  static final Duration WAIT = Duration.ofSeconds(10);

  /** Counts every connection taken, and refuses them while the database is "down". */
  static final class CountingDataSource extends DelegatingDataSource {
    final AtomicInteger connections = new AtomicInteger();
    final AtomicBoolean down = new AtomicBoolean();

    CountingDataSource(DataSource target) {
      super(target);
    }

    @Override
    public Connection getConnection() throws SQLException {
      connections.incrementAndGet();
      if (down.get()) {
        throw new SQLException("connection refused (test)", "08001");
      }
      return super.getConnection();
    }
  }

  CountingDataSource dataSource;
  ApiKeyRepository repository;
  ApiKeys apiKeys;
  final List<ApiKeyCache> caches = new ArrayList<>();
  final Set<String> handlerThreads = ConcurrentHashMap.newKeySet();

  @BeforeEach
  void setUp() {
    var h2 =
        new SimpleDriverDataSource(
            new org.h2.Driver(),
            "jdbc:h2:mem:keycache;DB_CLOSE_DELAY=-1" + EmbeddedDatabase.POSTGRES_COMPATIBILITY,
            "sa",
            "");
    Flyway.configure().dataSource(h2).cleanDisabled(false).load().clean();
    Flyway.configure().dataSource(h2).load().migrate();
    dataSource = new CountingDataSource(h2);
    repository = new ApiKeyRepository(JdbcClient.create(dataSource), Clock.systemUTC());
    apiKeys = new ApiKeys(repository, Clock.systemUTC());
  }

  @AfterEach
  void stopCaches() {
    caches.forEach(ApiKeyCache::stop);
  }

  ApiKeyCache cache(Duration refresh) {
    var cache = new ApiKeyCache(repository, refresh);
    caches.add(cache);
    return cache;
  }

  /** The filter in front of a handler that answers 200 and notes the thread it ran on. */
  WebTestClient client(ApiKeyCache cache) {
    return WebTestClient.bindToWebHandler(
            exchange -> {
              handlerThreads.add(Thread.currentThread().getName());
              exchange.getResponse().setStatusCode(HttpStatus.OK);
              return exchange.getResponse().setComplete();
            })
        .webFilter(
            new ApiKeyAuthFilter(
                cache, new FailedAuthLimiter(Integer.MAX_VALUE, 60, 10, System::nanoTime)))
        .build();
  }

  static HttpStatus status(WebTestClient http, String key) {
    var result =
        http.post()
            .uri("/openai/dep_aaaaaaaa/v1/chat/completions")
            .header(HttpHeaders.AUTHORIZATION, "Bearer " + key)
            .exchange()
            .returnResult(String.class);
    return HttpStatus.valueOf(result.getStatus().value());
  }

  @Test
  void authenticatedRequestsTouchNoDatabase() {
    String key = apiKeys.issue("acme", "ci", false).key();
    var cache = cache(Duration.ofHours(1));
    cache.start();
    var http = client(cache);
    status(http, key);
    int before = dataSource.connections.get();

    for (int i = 0; i < 200; i++) {
      assertThat(status(http, key)).isEqualTo(HttpStatus.OK);
      assertThat(status(http, ApiKeys.newKey())).isEqualTo(HttpStatus.UNAUTHORIZED);
    }
    assertThat(dataSource.connections.get()).isEqualTo(before);
    assertThat(handlerThreads).isNotEmpty().noneMatch(name -> name.contains("boundedElastic"));
  }

  @Test
  void everyRefusalIsTheSame401() {
    var cache = cache(Duration.ofHours(1));
    var revoked = apiKeys.issue("acme", "old", false);
    cache.start();
    repository.revoke(revoked.record().id());
    cache.remove(revoked.record().keyHash());
    var http = client(cache);

    var bodies = new HashSet<String>();
    for (Supplier<WebTestClient.RequestHeadersSpec<?>> request :
        List.<Supplier<WebTestClient.RequestHeadersSpec<?>>>of(
            () -> http.get().uri("/openai/dep_x/v1/models"),
            () -> http.get().uri("/openai/dep_x/v1/models").header("Authorization", "Bearer"),
            () -> http.get().uri("/openai/dep_x/v1/models").header("Authorization", "Bearer x"),
            () ->
                http.get()
                    .uri("/openai/dep_x/v1/models")
                    .header("Authorization", "Bearer " + ApiKeys.newKey()),
            () ->
                http.get()
                    .uri("/openai/dep_x/v1/models")
                    .header("Authorization", "Bearer " + revoked.key()))) {
      bodies.add(
          request
              .get()
              .exchange()
              .expectStatus()
              .isUnauthorized()
              .expectHeader()
              .valueEquals(HttpHeaders.WWW_AUTHENTICATE, "Bearer")
              .expectBody(String.class)
              .returnResult()
              .getResponseBody());
    }
    assertThat(bodies)
        .containsExactly(
            "{\"error\":{\"message\":\"Invalid API key\",\"type\":\"authentication_error\","
                + "\"code\":401}}");
  }

  @Test
  void keysIssuedAndRevokedByAnotherReplicaArriveWithinTheRefreshInterval() {
    var cache = cache(Duration.ofMillis(50));
    cache.start();
    var http = client(cache);
    // Another replica writes to the same database; this process hears nothing of it.
    var otherReplica = new ApiKeys(repository, Clock.systemUTC());
    var issued = otherReplica.issue("acme", "elsewhere", false);

    await().atMost(WAIT).until(() -> status(http, issued.key()) == HttpStatus.OK);
    repository.revoke(issued.record().id());
    await().atMost(WAIT).until(() -> status(http, issued.key()) == HttpStatus.UNAUTHORIZED);
  }

  @Test
  void keysIssuedOrRevokedHereApplyAtOnce() {
    var cache = cache(Duration.ofHours(1));
    cache.start();
    apiKeys.onStored(cache::put);
    var http = client(cache);
    var issued = apiKeys.issue("acme", "here", false);
    assertThat(status(http, issued.key())).isEqualTo(HttpStatus.OK);

    repository.revoke(issued.record().id());
    cache.remove(issued.record().keyHash());
    assertThat(status(http, issued.key())).isEqualTo(HttpStatus.UNAUTHORIZED);
  }

  @Test
  void theLastSnapshotKeepsServingWhileTheDatabaseIsDown() {
    String key = apiKeys.issue("acme", "ci", false).key();
    var cache = cache(Duration.ofMillis(20));
    cache.start();
    var http = client(cache);
    assertThat(status(http, key)).isEqualTo(HttpStatus.OK);

    dataSource.down.set(true);
    long failures = cache.failedRefreshes();
    await().atMost(WAIT).until(() -> cache.failedRefreshes() >= failures + 3);
    assertThat(cache.refresh()).isFalse();
    assertThat(status(http, key)).isEqualTo(HttpStatus.OK);
    assertThat(status(http, ApiKeys.newKey())).isEqualTo(HttpStatus.UNAUTHORIZED);

    dataSource.down.set(false);
    String later = apiKeys.issue("acme", "later", false).key();
    await().atMost(WAIT).until(() -> status(http, later) == HttpStatus.OK);
    assertThat(status(http, key)).isEqualTo(HttpStatus.OK);
  }

  @Test
  void aRevokeDuringARefreshIsNotUndoneByTheRefreshResult() throws Exception {
    var issued = apiKeys.issue("acme", "ci", false);
    var queried = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    // A refresh whose query has read the key as active, and is slow to come back.
    var slowRepository =
        new ApiKeyRepository(JdbcClient.create(dataSource), Clock.systemUTC()) {
          @Override
          public List<ApiKeyRecord> listAllActive() {
            var rows = super.listAllActive();
            queried.countDown();
            try {
              release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            return rows;
          }
        };
    var cache = new ApiKeyCache(slowRepository, Duration.ofHours(1));
    cache.put(issued.record());
    var http = client(cache);
    assertThat(status(http, issued.key())).isEqualTo(HttpStatus.OK);

    var refresh = CompletableFuture.supplyAsync(cache::refresh);
    assertThat(queried.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    repository.revoke(issued.record().id());
    cache.remove(issued.record().keyHash());
    release.countDown();

    assertThat(refresh.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    assertThat(status(http, issued.key())).isEqualTo(HttpStatus.UNAUTHORIZED);
  }
}
