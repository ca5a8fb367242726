package dev.gantry.sim;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntConsumer;

/**
 * An OpenAI-compatible inference server that stands in for a GPU engine (vLLM-like routes, errors
 * and metric names), on {@link SimHttp}: each request runs on a virtual thread that sleeps until
 * its tokens are due, and requests over {@link SimConfig#maxConcurrency()} wait in a FIFO queue
 * ({@link Scheduler}). A client that leaves cancels its request at once, waiting or generating. It
 * boots in a fraction of the CPU a Netty stack takes (docs/benchmarks.md "Engine boot").
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
  private SimHttp server;

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
    try {
      server = SimHttp.start(config.host(), config.port(), this::handle);
      listeningAt = Instant.now();
    } catch (java.io.IOException | RuntimeException e) {
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
        server.close();
      }
    } finally {
      closedLatch.countDown();
    }
  }

  /** Blocks the calling thread until {@link #close()} has completed. */
  public void awaitClose() throws InterruptedException {
    closedLatch.await();
  }

  // ---------------------------------------------------------------- routing

  private void handle(SimHttp.Exchange exchange) throws Exception {
    long begin = System.nanoTime();
    String path = exchange.path();
    if (path.length() > 1 && path.endsWith("/")) {
      path = path.substring(0, path.length() - 1);
    }
    if (!path.startsWith("/")) {
      path = "/" + path;
    }
    String method = exchange.method();
    try {
      switch (path) {
        case "/health" -> {
          if (allowed(exchange, "GET")) {
            health(exchange);
          }
        }
        case "/metrics" -> {
          if (allowed(exchange, "GET")) {
            exchange.send(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                metricsText().getBytes(StandardCharsets.UTF_8));
          }
        }
        case "/v1/models" -> {
          if (allowed(exchange, "GET")) {
            models(exchange);
          }
        }
        case "/v1/chat/completions" -> {
          if (allowed(exchange, "POST")) {
            generate(exchange, true);
          }
        }
        case "/v1/completions" -> {
          if (allowed(exchange, "POST")) {
            generate(exchange, false);
          }
        }
        case "/v1/embeddings" -> {
          if (allowed(exchange, "POST")) {
            embeddings(exchange);
          }
        }
        default -> detail(exchange, 404, "Not Found");
      }
    } catch (ApiException e) {
      sendError(exchange, e);
    } catch (InterruptedException | java.io.IOException e) {
      throw e; // the client left (or the server is closing): nothing to answer
    } catch (RuntimeException e) {
      if (exchange.started()) {
        throw e;
      }
      LOG.log(System.Logger.Level.WARNING, "gantry-sim: request failed", e);
      sendError(
          exchange, new ApiException(500, "InternalServerError", "Internal error: " + e, null));
    } finally {
      if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
        LOG.log(
            System.Logger.Level.DEBUG,
            "{0} {1} -> {2} in {3} ms",
            method,
            path,
            exchange.status(),
            (System.nanoTime() - begin) / 1_000_000);
      }
    }
  }

  /** Answers 405 (with {@code Allow}) unless the request's method is {@code allowed}. */
  private static boolean allowed(SimHttp.Exchange exchange, String allowed)
      throws java.io.IOException {
    if (exchange.method().equals(allowed)) {
      return true;
    }
    exchange.header("Allow", allowed);
    detail(exchange, 405, "Method Not Allowed");
    return false;
  }

  /** FastAPI's shape for routing errors, as vLLM answers them. */
  private static void detail(SimHttp.Exchange exchange, int status, String text)
      throws java.io.IOException {
    exchange.send(status, JSON, ("{\"detail\":\"" + text + "\"}").getBytes(StandardCharsets.UTF_8));
  }

  // ---------------------------------------------------------------- simple routes

  private void health(SimHttp.Exchange exchange) throws java.io.IOException {
    if (failing.get()) {
      sendError(exchange, failingError());
    } else if (!isReady()) {
      sendError(exchange, loadingError());
    } else {
      exchange.send(200, null, new byte[0]);
    }
  }

  private void models(SimHttp.Exchange exchange) throws java.io.IOException {
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
    sendJson(exchange, 200, body);
  }

  // ---------------------------------------------------------------- inference

  private static String body(SimHttp.Exchange exchange) {
    return new String(exchange.body(), StandardCharsets.UTF_8);
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

  private void generate(SimHttp.Exchange exchange, boolean chat) throws Exception {
    ensureServing();
    JsonNode json = Requests.parseObject(mapper, body(exchange));
    Requests.Generation request =
        chat
            ? Requests.chat(json, config.maxTokensDefault())
            : Requests.completion(json, config.maxTokensDefault());
    Requests.checkModel(json, config.model());
    scheduled(
        request.promptTokens(),
        admittedAt -> {
          if (request.stream()) {
            stream(exchange, request, chat, admittedAt);
          } else {
            complete(exchange, request, chat, admittedAt);
          }
        });
    recordSuccess(request.finishReason());
  }

  private void complete(
      SimHttp.Exchange exchange, Requests.Generation request, boolean chat, long admittedAt)
      throws Exception {
    StringBuilder text = new StringBuilder();
    int completionTokens = tokens(request, admittedAt, token -> text.append(token));
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
      message.put("content", text.toString());
    } else {
      choice.put("text", text.toString());
    }
    choice.putNull("logprobs");
    choice.put("finish_reason", request.finishReason());
    usage(body.putObject("usage"), request.promptTokens(), completionTokens);
    sendJson(exchange, 200, body);
  }

  /**
   * Streams the tokens as server-sent events, one chunk each, flushed as generated. The response
   * starts once the request holds a batch slot, as an engine's does.
   */
  private void stream(
      SimHttp.Exchange exchange, Requests.Generation request, boolean chat, long admittedAt)
      throws Exception {
    String id = newId(chat ? "chatcmpl-" : "cmpl-");
    long created = System.currentTimeMillis() / 1000;
    exchange.header("Cache-Control", "no-cache");
    exchange.startStream(200, "text/event-stream; charset=utf-8");
    int[] index = {0};
    int generated =
        tokens(
            request,
            admittedAt,
            token -> {
              if (chat && index[0] == 0) {
                ObjectNode delta = mapper.createObjectNode();
                delta.put("role", "assistant");
                delta.put("content", "");
                event(exchange, chunk(id, created, chat, request, delta, null));
              }
              index[0]++;
              if (chat) {
                ObjectNode delta = mapper.createObjectNode();
                delta.put("content", token);
                event(exchange, chunk(id, created, chat, request, delta, null));
              } else {
                event(exchange, chunk(id, created, chat, request, token, null));
              }
            });
    event(
        exchange,
        chunk(
            id,
            created,
            chat,
            request,
            chat ? mapper.createObjectNode() : "",
            request.finishReason()));
    if (request.includeUsage()) {
      ObjectNode usageChunk = chunkEnvelope(id, created, chat);
      usageChunk.putArray("choices");
      usage(usageChunk.putObject("usage"), request.promptTokens(), generated);
      event(exchange, usageChunk);
    }
    exchange.writeChunk("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
    exchange.endStream();
  }

  private void event(SimHttp.Exchange exchange, JsonNode node) throws java.io.IOException {
    exchange.writeChunk(("data: " + write(node) + "\n\n").getBytes(StandardCharsets.UTF_8));
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

  /** Receives each generated token's text as it is due. */
  private interface TokenSink {
    void accept(String token) throws java.io.IOException;
  }

  /**
   * Generates a request's tokens, timed like an engine (see {@link Throughput}), handing each to
   * {@code sink} when due: the first {@code ttftMs} plus the prompt's prefill time after admission,
   * each next one an inter-token time later that grows with the number of running requests.
   * Deadlines are absolute, so late wake-ups do not add up. Returns the number generated.
   */
  private int tokens(Requests.Generation request, long admittedAt, TokenSink sink)
      throws Exception {
    long seed = request.seed();
    long due = admittedAt + throughput.firstTokenNanos(request.promptTokens());
    for (int i = 0; i < request.maxTokens(); i++) {
      if (i > 0) {
        // The batch size as of the previous token: that decode step's width.
        due += throughput.interTokenNanos(scheduler.running());
      }
      clock.sleepUntil(due);
      if (Thread.interrupted()) {
        // The client left while no sleep was due (e.g. --inter-token-ms=0): stop all the same.
        throw new InterruptedException("client gone");
      }
      generationTokens.increment();
      sink.accept(Determinism.tokenText(seed, i));
    }
    return request.maxTokens();
  }

  /** The work a request does once it holds a batch slot, given its admission time in nanos. */
  private interface Admitted {
    void run(long admittedAtNanos) throws Exception;
  }

  /**
   * Waits for a scheduler slot, then runs {@code work}; accounts prompt tokens on admission, and an
   * aborted request when its client left (or the server closed) before the response was out. The
   * slot is freed however it ends.
   */
  private void scheduled(int requestPromptTokens, Admitted work) throws Exception {
    Scheduler.Ticket ticket = scheduler.enqueue();
    try {
      ticket.awaitAdmission();
      promptTokens.add(requestPromptTokens);
      work.run(ticket.admittedAtNanos());
    } catch (InterruptedException | java.io.IOException e) {
      aborted.increment();
      throw e;
    } finally {
      ticket.finish();
    }
  }

  private void embeddings(SimHttp.Exchange exchange) throws Exception {
    ensureServing();
    JsonNode json = Requests.parseObject(mapper, body(exchange));
    Requests.Embedding request = Requests.embedding(json, config.embeddingDim());
    Requests.checkModel(json, config.model());
    scheduled(
        request.promptTokens(),
        admittedAt -> {
          clock.sleepUntil(admittedAt + throughput.firstTokenNanos(request.promptTokens()));
          sendJson(exchange, 200, embeddingResponse(request));
        });
    recordSuccess("stop");
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
   * Counts a request whose response is fully written and flushed as successful, and after the
   * {@code failAfterRequests}-th one, exits (through {@link #exiter}).
   */
  private void recordSuccess(String reason) {
    (reason.equals("length") ? successLength : successStop).increment();
    long completed = completedInference.incrementAndGet();
    if (config.failAfterRequests() > 0
        && completed == config.failAfterRequests()
        && failing.compareAndSet(false, true)) {
      exitNow();
    }
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

  private void sendError(SimHttp.Exchange exchange, ApiException e) throws java.io.IOException {
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
    sendJson(exchange, e.status(), body);
  }

  private void sendJson(SimHttp.Exchange exchange, int status, JsonNode body)
      throws java.io.IOException {
    exchange.send(status, JSON, mapper.writeValueAsBytes(body));
  }

  private String write(JsonNode node) {
    try {
      return mapper.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
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
