package dev.gantry.bench;

import dev.gantry.autoscaler.ScalingPolicy;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a replay measured, and how it is printed: one table for people and one JSON line for
 * scripts.
 *
 * @param setup what was replayed against what, printed above the table
 * @param requests requests sent
 * @param ok streams that answered 2xx and ended with {@code data: [DONE]}
 * @param tooMany answers 429
 * @param serverErrors answers 5xx (before the stream began)
 * @param errors everything else that failed: other 4xx, streams broken off or ended by an error
 *     event, connection errors and client timeouts
 * @param timeouts client timeouts (included in {@code errors})
 * @param statuses requests per HTTP status (0 for no answer)
 * @param firstError the first failure's description, {@code null} when none failed
 * @param ttftP50Ms median time to first token of the {@code ok} streams (NaN when none)
 * @param ttftP99Ms 99th percentile of the same
 * @param sloTtftMs the time-to-first-token objective
 * @param sloAttainment share of all requests that were ok with a time to first token within the
 *     objective
 * @param workers the deployment's worker use, from its workers listing
 * @param peakWorkers most current workers seen by the once-a-second poll
 * @param ideal what the ideal autoscaler used, {@code null} when it could not be computed
 * @param idealDurations how the ideal's request durations were obtained
 * @param whatIf the what-if simulation of this run's own requests under the deployment's settings,
 *     {@code null} when it was not computed
 */
record ReplayReport(
    String setup,
    int requests,
    int ok,
    int tooMany,
    int serverErrors,
    int errors,
    int timeouts,
    Map<Integer, Integer> statuses,
    String firstError,
    double ttftP50Ms,
    double ttftP99Ms,
    long sloTtftMs,
    double sloAttainment,
    GantryApi.Usage workers,
    int peakWorkers,
    IdealAutoscaler.Result ideal,
    String idealDurations,
    WhatIf whatIf) {

  /** How a request ended. */
  enum Kind {
    OK,
    TOO_MANY_REQUESTS,
    SERVER_ERROR,
    CLIENT_ERROR,
    BROKEN_STREAM,
    CONNECTION_ERROR,
    TIMEOUT
  }

  /**
   * One request of the replay. Times are nanoseconds from the start of the replay.
   *
   * @param index position in the trace slice
   * @param maxTokens the {@code max_tokens} it asked for
   * @param sentNanos when it was sent
   * @param kind how it ended
   * @param status the HTTP status, 0 when none arrived
   * @param firstTokenNanos when its first chunk with content or role arrived, -1 when none did
   * @param endNanos when it ended (answer complete, failed or timed out)
   * @param error what went wrong, {@code null} when it is {@link Kind#OK}
   */
  record Outcome(
      int index,
      int maxTokens,
      long sentNanos,
      Kind kind,
      int status,
      long firstTokenNanos,
      long endNanos,
      String error) {

    long ttftNanos() {
      return firstTokenNanos < 0 ? -1 : firstTokenNanos - sentNanos;
    }
  }

  /**
   * The request durations the ideal autoscaler is given, and where they came from.
   *
   * @param jobs one per request, arrivals as sent
   * @param source a short description for the output
   */
  record IdealInput(List<IdealAutoscaler.Job> jobs, String source) {}

  /**
   * Durations for the ideal autoscaler. With the engine's timing ({@code engineTtftMs} and {@code
   * engineInterTokenMs} both given) a request takes {@code ttft + max_tokens * inter-token}.
   * Otherwise they come from the measurement, without the time a request waited for a worker (which
   * the ideal, with its instant workers, never does): an ok request takes what it took from its
   * first token to its end, plus the smallest time to first token measured (the engine's own); a
   * failed one takes that smallest time plus its {@code max_tokens} at the median measured time per
   * token. Returns {@code null} when neither is possible (no timing given, no request ok).
   */
  static IdealInput idealInput(
      List<Outcome> outcomes, Integer engineTtftMs, Integer engineInterTokenMs) {
    List<IdealAutoscaler.Job> jobs = new ArrayList<>(outcomes.size());
    if (engineTtftMs != null && engineInterTokenMs != null) {
      for (Outcome o : outcomes) {
        jobs.add(
            new IdealAutoscaler.Job(
                millis(o.sentNanos()), engineTtftMs + (long) o.maxTokens() * engineInterTokenMs));
      }
      return new IdealInput(
          jobs,
          "engine timing: " + engineTtftMs + " ms + max_tokens x " + engineInterTokenMs + " ms");
    }
    Samples ttft = new Samples();
    Samples perToken = new Samples();
    for (Outcome o : outcomes) {
      if (o.kind() == Kind.OK) {
        ttft.add(o.ttftNanos());
        perToken.add((o.endNanos() - o.firstTokenNanos()) / Math.max(1, o.maxTokens()));
      }
    }
    if (ttft.size() == 0) {
      return null;
    }
    long engineTtft = ttft.min();
    long tokenNanos = perToken.percentile(50);
    for (Outcome o : outcomes) {
      long duration =
          o.kind() == Kind.OK
              ? o.endNanos() - o.firstTokenNanos() + engineTtft
              : engineTtft + tokenNanos * o.maxTokens();
      jobs.add(new IdealAutoscaler.Job(millis(o.sentNanos()), Math.max(1, millis(duration))));
    }
    return new IdealInput(
        jobs,
        String.format(
            Locale.ROOT,
            "measured: first token to end + the smallest TTFT (%.1f ms); failed requests at %.2f"
                + " ms/token",
            engineTtft / 1e6,
            tokenNanos / 1e6));
  }

  /** Counts the outcomes and computes the percentiles. */
  static ReplayReport summarize(
      String setup,
      List<Outcome> outcomes,
      long sloTtftMs,
      GantryApi.Usage workers,
      int peakWorkers,
      IdealAutoscaler.Result ideal,
      String idealDurations) {
    int ok = 0;
    int tooMany = 0;
    int serverErrors = 0;
    int errors = 0;
    int timeouts = 0;
    int withinSlo = 0;
    String firstError = null;
    long firstErrorAt = Long.MAX_VALUE;
    Map<Integer, Integer> statuses = new TreeMap<>();
    Samples ttft = new Samples();
    for (Outcome o : outcomes) {
      statuses.merge(o.status(), 1, Integer::sum);
      switch (o.kind()) {
        case OK -> {
          ok++;
          ttft.add(o.ttftNanos());
          if (o.ttftNanos() <= sloTtftMs * 1_000_000L) {
            withinSlo++;
          }
        }
        case TOO_MANY_REQUESTS -> tooMany++;
        case SERVER_ERROR -> serverErrors++;
        case TIMEOUT -> {
          timeouts++;
          errors++;
        }
        default -> errors++;
      }
      if (o.kind() != Kind.OK && o.sentNanos() < firstErrorAt) {
        firstErrorAt = o.sentNanos();
        firstError = o.error();
      }
    }
    return new ReplayReport(
        setup,
        outcomes.size(),
        ok,
        tooMany,
        serverErrors,
        errors,
        timeouts,
        statuses,
        firstError,
        ttft.size() == 0 ? Double.NaN : ttft.percentile(50) / 1e6,
        ttft.size() == 0 ? Double.NaN : ttft.percentile(99) / 1e6,
        sloTtftMs,
        outcomes.isEmpty() ? Double.NaN : (double) withinSlo / outcomes.size(),
        workers,
        peakWorkers,
        ideal,
        idealDurations,
        null);
  }

  /** This report with the run's calibrated what-if prediction. */
  ReplayReport withWhatIf(WhatIf prediction) {
    return new ReplayReport(
        setup,
        requests,
        ok,
        tooMany,
        serverErrors,
        errors,
        timeouts,
        statuses,
        firstError,
        ttftP50Ms,
        ttftP99Ms,
        sloTtftMs,
        sloAttainment,
        workers,
        peakWorkers,
        ideal,
        idealDurations,
        prediction);
  }

  /**
   * The run's own requests as the what-if simulation takes them, and where their times came from.
   *
   * @param requests one per request, arrivals as sent
   * @param engineTtftMillis the first-token time given to every request once it has a slot
   * @param source a short description for the output
   */
  record WhatIfInput(
      List<AutoscalerSimulation.Request> requests, long engineTtftMillis, String source) {}

  /**
   * A time on the run's timeline during which a worker was healthy.
   *
   * @param fromNanos when it became healthy, nanoseconds from the start of the replay
   * @param toNanos when it stopped, {@code Long.MAX_VALUE} when it had not
   */
  record Span(long fromNanos, long toNanos) {

    /** The spans of the workers that became healthy, on the timeline of a run started at start. */
    static List<Span> healthy(Collection<GantryApi.Worker> workers, Instant start) {
      List<Span> spans = new ArrayList<>();
      for (GantryApi.Worker w : workers) {
        if (w.healthyAt() != null) {
          spans.add(
              new Span(
                  Duration.between(start, w.healthyAt()).toNanos(),
                  w.stoppedAt() == null
                      ? Long.MAX_VALUE
                      : Duration.between(start, w.stoppedAt()).toNanos()));
        }
      }
      return spans;
    }

    boolean contains(long nanos) {
      return fromNanos <= nanos && nanos < toNanos;
    }
  }

  /**
   * The run's requests timed as measured, for the what-if simulation. A request holds its slot from
   * the moment it is routed to its end; the measurement shows its time from the first token to the
   * end, but its measured TTFT also holds the time it waited (in the queue, or for a worker to
   * boot), which the simulation models itself. What remains of the TTFT once it has a slot, the
   * engine's own (prefill plus the relay, under the run's load), is taken as the <em>median</em>
   * TTFT of the ok requests sent while a worker was healthy ({@code healthy}; of all ok requests
   * when none was): those sent while none was certainly waited for a boot, and of the others, with
   * packing, most find a slot on a warm worker at once, so their median did not wait. The smallest
   * TTFT (what the ideal takes) is the uncontended floor, too short on a loaded box where every
   * request's first token comes later and its slot is held that much longer. An ok request so takes
   * {@code end - first token + that TTFT}; a failed one that TTFT plus its {@code max_tokens} at
   * the median measured time per token. {@code null} when no request was ok.
   */
  static WhatIfInput whatIfInput(List<Outcome> outcomes, List<Span> healthy) {
    Samples all = new Samples();
    Samples warm = new Samples();
    Samples perToken = new Samples();
    for (Outcome o : outcomes) {
      if (o.kind() == Kind.OK) {
        all.add(o.ttftNanos());
        if (healthy.stream().anyMatch(s -> s.contains(o.sentNanos()))) {
          warm.add(o.ttftNanos());
        }
        perToken.add((o.endNanos() - o.firstTokenNanos()) / Math.max(1, o.maxTokens()));
      }
    }
    if (all.size() == 0) {
      return null;
    }
    Samples ttft = warm.size() > 0 ? warm : all;
    long engineTtft = ttft.percentile(50);
    long tokenNanos = perToken.percentile(50);
    long firstToken = millis(engineTtft);
    List<AutoscalerSimulation.Request> requests = new ArrayList<>(outcomes.size());
    for (Outcome o : outcomes) {
      long duration =
          o.kind() == Kind.OK
              ? o.endNanos() - o.firstTokenNanos() + engineTtft
              : engineTtft + tokenNanos * o.maxTokens();
      requests.add(
          new AutoscalerSimulation.Request(
              millis(o.sentNanos()), firstToken, Math.max(1, millis(duration))));
    }
    return new WhatIfInput(
        requests,
        firstToken,
        String.format(
            Locale.ROOT,
            "arrivals as sent; slot held from first token to end + the median TTFT of the %d ok"
                + " requests sent %s (%.1f ms; the smallest %.1f ms); failed requests at %.2f"
                + " ms/token",
            ttft.size(),
            warm.size() > 0 ? "while a worker was healthy" : "(none while a worker was healthy)",
            engineTtft / 1e6,
            all.min() / 1e6,
            tokenNanos / 1e6));
  }

  /**
   * What the what-if simulation predicts for the run's own requests under the deployment's own
   * settings and the cold start model fitted to the run's workers, next to what the run measured.
   *
   * @param policy the deployment's scaling policy
   * @param waitTimeMillis the deployment's wait time
   * @param coldStart the cold start model and how it was fitted
   * @param requestTimes how the requests were timed
   * @param result what the simulation gave
   * @param predictedWorkerSeconds the simulation's worker-seconds over the run's window
   * @param measuredWorkerSeconds the run's worker-seconds from the workers listing
   * @param servedIdealWorkerSeconds the ideal reactive autoscaler's worker-seconds for the same
   *     requests timed the same way (as this run's box served them, not by the engine's nominal
   *     timing): the cost the run would have had with instant workers and perfect packing
   */
  record WhatIf(
      ScalingPolicy policy,
      long waitTimeMillis,
      ColdStartModel.Fit coldStart,
      String requestTimes,
      AutoscalerSimulation.Result result,
      double predictedWorkerSeconds,
      double measuredWorkerSeconds,
      double servedIdealWorkerSeconds) {

    /** Measured worker-seconds over the ideal's at this run's request times; NaN without one. */
    double servedRatio() {
      return servedIdealWorkerSeconds > 0
          ? measuredWorkerSeconds / servedIdealWorkerSeconds
          : Double.NaN;
    }

    /** The prediction's error relative to the measurement, in percent; NaN when nothing ran. */
    double errorPercent() {
      return measuredWorkerSeconds > 0
          ? 100 * (predictedWorkerSeconds - measuredWorkerSeconds) / measuredWorkerSeconds
          : Double.NaN;
    }

    /**
     * Runs the simulation. {@code windowMillis} is the run's length (from its start to the end of
     * the settle wait): the live count stops there, so workers that always run are counted up to it
     * in the prediction too, however early the simulation's last event came.
     */
    static WhatIf predict(
        WhatIfInput input,
        GantryApi.Deployment deployment,
        Collection<GantryApi.Worker> workers,
        Collection<String> before,
        long windowMillis,
        double measuredWorkerSeconds) {
      ColdStartModel.Fit fit = ColdStartModel.fit(ColdStartModel.points(workers, before));
      if (fit == null) {
        fit = new ColdStartModel.Fit(ColdStartModel.fixed(0), List.of(), "none measured");
      }
      ScalingPolicy policy = deployment.policy();
      long waitMillis = deployment.waitTimeSeconds() * 1000L;
      AutoscalerSimulation.Result result =
          AutoscalerSimulation.run(
              input.requests(),
              new AutoscalerSimulation.Settings(
                  policy, deployment.idleTimeoutSeconds() * 1000L, waitMillis, fit.model(), 1_000));
      long tail = (long) policy.minWorkers() * Math.max(0, windowMillis - result.endMillis());
      List<IdealAutoscaler.Job> jobs = new ArrayList<>(input.requests().size());
      for (AutoscalerSimulation.Request r : input.requests()) {
        jobs.add(new IdealAutoscaler.Job(r.arrivalMillis(), r.durationMillis()));
      }
      IdealAutoscaler.Result ideal =
          IdealAutoscaler.run(
              jobs,
              new IdealAutoscaler.Settings(
                  deployment.concurrency(),
                  deployment.minWorkers(),
                  deployment.maxWorkers(),
                  deployment.idleTimeoutSeconds() * 1000L),
              windowMillis);
      return new WhatIf(
          policy,
          waitMillis,
          fit,
          input.source(),
          result,
          (result.workerMillis() + tail) / 1000.0,
          measuredWorkerSeconds,
          ideal.workerSeconds());
    }

    /** The one-line verdict, e.g. {@code what-if for this run's settings (...): 712 ...}. */
    String line() {
      return fmt(
          "what-if for this run's settings (measured request times, cold start model %s): %.0f"
              + " worker-s predicted, %.1f measured (%s)",
          coldStart.model().describe(),
          predictedWorkerSeconds,
          measuredWorkerSeconds,
          Double.isNaN(errorPercent()) ? "-" : fmt("%+.1f %%", errorPercent()));
    }

    /** The lines under the verdict: the fitted model, the settings, the request times. */
    String details() {
      return fmt(
          "ideal at this run's request times (the what-if's): %.1f worker-s; measured / ideal"
              + " %.2f%n"
              + "what-if cold start model: %s; in --what-if: %s%n"
              + "what-if settings: target_utilization %s, scale_down_delay_seconds %s, warm_buffer"
              + " %d, queue_delay_ms %d, wait %d s; %d started, TTFT p50 / p99 %d / %d ms, %d"
              + " timed out%n"
              + "what-if request times: %s%n",
          servedIdealWorkerSeconds,
          servedRatio(),
          coldStart.describe(),
          coldStart.model().options(),
          ReplayTool.plain(policy.targetUtilization()),
          policy.scaleDownDelayMillis() == ScalingPolicy.AUTO_DELAY
              ? "auto"
              : ReplayTool.plain(policy.scaleDownDelayMillis() / 1000.0),
          policy.warmBuffer(),
          policy.queueDelayMillis(),
          waitTimeMillis / 1000,
          result.workersStarted(),
          result.ttftPercentile(50),
          result.ttftPercentile(99),
          result.timedOut(),
          requestTimes);
    }
  }

  /** Measured worker-seconds over the ideal's; NaN when there is no ideal or it used none. */
  double ratio() {
    return ideal == null || ideal.workerMillis() == 0
        ? Double.NaN
        : workers.workerSeconds() / ideal.workerSeconds();
  }

  /** The human-readable result: the setup, one table, and notes under it. */
  String table() {
    String[] header = {
      "requests",
      "2xx",
      "429",
      "5xx",
      "errors",
      "TTFT p50 / p99",
      "TTFT <= " + sloTtftMs + " ms",
      "workers started",
      "worker-s",
      "ideal worker-s",
      "ratio"
    };
    String[] row = {
      Integer.toString(requests),
      Integer.toString(ok),
      Integer.toString(tooMany),
      Integer.toString(serverErrors),
      Integer.toString(errors),
      Double.isNaN(ttftP50Ms) ? "-" : fmt("%.0f / %.0f ms", ttftP50Ms, ttftP99Ms),
      Double.isNaN(sloAttainment) ? "-" : fmt("%.1f %%", sloAttainment * 100),
      Integer.toString(workers.started()),
      fmt("%.1f", workers.workerSeconds()),
      ideal == null ? "-" : fmt("%.1f", ideal.workerSeconds()),
      Double.isNaN(ratio()) ? "-" : fmt("%.2f", ratio())
    };
    StringBuilder sb = new StringBuilder(setup).append('\n');
    StringBuilder top = new StringBuilder("|");
    StringBuilder rule = new StringBuilder("|");
    StringBuilder values = new StringBuilder("|");
    for (int i = 0; i < header.length; i++) {
      int width = Math.max(header[i].length(), row[i].length());
      top.append(' ').append(pad(header[i], width)).append(" |");
      rule.append('-').append("-".repeat(width)).append("-|");
      values.append(' ').append(pad(row[i], width)).append(" |");
    }
    sb.append(top).append('\n').append(rule).append('\n').append(values).append('\n');
    sb.append("statuses: ").append(statuses.isEmpty() ? "-" : statusText()).append('\n');
    if (timeouts > 0) {
      sb.append("client timeouts: ").append(timeouts).append(" (counted in errors)\n");
    }
    if (firstError != null) {
      sb.append("first failure: ").append(firstError).append('\n');
    }
    sb.append(
        fmt(
            "workers: %d started, peak %d current (polled every second); worker-s from the"
                + " workers listing's created_at/stopped_at within the run",
            workers.started(), peakWorkers));
    if (workers.coldStartMaxSeconds() > 0) {
      sb.append(
          fmt(
              "; created to healthy: mean %.1f s, max %.1f s",
              workers.coldStartMeanSeconds(), workers.coldStartMaxSeconds()));
    }
    if (workers.stillCurrent() > 0) {
      sb.append(
          fmt(
              "; %d still current at the end, counted up to it (on-demand ones among them: the"
                  + " ratio understates, since the ideal counts every idle tail in full; let the"
                  + " run settle)",
              workers.stillCurrent()));
    }
    sb.append('\n');
    if (ideal != null) {
      sb.append(
          fmt(
              "ideal (reactive, instant workers, same concurrency, max_workers and idle timeout):"
                  + " %d started, peak %d, %d requests waited for a slot%n",
              ideal.workersStarted(), ideal.peakWorkers(), ideal.queuedJobs()));
      sb.append("ideal durations: ").append(idealDurations).append('\n');
    } else {
      sb.append("ideal: not computed (no request succeeded; pass --engine-ttft-ms and")
          .append(" --engine-inter-token-ms)\n");
    }
    if (whatIf != null) {
      sb.append(whatIf.line()).append('\n').append(whatIf.details());
    } else {
      sb.append("what-if for this run's settings: not computed (no request succeeded)\n");
    }
    return sb.toString();
  }

  /** One JSON object with every figure, for scripts. */
  String json() {
    StringBuilder sb = new StringBuilder("{");
    sb.append("\"setup\":").append(Json.quote(setup));
    sb.append(",\"requests\":").append(requests);
    sb.append(",\"ok\":").append(ok);
    sb.append(",\"status_429\":").append(tooMany);
    sb.append(",\"status_5xx\":").append(serverErrors);
    sb.append(",\"errors\":").append(errors);
    sb.append(",\"client_timeouts\":").append(timeouts);
    sb.append(",\"statuses\":{");
    boolean first = true;
    for (Map.Entry<Integer, Integer> e : statuses.entrySet()) {
      sb.append(first ? "" : ",").append('"').append(e.getKey()).append("\":").append(e.getValue());
      first = false;
    }
    sb.append('}');
    sb.append(",\"ttft_p50_ms\":").append(number(ttftP50Ms));
    sb.append(",\"ttft_p99_ms\":").append(number(ttftP99Ms));
    sb.append(",\"slo_ttft_ms\":").append(sloTtftMs);
    sb.append(",\"slo_attainment\":").append(number(sloAttainment));
    sb.append(",\"workers_started\":").append(workers.started());
    sb.append(",\"peak_workers\":").append(peakWorkers);
    sb.append(",\"worker_seconds\":").append(number(workers.workerSeconds()));
    sb.append(",\"worker_seconds_source\":\"workers listing created_at/stopped_at\"");
    sb.append(",\"workers_still_current\":").append(workers.stillCurrent());
    sb.append(",\"cold_start_mean_s\":").append(number(workers.coldStartMeanSeconds()));
    sb.append(",\"cold_start_max_s\":").append(number(workers.coldStartMaxSeconds()));
    if (ideal != null) {
      sb.append(",\"ideal_workers_started\":").append(ideal.workersStarted());
      sb.append(",\"ideal_peak_workers\":").append(ideal.peakWorkers());
      sb.append(",\"ideal_worker_seconds\":").append(number(ideal.workerSeconds()));
      sb.append(",\"ideal_durations\":").append(Json.quote(idealDurations));
    } else {
      sb.append(",\"ideal_worker_seconds\":null");
    }
    sb.append(",\"ratio\":").append(number(ratio()));
    if (whatIf != null) {
      var model = whatIf.coldStart().model();
      var result = whatIf.result();
      sb.append(",\"whatif_worker_seconds\":").append(number(whatIf.predictedWorkerSeconds()));
      sb.append(",\"whatif_error_percent\":").append(number(whatIf.errorPercent()));
      sb.append(",\"served_ideal_worker_seconds\":")
          .append(number(whatIf.servedIdealWorkerSeconds()));
      sb.append(",\"served_ratio\":").append(number(whatIf.servedRatio()));
      sb.append(",\"whatif_workers_started\":").append(result.workersStarted());
      sb.append(",\"whatif_ttft_p50_ms\":").append(result.ttftPercentile(50));
      sb.append(",\"whatif_ttft_p99_ms\":").append(result.ttftPercentile(99));
      sb.append(",\"whatif_slo_attainment\":").append(number(result.attainment(sloTtftMs)));
      sb.append(",\"whatif_timed_out\":").append(result.timedOut());
      sb.append(",\"whatif_request_times\":").append(Json.quote(whatIf.requestTimes()));
      sb.append(",\"whatif_cold_start_seconds\":").append(number(model.baseMillis() / 1000.0));
      sb.append(",\"whatif_cold_start_per_boot_seconds\":")
          .append(number(model.perBootMillis() / 1000.0));
      sb.append(",\"whatif_cold_start_fit\":").append(Json.quote(whatIf.coldStart().method()));
      sb.append(",\"whatif_cold_starts_measured\":").append(whatIf.coldStart().points().size());
    } else {
      sb.append(",\"whatif_worker_seconds\":null");
    }
    return sb.append('}').toString();
  }

  private String statusText() {
    StringBuilder sb = new StringBuilder();
    for (Map.Entry<Integer, Integer> e : statuses.entrySet()) {
      sb.append(sb.isEmpty() ? "" : ", ")
          .append(e.getKey() == 0 ? "no answer" : e.getKey().toString())
          .append(" x")
          .append(e.getValue());
    }
    return sb.toString();
  }

  private static String number(double value) {
    if (Double.isNaN(value) || Double.isInfinite(value)) {
      return "null";
    }
    return fmt("%.3f", value).replaceAll("\\.?0+$", "");
  }

  private static String pad(String text, int width) {
    return text + " ".repeat(width - text.length());
  }

  private static String fmt(String format, Object... args) {
    return String.format(Locale.ROOT, format, args);
  }

  private static long millis(long nanos) {
    return Math.round(nanos / 1e6);
  }
}
