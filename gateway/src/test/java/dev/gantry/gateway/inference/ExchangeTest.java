package dev.gantry.gateway.inference;

import static dev.gantry.gateway.inference.DeploymentRouteTest.deployment;
import static dev.gantry.gateway.inference.DeploymentRouteTest.healthy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import dev.gantry.gateway.auth.AuthProperties;
import dev.gantry.gateway.auth.FailedAuthLimiter;
import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeyRecord;
import dev.gantry.infra.auth.ApiKeyRepository;
import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.RoutableWorker;
import dev.gantry.infra.usage.UsageRecord;
import dev.gantry.infra.usage.UsageRecorder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import reactor.test.scheduler.VirtualTimeScheduler;

/**
 * The request state machine ({@link Exchange}) driven message by message with Netty's {@link
 * EmbeddedChannel}: the client's connection is one, each worker connection another, and time (the
 * timers' clock and the event loop's scheduled tasks) moves only when a test says so. Every test
 * ends by checking that nothing is left held: worker slots, worker connections, body budget, and
 * exactly one usage record per request.
 */
class ExchangeTest {
  static final String KEY = "gk_" + "a".repeat(43);
  static final String DEP = "dep_1";
  static final long FIRST_BYTE_MILLIS = 3_000;
  static final long RESPONSE_MILLIS = 10_000;

  final VirtualTimeScheduler timers = VirtualTimeScheduler.create();
  final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  final List<UsageRecord> usage = new ArrayList<>();
  final FakeWorkers workers = new FakeWorkers();
  RoutingTable routes;
  DeploymentRoute route;
  InferenceProxy proxy;
  EmbeddedChannel client;

  /** The data plane's tracing: off, as by default ({@link InferenceTracingTest} turns it on). */
  InferenceTracing tracing = InferenceTracing.OFF;

  @BeforeEach
  void setUp() {
    route(1, healthy(1));
    build();
  }

  /** The data plane over {@link #routes}, with a fresh client connection. */
  void build() {
    if (proxy != null) {
      client.finishAndReleaseAll();
      proxy.close();
    }
    var keys = new ApiKeyCache(mock(ApiKeyRepository.class), Duration.ofHours(1));
    keys.put(
        new ApiKeyRecord(
            "key_1", "acme", "test", "gk_aaaa", ApiKeys.hash(KEY), false, Instant.EPOCH, null));
    var properties = mock(GantryProperties.class);
    when(properties.gateway())
        .thenReturn(
            new GantryProperties.Gateway(
                1 << 20,
                16,
                Duration.ofMillis(500),
                Duration.ofMillis(250),
                Duration.ofSeconds(2),
                Duration.ofMillis(RESPONSE_MILLIS),
                Duration.ofSeconds(5),
                0,
                0,
                0,
                Duration.ofSeconds(30),
                Duration.ofMillis(FIRST_BYTE_MILLIS),
                Duration.ofSeconds(10),
                Duration.ofSeconds(60),
                Duration.ofMinutes(5),
                Duration.ofSeconds(10)));
    when(properties.limits())
        .thenReturn(
            new GantryProperties.Limits(
                64, 1024, 8, 10000, 86400, 3600, 100, 16384, 1048576, 4, 128));
    var recorder = mock(UsageRecorder.class);
    doAnswer(
            call -> {
              usage.add(call.getArgument(0));
              return null;
            })
        .when(recorder)
        .record(any());
    proxy =
        new InferenceProxy(
            keys,
            new FailedAuthLimiter(new AuthProperties(Duration.ofSeconds(1), 20, 10, 1000)),
            routes,
            mock(LoadReporter.class),
            new UsageSink(
                recorder,
                Clock.systemUTC(),
                new dev.gantry.gateway.deployment.WorkerLoad() {
                  @Override
                  public int inFlight(String deploymentId, String workerId) {
                    return 0;
                  }

                  @Override
                  public dev.gantry.gateway.deployment.DeploymentView.Queue queue(
                      String deploymentId) {
                    return new dev.gantry.gateway.deployment.DeploymentView.Queue(0, 0);
                  }
                }),
            properties,
            Clock.systemUTC(),
            workers,
            nanos::get,
            tracing);
    client = new EmbeddedChannel(new InferenceConnection(proxy));
  }

  /** The deployment's route: {@code concurrency} slots per worker, the workers given. */
  void route(int concurrency, RoutableWorker... given) {
    route =
        new DeploymentRoute(
            deployment(concurrency, null, List.of(given)),
            () -> timers.now(TimeUnit.MILLISECONDS),
            timers,
            16);
    routes = mock(RoutingTable.class);
    when(routes.find(DEP)).thenReturn(route);
    when(routes.refreshed()).thenReturn(CompletableFuture.completedFuture(null));
  }

  @AfterEach
  void nothingIsLeftHeld() {
    client.finishAndReleaseAll();
    assertThat(route.upstreams()).allSatisfy(u -> assertThat(u.inFlight).isZero());
    assertThat(route.demand().queued()).isZero();
    assertThat(workers.leased).as("worker connections out").isZero();
    assertThat(proxy.budget().held()).as("body bytes held").isZero();
    assertThat(proxy.inFlight()).as("requests under way").isZero();
    timers.dispose();
    proxy.close();
  }

  // ---------------------------------------------------------------------------------------------

  @Test
  void aRequestIsCheckedSentToItsWorkerAndItsAnswerRelayed() {
    send(chat(false));
    FullHttpRequest sent = workers.connection(0).request();
    assertThat(sent.uri()).isEqualTo("/v1/chat/completions");
    assertThat(sent.headers().get(HttpHeaderNames.AUTHORIZATION))
        .as("the caller's key never reaches the engine")
        .isNull();
    sent.release();

    workers.connection(0).answer(json("{\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":5}}"));

    var answer = readAnswer();
    assertThat(answer.status()).isEqualTo(HttpResponseStatus.OK);
    assertThat(answer.body()).contains("completion_tokens");
    assertThat(workers.given).as("the connection goes back to the pool").isEqualTo(1);
    assertThat(usage).singleElement().satisfies(u -> assertThat(u.status()).isEqualTo(200));
    assertThat(usage.getFirst().completionTokens()).isEqualTo(5);
  }

  @Test
  void refusalsAtTheHeadAndOnTheBodyNeverReachAWorker() {
    var noKey = chat(false);
    noKey.headers().remove(HttpHeaderNames.AUTHORIZATION);
    send(noKey);
    assertThat(readAnswer().status()).isEqualTo(HttpResponseStatus.UNAUTHORIZED);

    send(request("/openai/" + DEP + "/v1/chat/completions", "{\"model\":\"other\"}"));
    assertThat(readAnswer().status()).isEqualTo(HttpResponseStatus.NOT_FOUND);

    send(request("/openai/" + DEP + "/v1/chat/completions", "{\"model\":\"tiny\",\"n\":5}"));
    assertThat(readAnswer().status()).isEqualTo(HttpResponseStatus.BAD_REQUEST);

    assertThat(workers.made).isZero();
    // A request refused before its deployment is known is counted, not recorded.
    assertThat(usage).extracting(UsageRecord::status).containsExactly(404, 400);
  }

  /** The phases a client can leave in, and what each must let go of. */
  enum LeaveIn {
    BODY,
    ADMISSION,
    CALLING,
    RELAYING
  }

  @ParameterizedTest
  @EnumSource(LeaveIn.class)
  void aClientThatLeavesInAnyPhaseFreesEverythingAndStopsItsWorker(LeaveIn phase) {
    if (phase == LeaveIn.ADMISSION) {
      // The one slot is taken by another request, so this one waits in the queue.
      var other = new EmbeddedChannel(new InferenceConnection(proxy));
      other.writeInbound(chat(false));
      assertThat(workers.made).isEqualTo(1);
      send(chat(false));
      assertThat(route.demand().queued()).isEqualTo(1);
      client.close();
      assertThat(route.demand().queued()).as("left the queue").isZero();
      workers.connection(0).request().release();
      workers.connection(0).answer(json("{}"));
      ReferenceCountUtil.release(other.readOutbound());
      other.finishAndReleaseAll();
      assertThat(workers.made).as("the one who left never got a worker").isEqualTo(1);
      assertThat(usage).extracting(UsageRecord::status).containsExactlyInAnyOrder(499, 200);
      return;
    }
    if (phase == LeaveIn.BODY) {
      var head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, path());
      head.headers().set(HttpHeaderNames.AUTHORIZATION, "Bearer " + KEY);
      head.headers().set(HttpHeaderNames.CONTENT_LENGTH, 1000);
      client.writeInbound(head);
      client.writeInbound(new DefaultHttpContent(utf8("{\"model\":\"tiny\",")));
      assertThat(proxy.budget().held()).as("the body is held").isPositive();
      client.close();
      assertThat(workers.made).isZero();
    } else {
      send(chat(true));
      var worker = workers.connection(0);
      worker.request().release();
      if (phase == LeaveIn.RELAYING) {
        worker.answerHead(eventStream());
        worker.answerPart("data: {\"choices\":[]}\n\n");
        assertThat(readHead().status()).isEqualTo(HttpResponseStatus.OK);
      }
      client.close();
      assertThat(worker.channel.isActive())
          .as("closing the worker connection tells the engine to stop")
          .isFalse();
      assertThat(workers.dropped).isEqualTo(1);
    }
    assertThat(usage).singleElement().satisfies(u -> assertThat(u.status()).isEqualTo(499));
  }

  @Test
  void aWorkerThatClosesAFreshConnectionBeforeAnsweringGets502AndIsKeptOutOfRouting() {
    route(1, healthy(1), healthy(2));
    build();
    send(chat(false));
    var worker = workers.connection(0);
    worker.request().release();
    worker.channel.close();

    assertThat(readAnswer().status()).isEqualTo(HttpResponseStatus.BAD_GATEWAY);
    assertThat(route.upstreams())
        .filteredOn(u -> u.workerId.equals(worker.workerId))
        .singleElement()
        .satisfies(u -> assertThat(u.excludedUntilMillis).isPositive());
    assertThat(workers.made).as("a request that reached a worker is never sent again").isEqualTo(1);
  }

  @Test
  void aKeptAliveConnectionClosedAsTheRequestWentOutIsRetriedOnceOnANewOne() {
    workers.reuse = true;
    send(chat(false));
    var stale = workers.connection(0);
    stale.request().release();
    stale.channel.close();

    var fresh = workers.connection(1);
    assertThat(fresh.fresh).isTrue();
    fresh.request().release();
    fresh.answer(json("{}"));
    assertThat(readAnswer().status()).isEqualTo(HttpResponseStatus.OK);
  }

  @Test
  void aWorkerThatCannotBeReachedIsReplacedByAnotherOnce() {
    route(1, healthy(1), healthy(2));
    build();
    workers.refuseNext = 1;
    send(chat(false));

    var other = workers.connection(0);
    assertThat(other.workerId).isNotEqualTo(workers.refused.getFirst());
    other.request().release();
    other.answer(json("{}"));
    assertThat(readAnswer().status()).isEqualTo(HttpResponseStatus.OK);
  }

  @Test
  void aStreamBrokenOffAfterItsFirstByteEndsWithAnErrorEventAndAProperEnd() {
    send(chat(true));
    var worker = workers.connection(0);
    worker.request().release();
    worker.answerHead(eventStream());
    worker.answerPart("data: {\"choices\":[]}\n\n");
    worker.channel.pipeline().fireExceptionCaught(new IOException("connection reset"));

    assertThat(readHead().status()).isEqualTo(HttpResponseStatus.OK);
    String rest = readBodyToEnd();
    assertThat(rest).contains("data: {\"choices\":[]}", "\"error\"", "failed mid-stream");
    assertThat(client.isActive()).as("a proper end keeps the connection").isTrue();
    assertThat(usage).singleElement().satisfies(u -> assertThat(u.status()).isEqualTo(502));
  }

  @Test
  void aWholeAnswerBrokenOffAfterItsFirstByteEndsTheClientsConnection() {
    send(chat(false));
    var worker = workers.connection(0);
    worker.request().release();
    var head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    head.headers().set(HttpHeaderNames.CONTENT_LENGTH, 100);
    head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
    worker.answerHead(head);
    worker.answerPart("{\"id\":");
    worker.channel.close();

    assertThat(readHead().status()).isEqualTo(HttpResponseStatus.OK);
    releaseAll();
    assertThat(client.isActive())
        .as("cut short: the client must see it incomplete, never complete")
        .isFalse();
  }

  @Test
  void aStreamWhoseWorkerIsSilentGets504AfterTheFirstByteTimeout() {
    send(chat(true));
    workers.connection(0).request().release();

    advance(FIRST_BYTE_MILLIS - 1);
    assertThat((Object) client.readOutbound()).as("not yet").isNull();
    advance(2);

    assertThat(readAnswer().status()).isEqualTo(HttpResponseStatus.GATEWAY_TIMEOUT);
    assertThat(workers.connection(0).channel.isActive()).isFalse();
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrder() {
    client.writeInbound(chat(false), models());

    // The second waits for the first's answer, although it needs no worker.
    assertThat((Object) client.readOutbound()).isNull();
    var worker = workers.connection(0);
    worker.request().release();
    worker.answer(json("{\"object\":\"chat.completion\"}"));
    client.runPendingTasks();

    assertThat(readAnswer().body()).contains("chat.completion");
    assertThat(readAnswer().body()).contains("\"object\":\"list\"");
    assertThat(usage).hasSize(2);
  }

  @Test
  void aWorkerAnswering5xxGets502AndItsConnectionIsReused() {
    send(chat(false));
    var worker = workers.connection(0);
    worker.request().release();
    var head =
        new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SERVICE_UNAVAILABLE);
    head.headers().set(HttpHeaderNames.CONTENT_LENGTH, 2);
    worker.answerHead(head);
    worker.channel.writeInbound(new DefaultLastHttpContent(utf8("{}")));

    assertThat(readAnswer().status()).isEqualTo(HttpResponseStatus.BAD_GATEWAY);
    assertThat(workers.given).isEqualTo(1);
  }

  @Test
  void phasesOnlyMoveAsTheTableAllows() {
    assertThat(Phase.HEAD.to(Phase.BODY)).isEqualTo(Phase.BODY);
    assertThat(Phase.CALLING.to(Phase.ADMISSION)).isEqualTo(Phase.ADMISSION);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> Phase.RELAYING.to(Phase.RESPONDING))
        .isInstanceOf(IllegalStateException.class);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> Phase.DONE.to(Phase.DONE))
        .isInstanceOf(IllegalStateException.class);
    for (Phase p : Phase.values()) {
      if (p != Phase.DONE) {
        assertThat(p.to(Phase.DONE)).isEqualTo(Phase.DONE);
      }
    }
  }

  // Review (issue 7, part 3): the body budget must count the body bytes a request keeps.

  static final int BIG = 64 * 1024;

  static FullHttpRequest bigChat(boolean stream) {
    // No max_tokens: on a deployment that is not sim, the body sent gets the cap added (a copy).
    return request(
        path(),
        "{\"model\":\"tiny\",\"stream\":"
            + stream
            + ",\"messages\":[{\"role\":\"user\",\"content\":\""
            + "x".repeat(BIG)
            + "\"}]}");
  }

  /** The deployment of {@link #route}, served by vLLM (so an output cap is added to bodies). */
  void vllmRoute(int concurrency, RoutableWorker... given) {
    var spec =
        new dev.gantry.api.deployment.DeploymentSpec(
            "chat",
            "tiny",
            dev.gantry.api.deployment.Framework.VLLM,
            null,
            0,
            4,
            concurrency,
            60,
            10,
            5,
            List.of(),
            List.of());
    route =
        new DeploymentRoute(
            new dev.gantry.infra.db.RoutableDeployment(DEP, "acme", spec, null, List.of(given)),
            () -> timers.now(TimeUnit.MILLISECONDS),
            timers,
            16);
    routes = mock(RoutingTable.class);
    when(routes.find(DEP)).thenReturn(route);
    when(routes.refreshed()).thenReturn(CompletableFuture.completedFuture(null));
  }

  /** The exchange the client connection is answering now. */
  Exchange exchangeOf(EmbeddedChannel channel) throws ReflectiveOperationException {
    var handler = channel.pipeline().get(InferenceConnection.class);
    var field = InferenceConnection.class.getDeclaredField("exchange");
    field.setAccessible(true);
    return (Exchange) field.get(handler);
  }

  /**
   * The bytes of the large arrays a request's own objects still reference (the exchange, its steps
   * and their records; not the shared proxy, connection or route).
   */
  static long bodyBytesKept(Object exchange) throws ReflectiveOperationException {
    var seen =
        java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<Object, Boolean>());
    var todo = new java.util.ArrayDeque<Object>();
    todo.push(exchange);
    long bytes = 0;
    while (!todo.isEmpty()) {
      Object o = todo.pop();
      if (!seen.add(o)) {
        continue;
      }
      if (o instanceof byte[] array) {
        bytes += array.length >= BIG ? array.length : 0;
        continue;
      }
      for (Class<?> c = o.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
        for (var f : c.getDeclaredFields()) {
          if (java.lang.reflect.Modifier.isStatic(f.getModifiers()) || f.getType().isPrimitive()) {
            continue;
          }
          f.setAccessible(true);
          Object v = f.get(o);
          if (v == null
              || v instanceof InferenceProxy
              || v instanceof InferenceConnection
              || v instanceof DeploymentRoute
              || v instanceof Enum<?>) {
            continue;
          }
          if (v instanceof byte[]
              || v.getClass().getPackageName().equals(Exchange.class.getPackageName())) {
            todo.push(v);
          }
        }
      }
    }
    return bytes;
  }

  @Test
  void aBodyThatNoLongerCountsAgainstTheBudgetIsNoLongerKept() throws Exception {
    send(bigChat(true));
    var worker = workers.connection(0);
    worker.request().release();
    worker.answerHead(eventStream());
    worker.answerPart("data: {\"choices\":[]}\n\n");
    assertThat(readHead().status()).isEqualTo(HttpResponseStatus.OK);
    releaseAll();

    long held = proxy.budget().held();
    long kept = bodyBytesKept(exchangeOf(client));

    worker.channel.writeInbound(LastHttpContent.EMPTY_LAST_CONTENT);
    releaseAll();
    assertThat(held).as("the body's budget share is let go").isZero();
    assertThat(kept)
        .as("body bytes kept by a streaming request after its budget share was let go")
        .isZero();
  }

  @Test
  void aQueuedBodyKeepsNoMoreBytesThanItsBudgetShare() throws Exception {
    vllmRoute(1, healthy(1));
    build();
    var other = new EmbeddedChannel(new InferenceConnection(proxy));
    other.writeInbound(chat(false));
    send(bigChat(false));
    assertThat(route.demand().queued()).as("waits for the one slot").isEqualTo(1);

    long kept = bodyBytesKept(exchangeOf(client));
    long held = proxy.budget().held();

    client.close();
    workers.connection(0).request().release();
    workers.connection(0).answer(json("{}"));
    other.finishAndReleaseAll();
    assertThat(kept)
        .as("body bytes kept by a queued request, against its budget share")
        .isLessThanOrEqualTo(held);
  }

  @Test
  void aWorkerAnswering5xxLetsGoOfTheBodyAtItsHead() {
    send(bigChat(false));
    var worker = workers.connection(0);
    worker.request().release();
    var head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_GATEWAY);
    head.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
    worker.answerHead(head);
    worker.answerPart("{\"error\":");

    long held = proxy.budget().held();

    worker.channel.writeInbound(new DefaultLastHttpContent(utf8("{}}")));
    assertThat(readAnswer().status()).isEqualTo(HttpResponseStatus.BAD_GATEWAY);
    assertThat(held)
        .as("a worker that answered has the request: its body is never sent again")
        .isZero();
  }

  // Review: an async job's call (BufferedCall) on the same steps, run on the client's event loop.

  /** Starts a job's call; what it ends with goes into {@code outcome}, its progress into told. */
  void job(
      java.util.concurrent.atomic.AtomicReference<Object> outcome,
      List<String> told,
      Duration responseTimeout) {
    var call = Call.job(DEP, "v1/chat/completions", "job_1", System.currentTimeMillis());
    byte[] input =
        "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
            .getBytes(StandardCharsets.UTF_8);
    BufferedCall.of(
            proxy,
            client.eventLoop(),
            EmbeddedChannel.class,
            call,
            "acme",
            input,
            () -> told.add("fetched"),
            () -> told.add("processing"),
            1 << 20,
            responseTimeout)
        .subscribe(outcome::set, outcome::set);
    client.runPendingTasks();
  }

  @Test
  void aJobWithLittleTimeLeftThatTimesOutDoesNotKeepAHealthyWorkerOutOfRouting() {
    // A job's response timeout is what is left of its time (at least 1 s), not the gateway's
    // response timeout: running out of it says nothing about the worker.
    var outcome = new java.util.concurrent.atomic.AtomicReference<Object>();
    job(outcome, new ArrayList<>(), Duration.ofSeconds(1));
    workers.connection(0).request().release();
    advance(1_001);

    assertThat(outcome.get())
        .isInstanceOfSatisfying(
            InferenceException.class, e -> assertThat(e.status().value()).isEqualTo(504));
    assertThat(route.upstreams())
        .as("the worker stays routable (before, a job's timeout never ejected it)")
        .allSatisfy(u -> assertThat(u.excludedUntilMillis).isZero());
  }

  @Test
  void aJobIsToldProcessingOnlyOnceItsRequestIsOnItsWay() {
    workers.refuseNext = 1;
    var outcome = new java.util.concurrent.atomic.AtomicReference<Object>();
    var told = new ArrayList<String>();
    job(outcome, told, Duration.ofSeconds(60));

    assertThat(outcome.get())
        .isInstanceOfSatisfying(InferenceException.class, e -> assertThat(e.unsent()).isTrue());
    assertThat(told).as("nothing was sent to an engine").containsExactly("fetched");
  }

  // Review probes: paths the tests above do not drive.

  @Test
  void aRequestWhoseWorkerCannotBeReachedWaitsAgainAndGetsTheNextFreeSlot() {
    route(1, healthy(1), healthy(2));
    build();
    var other = new EmbeddedChannel(new InferenceConnection(proxy));
    other.writeInbound(chat(false));
    var busy = workers.connection(0);
    workers.refuseNext = 1;
    send(chat(false));
    assertThat(route.demand().queued()).as("waits again at the head of the queue").isEqualTo(1);

    busy.request().release();
    busy.answer(json("{}"));
    ReferenceCountUtil.release(other.readOutbound());
    var next = workers.connection(1);
    assertThat(next.workerId).isEqualTo(busy.workerId);
    next.request().release();
    next.answer(json("{}"));
    assertThat(readAnswer().status()).isEqualTo(HttpResponseStatus.OK);
    other.finishAndReleaseAll();
    assertThat(usage).extracting(UsageRecord::status).containsExactly(200, 200);
    assertThat(usage.get(1).workerId()).isEqualTo(busy.workerId);
  }

  @Test
  void aClientThatLeavesWhileItsDeploymentIsLookedUpAgainFreesEverything() {
    var refreshed = new CompletableFuture<Void>();
    when(routes.find(DEP)).thenReturn(null);
    when(routes.refreshed()).thenReturn(refreshed);
    send(chat(false));
    client.close();
    when(routes.find(DEP)).thenReturn(route);
    refreshed.complete(null);
    client.runPendingTasks();

    assertThat(workers.made).isZero();
    assertThat(usage).isEmpty();
  }

  @Test
  void aDeclaredBodyTooLargeForAClientWaitingFor100ContinueIs413AndTheConnectionCloses() {
    var head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, path());
    head.headers().set(HttpHeaderNames.AUTHORIZATION, "Bearer " + KEY);
    head.headers().set(HttpHeaderNames.CONTENT_LENGTH, 2 << 20);
    head.headers().set(HttpHeaderNames.EXPECT, "100-continue");
    client.writeInbound(head);

    var answer = readHead();
    assertThat(answer.status()).isEqualTo(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE);
    assertThat(answer.headers().get(HttpHeaderNames.CONNECTION)).isEqualTo("close");
    ReferenceCountUtil.release(answer);
    releaseAll();
  }

  @Test
  void aRefusalWrittenWhileItsBodyArrivesKeepsTheConnectionForTheNextRequest() {
    var head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, path());
    head.headers().set(HttpHeaderNames.CONTENT_LENGTH, 20);
    client.writeInbound(head);
    var refused = readHead();
    assertThat(refused.status()).isEqualTo(HttpResponseStatus.UNAUTHORIZED);
    assertThat(refused.headers().get(HttpHeaderNames.WWW_AUTHENTICATE)).isEqualTo("Bearer");
    ReferenceCountUtil.release(refused);
    client.writeInbound(new DefaultHttpContent(utf8("0123456789")));
    client.writeInbound(new DefaultLastHttpContent(utf8("0123456789")), models());

    assertThat(readAnswer().body()).contains("\"object\":\"list\"");
    assertThat(client.isActive()).isTrue();
  }

  // ---------------------------------------------------------------------------------------------

  void advance(long millis) {
    nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(millis));
    client.advanceTimeBy(millis, TimeUnit.MILLISECONDS);
    client.runScheduledPendingTasks();
  }

  static String path() {
    return "/openai/" + DEP + "/v1/chat/completions";
  }

  static FullHttpRequest request(String uri, String body) {
    var request =
        new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, uri, utf8(body));
    request.headers().set(HttpHeaderNames.AUTHORIZATION, "Bearer " + KEY);
    request.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
    HttpUtil.setContentLength(request, request.content().readableBytes());
    return request;
  }

  static FullHttpRequest chat(boolean stream) {
    return request(
        path(),
        "{\"model\":\"tiny\",\"stream\":"
            + stream
            + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
  }

  static FullHttpRequest models() {
    var request =
        new DefaultFullHttpRequest(
            HttpVersion.HTTP_1_1, HttpMethod.GET, "/openai/" + DEP + "/v1/models");
    request.headers().set(HttpHeaderNames.AUTHORIZATION, "Bearer " + KEY);
    return request;
  }

  static ByteBuf utf8(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
  }

  static HttpResponse eventStream() {
    var head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
    head.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream");
    head.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
    return head;
  }

  static FullHttpResponseParts json(String body) {
    return new FullHttpResponseParts(body);
  }

  record FullHttpResponseParts(String body) {}

  void send(FullHttpRequest request) {
    client.writeInbound(request);
  }

  record Answer(HttpResponseStatus status, String body) {}

  HttpResponse readHead() {
    Object out = client.readOutbound();
    assertThat(out).as("an answer head").isInstanceOf(HttpResponse.class);
    return (HttpResponse) out;
  }

  /** A whole answer: its head and parts up to the last. */
  Answer readAnswer() {
    HttpResponse head = readHead();
    if (head instanceof FullHttpResponse full) {
      String body = full.content().toString(StandardCharsets.UTF_8);
      full.release();
      return new Answer(head.status(), body);
    }
    return new Answer(head.status(), readBodyToEnd());
  }

  String readBodyToEnd() {
    var body = new StringBuilder();
    while (true) {
      Object out = client.readOutbound();
      assertThat(out).as("the answer's end").isNotNull();
      var part = (HttpContent) out;
      body.append(part.content().toString(StandardCharsets.UTF_8));
      part.release();
      if (part instanceof LastHttpContent) {
        return body.toString();
      }
    }
  }

  void releaseAll() {
    for (Object out = client.readOutbound(); out != null; out = client.readOutbound()) {
      ReferenceCountUtil.release(out);
    }
  }

  /** Worker connections as embedded channels, counted as a pool would count them. */
  final class FakeWorkers implements WorkerConnections {
    final List<Worker> connections = new ArrayList<>();
    final List<String> refused = new ArrayList<>();
    int made;
    int leased;
    int given;
    int dropped;
    int refuseNext;

    /** Whether connections come out as having carried requests before. */
    boolean reuse;

    Worker connection(int i) {
      assertThat(connections).as("worker connections made").hasSizeGreaterThan(i);
      return connections.get(i);
    }

    @Override
    public Connections on(EventLoop loop, Class<? extends Channel> type, Upstream upstream) {
      return new Connections() {
        @Override
        public Future<Channel> take(boolean fresh) {
          if (refuseNext > 0) {
            refuseNext--;
            refused.add(upstream.workerId);
            return loop.newFailedFuture(new ConnectException("Connection refused"));
          }
          var channel = new EmbeddedChannel();
          channel.pipeline().addLast(UpstreamHandler.NAME, new UpstreamHandler());
          connections.add(new Worker(channel, upstream.workerId, fresh, reuse && !fresh));
          made++;
          leased++;
          return loop.newSucceededFuture(channel);
        }

        @Override
        public void giveBack(Channel ch) {
          leased--;
          given++;
        }

        @Override
        public void drop(Channel ch) {
          leased--;
          dropped++;
          ch.close();
        }

        @Override
        public boolean reused(Channel ch) {
          return connections.stream().anyMatch(w -> w.channel == ch && w.reused);
        }
      };
    }

    @Override
    public int leased() {
      return leased;
    }

    @Override
    public int size() {
      return 1;
    }

    @Override
    public void close() {}
  }

  /** One worker connection: what the request sent, and the worker's side of the answer. */
  final class Worker {
    final EmbeddedChannel channel;
    final String workerId;
    final boolean fresh;
    final boolean reused;

    Worker(EmbeddedChannel channel, String workerId, boolean fresh, boolean reused) {
      this.channel = channel;
      this.workerId = workerId;
      this.fresh = fresh;
      this.reused = reused;
    }

    FullHttpRequest request() {
      Object sent = channel.readOutbound();
      assertThat(sent).as("the request sent to the worker").isInstanceOf(FullHttpRequest.class);
      return (FullHttpRequest) sent;
    }

    void answer(FullHttpResponseParts json) {
      var head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
      byte[] body = json.body().getBytes(StandardCharsets.UTF_8);
      head.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
      head.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length);
      answerHead(head);
      channel.writeInbound(new DefaultLastHttpContent(Unpooled.wrappedBuffer(body)));
      client.runPendingTasks();
    }

    void answerHead(HttpResponse head) {
      channel.writeInbound(head);
    }

    void answerPart(String text) {
      channel.writeInbound(new DefaultHttpContent(utf8(text)));
    }
  }

  @Test
  void aSmallRequestWaitingForAWorkerCountsAtLeastItsOwnCostAgainstTheBudget() {
    send(chat(false));
    assertThat(workers.made).isEqualTo(1);
    var waiting = new EmbeddedChannel(new InferenceConnection(proxy));
    waiting.writeInbound(chat(false));
    assertThat(route.demand().queued()).isEqualTo(1);

    // Its body is a few dozen bytes; a waiting request costs more than that.
    assertThat(proxy.budget().held()).isGreaterThanOrEqualTo(2 * Exchange.WAITING_REQUEST_BYTES);

    workers.connection(0).request().release();
    workers.connection(0).answer(json("{}"));
    readAnswer();
    workers.connection(1).request().release();
    workers.connection(1).answer(json("{}"));
    ReferenceCountUtil.release(waiting.readOutbound());
    waiting.finishAndReleaseAll();
  }
}
