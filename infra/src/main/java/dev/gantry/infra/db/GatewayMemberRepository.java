package dev.gantry.infra.db;

import java.util.List;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** The gateway replicas' heartbeat rows, read and written by their membership thread only. */
@Repository
public class GatewayMemberRepository {
  private final JdbcClient jdbc;

  public GatewayMemberRepository(JdbcClient jdbc) {
    this.jdbc = jdbc;
  }

  public List<GatewayMember> list() {
    return jdbc.sql("select id, beat, view_hash, settled from gateway_members order by id")
        .query(
            (rs, n) ->
                new GatewayMember(
                    rs.getString("id"),
                    rs.getLong("beat"),
                    rs.getLong("view_hash"),
                    rs.getBoolean("settled")))
        .list();
  }

  /** Writes the member's row, creating it on its first beat (or after another removed it). */
  public void beat(GatewayMember member) {
    int updated =
        jdbc.sql(
                """
                update gateway_members set beat = :beat, view_hash = :view, settled = :settled
                where id = :id
                """)
            .param("id", member.id())
            .param("beat", member.beat())
            .param("view", member.viewHash())
            .param("settled", member.settled())
            .update();
    if (updated == 0) {
      jdbc.sql(
              """
              insert into gateway_members (id, beat, view_hash, settled)
              values (:id, :beat, :view, :settled)
              """)
          .param("id", member.id())
          .param("beat", member.beat())
          .param("view", member.viewHash())
          .param("settled", member.settled())
          .update();
    }
  }

  /** Removes a gone member's row, unless it has beaten since {@code beat} was read. */
  public void removeIfStill(String id, long beat) {
    jdbc.sql("delete from gateway_members where id = :id and beat = :beat")
        .param("id", id)
        .param("beat", beat)
        .update();
  }

  public void remove(String id) {
    jdbc.sql("delete from gateway_members where id = :id").param("id", id).update();
  }
}
