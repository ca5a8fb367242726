package dev.gantry.bench;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.PriorityQueue;

/**
 * The yardstick for a replay: what a purely reactive autoscaler with perfect, instant workers would
 * have used for the same requests under the same deployment settings. Computed offline:
 *
 * <ul>
 *   <li>a request arriving goes to the busiest worker that has a free slot ({@code concurrency}
 *       slots each; ties go to the oldest worker), so load packs onto few workers and the others go
 *       idle;
 *   <li>when no worker has a free slot, a new worker starts at that instant (no cold start), unless
 *       {@code maxWorkers} are running: then the request waits, first come first served, for the
 *       first slot to free;
 *   <li>a worker that has been idle (no request in it) for the full {@code idleTimeoutMillis} is
 *       reaped at that instant; a request arriving at that very instant finds it gone;
 *   <li>{@code minWorkers} workers run from time 0 to {@code horizonMillis} and are never reaped.
 * </ul>
 *
 * <p>Worker time is counted from a worker's start to its reaping. All times are milliseconds on the
 * replay's timeline.
 */
final class IdealAutoscaler {

  /**
   * One request to place.
   *
   * @param arrivalMillis when it arrives
   * @param durationMillis how long it occupies its slot
   */
  record Job(long arrivalMillis, long durationMillis) {}

  /**
   * The deployment settings the ideal runs under.
   *
   * @param concurrency requests one worker serves at once
   * @param minWorkers workers that are never reaped
   * @param maxWorkers most workers at once
   * @param idleTimeoutMillis idle time after which a worker is reaped
   */
  record Settings(int concurrency, int minWorkers, int maxWorkers, long idleTimeoutMillis) {
    Settings {
      if (concurrency < 1 || minWorkers < 0 || maxWorkers < Math.max(1, minWorkers)) {
        throw new IllegalArgumentException(
            "needs concurrency >= 1 and 1 <= max_workers >= min_workers >= 0");
      }
      if (idleTimeoutMillis < 0) {
        throw new IllegalArgumentException("idle timeout must be >= 0");
      }
    }
  }

  /**
   * What the ideal used.
   *
   * @param workersStarted workers started on demand (the {@code minWorkers} not counted)
   * @param workerMillis worker time of all workers, the {@code minWorkers} included
   * @param peakWorkers most workers running at once
   * @param queuedJobs requests that had to wait because {@code maxWorkers} were busy
   */
  record Result(int workersStarted, long workerMillis, int peakWorkers, int queuedJobs) {
    double workerSeconds() {
      return workerMillis / 1000.0;
    }
  }

  private static final class Worker {
    final int ordinal;
    final long startedAt;
    final boolean permanent;
    int inFlight;
    long idleSince;

    Worker(int ordinal, long startedAt, boolean permanent) {
      this.ordinal = ordinal;
      this.startedAt = startedAt;
      this.permanent = permanent;
      this.idleSince = startedAt;
    }
  }

  private record Completion(long at, long sequence, Worker worker) {}

  private IdealAutoscaler() {}

  /**
   * Runs the jobs through the ideal autoscaler.
   *
   * @param horizonMillis end of the run for workers that are never reaped (ignored when {@code
   *     minWorkers} is 0); at least the last completion is used
   */
  static Result run(List<Job> jobs, Settings settings, long horizonMillis) {
    List<Job> arrivals = new ArrayList<>(jobs);
    arrivals.sort(Comparator.comparingLong(Job::arrivalMillis));
    List<Worker> workers = new ArrayList<>(); // every worker ever started, oldest first
    List<Worker> running = new ArrayList<>();
    PriorityQueue<Completion> completions =
        new PriorityQueue<>(
            Comparator.comparingLong(Completion::at).thenComparingLong(Completion::sequence));
    Deque<Job> waiting = new ArrayDeque<>();
    long[] sequence = {0};
    for (int i = 0; i < settings.minWorkers(); i++) {
      Worker w = new Worker(workers.size(), 0, true);
      workers.add(w);
      running.add(w);
    }
    int peak = running.size();
    int queued = 0;
    long lastEvent = 0;
    int next = 0;
    while (next < arrivals.size() || !completions.isEmpty()) {
      // Completions at the same instant as an arrival free their slots first.
      boolean completionFirst =
          !completions.isEmpty()
              && (next >= arrivals.size()
                  || completions.peek().at() <= arrivals.get(next).arrivalMillis());
      long now = completionFirst ? completions.peek().at() : arrivals.get(next).arrivalMillis();
      reapIdle(running, settings, now);
      lastEvent = Math.max(lastEvent, now);
      if (completionFirst) {
        Completion done = completions.poll();
        Worker w = done.worker();
        if (!waiting.isEmpty()) {
          Job job = waiting.poll();
          completions.add(new Completion(now + job.durationMillis(), sequence[0]++, w));
        } else {
          w.inFlight--;
          if (w.inFlight == 0) {
            w.idleSince = now;
          }
        }
        continue;
      }
      Job job = arrivals.get(next++);
      Worker target = null;
      for (Worker w : running) {
        if (w.inFlight < settings.concurrency()
            && (target == null || w.inFlight > target.inFlight)) {
          target = w;
        }
      }
      if (target == null && running.size() < settings.maxWorkers()) {
        target = new Worker(workers.size(), now, false);
        workers.add(target);
        running.add(target);
        peak = Math.max(peak, running.size());
      }
      if (target == null) {
        waiting.add(job);
        queued++;
        continue;
      }
      target.inFlight++;
      completions.add(new Completion(now + job.durationMillis(), sequence[0]++, target));
    }
    long horizon = Math.max(horizonMillis, lastEvent);
    long workerMillis = 0;
    for (Worker w : workers) {
      // Every on-demand worker is idle at the end and is reaped when its timeout runs out.
      long end = w.permanent ? horizon : w.idleSince + settings.idleTimeoutMillis();
      workerMillis += end - w.startedAt;
    }
    int started = workers.size() - settings.minWorkers();
    return new Result(started, workerMillis, peak, queued);
  }

  /** Reaps the workers whose idle timeout has run out by {@code now}. */
  private static void reapIdle(List<Worker> running, Settings settings, long now) {
    running.removeIf(
        w -> {
          if (!w.permanent
              && w.inFlight == 0
              && w.idleSince + settings.idleTimeoutMillis() <= now) {
            return true;
          }
          return false;
        });
  }
}
