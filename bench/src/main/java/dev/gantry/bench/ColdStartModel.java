package dev.gantry.bench;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * How long a worker takes from the decision to start it until it serves: {@code baseMillis} plus
 * {@code perBootMillis} for every other worker already booting when it is decided. Workers booting
 * at once share the CPU (on a small box, eight {@code sim} JVMs on two cores) or the GPU host's
 * disk and network, so a worker decided into a burst of starts takes longer than one started alone;
 * one mean cold start makes a simulated burst ready too early and a lone start too late.
 *
 * <p>Counting only the boots already in progress (not those that begin later, while this one still
 * boots) keeps the model causal: a simulation knows a worker's ready time when it decides it. A
 * burst of N decisions at one instant so becomes ready one after the other, {@code perBootMillis}
 * apart, and its mean cold start is {@code base + (N-1)/2 × perBoot}, which is what the fit over
 * such bursts recovers.
 *
 * @param baseMillis the cold start of a worker started while none other boots
 * @param perBootMillis added per worker already booting when it is decided (0: one fixed time)
 */
record ColdStartModel(long baseMillis, long perBootMillis) {

  ColdStartModel {
    if (baseMillis < 0 || perBootMillis < 0) {
      throw new IllegalArgumentException("cold start times must be >= 0");
    }
  }

  /** One cold start for every worker. */
  static ColdStartModel fixed(long millis) {
    return new ColdStartModel(millis, 0);
  }

  /** The cold start of a worker decided while {@code bootsInProgress} others boot. */
  long millis(int bootsInProgress) {
    return baseMillis + perBootMillis * Math.max(0, bootsInProgress);
  }

  /** For output: {@code 1.50 s + 0.30 s per boot in progress}, or {@code 1.50 s} when fixed. */
  String describe() {
    return perBootMillis == 0
        ? String.format(Locale.ROOT, "%.2f s", baseMillis / 1000.0)
        : String.format(
            Locale.ROOT,
            "%.2f s + %.2f s per boot in progress",
            baseMillis / 1000.0,
            perBootMillis / 1000.0);
  }

  /** The {@code --what-if} options that reproduce this model. */
  String options() {
    return String.format(
        Locale.ROOT,
        "--cold-start-seconds %s --cold-start-per-boot-seconds %s",
        ReplayTool.plain(Math.round(baseMillis / 10.0) / 100.0),
        ReplayTool.plain(Math.round(perBootMillis / 10.0) / 100.0));
  }

  /**
   * One measured cold start.
   *
   * @param bootsInProgress other workers decided before it and not yet healthy when it was decided
   * @param millis its time from the decision to healthy
   */
  record Point(int bootsInProgress, long millis) {}

  /**
   * The model fitted to measured cold starts, and how.
   *
   * @param model the model
   * @param points the cold starts it was fitted to
   * @param method {@code least squares}, or why it fell back to the mean ({@code mean: ...})
   */
  record Fit(ColdStartModel model, List<Point> points, String method) {

    /** For output: the model, the points and how it was obtained. */
    String describe() {
      return String.format(
          Locale.ROOT,
          "%s (%s; %d cold start%s measured, decided to healthy)",
          model.describe(),
          method,
          points.size(),
          points.size() == 1 ? "" : "s");
    }
  }

  /**
   * Fits {@code base + perBoot × bootsInProgress} by least squares. Falls back to the mean (slope
   * 0) when the slope cannot be determined (fewer than two points, or every point with the same
   * number of boots in progress) or comes out negative (more parallel boots never make a start
   * faster; a negative slope is noise). When the line crosses zero boots below zero, it is fitted
   * through the origin instead, so no cold start comes out negative. Returns {@code null} without
   * points.
   */
  static Fit fit(List<Point> points) {
    if (points.isEmpty()) {
      return null;
    }
    int n = points.size();
    double meanX = 0;
    double meanY = 0;
    for (Point p : points) {
      meanX += p.bootsInProgress();
      meanY += p.millis();
    }
    meanX /= n;
    meanY /= n;
    double sxx = 0;
    double sxy = 0;
    for (Point p : points) {
      double dx = p.bootsInProgress() - meanX;
      sxx += dx * dx;
      sxy += dx * (p.millis() - meanY);
    }
    if (n < 2) {
      return new Fit(fixed(Math.round(meanY)), points, "mean: one cold start");
    }
    if (sxx == 0) {
      return new Fit(
          fixed(Math.round(meanY)), points, "mean: every start saw as many boots in progress");
    }
    double slope = sxy / sxx;
    if (slope <= 0) {
      return new Fit(fixed(Math.round(meanY)), points, "mean: the fitted slope was not positive");
    }
    double base = meanY - slope * meanX;
    if (base < 0) {
      double x2 = 0;
      double xy = 0;
      for (Point p : points) {
        x2 += (double) p.bootsInProgress() * p.bootsInProgress();
        xy += (double) p.bootsInProgress() * p.millis();
      }
      return new Fit(new ColdStartModel(0, Math.round(xy / x2)), points, "least squares through 0");
    }
    return new Fit(
        new ColdStartModel(Math.round(base), Math.round(slope)), points, "least squares");
  }

  /**
   * The measured cold starts of the workers started in a run: for each worker not in {@code before}
   * that became healthy, its time from the decision to healthy, and how many other workers of the
   * listing (started before it, by decision time) were booting at its decision: decided before it
   * and not healthy, nor stopped, by then.
   */
  static List<Point> points(Collection<GantryApi.Worker> workers, Collection<String> before) {
    List<GantryApi.Worker> byDecision = new ArrayList<>(workers);
    byDecision.sort(
        Comparator.comparing(GantryApi.Worker::decidedAt)
            .thenComparing(GantryApi.Worker::createdAt)
            .thenComparing(GantryApi.Worker::id));
    List<Point> points = new ArrayList<>();
    for (int i = 0; i < byDecision.size(); i++) {
      GantryApi.Worker w = byDecision.get(i);
      if (before.contains(w.id()) || w.healthyAt() == null) {
        continue;
      }
      Instant decided = w.decidedAt();
      int booting = 0;
      for (int j = 0; j < i; j++) {
        GantryApi.Worker other = byDecision.get(j);
        Instant bootEnd = other.healthyAt() != null ? other.healthyAt() : other.stoppedAt();
        if (bootEnd == null || bootEnd.isAfter(decided)) {
          booting++;
        }
      }
      points.add(new Point(booting, Duration.between(decided, w.healthyAt()).toMillis()));
    }
    return points;
  }
}
