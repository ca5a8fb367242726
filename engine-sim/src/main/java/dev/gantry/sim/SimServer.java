package dev.gantry.sim;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntConsumer;
import java.util.function.Supplier;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.SignalType;
import reactor.netty.DisposableServer;
import reactor.netty.http.server.HttpServer;
import reactor.netty.http.server.HttpServerRequest;
import reactor.netty.http.server.HttpServerResponse;
import reactor.netty.resources.LoopResources;

/**
 * An OpenAI-compatible inference server that stands in for a GPU engine (vLLM-like routes, errors
 * and metric names), built on Reactor Netty. Nothing blocks an event-loop thread: token timing uses
 * Reactor's timer, and requests over {@link SimConfig#maxConcurrency()} wait in a non-blocking FIFO
 * queue.
 *
 * <p>Routes: {@code GET /health}, {@code GET /v1/models}, {@code GET /metrics}, {@code POST
 * /v1/chat/completions}, {@code POST /v1/completions}, {@code POST /v1/embeddings}.
 */
public final class SimServer implements AutoCloseable {

  /** Exit status used when {@link SimConfig#failAfterRequests()} is reached. */
  public static final int FAILURE_EXIT_CODE = 3;

  private static final System.Logger LOG = System.getLogger(SimServer.class.getName());
  private static final String JSON = "application/json";
  private static final String OWNER = "gantry-sim";

  private final SimConfig config;
  private final IntConsumer exiter;
  private final ObjectMapper mapper = new ObjectMapper();
  private final SimClock clock;
  private final Throughput throughput;
  private final Scheduler scheduler;
  private final long startNanos = System.nanoTime();
  private final Instant startedAt = Instant.now();

  /** Until its warm-up is over, it is not ready (whatever the simulated load). */
  private volatile boolean warming = true;

  private volatile Instant warmedAt;
  private volatile Instant listeningAt;
  private final long startupNanos;
  private final long createdEpochSeconds = System.currentTimeMillis() / 1000;

  private final LongAdder promptTokens = new LongAdder();
  private final LongAdder generationTokens = new LongAdder();
  private final LongAdder successStop = new LongAdder();
  private final LongAdder successLength = new LongAdder();
  private final LongAdder aborted = new LongAdder();
  private final AtomicLong completedInference = new AtomicLong();
  private final AtomicBoolean failing = new AtomicBoolean();

  private final AtomicBoolean closed = new AtomicBoolean();
  private final CountDownLatch closedLatch = new CountDownLatch(1);
  private LoopResources loops;
  private DisposableServer server;

  private SimServer(SimConfig config, IntConsumer exiter, SimClock clock) {
    this.config = config;
    this.exiter = exiter;
    this.clock = clock;
    this.throughput = Throughput.of(config);
    this.scheduler = new Scheduler(config.maxConcurrency(), clock::nanoTime);
    this.startupNanos = (long) (config.startupSeconds() * 1e9);
  }

  /**
   * Starts a server and returns once it is listening. When {@link SimConfig#failAfterRequests()} is
   * set, reaching it calls {@link System#exit(int)}; use {@link #start(SimConfig, IntConsumer)} to
   * intercept that.
   *
   * @throws IllegalStateException if the address cannot be bound
   */
  public static SimServer start(SimConfig config) {
    return start(config, System::exit);
  }

  /**
   * Starts a server and returns once it is listening.
   *
   * @param exiter called (from a dedicated thread, after the last response was flushed) with {@link
   *     #FAILURE_EXIT_CODE} when {@link SimConfig#failAfterRequests()} requests have completed; the
   *     CLI passes {@code System::exit}
   * @throws IllegalStateException if the address cannot be bound
   */
  public static SimServer start(SimConfig config, IntConsumer exiter) {
    return start(config, exiter, SimClock.system());
  }

  /** As {@link #start(SimConfig, IntConsumer)}, pacing generation by {@code clock} (tests). */
  static SimServer start(SimConfig config, IntConsumer exiter, SimClock clock) {
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(exiter, "exiter");
    Objects.requireNonNull(clock, "clock");
    SimServer sim = new SimServer(config, exiter, clock);
    sim.bind();
    return sim;
  }

  private void bind() {
    int workers = Math.max(2, Math.min(4, Runtime.getRuntime().availableProcessors()));
    loops = LoopResources.create("gantry-sim", 1, workers, true);
    try {
      server =
          HttpServer.create()
              .host(config.host())
              .port(config.port())
              .runOn(loops)
              .handle(this::handle)
              .bindNow(Duration.ofSeconds(10));
      listeningAt = Instant.now();
    } catch (RuntimeException e) {
      loops.disposeLater(Duration.ZERO, Duration.ofSeconds(2)).block(Duration.ofSeconds(5));
      closedLatch.countDown();
      throw new IllegalStateException(
          "gantry-sim could not listen on " + config.host() + ":" + config.port() + ": " + e, e);
    }
    warmUp();
  }

  /** The bound port (the ephemeral one when configured with port 0). */
  public int port() {
    return server.port();
  }

  public String host() {
    return config.host();
  }

  /** {@code http://host:port}, for clients. */
  public String baseUrl() {
    String host = config.host().contains(":") ? "[" + config.host() + "]" : config.host();
    return "http://" + host + ":" + port();
  }

  public SimConfig config() {
    return config;
  }

  /**
   * Answers one request of its own ({@code GET /health}) over loopback, so that the first probe of
   * the platform is not also the first request this JVM ever handles (class loading, a cold HTTP
   * pipeline): a warm-up, like a real engine's before it reports ready, counted in the engine's
   * boot rather than in the platform's share of a cold start. {@code /health} answers 503 until it
   * is over. Best effort.
   */
  private void warmUp() {
    try (var socket = new java.net.Socket()) {
      socket.connect(new java.net.InetSocketAddress(config.host(), port()), 5_000);
      socket.setSoTimeout(5_000);
      socket
          .getOutputStream()
          .write(
              "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                  .getBytes(StandardCharsets.US_ASCII));
      socket.getInputStream().readAllBytes();
    } catch (java.io.IOException e) {
      // Only a warm-up: the server answers the platform's probes all the same.
    } finally {
      warmedAt = Instant.now();
      warming = false;
    }
  }

  /**
   * When it began to serve: once the simulated model load ({@link SimConfig#startupSeconds()}) and
   * the warm-up are both over.
   */
  public Instant readyAt() {
    Instant loaded = startedAt.plusNanos(startupNanos);
    Instant warmed = warmedAt;
    return warmed != null && warmed.isAfter(loaded) ? warmed : loaded;
  }

  /** When it was listening (before its warm-up). */
  public Instant listeningAt() {
    return listeningAt;
  }

  /**
   * Whether the warm-up and the simulated model load ({@link SimConfig#startupSeconds()}) are over.
   */
  public boolean isReady() {
    return !warming && System.nanoTime() - startNanos >= startupNanos;
  }

  /** Requests currently generating ({@code vllm:num_requests_running}). */
  public int runningRequests() {
    return scheduler.running();
  }

  /** Requests queued behind the concurrency limit ({@code vllm:num_requests_waiting}). */
  public int waitingRequests() {
    return scheduler.waiting();
  }

  /** Highest number of requests ever running at once ({@code gantry_sim:max_running}). */
  public int maxRunning() {
    return scheduler.maxRunning();
  }

  /**
   * Highest number of requests ever held at once, running or waiting ({@code
   * gantry_sim:max_in_flight}).
   */
  public int maxInFlight() {
    return scheduler.maxInFlight();
  }

  /** {@code vllm:prompt_tokens_total}. */
  public long promptTokensTotal() {
    return promptTokens.sum();
  }

  /** {@code vllm:generation_tokens_total}. */
  public long generationTokensTotal() {
    return generationTokens.sum();
  }

  /** {@code vllm:request_success_total}, summed over finish reasons. */
  public long requestSuccessTotal() {
    return successStop.sum() + successLength.sum();
  }

  /** {@code gantry_sim:requests_aborted_total}: clients that went away before completion. */
  public long requestsAbortedTotal() {
    return aborted.sum();
  }

  /** The Prometheus exposition served on {@code GET /metrics}. */
  public String metricsText() {
    String label = "model_name=\"" + escapeLabel(config.model()) + "\"";
    StringBuilder sb = new StringBuilder(1024);
    metric(
        sb,
        "vllm:num_requests_running",
        "gauge",
        "Number of requests in model execution batches.",
        label,
        scheduler.running());
    metric(
        sb,
        "vllm:num_requests_waiting",
        "gauge",
        "Number of requests waiting to be processed.",
        label,
        scheduler.waiting());
    metric(
        sb,
        "vllm:prompt_tokens_total",
        "counter",
        "Number of prefill tokens processed.",
        label,
        promptTokens.sum());
    metric(
        sb,
        "vllm:generation_tokens_total",
        "counter",
        "Number of generation tokens processed.",
        label,
        generationTokens.sum());
    header(
        sb, "vllm:request_success_total", "counter", "Count of successfully processed requests.");
    sample(
        sb, "vllm:request_success_total", "finished_reason=\"stop\"," + label, successStop.sum());
    sample(
        sb,
        "vllm:request_success_total",
        "finished_reason=\"length\"," + label,
        successLength.sum());
    metric(
        sb,
        "gantry_sim:requests_aborted_total",
        "counter",
        "Requests whose client disconnected before completion.",
        label,
        aborted.sum());
    metric(
        sb,
        "gantry_sim:max_running",
        "gauge",
        "Highest number of concurrently running requests observed.",
        label,
        scheduler.maxRunning());
    metric(
        sb,
        "gantry_sim:max_in_flight",
        "gauge",
        "Highest number of requests held at once, running or waiting.",
        label,
        scheduler.maxInFlight());
    return sb.toString();
  }

  /** Stops listening, drops open connections (aborting their requests) and frees the port. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      if (server != null) {
        server.disposeNow(Duration.ofSeconds(5));
      }
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.DEBUG, "gantry-sim: server did not stop in time", e);
    } finally {
      try {
        loops.disposeLater(Duration.ZERO, Duration.ofSeconds(5)).block(Duration.ofSeconds(10));
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.DEBUG, "gantry-sim: event loops did not stop in time", e);
      }
      closedLatch.countDown();
    }
  }

  /** Blocks the calling thread until {@link #close()} has completed. */
  public void awaitClose() throws InterruptedException {
    closedLatch.await();
  }

  // ---------------------------------------------------------------- routing

  private Mono<Void> handle(HttpServerRequest req, HttpServerResponse res) {
    long begin = System.nanoTime();
    String path = req.fullPath();
    if (path.length() > 1 && path.endsWith("/")) {
      path = path.substring(0, path.length() - 1);
    }
    if (!path.startsWith("/")) {
      path = "/" + path;
    }
    HttpMethod method = req.method();
    String route = path;
    Mono<Void> result =
        Mono.defer(
                () ->
                    switch (route) {
                      case "/health" -> only(method, HttpMethod.GET, res, () -> health(res));
                      case "/metrics" -> only(method, HttpMethod.GET, res, () -> metrics(res));
                      case "/v1/models" -> only(method, HttpMethod.GET, res, () -> models(res));
                      case "/v1/chat/completions" ->
                          only(method, HttpMethod.POST, res, () -> generate(req, res, true));
                      case "/v1/completions" ->
                          only(method, HttpMethod.POST, res, () -> generate(req, res, false));
                      case "/v1/embeddings" ->
                          only(method, HttpMethod.POST, res, () -> embeddings(req, res));
                      default -> detail(res, HttpResponseStatus.NOT_FOUND, "Not Found");
                    })
            .onErrorResume(ApiException.class, e -> sendError(res, e))
            .onErrorResume(
                e -> !res.hasSentHeaders(),
                e -> {
                  LOG.log(System.Logger.Level.WARNING, "gantry-sim: request failed", e);
                  return sendError(
                      res,
                      new ApiException(500, "InternalServerError", "Internal error: " + e, null));
                });
    if (!LOG.isLoggable(System.Logger.Level.DEBUG)) {
      return result;
    }
    return result.doFinally(
        signal ->
            LOG.log(
                System.Logger.Level.DEBUG,
                "{0} {1} -> {2} ({3}) in {4} ms",
                method,
                route,
                res.status().code(),
                signal,
                (System.nanoTime() - begin) / 1_000_000));
  }

  private static Mono<Void> only(
      HttpMethod actual, HttpMethod allowed, HttpServerResponse res, Supplier<Mono<Void>> route) {
    if (!actual.equals(allowed)) {
      res.header(HttpHeaderNames.ALLOW, allowed.name());
      return detail(res, HttpResponseStatus.METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    return route.get();
  }

  /** FastAPI's shape for routing errors, as vLLM answers them. */
  private static Mono<Void> detail(HttpServerResponse res, HttpResponseStatus status, String text) {
    byte[] body = ("{\"detail\":\"" + text + "\"}").getBytes(StandardCharsets.UTF_8);
    return res.status(status)
        .header(HttpHeaderNames.CONTENT_TYPE, JSON)
        .sendByteArray(Mono.just(body))
        .then();
  }

  // ---------------------------------------------------------------- simple routes

  private Mono<Void> health(HttpServerResponse res) {
    if (failing.get()) {
      return sendError(res, failingError());
    }
    if (!isReady()) {
      return sendError(res, loadingError());
    }
    return res.status(HttpResponseStatus.OK).send();
  }

  private Mono<Void> metrics(HttpServerResponse res) {
    return res.status(HttpResponseStatus.OK)
        .header(HttpHeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
        .sendString(Mono.fromSupplier(this::metricsText), StandardCharsets.UTF_8)
        .then();
  }

  private Mono<Void> models(HttpServerResponse res) {
    ensureServing();
    ObjectNode body = mapper.createObjectNode();
    body.put("object", "list");
    ObjectNode model = body.putArray("data").addObject();
    model.put("id", config.model());
    model.put("object", "model");
    model.put("created", createdEpochSeconds);
    model.put("owned_by", OWNER);
    model.put("root", config.model());
    model.putNull("parent");
    return sendJson(res, HttpResponseStatus.OK, body);
  }

  // ---------------------------------------------------------------- inference

  private Mono<String> body(HttpServerRequest req) {
    return req.receive().aggregate().asString(StandardCharsets.UTF_8).defaultIfEmpty("");
  }

  private void ensureServing() {
    if (failing.get()) {
      throw failingError();
    }
    if (!isReady()) {
      throw loadingError();
    }
  }

  private ApiException loadingError() {
    return ApiException.unavailable("Model `" + config.model() + "` is still loading");
  }

  private ApiException failingError() {
    return ApiException.unavailable(
        "Engine is shutting down (fail-after-requests=" + config.failAfterRequests() + ")");
  }

  private Mono<Void> generate(HttpServerRequest req, HttpServerResponse res, boolean chat) {
    return body(req)
        .flatMap(
            text -> {
              ensureServing();
              JsonNode json = Requests.parseObject(mapper, text);
              Requests.Generation request =
                  chat
                      ? Requests.chat(json, config.maxTokensDefault())
                      : Requests.completion(json, config.maxTokensDefault());
              Requests.checkModel(json, config.model());
              AtomicBoolean produced = new AtomicBoolean();
              Mono<Void> send =
                  request.stream()
                      ? stream(res, request, chat, produced)
                      : complete(res, request, chat, produced);
              return recordingSuccess(res, request.finishReason(), produced, send);
            });
  }

  private Mono<Void> complete(
      HttpServerResponse res, Requests.Generation request, boolean chat, AtomicBoolean produced) {
    return tokens(request)
        .collectList()
        .doOnNext(unused -> produced.set(true))
        .flatMap(
            generated -> {
              String text = String.join("", generated);
              int completionTokens = generated.size();
              ObjectNode body = mapper.createObjectNode();
              body.put("id", newId(chat ? "chatcmpl-" : "cmpl-"));
              body.put("object", chat ? "chat.completion" : "text_completion");
              body.put("created", System.currentTimeMillis() / 1000);
              body.put("model", config.model());
              ObjectNode choice = body.putArray("choices").addObject();
              choice.put("index", 0);
              if (chat) {
                ObjectNode message = choice.putObject("message");
                message.put("role", "assistant");
                message.put("content", text);
              } else {
                choice.put("text", text);
              }
              choice.putNull("logprobs");
              choice.put("finish_reason", request.finishReason());
              usage(body.putObject("usage"), request.promptTokens(), completionTokens);
              return sendJson(res, HttpResponseStatus.OK, body);
            });
  }

  private Mono<Void> stream(
      HttpServerResponse res, Requests.Generation request, boolean chat, AtomicBoolean produced) {
    String id = newId(chat ? "chatcmpl-" : "cmpl-");
    long created = System.currentTimeMillis() / 1000;
    AtomicInteger generated = new AtomicInteger();
    Flux<String> events =
        tokens(request)
            .concatMapIterable(
                token -> {
                  int index = generated.getAndIncrement();
                  List<ObjectNode> chunks = new ArrayList<>(2);
                  if (chat && index == 0) {
                    ObjectNode delta = mapper.createObjectNode();
                    delta.put("role", "assistant");
                    delta.put("content", "");
                    chunks.add(chunk(id, created, chat, request, delta, null));
                  }
                  if (chat) {
                    ObjectNode delta = mapper.createObjectNode();
                    delta.put("content", token);
                    chunks.add(chunk(id, created, chat, request, delta, null));
                  } else {
                    chunks.add(chunk(id, created, chat, request, token, null));
                  }
                  return chunks;
                })
            .concatWith(
                Mono.fromSupplier(
                    () ->
                        chunk(
                            id,
                            created,
                            chat,
                            request,
                            chat ? mapper.createObjectNode() : "",
                            request.finishReason())))
            .concatWith(
                !request.includeUsage()
                    ? Mono.empty()
                    : Mono.fromSupplier(
                        () -> {
                          ObjectNode usageChunk = chunkEnvelope(id, created, chat);
                          usageChunk.putArray("choices");
                          usage(
                              usageChunk.putObject("usage"),
                              request.promptTokens(),
                              generated.get());
                          return usageChunk;
                        }))
            .map(node -> "data: " + write(node) + "\n\n")
            .concatWith(Mono.just("data: [DONE]\n\n"))
            .doOnComplete(() -> produced.set(true));
    return res.status(HttpResponseStatus.OK)
        .header(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .header(HttpHeaderNames.CACHE_CONTROL, "no-cache")
        .send(events.map(SimServer::buffer), buf -> true) // flush every event
        .then();
  }

  private ObjectNode chunkEnvelope(String id, long created, boolean chat) {
    ObjectNode node = mapper.createObjectNode();
    node.put("id", id);
    node.put("object", chat ? "chat.completion.chunk" : "text_completion");
    node.put("created", created);
    node.put("model", config.model());
    return node;
  }

  private ObjectNode chunk(
      String id,
      long created,
      boolean chat,
      Requests.Generation request,
      Object deltaOrText,
      String finishReason) {
    ObjectNode node = chunkEnvelope(id, created, chat);
    ObjectNode choice = node.putArray("choices").addObject();
    choice.put("index", 0);
    if (chat) {
      choice.set("delta", (ObjectNode) deltaOrText);
    } else {
      choice.put("text", (String) deltaOrText);
    }
    choice.putNull("logprobs");
    if (finishReason == null) {
      choice.putNull("finish_reason");
    } else {
      choice.put("finish_reason", finishReason);
    }
    if (request.includeUsage()) {
      node.putNull("usage"); // as OpenAI: only the final usage chunk carries it
    }
    return node;
  }

  /**
   * The generated token texts for a request, timed like an engine (see {@link Throughput}): the
   * request first waits for a scheduler slot; the first token comes {@code ttftMs} plus the
   * prompt's prefill time after admission, and each next one an inter-token time later that grows
   * with the number of running requests. Deadlines are absolute, so late timers do not add up.
   * Cancelling the flux (client gone) frees the slot at once.
   */
  private Flux<String> tokens(Requests.Generation request) {
    long seed = request.seed();
    int count = request.maxTokens();
    return scheduled(
        request.promptTokens(),
        admittedAt -> {
          long[] due = {admittedAt + throughput.firstTokenNanos(request.promptTokens())};
          return Flux.range(0, count)
              .concatMap(
                  i -> {
                    if (i > 0) {
                      // The batch size as of the previous token: that decode step's width.
                      due[0] += throughput.interTokenNanos(scheduler.running());
                    }
                    String token = Determinism.tokenText(seed, i);
                    return clock
                        .at(due[0])
                        .thenReturn(token)
                        .doOnNext(t -> generationTokens.increment());
                  },
                  1);
        });
  }

  /**
   * Runs {@code work} (given the admission time in nanos) once the scheduler admits the request;
   * accounts prompt tokens on admission and aborted requests on cancellation.
   */
  private <T> Flux<T> scheduled(
      int requestPromptTokens, java.util.function.LongFunction<Flux<T>> work) {
    return Flux.defer(
        () -> {
          Scheduler.Ticket ticket = scheduler.enqueue();
          AtomicBoolean completed = new AtomicBoolean();
          return ticket
              .admitted()
              .thenMany(
                  Flux.defer(
                      () -> {
                        promptTokens.add(requestPromptTokens);
                        return work.apply(ticket.admittedAtNanos());
                      }))
              .doOnComplete(() -> completed.set(true))
              .doFinally(
                  signal -> {
                    ticket.finish();
                    if (signal == SignalType.CANCEL && !completed.get()) {
                      aborted.increment();
                    }
                  });
        });
  }

  private Mono<Void> embeddings(HttpServerRequest req, HttpServerResponse res) {
    return body(req)
        .flatMap(
            text -> {
              ensureServing();
              JsonNode json = Requests.parseObject(mapper, text);
              Requests.Embedding request = Requests.embedding(json, config.embeddingDim());
              Requests.checkModel(json, config.model());
              AtomicBoolean produced = new AtomicBoolean();
              Mono<Void> send =
                  scheduled(
                          request.promptTokens(),
                          admittedAt ->
                              clock
                                  .at(
                                      admittedAt
                                          + throughput.firstTokenNanos(request.promptTokens()))
                                  .flux())
                      .then(Mono.fromSupplier(() -> embeddingResponse(request)))
                      .doOnNext(unused -> produced.set(true))
                      .flatMap(body -> sendJson(res, HttpResponseStatus.OK, body));
              return recordingSuccess(res, "stop", produced, send);
            });
  }

  private ObjectNode embeddingResponse(Requests.Embedding request) {
    ObjectNode body = mapper.createObjectNode();
    body.put("id", newId("embd-"));
    body.put("object", "list");
    body.put("created", System.currentTimeMillis() / 1000);
    body.put("model", config.model());
    ArrayNode data = body.putArray("data");
    for (int i = 0; i < request.inputs().size(); i++) {
      float[] vector = Determinism.embedding(request.inputs().get(i), config.embeddingDim());
      if (request.dimensions() < vector.length) {
        vector = renormalized(vector, request.dimensions());
      }
      ObjectNode item = data.addObject();
      item.put("object", "embedding");
      item.put("index", i);
      if (request.base64()) {
        ByteBuffer bytes = ByteBuffer.allocate(vector.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : vector) {
          bytes.putFloat(v);
        }
        item.put("embedding", Base64.getEncoder().encodeToString(bytes.array()));
      } else {
        ArrayNode values = item.putArray("embedding");
        for (float v : vector) {
          values.add(v);
        }
      }
    }
    ObjectNode usage = body.putObject("usage");
    usage.put("prompt_tokens", request.promptTokens());
    usage.put("total_tokens", request.promptTokens());
    usage.put("completion_tokens", 0);
    return body;
  }

  private static float[] renormalized(float[] vector, int dimensions) {
    double sumSquares = 0;
    for (int i = 0; i < dimensions; i++) {
      sumSquares += (double) vector[i] * vector[i];
    }
    double norm = Math.sqrt(sumSquares);
    float[] out = new float[dimensions];
    for (int i = 0; i < dimensions; i++) {
      out[i] = (float) (norm == 0 ? (i == 0 ? 1 : 0) : vector[i] / norm);
    }
    return out;
  }

  // ---------------------------------------------------------------- success and failure injection

  /**
   * Counts the request as successful once its response is fully written ({@code produced}: the
   * whole body was generated, as opposed to a send cut short by a disconnect), and after the {@code
   * failAfterRequests}-th one, exits (through {@link #exiter}) once that response is flushed.
   */
  private Mono<Void> recordingSuccess(
      HttpServerResponse res, String reason, AtomicBoolean produced, Mono<Void> send) {
    AtomicBoolean triggersExit = new AtomicBoolean();
    Executor[] loops = new Executor[1];
    res.withConnection(c -> loops[0] = c.channel().eventLoop());
    Executor loop = loops[0];
    return send.doOnSuccess(
            unused -> {
              if (!produced.get()) {
                return;
              }
              (reason.equals("length") ? successLength : successStop).increment();
              long completed = completedInference.incrementAndGet();
              if (config.failAfterRequests() > 0
                  && completed == config.failAfterRequests()
                  && failing.compareAndSet(false, true)) {
                triggersExit.set(true);
              }
            })
        .doAfterTerminate(
            () -> {
              if (triggersExit.get()) {
                // The response's last frame is written (or queued) on the connection's event loop
                // by now: a task queued after it runs once it went out.
                loop.execute(this::exitNow);
              }
            });
  }

  private void exitNow() {
    Thread thread =
        new Thread(
            () -> {
              System.err.println(
                  "gantry-sim: exiting with status "
                      + FAILURE_EXIT_CODE
                      + " after "
                      + config.failAfterRequests()
                      + " requests (--fail-after-requests)");
              exiter.accept(FAILURE_EXIT_CODE);
            },
            "gantry-sim-exit");
    thread.start();
  }

  // ---------------------------------------------------------------- helpers

  private static void usage(ObjectNode usage, int promptTokens, int completionTokens) {
    usage.put("prompt_tokens", promptTokens);
    usage.put("completion_tokens", completionTokens);
    usage.put("total_tokens", promptTokens + completionTokens);
  }

  private Mono<Void> sendError(HttpServerResponse res, ApiException e) {
    ObjectNode body = mapper.createObjectNode();
    ObjectNode error = body.putObject("error");
    error.put("message", e.getMessage());
    error.put("type", e.type());
    if (e.param() == null) {
      error.putNull("param");
    } else {
      error.put("param", e.param());
    }
    error.put("code", e.status());
    return sendJson(res, HttpResponseStatus.valueOf(e.status()), body);
  }

  private Mono<Void> sendJson(HttpServerResponse res, HttpResponseStatus status, JsonNode body) {
    byte[] bytes;
    try {
      bytes = mapper.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      return Mono.error(e);
    }
    return res.status(status)
        .header(HttpHeaderNames.CONTENT_TYPE, JSON)
        .sendByteArray(Mono.just(bytes))
        .then();
  }

  private String write(JsonNode node) {
    try {
      return mapper.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static ByteBuf buffer(String text) {
    return Unpooled.wrappedBuffer(text.getBytes(StandardCharsets.UTF_8));
  }

  private static String newId(String prefix) {
    byte[] random = new byte[12];
    ThreadLocalRandom.current().nextBytes(random);
    return prefix + HexFormat.of().formatHex(random);
  }

  private static void header(StringBuilder sb, String name, String type, String help) {
    sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
    sb.append("# TYPE ").append(name).append(' ').append(type).append('\n');
  }

  private static void sample(StringBuilder sb, String name, String labels, double value) {
    sb.append(name)
        .append('{')
        .append(labels)
        .append("} ")
        .append(String.format(Locale.ROOT, "%.1f", value))
        .append('\n');
  }

  private static void metric(
      StringBuilder sb, String name, String type, String help, String labels, double value) {
    header(sb, name, type, help);
    sample(sb, name, labels, value);
  }

  private static String escapeLabel(String value) {
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }
}
