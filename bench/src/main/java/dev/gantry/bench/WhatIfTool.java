package dev.gantry.bench;

import dev.gantry.autoscaler.ScalingPolicy;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code ./gantry replay --what-if}: runs Gantry's {@link dev.gantry.autoscaler.Autoscaler} offline
 * over a trace for a grid of autoscaling settings and prints, for each, the worker-seconds it would
 * cost next to the TTFT it would give, so settings can be chosen before paying for them.
 */
final class WhatIfTool {

  static final String USAGE =
      """
      Usage: ./gantry replay --what-if --trace FILE [options]

      Runs Gantry's autoscaler offline over a trace slice, for every combination of the settings
      given as comma-separated lists, and prints worker-seconds (cost) against TTFT and SLO
      attainment, next to an ideal reactive autoscaler (instant workers, perfect packing, same
      idle timeout). No Gantry needs to run.

        --trace FILE                    as for a replay (code, conv, mooncake or a path)
        --speed X, --from-minute M, --minutes M, --slo-ttft-ms MS, --max-tokens-cap N
                                        as for a replay (defaults 1, 0, to the end, 2000, none)
        --min-workers N                 (default 0)
        --max-workers N                 (default 8)
        --concurrency N                 (default 16)
        --idle-timeout-seconds S        (default 5)
        --wait-time-seconds S           (default 60)
        --engine-ttft-ms MS             the engine's time to first token (default 50)
        --engine-inter-token-ms MS      per generated token (default 5)
        --prefill-ms-per-1k-tokens MS   extra first-token time per 1000 prompt tokens (default 0)
        --cold-start-seconds S          scale-up decision to serving of a worker started while
                                        no other boots (default 3)
        --cold-start-per-boot-seconds LIST
                                        added to a worker's cold start per other worker already
                                        booting when it is decided, e.g. 0,0.3 (default 0: every
                                        cold start is --cold-start-seconds). A live replay prints
                                        both fitted to its own workers ("cold start model").
        --target-utilization LIST       e.g. 0.5,0.75,1 (default: the platform default)
        --scale-down-delay-seconds LIST e.g. auto,0,30,60 (auto, the default: as long as the
                                        deployment's recent cold start)
        --warm-buffer LIST              e.g. 0,1 (default 0)
        --queue-delay-ms LIST           e.g. 0,500 (0 = off; default 0)
        --help                          print this help

      The last line is WHATIF_RESULT followed by the ideal's worker-seconds and every row as one
      JSON object.
      """;

  /** {@code auto} in the delay list: the policy's automatic delay. */
  private static final double AUTO = -1;

  private WhatIfTool() {}

  private static String delay(ScalingPolicy p) {
    return p.scaleDownDelayMillis() == ScalingPolicy.AUTO_DELAY
        ? "auto"
        : ReplayTool.plain(p.scaleDownDelayMillis() / 1000.0);
  }

  /** The parsed options. */
  record Options(
      Path trace,
      double speed,
      double fromMinute,
      double minutes,
      long sloTtftMs,
      int maxTokensCap,
      int minWorkers,
      int maxWorkers,
      int concurrency,
      long idleTimeoutMillis,
      long waitTimeMillis,
      long engineTtftMs,
      double engineInterTokenMs,
      double prefillMsPer1k,
      long coldStartMillis,
      List<Double> coldStartPerBootSeconds,
      List<Double> targetUtilizations,
      List<Double> scaleDownDelaysSeconds,
      List<Double> warmBuffers,
      List<Double> queueDelaysMs) {

    static Options parse(String[] args, Map<String, String> env) {
      Map<String, String> values = ReplayTool.Options.values(args);
      if (values == null) {
        return null;
      }
      String trace = values.remove("trace");
      if (trace == null) {
        throw new IllegalArgumentException("--trace is required");
      }
      var o =
          new Options(
              ReplayTool.Options.tracePath(trace, env.get("GANTRY_TRACES_DIR")),
              ReplayTool.Options.number(values, "speed", 1),
              ReplayTool.Options.number(values, "from-minute", 0),
              ReplayTool.Options.number(values, "minutes", Double.POSITIVE_INFINITY),
              (long) ReplayTool.Options.number(values, "slo-ttft-ms", 2000),
              (int) ReplayTool.Options.number(values, "max-tokens-cap", 0),
              (int) ReplayTool.Options.number(values, "min-workers", 0),
              (int) ReplayTool.Options.number(values, "max-workers", 8),
              (int) ReplayTool.Options.number(values, "concurrency", 16),
              seconds(ReplayTool.Options.number(values, "idle-timeout-seconds", 5)),
              seconds(ReplayTool.Options.number(values, "wait-time-seconds", 60)),
              (long) ReplayTool.Options.number(values, "engine-ttft-ms", 50),
              ReplayTool.Options.number(values, "engine-inter-token-ms", 5),
              ReplayTool.Options.number(values, "prefill-ms-per-1k-tokens", 0),
              seconds(ReplayTool.Options.number(values, "cold-start-seconds", 3)),
              list(values, "cold-start-per-boot-seconds", 0),
              list(values, "target-utilization", ScalingPolicy.DEFAULT_TARGET_UTILIZATION),
              list(values, "scale-down-delay-seconds", AUTO),
              list(values, "warm-buffer", ScalingPolicy.DEFAULT_WARM_BUFFER),
              list(values, "queue-delay-ms", ScalingPolicy.DEFAULT_QUEUE_DELAY_MILLIS));
      if (!values.isEmpty()) {
        throw new IllegalArgumentException("unknown option(s): --" + values.keySet());
      }
      if (!(o.speed > 0) || Double.isInfinite(o.speed)) {
        throw new IllegalArgumentException("--speed must be a number > 0");
      }
      if (o.fromMinute < 0 || !(o.minutes > 0)) {
        throw new IllegalArgumentException("--from-minute must be >= 0 and --minutes > 0");
      }
      if (o.engineTtftMs < 0 || o.engineInterTokenMs < 0 || o.prefillMsPer1k < 0) {
        throw new IllegalArgumentException("engine timings must be >= 0");
      }
      if (o.sloTtftMs < 1 || o.maxTokensCap < 0) {
        throw new IllegalArgumentException("--slo-ttft-ms must be >= 1, --max-tokens-cap >= 0");
      }
      // Every combination must make a valid policy; checked here, not halfway through the grid.
      for (ScalingPolicy p : o.grid()) {
        if (p == null) {
          throw new IllegalArgumentException("empty grid");
        }
      }
      return o;
    }

    private static long seconds(double s) {
      if (!(s >= 0) || Double.isInfinite(s)) {
        throw new IllegalArgumentException("durations must be >= 0, got " + s);
      }
      return Math.round(s * 1000);
    }

    private static List<Double> list(Map<String, String> values, String name, double fallback) {
      String value = values.remove(name);
      if (value == null) {
        return List.of(fallback);
      }
      List<Double> out = new ArrayList<>();
      for (String part : value.split(",")) {
        try {
          if (name.equals("scale-down-delay-seconds") && part.strip().equals("auto")) {
            out.add(AUTO);
            continue;
          }
          double d = Double.parseDouble(part.strip());
          if (!(d >= 0) || Double.isInfinite(d)) {
            throw new NumberFormatException();
          }
          out.add(d);
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(
              "--" + name + " takes numbers >= 0 separated by commas, got " + value);
        }
      }
      return List.copyOf(out);
    }

    /** The cold start models of the grid, one per {@code --cold-start-per-boot-seconds}. */
    List<ColdStartModel> coldStarts() {
      List<ColdStartModel> models = new ArrayList<>();
      for (double perBoot : coldStartPerBootSeconds) {
        models.add(new ColdStartModel(coldStartMillis, seconds(perBoot)));
      }
      return models;
    }

    /** Every combination of the listed settings, as policies (invalid ones throw). */
    List<ScalingPolicy> grid() {
      List<ScalingPolicy> grid = new ArrayList<>();
      for (double u : targetUtilizations) {
        for (double delay : scaleDownDelaysSeconds) {
          for (double buffer : warmBuffers) {
            for (double queueDelay : queueDelaysMs) {
              if (buffer != Math.rint(buffer)) {
                throw new IllegalArgumentException("--warm-buffer takes whole numbers");
              }
              grid.add(
                  new ScalingPolicy(
                      minWorkers,
                      maxWorkers,
                      concurrency,
                      u,
                      delay == AUTO ? ScalingPolicy.AUTO_DELAY : Math.round(delay * 1000),
                      (int) buffer,
                      Math.round(queueDelay)));
            }
          }
        }
      }
      return grid;
    }
  }

  /**
   * One row of the table.
   *
   * @param coldStart the cold start model
   * @param policy the settings
   * @param result what they gave
   */
  record Row(ColdStartModel coldStart, ScalingPolicy policy, AutoscalerSimulation.Result result) {}

  public static void main(String[] args) {
    Options options;
    try {
      options = Options.parse(args, System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("what-if: " + e.getMessage());
      System.err.print(USAGE);
      System.exit(2);
      return;
    }
    if (options == null) {
      System.out.print(USAGE);
      return;
    }
    try {
      run(options, System.out);
    } catch (IOException | IllegalArgumentException e) {
      System.err.println("what-if: " + e.getMessage());
      System.exit(1);
    }
  }

  static List<Row> run(Options o, PrintStream out) throws IOException {
    Trace slice = Trace.read(o.trace()).slice(o.fromMinute(), o.minutes());
    if (slice.requests().isEmpty()) {
      throw new IllegalArgumentException("the slice has no requests");
    }
    List<AutoscalerSimulation.Request> requests = requests(o, slice.schedule(o.speed()));
    List<IdealAutoscaler.Job> jobs = new ArrayList<>(requests.size());
    long horizon = 0;
    for (var r : requests) {
      jobs.add(new IdealAutoscaler.Job(r.arrivalMillis(), r.durationMillis()));
      horizon = Math.max(horizon, r.arrivalMillis() + r.durationMillis());
    }
    var ideal =
        IdealAutoscaler.run(
            jobs,
            new IdealAutoscaler.Settings(
                o.concurrency(), o.minWorkers(), o.maxWorkers(), o.idleTimeoutMillis()),
            horizon);
    out.printf(
        Locale.ROOT,
        "what-if: %s from minute %s, %d requests at %sx; concurrency %d, workers %d-%d, idle %d"
            + " s, wait %d s, cold start %s s (+ boot_s per boot in progress); ideal %.0f worker-s"
            + " (%d started)%n",
        o.trace().getFileName(),
        ReplayTool.plain(o.fromMinute()),
        requests.size(),
        ReplayTool.plain(o.speed()),
        o.concurrency(),
        o.minWorkers(),
        o.maxWorkers(),
        o.idleTimeoutMillis() / 1000,
        o.waitTimeMillis() / 1000,
        ReplayTool.plain(o.coldStartMillis() / 1000.0),
        ideal.workerSeconds(),
        ideal.workersStarted());
    out.printf(
        Locale.ROOT,
        "%-6s %-7s %-8s %-7s %-9s | %8s %7s %8s %9s %9s %8s %9s%n",
        "boot_s",
        "target",
        "delay_s",
        "buffer",
        "queue_ms",
        "worker-s",
        "x ideal",
        "started",
        "TTFT p50",
        "TTFT p99",
        "SLO met",
        "timed out");
    List<Row> rows = new ArrayList<>();
    for (ColdStartModel coldStart : o.coldStarts()) {
      for (ScalingPolicy p : o.grid()) {
        var result =
            AutoscalerSimulation.run(
                requests,
                new AutoscalerSimulation.Settings(
                    p, o.idleTimeoutMillis(), o.waitTimeMillis(), coldStart, 1_000));
        rows.add(new Row(coldStart, p, result));
        print(out, rows.getLast(), ideal, o.sloTtftMs());
      }
    }
    out.println("WHATIF_RESULT " + json(rows, ideal, o.sloTtftMs()));
    return rows;
  }

  private static void print(PrintStream out, Row row, IdealAutoscaler.Result ideal, long slo) {
    ScalingPolicy p = row.policy();
    AutoscalerSimulation.Result result = row.result();
    out.printf(
        Locale.ROOT,
        "%-6s %-7.2f %-8s %-7d %-9d | %8.0f %7.2f %8d %7d ms %7d ms %7.1f%% %9d%n",
        ReplayTool.plain(row.coldStart().perBootMillis() / 1000.0),
        p.targetUtilization(),
        delay(p),
        p.warmBuffer(),
        p.queueDelayMillis(),
        result.workerSeconds(),
        ideal.workerSeconds() > 0 ? result.workerSeconds() / ideal.workerSeconds() : 0,
        result.workersStarted(),
        result.ttftPercentile(50),
        result.ttftPercentile(99),
        100 * result.attainment(slo),
        result.timedOut());
  }

  /** The trace's requests on the replay's timeline, timed by the engine model. */
  static List<AutoscalerSimulation.Request> requests(Options o, List<Trace.Scheduled> schedule) {
    List<AutoscalerSimulation.Request> requests = new ArrayList<>(schedule.size());
    for (Trace.Scheduled s : schedule) {
      int out = s.request().outputTokens();
      if (o.maxTokensCap() > 0) {
        out = Math.min(out, o.maxTokensCap());
      }
      long firstToken =
          o.engineTtftMs() + Math.round(o.prefillMsPer1k() * s.request().promptTokens() / 1000.0);
      long duration = firstToken + Math.round(out * o.engineInterTokenMs());
      requests.add(
          new AutoscalerSimulation.Request(
              s.sendAtNanos() / 1_000_000, firstToken, Math.max(1, duration)));
    }
    return requests;
  }

  private static String json(List<Row> rows, IdealAutoscaler.Result ideal, long slo) {
    StringBuilder sb = new StringBuilder("{\"ideal_worker_seconds\":");
    sb.append(String.format(Locale.ROOT, "%.1f", ideal.workerSeconds())).append(",\"rows\":[");
    for (int i = 0; i < rows.size(); i++) {
      Row r = rows.get(i);
      var p = r.policy();
      var res = r.result();
      sb.append(i == 0 ? "" : ",")
          .append(
              String.format(
                  Locale.ROOT,
                  "{\"cold_start_seconds\":%s,\"cold_start_per_boot_seconds\":%s,"
                      + "\"target_utilization\":%s,\"scale_down_delay_seconds\":\"%s\",\"warm_buffer\":%d,"
                      + "\"queue_delay_ms\":%d,\"worker_seconds\":%.1f,\"workers_started\":%d,"
                      + "\"ttft_p50_ms\":%d,\"ttft_p99_ms\":%d,\"slo_attainment\":%.4f,"
                      + "\"timed_out\":%d}",
                  ReplayTool.plain(r.coldStart().baseMillis() / 1000.0),
                  ReplayTool.plain(r.coldStart().perBootMillis() / 1000.0),
                  ReplayTool.plain(p.targetUtilization()),
                  delay(p),
                  p.warmBuffer(),
                  p.queueDelayMillis(),
                  res.workerSeconds(),
                  res.workersStarted(),
                  res.ttftPercentile(50),
                  res.ttftPercentile(99),
                  res.attainment(slo),
                  res.timedOut()));
    }
    return sb.append("]}").toString();
  }
}
