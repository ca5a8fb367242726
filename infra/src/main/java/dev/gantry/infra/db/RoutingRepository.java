package dev.gantry.infra.db;

import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.worker.WorkerStatus;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/**
 * What the gateway routes by: running deployments and their current workers, read in one go by the
 * routing table's refresher, never per request.
 */
@Repository
public class RoutingRepository {
  private final JdbcClient jdbc;

  public RoutingRepository(JdbcClient jdbc) {
    this.jdbc = jdbc;
  }

  /** Every running deployment with its workers that have not stopped. */
  public List<RoutableDeployment> loadRunning() {
    Map<String, List<RoutableWorker>> workers = new HashMap<>();
    jdbc.sql(
            """
            select w.id, w.deployment_id, w.status, w.endpoint from workers w
            join deployments d on d.id = w.deployment_id
            where w.stopped_at is null and d.status = :running
            order by w.created_at, w.id
            """)
        .param("running", DeploymentStatus.RUNNING.wireName())
        .query(
            rs -> {
              workers
                  .computeIfAbsent(rs.getString("deployment_id"), k -> new ArrayList<>())
                  .add(
                      new RoutableWorker(
                          rs.getString("id"),
                          WorkerStatus.fromWireName(rs.getString("status")),
                          rs.getString("endpoint")));
            });
    return jdbc.sql(
            """
            select id, tenant_id, spec, capacity_blocked_at from deployments
            where status = :running
            """)
        .param("running", DeploymentStatus.RUNNING.wireName())
        .query(
            (rs, n) -> {
              String id = rs.getString("id");
              return new RoutableDeployment(
                  id,
                  rs.getString("tenant_id"),
                  SpecCodec.read(rs.getString("spec")),
                  Timestamps.read(rs, "capacity_blocked_at"),
                  workers.getOrDefault(id, List.of()));
            })
        .list();
  }
}
