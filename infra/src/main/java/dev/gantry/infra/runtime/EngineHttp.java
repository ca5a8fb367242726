package dev.gantry.infra.runtime;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;

/**
 * What the platform asks a running engine over HTTP, wherever it runs (a loopback port on this
 * host, a Pod's address): its health route, and its in-flight requests from its metrics.
 */
public final class EngineHttp implements AutoCloseable {

  /** Gauges of requests running and queued, of vLLM (and the simulator) and of SGLang. */
  private static final Set<String> IN_FLIGHT_GAUGES =
      Set.of(
          "vllm:num_requests_running",
          "vllm:num_requests_waiting",
          "sglang:num_running_reqs",
          "sglang:num_queue_reqs");

  private final Duration timeout;
  private final HttpClient http;

  /**
   * @param timeout bound of a connection, and of a metrics request
   */
  public EngineHttp(Duration timeout) {
    this.timeout = timeout;
    // HTTP/1.1: engines are plain-HTTP servers; an h2c upgrade attempt gains nothing.
    this.http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(timeout)
            .build();
  }

  /** One health probe of the engine's health path; false on any error or non-2xx answer. */
  public boolean probe(RunningWorker worker, Duration probeTimeout) {
    try {
      HttpResponse<Void> response =
          http.send(
              get(worker, worker.healthPath(), probeTimeout),
              HttpResponse.BodyHandlers.discarding());
      return response.statusCode() / 100 == 2;
    } catch (IOException | IllegalArgumentException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Requests the engine is running or queuing, from its metrics; empty when it has none. */
  public Optional<Integer> inFlight(RunningWorker worker) {
    if (worker.metricsPath() == null) {
      return Optional.empty();
    }
    try {
      HttpResponse<String> response =
          http.send(
              get(worker, worker.metricsPath(), timeout), HttpResponse.BodyHandlers.ofString());
      return response.statusCode() / 100 == 2 ? inFlightFrom(response.body()) : Optional.empty();
    } catch (IOException | IllegalArgumentException e) {
      return Optional.empty();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  private static HttpRequest get(RunningWorker worker, String path, Duration timeout) {
    return HttpRequest.newBuilder(URI.create(worker.endpoint() + path))
        .timeout(timeout)
        .GET()
        .build();
  }

  /**
   * Sums the in-flight gauges of a Prometheus text exposition; empty when it has none of them.
   * Label values may hold spaces and braces, so the label set is skipped quote-aware.
   */
  public static Optional<Integer> inFlightFrom(String exposition) {
    double sum = 0;
    boolean found = false;
    for (String raw : exposition.split("\n")) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int nameEnd = 0;
      while (nameEnd < line.length()
          && line.charAt(nameEnd) != '{'
          && !Character.isWhitespace(line.charAt(nameEnd))) {
        nameEnd++;
      }
      if (!IN_FLIGHT_GAUGES.contains(line.substring(0, nameEnd))) {
        continue;
      }
      int valueStart =
          nameEnd < line.length() && line.charAt(nameEnd) == '{'
              ? labelsEnd(line, nameEnd)
              : nameEnd;
      if (valueStart < 0) {
        continue;
      }
      String value = line.substring(valueStart).strip().split("\\s+")[0];
      try {
        double parsed = Double.parseDouble(value);
        if (Double.isFinite(parsed)) {
          sum += parsed;
          found = true;
        }
      } catch (NumberFormatException e) {
        // not a sample line we understand; the other gauges still count
      }
    }
    return found ? Optional.of((int) Math.round(sum)) : Optional.empty();
  }

  private static int labelsEnd(String line, int open) {
    boolean quoted = false;
    for (int i = open + 1; i < line.length(); i++) {
      char c = line.charAt(i);
      if (quoted && c == '\\') {
        i++;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == '}' && !quoted) {
        return i + 1;
      }
    }
    return -1;
  }

  @Override
  public void close() {
    http.shutdownNow();
  }
}
