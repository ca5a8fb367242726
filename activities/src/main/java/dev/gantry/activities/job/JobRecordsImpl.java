package dev.gantry.activities.job;

import dev.gantry.api.job.JobRecords;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.jobs.JobRepository;
import java.time.Clock;
import org.springframework.stereotype.Component;

/** Writes a job's end for its workflow; a job that already ended keeps its first outcome. */
@Component("jobRecords")
public class JobRecordsImpl implements JobRecords {
  private final JobRepository jobs;
  private final GantryProperties.Jobs settings;
  private final Clock clock;

  public JobRecordsImpl(JobRepository jobs, GantryProperties properties, Clock clock) {
    this.jobs = jobs;
    this.settings = properties.jobs();
    this.clock = clock;
  }

  @Override
  public void recordOutcome(JobOutcome outcome) {
    var now = clock.instant();
    jobs.finish(outcome.jobId(), outcome.end(), now, now.plus(settings.retention()));
  }
}
